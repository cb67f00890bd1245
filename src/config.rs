//! Where the server finds its Make zone, key and defaults: flags, then environment
//! (`MAKE_API_URL`, `MAKE_ZONE`, `MAKE_API_KEY`, `MAKE_TEAM`), then the Make CLI's saved login.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::make::RetryPolicy;

/// A Make API key. Its text is only reachable through [`ApiKey::expose`], so it never
/// ends up in a `Debug` print, a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; surrounding white space (a trailing newline from a file) is dropped.
    pub fn new(key: impl AsRef<str>) -> Option<Self> {
        let key = key.as_ref().trim();
        (!key.is_empty()).then(|| Self(key.to_string()))
    }

    /// The secret itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Make API tokens are UUIDv4-shaped; anything else is taken for an OAuth access token.
    pub fn is_make_api_token(&self) -> bool {
        is_uuid_v4(&self.0)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

fn is_uuid_v4(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != 36 {
        return false;
    }
    bytes.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        14 => *b == b'4',
        19 => matches!(b.to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b'),
        _ => b.is_ascii_hexdigit(),
    })
}

/// What the shared Make client needs.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `https://{zone}/api/v2`, or `None` when no zone is configured.
    pub base_url: Option<Url>,
    /// `None` when no key is configured: the server starts, and calls say how to set one.
    pub api_key: Option<ApiKey>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(40),
            retry: RetryPolicy::default(),
        }
    }
}

/// The server's whole configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub client: ClientSettings,
    /// Team used when a tool call omits `teamId` (`MAKE_TEAM`).
    pub default_team: Option<u64>,
}

/// Raw values as given by flags or environment, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    pub api_url: Option<String>,
    pub zone: Option<String>,
    pub api_key: Option<String>,
    pub team: Option<String>,
    pub timeout_secs: Option<u64>,
    pub connect_timeout_secs: Option<u64>,
    pub retries: Option<u32>,
}

/// The Make CLI's saved login (`make-cli/config.json`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CliLogin {
    pub api_key: Option<String>,
    pub zone: Option<String>,
}

impl CliLogin {
    /// `$XDG_CONFIG_HOME/make-cli/config.json`, else `~/.config/make-cli/config.json`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("make-cli").join("config.json"))
    }

    /// Reads the login file; a missing or unreadable file is simply no login.
    pub fn load(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str(&text) {
            Ok(login) => Some(login),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable Make CLI login file");
                None
            }
        }
    }
}

/// A configuration value that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Validates `raw`. The Make CLI's `login` is used only as a whole, when neither a key nor
    /// a zone is configured: mixing a saved key with another zone (or the reverse) could send
    /// the key to the wrong host.
    pub fn resolve(raw: RawSettings, login: Option<CliLogin>) -> Result<Self, ConfigError> {
        let explicit_key = raw.api_key.as_deref().and_then(ApiKey::new);
        let explicit_target = [&raw.api_url, &raw.zone]
            .iter()
            .any(|v| v.as_deref().is_some_and(|t| !t.trim().is_empty()));
        let login = if explicit_key.is_none() && !explicit_target {
            login.unwrap_or_default()
        } else {
            CliLogin::default()
        };
        let api_key = explicit_key.or_else(|| login.api_key.as_deref().and_then(ApiKey::new));
        let base_url = match (&raw.api_url, &raw.zone) {
            (Some(url), _) if !url.trim().is_empty() => Some(parse_api_url(url)?),
            (_, Some(zone)) if !zone.trim().is_empty() => Some(zone_base_url(zone)?),
            _ => match login.zone.as_deref() {
                Some(zone) if !zone.trim().is_empty() => Some(zone_base_url(zone)?),
                _ => None,
            },
        };
        let default_team = raw.team.as_deref().map(parse_team).transpose()?;
        let defaults = ClientSettings::default();
        let secs =
            |v: Option<u64>, d: Duration| v.filter(|s| *s > 0).map_or(d, Duration::from_secs);
        Ok(Self {
            client: ClientSettings {
                base_url,
                api_key,
                connect_timeout: secs(raw.connect_timeout_secs, defaults.connect_timeout),
                timeout: secs(raw.timeout_secs, defaults.timeout),
                retry: RetryPolicy {
                    max_retries: raw.retries.unwrap_or(defaults.retry.max_retries),
                    ..defaults.retry
                },
            },
            default_team,
        })
    }
}

fn parse_team(text: &str) -> Result<u64, ConfigError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| {
            ConfigError(format!(
                "MAKE_TEAM must be a positive team id, got {text:?}"
            ))
        })
}

/// `eu1.make.com`, `https://eu1.make.com/` or `eu1.make.com/api/v2` → `https://eu1.make.com/api/v2`.
pub fn zone_base_url(zone: &str) -> Result<Url, ConfigError> {
    let host = zone.trim();
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(host);
    let host = host.trim_end_matches('/');
    let host = host.strip_suffix("/api/v2").unwrap_or(host);
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !valid {
        return Err(ConfigError(format!(
            "MAKE_ZONE must be a host name such as eu1.make.com, got {zone:?}"
        )));
    }
    if !is_make_host(host) {
        tracing::info!(
            zone = host,
            "using a Make zone outside the public list (private instance)"
        );
    }
    Url::parse(&format!("https://{host}/api/v2"))
        .map_err(|e| ConfigError(format!("MAKE_ZONE {zone:?} is not a valid host: {e}")))
}

/// A full base URL (`MAKE_API_URL`). Plain `http` is only accepted for loopback hosts.
pub fn parse_api_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError(format!("MAKE_API_URL {text:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_url(&url) => {}
        "http" => {
            return Err(ConfigError(format!(
                "MAKE_API_URL {text:?} uses plain http, which is only allowed for loopback hosts; use https"
            )));
        }
        other => {
            return Err(ConfigError(format!(
                "MAKE_API_URL must be an http(s) URL, got scheme {other:?}"
            )));
        }
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError(format!(
            "MAKE_API_URL {text:?} must name a host and carry no credentials"
        )));
    }
    // Every request URL and the startup log line start from this one: a query string here
    // (a token, a signature) would be sent with every call and logged.
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError(format!(
            "MAKE_API_URL {text:?} must not carry a query string or fragment"
        )));
    }
    Ok(url)
}

/// Hosts of Make's public zones (`*.make.com`, `*.make.celonis.com`).
pub fn is_make_host(host: &str) -> bool {
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    host.ends_with(".make.com") || host.ends_with(".make.celonis.com")
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]`.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings::default()
    }

    #[test]
    fn api_key_debug_is_redacted_and_uuid_detection_works() {
        let key = ApiKey::new(" 0f8e2c1a-1234-4abc-9def-0123456789ab\n").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert!(key.is_make_api_token());
        assert!(
            ApiKey::new("0F8E2C1A-1234-4ABC-BDEF-0123456789AB")
                .unwrap()
                .is_make_api_token()
        );
        assert!(
            !ApiKey::new("0f8e2c1a-1234-1abc-9def-0123456789ab")
                .unwrap()
                .is_make_api_token()
        );
        assert!(
            !ApiKey::new("ya29.oauth-access-token")
                .unwrap()
                .is_make_api_token()
        );
        assert!(ApiKey::new("   ").is_none());
    }

    #[test]
    fn zone_is_normalised_like_the_make_cli() {
        for zone in [
            "eu1.make.com",
            "https://eu1.make.com/",
            "eu1.make.com/api/v2",
        ] {
            assert_eq!(
                zone_base_url(zone).unwrap().as_str(),
                "https://eu1.make.com/api/v2"
            );
        }
        assert!(zone_base_url("eu1.make.com/evil?x").is_err());
        assert!(zone_base_url("").is_err());
        assert_eq!(
            zone_base_url("make.example.org").unwrap().as_str(),
            "https://make.example.org/api/v2"
        );
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        assert!(parse_api_url("http://127.0.0.1:8080/api/v2").is_ok());
        assert!(parse_api_url("http://localhost/api/v2").is_ok());
        assert!(parse_api_url("http://[::1]:9/api/v2").is_ok());
        assert!(parse_api_url("http://eu1.make.com/api/v2").is_err());
        assert!(parse_api_url("https://eu1.make.com/api/v2").is_ok());
        assert!(parse_api_url("ftp://eu1.make.com").is_err());
        assert!(parse_api_url("https://user:pw@eu1.make.com").is_err());
        assert!(parse_api_url("https://eu1.make.com/api/v2?token=x").is_err());
        assert!(parse_api_url("https://eu1.make.com/api/v2#x").is_err());
    }

    #[test]
    fn cli_login_is_never_mixed_with_explicit_settings() {
        let login = CliLogin {
            api_key: Some("cli-key".into()),
            zone: Some("us1.make.com".into()),
        };
        let zone_only = RawSettings {
            zone: Some("eu2.make.com".into()),
            ..raw()
        };
        let c = Config::resolve(zone_only, Some(login.clone())).unwrap();
        assert!(
            c.client.api_key.is_none(),
            "the saved key is not sent to another zone"
        );
        let key_only = RawSettings {
            api_key: Some("env-key".into()),
            ..raw()
        };
        let c = Config::resolve(key_only, Some(login)).unwrap();
        assert!(
            c.client.base_url.is_none(),
            "an explicit key is not paired with the saved zone"
        );
    }

    #[test]
    fn explicit_settings_win_and_cli_login_is_the_fallback() {
        let login = CliLogin {
            api_key: Some("cli-key".into()),
            zone: Some("us1.make.com".into()),
        };
        let c = Config::resolve(raw(), Some(login.clone())).unwrap();
        assert_eq!(c.client.api_key.unwrap().expose(), "cli-key");
        assert_eq!(
            c.client.base_url.unwrap().as_str(),
            "https://us1.make.com/api/v2"
        );

        let explicit = RawSettings {
            zone: Some("eu2.make.com".into()),
            api_key: Some("env-key".into()),
            team: Some("42".into()),
            ..raw()
        };
        let c = Config::resolve(explicit, Some(login)).unwrap();
        assert_eq!(c.client.api_key.unwrap().expose(), "env-key");
        assert_eq!(
            c.client.base_url.unwrap().as_str(),
            "https://eu2.make.com/api/v2"
        );
        assert_eq!(c.default_team, Some(42));
    }

    #[test]
    fn nothing_configured_is_not_an_error() {
        let c = Config::resolve(raw(), None).unwrap();
        assert!(c.client.api_key.is_none() && c.client.base_url.is_none());
    }

    #[test]
    fn bad_team_is_rejected_with_the_setting_named() {
        let e = Config::resolve(
            RawSettings {
                team: Some("abc".into()),
                ..raw()
            },
            None,
        )
        .unwrap_err();
        assert!(e.0.contains("MAKE_TEAM"), "{e}");
        assert!(
            Config::resolve(
                RawSettings {
                    team: Some("0".into()),
                    ..raw()
                },
                None
            )
            .is_err()
        );
    }

    #[test]
    fn cli_login_file_is_read() {
        let dir = std::env::temp_dir().join(format!("mcm-login-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, r#"{"apiKey":"k","zone":"eu1.make.com","other":1}"#).unwrap();
        let login = CliLogin::load(&path).unwrap();
        assert_eq!(login.api_key.as_deref(), Some("k"));
        assert!(CliLogin::load(&dir.join("missing.json")).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
