//! Where the server finds its Make zone, key and defaults: flags, then environment
//! (`MAKE_API_URL`, `MAKE_ZONE`, `MAKE_API_KEY`, `MAKE_TEAM`), then the Make CLI's saved login.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::make::{ApiKey, ClientSettings, RetryPolicy, UrlError, parse_api_url, zone_base_url};

#[cfg(test)]
mod tests;

/// A secret setting as given by a flag, the environment or the Make CLI login (the Make
/// key, the bearer token): its `Debug` says `[redacted]`, so printing or logging a settings
/// struct never shows it. The text is reached only through [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(String);

impl Secret {
    /// The secret itself, for the code that checks or sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// clap builds flag and environment values with this.
impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self(text.to_string())
    }
}

/// The server's whole configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub(crate) client: ClientSettings,
    /// Team used when a tool call omits `teamId` (`MAKE_TEAM`).
    pub(crate) default_team: Option<u64>,
}

/// Raw values as given by flags or environment, before validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawSettings {
    pub(crate) api_url: Option<String>,
    pub(crate) zone: Option<String>,
    pub(crate) api_key: Option<Secret>,
    pub(crate) team: Option<String>,
    pub(crate) timeout_secs: Option<u64>,
    pub(crate) connect_timeout_secs: Option<u64>,
    pub(crate) retries: Option<u32>,
}

/// The Make CLI's saved login (`make-cli/config.json`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CliLogin {
    pub(crate) api_key: Option<Secret>,
    pub(crate) zone: Option<String>,
}

impl CliLogin {
    /// `$XDG_CONFIG_HOME/make-cli/config.json`, else `~/.config/make-cli/config.json`.
    pub(crate) fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("make-cli").join("config.json"))
    }

    /// Reads the login file; a missing or unreadable file is simply no login.
    pub(crate) fn load(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str(&text) {
            Ok(login) => Some(login),
            Err(e) => {
                // Position and kind only: serde's text can quote the file's values (the key).
                tracing::warn!(path = %path.display(), line = e.line(), column = e.column(), kind = ?e.classify(), "ignoring unreadable Make CLI login file");
                None
            }
        }
    }
}

/// A configuration value that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub(crate) struct ConfigError(pub(crate) String);

impl From<UrlError> for ConfigError {
    fn from(e: UrlError) -> Self {
        Self(e.0)
    }
}

impl Config {
    /// Validates `raw`. The Make CLI's `login` is used only as a whole, when neither a key nor
    /// a zone is configured: mixing a saved key with another zone (or the reverse) could send
    /// the key to the wrong host.
    pub(crate) fn resolve(raw: RawSettings, login: Option<CliLogin>) -> Result<Self, ConfigError> {
        let explicit_key = raw
            .api_key
            .as_ref()
            .map(Secret::expose)
            .and_then(ApiKey::new);
        let explicit_target = [&raw.api_url, &raw.zone]
            .iter()
            .any(|v| v.as_deref().is_some_and(|t| !t.trim().is_empty()));
        let login = if explicit_key.is_none() && !explicit_target {
            login.unwrap_or_default()
        } else {
            CliLogin::default()
        };
        let api_key = explicit_key.or_else(|| {
            login
                .api_key
                .as_ref()
                .map(Secret::expose)
                .and_then(ApiKey::new)
        });
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
                "MAKE_TEAM must be a positive team id, got {:?}",
                crate::make::clip(text, 64)
            ))
        })
}
