//! Which connections are open, what each is doing, and which one to close when a new
//! connection needs room.
//!
//! A connection is in one of three phases: `Idle` (no request yet, or a response sent and
//! nothing new arrived), `Headers` (bytes of a request arrived, its headers are not complete)
//! or `Busy` (a request is being read or answered, until its response body is done). Only
//! `Idle` and `Headers` connections may be closed to make room: they hold no call, and a
//! client that sent half a header or keeps a connection warm must not keep a slot from
//! someone with a request to make. `Busy` ones are never cut, and neither is a connection
//! younger than [`FRESH`] from which nothing has arrived yet: in a burst of new clients, the
//! server may not have read a new connection's request yet, and closing it would drop a
//! request its client already sent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::Instant;

/// How long a new connection is safe from being closed to make room, until its first
/// request: long enough for the server to read a request its client sent at once, short
/// enough that connections that never send one cannot keep their slots.
pub(crate) const FRESH: Duration = Duration::from_secs(1);

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    Headers,
    Busy,
    /// Chosen to make room: its task closes it.
    Evicted,
}

#[derive(Debug)]
struct Activity {
    phase: Phase,
    since: Instant,
    /// Whether a request has been started on this connection.
    served: bool,
}

/// One open connection, shared by its task, its requests and the acceptor.
#[derive(Debug)]
pub(crate) struct Tracked {
    ip: IpAddr,
    /// Until then, and before its first request, the connection is not closed to make room.
    fresh_until: Instant,
    activity: Mutex<Activity>,
    /// Wakes the connection's task when its deadline moves or it is evicted.
    wake: Notify,
}

/// When the connection's task must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// A request is being answered: no deadline.
    None,
    /// Close the connection at this instant unless it has moved on by then.
    At(Instant),
    /// Close it now (evicted).
    Now,
}

impl Tracked {
    fn new(ip: IpAddr, fresh: Duration) -> Self {
        let now = Instant::now();
        Self {
            ip,
            fresh_until: now + fresh,
            activity: Mutex::new(Activity {
                phase: Phase::Idle,
                since: now,
                served: false,
            }),
            wake: Notify::new(),
        }
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        // A poisoned lock only means a panic elsewhere; the phase itself is always valid.
        self.activity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived: an idle connection is now sending a request's headers, and its
    /// deadline changes (to sooner, when the header timeout is the shorter).
    pub(crate) fn saw_bytes(&self) {
        let mut activity = self.activity();
        if activity.phase == Phase::Idle {
            activity.phase = Phase::Headers;
            activity.since = Instant::now();
            drop(activity);
            self.wake.notify_one();
        }
    }

    /// A request's headers are complete and it is about to be served. False when the
    /// connection was evicted meanwhile: the request must not be started.
    pub(crate) fn begin_request(&self) -> bool {
        let mut activity = self.activity();
        if activity.phase == Phase::Evicted {
            return false;
        }
        activity.phase = Phase::Busy;
        activity.since = Instant::now();
        activity.served = true;
        true
    }

    /// The response has been sent (or dropped): the connection is idle again.
    pub(crate) fn end_request(&self) {
        let mut activity = self.activity();
        if activity.phase == Phase::Busy {
            activity.phase = Phase::Idle;
            activity.since = Instant::now();
        }
        drop(activity);
        self.wake.notify_one();
    }

    /// The current deadline: `idle` after going idle, `headers` after the first byte of a
    /// request.
    pub(crate) fn deadline(&self, idle: Duration, headers: Duration) -> Deadline {
        let activity = self.activity();
        match activity.phase {
            Phase::Idle => Deadline::At(activity.since + idle),
            Phase::Headers => Deadline::At(activity.since + headers),
            Phase::Busy => Deadline::None,
            Phase::Evicted => Deadline::Now,
        }
    }

    /// Resolves when the deadline may have changed (see [`Tracked::deadline`]).
    pub(crate) async fn changed(&self) {
        self.wake.notified().await;
    }

    /// Whether the connection may be closed to make room: in its headers, or idle and not a
    /// [`FRESH`] one that has sent nothing yet. A fresh connection whose first bytes arrived
    /// is not spared: its request is not on its way but stalled (a client sends its headers
    /// at once), and sparing it would let a client that reconnects every second with half a
    /// header hold its address's slots for good.
    fn evictable(&self, activity: &Activity) -> bool {
        match activity.phase {
            Phase::Headers => true,
            Phase::Idle => activity.served || Instant::now() >= self.fresh_until,
            Phase::Busy | Phase::Evicted => false,
        }
    }

    /// Since when the connection has been idle or in its headers, if it may be closed to
    /// make room.
    fn waiting_since(&self) -> Option<Instant> {
        let activity = self.activity();
        self.evictable(&activity).then_some(activity.since)
    }

    /// Evicts the connection if it still may be.
    fn evict(&self) -> bool {
        let mut activity = self.activity();
        if !self.evictable(&activity) {
            return false;
        }
        activity.phase = Phase::Evicted;
        drop(activity);
        self.wake.notify_one();
        true
    }
}

/// Every open connection, and how many each client address has.
#[derive(Debug)]
pub(crate) struct Registry {
    /// How long a new connection is safe before its first request ([`FRESH`]).
    fresh: Duration,
    inner: Mutex<Inner>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::with_fresh(FRESH)
    }
}

#[derive(Debug, Default)]
struct Inner {
    open: HashMap<u64, Arc<Tracked>>,
    per_ip: HashMap<IpAddr, usize>,
    next_id: u64,
}

impl Registry {
    /// A registry whose new connections are safe for `fresh` before their first request.
    pub(crate) fn with_fresh(fresh: Duration) -> Self {
        Self {
            fresh,
            inner: Mutex::default(),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new connection from `ip`; it stays recorded (and keeps `slot`) until the
    /// returned registration is dropped.
    pub(crate) fn register(
        self: &Arc<Self>,
        ip: IpAddr,
        slot: OwnedSemaphorePermit,
    ) -> Registration {
        let tracked = Arc::new(Tracked::new(ip, self.fresh));
        let mut inner = self.inner();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(id, tracked.clone());
        *inner.per_ip.entry(ip).or_default() += 1;
        Registration {
            registry: self.clone(),
            id,
            tracked,
            _slot: slot,
        }
    }

    /// How many connections `ip` has open.
    pub(crate) fn count(&self, ip: IpAddr) -> usize {
        self.inner().per_ip.get(&ip).copied().unwrap_or(0)
    }

    /// Closes the connection (of `ip`, or of anyone) that has been idle or in its headers
    /// the longest. False when none may be closed (all busy, or fresh).
    pub(crate) fn evict_longest_waiting(&self, ip: Option<IpAddr>) -> bool {
        let inner = self.inner();
        let mut candidates: Vec<(Instant, &Arc<Tracked>)> = inner
            .open
            .values()
            .filter(|t| ip.is_none_or(|ip| t.ip == ip))
            .filter_map(|t| t.waiting_since().map(|since| (since, t)))
            .collect();
        candidates.sort_by_key(|(since, _)| *since);
        // The phase may change between the look and the eviction: try the next one then.
        candidates.into_iter().any(|(_, t)| t.evict())
    }
}

/// A connection's entry in the registry (and its connection slot), released on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: Arc<Registry>,
    id: u64,
    pub(crate) tracked: Arc<Tracked>,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.registry.inner();
        inner.open.remove(&self.id);
        if let Some(n) = inner.per_ip.get_mut(&self.tracked.ip) {
            *n -= 1;
            if *n == 0 {
                inner.per_ip.remove(&self.tracked.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use tokio::sync::Semaphore;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    const S: Duration = Duration::from_secs(10);

    fn slot(slots: &Arc<Semaphore>) -> OwnedSemaphorePermit {
        slots.clone().try_acquire_owned().unwrap()
    }

    /// Lets the clock move on, so that the next phase change is strictly later.
    fn tick() {
        std::thread::sleep(Duration::from_millis(2));
    }

    #[test]
    fn the_longest_waiting_connection_is_evicted_and_busy_ones_never() {
        let registry = Arc::new(Registry::with_fresh(Duration::ZERO));
        let slots = Arc::new(Semaphore::new(8));
        let busy = registry.register(A, slot(&slots));
        assert!(busy.tracked.begin_request());
        tick();
        let old = registry.register(A, slot(&slots));
        tick();
        let young = registry.register(B, slot(&slots));
        young.tracked.saw_bytes();

        assert!(registry.evict_longest_waiting(None));
        assert_eq!(old.tracked.deadline(S, S), Deadline::Now);
        assert_ne!(young.tracked.deadline(S, S), Deadline::Now);
        assert_eq!(busy.tracked.deadline(S, S), Deadline::None);
        // An evicted connection cannot start a request.
        assert!(!old.tracked.begin_request());

        // Only A's connections are candidates for A, and its busy one is not one.
        assert!(!registry.evict_longest_waiting(Some(A)));
        assert!(registry.evict_longest_waiting(Some(B)));
        assert!(!registry.evict_longest_waiting(None));
        // Once its response is done, the busy one can make room too.
        busy.tracked.end_request();
        assert!(registry.evict_longest_waiting(Some(A)));
    }

    #[test]
    fn a_fresh_connection_is_safe_until_its_first_request() {
        let registry = Arc::new(Registry::default());
        let slots = Arc::new(Semaphore::new(2));
        let fresh = registry.register(A, slot(&slots));
        assert!(
            !registry.evict_longest_waiting(None),
            "a fresh one is not closed"
        );
        // Once it has served a request, an idle keep-alive connection can make room.
        assert!(fresh.tracked.begin_request());
        fresh.tracked.end_request();
        assert!(registry.evict_longest_waiting(None));

        let aged = Arc::new(Registry::with_fresh(Duration::from_millis(1)));
        let silent = aged.register(A, slot(&slots));
        tick();
        assert!(
            aged.evict_longest_waiting(None),
            "a silent one past its grace is"
        );
        assert_eq!(silent.tracked.deadline(S, S), Deadline::Now);
    }

    #[test]
    fn a_fresh_connection_stalled_in_its_headers_is_not_spared() {
        let registry = Arc::new(Registry::default());
        let slots = Arc::new(Semaphore::new(2));
        let silent = registry.register(A, slot(&slots));
        let half_sent = registry.register(A, slot(&slots));
        half_sent.tracked.saw_bytes();
        assert!(registry.evict_longest_waiting(Some(A)));
        assert_eq!(half_sent.tracked.deadline(S, S), Deadline::Now);
        assert_ne!(silent.tracked.deadline(S, S), Deadline::Now);
        assert!(
            !registry.evict_longest_waiting(Some(A)),
            "the silent fresh one is still spared"
        );
    }

    #[test]
    fn deadlines_follow_the_phase() {
        let registry = Arc::new(Registry::default());
        let slots = Arc::new(Semaphore::new(1));
        let conn = registry.register(A, slot(&slots));
        let idle = Duration::from_secs(3);
        let headers = Duration::from_secs(7);
        let Deadline::At(opened) = conn.tracked.deadline(idle, headers) else {
            panic!("a new connection is idle")
        };
        tick();
        conn.tracked.saw_bytes();
        let Deadline::At(in_headers) = conn.tracked.deadline(idle, headers) else {
            panic!("a connection in its headers has a deadline")
        };
        assert!(
            in_headers > opened + (headers - idle),
            "{in_headers:?} {opened:?}"
        );
        // More bytes of the same request do not move the header deadline.
        tick();
        conn.tracked.saw_bytes();
        assert_eq!(
            conn.tracked.deadline(idle, headers),
            Deadline::At(in_headers)
        );
        assert!(conn.tracked.begin_request());
        assert_eq!(conn.tracked.deadline(idle, headers), Deadline::None);
        conn.tracked.end_request();
        let Deadline::At(idle_again) = conn.tracked.deadline(idle, headers) else {
            panic!("idle again after the response")
        };
        assert!(idle_again > opened, "{idle_again:?} {opened:?}");
    }

    #[test]
    fn counts_per_address_fall_when_connections_close() {
        let registry = Arc::new(Registry::default());
        let slots = Arc::new(Semaphore::new(3));
        let a1 = registry.register(A, slot(&slots));
        let a2 = registry.register(A, slot(&slots));
        let b = registry.register(B, slot(&slots));
        assert_eq!((registry.count(A), registry.count(B)), (2, 1));
        drop(a1);
        drop(b);
        assert_eq!((registry.count(A), registry.count(B)), (1, 0));
        assert_eq!(slots.available_permits(), 2);
        drop(a2);
        assert!(registry.inner().per_ip.is_empty() && registry.inner().open.is_empty());
    }
}
