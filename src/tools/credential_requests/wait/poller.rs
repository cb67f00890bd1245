//! One poll loop per credential request and Make credential, shared by every wait on it.
//!
//! The first wait on a request starts a poller task; later waits on the same request
//! subscribe to what it publishes, so N waiters cost one Make request per interval. The key
//! holds the Make base URL and a digest of the credential the client sends, so a caller
//! never sees a request detail read with another caller's key. The poller stops, and its
//! entry goes, as soon as its last waiter leaves (the call ended, timed out, or was dropped
//! because its client cancelled or went away): the registry holds live polls only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::make::credential_requests::CredentialRequest;
use crate::make::{MakeClient, MakeError, jittered};

const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Ceiling of the delay after Make answered 429.
const MAX_THROTTLED_DELAY: Duration = Duration::from_secs(30);

/// What a poller has seen so far; waiters read the latest.
#[derive(Debug, Clone, Default)]
pub(super) struct Seen {
    /// The last request detail Make returned.
    pub(super) request: Option<Arc<CredentialRequest>>,
    /// The error of the latest poll, when it failed.
    pub(super) failure: Option<Failure>,
}

/// A failed poll.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) error: MakeError,
    /// Not a 429, 5xx or network failure: the poller stopped, and every wait ends with it.
    pub(super) lasting: bool,
}

/// Who is asking about which request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    base: Option<String>,
    credential: [u8; 32],
    request: String,
}

impl Key {
    fn new(make: &MakeClient, request: &str) -> Self {
        Self {
            base: make.base_url().map(|u| u.as_str().to_owned()),
            credential: make.credential_digest(),
            request: request.to_owned(),
        }
    }
}

struct Entry {
    sender: watch::Sender<Seen>,
    /// Tells this poller's entry from a later one under the same key.
    generation: u64,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<Key, Entry>,
    next_generation: u64,
}

/// The live polls of one process. Cloning shares them.
#[derive(Clone, Default)]
pub(crate) struct Polls {
    registry: Arc<Mutex<Registry>>,
}

impl Polls {
    /// Subscribes to the poll of request `id` as `make` sees it, starting the poll when none
    /// runs. The poll lasts as long as some receiver does.
    pub(super) fn subscribe(&self, make: &MakeClient, id: &str) -> watch::Receiver<Seen> {
        let key = Key::new(make, id);
        let mut registry = self.lock();
        if let Some(entry) = registry.entries.get(&key) {
            return entry.sender.subscribe();
        }
        let (sender, receiver) = watch::channel(Seen::default());
        let generation = registry.next_generation;
        registry.next_generation += 1;
        registry.entries.insert(
            key.clone(),
            Entry {
                sender: sender.clone(),
                generation,
            },
        );
        drop(registry);
        tokio::spawn(self.clone().run(key, generation, make.clone(), sender));
        receiver
    }

    /// How many polls are running (one per request and credential being waited on).
    #[cfg(test)]
    pub(super) fn running(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // The registry stays consistent between statements, so a poisoned lock is usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The poller task: polls until a lasting failure or until no waiter is left.
    async fn run(self, key: Key, generation: u64, make: MakeClient, sender: watch::Sender<Seen>) {
        let mut delay = FIRST_DELAY;
        loop {
            let lasting = tokio::select! {
                () = poll(&make, &key.request, &sender, &mut delay) => true,
                () = sender.closed() => false,
            };
            if self.finish(&key, generation, &sender, lasting) {
                return;
            }
        }
    }

    /// Removes the poller's entry and says to stop, unless a waiter subscribed after the
    /// last one left (the check and the removal are one step under the lock, so a waiter
    /// either finds the entry and keeps the poller going, or finds none and starts one).
    fn finish(
        &self,
        key: &Key,
        generation: u64,
        sender: &watch::Sender<Seen>,
        lasting: bool,
    ) -> bool {
        let mut registry = self.lock();
        if !lasting && sender.receiver_count() > 0 {
            return false;
        }
        if registry
            .entries
            .get(key)
            .is_some_and(|e| e.generation == generation)
        {
            registry.entries.remove(key);
        }
        true
    }
}

/// Polls request `id` and publishes each answer, about every second at first, backing off
/// to about five, with jitter; a 429 slows it further. Returns after a lasting failure.
async fn poll(make: &MakeClient, id: &str, sender: &watch::Sender<Seen>, delay: &mut Duration) {
    loop {
        let request = sender.borrow().request.clone();
        match make.credential_request_detail(id).await {
            Ok(detail) => {
                sender.send_replace(Seen {
                    request: Some(Arc::new(detail)),
                    failure: None,
                });
            }
            Err(error) if is_transient(&error) => {
                if is_throttled(&error) {
                    *delay = (*delay * 2).min(MAX_THROTTLED_DELAY);
                }
                tracing::debug!(error = %crate::logging::quote(&error), "transient error while waiting; polling on");
                let failure = Some(Failure {
                    error,
                    lasting: false,
                });
                sender.send_replace(Seen { request, failure });
            }
            Err(error) => {
                let failure = Some(Failure {
                    error,
                    lasting: true,
                });
                sender.send_replace(Seen { request, failure });
                return;
            }
        }
        tokio::time::sleep(jittered(*delay)).await;
        if *delay < MAX_DELAY {
            *delay = delay.mul_f64(1.5).min(MAX_DELAY);
        }
    }
}

/// 429s, the budget's refusals, 5xx, timeouts and refused connections pass; anything else
/// ends the wait.
pub(super) fn is_transient(e: &MakeError) -> bool {
    match e {
        MakeError::Api(api) => api.status == 429 || api.status >= 500,
        MakeError::Timeout { .. }
        | MakeError::Connect(_)
        | MakeError::Transport { .. }
        | MakeError::RateLimited { .. } => true,
        _ => false,
    }
}

/// Make's 429, or the server's own budget holding a poll back.
pub(super) fn is_throttled(e: &MakeError) -> bool {
    matches!(e, MakeError::Api(api) if api.status == 429)
        || matches!(e, MakeError::RateLimited { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tools::credential_requests::wait::tests::{KEY, client_for, make_answering};

    async fn polls_made(server: &wiremock::MockServer) -> usize {
        server.received_requests().await.unwrap().len()
    }

    /// Waits for the next answer the poller publishes.
    async fn next(receiver: &mut watch::Receiver<Seen>) -> Seen {
        receiver.changed().await.unwrap();
        receiver.borrow_and_update().clone()
    }

    /// Waits until no poll runs (the poller task removes its entry when it notices).
    async fn until_none_runs(polls: &Polls) {
        while polls.running() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn two_subscribers_share_one_poll_and_the_last_to_leave_stops_it() {
        let server = make_answering(200).await;
        let make = client_for(&server, KEY);
        let polls = Polls::default();
        let mut first = polls.subscribe(&make, "r1");
        let mut second = polls.subscribe(&make, "r1");
        assert_eq!(polls.running(), 1, "one poll for both");
        for _ in 0..3 {
            for receiver in [&mut first, &mut second] {
                let seen = next(receiver).await;
                assert_eq!(seen.request.unwrap().id, "r1");
            }
        }
        // Three answers each: one poll loop made three requests (a fourth may be on its
        // way); a loop per subscriber would have made six.
        let made = polls_made(&server).await;
        assert!(
            (3..=4).contains(&made),
            "{made} requests for two subscribers"
        );

        drop(first);
        next(&mut second).await;
        assert_eq!(polls.running(), 1, "it polls on for the one left");

        drop(second);
        until_none_runs(&polls).await;
        let stopped_at = polls_made(&server).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(
            polls_made(&server).await,
            stopped_at,
            "no poll after the last subscriber left"
        );
    }

    #[tokio::test]
    async fn another_credential_or_request_gets_its_own_poll() {
        let server = make_answering(200).await;
        let make = client_for(&server, KEY);
        let other = client_for(&server, "0f8e2c1a-1234-4abc-9def-0123456789ab");
        let polls = Polls::default();
        let mine = polls.subscribe(&make, "r1");
        let theirs = polls.subscribe(&other, "r1");
        let another_request = polls.subscribe(&make, "r2");
        assert_eq!(polls.running(), 3);
        drop((mine, theirs, another_request));
        until_none_runs(&polls).await;
    }

    #[tokio::test]
    async fn a_lasting_failure_ends_the_poll_and_a_new_subscriber_starts_over() {
        let server = make_answering(404).await;
        let make = client_for(&server, KEY);
        let polls = Polls::default();
        let mut receiver = polls.subscribe(&make, "r1");
        let seen = next(&mut receiver).await;
        assert!(seen.failure.is_some_and(|f| f.lasting));
        assert!(receiver.changed().await.is_err(), "the poller is gone");
        assert_eq!(polls.running(), 0);
        let _again = polls.subscribe(&make, "r1");
        assert_eq!(polls.running(), 1);
    }
}
