//! What can go wrong in the store. No text here ever holds a secret: database URLs are shown
//! without their password, keys and tokens are never shown, and database errors are the
//! driver's message (which names tables and constraints, not the values bound to a query).

use super::keyring::KeyringError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database URL {url} is not one this server can use: give sqlite://PATH?mode=rwc or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    Url { url: String },
    #[error("cannot create the database folder {path}: {error}")]
    Folder {
        path: String,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "no data directory for the default database: set XDG_DATA_HOME or HOME (APPDATA on Windows), or give a database URL"
    )]
    NoDataDir,
    #[error("cannot open the database {url}: {source}")]
    Open {
        /// The URL without its password.
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the database's schema could not be brought up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database failed while {during}: {source}")]
    Database {
        during: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("a stored {what} could not be read: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("a {kind} record with this key is already stored and has not expired")]
    Duplicate { kind: String },
    #[error("Make grants cannot be stored or read: the store was opened without a sealing keyring")]
    NoKeyring,
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(
        "the Make grant of person {person} was sealed with key {key_id}, which the keyring does not hold (add the old key back beside the new one)"
    )]
    UnknownKey { person: String, key_id: String },
    #[error(
        "the Make grant of person {person} does not open: it was altered, moved from another row, or sealed with another key under the same key id"
    )]
    Unsealable { person: String },
}

/// Maps a driver error into [`StoreError::Database`], naming what was being done.
pub(super) fn db(during: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { during, source }
}
