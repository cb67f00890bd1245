//! MCP over Streamable HTTP at `/mcp`, plus `GET /healthz`.
//!
//! Default: stateless JSON responses, so any replica behind a load balancer can answer any
//! request (2025-11-25 clients without sessions, and 2026-07-28 clients, which are always
//! stateless). `sessions: true` turns on legacy `Mcp-Session-Id` sessions with SSE, for
//! 2025-11-25 clients that need server-to-client requests; those pin a client to one replica.
//!
//! Layers, outside in: request log → (`/mcp` only) drain/503 → bearer auth → body peek and
//! size cap → rmcp (`Host`/`Origin` checks, protocol). See [`security`] for the rules.

pub mod log;
pub mod security;
pub mod shutdown;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::MakeServer;
pub use security::{BearerToken, SecurityError};
use shutdown::Drain;

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3901";
/// Default cap on a POST body (rmcp's default too).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

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
    /// `None` turns auth off, which is only allowed on loopback.
    pub auth_token: Option<BearerToken>,
    pub max_body_bytes: usize,
    /// How long shutdown waits for in-flight calls.
    pub shutdown_grace: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            sessions: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            auth_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: Duration::from_secs(10),
        }
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

/// Checks the options, binds `options.listen` and serves until SIGINT/SIGTERM.
pub async fn serve(server: MakeServer, options: HttpOptions) -> Result<(), HttpError> {
    security::check_bind(options.listen, options.auth_token.as_ref())?;
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| HttpError::Bind {
            addr: options.listen,
            source,
        })?;
    serve_on(listener, server, options, shutdown::signal()).await
}

/// Serves on an already bound listener until `stop` resolves, then shuts down gracefully.
/// (`options.listen` is replaced by the listener's address.) Tests use this with port 0.
pub async fn serve_on(
    listener: TcpListener,
    server: MakeServer,
    mut options: HttpOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    options.listen = listener.local_addr().map_err(HttpError::Serve)?;
    security::check_bind(options.listen, options.auth_token.as_ref())?;
    let rmcp_token = CancellationToken::new();
    let drain = Drain::default();
    let app = app(server, &options, rmcp_token.clone(), drain.clone());
    tracing::info!(
        listen = %options.listen,
        url = %format!("http://{}/mcp", options.listen),
        mode = if options.sessions { "sessions (SSE)" } else { "stateless (JSON)" },
        auth = options.auth_token.is_some(),
        "serving MCP over HTTP"
    );

    let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut serving = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = accepting_stopped.await;
            })
            .into_future(),
    );
    tokio::select! {
        result = &mut serving => return join_result(result),
        () = stop => {}
    }
    tracing::info!(
        in_flight = drain.in_flight(),
        "shutting down: refusing new requests, letting in-flight calls finish"
    );
    drain.start();
    let _ = stop_accepting.send(());
    if !drain.wait_idle(options.shutdown_grace).await {
        tracing::warn!(
            in_flight = drain.in_flight(),
            "grace period over; closing the remaining calls"
        );
    }
    rmcp_token.cancel();
    match tokio::time::timeout(Duration::from_secs(5), &mut serving).await {
        Ok(result) => join_result(result)?,
        Err(_) => {
            serving.abort();
            tracing::warn!("connections still open after shutdown; dropped them");
        }
    }
    tracing::info!("HTTP server stopped");
    Ok(())
}

fn join_result(
    result: Result<std::io::Result<()>, tokio::task::JoinError>,
) -> Result<(), HttpError> {
    match result {
        Ok(r) => r.map_err(HttpError::Serve),
        Err(e) => Err(HttpError::Serve(std::io::Error::other(e))),
    }
}

/// The rmcp service settings that follow from `options`.
pub fn rmcp_config(options: &HttpOptions, token: CancellationToken) -> StreamableHttpServerConfig {
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
pub fn app(
    server: MakeServer,
    options: &HttpOptions,
    rmcp_token: CancellationToken,
    drain: Drain,
) -> Router {
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        rmcp_config(options, rmcp_token),
    );
    let mut mcp_routes = Router::new()
        .route_service("/mcp", mcp)
        .layer(from_fn_with_state(options.max_body_bytes, log::peek_mcp));
    if let Some(token) = &options.auth_token {
        mcp_routes = mcp_routes.layer(from_fn_with_state(token.clone(), security::require_bearer));
    }
    let mcp_routes = mcp_routes.layer(from_fn_with_state(drain.clone(), shutdown::track));
    Router::new()
        .route("/healthz", get(healthz).with_state(drain))
        .merge(mcp_routes)
        .layer(from_fn(log::log_requests))
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
