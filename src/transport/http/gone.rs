//! In `--sessions` mode, a call whose client has gone is cancelled.
//!
//! A session's calls run in the session's rmcp service, not in the HTTP request that
//! carried them: when the connection of a call's SSE stream closes, rmcp drops the stream
//! and the call runs on (a wait keeps polling Make for up to its whole timeout). Stateless
//! calls have no such problem: they run inside their request and end with it.
//!
//! So the gate wraps the SSE stream of every POSTed request ([`Calls::watch_post`]). When
//! the stream is dropped before it ended (the client closed the connection, or it broke),
//! the call is cancelled as if the client had sent `notifications/cancelled`: rmcp then
//! cancels the call's token, which ends the tool call (see `MakeServer::call_tool`).
//!
//! rmcp lets a client resume a dropped stream: every event carries an id
//! (`<index>/<stream>`), the first one a `retry` of 3 s, and a `GET` with `Last-Event-ID`
//! picks the stream up again. A dropped stream therefore has [`RESUME_GRACE`] to be
//! resumed before its call is cancelled; a resumed stream is watched like the first one.
//! A stream dropped before its first event was sent cannot be resumed (the client never
//! learned its id): its call is cancelled at once.
//!
//! Ending the session (`DELETE`) cancels its calls before rmcp closes it. Without that
//! rmcp would let them run for a few more seconds, waiting for answers nobody can receive.
//! A session that ends any other way (rmcp's idle expiry, shutdown) stops its calls after
//! rmcp's own wait (5 s).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use http_body::{Frame, SizeHint};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_server::session::{SessionId, SessionManager};
use tokio::task::AbortHandle;

use super::sessions::CappedSessions;

/// How long a dropped call stream may take to be resumed before its call is cancelled:
/// rmcp's SSE `retry` (3 s) plus room for the reconnection itself.
pub(crate) const RESUME_GRACE: Duration = Duration::from_secs(5);

/// The longest first event looked at for the stream id (rmcp's priming event is about 30
/// bytes).
const MAX_HEAD: usize = 1024;

/// What the cancellation says (rmcp logs it).
const REASON: &str = "the client went away";

/// The calls of all sessions whose SSE stream is open, or was dropped and may be resumed.
pub(crate) struct Calls {
    manager: Arc<CappedSessions>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By session, then by stream id.
    calls: HashMap<SessionId, HashMap<String, Call>>,
    /// Tells the streams of one call apart, so that an old stream ending after its call
    /// was resumed elsewhere leaves the call alone.
    next_watch: u64,
}

struct Call {
    /// The JSON-RPC id of the request, as the client sent it.
    request_id: serde_json::Value,
    /// The stream watching it now.
    watch: u64,
    /// Set while no stream is open: the timer that cancels the call.
    grace: Option<AbortHandle>,
}

impl Calls {
    pub(crate) fn new(manager: Arc<CappedSessions>) -> Arc<Self> {
        Arc::new(Self {
            manager,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The map stays usable whatever panicked while holding the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches the SSE response of a request POSTed in `session`; other responses (JSON,
    /// errors) pass as they are.
    pub(crate) fn watch_post(
        self: &Arc<Self>,
        session: SessionId,
        request_id: serde_json::Value,
        response: Response,
    ) -> Response {
        if !is_event_stream(&response) {
            return response;
        }
        let watch = Watch {
            calls: self.clone(),
            session,
            request_id,
            stream: None,
            watch: 0,
            head: Vec::new(),
            ended: false,
            sent: false,
        };
        watched(response, watch)
    }

    /// Watches the stream of a `GET` that resumes a call's stream (`Last-Event-ID`), and
    /// stops the call's grace timer. Streams of no known call pass as they are.
    pub(crate) fn watch_resumed(
        self: &Arc<Self>,
        session: SessionId,
        last_event_id: &str,
        response: Response,
    ) -> Response {
        let Some(stream) = stream_of(last_event_id) else {
            return response;
        };
        if !is_event_stream(&response) {
            return response;
        }
        let mut state = self.lock();
        state.next_watch += 1;
        let watch = state.next_watch;
        let Some(call) = state
            .calls
            .get_mut(&session)
            .and_then(|calls| calls.get_mut(stream))
        else {
            return response;
        };
        if let Some(grace) = call.grace.take() {
            grace.abort();
        }
        call.watch = watch;
        let request_id = call.request_id.clone();
        drop(state);
        let watch = Watch {
            calls: self.clone(),
            session,
            request_id,
            stream: Some(stream.to_owned()),
            watch,
            head: Vec::new(),
            ended: false,
            sent: false,
        };
        watched(response, watch)
    }

    /// Cancels every watched call of `session` (which is about to end).
    pub(crate) async fn cancel_session(&self, session: &SessionId) {
        let calls = self.lock().calls.remove(session).unwrap_or_default();
        for call in calls.into_values() {
            if let Some(grace) = call.grace {
                grace.abort();
            }
            self.cancel(session, call.request_id).await;
        }
    }

    /// Registers the call of a stream whose id is now known.
    fn attach(&self, session: &SessionId, stream: &str, request_id: &serde_json::Value) -> u64 {
        let mut state = self.lock();
        state.next_watch += 1;
        let watch = state.next_watch;
        state.calls.entry(session.clone()).or_default().insert(
            stream.to_owned(),
            Call {
                request_id: request_id.clone(),
                watch,
                grace: None,
            },
        );
        watch
    }

    /// The stream `watch` of a call ended: the call answered, or rmcp closed the stream
    /// (the session ended, the call was cancelled, the stream was resumed elsewhere and
    /// `watch` is no longer the call's).
    fn ended(&self, session: &SessionId, stream: &str, watch: u64) {
        let mut state = self.lock();
        let Some(calls) = state.calls.get_mut(session) else {
            return;
        };
        if calls.get(stream).is_some_and(|call| call.watch == watch) {
            calls.remove(stream);
            if calls.is_empty() {
                state.calls.remove(session);
            }
        }
    }

    /// The stream `watch` of a call was dropped unfinished: the call gets
    /// [`RESUME_GRACE`] to be resumed, then is cancelled.
    fn dropped(self: &Arc<Self>, session: SessionId, stream: String, watch: u64) {
        let mut state = self.lock();
        let Some(call) = state
            .calls
            .get_mut(&session)
            .and_then(|calls| calls.get_mut(&stream))
            .filter(|call| call.watch == watch)
        else {
            return;
        };
        let calls = self.clone();
        call.grace = spawn(async move {
            tokio::time::sleep(RESUME_GRACE).await;
            calls.grace_over(session, stream, watch).await;
        });
    }

    async fn grace_over(&self, session: SessionId, stream: String, watch: u64) {
        let request_id = {
            let mut state = self.lock();
            let Some(calls) = state.calls.get_mut(&session) else {
                return;
            };
            if calls.get(&stream).is_none_or(|call| call.watch != watch) {
                return;
            }
            let Some(call) = calls.remove(&stream) else {
                return;
            };
            if calls.is_empty() {
                state.calls.remove(&session);
            }
            call.request_id
        };
        self.cancel(&session, request_id).await;
    }

    /// Tells the session that the client cancelled `request_id`.
    async fn cancel(&self, session: &SessionId, request_id: serde_json::Value) {
        let message = serde_json::json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": REASON},
        });
        let message: ClientJsonRpcMessage = match serde_json::from_value(message) {
            Ok(message) => message,
            // The id came from a request rmcp accepted, so it always makes a valid
            // notification; should it not, the call ends with its session.
            Err(error) => {
                tracing::warn!(%error, "could not cancel a call whose client went away");
                return;
            }
        };
        match self.manager.accept_message(session, message).await {
            Ok(()) => tracing::info!("cancelled a call whose client went away"),
            // The session has ended already, and its calls with it.
            Err(error) => tracing::debug!(%error, "no session to cancel a call in"),
        }
    }
}

/// The stream id in an SSE event id `<index>/<stream>`; `None` for the session's own
/// stream (`<index>` alone).
fn stream_of(event_id: &str) -> Option<&str> {
    let (_, stream) = event_id.trim().split_once('/')?;
    (!stream.is_empty()).then_some(stream)
}

/// Spawns `task` on the runtime, if there still is one (a body can be dropped while the
/// runtime shuts down, and then every call ends anyway).
fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Option<AbortHandle> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    Some(runtime.spawn(task).abort_handle())
}

fn is_event_stream(response: &Response) -> bool {
    response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
}

fn watched(response: Response, watch: Watch) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::new(Watched { body, watch }))
}

/// The id of the request in a POST body, when it is a single JSON-RPC request (not a
/// notification or a response).
pub(crate) fn request_id(body: &[u8]) -> Option<serde_json::Value> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        id: Option<serde_json::Value>,
        method: Option<serde::de::IgnoredAny>,
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    envelope.method?;
    envelope.id.filter(|id| id.is_string() || id.is_number())
}

/// The `Last-Event-ID` of a request, if any.
pub(crate) fn last_event_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("last-event-id")?.to_str().ok()
}

/// The watch on one SSE stream of a call.
struct Watch {
    calls: Arc<Calls>,
    session: SessionId,
    request_id: serde_json::Value,
    /// The stream id, once read from the first event (known from the start for a resumed
    /// stream).
    stream: Option<String>,
    /// This stream's number in [`Call::watch`], once attached.
    watch: u64,
    /// The start of the body, until the stream id is found in it.
    head: Vec<u8>,
    /// The stream ended after sending something. (rmcp answers a resume it cannot serve
    /// with a stream that ends at once, empty: that does not end the call's watch.)
    ended: bool,
    /// Something was sent.
    sent: bool,
}

impl Watch {
    /// Looks for the stream id in the first event.
    fn read(&mut self, data: &[u8]) {
        if self.stream.is_some() || self.head.len() >= MAX_HEAD {
            return;
        }
        let room = MAX_HEAD - self.head.len();
        self.head.extend_from_slice(&data[..data.len().min(room)]);
        // Only whole lines: a line cut between two frames could cut the id short.
        let whole = self
            .head
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |end| end + 1);
        let text = String::from_utf8_lossy(&self.head[..whole]);
        let Some(stream) = text
            .lines()
            .find_map(|line| line.strip_prefix("id:"))
            .and_then(stream_of)
            .map(str::to_owned)
        else {
            return;
        };
        self.watch = self.calls.attach(&self.session, &stream, &self.request_id);
        self.stream = Some(stream);
        self.head = Vec::new();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        match (self.ended, self.stream.take()) {
            (true, Some(stream)) => self.calls.ended(&self.session, &stream, self.watch),
            (true, None) => {}
            (false, Some(stream)) => {
                self.calls.dropped(self.session.clone(), stream, self.watch);
            }
            // Dropped before the client could learn the stream's id: it cannot resume it.
            (false, None) => {
                let calls = self.calls.clone();
                let session = self.session.clone();
                let request_id = self.request_id.take();
                spawn(async move { calls.cancel(&session, request_id).await });
            }
        }
    }
}

/// A call's SSE response body under a [`Watch`].
struct Watched {
    body: Body,
    watch: Watch,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.watch.sent = true;
                    this.watch.read(data);
                }
            }
            Poll::Ready(None) => this.watch.ended = this.watch.sent,
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_come_from_call_event_ids_only() {
        assert_eq!(stream_of("0/3"), Some("3"));
        assert_eq!(stream_of("12/0\n"), Some("0"));
        assert_eq!(stream_of("4"), None);
        assert_eq!(stream_of("4/"), None);
    }

    #[test]
    fn the_stream_id_is_read_from_whole_lines_of_the_first_event() {
        let calls = Calls::new(Arc::new(CappedSessions::new(
            super::super::sessions::SessionSlots::new(1, crate::metrics::Metrics::default()),
        )));
        let mut watch = Watch {
            calls: calls.clone(),
            session: "s".into(),
            request_id: serde_json::json!(3),
            stream: None,
            watch: 0,
            head: Vec::new(),
            ended: false,
            sent: false,
        };
        watch.read(b"data: \nid: 0/1");
        assert_eq!(watch.stream, None);
        watch.read(b"2\nretry: 3000\n\n");
        assert_eq!(watch.stream.as_deref(), Some("12"));
        {
            let state = calls.lock();
            let call = &state.calls[&SessionId::from("s")]["12"];
            assert_eq!(call.request_id, serde_json::json!(3));
            assert_eq!(call.watch, watch.watch);
        }
        watch.ended = true;
        drop(watch);
        assert!(
            calls.lock().calls.is_empty(),
            "an ended stream leaves no call"
        );
    }

    #[test]
    fn only_requests_have_an_id_to_cancel() {
        let call = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}"#;
        assert_eq!(request_id(call), Some(serde_json::json!(7)));
        let named = br#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#;
        assert_eq!(request_id(named), Some(serde_json::json!("a")));
        let notification = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert_eq!(request_id(notification), None);
        let response = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert_eq!(request_id(response), None);
        assert_eq!(request_id(b"[{}]"), None);
    }
}
