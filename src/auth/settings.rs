//! The settings of team mode, checked together at start: every problem is reported, one
//! sentence each, and the server does not start (exit 2).
//!
//! With `--sandbox` every setting has a working default: the sandbox is Make's OAuth
//! provider, the public URL is the listen address, the database a SQLite file in a fresh
//! temporary folder and the encryption key a random one (so grants last as long as the
//! process, like the sandbox's own data).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

use super::clients::Preregistered;
use crate::config::Secret;
use crate::store::{Keyring, Store};

/// Make's OAuth issuer.
pub const MAKE_ISSUER: &str = "https://www.make.com";

/// Checked team-mode settings, ready for [`super::AuthServer::new`].
pub struct AuthSettings {
    /// The server's public origin: its issuer, and with `/mcp` its canonical resource.
    pub(crate) public_url: Url,
    /// Other `Host` names the server answers to (`--allowed-host`).
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) make_issuer: Url,
    pub(crate) make_client_id: String,
    pub(crate) make_client_secret: Secret,
    /// Scopes asked of Make at sign-in: `openid`, the tools' API scopes and
    /// `organizations:read`.
    pub(crate) make_scopes: Vec<String>,
    /// Make's API base URL for everyone's calls.
    pub(crate) api_base: Url,
    pub(crate) store: Store,
    pub(crate) preregistered: Vec<Preregistered>,
    /// Client metadata documents may live on loopback or private addresses (the sandbox).
    pub(crate) allow_private_metadata_urls: bool,
}

/// Everything wrong with the team-mode settings, one sentence per problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct AuthSettingsError {
    pub(crate) problems: Vec<String>,
}

impl AuthSettingsError {
    pub(crate) fn single(problem: impl Into<String>) -> Self {
        Self {
            problems: vec![problem.into()],
        }
    }
}

/// The team-mode settings as given (flags and environment), before they are checked.
#[derive(Debug, Default, Clone)]
pub struct RawAuthSettings {
    pub(crate) public_url: Option<String>,
    pub(crate) make_issuer: Option<String>,
    pub(crate) make_client_id: Option<String>,
    pub(crate) make_client_secret: Option<Secret>,
    pub(crate) make_client_secret_file: Option<PathBuf>,
    pub(crate) database: Option<String>,
    pub(crate) encryption_key: Option<Secret>,
    pub(crate) encryption_key_file: Option<PathBuf>,
    pub(crate) clients_file: Option<PathBuf>,
}

/// What `--sandbox` supplies: the sandbox as Make's OAuth provider.
#[derive(Debug, Clone)]
pub struct SandboxDefaults {
    pub(crate) issuer: Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
}

/// Where the server runs, which the settings depend on.
pub struct Surroundings<'a> {
    pub(crate) listen: SocketAddr,
    pub(crate) allowed_hosts: &'a [String],
    /// Make's API base URL from the Make settings (`MAKE_ZONE`, `MAKE_API_URL`, the sandbox).
    pub(crate) api_base: Option<Url>,
    pub(crate) sandbox: Option<SandboxDefaults>,
}

impl RawAuthSettings {
    /// Checks every setting, opens the database and reads the key; reports all problems.
    pub async fn resolve(self, at: Surroundings<'_>) -> Result<AuthSettings, AuthSettingsError> {
        let mut problems = Vec::new();
        let sandbox = at.sandbox.as_ref();
        let public_url = match (&self.public_url, sandbox) {
            (Some(text), _) => check_public_url(text, &mut problems),
            (None, Some(_)) if at.listen.ip().is_loopback() => {
                check_public_url(&format!("http://{}", at.listen), &mut problems)
            }
            (None, _) => {
                problems.push("set the server's public URL with --public-url or MCP_PUBLIC_URL (e.g. https://mcp.example.com): it is the address MCP clients and Make send people back to".into());
                None
            }
        };
        let make_issuer = match (&self.make_issuer, sandbox) {
            (Some(text), _) => check_issuer(text, &mut problems),
            (None, Some(s)) => Some(s.issuer.clone()),
            (None, None) => Some(MAKE_ISSUER.parse().expect("a URL")),
        };
        let make_client_id = match (&self.make_client_id, sandbox) {
            (Some(id), _) if !id.trim().is_empty() => Some(id.trim().to_string()),
            (_, Some(s)) => Some(s.client_id.clone()),
            _ => {
                problems.push("set MAKE_OAUTH_CLIENT_ID to the client id Make gave this server (see docs/team.md, registering with Make)".into());
                None
            }
        };
        let make_client_secret = match (
            &self.make_client_secret,
            &self.make_client_secret_file,
            sandbox,
        ) {
            (Some(_), Some(_), _) => {
                problems.push("give Make's client secret either by MAKE_OAUTH_CLIENT_SECRET or by --make-oauth-client-secret-file, not both".into());
                None
            }
            (Some(secret), None, _) => {
                non_empty(secret.expose(), "MAKE_OAUTH_CLIENT_SECRET", &mut problems)
            }
            (None, Some(path), _) => read_secret(path, "Make's client secret", &mut problems),
            (None, None, Some(s)) => Some(s.client_secret.clone()),
            (None, None, None) => {
                problems.push("set MAKE_OAUTH_CLIENT_SECRET (or --make-oauth-client-secret-file) to the secret Make gave this server".into());
                None
            }
        };
        let api_base = at.api_base.clone();
        if api_base.is_none() {
            problems.push(
                "set MAKE_ZONE (or MAKE_API_URL): every person's calls go to that zone's API"
                    .into(),
            );
        }
        let keyring = match (&self.encryption_key, &self.encryption_key_file, sandbox) {
            (Some(_), Some(_), _) => {
                problems.push("give the encryption key either by MCP_ENCRYPTION_KEY or by --encryption-key-file, not both".into());
                None
            }
            (Some(key), None, _) => {
                parse_keyring(key.expose(), "MCP_ENCRYPTION_KEY", &mut problems)
            }
            (None, Some(path), _) => read_secret(path, "the encryption key", &mut problems)
                .and_then(|key| {
                    parse_keyring(key.expose(), &path.display().to_string(), &mut problems)
                }),
            (None, None, Some(_)) => Some(Keyring::generate()),
            (None, None, None) => {
                problems.push("set MCP_ENCRYPTION_KEY (or --encryption-key-file) to the key that encrypts stored Make grants, e.g. `openssl rand -base64 32`; keep it: without it stored grants cannot be read".into());
                None
            }
        };
        let preregistered = match &self.clients_file {
            Some(path) => match Preregistered::load(path) {
                Ok(clients) => clients,
                Err(e) => {
                    problems.push(e);
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let database = match (&self.database, sandbox) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(_)) => match sandbox_database() {
                Ok(url) => Some(url),
                Err(e) => {
                    problems.push(e);
                    None
                }
            },
            (None, None) => match Store::default_sqlite_url() {
                Ok(url) => Some(url),
                Err(e) => {
                    problems.push(format!("set --database or DATABASE_URL: {e}"));
                    None
                }
            },
        };
        if !problems.is_empty() {
            return Err(AuthSettingsError { problems });
        }
        let (Some(public_url), Some(make_issuer), Some(make_client_id), Some(make_client_secret)) =
            (public_url, make_issuer, make_client_id, make_client_secret)
        else {
            unreachable!("every missing setting added a problem");
        };
        let (Some(api_base), Some(keyring), Some(database)) = (api_base, keyring, database) else {
            unreachable!("every missing setting added a problem");
        };
        let store = Store::open(&database)
            .await
            .map_err(|e| {
                AuthSettingsError::single(format!(
                    "cannot open the database {}: {e}",
                    redact_url(&database)
                ))
            })?
            .with_keyring(keyring);
        let mut make_scopes = vec!["openid".to_string()];
        make_scopes.extend(super::SCOPES.iter().map(|s| s.to_string()));
        // Which organization's request limit the person's calls count against.
        make_scopes.push(super::ORGANIZATIONS_READ.to_string());
        Ok(AuthSettings {
            public_url,
            allowed_hosts: at.allowed_hosts.to_vec(),
            make_issuer,
            make_client_id,
            make_client_secret,
            make_scopes,
            api_base,
            store,
            preregistered,
            allow_private_metadata_urls: sandbox.is_some(),
        })
    }
}

/// An `https` origin, or `http` on a loopback host; no path, query or fragment.
fn check_public_url(text: &str, problems: &mut Vec<String>) -> Option<Url> {
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            problems.push(format!("the public URL {text:?} is not a URL: {e}"));
            return None;
        }
    };
    if !secure_or_loopback(&url) {
        problems.push(format!("the public URL {text:?} must use https (plain http only on a loopback address): tokens and codes travel to it"));
        return None;
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        problems.push(format!("the public URL {text:?} must be an origin such as https://mcp.example.com, without a path: the MCP endpoint is its /mcp"));
        return None;
    }
    Some(url)
}

fn check_issuer(text: &str, problems: &mut Vec<String>) -> Option<Url> {
    match Url::parse(text) {
        Ok(url) if secure_or_loopback(&url) => Some(url),
        Ok(_) => {
            problems.push(format!("the Make OAuth issuer {text:?} must use https (plain http only on a loopback address)"));
            None
        }
        Err(e) => {
            problems.push(format!("the Make OAuth issuer {text:?} is not a URL: {e}"));
            None
        }
    }
}

fn secure_or_loopback(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && crate::make::is_loopback_url(url))
}

fn non_empty(text: &str, name: &str, problems: &mut Vec<String>) -> Option<Secret> {
    let text = text.trim();
    if text.is_empty() {
        problems.push(format!("{name} is empty"));
        None
    } else {
        Some(Secret::from(text.to_string()))
    }
}

fn read_secret(path: &Path, what: &str, problems: &mut Vec<String>) -> Option<Secret> {
    match std::fs::read_to_string(path) {
        Ok(text) => non_empty(
            &text,
            &format!("the file {} ({what})", path.display()),
            problems,
        ),
        Err(e) => {
            problems.push(format!("cannot read {what} from {}: {e}", path.display()));
            None
        }
    }
}

fn parse_keyring(text: &str, source: &str, problems: &mut Vec<String>) -> Option<Keyring> {
    match Keyring::parse(text.trim()) {
        Ok(keyring) => Some(keyring),
        Err(e) => {
            problems.push(format!(
                "the encryption key from {source} is not usable: {e}"
            ));
            None
        }
    }
}

/// A SQLite file in a fresh temporary folder, for `--sandbox`.
fn sandbox_database() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!(
        "make-credentials-mcp-sandbox-{}-{}",
        std::process::id(),
        super::secrets::random(super::secrets::Kind::Internal)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect::<String>()
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create a temporary folder for the sandbox's database: {e}"))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        dir.join("team.db").display()
    ))
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surroundings(sandbox: bool) -> Surroundings<'static> {
        Surroundings {
            listen: "127.0.0.1:3901".parse().unwrap(),
            allowed_hosts: &[],
            api_base: None,
            sandbox: sandbox.then(|| SandboxDefaults {
                issuer: "http://127.0.0.1:9".parse().unwrap(),
                client_id: "id".into(),
                client_secret: Secret::from("secret".to_string()),
            }),
        }
    }

    #[tokio::test]
    async fn every_missing_setting_is_one_sentence() {
        let Err(e) = RawAuthSettings::default()
            .resolve(surroundings(false))
            .await
        else {
            panic!("nothing configured must not start");
        };
        let text = e.to_string();
        for needle in [
            "--public-url",
            "MAKE_OAUTH_CLIENT_ID",
            "MAKE_OAUTH_CLIENT_SECRET",
            "MAKE_ZONE",
            "MCP_ENCRYPTION_KEY",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        assert_eq!(e.problems.len(), 5, "{text}");
    }

    #[tokio::test]
    async fn inconsistent_settings_are_named() {
        let raw = RawAuthSettings {
            public_url: Some("http://mcp.example.com".into()),
            make_issuer: Some("ftp://x".into()),
            make_client_secret: Some(Secret::from("a".to_string())),
            make_client_secret_file: Some("/nonexistent".into()),
            encryption_key: Some(Secret::from("short".to_string())),
            ..RawAuthSettings::default()
        };
        let Err(e) = raw.resolve(surroundings(false)).await else {
            panic!("must not start");
        };
        let text = e.to_string();
        assert!(text.contains("must use https"), "{text}");
        assert!(text.contains("not both"), "{text}");
        assert!(text.contains("not usable"), "{text}");
        assert!(
            !text.contains("short"),
            "the key must not be echoed: {text}"
        );
    }

    #[test]
    fn public_urls_are_origins() {
        let mut problems = Vec::new();
        assert!(check_public_url("https://mcp.example.com", &mut problems).is_some());
        assert!(check_public_url("http://127.0.0.1:3901", &mut problems).is_some());
        assert!(problems.is_empty());
        assert!(check_public_url("https://mcp.example.com/mcp", &mut problems).is_none());
        assert!(check_public_url("http://mcp.example.com", &mut problems).is_none());
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn database_passwords_are_not_shown() {
        assert_eq!(
            redact_url("postgres://mcp:hunter2@db:5432/mcp"),
            "postgres://mcp:***@db:5432/mcp"
        );
    }
}
