//! `credential-requests_wait-for-authorization` under load, on the binary over stateless
//! HTTP with the Make API sandbox: waits on one request share one poll of Make, the waits
//! in progress are bounded (`--max-waits`), and while 300 waits are held `/healthz` and
//! another client's call still answer.
//!
//! The sandbox runs in the test process so that it can count the requests the binary sends.
//! Every call here uses its own HTTP client, whose connection closes once it has its answer.

mod common;

use std::time::{Duration, Instant};

use common::http::{ACCEPT, drain_log, spawn_and_read_log};
use make_sandbox::Sandbox;
use make_sandbox::seed::DEFAULT_TEAM;
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: &str = "credential-requests_wait-for-authorization";
/// The bound the binary applies without `--max-waits` (its `--help` shows it).
const DEFAULT_MAX_WAITS: usize = 64;
/// Only keeps a regression from hanging the suite; nothing here is timed against it.
const GENEROUS: Duration = Duration::from_secs(60);

/// The binary serving stateless HTTP on an ephemeral port, with `sandbox` as its Make.
struct Served {
    _child: tokio::process::Child,
    url: String,
}

async fn serve(sandbox: &Sandbox, extra: &[&str]) -> Served {
    let mut command = tokio::process::Command::new(common::http::BIN);
    command
        .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("MAKE_API_URL", sandbox.api_base_url())
        .env("MAKE_API_KEY", sandbox.api_key())
        .env("MAKE_TEAM", DEFAULT_TEAM.to_string())
        .env_remove("MCP_AUTH_TOKEN")
        .env_remove("MCP_STATE_KEY")
        .env_remove("MCP_MAX_WAITS")
        .env_remove("RUST_LOG");
    let (child, lines, _log, url) = spawn_and_read_log(&mut command, "url").await;
    drain_log(lines);
    Served { _child: child, url }
}

/// A pending credential request for one Google connection, made directly at the sandbox.
async fn pending_request(sandbox: &Sandbox) -> String {
    let created: Value = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap()
        .post(format!(
            "{}/credential-requests/actions/create-by-credentials",
            sandbox.api_base_url()
        ))
        .header("Authorization", format!("Token {}", sandbox.api_key()))
        .json(&json!({"teamId": DEFAULT_TEAM, "connections": [{"type": "google"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["request"]["id"]
        .as_str()
        .expect("request id")
        .to_string()
}

/// The Make requests that polled request `id`.
fn polls_of(sandbox: &Sandbox, id: &str) -> u64 {
    let path = format!("/credential-requests/requests/{id}/detail");
    sandbox.requests_seen().count(&Method::GET, &path)
}

/// One HTTP client for every call of a test: building one per call costs enough CPU that,
/// with hundreds at once, a call's headers could reach the server after its header
/// deadline. Idle connections are not kept, so each connection closes once its call has
/// been answered.
fn http_client() -> reqwest::Client {
    make_credentials_mcp::make::client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// One stateless `tools/call`; its `result`.
async fn call(client: &reqwest::Client, url: &str, tool: &str, arguments: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}});
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["result"].clone()
}

async fn wait(client: &reqwest::Client, url: &str, id: &str, timeout_seconds: u64) -> Value {
    let arguments = json!({"requestId": id, "timeoutSeconds": timeout_seconds});
    call(client, url, WAIT, arguments).await
}

fn is_refusal(result: &Value) -> bool {
    result["isError"] == true
        && result["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Too many waits are in progress"))
}

#[tokio::test]
async fn twenty_waits_on_one_request_poll_make_about_as_often_as_one() {
    let sandbox = Sandbox::start().await.unwrap();
    let served = serve(&sandbox, &[]).await;
    let client = http_client();
    let id = pending_request(&sandbox).await;

    let before = polls_of(&sandbox, &id);
    let one = wait(&client, &served.url, &id, 5).await;
    assert_eq!(one["structuredContent"]["timedOut"], true, "{one}");
    let single = polls_of(&sandbox, &id) - before;

    let before = polls_of(&sandbox, &id);
    let waits: Vec<_> = (0..20)
        .map(|_| {
            let (client, url, id) = (client.clone(), served.url.clone(), id.clone());
            tokio::spawn(async move { wait(&client, &url, &id, 5).await })
        })
        .collect();
    for waited in waits {
        let result = tokio::time::timeout(GENEROUS, waited)
            .await
            .unwrap()
            .unwrap();
        let out = &result["structuredContent"];
        assert!(out["timedOut"] == true && out["done"] == false, "{result}");
        assert_eq!(out["summary"], one["structuredContent"]["summary"]);
    }
    let shared = polls_of(&sandbox, &id) - before;
    eprintln!(
        "Make requests over 5 s: 1 wait made {single}, 20 waits on the same request made {shared}"
    );
    assert!(
        single >= 2,
        "one wait polls more than once in 5 s: {single}"
    );
    assert!(
        shared <= 2 * single,
        "20 waits share one poll loop: {shared} requests, against {single} for one wait"
    );
}

#[tokio::test]
async fn a_wait_past_the_bound_is_answered_at_once_without_asking_make() {
    let sandbox = Sandbox::start().await.unwrap();
    let served = serve(&sandbox, &["--max-waits", "3"]).await;
    let client = http_client();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(pending_request(&sandbox).await);
    }

    // Three waits on three requests: each polls its own, and each holds a slot.
    let held: Vec<_> = ids[..3]
        .iter()
        .map(|id| {
            let (client, url, id) = (client.clone(), served.url.clone(), id.clone());
            tokio::spawn(async move { wait(&client, &url, &id, 60).await })
        })
        .collect();
    tokio::time::timeout(GENEROUS, async {
        while ids[..3].iter().any(|id| polls_of(&sandbox, id) == 0) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the three waits are polling");

    let fourth = &ids[3];
    let started = Instant::now();
    let refused = wait(&client, &served.url, fourth, 60).await;
    let took = started.elapsed();
    assert!(is_refusal(&refused), "{refused}");
    let text = refused["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("at most 3") && text.contains("try again in a few seconds"),
        "{text}"
    );
    assert!(text.contains("credential-requests_get"), "{text}");
    assert_eq!(polls_of(&sandbox, fourth), 0, "Make was not asked");
    assert!(
        held.iter().all(|h| !h.is_finished()),
        "the three still wait"
    );
    eprintln!("the 4th wait past --max-waits 3 was answered in {took:?}");

    // A wait whose client went away gives its slot back.
    for h in held {
        h.abort();
    }
    let answered = tokio::time::timeout(GENEROUS, async {
        loop {
            let result = wait(&client, &served.url, fourth, 1).await;
            if !is_refusal(&result) {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the slots come back once their clients have gone");
    assert_eq!(
        answered["structuredContent"]["timedOut"], true,
        "{answered}"
    );
}

#[tokio::test]
async fn health_and_other_calls_answer_while_300_waits_are_held() {
    const WAITS: usize = 300;
    let sandbox = Sandbox::start().await.unwrap();
    // Every wait of this test comes from one address (loopback): let it have every
    // connection, so that what answers the waits past the bound is the wait bound, not the
    // per-client connection cap (tests/http_slot_hogging.rs covers that one).
    let served = serve(&sandbox, &["--max-connections-per-client", "256"]).await;
    let client = http_client();
    let id = pending_request(&sandbox).await;

    let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let waits: Vec<_> = (0..WAITS)
        .map(|_| {
            let (client, url, id) = (client.clone(), served.url.clone(), id.clone());
            let answered = answered.clone();
            tokio::spawn(async move {
                let result = wait(&client, &url, &id, 600).await;
                let _ = answered.send(result);
            })
        })
        .collect();
    // Past the bound (64 by default) each wait is answered at once and its connection closes;
    // the others stay in progress.
    let held = DEFAULT_MAX_WAITS;
    let mut refused = 0;
    tokio::time::timeout(GENEROUS, async {
        while refused < WAITS - held {
            let result = answers.recv().await.unwrap();
            assert!(is_refusal(&result), "{result}");
            refused += 1;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {refused} waits past the bound were answered"));

    let started = Instant::now();
    let health = tokio::time::timeout(Duration::from_secs(10), async {
        make_credentials_mcp::make::client_builder()
            .build()
            .unwrap()
            .get(served.url.replace("/mcp", "/healthz"))
            .send()
            .await
            .unwrap()
            .status()
    })
    .await
    .expect("/healthz answers while the waits are held");
    let health_took = started.elapsed();
    assert_eq!(health, 200);

    let another = http_client();
    let started = Instant::now();
    let listed = tokio::time::timeout(
        Duration::from_secs(10),
        call(
            &another,
            &served.url,
            "connections_list",
            json!({"teamId": DEFAULT_TEAM}),
        ),
    )
    .await
    .expect("another client's call answers while the waits are held");
    let list_took = started.elapsed();
    assert_ne!(listed["isError"], true, "{listed}");
    assert!(
        listed["structuredContent"]["connections"].is_array(),
        "{listed}"
    );

    let still_waiting = waits.iter().filter(|w| !w.is_finished()).count();
    assert_eq!(
        still_waiting, held,
        "the waits within the bound are still held"
    );
    eprintln!(
        "{WAITS} waits sent, {held} held, {refused} answered at once; /healthz answered in {health_took:?}, connections_list in {list_took:?}"
    );
    for w in waits {
        w.abort();
    }
}
