//! What the shared Make client is configured with: the base URL, the key, timeouts and
//! the retry policy. The server's configuration (flags, environment, the Make CLI login)
//! resolves into these.

use std::time::Duration;

use url::Url;

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
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Make API tokens are UUIDv4-shaped; anything else is taken for an OAuth access token.
    pub(crate) fn is_make_api_token(&self) -> bool {
        is_uuid_v4(&self.0)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Only the hyphenated form (36 characters, either case) of a version 4, RFC 4122 variant
/// UUID: `uuid` also parses the simple, braced and URN forms, which Make keys never take.
fn is_uuid_v4(s: &str) -> bool {
    s.len() == 36
        && uuid::Uuid::try_parse(s)
            .is_ok_and(|u| u.get_version_num() == 4 && u.get_variant() == uuid::Variant::RFC4122)
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
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            retry: RetryPolicy::default(),
        }
    }
}

/// How failed requests are retried (see [`Replay`] for which ones may be).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first try (0 turns retrying off).
    pub max_retries: u32,
    /// First back-off delay; doubled on each retry, with jitter.
    pub base_delay: Duration,
    /// Upper bound of any single wait, including a server's `Retry-After`.
    pub max_delay: Duration,
}

/// Seconds to wait for a Make API response, unless configured (`MAKE_TIMEOUT`).
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 40;
/// Seconds to wait for a connection to Make, unless configured (`MAKE_CONNECT_TIMEOUT`).
pub(crate) const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Retries after the first try, unless configured (`MAKE_RETRIES`).
pub(crate) const DEFAULT_RETRIES: u32 = 2;

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: DEFAULT_RETRIES,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests;
