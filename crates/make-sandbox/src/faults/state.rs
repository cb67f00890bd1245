//! The runtime side of fault injection: scripted faults waiting for their requests, the
//! current plan, the random draws, and the count of API requests received.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{Fault, FaultPlan};

/// Faults scripted for the next matching requests.
#[derive(Debug)]
struct Scripted {
    fault: Fault,
    remaining: u32,
    /// Only requests with this method and a path under this prefix, when set.
    only: Option<(Method, String)>,
}

impl Scripted {
    fn matches(&self, method: &Method, path: &str) -> bool {
        match &self.only {
            None => true,
            Some((m, prefix)) => m == method && under(path, prefix),
        }
    }
}

/// True when `path` is `prefix` or lies below it (`/connections` covers
/// `/connections/1001`, not `/connections-x`).
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Paths are counted and matched relative to `/api/v2`, as the Make client names them.
pub(crate) fn api_path(path: &str) -> &str {
    match path.strip_prefix("/api/v2") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    }
}

#[derive(Debug)]
struct Inner {
    plan: FaultPlan,
    /// Replayable when the plan has a seed (not for anything secret).
    rng: StdRng,
    script: Vec<Scripted>,
    seen: BTreeMap<(String, String), u64>,
}

/// Shared by the middleware and the [`Sandbox`](crate::Sandbox) handle.
#[derive(Debug)]
pub(crate) struct FaultState {
    inner: Mutex<Inner>,
    /// Latency of `SandboxOptions::latency`, added to the plan's.
    base_latency: Option<Duration>,
}

/// What the middleware should do with one request.
pub(super) struct Decision {
    pub(crate) latency: Duration,
    pub(crate) fault: Option<Fault>,
}

impl FaultState {
    pub(crate) fn new(plan: FaultPlan, base_latency: Option<Duration>, entropy: u64) -> Self {
        let seed = plan.seed_value().unwrap_or(entropy);
        FaultState {
            inner: Mutex::new(Inner {
                plan,
                rng: StdRng::seed_from_u64(seed),
                script: Vec::new(),
                seen: BTreeMap::new(),
            }),
            base_latency,
        }
    }

    /// A panic elsewhere must not switch fault injection off for good.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub(crate) fn set_plan(&self, plan: FaultPlan) {
        let mut inner = self.lock();
        if let Some(seed) = plan.seed_value() {
            inner.rng = StdRng::seed_from_u64(seed);
        }
        inner.plan = plan;
    }

    pub(crate) fn script(&self, fault: Fault, times: u32, only: Option<(Method, String)>) {
        if times > 0 {
            self.lock().script.push(Scripted {
                fault,
                remaining: times,
                only,
            });
        }
    }

    pub(crate) fn clear_script(&self) {
        self.lock().script.clear();
    }

    /// How many scripted faults have not met their request yet.
    pub(crate) fn pending(&self) -> u32 {
        self.lock().script.iter().map(|s| s.remaining).sum()
    }

    pub(crate) fn seen(&self) -> RequestsSeen {
        RequestsSeen(self.lock().seen.clone())
    }

    pub(crate) fn reset_seen(&self) {
        self.lock().seen.clear();
    }

    /// Counts the request and decides its fate: the first scripted fault that matches
    /// (oldest first), else a draw against the plan.
    pub(super) fn decide(&self, method: &Method, path: &str) -> Decision {
        let path = api_path(path);
        let mut inner = self.lock();
        let draw: f64 = inner.rng.random();
        *inner
            .seen
            .entry((method.as_str().to_owned(), path.to_owned()))
            .or_default() += 1;
        let latency =
            self.base_latency.unwrap_or_default() + inner.plan.latency_value().unwrap_or_default();
        let scripted = inner.script.iter().position(|s| s.matches(method, path));
        let fault = match scripted {
            Some(i) => {
                let s = &mut inner.script[i];
                s.remaining -= 1;
                let fault = s.fault.clone();
                if s.remaining == 0 {
                    inner.script.remove(i);
                }
                Some(fault)
            }
            None => inner.plan.pick(draw).cloned(),
        };
        Decision { latency, fault }
    }
}

/// A snapshot of the API requests the sandbox received, per method and path (relative to
/// `/api/v2`, without the query), faulted ones included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestsSeen(BTreeMap<(String, String), u64>);

impl RequestsSeen {
    /// Requests with exactly this method and path, e.g.
    /// `count(&Method::POST, "/credential-requests/actions/create-by-credentials")`. A
    /// leading `/api/v2` is ignored.
    pub fn count(&self, method: &Method, path: &str) -> u64 {
        self.0
            .get(&(method.as_str().to_owned(), api_path(path).to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every API request received.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `(method, path, count)` for every method and path seen, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, u64)> {
        self.0
            .iter()
            .map(|((m, p), n)| (m.as_str(), p.as_str(), *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/connections/1001", "/connections"));
        assert!(under("/connections", "/connections/"));
        assert!(!under("/connections-x", "/connections"));
        assert!(under("/anything", "/"));
        assert_eq!(api_path("/api/v2/keys"), "/keys");
        assert_eq!(api_path("/keys"), "/keys");
        assert_eq!(api_path("/api/v22"), "/api/v22");
    }

    #[test]
    fn scripts_apply_in_order_to_matching_requests_and_are_counted() {
        let state = FaultState::new(FaultPlan::default(), None, 1);
        state.script(
            Fault::BadGateway,
            2,
            Some((Method::POST, "/connections".into())),
        );
        state.script(Fault::Drop, 1, None);
        assert_eq!(state.pending(), 3);
        let get = state.decide(&Method::GET, "/api/v2/connections");
        assert_eq!(
            get.fault,
            Some(Fault::Drop),
            "the POST-only script skips a GET"
        );
        for _ in 0..2 {
            let post = state.decide(&Method::POST, "/api/v2/connections");
            assert_eq!(post.fault, Some(Fault::BadGateway));
        }
        assert_eq!(
            state.decide(&Method::POST, "/api/v2/connections").fault,
            None
        );
        assert_eq!(state.pending(), 0);
        let seen = state.seen();
        assert_eq!(seen.count(&Method::POST, "/connections"), 3);
        assert_eq!(seen.count(&Method::GET, "/api/v2/connections"), 1);
        assert_eq!(seen.total(), 4);
        state.reset_seen();
        assert_eq!(state.seen().total(), 0);
    }

    #[test]
    fn draws_are_uniform_enough_and_replayable() {
        let plan = FaultPlan::default()
            .chance(Fault::InternalServerError, 0.3)
            .unwrap()
            .seed(7);
        let run = || {
            let state = FaultState::new(plan.clone(), None, 0);
            (0..10_000)
                .map(|_| state.decide(&Method::GET, "/x").fault.is_some())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run(), "same seed, same faults");
        let hits = first.iter().filter(|h| **h).count();
        assert!((2_700..3_300).contains(&hits), "{hits} of 10000 at p=0.3");
    }
}
