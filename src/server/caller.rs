//! The person a request comes from, in team mode (`http --auth oauth`).
//!
//! The HTTP layer in front of rmcp authenticates each request's bearer token, looks up the
//! person and their Make OAuth grant, and puts a [`Caller`] into the HTTP request's
//! extensions. rmcp's streamable HTTP service hands the request's [`Parts`] to the handler
//! in the MCP request context (on every path: sessions, stateless, 2026-07-28), so the
//! server finds the caller there and runs the call as that person: with their Make
//! client, and with only the tools their grant's scopes allow. Without a caller (stdio,
//! HTTP with a static token) the server acts with the operator's key as before.

use std::collections::BTreeSet;
use std::fmt;

use axum::http::request::Parts;
use rmcp::RoleServer;
use rmcp::model::Extensions;
use rmcp::service::RequestContext;

use crate::make::MakeClient;

/// A signed-in person making this request.
#[derive(Clone)]
pub struct Caller {
    /// Their Make user id (the OIDC `sub`): shown on every log line of their calls.
    pub make_user_id: String,
    /// The MCP client they signed in with.
    pub client_id: String,
    /// The shared Make client carrying their credentials (see [`MakeClient::acting_as`]).
    pub make: MakeClient,
    /// Their Make grant's scopes (`keys:read`, ...): tools needing others are hidden.
    pub scopes: BTreeSet<String>,
}

impl Caller {
    /// The caller of the request `context` belongs to, when the HTTP layer put one there.
    pub fn of(context: &RequestContext<RoleServer>) -> Option<&Caller> {
        Self::in_extensions(&context.extensions)
    }

    /// The caller in the HTTP request's parts among an MCP request's `extensions`.
    fn in_extensions(extensions: &Extensions) -> Option<&Caller> {
        extensions.get::<Parts>()?.extensions.get::<Caller>()
    }
}

/// Names the person and their grant, never a credential ([`MakeClient`]'s own `Debug`
/// shows only its base URL and whether it is authenticated).
impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("make_user_id", &self.make_user_id)
            .field("client_id", &self.client_id)
            .field("make", &self.make)
            .field("scopes", &self.scopes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::make::ClientSettings;

    fn caller() -> Caller {
        let operator = MakeClient::new(&ClientSettings {
            base_url: Some("https://eu1.make.com/api/v2".parse().unwrap()),
            ..ClientSettings::default()
        })
        .unwrap();
        Caller {
            make_user_id: "1001".into(),
            client_id: "https://client.example/meta.json".into(),
            make: operator.acting_as("secret-access-token", None),
            scopes: ["keys:read".to_string()].into(),
        }
    }

    #[test]
    fn debug_shows_who_but_no_token() {
        let shown = format!("{:?}", caller());
        assert!(
            shown.contains("1001") && shown.contains("keys:read"),
            "{shown}"
        );
        assert!(!shown.contains("secret-access-token"), "{shown}");
    }

    #[test]
    fn found_in_the_http_parts_only() {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        let mut extensions = Extensions::new();
        extensions.insert(parts.clone());
        assert!(
            Caller::in_extensions(&extensions).is_none(),
            "none was inserted"
        );
        // Directly among the MCP extensions is not where the HTTP layer puts it.
        extensions.insert(caller());
        assert!(Caller::in_extensions(&extensions).is_none());
        parts.extensions.insert(caller());
        extensions.insert(parts);
        let found = Caller::in_extensions(&extensions).unwrap();
        assert_eq!(found.make_user_id, "1001");
    }
}
