//! The scope check: ask Make which scopes the key holds, so tools it cannot use are hidden.
//!
//! It runs in the background from startup and never delays `initialize`; `tools/list`
//! waits for it at most [`LIST_WAIT`]. Whenever the answer is not a usable list of scopes
//! (no key, an OAuth token, any failure), nothing is hidden: calls then fail with Make's
//! own 403 where a scope is missing, which is no worse than without the check, while hiding
//! on a guess could take working tools away.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use crate::logging::quote;
use crate::make::MakeClient;

/// Longest `tools/list` waits for a pending scope check before it answers with every
/// selected tool (a later answer reaches live clients as `notifications/tools/list_changed`).
pub(crate) const LIST_WAIT: Duration = Duration::from_secs(2);

/// What the scope check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The key's scopes, as Make listed them.
    Granted(BTreeSet<String>),
    /// Nothing is hidden, for this reason.
    Skipped(Skip),
}

/// Why the scope check hides nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Skip {
    /// No key or no zone configured: calls explain the setup.
    NotConfigured,
    /// `--no-scope-check`.
    Disabled,
    /// The key is an OAuth access token, whose grant this endpoint does not describe as a
    /// Make API token's scopes.
    OAuthToken,
    /// The endpoint failed or answered in an unexpected shape.
    Failed(String),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NotConfigured => f.write_str("no Make key or zone is configured"),
            Skip::Disabled => f.write_str("--no-scope-check (MCP_NO_SCOPE_CHECK) is set"),
            Skip::OAuthToken => {
                f.write_str("the key is an OAuth token, not a Make API token with scopes")
            }
            Skip::Failed(reason) => write!(
                f,
                "Make's GET /users/me/current-authorization failed: {}",
                quote(reason)
            ),
        }
    }
}

/// Why the check would hide nothing without asking Make, or `None` when it must ask.
pub(crate) fn skip_without_asking(make: &MakeClient, enabled: bool) -> Option<Skip> {
    if !enabled {
        Some(Skip::Disabled)
    } else if !make.has_key() || make.base_url().is_none() {
        Some(Skip::NotConfigured)
    } else if make.uses_oauth_token() {
        Some(Skip::OAuthToken)
    } else {
        None
    }
}

/// Asks Make for the key's scopes (with the client's timeout and retries).
pub(crate) async fn ask(make: &MakeClient) -> Outcome {
    match make.current_authorization().await {
        Ok(auth) => Outcome::Granted(auth.scope.into_iter().collect()),
        Err(e) => Outcome::Skipped(Skip::Failed(e.to_string())),
    }
}

/// Logs why nothing is hidden: a warning when the check failed (the operator may want to
/// fix the key), info otherwise.
pub(crate) fn log_skip(skip: &Skip) {
    match skip {
        Skip::Failed(_) => {
            tracing::warn!("scope check skipped, every selected tool stays listed: {skip}")
        }
        Skip::NotConfigured => {
            tracing::debug!("scope check skipped, every selected tool stays listed: {skip}")
        }
        _ => tracing::info!("scope check skipped, every selected tool stays listed: {skip}"),
    }
}
