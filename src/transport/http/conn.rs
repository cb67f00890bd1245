//! Accepting and serving connections, with the limits `axum::serve` lacks.
//!
//! With `axum::serve`, a connection that sent half a request header stayed open forever,
//! before any auth check, and nothing capped how many there were: a few dozen such
//! connections used up the process's file descriptors, after which nobody (not even a
//! health probe) could connect. Here:
//!
//! - each request's headers must arrive within `header_timeout`. hyper starts that clock
//!   when a connection opens and again each time it goes idle after a response, so the same
//!   deadline closes idle keep-alive connections. A request being answered, including a
//!   long SSE stream, is never timed out.
//! - at most `max_connections` are open; beyond that the server stops accepting (new
//!   connections wait in the kernel's listen queue) and says so once per episode.
//! - shutdown asks every connection to close after its current response, and finally drops
//!   whatever is still open.
//!
//! Only HTTP/1.1 is served (clients of this server do not use cleartext HTTP/2).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long to wait before accepting again after the listener failed (e.g. out of file
/// descriptors), so a persistent failure does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(200);

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
}

/// The running accept loop and the connections it opened.
pub(crate) struct Connections {
    slots: Arc<Semaphore>,
    max: u32,
    stop_accepting: CancellationToken,
    closing: CancellationToken,
    kill: CancellationToken,
    accepting: JoinHandle<()>,
}

impl Connections {
    /// Starts accepting on `listener`, serving `app` on each connection.
    pub(crate) fn start(listener: TcpListener, app: Router, limits: ConnLimits) -> Self {
        let max = limits
            .max_connections
            .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        let slots = Arc::new(Semaphore::new(max));
        let stop_accepting = CancellationToken::new();
        let closing = CancellationToken::new();
        let kill = CancellationToken::new();
        let accepting = tokio::spawn(
            Acceptor {
                listener,
                app,
                header_timeout: limits.header_timeout,
                slots: slots.clone(),
                max,
                stop: stop_accepting.clone(),
                closing: closing.clone(),
                kill: kill.clone(),
            }
            .run(),
        );
        Self {
            slots,
            max: max as u32,
            stop_accepting,
            closing,
            kill,
            accepting,
        }
    }

    /// Closes the listener (new connections are refused) and asks every open connection to
    /// close once its current response is done; idle ones close at once.
    pub(crate) async fn close_gracefully(&mut self) {
        self.stop_accepting.cancel();
        let _ = (&mut self.accepting).await;
        self.closing.cancel();
    }

    /// Waits up to `limit` for every connection to close, then drops the rest. True when
    /// all closed by themselves.
    pub(crate) async fn wait_closed(self, limit: Duration) -> bool {
        let all = self.slots.acquire_many(self.max);
        let closed = tokio::time::timeout(limit, all).await.is_ok();
        if !closed {
            self.kill.cancel();
        }
        closed
    }
}

struct Acceptor {
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    slots: Arc<Semaphore>,
    max: usize,
    stop: CancellationToken,
    closing: CancellationToken,
    kill: CancellationToken,
}

impl Acceptor {
    async fn run(self) {
        let mut saturated = false;
        let mut failing = false;
        loop {
            // An episode ends once a quarter of the slots are free again, so a server that
            // hovers at its limit logs once, not once per connection.
            if saturated && self.slots.available_permits() > self.max / 4 {
                saturated = false;
                tracing::info!(
                    open = self.max - self.slots.available_permits(),
                    "below the connection limit again"
                );
            }
            let permit = match self.slots.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    if !saturated {
                        saturated = true;
                        tracing::warn!(
                            max_connections = self.max,
                            "connection limit reached: new connections wait until open ones close (idle and slow ones close after --header-timeout; raise --max-connections if this is normal load)"
                        );
                    }
                    tokio::select! {
                        biased;
                        () = self.stop.cancelled() => return,
                        permit = self.slots.clone().acquire_owned() => {
                            permit.expect("the connection semaphore is never closed")
                        }
                    }
                }
            };
            let accepted = tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _peer)) => {
                    if failing {
                        failing = false;
                        tracing::info!("accepting connections again");
                    }
                    tokio::spawn(serve_connection(
                        stream,
                        self.app.clone(),
                        self.header_timeout,
                        self.closing.clone(),
                        self.kill.clone(),
                        permit,
                    ));
                }
                // The client gave up before we took its connection: nothing to do.
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    if !failing {
                        failing = true;
                        tracing::warn!(error = %e, "cannot accept connections; retrying (too many open files? raise the open-file limit or lower --max-connections)");
                    }
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Serves one connection until it ends, it is told to close, or it is dropped at the end of
/// shutdown. The permit frees its slot when this returns.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    header_timeout: Duration,
    closing: CancellationToken,
    kill: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = closing.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => result,
                () = kill.cancelled() => Ok(()),
            }
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and malformed requests: routine, and hyper's text is its own.
        tracing::debug!(error = %e, "connection closed");
    }
}
