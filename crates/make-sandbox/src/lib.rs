//! An in-process, stateful double of the Make API v2, for tests and demos without a Make
//! account.
//!
//! [`Sandbox::start_with`] binds `127.0.0.1` on a free port (or [`SandboxOptions::port`]),
//! seeds data and serves from a tokio task until the handle is dropped. Point a client at
//! [`Sandbox::api_base_url`] with `Authorization: Token` + [`Sandbox::api_key`]:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use make_sandbox::{Sandbox, SandboxOptions};
//!
//! let sandbox = Sandbox::start_with(SandboxOptions::default()).await?;
//! let base = sandbox.api_base_url(); // e.g. http://127.0.0.1:41234/api/v2
//! let auth = format!("Token {}", sandbox.api_key());
//! # let _ = (base, auth);
//! # Ok(())
//! # }
//! ```
//!
//! It follows Make's API: the same paths, query encoding, bodies, wrapper keys, error bodies
//! and traps (set-data replaces all data, deletes need `confirmed=true`, extend fails when no
//! scope is new). Credential requests get a real consent page served by the sandbox itself
//! (its `publicUri`), where a person authorizes, fills in or declines each credential.
//!
//! Fault injection: a probabilistic [`FaultPlan`] at start (e.g. `"429=0.05,latency=200ms"`
//! parsed with `str::parse`), scripted [`Fault`]s at runtime ([`Sandbox::inject`],
//! [`Sandbox::inject_on`]), and a count of the API requests received
//! ([`Sandbox::requests_seen`]). Faults apply to the API only, never to the consent page;
//! [`faults`] says which ones let the request take effect.
//!
//! Make's per-organization request limit is enforced only when asked
//! ([`SandboxOptions::rate_limit`]): past it, Make's 429 with `Retry-After`, counted by
//! [`Sandbox::rate_limited`]. `GET /organizations` lists the caller's organization.
//!
//! The key holds every Make scope unless [`SandboxOptions::scopes`] names fewer; then
//! `GET /users/me/current-authorization` lists only those and requests outside them answer
//! 403 `SC403`, as Make does ([`KeyScopes`]).
//!
//! It also plays Make's OAuth 2.0 / OIDC authorization server ([`oauth`]): discovery at
//! `/.well-known/openid-configuration` (issuer [`Sandbox::oauth_issuer`]), login and consent
//! pages for the seeded people ([`seed::PEOPLE`]: `ada` in team 1, `grace` in team 2,
//! password `sandbox`), the code grant with PKCE S256 for one confidential client
//! ([`Sandbox::oauth_client_id`], [`Sandbox::oauth_client_secret`],
//! [`SandboxOptions::oauth_redirect_uris`]), rotating refresh tokens, revocation and
//! userinfo. It issues no id tokens. The API accepts the access tokens as
//! `Authorization: Bearer` and then acts as the person: their teams only, the granted
//! scopes only. [`Sandbox::authorizations_seen`] lists every `Authorization` value the API
//! received, and [`Sandbox::oauth_refreshes`] counts refreshes.
//!
//! Every route answers only to a loopback `Host` (`127.0.0.1`, `localhost`, `[::1]` with the
//! sandbox's port) and refuses cross-site form posts.
//!
//! # Seed data
//!
//! The ids are constants in [`seed`].
//!
//! - Organization 1 with teams 1 (Marketing) and 2 (Operations); team 3 belongs to another
//!   organization, so its objects and its `teamId` answer 403 `SC403`.
//! - Connections: 1001 `google` (OAuth, email + drive.readonly, used in a scenario, so
//!   delete needs `confirmed=true`), 1002 `slack3`, 1003 `http` (basic), 1006 `slack3` whose
//!   test gives 424, all in team 1; 1004 `airtable2` and 1005 `airtable2` (test gives
//!   `verified:false`) in team 2; 1901 `google` in team 3.
//! - Keys: 2001 `basicauth`, 2002 `apikeyauth` (team 1), 2003 `aes-key` (team 2), 2901
//!   (team 3). New connections count from 5001, new keys from 6001.
//! - Pending request `a07e16f2ad134bf49cf83a00aa95c0a5` in team 1 with one pending `google`
//!   credential `5d3f0c9be2a14f6e8b7a1c2d3e4f5061`; a foreign request in team 3.
//! - People who can sign in: `ada` (user 11, Ada Lovelace, team 1) and `grace` (user 12,
//!   Grace Hopper, team 2), password `sandbox`.

mod auth;
mod caller;
mod catalog;
mod connections;
mod consent;
mod credential_requests;
mod credentials;
mod errors;
pub mod faults;
mod guard;
mod input;
mod key_scopes;
mod keys;
pub mod oauth;
mod organizations;
mod rate_limit;
mod render;
mod scopes;
pub mod seed;
mod state;
#[cfg(test)]
mod tests;
mod time;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use axum::middleware;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use auth::AuthorizationLog;
pub use faults::{
    ClosedPort, DEFAULT_TIMEOUT_HOLD, Fault, FaultPlan, FaultPlanError, RedirectHits, RequestsSeen,
    closed_loopback_port,
};
use faults::{ConnKill, FaultListener, FaultState, Faults, RedirectSink};
pub use key_scopes::{KeyScopes, KeyScopesError};
use oauth::{OAuth, OAuthConfig};
use state::Store;

/// A fixed port for a sandbox run on its own (`make-credentials-mcp sandbox` listens on it
/// unless `--port` says otherwise); in-process users leave [`SandboxOptions::port`] at 0.
pub const SUBCOMMAND_PORT: u16 = 3902;

/// Knobs for how the sandbox misbehaves. Defaults give a well-behaved Make.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Delay added before every API response (for timeout and progress testing); adds to
    /// the plan's latency.
    pub latency: Option<Duration>,
    /// Loopback port to listen on; 0 (the default) picks a free one.
    pub port: u16,
    /// Per-request fault probabilities for the API (not the consent page).
    pub faults: FaultPlan,
    /// The key's Make scopes; requests outside them get 403 `SC403`. Default: all.
    pub scopes: KeyScopes,
    /// The one registered OAuth client, as (client id, client secret). Default: id
    /// [`oauth::DEFAULT_CLIENT_ID`] and a random secret ([`Sandbox::oauth_client_secret`]).
    pub oauth_client: Option<(String, String)>,
    /// The client's redirect URIs, matched exactly. An authorize request with any other
    /// `redirect_uri` gets an error page, never a redirect; with none registered (the
    /// default) every authorize request does. Each must be an absolute URL.
    pub oauth_redirect_uris: Vec<String>,
    /// How long an access token lives. Default: 3600 s (Make's `expires_in`); short values
    /// let tests reach the refresh.
    pub oauth_access_token_lifetime: Option<Duration>,
    /// Enforce Make's request limit: at most this many API requests per organization in
    /// any 60 seconds, past it Make's 429 with `Retry-After`. Default: none.
    pub rate_limit: Option<u32>,
    /// Generated people for load tests, besides ada and grace: `person-1` to `person-N`
    /// (at most [`seed::CROWD_MAX`]), password `sandbox`, each alone in a team of their own
    /// (team `100000 + n`, organization 1). Default: none.
    pub crowd: u32,
}

/// A running sandbox. Dropping it stops the server task.
pub struct Sandbox {
    addr: SocketAddr,
    api_key: String,
    task: JoinHandle<()>,
    state: AppState,
}

/// Shared by every handler.
#[derive(Clone)]
struct AppState {
    store: Arc<Mutex<Store>>,
    api_key: Arc<str>,
    origin: Arc<str>,
    faults: Arc<Faults>,
    scopes: Arc<KeyScopes>,
    oauth: Arc<OAuth>,
    authorizations: Arc<AuthorizationLog>,
    rate_limit: Arc<rate_limit::RateLimit>,
}

impl AppState {
    /// Locks the store; a panic in another handler must not wedge the sandbox.
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn public_uri(&self, request_id: &str) -> String {
        format!("{}/credential-requests/{request_id}/authorize", self.origin)
    }
}

impl Sandbox {
    /// Binds 127.0.0.1 on a free port (never any other address), seeds data, serves in a tokio task.
    pub async fn start() -> std::io::Result<Sandbox> {
        Self::start_with(SandboxOptions::default()).await
    }

    /// Like [`Sandbox::start`], with options. An `oauth_redirect_uris` entry that is not an
    /// absolute URL is an `InvalidInput` error.
    pub async fn start_with(options: SandboxOptions) -> std::io::Result<Sandbox> {
        if let Some(bad) = options
            .oauth_redirect_uris
            .iter()
            .find(|u| url::Url::parse(u).is_err())
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the OAuth redirect URI '{bad}' is not an absolute URL"),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await?;
        let addr = listener.local_addr()?;
        let now = time::now();
        let mut store = Store::new(rand::random());
        seed::seed(&mut store, now);
        store.teams.extend(seed::crowd_teams(options.crowd));
        let api_key = store.uuid_v4();
        let faults = Faults {
            state: FaultState::new(options.faults, options.latency, rand::random()),
            sink: RedirectSink::start().await?,
        };
        let origin = format!("http://{addr}");
        let (client_id, client_secret) = options.oauth_client.unwrap_or_else(|| {
            let secret = format!("{:032x}", rand::random::<u128>());
            (oauth::DEFAULT_CLIENT_ID.to_owned(), secret)
        });
        let oauth = OAuth::new(OAuthConfig {
            issuer: origin.clone(),
            client_id,
            client_secret,
            redirect_uris: options.oauth_redirect_uris,
            access_lifetime: options
                .oauth_access_token_lifetime
                .unwrap_or(oauth::DEFAULT_ACCESS_TOKEN_LIFETIME),
            crowd: options.crowd.min(seed::CROWD_MAX),
        });
        let state = AppState {
            store: Arc::new(Mutex::new(store)),
            api_key: api_key.as_str().into(),
            origin: origin.into(),
            faults: Arc::new(faults),
            scopes: Arc::new(options.scopes),
            oauth: Arc::new(oauth),
            authorizations: Arc::default(),
            rate_limit: Arc::new(rate_limit::RateLimit::new(options.rate_limit)),
        };
        let app =
            router(state.clone(), addr.port()).into_make_service_with_connect_info::<ConnKill>();
        let listener = FaultListener(listener);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "sandbox server stopped");
            }
        });
        tracing::info!(%addr, "Make API sandbox listening");
        Ok(Sandbox {
            addr,
            api_key,
            task,
            state,
        })
    }

    /// e.g. "http://127.0.0.1:41234/api/v2" — the Make API base URL.
    pub fn api_base_url(&self) -> String {
        format!("{}/api/v2", self.origin())
    }

    /// The sandbox's own API token (UUIDv4-shaped, so clients send `Authorization: Token <key>`).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// e.g. "http://127.0.0.1:41234"
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `times` API requests, whatever their method and path, get `fault`.
    /// Scripted faults apply in the order they were added, before the plan's.
    pub fn inject(&self, fault: Fault, times: u32) {
        self.state.faults.state.script(fault, times, None);
    }

    /// The next `times` API requests with `method` whose path (relative to `/api/v2`) is
    /// `path_prefix` or lies below it get `fault`; other requests are not counted against
    /// `times`. E.g. `inject_on(Method::POST, "/connections", Fault::Drop, 1)`.
    pub fn inject_on(&self, method: Method, path_prefix: &str, fault: Fault, times: u32) {
        let prefix = faults::api_path(path_prefix).to_owned();
        self.state
            .faults
            .state
            .script(fault, times, Some((method, prefix)));
    }

    /// Scripted faults that have not met their request yet.
    pub fn faults_pending(&self) -> u32 {
        self.state.faults.state.pending()
    }

    /// Forgets the scripted faults not yet applied (the plan stays).
    pub fn clear_faults(&self) {
        self.state.faults.state.clear_script();
    }

    /// Replaces the probabilistic plan from now on.
    #[cfg(test)]
    pub(crate) fn set_fault_plan(&self, plan: FaultPlan) {
        self.state.faults.state.set_plan(plan);
    }

    /// The API requests received so far, per method and path, faulted ones included.
    pub fn requests_seen(&self) -> RequestsSeen {
        self.state.faults.state.seen()
    }

    /// Starts counting API requests from zero.
    pub fn reset_requests_seen(&self) {
        self.state.faults.state.reset_seen();
    }

    /// The OAuth issuer: the sandbox's origin, e.g. `http://127.0.0.1:41234` (no trailing
    /// slash); discovery is at `{issuer}/.well-known/openid-configuration`.
    pub fn oauth_issuer(&self) -> String {
        self.state.oauth.config.issuer.clone()
    }

    /// The registered OAuth client's id.
    pub fn oauth_client_id(&self) -> &str {
        &self.state.oauth.config.client_id
    }

    /// The registered OAuth client's secret (sent as `client_secret` in the form body).
    pub fn oauth_client_secret(&self) -> &str {
        &self.state.oauth.config.client_secret
    }

    /// Calls of the token endpoint with `grant_type=refresh_token`, refused ones included.
    pub fn oauth_refreshes(&self) -> usize {
        self.state.oauth.lock().refreshes
    }

    /// Calls of the token endpoint with `grant_type=authorization_code`, refused ones
    /// included.
    pub fn oauth_code_exchanges(&self) -> usize {
        self.state.oauth.lock().code_exchanges
    }

    /// The raw `Authorization` header values the API (`/api/v2`, not the OAuth endpoints)
    /// received, in order; requests without one add nothing. Faulted requests count, so a
    /// test can prove which tokens ever reached "Make".
    pub fn authorizations_seen(&self) -> Vec<String> {
        self.state.authorizations.values()
    }

    /// The 429s answered because an organization exceeded [`SandboxOptions::rate_limit`].
    pub fn rate_limited(&self) -> u64 {
        self.state.rate_limit.refused()
    }

    /// How often a client followed a [`Fault::Redirect`] (and with which headers).
    pub fn redirect_hits(&self) -> RedirectHits {
        self.state.faults.sink.hits()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Sandbox {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Outside in: the loopback guard for everything; then for `/api/v2` the authorization
/// log, fault injection (so
/// faults come before, and regardless of, the token check, as at a gateway), the token,
/// the organization's request limit (when enforced), and the token's scopes.
fn router(state: AppState, port: u16) -> Router {
    let api = Router::new()
        .merge(auth::routes())
        .merge(connections::routes())
        .merge(keys::routes())
        .merge(credential_requests::routes())
        .merge(organizations::routes())
        .fallback(errors::api_not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            key_scopes::require_scope,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::enforce,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn_with_state(
            state.faults.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::log_authorization,
        ));
    Router::new()
        .nest("/api/v2", api)
        .merge(consent::routes())
        .merge(oauth::routes())
        .layer(middleware::from_fn_with_state(
            port,
            guard::require_loopback,
        ))
        .with_state(state)
}
