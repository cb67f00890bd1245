//! The sandbox as Make's OAuth 2.0 / OIDC authorization server, so a confidential client of
//! Make (the MCP server's team mode) can run end to end without Make.
//!
//! It mirrors what Make documents: discovery at `/.well-known/openid-configuration`,
//! endpoints under `/oauth/v2/`, the authorization code grant with PKCE S256 only, client
//! authentication `client_secret_post`, access tokens (`expires_in` 3600 by default) with
//! refresh tokens, and `iss` on the authorization response (RFC 9207). One confidential
//! client is registered, with an exact-match list of redirect URIs. The sandbox issues no
//! id tokens: `openid` is accepted as a scope and unlocks userinfo, and the JWKS is empty.
//!
//! Routes (all behind the loopback guard; the pages also get its page headers):
//!
//! - `GET /.well-known/openid-configuration`, `GET /oauth/v2/oidc/jwks` ([`discovery`]).
//! - `GET /oauth/v2/authorize`: checks the request and shows the login page; an unknown
//!   client or a redirect URI not on the list gets an error page, never a redirect.
//!   `POST /oauth/v2/login` (`ticket`, `username`, `password`) shows the consent page;
//!   `POST /oauth/v2/consent` (`ticket`, `decision=approve|deny`) redirects (303) to the
//!   client ([`authorize`]). Each form carries a one-time ticket.
//! - `POST /oauth/v2/token`, `POST /oauth/v2/revoke` ([`token`]).
//! - `GET /oauth/v2/oidc/userinfo` ([`userinfo`]).
//!
//! The API accepts the access tokens as `Authorization: Bearer` and acts as the person
//! (`crate::caller`).

mod authorize;
mod discovery;
pub(crate) mod grants;
mod pages;
mod pkce;
#[cfg(test)]
mod tests;
mod token;
mod userinfo;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use super::key_scopes::TOKEN_SCOPES;
use grants::Grants;

/// The client id registered when [`crate::SandboxOptions::oauth_client`] names none.
pub const DEFAULT_CLIENT_ID: &str = "sandbox-mcp-server";
/// The access-token lifetime unless [`crate::SandboxOptions::oauth_access_token_lifetime`]
/// says otherwise (Make's `expires_in`).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The registered client and the server's settings.
pub(crate) struct OAuthConfig {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// Exact-match allow list.
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) access_lifetime: Duration,
    /// How many generated people (`person-1` ...) can sign in besides the seeded ones.
    pub(crate) crowd: u32,
}

/// The authorization server: its settings and its state.
pub(crate) struct OAuth {
    pub(crate) config: OAuthConfig,
    grants: Mutex<Grants>,
}

impl OAuth {
    pub(crate) fn new(config: OAuthConfig) -> Self {
        OAuth {
            config,
            grants: Mutex::new(Grants::default()),
        }
    }

    /// Locks the state; a panic in another handler must not wedge the sandbox.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every scope a client may ask for: `openid` and the Make API scopes the sandbox knows.
pub(crate) fn supported_scopes() -> impl Iterator<Item = &'static str> {
    std::iter::once("openid").chain(TOKEN_SCOPES.iter().copied())
}

pub(super) fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/oauth/v2/authorize", get(authorize::start))
        .route("/oauth/v2/login", post(authorize::login))
        .route("/oauth/v2/consent", post(authorize::consent))
        .layer(axum::middleware::map_response(super::guard::page_headers));
    Router::new()
        .merge(pages)
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/oauth/v2/oidc/jwks", get(discovery::jwks))
        .route("/oauth/v2/token", post(token::token))
        .route("/oauth/v2/revoke", post(token::revoke))
        .route("/oauth/v2/oidc/userinfo", get(userinfo::userinfo))
}
