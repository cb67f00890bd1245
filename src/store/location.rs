//! Where the database is: the default SQLite file in the user's data directory, which
//! engine a URL names, the SQLite file's folder (created before opening), and the URL as it
//! may be shown (without its password).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use super::StoreError;

/// The folder under the data directory, and the database file in it.
const APP_DIR: &str = "make-credentials-mcp";
const DB_FILE: &str = "team.db";

/// The engine a database URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// A SQLite file; `None` for an in-memory database.
    Sqlite {
        file: Option<PathBuf>,
    },
    Postgres,
}

impl Target {
    /// Reads the engine and, for SQLite, the file from `url`, as the `any` driver will:
    /// it parses the URL first, then hands its text to the engine's own parser.
    pub(super) fn of(url: &str) -> Result<Self, StoreError> {
        let refused = || StoreError::Url { url: shown(url) };
        let parsed = url::Url::parse(url).map_err(|_| refused())?;
        match parsed.scheme() {
            "postgres" | "postgresql" => Ok(Target::Postgres),
            "sqlite" => {
                let text = parsed.as_str();
                let rest = text
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
                let memory = database == ":memory:"
                    || database.is_empty()
                    || url::form_urlencoded::parse(params.as_bytes())
                        .any(|(k, v)| k == "mode" && v == "memory");
                if memory {
                    return Ok(Target::Sqlite { file: None });
                }
                let options = SqliteConnectOptions::from_str(text).map_err(|_| refused())?;
                Ok(Target::Sqlite {
                    file: Some(options.get_filename().to_path_buf()),
                })
            }
            _ => Err(refused()),
        }
    }
}

/// `url` as it may appear in logs and errors: Postgres URLs without password and query
/// (which may carry one too), SQLite URLs as they are, anything unparseable as its scheme.
pub(super) fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.scheme().starts_with("postgres") => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Ok(parsed) if parsed.scheme() == "sqlite" => parsed.to_string(),
        Ok(parsed) => format!("{}:...", parsed.scheme()),
        Err(_) => "(not a URL)".into(),
    }
}

/// Creates the folder of a SQLite file when it is missing.
pub(super) fn create_folder(file: &Path) -> Result<(), StoreError> {
    let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    std::fs::create_dir_all(folder).map_err(|error| StoreError::Folder {
        path: folder.display().to_string(),
        error,
    })
}

/// The default database: `team.db` in this program's folder of the user's data directory.
pub(super) fn default_sqlite_url() -> Result<String, StoreError> {
    let dir = data_dir(&|name| std::env::var_os(name)).ok_or(StoreError::NoDataDir)?;
    Ok(sqlite_url(&dir.join(APP_DIR).join(DB_FILE)))
}

/// The user's data directory: `%APPDATA%` on Windows, `~/Library/Application Support` on
/// macOS, elsewhere `$XDG_DATA_HOME` (when absolute, as the XDG spec asks) or
/// `~/.local/share`.
fn data_dir(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| env(name).map(PathBuf::from).filter(|p| p.is_absolute());
    if cfg!(windows) {
        return absolute("APPDATA");
    }
    let home = absolute("HOME");
    if cfg!(target_os = "macos") {
        return home.map(|h| h.join("Library").join("Application Support"));
    }
    absolute("XDG_DATA_HOME").or_else(|| home.map(|h| h.join(".local").join("share")))
}

/// A `sqlite:` URL for `path` that opens (and creates) it read-write. The path is
/// percent-encoded where a URL would misread it (spaces, `%`, `?`, `#`, non-ASCII); SQLite's
/// URL parser decodes it again. Backslashes become slashes, which Windows accepts.
pub(super) fn sqlite_url(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'!'..=b'~' if !matches!(byte, b'%' | b'?' | b'#') => encoded.push(byte as char),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    let prefix = if encoded.starts_with('/') {
        "sqlite://"
    } else {
        "sqlite:"
    };
    format!("{prefix}{encoded}?mode=rwc")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(unix, not(target_os = "macos")))]
    use std::ffi::OsString;

    #[cfg(all(unix, not(target_os = "macos")))]
    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn the_data_directory_follows_xdg_then_home() {
        let xdg = env(&[("XDG_DATA_HOME", "/data"), ("HOME", "/home/a")]);
        assert_eq!(data_dir(&xdg), Some(PathBuf::from("/data")));
        // A relative XDG_DATA_HOME is ignored, as the XDG spec says.
        let relative = env(&[("XDG_DATA_HOME", "data"), ("HOME", "/home/a")]);
        assert_eq!(
            data_dir(&relative),
            Some(PathBuf::from("/home/a/.local/share"))
        );
        assert_eq!(data_dir(&env(&[])), None);
    }

    #[test]
    fn a_path_with_spaces_and_url_characters_round_trips_through_its_url() {
        let path = Path::new("/tmp/Application Support/a%b?c#d/ü/team.db");
        let url = sqlite_url(path);
        assert!(
            url.starts_with("sqlite:///tmp/Application%20Support/"),
            "{url}"
        );
        assert_eq!(
            Target::of(&url).unwrap(),
            Target::Sqlite {
                file: Some(path.to_path_buf())
            }
        );
    }

    #[test]
    fn urls_name_their_engine_and_show_no_password() {
        assert_eq!(
            Target::of("sqlite::memory:").unwrap(),
            Target::Sqlite { file: None }
        );
        assert_eq!(
            Target::of("sqlite://rel/team.db?mode=rwc").unwrap(),
            Target::Sqlite {
                file: Some(PathBuf::from("rel/team.db"))
            }
        );
        let pg = "postgres://mcp:hunter2secret@127.0.0.1:5432/team?password=other";
        assert_eq!(Target::of(pg).unwrap(), Target::Postgres);
        let text = shown(pg);
        assert!(
            !text.contains("hunter2secret") && !text.contains("other"),
            "{text}"
        );
        assert_eq!(text, "postgres://mcp:***@127.0.0.1:5432/team");
        let refused = Target::of("mysql://root:hunter2secret@db/x").unwrap_err();
        assert!(!refused.to_string().contains("hunter2secret"), "{refused}");
        assert!(
            !StoreError::Url {
                url: shown("::hunter2secret")
            }
            .to_string()
            .contains("hunter2secret")
        );
    }
}
