//! `/mcp`: the checks every MCP request passes, in order, then rmcp.
//!
//! one `Host` header (400) → drain (503 while shutting down; a POST counts as in flight
//! until its answer is sent) → bearer token (401), or without one, no proxy headers (403)
//! → body peek (413/408, and the labels for the log line) → in `--sessions` mode, a slot
//! for a new session (503 with `Retry-After` past `--max-sessions`) → rmcp.
//!
//! One service rather than a middleware layer per check: each axum layer clones the service
//! below it and boxes a future for every request, and rmcp's own `Service::call` clones its
//! whole configuration; here a request costs one reference count.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use rmcp::transport::streamable_http_server::StreamableHttpService;

use super::log::{self, BodyLimits, Peeked};
use super::security::{self, BearerToken};
use super::sessions::{self, CappedSessions, SessionSlots};
use super::shutdown::{self, Drain};
use crate::server::MakeServer;

const MCP_SESSION_ID: &str = "mcp-session-id";

type RmcpService = StreamableHttpService<MakeServer, CappedSessions>;

/// Everything `/mcp` needs, shared by all requests.
pub(crate) struct Gate {
    pub(crate) rmcp: RmcpService,
    pub(crate) drain: Drain,
    /// `None`: auth is off (loopback only, checked at start-up).
    pub(crate) token: Option<BearerToken>,
    pub(crate) limits: BodyLimits,
    /// The session cap, in `--sessions` mode.
    pub(crate) sessions: Option<Arc<SessionSlots>>,
}

impl Gate {
    async fn handle(&self, mut request: Request) -> Response {
        if let Err(refused) = security::check_single_host(&request) {
            return refused;
        }
        let call_token = match self.drain.admit(request.method()) {
            Ok(token) => token,
            Err(refused) => return refused,
        };
        let allowed = match &self.token {
            Some(token) => security::check_bearer(token, &mut request),
            None => security::check_not_proxied(&request),
        };
        if let Err(refused) = allowed {
            return refused;
        }
        let peeked = match log::peek(self.limits, request).await {
            Ok(peeked) => peeked,
            Err(refused) => return refused,
        };
        let reservation = match (&self.sessions, &peeked) {
            (Some(slots), Peeked::Read(parts, body))
                if sessions::creates_session(parts.headers.contains_key(MCP_SESSION_ID), body) =>
            {
                match slots.reserve() {
                    Ok(reservation) => Some(reservation),
                    Err(refused) => return refused,
                }
            }
            _ => None,
        };
        let handled = self.rmcp.handle(peeked.into_request());
        let response = match reservation {
            Some(reservation) => sessions::with_reservation(reservation, handled).await,
            None => handled.await,
        }
        .map(Body::new);
        shutdown::tracked(response, call_token)
    }
}

/// The [`Gate`] as the `/mcp` route's service.
#[derive(Clone)]
pub(crate) struct McpService(pub(crate) Arc<Gate>);

impl tower_service::Service<Request> for McpService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send + 'static>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let gate = self.0.clone();
        Box::pin(async move { Ok(gate.handle(request).await) })
    }
}
