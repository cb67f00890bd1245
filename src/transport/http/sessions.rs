//! A cap on live legacy sessions (`--sessions` mode).
//!
//! Every session holds a worker task, channels and caches in rmcp's [`LocalSessionManager`],
//! so sessions nobody caps are memory anyone can claim with `initialize` requests.
//! [`SessionSlots`] counts live sessions; [`CappedSessions`] wraps the local manager,
//! registers each session it creates and releases it when rmcp closes it (a DELETE, or the
//! end of the session's worker: rmcp's idle expiry, 5 minutes without a message by default,
//! its 60 s wait for `initialize`, or shutdown).
//!
//! The gate refuses a new session past the cap with 503 and `Retry-After` before rmcp sees
//! the request ([`SessionSlots::reserve`]), because rmcp answers any `create_session` error
//! with a 500. The reservation reaches `create_session` through a task-local, as rmcp calls
//! it inside the gate's own request future; a session created any other way is admitted
//! only while there is room, so the cap holds either way.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::refusal::refusal;
use crate::metrics::Metrics;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

/// How long a refused client is told to wait before trying again, in seconds.
const RETRY_AFTER_SECS: &str = "5";

/// Live sessions and reservations for sessions being created, under one cap.
#[derive(Debug)]
pub(crate) struct SessionSlots {
    max: usize,
    state: Mutex<Slots>,
    /// Its `mcp_sessions` gauge follows the live sessions.
    metrics: Metrics,
}

#[derive(Debug, Default)]
struct Slots {
    live: HashSet<SessionId>,
    reserved: usize,
}

impl Slots {
    fn used(&self) -> usize {
        self.live.len() + self.reserved
    }
}

impl SessionSlots {
    pub(crate) fn new(max: usize, metrics: Metrics) -> Arc<Self> {
        Arc::new(Self {
            max,
            state: Mutex::new(Slots::default()),
            metrics,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // The counts stay consistent whatever panicked while holding the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Live sessions now.
    #[cfg(test)]
    fn live(&self) -> usize {
        self.lock().live.len()
    }

    /// A slot for a session about to be created, or the 503 to answer with when the cap is
    /// reached. The slot goes back when the reservation is dropped unused.
    #[expect(
        clippy::result_large_err,
        reason = "a refusal is the response itself, as with axum's rejections"
    )]
    pub(crate) fn reserve(self: &Arc<Self>) -> Result<Reservation, Response> {
        let mut slots = self.lock();
        if slots.used() >= self.max {
            drop(slots);
            tracing::warn!(
                max_sessions = self.max,
                "session cap reached; refusing a new session"
            );
            return Err(full(self.max));
        }
        slots.reserved += 1;
        Ok(Reservation {
            slots: Some(self.clone()),
        })
    }

    /// Registers a created session: with a reservation it takes the reserved slot,
    /// without one only while there is room.
    fn register(&self, id: &SessionId, reservation: Option<Reservation>) -> bool {
        let mut slots = self.lock();
        let reserved = reservation.is_some_and(|mut r| r.slots.take().is_some());
        if reserved {
            slots.reserved -= 1;
        } else if slots.used() >= self.max {
            return false;
        }
        slots.live.insert(id.clone());
        self.metrics.set_sessions(slots.live.len());
        true
    }

    /// Releases a session's slot; a second close of the same session changes nothing.
    fn release(&self, id: &SessionId) {
        let mut slots = self.lock();
        slots.live.remove(id);
        self.metrics.set_sessions(slots.live.len());
    }
}

fn full(max: usize) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
        refusal(format!(
            "Service Unavailable: the server holds its maximum of {max} sessions; \
             try again later or end a session (DELETE)"
        )),
    )
        .into_response()
}

/// A reserved session slot; dropped unused, it is returned.
#[derive(Debug)]
pub(crate) struct Reservation {
    slots: Option<Arc<SessionSlots>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.lock().reserved -= 1;
        }
    }
}

tokio::task_local! {
    /// The reservation of the request being handled, for `create_session` to take.
    static RESERVED: Cell<Option<Reservation>>;
}

/// Runs `handle` (rmcp handling an `initialize` without a session) with `reservation`
/// available to [`CappedSessions::create_session`]; unused, it is returned at the end.
pub(crate) async fn with_reservation<F: Future>(reservation: Reservation, handle: F) -> F::Output {
    RESERVED.scope(Cell::new(Some(reservation)), handle).await
}

/// Whether this POST would make rmcp create a session: no `Mcp-Session-Id` and an
/// `initialize` request (batches are refused by rmcp anyway).
pub(crate) fn creates_session(has_session_header: bool, body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    !has_session_header
        && serde_json::from_slice::<Envelope<'_>>(body)
            .is_ok_and(|e| e.method.as_deref() == Some("initialize"))
}

/// rmcp's [`LocalSessionManager`] under a [`SessionSlots`] cap.
#[derive(Debug)]
pub(crate) struct CappedSessions {
    inner: LocalSessionManager,
    slots: Arc<SessionSlots>,
}

impl CappedSessions {
    pub(crate) fn new(slots: Arc<SessionSlots>) -> Self {
        Self {
            inner: LocalSessionManager::default(),
            slots,
        }
    }
}

/// The session cap was reached (only when a session is created without the gate's
/// reservation; rmcp answers it with a 500).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CappedError {
    #[error("the session cap is reached")]
    Full,
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

impl SessionManager for CappedSessions {
    type Error = CappedError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let reservation = RESERVED.try_with(Cell::take).ok().flatten();
        let (id, transport) = self.inner.create_session().await?;
        if !self.slots.register(&id, reservation) {
            self.inner.close_session(&id).await?;
            return Err(CappedError::Full);
        }
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.inner.close_session(id).await;
        self.slots.release(id);
        Ok(closed?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        // No session store is configured, so the local manager declines; delegated (and
        // counted) all the same.
        match self.inner.restore_session(id.clone()).await? {
            RestoreOutcome::Restored(transport) => {
                if !self.slots.register(&id, None) {
                    self.inner.close_session(&id).await?;
                    return Err(CappedError::Full);
                }
                Ok(RestoreOutcome::Restored(transport))
            }
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_until_used_or_dropped() {
        let slots = SessionSlots::new(2, Metrics::default());
        let a = slots.reserve().expect("room");
        let b = slots.reserve().expect("room");
        assert_eq!(
            slots.reserve().unwrap_err().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(a);
        let id: SessionId = "s1".into();
        assert!(slots.register(&id, Some(b)));
        assert_eq!(slots.live(), 1);
        let _c = slots.reserve().expect("the dropped reservation came back");
        assert!(
            !slots.register(&"s2".into(), None),
            "full without a reservation"
        );
        slots.release(&id);
        slots.release(&id);
        assert_eq!(slots.live(), 0);
        assert!(slots.register(&"s3".into(), None));
    }

    #[test]
    fn only_a_sessionless_initialize_creates_a_session() {
        let init = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
        assert!(creates_session(false, init));
        assert!(!creates_session(true, init));
        assert!(!creates_session(
            false,
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!creates_session(false, b"[{}]"));
    }
}
