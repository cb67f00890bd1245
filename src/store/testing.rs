//! Stores for the tests: every test body runs on a fresh SQLite file and, when
//! `TEST_DATABASE_URL` names a Postgres database, on a fresh schema of it too. Their clock
//! is set by the test, so expiry is tested without waiting.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::Connection;

use super::{Clock, Keyring, Store, location, random_id};

/// A store under test, with its clock and (for SQLite) its file, removed on drop.
pub(super) struct TestStore {
    pub(super) store: Store,
    clock: Arc<AtomicI64>,
    dir: Option<PathBuf>,
}

impl std::ops::Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl TestStore {
    /// Moves this store's clock (shared with its replica, if any) on by `secs`.
    pub(super) fn advance(&self, secs: i64) {
        self.clock.fetch_add(secs, Ordering::SeqCst);
    }

    /// The SQLite file, for tests that read it raw.
    pub(super) fn sqlite_file(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join("team.db"))
    }

    pub(super) fn engine(&self) -> &'static str {
        if self.dir.is_some() {
            "sqlite"
        } else {
            "postgres"
        }
    }
}

/// Two stores (separate pools, as two replicas have) on one database, one clock.
pub(super) struct Replicas {
    pub(super) one: TestStore,
    pub(super) two: TestStore,
}

impl Replicas {
    /// A pair on SQLite and, with `TEST_DATABASE_URL`, a pair on Postgres.
    pub(super) async fn all() -> Vec<Replicas> {
        let mut all = Vec::new();
        let (url, dir) = sqlite_url();
        let one = open(&url, Some(dir), now()).await;
        let two = open_beside(&one, &url, None).await;
        all.push(Replicas { one, two });
        if let Some(url) = postgres_url().await {
            let one = open(&url, None, now()).await;
            let two = open_beside(&one, &url, None).await;
            all.push(Replicas { one, two });
        }
        all
    }

    /// Runs `attempt` four times at once, twice on each replica, and counts the `true`s.
    pub(super) async fn race<F, Fut>(&self, attempt: F) -> usize
    where
        F: Fn(Store) -> Fut,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let tasks: Vec<_> = [&self.one, &self.two, &self.one, &self.two]
            .into_iter()
            .map(|store| {
                let run = attempt(store.store.clone());
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    run.await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap());
        }
        wins
    }
}

/// A fresh SQLite store and, with `TEST_DATABASE_URL`, a fresh Postgres one.
pub(super) async fn stores() -> Vec<TestStore> {
    let mut all = Vec::new();
    let (url, dir) = sqlite_url();
    all.push(open(&url, Some(dir), now()).await);
    if let Some(url) = postgres_url().await {
        all.push(open(&url, None, now()).await);
    }
    all
}

fn now() -> i64 {
    Clock::System.now()
}

/// A URL for a SQLite file in a fresh folder (which [`Store::open`] creates).
fn sqlite_url() -> (String, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("mcm-store-{}-{}", std::process::id(), random_id()));
    (location::sqlite_url(&dir.join("team.db")), dir)
}

/// `TEST_DATABASE_URL` with its search path set to a fresh schema, so that tests running
/// at once do not see each other's rows.
async fn postgres_url() -> Option<String> {
    let base = std::env::var("TEST_DATABASE_URL").ok()?;
    sqlx::any::install_default_drivers();
    let schema = format!("t_{}", random_id());
    let mut conn = sqlx::AnyConnection::connect(&base)
        .await
        .expect("TEST_DATABASE_URL connects");
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("a test schema");
    let _ = conn.close().await;
    let joiner = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{joiner}options[search_path]={schema}"))
}

async fn open(url: &str, dir: Option<PathBuf>, now: i64) -> TestStore {
    let clock = Arc::new(AtomicI64::new(now));
    let mut store = Store::open(url)
        .await
        .unwrap_or_else(|e| panic!("opening the test store: {e}"))
        .with_keyring(Keyring::generate());
    store.clock = Clock::Manual(Arc::clone(&clock));
    TestStore { store, clock, dir }
}

/// Another store on `first`'s database, sharing its clock and keyring.
async fn open_beside(first: &TestStore, url: &str, dir: Option<PathBuf>) -> TestStore {
    let mut store = Store::open(url).await.unwrap();
    store.keyring = first.store.keyring.clone();
    store.clock = Clock::Manual(Arc::clone(&first.clock));
    TestStore {
        store,
        clock: Arc::clone(&first.clock),
        dir,
    }
}
