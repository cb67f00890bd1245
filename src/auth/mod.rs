//! Team mode (`http --auth oauth`): each person signs in with Make and acts as themselves.
//!
//! The server is two things at once (the shape of Cloudflare's workers-oauth-provider and
//! FastMCP's OAuth proxy, see docs/team.md):
//!
//! - an OAuth 2.1 **authorization server for MCP clients** ([`metadata`], [`register`],
//!   [`authorize`], [`callback`], [`consent`], [`token`]): clients register (dynamically, by a
//!   metadata document, or in configuration), send the person to `/authorize`, and get this
//!   server's own tokens, bound to its `/mcp` URL;
//! - a **confidential OAuth client of Make** ([`upstream`]): `/authorize` sends the person to
//!   Make to sign in, and the callback keeps their Make grant, sealed, in the [`crate::store`].
//!
//! People see what they allowed on the [`account`] page (`/account`, signed in through the
//! same Make login): their Make grant, the clients they allowed (each with a revoke button,
//! [`disconnect`]), and their own recent audit entries.
//!
//! In front of `/mcp`, [`resource`] turns a bearer token into the person it was issued to and
//! that person's fresh Make grant ([`grants`]), so each call acts as its person. MCP tokens
//! never reach Make and Make tokens never reach a client.
//!
//! Nothing here lives in one process only: pending sign-ins, consent tickets, codes, tokens,
//! grants and account sessions are all in the database, so any replica can take any step.

mod account;
mod account_page;
mod authorize;
mod callback;
mod clients;
mod consent;
mod disconnect;
mod grants;
mod metadata;
mod pages;
mod register;
pub(crate) mod resource;
mod secrets;
mod session;
pub(crate) mod settings;
mod token;
pub(crate) mod upstream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use url::Url;

use crate::make::MakeClient;
use crate::store::Store;
pub use settings::{AuthSettings, AuthSettingsError, RawAuthSettings};
use upstream::Upstream;

/// How long an MCP access token lives: short, so a revoked consent ends within the hour even
/// for a token that was never looked up again (it is looked up on every request anyway).
pub(crate) const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// How long an unused MCP refresh token lives; each use rotates it.
pub(crate) const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a person has to sign in with Make and come back.
const SIGN_IN_TTL: Duration = Duration::from_secs(600);
/// How long a client has to redeem an authorization code.
const CODE_TTL: Duration = Duration::from_secs(60);

/// How often expired records are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// The MCP scopes this server issues: Make's API scopes for the tools. A token's scopes are
/// intersected with the person's Make grant on every request.
pub(crate) const SCOPES: [&str; 7] = [
    crate::selection::scopes::CONNECTIONS_READ,
    crate::selection::scopes::CONNECTIONS_WRITE,
    crate::selection::scopes::KEYS_READ,
    crate::selection::scopes::KEYS_WRITE,
    crate::selection::scopes::CREDENTIAL_REQUESTS_READ,
    crate::selection::scopes::CREDENTIAL_REQUESTS_WRITE,
    crate::selection::scopes::APPS_READ,
];

/// The Make scope that lists a person's organizations, asked for at sign-in besides the
/// tools' scopes: the organization is whose request limit their calls count against.
pub(crate) const ORGANIZATIONS_READ: &str = "organizations:read";

/// The authorization server and resource check; cheap to clone.
#[derive(Clone)]
pub struct AuthServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthServer")
            .field("issuer", &self.inner.issuer)
            .field(
                "make_issuer",
                &self.inner.upstream.registration().issuer.as_str(),
            )
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// This server's public origin, e.g. `https://mcp.example.com` (no trailing slash).
    issuer: String,
    /// The canonical URL of the MCP endpoint, `{issuer}/mcp`: the audience of every token.
    resource: String,
    /// `Host` values the pages and endpoints answer to.
    hosts: Vec<String>,
    /// The public URL is https: cookies are `Secure` and `__Host-` prefixed.
    secure_cookies: bool,
    store: Store,
    upstream: Upstream,
    /// The client every person's calls share, carrying no credential of its own.
    make: MakeClient,
    /// Make's API base URL for every person.
    api_base: Url,
    clients: clients::Clients,
}

impl AuthServer {
    /// Builds the server from checked settings and the shared Make client (whose base URL
    /// every person's calls use).
    pub fn new(settings: AuthSettings, make: MakeClient) -> Result<Self, AuthSettingsError> {
        let issuer = settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let mut hosts = vec![host_of(&settings.public_url)];
        hosts.extend(settings.allowed_hosts.iter().cloned());
        let registration = upstream::MakeOAuthClient {
            issuer: settings.make_issuer.clone(),
            client_id: settings.make_client_id.clone(),
            client_secret: settings.make_client_secret.clone(),
            scopes: settings.make_scopes.clone(),
            redirect_uri: format!("{issuer}/oauth/callback")
                .parse()
                .expect("an http(s) origin plus a path is a URL"),
        };
        let upstream = Upstream::new(registration).map_err(|e| {
            AuthSettingsError::single(format!("cannot reach Make's OAuth provider: {e}"))
        })?;
        let clients = clients::Clients::new(
            settings.store.clone(),
            settings.preregistered.clone(),
            settings.allow_private_metadata_urls,
        )
        .map_err(AuthSettingsError::single)?;
        Ok(Self {
            inner: Arc::new(Inner {
                resource: format!("{issuer}/mcp"),
                issuer,
                hosts,
                secure_cookies: settings.public_url.scheme() == "https",
                store: settings.store,
                upstream,
                make,
                api_base: settings.api_base,
                clients,
            }),
        })
    }

    /// Stores the pre-registered clients (once at start; replicas doing it too is harmless).
    pub async fn register_preconfigured(&self) -> Result<(), crate::store::StoreError> {
        self.inner.clients.store_preregistered().await
    }

    /// Removes expired sign-ins, codes, tokens and spent confirmations every few minutes,
    /// and audit rows older than `audit_retention_secs`, for as long as the runtime runs.
    /// Every replica may do it: deleting is idempotent.
    pub fn start_pruning(&self, audit_retention_secs: i64) {
        let store = self.inner.store.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PRUNE_EVERY);
            loop {
                every.tick().await;
                if let Err(e) = store.prune(now()).await {
                    tracing::warn!(error = %e, "could not prune expired records");
                }
                prune_audit(&store, audit_retention_secs).await;
            }
        });
    }

    /// The database (for the audit trail, which team mode writes beside its records).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The issuer (this server's public origin).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The canonical URL of `/mcp`, the audience of every token.
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// The authorization server's and metadata routes, to merge beside `/mcp`.
    pub(crate) fn routes(&self) -> Router {
        Router::new()
            .route(
                "/.well-known/oauth-protected-resource",
                get(metadata::protected_resource),
            )
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(metadata::protected_resource),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(metadata::authorization_server),
            )
            .route("/register", post(register::register))
            .route("/authorize", get(authorize::authorize))
            .route("/oauth/callback", get(callback::callback))
            .route("/consent", post(consent::decide))
            .route("/token", post(token::token))
            .route("/revoke", post(token::revoke))
            .route("/account", get(account::page))
            .route("/account/revoke", post(account::revoke))
            .route("/account/sign-out", post(account::sign_out))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                pages::check_host,
            ))
            .with_state(self.clone())
    }
}

/// Removes audit rows older than `retention_secs` every few minutes, for as long as the
/// runtime runs: the static-token mode's pruning (team mode's is [`AuthServer::start_pruning`]).
pub fn start_audit_pruning(store: Store, retention_secs: i64) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            prune_audit(&store, retention_secs).await;
        }
    });
}

/// Removes audit rows older than `retention_secs`; a failure is logged.
async fn prune_audit(store: &Store, retention_secs: i64) {
    if let Err(e) = store
        .prune_audit(now().saturating_sub(retention_secs))
        .await
    {
        tracing::warn!(error = %e, "could not prune the audit trail");
    }
}

/// `host[:port]` of a URL as a `Host` header carries it (the port only when not the default).
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Seconds since the Unix epoch, the unit of every stored time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
// The flows end to end need the sandbox as Make's OAuth provider.
#[cfg(all(test, feature = "sandbox"))]
mod tests;
