//! Accepting and serving connections, with the limits `axum::serve` lacks.
//!
//! With `axum::serve`, a connection that sent half a request header stayed open forever,
//! before any auth check, and nothing capped how many there were. Here, per connection
//! ([`registry`] tracks what each one is doing):
//!
//! - an idle connection (opened, or done with its last response, and sending nothing) is
//!   closed after `idle_timeout`; a request's headers must arrive within `header_timeout`
//!   of its first byte. A request being read or answered, a long SSE stream included, is
//!   never timed out here (the body has its own deadline in [`super::log`]).
//! - at most `max_connections` are open. When a new connection finds them all taken, the
//!   one that has been idle or in its headers the longest is closed to make room, so
//!   sockets that only keep a connection warm or trickle a header cannot lock anybody out.
//!   A connection in its first second from which nothing has arrived yet is spared (its
//!   request may be on its way). Only when no connection can make room does the new one wait (in
//!   the kernel's listen queue), and the server says so once per episode.
//! - at most `max_per_client` are open from one client address. Past it, that address's
//!   longest-waiting connection makes room, or, when all of them are busy, the new one gets
//!   a 503 at once: one client cannot hold every slot with requests either.
//! - shutdown asks every connection to close after its current response, and finally drops
//!   whatever is still open.
//!
//! Only HTTP/1.1 is served (clients of this server do not use cleartext HTTP/2).

mod registry;
mod watched;

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use registry::{Deadline, Registration, Registry, Tracked};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower_service::Service;
use watched::Watched;

use super::guarded::with_guard;
use super::refusal::{refusal, refusal_bytes};
use crate::metrics::{GaugeGuard, Metrics};

/// How long to wait before accepting again after the listener failed (e.g. out of file
/// descriptors), so a persistent failure does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(200);

/// How often the accept loop, at the cap, looks again for a connection that can make room.
const ROOM_RETRY: Duration = Duration::from_millis(250);

/// How long a refused connection gets to take its 503 before it is dropped.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// How much of a refused request's head is read before the 503 goes out anyway.
const REFUSAL_HEAD_MAX: usize = 16 * 1024;

/// How often a client address that keeps hitting its cap is reported.
const REFUSAL_REPORT_EVERY: Duration = Duration::from_secs(60);

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub(crate) max_connections: usize,
    pub(crate) max_per_client: usize,
    pub(crate) idle_timeout: Duration,
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
    /// Starts accepting on `listener`, serving `app` on each connection; `metrics`, when
    /// given, counts the open connections (`http_connections_open`).
    pub(crate) fn start(
        listener: TcpListener,
        app: Router,
        limits: ConnLimits,
        metrics: Option<Metrics>,
    ) -> Self {
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
                limits: ConnLimits {
                    max_connections: max,
                    max_per_client: limits.max_per_client.clamp(1, max),
                    ..limits
                },
                registry: Arc::default(),
                metrics,
                slots: slots.clone(),
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
    limits: ConnLimits,
    registry: Arc<Registry>,
    metrics: Option<Metrics>,
    slots: Arc<Semaphore>,
    stop: CancellationToken,
    closing: CancellationToken,
    kill: CancellationToken,
}

/// What the accept loop has already told the operator, so it says each thing once.
#[derive(Default)]
struct Reported {
    saturated: bool,
    failing: bool,
    refused: usize,
    refusals_reported: Option<Instant>,
}

impl Acceptor {
    async fn run(self) {
        let max = self.limits.max_connections;
        let mut reported = Reported::default();
        loop {
            // An episode ends once a quarter of the slots are free again, so a server that
            // hovers at its limit logs once, not once per connection.
            if reported.saturated && self.slots.available_permits() > max / 4 {
                reported.saturated = false;
                tracing::info!(
                    open = max - self.slots.available_permits(),
                    "below the connection limit again"
                );
            }
            let accepted = tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                // The client gave up before we took its connection: nothing to do.
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    if !reported.failing {
                        reported.failing = true;
                        tracing::warn!(error = %e, "cannot accept connections; retrying (too many open files? raise the open-file limit or lower --max-connections)");
                    }
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            if reported.failing {
                reported.failing = false;
                tracing::info!("accepting connections again");
            }
            let ip = peer.ip().to_canonical();
            let mut made_room = false;
            // A per-client cap as large as the overall cap is no cap: new connections then
            // wait like everyone's.
            let per_client = self.limits.max_per_client < max;
            if per_client && self.registry.count(ip) >= self.limits.max_per_client {
                if !self.registry.evict_longest_waiting(Some(ip)) {
                    refuse(stream, self.limits.max_per_client);
                    reported.refusal(ip, self.limits.max_per_client);
                    continue;
                }
                made_room = true;
            }
            let slot = match self.slots.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => loop {
                    made_room = made_room || self.registry.evict_longest_waiting(None);
                    if !made_room && !reported.saturated {
                        reported.saturated = true;
                        tracing::warn!(
                            max_connections = max,
                            "connection limit reached and every connection is answering a request or just opened: new connections wait until one can make room (raise --max-connections if this is normal load)"
                        );
                    }
                    tokio::select! {
                        biased;
                        () = self.stop.cancelled() => return,
                        slot = self.slots.clone().acquire_owned() => {
                            break slot.expect("the connection semaphore is never closed");
                        }
                        // A connection that just opened may make room once it is no longer
                        // new, without anything else happening: look again.
                        () = tokio::time::sleep(ROOM_RETRY), if !made_room => {}
                    }
                },
            };
            let registration = self.registry.register(ip, slot);
            let open = self.metrics.as_ref().map(Metrics::connection_opened);
            tokio::spawn(serve_connection(
                stream,
                self.app.clone(),
                self.limits,
                self.closing.clone(),
                self.kill.clone(),
                (registration, open),
            ));
        }
    }
}

impl Reported {
    /// Reports refusals for one client address at most once a minute, with their count.
    fn refusal(&mut self, ip: IpAddr, max_per_client: usize) {
        self.refused += 1;
        let due = self
            .refusals_reported
            .is_none_or(|at| at.elapsed() >= REFUSAL_REPORT_EVERY);
        if due {
            tracing::warn!(
                client = %ip,
                refused = self.refused,
                max_per_client,
                "a client address has every connection it may have busy with requests; refusing its new connections with 503 (behind a reverse proxy every client has the proxy's address: raise --max-connections-per-client)"
            );
            self.refused = 0;
            self.refusals_reported = Some(Instant::now());
        }
    }
}

/// Answers a connection over its address's cap with a 503 and closes it. The 503 goes out
/// once the request's head has arrived (HTTP clients take an answer that comes before their
/// request for a broken connection), and whatever else the client sent is read and dropped
/// for a moment: closing a socket with unread data resets it, and the reset can destroy the
/// answer before the client reads it. All of it within [`REFUSAL_LINGER`].
fn refuse(stream: TcpStream, max_per_client: usize) {
    let body = refusal_bytes(&format!(
        "Service Unavailable: this client address already has {max_per_client} connections busy with requests (the --max-connections-per-client cap); retry when one of them is done"
    ));
    let mut response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    tokio::spawn(async move {
        let mut stream = stream;
        let answer = async {
            let mut head = Vec::new();
            let mut chunk = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < REFUSAL_HEAD_MAX {
                match stream.read(&mut chunk).await? {
                    0 => break,
                    n => head.extend_from_slice(&chunk[..n]),
                }
            }
            stream.write_all(&response).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            std::io::Result::Ok(())
        };
        let _ = tokio::time::timeout(REFUSAL_LINGER, answer).await;
    });
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Serves one connection until it ends, times out, is evicted, is told to close, or is
/// dropped at the end of shutdown. Its slot is freed when this returns.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: ConnLimits,
    closing: CancellationToken,
    kill: CancellationToken,
    (registration, open): (Registration, Option<GaugeGuard>),
) {
    let tracked = registration.tracked.clone();
    let io = TokioIo::new(Watched {
        stream,
        tracked: tracked.clone(),
    });
    let service = {
        let tracked = tracked.clone();
        service_fn(move |request| serve_request(app.clone(), tracked.clone(), request))
    };
    let mut builder = http1::Builder::new();
    // The idle and header deadlines are ours (below): hyper's header timer also runs while
    // a connection is idle, so it cannot tell the two apart.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut graceful = false;
    let result = loop {
        let deadline = tracked.deadline(limits.idle_timeout, limits.header_timeout);
        let at = match deadline {
            Deadline::Now => break Ok(()),
            Deadline::At(at) => at,
            // Busy: no deadline, the branch below is off.
            Deadline::None => Instant::now(),
        };
        tokio::select! {
            result = conn.as_mut() => break result,
            () = tracked.changed() => {}
            () = tokio::time::sleep_until(at), if deadline != Deadline::None => {
                // Unless something arrived meanwhile (which moved the deadline), close.
                if tracked.deadline(limits.idle_timeout, limits.header_timeout) == deadline {
                    break Ok(());
                }
            }
            () = closing.cancelled(), if !graceful => {
                graceful = true;
                conn.as_mut().graceful_shutdown();
            }
            () = kill.cancelled() => break Ok(()),
        }
    };
    if let Err(e) = result {
        // Resets and malformed requests: routine, and hyper's text is its own.
        tracing::debug!(error = %e, "connection closed");
    }
    drop(registration);
    drop(open);
}

/// Serves one request of a connection, which counts as busy until the response body is
/// done.
async fn serve_request(
    app: Router,
    tracked: Arc<Tracked>,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    if !tracked.begin_request() {
        // Evicted between the request's last header byte and now: the connection is about
        // to be closed, and this answer may not reach the client.
        return Ok((
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            refusal("Service Unavailable: connection closed to make room for another; retry"),
        )
            .into_response());
    }
    let mut app = app;
    // A Router is always ready: no poll_ready needed.
    let response = app.call(request.map(Body::new)).await?;
    Ok(with_guard(response, RequestDone(tracked)))
}

/// Marks the connection idle again when the response body it guards is done.
struct RequestDone(Arc<Tracked>);

impl Drop for RequestDone {
    fn drop(&mut self) {
        self.0.end_request();
    }
}
