//! The sandbox key's Make scopes (make-api.md §1.3), and Make's 403 for requests outside
//! them.
//!
//! A real Make token holds only the scopes its owner ticked. `--sandbox-scopes` starts the
//! sandbox with such a key: `GET /users/me/current-authorization` lists just those scopes
//! (so the server's scope check hides tools), and every other endpoint answers 403 `SC403`
//! when the key lacks its scope, as Make does, so a tool that is not hidden (the check
//! turned off, a client calling blind) fails the way it would against Make.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::caller::Caller;
use super::errors::ApiError;
use super::faults::api_path;

/// Every scope a sandbox key can hold: the credential tools' scopes and the identity
/// scopes a real token usually carries.
pub(crate) const TOKEN_SCOPES: &[&str] = &[
    "apps:read",
    "connections:read",
    "connections:write",
    "credential-requests:read",
    "credential-requests:write",
    "keys:read",
    "keys:write",
    "organizations:read",
    "teams:read",
    "user:read",
];

/// The scopes of the sandbox's key. The default holds all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScopes(BTreeSet<&'static str>);

impl Default for KeyScopes {
    fn default() -> Self {
        Self(TOKEN_SCOPES.iter().copied().collect())
    }
}

impl KeyScopes {
    /// The scopes, sorted, as current-authorization lists them.
    pub(crate) fn list(&self) -> Vec<&'static str> {
        self.0.iter().copied().collect()
    }

    pub(crate) fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }
}

impl fmt::Display for KeyScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.list().join(","))
    }
}

/// A bad `--sandbox-scopes` list; the message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}; valid scopes: {valid}", valid = TOKEN_SCOPES.join(", "))]
pub struct KeyScopesError(String);

impl FromStr for KeyScopes {
    type Err = KeyScopesError;

    /// A comma list such as `connections:read,keys:read`; an empty one means all, as when
    /// the setting is unset (`MCP_SANDBOX_SCOPES=`).
    fn from_str(text: &str) -> Result<Self, KeyScopesError> {
        let mut scopes = BTreeSet::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let scope = TOKEN_SCOPES
                .iter()
                .find(|s| **s == item)
                .ok_or_else(|| KeyScopesError(format!("unknown scope '{item}'")))?;
            scopes.insert(*scope);
        }
        if scopes.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self(scopes))
    }
}

/// The scope a request to `path` (below `/api/v2`) with `method` needs; `None` for the
/// identity endpoints, which any valid key may read.
pub(crate) fn scope_for(method: &Method, path: &str) -> Option<&'static str> {
    let read = *method == Method::GET || *method == Method::HEAD;
    let pick = |r: &'static str, w: &'static str| Some(if read { r } else { w });
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "connections" => pick("connections:read", "connections:write"),
        "keys" => pick("keys:read", "keys:write"),
        "credential-requests" if path.starts_with("/credential-requests/apps/") => {
            Some("apps:read")
        }
        "credential-requests" => pick("credential-requests:read", "credential-requests:write"),
        "organizations" if read => Some("organizations:read"),
        _ => None,
    }
}

/// 403 `SC403` for a request the caller (the key, or an access token) has no scope for;
/// runs after the token check.
pub(super) async fn require_scope(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let caller = Caller::current();
    match scope_for(req.method(), api_path(req.uri().path())) {
        Some(scope) if !caller.has_scope(&state.scopes, scope) => {
            let holder = match caller {
                Caller::Key => "The API key",
                Caller::Person { .. } => "The access token",
            };
            ApiError::forbidden()
                .with_detail(format!("{holder} lacks the scope '{scope}'."))
                .into_response()
        }
        _ => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_unknown_names_list_the_valid_ones() {
        let scopes: KeyScopes = " keys:read, connections:read ,keys:read".parse().unwrap();
        assert_eq!(scopes.list(), ["connections:read", "keys:read"]);
        assert_eq!(scopes.to_string(), "connections:read,keys:read");
        let err = "keys:read,keys:admin".parse::<KeyScopes>().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown scope 'keys:admin'; valid scopes: apps:read,"),
            "{err}"
        );
        assert_eq!(" , ".parse::<KeyScopes>().unwrap(), KeyScopes::default());
        assert_eq!(KeyScopes::default().list(), TOKEN_SCOPES);
    }

    #[test]
    fn endpoints_map_to_make_scopes() {
        let cases = [
            (Method::GET, "/connections", Some("connections:read")),
            (
                Method::POST,
                "/connections/5/test",
                Some("connections:write"),
            ),
            (Method::DELETE, "/keys/7", Some("keys:write")),
            (Method::GET, "/organizations", Some("organizations:read")),
            (Method::GET, "/keys/types", Some("keys:read")),
            (
                Method::GET,
                "/credential-requests/requests/x/detail",
                Some("credential-requests:read"),
            ),
            (
                Method::POST,
                "/credential-requests/actions/extend",
                Some("credential-requests:write"),
            ),
            (
                Method::GET,
                "/credential-requests/apps/slack3/latest/modules-with-credentials",
                Some("apps:read"),
            ),
            (Method::GET, "/users/me", None),
            (Method::GET, "/users/me/current-authorization", None),
        ];
        for (method, path, want) in cases {
            assert_eq!(scope_for(&method, path), want, "{method} {path}");
        }
    }
}
