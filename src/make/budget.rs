//! Make's request limit, kept per Make organization and shared fairly among its people.
//!
//! Make allows each organization a number of API requests a minute (60 on the smallest
//! plans) and answers 429 past it. This replica keeps its part of that budget
//! ([`BudgetSettings::per_window`]) for each organization in a sliding log of the slots
//! taken in the last [`WINDOW`], so no window of that length ever holds more. Every HTTP
//! request to Make (each retry too) takes a slot before it is sent.
//!
//! Fairness is max-min: a person may take a slot when the organization has one free and the
//! person holds fewer than their share, the budget (less a hold-back) divided by the people
//! who called in the window. A person alone may use all of it but the hold-back, so someone
//! arriving while another's agent runs flat out is served at once, and from then on the
//! slots that free up go to whoever is under their share.
//!
//! A slot that frees within [`BudgetSettings::max_wait`] is waited for inside the call;
//! otherwise the call is refused with how long to wait ([`Denied`]), and nothing is sent.
//! A 429 from Make that still comes back pauses the organization on this replica for its
//! `Retry-After` ([`Budget::pause`]).
//!
//! Memory is bounded: a log holds at most the budget's slots, people and organizations idle
//! for a window are dropped. The state lives in this process only (no database round trip
//! per request): replicas divide the budget (docs/team.md says how).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::metrics::{Metrics, OrganizationSeries};

/// The length of the sliding window: Make's minute plus a second, so that requests that
/// take different times to reach Make cannot crowd more than the budget into Make's minute.
pub const WINDOW: Duration = Duration::from_secs(61);
/// How long a 429 without `Retry-After` pauses its organization.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(10);
/// The longest pause a `Retry-After` can ask for: Make's window is one minute.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);
/// Requests a minute per organization in team mode unless configured: Make's smallest plans.
pub const DEFAULT_PER_MINUTE: u32 = 60;
/// The default longest wait for a slot inside a call.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(5);

/// The Make organization a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Organization {
    /// Make's organization id.
    Id(u64),
    /// Not known (the person's grant cannot list organizations, the look-up failed, the
    /// static token): everyone unknown shares one budget.
    Unknown,
}

impl std::fmt::Display for Organization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Organization::Id(id) => write!(f, "{id}"),
            Organization::Unknown => f.write_str("unknown"),
        }
    }
}

/// Who spends a request: the organization and, within it, the person (their Make user id,
/// or the static token's label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spender {
    pub organization: Organization,
    pub person: Arc<str>,
    /// The requests a minute the organization's plan allows, as Make reported it at the
    /// person's sign-in (`license.apiLimit`), when known: see [`PlanLimit`].
    pub plan_limit: Option<u32>,
}

/// What an organization's own limit, as Make reports it, does to its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanLimit {
    /// It replaces the budget (the budget is a default): an organization on a larger plan
    /// gets its plan's requests.
    Replaces,
    /// It only lowers the budget (the operator set the budget): a smaller plan's limit
    /// still holds, since Make would answer 429 past it anyway.
    Lowers,
}

/// How the budget is kept on this replica.
#[derive(Debug, Clone)]
pub struct BudgetSettings {
    /// Requests each organization may send through this replica per [`WINDOW`]; `None`
    /// counts requests per organization without limiting them.
    pub per_window: Option<u32>,
    /// The longest a call waits for a slot before it is refused instead.
    pub max_wait: Duration,
    /// Hold back a tenth of the budget from a person alone (team mode), for people who
    /// arrive while someone else's agent is using all the rest.
    pub hold_back: bool,
    /// What an organization's plan limit (per minute, for all replicas) does to its budget.
    pub plan_limit: PlanLimit,
    /// How many replicas divide a plan limit (as `per_window` already is).
    pub replicas: u32,
}

/// Why a request was held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// The organization used its whole budget on this replica.
    Organization { per_window: u32 },
    /// The person used their share while others of the organization are calling too.
    Share {
        share: u32,
        per_window: u32,
        people: u32,
    },
    /// Make answered 429: the organization's calls are paused.
    Paused,
}

/// A refused request: nothing was sent; `retry_after` says when a slot frees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub retry_after: Duration,
    pub why: Held,
}

/// A taken slot: where the request it is for is counted.
#[derive(Debug, Clone)]
pub struct Slot {
    series: Option<OrganizationSeries>,
}

impl Slot {
    /// Counts the request's answer (`None`: no HTTP answer) for its organization.
    pub fn answered(&self, status: Option<u16>) {
        if let Some(series) = &self.series {
            series.request(status);
        }
    }
}

/// One replica's budgets, per organization. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

struct Inner {
    settings: BudgetSettings,
    /// Where organizations' series are created: the server's registry, once it is known.
    metrics: OnceLock<Metrics>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    organizations: HashMap<Organization, Ledger>,
    /// When idle organizations were last removed.
    swept: Option<Instant>,
}

/// One organization's window on this replica.
struct Ledger {
    /// Slots taken in the window, oldest first, with whose they are.
    log: VecDeque<(Instant, Arc<str>)>,
    /// Slots each person holds in the window.
    held: HashMap<Arc<str>, u32>,
    /// When each person last asked for a slot (taken or not), within the window: the
    /// people the budget is shared among.
    asked: HashMap<Arc<str>, Instant>,
    paused_until: Option<Instant>,
    last_used: Instant,
    series: Option<OrganizationSeries>,
    /// The organization's plan limit, as the latest person who brought one reported it.
    plan_limit: Option<u32>,
}

impl Ledger {
    fn new(now: Instant, series: Option<OrganizationSeries>) -> Self {
        Self {
            log: VecDeque::new(),
            held: HashMap::new(),
            asked: HashMap::new(),
            paused_until: None,
            last_used: now,
            series,
            plan_limit: None,
        }
    }

    /// Drops what is older than the window.
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.log.front()
            && *at + WINDOW <= now
        {
            let (_, person) = self.log.pop_front().expect("just seen");
            if let Some(n) = self.held.get_mut(&person) {
                *n -= 1;
                if *n == 0 {
                    self.held.remove(&person);
                }
            }
        }
        self.asked.retain(|_, at| *at + WINDOW > now);
        if self.paused_until.is_some_and(|until| until <= now) {
            self.paused_until = None;
        }
    }

    fn idle(&self, now: Instant) -> bool {
        self.log.is_empty() && self.paused_until.is_none() && self.last_used + WINDOW <= now
    }

    /// When the `nth` (0-based) oldest slot matching `whose` leaves the window.
    fn frees(&self, nth: usize, whose: Option<&str>, now: Instant) -> Duration {
        self.log
            .iter()
            .filter(|(_, p)| whose.is_none_or(|w| **p == *w))
            .nth(nth)
            .map(|(at, _)| (*at + WINDOW).saturating_duration_since(now))
            .unwrap_or_default()
    }
}

impl Budget {
    /// A budget kept by `settings`.
    pub fn new(settings: BudgetSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                metrics: OnceLock::new(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Counts each organization's requests into `metrics` from now on (the first registry
    /// given wins: one budget, one server).
    pub(crate) fn count_into(&self, metrics: &Metrics) {
        let _ = self.inner.metrics.set(metrics.clone());
    }

    /// This replica's requests per window per organization (`None`: not limited).
    pub fn per_window(&self) -> Option<u32> {
        self.inner.settings.per_window
    }

    /// Takes a slot for `who`, waiting up to the settings' `max_wait` for one; refuses
    /// with the time to wait when that is longer.
    pub async fn take(&self, who: &Spender) -> Result<Slot, Denied> {
        let deadline = Instant::now() + self.inner.settings.max_wait;
        loop {
            let now = Instant::now();
            match self.try_take(who, now) {
                Ok(slot) => return Ok(slot),
                Err(denied) if now + denied.retry_after <= deadline => {
                    tokio::time::sleep(denied.retry_after).await;
                }
                Err(denied) => {
                    if let Some(series) = self.series_of(&who.organization) {
                        series.held_back(&denied.why);
                    }
                    return Err(denied);
                }
            }
        }
    }

    /// Takes a slot for `who` at `now`, or says how long until one frees for them.
    fn try_take(&self, who: &Spender, now: Instant) -> Result<Slot, Denied> {
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        self.sweep(&mut state, now);
        let ledger = self.ledger(&mut state, &who.organization, now);
        ledger.last_used = now;
        if who.plan_limit.is_some() {
            ledger.plan_limit = who.plan_limit;
        }
        let Some(per_window) = self.per_window_of(ledger.plan_limit) else {
            return Ok(Slot {
                series: ledger.series.clone(),
            });
        };
        ledger.expire(now);
        ledger.asked.insert(Arc::clone(&who.person), now);
        if let Some(until) = ledger.paused_until {
            return Err(Denied {
                retry_after: until - now,
                why: Held::Paused,
            });
        }
        let people = u32::try_from(ledger.asked.len()).unwrap_or(u32::MAX);
        let share = self.share(per_window, people);
        let used = ledger.log.len();
        let mine = ledger.held.get(&who.person).copied().unwrap_or(0);
        let budget = per_window as usize;
        if used < budget && mine < share {
            ledger.log.push_back((now, Arc::clone(&who.person)));
            *ledger.held.entry(Arc::clone(&who.person)).or_insert(0) += 1;
            return Ok(Slot {
                series: ledger.series.clone(),
            });
        }
        let for_me = if mine >= share {
            ledger.frees((mine - share) as usize, Some(&who.person), now)
        } else {
            Duration::ZERO
        };
        let for_all = if used >= budget {
            ledger.frees(used - budget, None, now)
        } else {
            Duration::ZERO
        };
        let why = if mine >= share {
            Held::Share {
                share,
                per_window,
                people,
            }
        } else {
            Held::Organization { per_window }
        };
        Err(Denied {
            retry_after: for_me.max(for_all),
            why,
        })
    }

    /// Counts a request that was sent without a slot (the sign-in's look-up of the person's
    /// organization, whose budget was not known before it answered): it holds a slot like
    /// any other until it leaves the window, even past the budget.
    pub fn spent(&self, who: &Spender, status: Option<u16>) {
        let now = Instant::now();
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let ledger = self.ledger(&mut state, &who.organization, now);
        ledger.last_used = now;
        if let Some(series) = &ledger.series {
            series.request(status);
        }
        if self.inner.settings.per_window.is_some() {
            ledger.expire(now);
            ledger.asked.insert(Arc::clone(&who.person), now);
            ledger.log.push_back((now, Arc::clone(&who.person)));
            *ledger.held.entry(Arc::clone(&who.person)).or_insert(0) += 1;
        }
    }

    /// This replica's requests per window for an organization whose plan allows
    /// `plan_limit` a minute (for all replicas), when known.
    fn per_window_of(&self, plan_limit: Option<u32>) -> Option<u32> {
        let settings = &self.inner.settings;
        let set = settings.per_window?;
        let Some(plan) = plan_limit else {
            return Some(set);
        };
        let from_plan = (plan / settings.replicas.max(1)).max(1);
        Some(match settings.plan_limit {
            PlanLimit::Replaces => from_plan,
            PlanLimit::Lowers => set.min(from_plan),
        })
    }

    /// A person's share of `per_window` among `people`: the budget less the hold-back,
    /// divided evenly and rounded up, at least one.
    fn share(&self, per_window: u32, people: u32) -> u32 {
        let held_back = if self.inner.settings.hold_back {
            per_window / 10
        } else {
            0
        };
        (per_window - held_back).div_ceil(people.max(1)).max(1)
    }

    /// Pauses `organization`'s requests on this replica: Make answered 429, with
    /// `retry_after` when it said how long (capped at [`MAX_PAUSE`]; [`DEFAULT_PAUSE`]
    /// without it). A budget that does not limit does not pause.
    pub fn pause(&self, organization: &Organization, retry_after: Option<Duration>) {
        self.pause_at(organization, retry_after, Instant::now());
    }

    /// How long `organization`'s pause on this replica lasts from now, when it is paused.
    pub fn pause_left(&self, organization: &Organization) -> Option<Duration> {
        let now = Instant::now();
        let state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let until = state.organizations.get(organization)?.paused_until?;
        (until > now).then(|| until - now)
    }

    fn pause_at(&self, organization: &Organization, retry_after: Option<Duration>, now: Instant) {
        if self.inner.settings.per_window.is_none() {
            return;
        }
        let pause = retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_PAUSE);
        let mut state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let ledger = self.ledger(&mut state, organization, now);
        let until = now + pause;
        ledger.paused_until = Some(ledger.paused_until.map_or(until, |u| u.max(until)));
        tracing::warn!(organization = %organization, pause_secs = pause.as_secs(), "Make answered 429: this organization's calls pause on this replica");
    }

    fn ledger<'a>(
        &self,
        state: &'a mut State,
        organization: &Organization,
        now: Instant,
    ) -> &'a mut Ledger {
        state
            .organizations
            .entry(organization.clone())
            .or_insert_with(|| {
                let series = self
                    .inner
                    .metrics
                    .get()
                    .map(|m| m.organization(&organization.to_string()));
                Ledger::new(now, series)
            })
    }

    /// The metric series of `organization`, if it has a ledger.
    fn series_of(&self, organization: &Organization) -> Option<OrganizationSeries> {
        let state = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        state.organizations.get(organization)?.series.clone()
    }

    /// Removes organizations idle for a window, at most once a window.
    fn sweep(&self, state: &mut State, now: Instant) {
        if state.swept.is_some_and(|at| at + WINDOW > now) {
            return;
        }
        state.swept = Some(now);
        state.organizations.retain(|_, ledger| {
            ledger.expire(now);
            !ledger.idle(now)
        });
    }

    /// How many organizations this replica keeps a ledger for.
    #[cfg(test)]
    fn organizations(&self) -> usize {
        self.inner.state.lock().unwrap().organizations.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(per_window: u32, hold_back: bool) -> Budget {
        Budget::new(BudgetSettings {
            per_window: Some(per_window),
            max_wait: Duration::from_secs(3),
            hold_back,
            plan_limit: PlanLimit::Lowers,
            replicas: 1,
        })
    }

    fn who(organization: u64, person: &str) -> Spender {
        Spender {
            organization: Organization::Id(organization),
            person: person.into(),
            plan_limit: None,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Takes slots for `spender` at `at` until refused; returns how many and the refusal.
    fn drain(b: &Budget, spender: &Spender, at: Instant) -> (u32, Denied) {
        let mut taken = 0;
        loop {
            match b.try_take(spender, at) {
                Ok(_) => taken += 1,
                Err(denied) => return (taken, denied),
            }
        }
    }

    #[test]
    fn a_person_alone_uses_the_budget_and_the_window_slides() {
        let b = budget(10, false);
        let t0 = Instant::now();
        let ada = who(1, "ada");
        for i in 0..10 {
            assert!(b.try_take(&ada, t0 + secs(i)).is_ok(), "slot {i}");
        }
        let denied = b.try_take(&ada, t0 + secs(30)).unwrap_err();
        // Her own share is the whole budget, so it is her share that binds.
        assert_eq!(
            denied.why,
            Held::Share {
                share: 10,
                per_window: 10,
                people: 1
            }
        );
        assert_eq!(denied.retry_after, WINDOW - secs(30));
        // The first slot leaves the window at t0 + WINDOW, the second a second later.
        assert!(
            b.try_take(&ada, t0 + WINDOW - Duration::from_millis(1))
                .is_err()
        );
        assert!(b.try_take(&ada, t0 + WINDOW).is_ok());
        assert!(b.try_take(&ada, t0 + WINDOW).is_err());
        assert!(b.try_take(&ada, t0 + WINDOW + secs(1)).is_ok());
    }

    #[test]
    fn no_window_ever_holds_more_than_the_budget() {
        let b = budget(7, true);
        let t0 = Instant::now();
        let people = [who(1, "ada"), who(1, "grace"), who(1, "linus")];
        let mut sent = Vec::new();
        // Three people asking every 100 ms for five minutes.
        for tick in 0..3000u64 {
            let at = t0 + Duration::from_millis(100 * tick);
            let p = &people[(tick % 3) as usize];
            if b.try_take(p, at).is_ok() {
                sent.push(at);
            }
        }
        for (i, start) in sent.iter().enumerate() {
            let within = sent[i..]
                .iter()
                .take_while(|t| **t < *start + WINDOW)
                .count();
            assert!(
                within <= 7,
                "{within} requests in the window from {start:?}"
            );
        }
        // And the budget is used, not left idle: about 7 per window over five minutes.
        assert!(sent.len() >= 7 * 4, "{}", sent.len());
    }

    #[test]
    fn a_runaway_cannot_take_the_slots_of_someone_who_arrives_later() {
        let b = budget(20, true);
        let t0 = Instant::now();
        let runaway = who(1, "runaway");
        let grace = who(1, "grace");
        // Alone, the runaway gets everything but the hold-back (2 of 20): one a second.
        for i in 0..18 {
            assert!(b.try_take(&runaway, t0 + secs(i)).is_ok(), "slot {i}");
        }
        let denied = b.try_take(&runaway, t0 + secs(18)).unwrap_err();
        assert!(matches!(denied.why, Held::Share { share: 18, .. }));
        // Grace arrives: the hold-back serves her at once...
        assert!(b.try_take(&grace, t0 + secs(20)).is_ok());
        assert!(b.try_take(&grace, t0 + secs(20)).is_ok());
        // ...then the organization is full until the runaway's first slot expires.
        let denied = b.try_take(&grace, t0 + secs(21)).unwrap_err();
        assert_eq!(
            denied,
            Denied {
                retry_after: WINDOW - secs(21),
                why: Held::Organization { per_window: 20 }
            }
        );
        // Slots that free go to grace (under her share of 9), not to the runaway (over it,
        // until its tenth slot leaves the window).
        for i in 0..7 {
            let at = t0 + WINDOW + secs(i);
            let denied = b.try_take(&runaway, at).unwrap_err();
            assert_eq!(
                denied.why,
                Held::Share {
                    share: 9,
                    per_window: 20,
                    people: 2
                }
            );
            assert_eq!(denied.retry_after, secs(9 - i), "at +{i}");
            assert!(b.try_take(&grace, at).is_ok(), "grace at +{i}");
            assert!(b.try_take(&grace, at).is_err(), "one freed slot at +{i}");
        }
        // Grace now holds her share: the next freed slot is the runaway's again.
        let at = t0 + WINDOW + secs(9);
        assert!(matches!(
            b.try_take(&grace, at).unwrap_err().why,
            Held::Share { share: 9, .. }
        ));
        assert!(b.try_take(&runaway, at).is_ok());
    }

    #[test]
    fn shares_follow_the_people_in_the_window() {
        let b = budget(12, false);
        let t0 = Instant::now();
        let (a, g, l) = (who(1, "ada"), who(1, "grace"), who(1, "linus"));
        assert!(b.try_take(&g, t0).is_ok());
        assert!(b.try_take(&l, t0).is_ok());
        // Three people in the window: four slots each.
        let (taken, denied) = drain(&b, &a, t0);
        assert_eq!(taken, 4);
        assert_eq!(
            denied.why,
            Held::Share {
                share: 4,
                per_window: 12,
                people: 3
            }
        );
        // Once grace and linus have been quiet for a window, ada has it all.
        let later = t0 + WINDOW;
        let (taken, _) = drain(&b, &a, later);
        assert_eq!(taken, 12);
    }

    #[test]
    fn a_request_sent_without_a_slot_still_holds_one() {
        let b = budget(3, false);
        let ada = who(1, "ada");
        b.spent(&ada, Some(200));
        let (taken, _) = drain(&b, &ada, Instant::now());
        assert_eq!(taken, 2);
    }

    #[test]
    fn organizations_are_apart() {
        let b = budget(3, false);
        let t0 = Instant::now();
        let (taken, _) = drain(&b, &who(1, "ada"), t0);
        assert_eq!(taken, 3);
        let (taken, _) = drain(&b, &who(2, "ada"), t0);
        assert_eq!(taken, 3);
        let unknown = Spender {
            organization: Organization::Unknown,
            person: "someone".into(),
            plan_limit: None,
        };
        let (taken, _) = drain(&b, &unknown, t0);
        assert_eq!(taken, 3);
    }

    #[test]
    fn a_429_pauses_the_whole_organization_for_its_retry_after_capped() {
        let b = budget(100, false);
        let t0 = Instant::now();
        b.pause_at(&Organization::Id(1), Some(secs(7)), t0);
        for person in ["ada", "grace"] {
            let denied = b.try_take(&who(1, person), t0 + secs(2)).unwrap_err();
            assert_eq!(
                denied,
                Denied {
                    retry_after: secs(5),
                    why: Held::Paused
                }
            );
        }
        assert!(
            b.try_take(&who(2, "linus"), t0).is_ok(),
            "another organization"
        );
        assert!(b.try_take(&who(1, "ada"), t0 + secs(7)).is_ok());
        // A long Retry-After is capped; none at all pauses for the default.
        b.pause_at(&Organization::Id(1), Some(secs(3600)), t0 + secs(10));
        let denied = b.try_take(&who(1, "ada"), t0 + secs(10)).unwrap_err();
        assert_eq!(denied.retry_after, MAX_PAUSE);
        b.pause_at(&Organization::Id(2), None, t0);
        assert_eq!(
            b.try_take(&who(2, "linus"), t0).unwrap_err().retry_after,
            DEFAULT_PAUSE
        );
    }

    #[test]
    fn a_budget_that_only_counts_never_refuses_or_pauses() {
        let b = Budget::new(BudgetSettings {
            per_window: None,
            max_wait: Duration::ZERO,
            hold_back: true,
            plan_limit: PlanLimit::Replaces,
            replicas: 1,
        });
        let t0 = Instant::now();
        b.pause_at(&Organization::Id(1), Some(secs(30)), t0);
        let on_a_plan = Spender {
            plan_limit: Some(10),
            ..who(1, "ada")
        };
        for _ in 0..1000 {
            assert!(b.try_take(&on_a_plan, t0).is_ok());
        }
    }

    #[test]
    fn the_plans_limit_replaces_a_default_budget_and_lowers_a_set_one() {
        let settings = |plan_limit, replicas| BudgetSettings {
            per_window: Some(60 / replicas),
            max_wait: Duration::ZERO,
            hold_back: false,
            plan_limit,
            replicas,
        };
        let on_plan = |organization, plan| Spender {
            plan_limit: Some(plan),
            ..who(organization, "ada")
        };
        let t0 = Instant::now();
        // A default budget of 60 on two replicas (30 each): an organization on a 240 plan
        // gets 120 here, one on a 20 plan gets 10, one Make said nothing of keeps 30.
        let default = Budget::new(settings(PlanLimit::Replaces, 2));
        let (n, _) = drain(&default, &on_plan(1, 240), t0);
        assert_eq!(n, 120);
        let (n, denied) = drain(&default, &on_plan(2, 20), t0);
        assert_eq!(n, 10);
        assert!(
            matches!(denied.why, Held::Share { per_window: 10, .. }),
            "{denied:?}"
        );
        assert_eq!(drain(&default, &who(3, "ada"), t0).0, 30);
        // The organization's ledger keeps the plan for people who did not bring it.
        let denied = default.try_take(&who(1, "grace"), t0).unwrap_err();
        assert_eq!(denied.why, Held::Organization { per_window: 120 });
        // A set budget of 60 (30 here): a larger plan does not raise it, a smaller lowers it.
        let set = Budget::new(settings(PlanLimit::Lowers, 2));
        assert_eq!(drain(&set, &on_plan(1, 240), t0).0, 30);
        assert_eq!(drain(&set, &on_plan(2, 20), t0).0, 10);
        // A plan smaller than the replicas still leaves each one request.
        let tiny = Budget::new(settings(PlanLimit::Replaces, 2));
        assert_eq!(drain(&tiny, &on_plan(1, 1), t0).0, 1);
    }

    #[test]
    fn idle_organizations_and_people_are_forgotten() {
        let b = budget(5, false);
        let t0 = Instant::now();
        for org in 0..100 {
            assert!(b.try_take(&who(org, "ada"), t0).is_ok());
        }
        assert_eq!(b.organizations(), 100);
        // The next request a window later sweeps the idle ones away.
        assert!(b.try_take(&who(7, "grace"), t0 + WINDOW).is_ok());
        assert_eq!(b.organizations(), 1);
        let state = b.inner.state.lock().unwrap();
        let ledger = &state.organizations[&Organization::Id(7)];
        assert_eq!(ledger.log.len(), 1);
        assert_eq!(ledger.asked.len(), 1, "ada left the window");
        assert_eq!(ledger.held.len(), 1);
    }

    #[tokio::test]
    async fn short_waits_happen_inside_the_call_and_long_ones_are_refused() {
        let b = Budget::new(BudgetSettings {
            per_window: Some(1),
            max_wait: Duration::from_millis(300),
            hold_back: false,
            plan_limit: PlanLimit::Lowers,
            replicas: 1,
        });
        let ada = who(1, "ada");
        b.pause(&Organization::Id(1), Some(Duration::from_millis(200)));
        let started = Instant::now();
        b.take(&ada).await.expect("a 200 ms pause is waited out");
        assert!(started.elapsed() >= Duration::from_millis(200));
        let denied = b.take(&ada).await.unwrap_err();
        assert!(matches!(denied.why, Held::Share { .. }), "{denied:?}");
        assert!(denied.retry_after > secs(60), "{denied:?}");
    }
}
