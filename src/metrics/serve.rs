//! `GET /metrics`: the registry in the Prometheus text format, either on a listener of its
//! own (`--metrics-listen`, no auth: bind it where only the scraper reaches it) or on the
//! MCP listener behind a bearer token of its own (`MCP_METRICS_TOKEN`), never the MCP
//! token: a scraper's credential must not open `/mcp`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

use super::Metrics;
use crate::transport::http::BearerToken;
use crate::transport::http::security::check_bearer;

/// Where `/metrics` is served.
#[derive(Debug, Clone)]
pub enum MetricsExposure {
    /// On a listener of its own, which serves nothing else.
    Listen(SocketAddr),
    /// On the MCP listener, to requests that carry this bearer token.
    Token(BearerToken),
}

/// The router of the metrics listener: `GET /metrics` and nothing else.
pub(crate) fn own_listener(metrics: Metrics) -> Router {
    Router::new().route("/metrics", get(scrape).with_state(metrics))
}

/// `GET /metrics` for the MCP listener, behind `token`.
pub(crate) fn behind_token(metrics: Metrics, token: BearerToken) -> Router {
    Router::new().route(
        "/metrics",
        get(scrape_with_token).with_state((metrics, token)),
    )
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode()).into_response()
}

async fn scrape_with_token(
    State((metrics, token)): State<(Metrics, BearerToken)>,
    mut request: Request,
) -> Response {
    if let Err(refused) = check_bearer(&token, "MCP_METRICS_TOKEN", &mut request) {
        return refused;
    }
    scrape(State(metrics)).await
}
