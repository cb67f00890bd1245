//! The team server's database: the only module that talks to it.
//!
//! One code path serves SQLite (the embedded default, one file) and Postgres (for
//! replicas): sqlx's `any` driver, portable SQL (`$n` placeholders, `INSERT ... ON CONFLICT`,
//! `UPDATE`/`DELETE ... RETURNING`), TEXT and BIGINT columns, times as unix seconds passed in
//! by this process (never the database's clock). Every check-and-change that two replicas
//! could race on is one conditional statement, so exactly one of them wins: taking a
//! single-use record, locking a grant's refresh, rotating a refresh token, spending a
//! confirmation. Transactions begin with a write, so SQLite takes its write lock (waiting up
//! to the busy timeout) before it reads anything.
//!
//! What is kept, and how:
//! - single-use records ([`once`]): keyed by the SHA-256 of their key;
//! - MCP clients ([`clients`]) and people ([`people`]), with the Make organization their
//!   calls count against;
//! - each person's Make grant ([`grants`]), sealed with the [`Keyring`]; the tokens are never
//!   in the database in clear;
//! - the server's own tokens ([`tokens`]): only their hashes ([`hash_secret`]);
//! - consent per person and client ([`consent`]);
//! - spent confirmations ([`ledger`]), so replicas on one database agree;
//! - the audit trail ([`audit`]): ids and outcomes of changes, never data values;
//! - sessions of the account page ([`account_sessions`]): only their ids' hashes.
//!
//! Payloads of single-use records and client metadata are stored as given: callers put no
//! token in them.
//!
//! Postgres over the network can use TLS: `?sslmode=require` (or `verify-full`) in the URL,
//! through rustls with the ring provider and the system's trust store. Tests run on a SQLite
//! file and, with `TEST_DATABASE_URL` (e.g. from `scripts/postgres.sh start`), on Postgres.

mod account_sessions;
mod audit;
mod clients;
mod consent;
mod error;
mod grants;
mod keyring;
mod ledger;
mod location;
mod once;
mod people;
mod tokens;

#[cfg(test)]
mod testing;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

pub use crate::person::sealed::KeyFlaw;
pub use audit::{AuditEntry, AuditFilter, AuditOutcome, UnknownOutcome};
pub use clients::{ClientKind, ClientRecord};
pub use error::StoreError;
pub use grants::{GrantSummary, GrantVersion, MakeGrant, RefreshLease};
pub use keyring::{Keyring, KeyringError};
pub use people::{PersonId, PersonRecord};
pub use tokens::{Rotation, TokenGrant};

use error::db;
use location::Target;

/// Each SQLite connection: write-ahead log (readers never wait for the writer; a no-op once
/// the file is in WAL), and up to 10 s of waiting for another writer before giving up.
const SQLITE_PRAGMAS: [&str; 2] = ["PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 10000"];

/// Connections per process: enough for concurrent requests, few enough for a shared Postgres.
const MAX_CONNECTIONS: u32 = 8;

/// The embedded schema. Portable SQL: the same text runs on SQLite and Postgres.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "team server",
        include_str!("migrations/0001_team_server.sql"),
    ),
    (2, "audit trail", include_str!("migrations/0002_audit.sql")),
    (
        3,
        "account sessions",
        include_str!("migrations/0003_account_sessions.sql"),
    ),
    (
        4,
        "people's make organization",
        include_str!("migrations/0004_person_organization.sql"),
    ),
    (
        5,
        "the organization's request limit",
        include_str!("migrations/0005_organization_api_limit.sql"),
    ),
];

/// The team server's database. Cheap to clone: the connection pool is shared.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    keyring: Option<Arc<Keyring>>,
    clock: Clock,
    /// How long a spent confirmation is remembered.
    confirmation_keep: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pool's options hold the URL and its password: not shown.
        f.debug_struct("Store")
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://PATH?mode=rwc`, `sqlite::memory:` or
    /// `postgres://...`) and brings its schema up to date. For SQLite the file's folder is
    /// created, the file is switched to WAL, and each connection waits up to 10 s for
    /// another writer. Concurrent migrations by replicas on Postgres are serialized by
    /// sqlx's advisory lock.
    ///
    /// Grants need a keyring: see [`Store::with_keyring`].
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let target = Target::of(url)?;
        let mut options = AnyPoolOptions::new().max_connections(MAX_CONNECTIONS);
        match &target {
            Target::Sqlite { file } => {
                match file {
                    Some(file) => location::create_folder(file)?,
                    // Each connection to `:memory:` would be a database of its own.
                    None => options = options.max_connections(1),
                }
                options = options.after_connect(|conn, _| {
                    Box::pin(async move {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                });
            }
            Target::Postgres => {}
        }
        let pool = options
            .connect(url)
            .await
            .map_err(|source| StoreError::Open {
                url: location::shown(url),
                source,
            })?;
        Migrator::new(Embedded).await?.run(&pool).await?;
        Ok(Store {
            pool,
            keyring: None,
            clock: Clock::System,
            confirmation_keep: crate::person::sealed::STATE_TTL
                + crate::person::ledger::CLOCK_SLACK,
        })
    }

    /// The default database URL: `team.db` under `make-credentials-mcp` in the user's data
    /// directory (`$XDG_DATA_HOME` or `~/.local/share`; `~/Library/Application Support` on
    /// macOS; `%APPDATA%` on Windows).
    pub fn default_sqlite_url() -> Result<String, StoreError> {
        location::default_sqlite_url()
    }

    /// This store sealing and opening Make grants with `keyring`. Without one, the grant
    /// operations fail with [`StoreError::NoKeyring`].
    pub fn with_keyring(mut self, keyring: Keyring) -> Store {
        self.keyring = Some(Arc::new(keyring));
        self
    }

    /// How long spent confirmations are remembered: at least as long as a sealed
    /// confirmation state can open (`--state-ttl`), plus slack for replicas' clocks. The
    /// default suits the default state TTL.
    pub fn with_confirmation_ttl(mut self, state_ttl: Duration) -> Store {
        self.confirmation_keep = state_ttl + crate::person::ledger::CLOCK_SLACK;
        self
    }

    /// Deletes what has expired by `now` (unix seconds): single-use records, access and
    /// refresh tokens, token families left without tokens, spent confirmations and account
    /// sessions.
    /// Returns how many rows went.
    pub async fn prune(&self, now: i64) -> Result<u64, StoreError> {
        let statements = [
            "DELETE FROM once_records WHERE expires_at <= $1",
            "DELETE FROM access_tokens WHERE expires_at <= $1",
            "DELETE FROM refresh_tokens WHERE expires_at <= $1",
            "DELETE FROM spent_confirmations WHERE expires_at <= $1",
            "DELETE FROM account_sessions WHERE expires_at <= $1",
        ];
        let mut gone = 0;
        for sql in statements {
            gone += sqlx::query(sql)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db("pruning expired rows"))?
                .rows_affected();
        }
        gone += sqlx::query(
            "DELETE FROM token_families WHERE \
             NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family = token_families.family) \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = token_families.family)",
        )
        .execute(&self.pool)
        .await
        .map_err(db("pruning token families"))?
        .rows_affected();
        Ok(gone)
    }

    /// Now, in unix seconds, by this store's clock.
    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn keyring(&self) -> Result<&Keyring, StoreError> {
        self.keyring.as_deref().ok_or(StoreError::NoKeyring)
    }
}

/// The SHA-256 of a secret (a token, a single-use key), as 64 lowercase hex digits: what
/// the store keeps instead of the secret.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// `bytes` as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 16 random bytes as hex: ids of people, grants and refresh leases.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex(&bytes)
}

/// A list of scopes (or URIs) as stored: a JSON array.
fn to_json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("a list of strings serializes")
}

fn from_json_list(what: &'static str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// Seconds in `ttl`, rounded up, so a positive TTL never expires at once.
fn ttl_secs(ttl: Duration) -> i64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The store's clock: the system's, or in tests one they set.
#[derive(Clone)]
enum Clock {
    System,
    #[cfg(test)]
    Manual(Arc<std::sync::atomic::AtomicI64>),
}

impl Clock {
    fn now(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            #[cfg(test)]
            Clock::Manual(now) => now.load(std::sync::atomic::Ordering::SeqCst),
        }
    }
}

/// The migrations compiled into the binary.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> futures_core::future::BoxFuture<
        'static,
        Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>,
    > {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}
