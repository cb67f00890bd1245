//! `GET /metrics` in the Prometheus text format, on a listener of its own and on the MCP
//! listener behind its own token: tool calls by tool and outcome, their durations, Make
//! requests by method and status (a 429 the sandbox injects included), Make requests, 429s
//! and the budget's refusals by organization, the open-connection gauge. Each scrape is parsed with a Prometheus text-format parser.

mod common;

use std::time::Duration;

use common::http::{Running, TOKEN, legacy_client};
use common::{call, params, text};
use make_credentials_mcp::make::budget::{
    Budget, BudgetSettings, Organization, PlanLimit, Spender,
};
use make_credentials_mcp::make::{ApiKey, ClientSettings, MakeClient, RetryPolicy};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::http::{self, BearerToken, HttpOptions, MetricsExposure};
use make_sandbox::Sandbox;
use make_sandbox::faults::Fault;
use make_sandbox::seed::DEFAULT_TEAM;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;
use tokio::sync::oneshot;

const METRICS_TOKEN: &str = "metrics-token-8e2d";

/// Client settings for `sandbox`'s Make, retrying a 429 at once.
fn settings_for(sandbox: &Sandbox) -> ClientSettings {
    ClientSettings {
        base_url: Some(sandbox.api_base_url().parse().unwrap()),
        api_key: ApiKey::new(sandbox.api_key()),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
        ..ClientSettings::default()
    }
}

/// A server whose Make is `sandbox`, retrying a 429 at once.
fn server_for(sandbox: &Sandbox) -> MakeServer {
    MakeServer::new(
        MakeClient::new(&settings_for(sandbox)).unwrap(),
        Some(DEFAULT_TEAM),
    )
}

/// Serves `server` with `/metrics` on a listener of its own; returns the server and that
/// listener's `/metrics` URL.
async fn start_with_metrics_listener(
    server: MakeServer,
    options: HttpOptions,
) -> (Running, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{}/metrics", metrics.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(http::serve_on_with_metrics(
        listener,
        metrics,
        server,
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    let running = Running {
        addr,
        stop: Some(stop),
        task,
    };
    (running, url)
}

async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap()
        .get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Scrapes `url` and parses the Prometheus text format.
async fn scrape(url: &str, token: Option<&str>) -> Scrape {
    let response = get(url, token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The samples of `name` whose labels include `labels`.
fn samples<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

/// The one counter or gauge value of `name` with `labels`; 0 when there is no such series.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    match samples(scrape, name, labels).as_slice() {
        [] => 0.0,
        [one] => match &one.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{name} is not a counter or gauge: {other:?}"),
        },
        many => panic!("{name} {labels:?} matches {} series", many.len()),
    }
}

/// `{tool}`'s duration histogram: its count and its sum.
fn histogram(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> (u64, f64) {
    match samples(scrape, name, labels).as_slice() {
        [one] => match &one.value {
            Value::Histogram(buckets) => {
                let count = buckets.iter().map(|b| b.count).fold(0.0, f64::max) as u64;
                let sum = value(scrape, &format!("{name}_sum"), labels);
                (count, sum)
            }
            other => panic!("{name} is not a histogram: {other:?}"),
        },
        other => panic!("{name} {labels:?}: {} series", other.len()),
    }
}

#[tokio::test]
async fn calls_and_make_requests_are_counted_on_the_metrics_listener() {
    let sandbox = Sandbox::start().await.unwrap();
    let (running, metrics_url) =
        start_with_metrics_listener(server_for(&sandbox), HttpOptions::default()).await;
    let before = scrape(&metrics_url, None).await;
    // Every tool has its series from the start, at zero.
    assert_eq!(
        value(
            &before,
            "mcp_tool_calls_total",
            &[("tool", "connections_list"), ("outcome", "ok")]
        ),
        0.0
    );
    assert_eq!(value(&before, "make_rate_limited_total", &[]), 0.0);

    let client = legacy_client(running.mcp(), None).await;
    call(&client, "connections_list", json!({})).await;
    // Make refuses the next request with 429 once; the client retries it.
    sandbox.inject(Fault::RATE_LIMITED, 1);
    let listed = call(&client, "keys_list", json!({})).await;
    assert_ne!(listed.is_error, Some(true), "{}", text(&listed));
    // Make answers 404: a tool error.
    let missing = call(&client, "connections_get", json!({"connectionId": 987654})).await;
    assert_eq!(missing.is_error, Some(true));
    // No such tool: a protocol error, counted under `unknown`.
    assert!(
        client
            .call_tool(params("no_such_tool\"}", json!({})))
            .await
            .is_err()
    );

    let after = scrape(&metrics_url, None).await;
    let calls = |tool: &str, outcome: &str| {
        value(
            &after,
            "mcp_tool_calls_total",
            &[("tool", tool), ("outcome", outcome)],
        )
    };
    assert_eq!(calls("connections_list", "ok"), 1.0);
    assert_eq!(calls("keys_list", "ok"), 1.0);
    assert_eq!(calls("connections_get", "error"), 1.0);
    assert_eq!(calls("connections_get", "ok"), 0.0);
    assert_eq!(calls("unknown", "refused"), 1.0);
    assert!(
        !after
            .samples
            .iter()
            .any(|s| s.labels.get("tool").is_some_and(|t| t.contains("no_such"))),
        "a client's tool name became a label"
    );
    let (count, sum) = histogram(
        &after,
        "mcp_tool_call_duration_seconds",
        &[("tool", "keys_list")],
    );
    assert_eq!(count, 1);
    assert!(sum > 0.0);

    // connections_list and the retried keys_list: two 200s and one 429; connections_get: a 404.
    let make = |status: &str| {
        value(
            &after,
            "make_requests_total",
            &[("method", "GET"), ("status", status)],
        )
    };
    assert_eq!(
        make("200"),
        2.0,
        "{:?}",
        samples(&after, "make_requests_total", &[])
    );
    assert_eq!(make("429"), 1.0);
    assert_eq!(make("404"), 1.0);
    assert_eq!(value(&after, "make_rate_limited_total", &[]), 1.0);
    let (make_count, make_sum) = histogram(&after, "make_request_duration_seconds", &[]);
    assert_eq!(make_count, 4);
    assert!(make_sum > 0.0);
    assert_eq!(value(&after, "mcp_waits_in_flight", &[]), 0.0);

    // A connection to the MCP listener counts while it is open (the scraper's own, on the
    // metrics listener, does not).
    client.cancel().await.unwrap();
    let open = || async {
        value(
            &scrape(&metrics_url, None).await,
            "http_connections_open",
            &[],
        )
    };
    let settles_at = |expected: f64| {
        let open = &open;
        async move {
            for _ in 0..200 {
                if open().await == expected {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        }
    };
    assert!(
        settles_at(0.0).await,
        "the closed client's connections still count"
    );
    let held = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    assert!(settles_at(1.0).await, "an open connection is not counted");
    drop(held);
    assert!(settles_at(0.0).await, "a closed connection still counts");

    // Nothing else is served there, and the MCP listener has no /metrics.
    let other = metrics_url.replace("/metrics", "/mcp");
    assert_eq!(get(&other, None).await.status(), 404);
    let on_mcp = format!("http://{}/metrics", running.addr);
    assert_eq!(get(&on_mcp, None).await.status(), 404);

    running.stop().await;
}

#[tokio::test]
async fn the_mcp_listener_serves_metrics_behind_their_own_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let options = HttpOptions {
        auth_token: Some(BearerToken::new(TOKEN).unwrap()),
        metrics: Some(MetricsExposure::Token(
            BearerToken::new(METRICS_TOKEN).unwrap(),
        )),
        ..HttpOptions::default()
    };
    let running = common::http::start_with(server_for(&sandbox), options).await;
    let url = format!("http://{}/metrics", running.addr);

    let refused = get(&url, None).await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused.text().await.unwrap().contains("MCP_METRICS_TOKEN"),
        "the refusal names the setting"
    );
    // The MCP token is not the metrics token.
    assert_eq!(get(&url, Some(TOKEN)).await.status(), 401);

    let client = legacy_client(running.mcp(), Some(TOKEN)).await;
    call(&client, "connections_list", json!({})).await;
    call(&client, "connections_list", json!({})).await;
    let scraped = scrape(&url, Some(METRICS_TOKEN)).await;
    assert_eq!(
        value(
            &scraped,
            "mcp_tool_calls_total",
            &[("tool", "connections_list"), ("outcome", "ok")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &scraped,
            "make_requests_total",
            &[("method", "GET"), ("status", "200")]
        ),
        2.0
    );
    // The metrics token does not open /mcp.
    let mcp = common::http::send_initialize(&running.mcp()).await;
    assert_eq!(mcp.status(), 401);

    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn live_sessions_are_counted() {
    let sandbox = Sandbox::start().await.unwrap();
    let options = HttpOptions {
        sessions: true,
        ..HttpOptions::default()
    };
    let (running, metrics_url) = start_with_metrics_listener(server_for(&sandbox), options).await;
    let sessions = || async { value(&scrape(&metrics_url, None).await, "mcp_sessions", &[]) };
    assert_eq!(sessions().await, 0.0);
    let one = legacy_client(running.mcp(), None).await;
    let two = legacy_client(running.mcp(), None).await;
    call(&one, "connections_list", json!({})).await;
    assert_eq!(sessions().await, 2.0);
    // Ending a session (DELETE) releases it.
    one.cancel().await.unwrap();
    let mut released = false;
    for _ in 0..200 {
        if sessions().await == 1.0 {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(released, "an ended session still counts");
    two.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn make_requests_429s_and_budget_refusals_are_counted_by_organization() {
    let sandbox = Sandbox::start().await.unwrap();
    let settings = settings_for(&sandbox);
    // Three requests a minute for organization 7, spent by one person.
    let budget = Budget::new(BudgetSettings {
        per_window: Some(3),
        max_wait: Duration::ZERO,
        hold_back: false,
        plan_limit: PlanLimit::Lowers,
        replicas: 1,
    });
    let make = MakeClient::new(&settings)
        .unwrap()
        .with_budget(budget)
        .spending_as(Spender {
            organization: Organization::Id(7),
            person: "ada".into(),
            plan_limit: None,
        });
    let server = MakeServer::new(make, Some(DEFAULT_TEAM));
    let (running, metrics_url) = start_with_metrics_listener(server, HttpOptions::default()).await;
    let client = legacy_client(running.mcp(), None).await;
    // Make answers 429 once (retry at once): two requests; then one more; then the budget
    // holds the fourth back.
    sandbox.inject(
        Fault::TooManyRequests {
            retry_after: Some(0),
        },
        1,
    );
    let first = call(&client, "connections_list", json!({})).await;
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    let second = call(&client, "connections_list", json!({})).await;
    assert_ne!(second.is_error, Some(true), "{}", text(&second));
    let held = call(&client, "connections_list", json!({})).await;
    assert_eq!(held.is_error, Some(true));
    assert!(text(&held).contains("try again in"), "{}", text(&held));
    assert_eq!(sandbox.requests_seen().total(), 3);

    let scraped = scrape(&metrics_url, None).await;
    let organization = [("organization", "7")];
    assert_eq!(
        value(&scraped, "make_organization_requests_total", &organization),
        3.0
    );
    assert_eq!(
        value(
            &scraped,
            "make_organization_rate_limited_total",
            &organization
        ),
        1.0
    );
    let refused = |reason| {
        value(
            &scraped,
            "make_budget_refusals_total",
            &[("organization", "7"), ("reason", reason)],
        )
    };
    assert_eq!(refused("share"), 1.0);
    assert_eq!(refused("organization"), 0.0);
    assert_eq!(refused("paused"), 0.0);
    // The unlabelled totals count the same requests.
    assert_eq!(value(&scraped, "make_rate_limited_total", &[]), 1.0);
    client.cancel().await.unwrap();
    running.stop().await;
}
