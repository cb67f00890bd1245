//! Graceful shutdown: on SIGINT/SIGTERM the server stops accepting, refuses new requests
//! on open connections (503), lets in-flight MCP calls finish (up to a grace period), then
//! cancels rmcp's token so session streams close.
//!
//! Calls still running when the grace ends are not just dropped (that gave the client a
//! bare HTTP 500, or an SSE stream that stopped): they are ended with a tool error saying
//! the server is shutting down and that a change in Make may or may not have happened
//! ([`crate::server::MakeServer::cut_calls`]), and get a moment to send it.
//!
//! A call counts as in flight until its response body has been sent or dropped, so a tool
//! result streamed over SSE is not cut off.

use std::time::Duration;

use super::refusal::refusal;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// Shared drain state: the in-flight POSTs, tracked until their response body is done. The
/// tracker is closed when draining starts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Drain(TaskTracker);

impl Drain {
    /// From now on new requests get 503.
    pub(crate) fn start(&self) {
        self.0.close();
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.0.is_closed()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.0.len()
    }

    /// Waits until no call is in flight, or `grace` has passed; true when idle. Draining
    /// starts here if it has not already.
    pub(crate) async fn wait_idle(&self, grace: Duration) -> bool {
        self.start();
        tokio::time::timeout(grace, self.0.wait()).await.is_ok()
    }

    /// Counts one call while the returned token is alive.
    fn enter(&self) -> TaskTrackerToken {
        self.0.token()
    }

    /// Admits a request to `/mcp`: 503 while draining; otherwise a POST (a call) is counted
    /// until its response body is done (pass the token to [`tracked`]). GET streams are not
    /// calls; they close with the rmcp token.
    #[expect(
        clippy::result_large_err,
        reason = "a refusal is the response itself, as with axum's rejections"
    )]
    pub(crate) fn admit(&self, method: &Method) -> Result<Option<TaskTrackerToken>, Response> {
        if self.is_draining() {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONNECTION, "close"), (header::RETRY_AFTER, "1")],
                refusal("Service Unavailable: the server is shutting down"),
            )
                .into_response());
        }
        Ok((method == Method::POST).then(|| self.enter()))
    }
}

/// `response`, counted as in flight (when `call` holds a token) until its body is done.
pub(crate) fn tracked(response: Response, call: Option<TaskTrackerToken>) -> Response {
    match call {
        Some(guard) => super::guarded::with_guard(response, guard),
        None => response,
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what container runtimes send).
pub(crate) async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_after_the_last_call_ends() {
        let drain = Drain::default();
        assert!(drain.wait_idle(Duration::from_millis(1)).await);
        let guard = drain.enter();
        assert!(!drain.wait_idle(Duration::from_millis(10)).await);
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.wait_idle(Duration::from_secs(60)).await }
        });
        drop(guard);
        assert!(waiter.await.unwrap());
    }
}
