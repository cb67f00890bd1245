//! Make's request limit per organization, when the sandbox is asked to enforce it
//! ([`SandboxOptions::rate_limit`](super::SandboxOptions::rate_limit)): more than N API
//! requests of one organization within any 60 seconds get Make's 429, "Requests limit for
//! organization exceeded, please try again later.", with `Retry-After` (whole seconds until
//! the oldest request of the window ages out). Off by default.
//!
//! Every request the token check lets through counts, whoever sends it (the key or a
//! person), against the caller's organization; refused ones do not count. The 429s
//! answered are counted ([`Sandbox::rate_limited`](super::Sandbox::rate_limited)) and
//! logged, so a test can prove that none was needed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::caller::Caller;
use super::errors::ApiError;
use super::state::ORGANIZATION_ID;

/// Make's window.
const WINDOW: Duration = Duration::from_secs(60);

/// Requests of the last minute per organization, and the 429s answered.
pub(crate) struct RateLimit {
    per_minute: Option<u32>,
    seen: Mutex<HashMap<u64, VecDeque<Instant>>>,
    refused: AtomicU64,
}

impl RateLimit {
    pub(crate) fn new(per_minute: Option<u32>) -> Self {
        Self {
            per_minute,
            seen: Mutex::default(),
            refused: AtomicU64::new(0),
        }
    }

    /// The requests a minute enforced, if any.
    pub(crate) fn per_minute(&self) -> Option<u32> {
        self.per_minute
    }

    /// The 429s answered so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Counts a request of `organization` at `now`, or says how long until it may come.
    fn admit(&self, organization: u64, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.per_minute else {
            return Ok(());
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let log = seen.entry(organization).or_default();
        while log.front().is_some_and(|at| *at + WINDOW <= now) {
            log.pop_front();
        }
        if log.len() < limit as usize {
            log.push_back(now);
            return Ok(());
        }
        let oldest = log.front().copied().unwrap_or(now);
        Err((oldest + WINDOW).saturating_duration_since(now))
    }
}

/// The caller's organization: every seeded person and the key belong to organization 1.
fn organization_of(_caller: &Caller) -> u64 {
    ORGANIZATION_ID
}

/// Answers 429 past the organization's limit; runs after the token check.
pub(super) async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let organization = organization_of(&Caller::current());
    match state.rate_limit.admit(organization, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            state.rate_limit.refused.fetch_add(1, Ordering::Relaxed);
            let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
            tracing::warn!(organization, retry_after = secs, method = %req.method(), path = %req.uri().path(), "sandbox rate limit: answered 429");
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "SC429",
                "Requests limit for organization exceeded, please try again later.",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_for_any_minute_and_says_when_to_come_back() {
        let limit = RateLimit::new(Some(3));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limit.admit(1, t0 + Duration::from_secs(i)).is_ok());
        }
        assert_eq!(
            limit.admit(1, t0 + Duration::from_secs(10)),
            Err(Duration::from_secs(50))
        );
        assert!(limit.admit(2, t0).is_ok(), "another organization");
        assert!(limit.admit(1, t0 + WINDOW).is_ok());
        assert!(limit.admit(1, t0 + WINDOW).is_err());
        let off = RateLimit::new(None);
        for _ in 0..1000 {
            assert!(off.admit(1, t0).is_ok());
        }
    }
}

#[cfg(test)]
mod http_tests {
    use serde_json::Value;

    use crate::{Sandbox, SandboxOptions};

    use crate::tests::key_get as get;

    #[tokio::test]
    async fn past_the_limit_make_s_429_with_retry_after_and_the_count() {
        let sb = Sandbox::start_with(SandboxOptions {
            rate_limit: Some(2),
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        assert_eq!(get(&sb, "/users/me").await.status(), 200);
        assert_eq!(get(&sb, "/keys?teamId=1").await.status(), 200);
        let refused = get(&sb, "/connections?teamId=1").await;
        assert_eq!(refused.status(), 429);
        let after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((59..=60).contains(&after), "{after}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "SC429");
        assert_eq!(
            body["message"],
            "Requests limit for organization exceeded, please try again later."
        );
        assert_eq!(sb.rate_limited(), 1);
        // Without the option nothing is limited.
        let free = Sandbox::start().await.unwrap();
        for _ in 0..5 {
            assert_eq!(get(&free, "/users/me").await.status(), 200);
        }
        assert_eq!(free.rate_limited(), 0);
    }
}
