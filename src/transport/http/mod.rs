//! MCP over Streamable HTTP at `/mcp`, plus `GET /healthz`, and `GET /metrics` when asked
//! for (on its own listener, or here behind its own token: [`crate::metrics::serve`]).
//!
//! Default: stateless JSON responses, so any replica behind a load balancer can answer any
//! request (2025-11-25 clients without sessions, and 2026-07-28 clients, which are always
//! stateless). `sessions: true` turns on legacy `Mcp-Session-Id` sessions with SSE, for
//! 2025-11-25 clients that need server-to-client requests; those pin a client to one replica.
//!
//! Connections are accepted by [`conn`] (connection caps, overall and per client address,
//! with room made by closing idle ones; idle and header deadlines). Every
//! request is logged ([`log`]); `/mcp` then passes [`gate`]: one `Host` header/400 →
//! drain/503 → bearer auth → body peek (size cap, read deadline) → session cap
//! ([`sessions`], `--sessions` only) → rmcp's
//! `StreamableHttpService` (`Host`/`Origin` checks, protocol, dispatch). See [`security`]
//! for the rules. In `--sessions` mode a call whose client has gone is cancelled ([`gone`]).

pub(crate) mod conn;
pub(crate) mod fd_limit;
mod gate;
mod gone;
mod guarded;
pub(crate) mod log;
pub(crate) mod refusal;
pub mod security;
pub(crate) mod sessions;
pub(crate) mod shutdown;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::from_fn;
use axum::response::IntoResponse;
use axum::routing::get;
use conn::{ConnLimits, Connections};
use gate::{Gate, McpService};
use gone::Calls;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sessions::{CappedSessions, SessionSlots};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::AuthServer;
use crate::metrics::serve as metrics_http;
pub use crate::metrics::serve::MetricsExposure;
use crate::server::MakeServer;
pub use security::{BearerToken, SecurityError};
use shutdown::Drain;

/// Default port of the HTTP transport.
pub(crate) const DEFAULT_PORT: u16 = 3901;
/// Default listen address: loopback only.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, DEFAULT_PORT));
/// Default cap on a POST body (rmcp's default too).
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default cap on open connections: far more than a team's clients need, far fewer than the
/// usual open-file limit.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default cap on connections from one client address: half the default cap, so one client
/// busy with requests cannot hold every slot. Behind a reverse proxy every connection comes
/// from the proxy: raise it to `--max-connections` there.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 128;
/// Default cap on live sessions in `--sessions` mode: far more than a team's clients keep
/// open, few enough that their memory stays bounded (tens of kilobytes each).
pub(crate) const DEFAULT_MAX_SESSIONS: usize = 1000;
/// Default time a client has to send a request's headers once it started: long enough for
/// slow networks, short enough that stalled requests cannot pile up.
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a connection may stay open with no request: enough for a client to reuse
/// it for its next call. Idle connections also make room for new ones at the cap.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a client has to send a whole request body (at most the body cap, 4 MiB).
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time shutdown waits for in-flight calls.
pub(crate) const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The metrics listener's connection limits: a scraper or two, answered in milliseconds.
const METRICS_CONN_LIMITS: ConnLimits = ConnLimits {
    max_connections: 16,
    max_per_client: 16,
    idle_timeout: DEFAULT_IDLE_TIMEOUT,
    header_timeout: DEFAULT_HEADER_TIMEOUT,
};
/// After the grace, how long the calls that were cut get to send their answer.
const CUT_ANSWER_TIME: Duration = Duration::from_secs(2);
/// At the end of shutdown, how long connections get to close before they are dropped.
const CLOSE_TIME: Duration = Duration::from_secs(5);

/// How the HTTP transport runs.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    /// Legacy sessions (SSE) instead of stateless JSON.
    pub sessions: bool,
    /// Extra `Host` names (a reverse proxy's public name), on top of loopback.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins, on top of loopback pages.
    pub allowed_origins: Vec<String>,
    /// `None` turns auth off, which is only allowed on loopback (unless `oauth` is set).
    pub auth_token: Option<BearerToken>,
    /// Team mode (`--auth oauth`): each person signs in with Make; replaces `auth_token`.
    pub oauth: Option<AuthServer>,
    pub max_body_bytes: usize,
    /// How long shutdown waits for in-flight calls.
    pub shutdown_grace: Duration,
    /// Most connections open at once; at the cap the longest-idle one makes room.
    pub max_connections: usize,
    /// Most connections open from one client address.
    pub max_connections_per_client: usize,
    /// Most live sessions in `--sessions` mode; a new one past it gets 503.
    pub max_sessions: usize,
    /// Time to send a request's headers, from its first byte.
    pub header_timeout: Duration,
    /// How long a connection lives with no request.
    pub idle_timeout: Duration,
    /// Time to send a request body (408 after it).
    pub body_timeout: Duration,
    /// Where `GET /metrics` is served; `None`: nowhere.
    pub metrics: Option<MetricsExposure>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            sessions: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            auth_token: None,
            oauth: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            metrics: None,
        }
    }
}

impl HttpOptions {
    /// Refuses settings that expose the server without a token
    /// ([`security::check_options`]); what passes is ready for [`serve`].
    pub(crate) fn check(self) -> Result<CheckedOptions, SecurityError> {
        security::check_options(&self)?;
        Ok(CheckedOptions(self))
    }
}

/// [`HttpOptions`] that passed [`HttpOptions::check`], so serving them checks nothing again.
#[derive(Debug, Clone)]
pub struct CheckedOptions(HttpOptions);

impl CheckedOptions {
    /// The options.
    pub fn options(&self) -> &HttpOptions {
        &self.0
    }

    /// The same options in team mode: people sign in through `auth`, which replaces any
    /// static token (and needs none of its exposure checks).
    pub fn with_oauth(self, auth: AuthServer) -> Self {
        Self(HttpOptions {
            auth_token: None,
            oauth: Some(auth),
            ..self.0
        })
    }
}

/// Why the HTTP server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Security(#[from] SecurityError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Raises the open-file limit, binds `options.listen` and serves until SIGINT/SIGTERM.
pub async fn serve(server: MakeServer, options: CheckedOptions) -> Result<(), HttpError> {
    let CheckedOptions(mut options) = options;
    let open_files = fd_limit::raise();
    let cap = fd_limit::connection_cap(options.max_connections, open_files);
    if cap < options.max_connections {
        tracing::warn!(
            open_files,
            requested = options.max_connections,
            max_connections = cap,
            "the open-file limit leaves room for fewer connections; lowering --max-connections"
        );
        options.max_connections = cap;
    }
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| HttpError::Bind {
            addr: options.listen,
            source,
        })?;
    // Port 0 becomes the port actually bound; the address checked stays the same.
    options.listen = listener.local_addr().map_err(HttpError::Serve)?;
    let metrics_listener = bind_metrics(&options).await?;
    run(
        listener,
        metrics_listener,
        server,
        CheckedOptions(options),
        shutdown::signal(),
    )
    .await
}

/// The metrics listener, when `options` ask for one.
async fn bind_metrics(options: &HttpOptions) -> Result<Option<TcpListener>, HttpError> {
    let Some(MetricsExposure::Listen(addr)) = options.metrics else {
        return Ok(None);
    };
    TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|source| HttpError::Bind { addr, source })
}

/// Checks `options` and serves on an already bound listener until `stop` resolves, then
/// shuts down gracefully. (`options.listen` is replaced by the listener's address before
/// the check.) Tests use this with port 0.
pub async fn serve_on(
    listener: TcpListener,
    server: MakeServer,
    mut options: HttpOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    options.listen = listener.local_addr().map_err(HttpError::Serve)?;
    let options = options.check()?;
    let metrics_listener = bind_metrics(options.options()).await?;
    run(listener, metrics_listener, server, options, stop).await
}

/// [`serve_on`] with `GET /metrics` on `metrics_listener`, already bound (tests bind port
/// 0 and read the port); `options.metrics` is replaced by its address.
pub async fn serve_on_with_metrics(
    listener: TcpListener,
    metrics_listener: TcpListener,
    server: MakeServer,
    mut options: HttpOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    options.listen = listener.local_addr().map_err(HttpError::Serve)?;
    options.metrics = Some(MetricsExposure::Listen(
        metrics_listener.local_addr().map_err(HttpError::Serve)?,
    ));
    run(
        listener,
        Some(metrics_listener),
        server,
        options.check()?,
        stop,
    )
    .await
}

/// Serves checked options on `listener`, whose address `options.listen` holds, until
/// `stop` resolves, then shuts down gracefully.
async fn run(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    server: MakeServer,
    options: CheckedOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let CheckedOptions(options) = options;
    let rmcp_token = CancellationToken::new();
    let drain = Drain::default();
    let app = app(server.clone(), &options, rmcp_token.clone(), drain.clone());
    tracing::info!(
        listen = %options.listen,
        url = %format!("http://{}/mcp", options.listen),
        mode = if options.sessions { "sessions (SSE)" } else { "stateless (JSON)" },
        auth = if options.oauth.is_some() { "oauth" } else if options.auth_token.is_some() { "token" } else { "none" },
        max_connections = options.max_connections,
        max_connections_per_client = options.max_connections_per_client.min(options.max_connections),
        max_sessions = options.sessions.then_some(options.max_sessions),
        "serving MCP over HTTP"
    );
    let mut connections = Connections::start(
        listener,
        app,
        ConnLimits {
            max_connections: options.max_connections,
            max_per_client: options.max_connections_per_client,
            idle_timeout: options.idle_timeout,
            header_timeout: options.header_timeout,
        },
        Some(server.metrics().clone()),
    );
    let mut metrics_connections = match metrics_listener {
        Some(listener) => {
            tracing::info!(
                url = %format!("http://{}/metrics", listener.local_addr().map_err(HttpError::Serve)?),
                "serving metrics"
            );
            Some(Connections::start(
                listener,
                metrics_http::own_listener(server.metrics().clone())
                    .layer(from_fn(log::log_requests)),
                METRICS_CONN_LIMITS,
                None,
            ))
        }
        None => None,
    };
    stop.await;
    if let Some(metrics) = metrics_connections.as_mut() {
        metrics.close_gracefully().await;
    }

    tracing::info!(
        in_flight = drain.in_flight(),
        "shutting down: refusing new requests, letting in-flight calls finish"
    );
    drain.start();
    connections.close_gracefully().await;
    if !drain.wait_idle(options.shutdown_grace).await {
        tracing::warn!(
            in_flight = drain.in_flight(),
            "grace period over; ending the remaining calls with a shutting-down error"
        );
        server.cut_calls();
        drain.wait_idle(CUT_ANSWER_TIME).await;
    }
    rmcp_token.cancel();
    if !connections.wait_closed(CLOSE_TIME).await {
        tracing::warn!("connections still open after shutdown; dropped them");
    }
    if let Some(metrics) = metrics_connections {
        metrics.wait_closed(CLOSE_TIME).await;
    }
    tracing::info!("HTTP server stopped");
    Ok(())
}

/// The rmcp service settings that follow from `options`.
pub(crate) fn rmcp_config(
    options: &HttpOptions,
    token: CancellationToken,
) -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        .with_legacy_session_mode(options.sessions)
        .with_json_response(!options.sessions)
        .with_allowed_hosts(security::allowed_hosts(
            options.listen,
            &options.allowed_hosts,
        ))
        .with_allowed_origins(security::allowed_origins(&options.allowed_origins))
        .enforce_origin_validation()
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(token)
}

/// The whole HTTP application: `/mcp` behind its layers, and `/healthz`.
///
/// The factory clones the one prebuilt `MakeServer` (an `Arc`): stateless mode calls it
/// once per request, so it must not rebuild the tool registry.
pub(crate) fn app(
    server: MakeServer,
    options: &HttpOptions,
    rmcp_token: CancellationToken,
    drain: Drain,
) -> Router {
    let config = rmcp_config(options, rmcp_token);
    let metrics = server.metrics().clone();
    let slots = SessionSlots::new(options.max_sessions, metrics.clone());
    let manager = Arc::new(CappedSessions::new(slots.clone()));
    let gate = Gate {
        rmcp: StreamableHttpService::new(move || Ok(server.clone()), manager.clone(), config),
        sessions: options.sessions.then_some(slots),
        calls: options.sessions.then(|| Calls::new(manager)),
        drain: drain.clone(),
        access: match (&options.oauth, &options.auth_token) {
            (Some(oauth), _) => gate::Access::OAuth(oauth.clone()),
            (None, Some(token)) => gate::Access::Token(token.clone()),
            (None, None) => gate::Access::Open,
        },
        limits: log::BodyLimits {
            max_bytes: options.max_body_bytes,
            timeout: options.body_timeout,
        },
    };
    let mut router = Router::new()
        .route("/healthz", get(healthz).with_state(drain))
        .route_service("/mcp", McpService(Arc::new(gate)));
    if let Some(oauth) = &options.oauth {
        router = router.merge(oauth.routes());
    }
    if let Some(MetricsExposure::Token(token)) = &options.metrics {
        router = router.merge(metrics_http::behind_token(metrics, token.clone()));
    }
    router.layer(from_fn(log::log_requests))
}

/// Liveness/readiness without auth: no secrets, no Make call (a Make outage should not
/// take replicas out of rotation). 503 while draining so load balancers move on.
async fn healthz(State(drain): State<Drain>) -> impl IntoResponse {
    let version = env!("CARGO_PKG_VERSION");
    if drain.is_draining() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "draining", "version": version})),
        )
    } else {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready", "version": version})),
        )
    }
}
