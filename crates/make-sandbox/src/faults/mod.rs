//! Fault injection: how the sandbox's API misbehaves on purpose.
//!
//! Retries, timeouts and error handling are only as good as the failures they were tried
//! against, and real Make fails rarely and never on cue. This module makes the `/api/v2`
//! endpoints fail on demand; the consent page is never touched, so a person can still
//! authorize while the API misbehaves. Two ways in, both honoured by one middleware
//! (`inject`):
//!
//! - **Scripted, at runtime** ([`Sandbox::inject`](super::Sandbox::inject),
//!   [`Sandbox::inject_on`](super::Sandbox::inject_on)): the next N API requests (optionally
//!   only those with a given method and path prefix) get a given [`Fault`]. Deterministic, for
//!   tests that drive every tool against every fault. [`Sandbox::requests_seen`](super::Sandbox::requests_seen)
//!   counts the requests received per method and path, so a test can assert that a
//!   non-idempotent call went out exactly once.
//! - **Probabilistic** ([`FaultPlan`], from `SandboxOptions::faults`, the `sandbox --faults`
//!   and `--sandbox-faults` flags): each API request independently gets a fault with the
//!   plan's probabilities, plus a fixed added latency. For load tests and for users who want
//!   to see how their agent copes.
//!
//! Scripted faults win over the plan; latency applies to every API request either way.
//!
//! # Whether the request took effect
//!
//! Every fault except [`Fault::Truncate`] and [`Fault::Delay`] answers *instead of* the
//! endpoint: nothing changes in the store, as when a gateway refuses before Make acts.
//! `Truncate` runs the endpoint and loses its answer halfway, as when Make acted and the
//! connection broke; `Delay` runs it late.
//!
//! # Refused connections
//!
//! A running server cannot refuse its own connections. Tests simulate Make being down by
//! pointing the client at a loopback port nothing listens on: [`closed_loopback_port`].

mod bodies;
mod conn;
mod inject;
mod plan;
mod sink;
mod state;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub(super) use conn::{ConnKill, FaultListener};
pub(super) use inject::{Faults, inject};
pub use plan::{FaultPlan, FaultPlanError};
pub use sink::RedirectHits;
pub(super) use sink::RedirectSink;
pub use state::RequestsSeen;
pub(super) use state::{FaultState, api_path};

/// One way an API request can go wrong. See the module docs for which ones let the request
/// take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with Make's `SC429` body; `Retry-After: N` seconds when given.
    TooManyRequests { retry_after: Option<u32> },
    /// 500 with a Make-style JSON body (`SC500`).
    InternalServerError,
    /// 502 with the load balancer's HTML page: Make's API never answers this itself.
    BadGateway,
    /// 503 with a Make-style JSON body (`SC503`), as during maintenance.
    ServiceUnavailable,
    /// 504 with the load balancer's HTML page.
    GatewayTimeout,
    /// Holds the request for `hold`, then answers 504 if the client is still there. Pick a
    /// hold longer than the client's timeout so the client gives up first. Other requests
    /// are served meanwhile.
    Timeout { hold: Duration },
    /// Closes the TCP connection without sending a byte of response.
    Drop,
    /// Runs the endpoint, then sends its status, a `Content-Length` of the full body and
    /// only the first half of the body before closing the connection.
    Truncate,
    /// 200 `application/json` whose body is not JSON.
    NonJson,
    /// 200 with `bytes` of valid JSON (`{"padding":"xxx…"}`), generated while it is sent.
    Oversize { bytes: u64 },
    /// 200 `text/html` (a proxy's or captive portal's page) instead of JSON.
    WrongContentType,
    /// 307 to a URL on another loopback port (the redirect sink), which records whether a
    /// client followed it: [`Sandbox::redirect_hits`](super::Sandbox::redirect_hits).
    Redirect,
    /// Waits this long, then runs the endpoint normally (a slow but successful answer).
    Delay(Duration),
}

/// How long [`Fault::Timeout`] holds a request when the plan does not say: longer than the
/// client's default 40 s timeout.
pub const DEFAULT_TIMEOUT_HOLD: Duration = Duration::from_secs(90);

/// The size of [`Fault::Oversize`] bodies from the command line: 20 MiB.
pub(crate) const DEFAULT_OVERSIZE_BYTES: u64 = 20 * 1024 * 1024;

impl Fault {
    /// 429 without `Retry-After`.
    pub const RATE_LIMITED: Fault = Fault::TooManyRequests { retry_after: None };

    /// A 20 MiB [`Fault::Oversize`].
    #[cfg(test)]
    pub(crate) const fn oversize() -> Fault {
        Fault::Oversize {
            bytes: DEFAULT_OVERSIZE_BYTES,
        }
    }

    /// A short name for logs and the command line (`429`, `drop`, `content-type`, ...).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Fault::TooManyRequests { retry_after: None } => "429",
            Fault::TooManyRequests { .. } => "429-retry-after",
            Fault::InternalServerError => "500",
            Fault::BadGateway => "502",
            Fault::ServiceUnavailable => "503",
            Fault::GatewayTimeout => "504",
            Fault::Timeout { .. } => "timeout",
            Fault::Drop => "drop",
            Fault::Truncate => "truncate",
            Fault::NonJson => "nonjson",
            Fault::Oversize { .. } => "oversize",
            Fault::WrongContentType => "content-type",
            Fault::Redirect => "redirect",
            Fault::Delay(_) => "delay",
        }
    }
}

/// A loopback port nothing listens on, so a client pointed at [`ClosedPort::url`] sees its
/// connection refused (what a client sees when Make is unreachable).
///
/// The port stays bound, without listening, for as long as the value lives: nothing else
/// can take it in the meantime. (Releasing it at once let the next sandbox a test started
/// get the same port, and the "refused" client then reached that sandbox.)
pub struct ClosedPort {
    _bound: tokio::net::TcpSocket,
    url: String,
}

impl ClosedPort {
    /// `http://127.0.0.1:<port>/api/v2`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Binds a loopback port without listening on it; see [`ClosedPort`].
pub fn closed_loopback_port() -> std::io::Result<ClosedPort> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((std::net::Ipv4Addr::LOCALHOST, 0).into())?;
    let port = socket.local_addr()?.port();
    Ok(ClosedPort {
        _bound: socket,
        url: format!("http://127.0.0.1:{port}/api/v2"),
    })
}
