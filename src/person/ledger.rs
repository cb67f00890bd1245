//! The ledger of spent confirmations: a sealed confirmation state goes through once.
//!
//! Each confirmation state carries a random nonce ([`Nonce`]). A retry that presents a valid
//! state spends its nonce here before anything is changed in Make; a second retry with the
//! same state finds the nonce spent and is refused. A nonce only needs remembering while
//! its state could still open: a state expires [`super::sealed::STATE_TTL`] after it was
//! sealed, and it is spent after that, so keeping a spent nonce for the TTL from the moment
//! it was spent is enough.
//!
//! Every replica that shares the state key can open every state, so replicas must share
//! the ledger too. Two ledgers are built in:
//!
//! - [`MemoryLedger`] (the default): one process. Bounded: expired nonces are pruned, and at
//!   [`MemoryLedger::CAP`] live nonces a spend fails (nothing is changed) rather than forget
//!   a nonce that could still be replayed.
//! - [`DirLedger`] (`--confirmations-dir`): a directory every replica mounts. Spending
//!   creates a file named by the nonce with `create_new` (`O_CREAT | O_EXCL`), which exactly
//!   one process wins, on one host or on a shared volume; files older than the TTL are
//!   removed, at most once a minute per process.
//!
//! The team server's database ([`crate::store::Store`]) is a third: a spend inserts the
//! nonce with `INSERT ... ON CONFLICT DO NOTHING` and wins when one row was inserted. The
//! trait returns boxed futures so that it can be async.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How many bytes of randomness a nonce holds.
const NONCE_BYTES: usize = 16;

/// How often the directory ledger looks for expired files, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Extra time a file is kept past the TTL, for clocks of replicas (and of the file server
/// that stamps the modification time) that disagree.
pub(crate) const CLOCK_SLACK: Duration = Duration::from_secs(60);

/// A confirmation's nonce: 16 random bytes, written as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Nonce([u8; NONCE_BYTES]);

impl Nonce {
    /// A fresh nonce from the operating system's random source.
    pub(crate) fn random() -> Self {
        let mut bytes = [0u8; NONCE_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        Self(bytes)
    }

    /// The nonce written as 32 lowercase hex digits (also its file name).
    pub(crate) fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads 32 lowercase hex digits; anything else is not a nonce.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let digits = text.as_bytes();
        if digits.len() != 2 * NONCE_BYTES {
            return None;
        }
        let value = |d: u8| match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; NONCE_BYTES];
        for (i, pair) in digits.chunks(2).enumerate() {
            bytes[i] = value(pair[0])? << 4 | value(pair[1])?;
        }
        Some(Self(bytes))
    }
}

/// Why a nonce could not be spent. The confirmation is then not used and nothing changes.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "this server already remembers {0} confirmations used in the last few minutes, its limit"
    )]
    Full(usize),
    #[error("the confirmations directory {path} could not be written: {error}")]
    Dir { path: String, error: io::Error },
    /// The team server's database ([`crate::store::Store`]) could not record the spend.
    #[error("the spent confirmation could not be recorded: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// A boxed future, so that the ledger can live behind `dyn` and be async.
pub(crate) type Spending<'a> = Pin<Box<dyn Future<Output = Result<bool, LedgerError>> + Send + 'a>>;

/// Where spent confirmation nonces are remembered.
pub(crate) trait ConfirmationLedger: Send + Sync {
    /// Spends `nonce`: `Ok(true)` for the first spend, `Ok(false)` when it was already spent
    /// (by this or any process sharing the ledger). Atomic: of concurrent spends of one
    /// nonce, exactly one gets `true`.
    fn spend<'a>(&'a self, nonce: &'a Nonce) -> Spending<'a>;
}

/// Spent nonces in this process's memory, each kept for `ttl` after it was spent.
pub(crate) struct MemoryLedger {
    ttl: Duration,
    cap: usize,
    spent: Mutex<Spent>,
}

struct Spent {
    /// Nonce and when it was spent.
    at: HashMap<Nonce, Instant>,
    last_prune: Instant,
}

impl MemoryLedger {
    /// Most nonces remembered at once: about 4 MB of table. A hundred thousand confirmations
    /// within one TTL is far beyond what people answer; past it spends fail closed.
    pub(crate) const CAP: usize = 100_000;

    pub(crate) fn new(ttl: Duration) -> Self {
        Self::with_cap(ttl, Self::CAP)
    }

    pub(crate) fn with_cap(ttl: Duration, cap: usize) -> Self {
        Self {
            ttl,
            cap,
            spent: Mutex::new(Spent {
                at: HashMap::new(),
                last_prune: Instant::now(),
            }),
        }
    }

    fn spend_now(&self, nonce: &Nonce) -> Result<bool, LedgerError> {
        let now = Instant::now();
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if spent.at.contains_key(nonce) {
            return Ok(false);
        }
        // Prune once a TTL has passed since the last prune, or when the table is full.
        if spent.at.len() >= self.cap || now.duration_since(spent.last_prune) >= self.ttl {
            let ttl = self.ttl;
            spent.at.retain(|_, at| now.duration_since(*at) < ttl);
            spent.last_prune = now;
        }
        if spent.at.len() >= self.cap {
            return Err(LedgerError::Full(self.cap));
        }
        spent.at.insert(*nonce, now);
        Ok(true)
    }
}

impl ConfirmationLedger for MemoryLedger {
    fn spend<'a>(&'a self, nonce: &'a Nonce) -> Spending<'a> {
        Box::pin(async move { self.spend_now(nonce) })
    }
}

/// Spent nonces as files in a directory shared by every replica.
pub(crate) struct DirLedger {
    dir: Arc<PathBuf>,
    ttl: Duration,
    last_prune: Mutex<Option<Instant>>,
}

impl DirLedger {
    /// A ledger in `dir`, which is created when missing.
    pub(crate) fn open(dir: &Path, ttl: Duration) -> Result<Self, LedgerError> {
        let failed = |error| LedgerError::Dir {
            path: dir.display().to_string(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        if !std::fs::metadata(dir).map_err(failed)?.is_dir() {
            return Err(failed(io::Error::other("not a directory")));
        }
        Ok(Self {
            dir: Arc::new(dir.to_path_buf()),
            ttl,
            last_prune: Mutex::new(None),
        })
    }

    /// Whether this spend should also prune (at most once every [`PRUNE_EVERY`]).
    fn prune_due(&self) -> bool {
        let now = Instant::now();
        let mut last = self.last_prune.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(at) if now.duration_since(at) < PRUNE_EVERY => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

/// Creates the nonce's file; `false` when it exists (spent before).
fn create_marker(dir: &Path, nonce: &Nonce) -> Result<bool, LedgerError> {
    let path = dir.join(nonce.hex());
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(LedgerError::Dir {
            path: dir.display().to_string(),
            error,
        }),
    }
}

/// Removes the nonce files in `dir` last modified `keep` or longer ago. Other files are
/// left alone; a file another replica removed first is not an error.
fn prune_dir(dir: &Path, keep: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().and_then(Nonce::parse).is_none() {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age >= keep);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl ConfirmationLedger for DirLedger {
    fn spend<'a>(&'a self, nonce: &'a Nonce) -> Spending<'a> {
        let dir = Arc::clone(&self.dir);
        let nonce = *nonce;
        let prune = self.prune_due();
        let keep = self.ttl + CLOCK_SLACK;
        Box::pin(async move {
            let blocking = tokio::task::spawn_blocking(move || {
                if prune {
                    prune_dir(&dir, keep);
                }
                create_marker(&dir, &nonce)
            });
            blocking.await.map_err(|e| LedgerError::Dir {
                path: self.dir.display().to_string(),
                error: io::Error::other(e.to_string()),
            })?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(600);

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "mcm-ledger-{name}-{}-{}",
                std::process::id(),
                Nonce::random().hex()
            ));
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_nonce_reads_back_from_its_hex_and_nothing_else_is_a_nonce() {
        let nonce = Nonce::random();
        assert_eq!(nonce.hex().len(), 32);
        assert_eq!(Nonce::parse(&nonce.hex()), Some(nonce));
        assert_ne!(Nonce::random(), nonce);
        for bad in [
            "",
            "../etc/passwd",
            &nonce.hex().to_uppercase(),
            &"0".repeat(31),
        ] {
            if bad != nonce.hex() {
                assert_eq!(Nonce::parse(bad), None, "{bad}");
            }
        }
    }

    #[tokio::test]
    async fn the_memory_ledger_spends_a_nonce_once() {
        let ledger = MemoryLedger::new(TTL);
        let (a, b) = (Nonce::random(), Nonce::random());
        assert!(ledger.spend(&a).await.unwrap());
        assert!(!ledger.spend(&a).await.unwrap());
        assert!(ledger.spend(&b).await.unwrap());
        assert!(!ledger.spend(&b).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_memory_ledger_refuses_rather_than_forgets() {
        let ledger = MemoryLedger::with_cap(TTL, 3);
        let spent: Vec<Nonce> = (0..3).map(|_| Nonce::random()).collect();
        for nonce in &spent {
            assert!(ledger.spend(nonce).await.unwrap());
        }
        assert!(matches!(
            ledger.spend(&Nonce::random()).await,
            Err(LedgerError::Full(3))
        ));
        // Every nonce still live is still remembered.
        for nonce in &spent {
            assert!(!ledger.spend(nonce).await.unwrap());
        }
    }

    #[tokio::test]
    async fn expired_nonces_leave_room_in_a_full_memory_ledger() {
        let ledger = MemoryLedger::with_cap(Duration::ZERO, 2);
        for _ in 0..10 {
            assert!(ledger.spend(&Nonce::random()).await.unwrap());
        }
        assert!(ledger.spent.lock().unwrap().at.len() <= 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_concurrent_spends_exactly_one_wins_in_memory() {
        let ledger = Arc::new(MemoryLedger::new(TTL));
        for _ in 0..20 {
            let nonce = Nonce::random();
            let spends = (0..16).map(|_| {
                let ledger = Arc::clone(&ledger);
                tokio::spawn(async move { ledger.spend(&nonce).await.unwrap() })
            });
            let won = futures_wins(spends).await;
            assert_eq!(won, 1);
        }
    }

    async fn futures_wins(spends: impl Iterator<Item = tokio::task::JoinHandle<bool>>) -> usize {
        let mut won = 0;
        for spend in spends.collect::<Vec<_>>() {
            won += usize::from(spend.await.unwrap());
        }
        won
    }

    #[tokio::test]
    async fn the_dir_ledger_spends_a_nonce_once_across_ledgers_on_one_directory() {
        let dir = TempDir::new("once");
        let one = DirLedger::open(&dir.0, TTL).unwrap();
        let two = DirLedger::open(&dir.0, TTL).unwrap();
        let nonce = Nonce::random();
        assert!(one.spend(&nonce).await.unwrap());
        assert!(!two.spend(&nonce).await.unwrap());
        assert!(!one.spend(&nonce).await.unwrap());
        assert!(two.spend(&Nonce::random()).await.unwrap());
        assert!(dir.0.join(nonce.hex()).is_file());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_concurrent_spends_exactly_one_wins_on_a_directory() {
        let dir = TempDir::new("race");
        // Separate ledgers stand for separate replicas: they share only the directory.
        let ledgers: Vec<Arc<DirLedger>> = (0..8)
            .map(|_| Arc::new(DirLedger::open(&dir.0, TTL).unwrap()))
            .collect();
        for _ in 0..20 {
            let nonce = Nonce::random();
            let spends = ledgers.iter().map(|ledger| {
                let ledger = Arc::clone(ledger);
                tokio::spawn(async move { ledger.spend(&nonce).await.unwrap() })
            });
            assert_eq!(futures_wins(spends).await, 1);
        }
    }

    #[tokio::test]
    async fn the_dir_ledger_prunes_expired_nonce_files_only() {
        let dir = TempDir::new("prune");
        let ledger = DirLedger::open(&dir.0, TTL).unwrap();
        let old = Nonce::random();
        assert!(ledger.spend(&old).await.unwrap());
        std::fs::write(dir.0.join("notes.txt"), "kept").unwrap();
        // Nothing is old enough to go.
        prune_dir(&dir.0, TTL);
        assert!(dir.0.join(old.hex()).exists());
        // With no time kept, every nonce file is expired; other files stay.
        prune_dir(&dir.0, Duration::ZERO);
        assert!(!dir.0.join(old.hex()).exists());
        assert!(dir.0.join("notes.txt").exists());
    }

    #[test]
    fn a_dir_ledger_on_a_file_is_refused() {
        let dir = TempDir::new("file");
        std::fs::write(&dir.0, "not a directory").unwrap();
        let error = DirLedger::open(&dir.0, TTL).err().unwrap().to_string();
        assert!(error.contains("could not be written"), "{error}");
        std::fs::remove_file(&dir.0).unwrap();
    }
}
