//! The server's Prometheus metrics: one registry per server, built when the server is, and
//! cheap handles (an `Arc` clone) wherever something is counted.
//!
//! Nothing here is process-global, so several servers in one process (tests) each count
//! their own. On the call path every update is an atomic operation on a series created
//! beforehand: tool series are created at start for every tool name (plus `unknown`), Make
//! request series on first use of a (method, status) pair, through a table of
//! [`OnceLock`]s, so no call takes the family's lock once its series exists. The
//! histograms are [`AtomicHistogram`]s for the same reason. Per-organization series are
//! created when the Make request budget first meets an organization and kept in its ledger
//! ([`OrganizationSeries`]), so a request counts into them without the family's lock too.
//! [`serve`] exposes the registry at `GET /metrics`.

mod histogram;
pub(crate) mod serve;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub(crate) use histogram::AtomicHistogram;

/// The label value of a tool name no registry tool has.
pub const UNKNOWN_TOOL: &str = "unknown";

/// How a tool call ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolOutcome {
    /// A result that is not an error (including one that asks the person first).
    Ok,
    /// An `isError` result: the tool ran and failed (Make refused, bad input, cut by
    /// shutdown).
    Error,
    /// A protocol error instead of a result: an unknown or hidden tool, or a call refused
    /// before the tool ran.
    Refused,
    /// The client cancelled the call (or its connection went away).
    Cancelled,
}

impl ToolOutcome {
    const ALL: [ToolOutcome; 4] = [Self::Ok, Self::Error, Self::Refused, Self::Cancelled];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Refused => "refused",
            Self::Cancelled => "cancelled",
        }
    }
}

/// How a refresh of a person's Make grant ended (team mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Make issued a new access token.
    Ok,
    /// Make refused the refresh token: the person must sign in again.
    Refused,
    /// Make could not be reached or answered something unusable.
    Failed,
}

impl RefreshOutcome {
    const ALL: [RefreshOutcome; 3] = [Self::Ok, Self::Refused, Self::Failed];

    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolCallLabels {
    tool: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MakeRequestLabels {
    method: &'static str,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrganizationLabels {
    organization: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HeldLabels {
    organization: String,
    reason: &'static str,
}

/// The `reason` labels of requests the budget held back, in [`OrganizationSeries::held`]'s
/// order.
const HELD_REASONS: [&str; 3] = ["organization", "share", "paused"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The methods the Make client sends, each its own `method` label; any other is `OTHER`.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OTHER"];
/// HTTP status codes 100 to 599, one slot each, plus one for "no answer".
const STATUSES: usize = 501;
/// The `status` label of a Make request that got no HTTP answer (connection failed,
/// timed out, cut short).
pub const NO_ANSWER: &str = "error";

/// A running server's metrics. Cloning is an `Arc` clone; every clone counts into the
/// same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    /// Read only by [`Metrics::encode`]; every series it reports is shared with the
    /// handles below.
    registry: Registry,
    tools: HashMap<&'static str, ToolSeries>,
    unknown_tool: ToolSeries,
    make_requests: Family<MakeRequestLabels, Counter>,
    /// `make_requests`' series by (method, status) slot, filled on first use.
    make_series: Box<[OnceLock<Counter>]>,
    make_duration: AtomicHistogram,
    make_rate_limited: Counter,
    organization_requests: Family<OrganizationLabels, Counter>,
    organization_rate_limited: Family<OrganizationLabels, Counter>,
    organization_held: Family<HeldLabels, Counter>,
    waits: Gauge,
    sessions: Gauge,
    connections: Gauge,
    grant_refreshes: [Counter; 3],
}

/// One tool's series: a counter per outcome and its duration histogram.
struct ToolSeries {
    calls: [Counter; 4],
    duration: AtomicHistogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric of this server, and a series per tool name.
    pub fn new() -> Self {
        Self::with_tools(crate::selection::scopes::every_tool())
    }

    fn with_tools(names: impl IntoIterator<Item = &'static str>) -> Self {
        let mut registry = Registry::default();
        let tool_calls = Family::<ToolCallLabels, Counter>::default();
        let tool_duration = Family::<ToolLabels, AtomicHistogram>::new_with_constructor(
            AtomicHistogram::durations as fn() -> AtomicHistogram,
        );
        let series = |tool: &'static str| ToolSeries {
            calls: ToolOutcome::ALL.map(|outcome| {
                tool_calls.get_or_create_owned(&ToolCallLabels {
                    tool,
                    outcome: outcome.label(),
                })
            }),
            duration: tool_duration.get_or_create_owned(&ToolLabels { tool }),
        };
        let tools = names.into_iter().map(|n| (n, series(n))).collect();
        let unknown_tool = series(UNKNOWN_TOOL);
        registry.register(
            "mcp_tool_calls",
            "Tool calls by tool and outcome (ok, error, refused, cancelled)",
            tool_calls,
        );
        registry.register(
            "mcp_tool_call_duration_seconds",
            "Time the server spent on a tool call, Make's time included",
            tool_duration,
        );

        let make_requests = Family::<MakeRequestLabels, Counter>::default();
        registry.register(
            "make_requests",
            "HTTP exchanges with Make's API by method and status (error: no HTTP answer)",
            make_requests.clone(),
        );
        let make_duration = AtomicHistogram::durations();
        registry.register(
            "make_request_duration_seconds",
            "Time of one HTTP exchange with Make's API, retries counted one by one",
            make_duration.clone(),
        );
        let make_rate_limited = Counter::default();
        registry.register(
            "make_rate_limited",
            "Make API answers 429 Too Many Requests",
            make_rate_limited.clone(),
        );

        let organization_requests = Family::<OrganizationLabels, Counter>::default();
        registry.register(
            "make_organization_requests",
            "HTTP exchanges with Make's API by Make organization (unknown: not known to the server)",
            organization_requests.clone(),
        );
        let organization_rate_limited = Family::<OrganizationLabels, Counter>::default();
        registry.register(
            "make_organization_rate_limited",
            "Make API answers 429 Too Many Requests by Make organization",
            organization_rate_limited.clone(),
        );
        let organization_held = Family::<HeldLabels, Counter>::default();
        registry.register(
            "make_budget_refusals",
            "Calls refused by the server's Make request budget (not sent to Make), by organization and reason (organization: its budget is used up; share: the person used their share; paused: Make answered 429)",
            organization_held.clone(),
        );

        let waits = Gauge::default();
        registry.register(
            "mcp_waits_in_flight",
            "credential-requests_wait-for-authorization calls running now",
            waits.clone(),
        );
        let sessions = Gauge::default();
        registry.register(
            "mcp_sessions",
            "Live MCP sessions (--sessions mode)",
            sessions.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "http_connections_open",
            "HTTP connections open on the MCP listener",
            connections.clone(),
        );
        let refreshes = Family::<OutcomeLabels, Counter>::default();
        let grant_refreshes = RefreshOutcome::ALL.map(|outcome| {
            refreshes.get_or_create_owned(&OutcomeLabels {
                outcome: outcome.label(),
            })
        });
        registry.register(
            "oauth_grant_refreshes",
            "Refreshes of people's Make grants in team mode, by outcome (ok, refused, failed)",
            refreshes,
        );

        Self {
            inner: Arc::new(Inner {
                registry,
                tools,
                unknown_tool,
                make_requests,
                make_series: (0..METHODS.len() * STATUSES)
                    .map(|_| OnceLock::new())
                    .collect(),
                make_duration,
                make_rate_limited,
                organization_requests,
                organization_rate_limited,
                organization_held,
                waits,
                sessions,
                connections,
                grant_refreshes,
            }),
        }
    }

    /// The registry in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.inner.registry)
            .expect("writing to a String does not fail");
        text
    }

    /// Records one tool call: `tool` as the client named it (a name no tool has counts as
    /// [`UNKNOWN_TOOL`]), how it ended and how long the server spent on it.
    pub fn tool_call(&self, tool: &str, outcome: ToolOutcome, elapsed: Duration) {
        let series = self
            .inner
            .tools
            .get(tool)
            .unwrap_or(&self.inner.unknown_tool);
        series.calls[outcome as usize].inc();
        series.duration.observe(elapsed);
    }

    /// Records one HTTP exchange with Make: its method, its status (`None`: no HTTP answer)
    /// and its duration. A 429 also counts as rate limited.
    pub fn make_request(&self, method: &reqwest::Method, status: Option<u16>, elapsed: Duration) {
        let m = METHODS[..METHODS.len() - 1]
            .iter()
            .position(|name| *name == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        let s = match status {
            Some(code @ 100..=599) => usize::from(code - 100),
            _ => STATUSES - 1,
        };
        let counter = self.inner.make_series[m * STATUSES + s].get_or_init(|| {
            self.inner
                .make_requests
                .get_or_create_owned(&MakeRequestLabels {
                    method: METHODS[m],
                    status: match s {
                        s if s == STATUSES - 1 => NO_ANSWER.to_owned(),
                        s => (s + 100).to_string(),
                    },
                })
        });
        counter.inc();
        self.inner.make_duration.observe(elapsed);
        if status == Some(429) {
            self.inner.make_rate_limited.inc();
        }
    }

    /// The series of Make organization `organization` (its id, or `unknown`), created on
    /// first use. Takes the families' locks: called once per organization by the budget,
    /// which keeps the series for the organization's requests.
    pub fn organization(&self, organization: &str) -> OrganizationSeries {
        let labels = OrganizationLabels {
            organization: organization.to_owned(),
        };
        OrganizationSeries {
            requests: self
                .inner
                .organization_requests
                .get_or_create_owned(&labels),
            rate_limited: self
                .inner
                .organization_rate_limited
                .get_or_create_owned(&labels),
            held: HELD_REASONS.map(|reason| {
                self.inner
                    .organization_held
                    .get_or_create_owned(&HeldLabels {
                        organization: organization.to_owned(),
                        reason,
                    })
            }),
        }
    }

    /// Counts a wait for authorization as running until the guard is dropped.
    pub fn wait_started(&self) -> GaugeGuard {
        GaugeGuard::new(&self.inner.waits)
    }

    /// Counts an HTTP connection as open until the guard is dropped.
    pub fn connection_opened(&self) -> GaugeGuard {
        GaugeGuard::new(&self.inner.connections)
    }

    /// Sets the number of live sessions.
    pub fn set_sessions(&self, live: usize) {
        self.inner
            .sessions
            .set(i64::try_from(live).unwrap_or(i64::MAX));
    }

    /// Records one refresh of a person's Make grant.
    pub fn grant_refresh(&self, outcome: RefreshOutcome) {
        self.inner.grant_refreshes[outcome as usize].inc();
    }
}

/// One Make organization's series: its requests, its 429s and the calls the budget held
/// back. Cloning clones handles to the same counters.
#[derive(Debug, Clone)]
pub struct OrganizationSeries {
    requests: Counter,
    rate_limited: Counter,
    held: [Counter; 3],
}

impl OrganizationSeries {
    /// Counts one HTTP exchange with Make (`None`: no HTTP answer); a 429 also as rate
    /// limited.
    pub fn request(&self, status: Option<u16>) {
        self.requests.inc();
        if status == Some(429) {
            self.rate_limited.inc();
        }
    }

    /// Counts one call the budget refused, by why.
    pub fn held_back(&self, why: &crate::make::budget::Held) {
        use crate::make::budget::Held;
        let i = match why {
            Held::Organization { .. } => 0,
            Held::Share { .. } => 1,
            Held::Paused => 2,
        };
        self.held[i].inc();
    }
}

/// Holds a gauge one higher while it lives.
#[derive(Debug)]
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
    }

    #[test]
    fn unknown_tools_collapse_and_every_tool_has_its_series() {
        let metrics = Metrics::with_tools(["a_tool"]);
        metrics.tool_call("a_tool", ToolOutcome::Ok, Duration::from_millis(3));
        metrics.tool_call("evil\"name", ToolOutcome::Refused, Duration::ZERO);
        metrics.tool_call("other", ToolOutcome::Refused, Duration::ZERO);
        let text = metrics.encode();
        assert!(!text.contains("evil"), "{text}");
        assert_eq!(
            line(
                &text,
                r#"mcp_tool_calls_total{tool="unknown",outcome="refused"}"#
            ),
            r#"mcp_tool_calls_total{tool="unknown",outcome="refused"} 2"#
        );
        assert!(text.contains(r#"mcp_tool_calls_total{tool="a_tool",outcome="ok"} 1"#));
        assert!(text.contains(r#"mcp_tool_calls_total{tool="a_tool",outcome="cancelled"} 0"#));
        assert!(text.contains(r#"mcp_tool_call_duration_seconds_count{tool="a_tool"} 1"#));
        assert!(
            text.contains(r#"mcp_tool_call_duration_seconds_bucket{tool="a_tool",le="0.005"} 1"#)
        );
    }

    #[test]
    fn make_requests_count_by_method_and_status() {
        let metrics = Metrics::with_tools([]);
        let get = reqwest::Method::GET;
        metrics.make_request(&get, Some(429), Duration::from_millis(1));
        metrics.make_request(&get, Some(200), Duration::from_millis(1));
        metrics.make_request(&get, Some(200), Duration::from_millis(1));
        metrics.make_request(&reqwest::Method::OPTIONS, None, Duration::from_millis(1));
        let text = metrics.encode();
        assert!(text.contains(r#"make_requests_total{method="GET",status="200"} 2"#));
        assert!(text.contains(r#"make_requests_total{method="GET",status="429"} 1"#));
        assert!(text.contains(r#"make_requests_total{method="OTHER",status="error"} 1"#));
        assert!(text.contains("make_rate_limited_total 1"), "{text}");
        assert!(text.contains("make_request_duration_seconds_count 4"));
    }

    #[test]
    fn organizations_have_their_own_series() {
        let metrics = Metrics::with_tools([]);
        let one = metrics.organization("1");
        one.request(Some(200));
        one.request(Some(429));
        one.held_back(&crate::make::budget::Held::Paused);
        let again = metrics.organization("1");
        again.request(None);
        metrics.organization("unknown").request(Some(200));
        let text = metrics.encode();
        assert!(
            text.contains(r#"make_organization_requests_total{organization="1"} 3"#),
            "{text}"
        );
        assert!(text.contains(r#"make_organization_requests_total{organization="unknown"} 1"#));
        assert!(text.contains(r#"make_organization_rate_limited_total{organization="1"} 1"#));
        assert!(text.contains(r#"make_budget_refusals_total{organization="1",reason="paused"} 1"#));
        assert!(text.contains(r#"make_budget_refusals_total{organization="1",reason="share"} 0"#));
    }

    #[test]
    fn gauges_follow_their_guards() {
        let metrics = Metrics::with_tools([]);
        let a = metrics.wait_started();
        let _b = metrics.wait_started();
        let _c = metrics.connection_opened();
        drop(a);
        metrics.set_sessions(3);
        let text = metrics.encode();
        assert!(text.contains("mcp_waits_in_flight 1"), "{text}");
        assert!(text.contains("http_connections_open 1"));
        assert!(text.contains("mcp_sessions 3"));
    }

    #[test]
    fn separate_servers_count_separately() {
        let one = Metrics::with_tools([]);
        let two = Metrics::with_tools([]);
        one.grant_refresh(RefreshOutcome::Failed);
        assert!(
            one.encode()
                .contains(r#"oauth_grant_refreshes_total{outcome="failed"} 1"#)
        );
        assert!(
            two.encode()
                .contains(r#"oauth_grant_refreshes_total{outcome="failed"} 0"#)
        );
    }
}
