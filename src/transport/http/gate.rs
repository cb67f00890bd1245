//! `/mcp`: the checks every MCP request passes, in order, then rmcp.
//!
//! one `Host` header (400) → drain (503 while shutting down; a POST counts as in flight
//! until its answer is sent) → bearer token (401), or without one, no proxy headers (403)
//! → body peek (413/408, and the labels for the log line) → in `--sessions` mode, a slot
//! for a new session (503 with `Retry-After` past `--max-sessions`) → rmcp. In `--sessions`
//! mode the SSE streams of calls are watched, so that a call whose client has gone is
//! cancelled ([`gone`]).
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
use axum::http::Method;
use axum::response::Response;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::SessionId;

use super::gone::{self, Calls};
use super::log::{self, BodyLimits, Peeked};
use super::security::{self, BearerToken};
use super::sessions::{self, CappedSessions, SessionSlots};
use super::shutdown::{self, Drain};
use crate::auth::AuthServer;
use crate::server::MakeServer;

const MCP_SESSION_ID: &str = "mcp-session-id";

type RmcpService = StreamableHttpService<MakeServer, CappedSessions>;

/// Everything `/mcp` needs, shared by all requests.
pub(crate) struct Gate {
    pub(crate) rmcp: RmcpService,
    pub(crate) drain: Drain,
    /// Who may call: anyone on loopback, holders of the static token, or people signed in.
    pub(crate) access: Access,
    pub(crate) limits: BodyLimits,
    /// The session cap, in `--sessions` mode.
    pub(crate) sessions: Option<Arc<SessionSlots>>,
    /// The calls whose client may go away, in `--sessions` mode.
    pub(crate) calls: Option<Arc<Calls>>,
}

/// How `/mcp` authenticates requests.
pub(crate) enum Access {
    /// No auth: loopback only, checked at start-up; requests through a proxy are refused.
    Open,
    /// One static bearer token (`--auth token`).
    Token(BearerToken),
    /// Team mode: this server's OAuth tokens, each for one person ([`crate::auth`]).
    OAuth(AuthServer),
}

/// What becomes of a session request's response, in `--sessions` mode.
enum Watch {
    /// A POSTed request: its SSE stream.
    Call(SessionId, serde_json::Value),
    /// A GET resuming a stream (`Last-Event-ID`).
    Resume(SessionId, String),
    /// A DELETE: the session's calls are cancelled before it ends.
    End(SessionId),
    None,
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
        let allowed = match &self.access {
            Access::Token(token) => security::check_bearer(token, "MCP_AUTH_TOKEN", &mut request),
            Access::Open => security::check_not_proxied(&request),
            Access::OAuth(auth) => auth.admit(&mut request).await,
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
        let watch = self.watch(&peeked);
        if let (Some(calls), Watch::End(session)) = (&self.calls, &watch) {
            calls.cancel_session(session).await;
        }
        let handled = self.rmcp.handle(peeked.into_request());
        let response = match reservation {
            Some(reservation) => sessions::with_reservation(reservation, handled).await,
            None => handled.await,
        }
        .map(Body::new);
        let response = match (&self.calls, watch) {
            (Some(calls), Watch::Call(session, id)) => calls.watch_post(session, id, response),
            (Some(calls), Watch::Resume(session, last)) => {
                calls.watch_resumed(session, &last, response)
            }
            _ => response,
        };
        shutdown::tracked(response, call_token)
    }

    /// In `--sessions` mode, which response to watch for its client going away.
    fn watch(&self, peeked: &Peeked) -> Watch {
        if self.calls.is_none() {
            return Watch::None;
        }
        let (method, headers, body) = match peeked {
            Peeked::Read(parts, body) => (&parts.method, &parts.headers, Some(body)),
            Peeked::Untouched(request) => (request.method(), request.headers(), None),
        };
        let Some(session) = headers
            .get(MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(SessionId::from)
        else {
            return Watch::None;
        };
        match *method {
            Method::POST => match body.and_then(|body| gone::request_id(body)) {
                Some(id) => Watch::Call(session, id),
                None => Watch::None,
            },
            Method::GET => match gone::last_event_id(headers) {
                Some(last) => Watch::Resume(session, last.to_owned()),
                None => Watch::None,
            },
            Method::DELETE => Watch::End(session),
            _ => Watch::None,
        }
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
