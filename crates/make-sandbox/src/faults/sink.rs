//! The target of [`Fault::Redirect`](super::Fault::Redirect): a second loopback listener
//! that records who followed a redirect, and whether they brought the API token along.
//!
//! A client that follows a 307 from its API host repeats the request somewhere else,
//! possibly with its `Authorization` header; a test wants to know both. The sink is on
//! another port, so for a browser or reqwest it is another origin.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How often a redirect was followed to the sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedirectHits {
    /// Requests that reached the sink.
    pub hits: u64,
    /// Of those, requests that carried an `Authorization` header (a leaked token).
    pub(crate) with_authorization: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    with_authorization: AtomicU64,
}

/// The running sink; stops when dropped.
pub(crate) struct RedirectSink {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl RedirectSink {
    /// Binds a free port on 127.0.0.1 (never any other address).
    pub(crate) async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let app = Router::new().fallback(record).with_state(counters.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "sandbox redirect sink stopped");
            }
        });
        Ok(RedirectSink {
            addr,
            counters,
            task,
        })
    }

    /// Where a redirected request for `path` goes.
    pub(crate) fn url_for(&self, path_and_query: &str) -> String {
        format!("http://{}/redirected{path_and_query}", self.addr)
    }

    pub(crate) fn hits(&self) -> RedirectHits {
        RedirectHits {
            hits: self.counters.hits.load(Ordering::Acquire),
            with_authorization: self.counters.with_authorization.load(Ordering::Acquire),
        }
    }
}

impl Drop for RedirectSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts the request and answers 200, as a careless endpoint elsewhere might.
async fn record(State(counters): State<Arc<Counters>>, req: Request) -> Json<Value> {
    counters.hits.fetch_add(1, Ordering::AcqRel);
    if req.headers().contains_key(AUTHORIZATION) {
        counters.with_authorization.fetch_add(1, Ordering::AcqRel);
    }
    tracing::warn!(path = %req.uri().path(), "a client followed the sandbox's fault-injected redirect");
    Json(json!({"message": "Redirect followed: a Make API client should not follow redirects."}))
}
