//! The fault matrix: every tool against every upstream fault, through the sandbox's
//! fault-injection seam and the real MCP code path (rmcp client, server, Make client).
//!
//! Each cell checks that the outcome is what a model can act on: a recoverable fault (one
//! 429) heals by itself; any other fault gives an `isError` result that names the cause and,
//! after retries, the attempts made; a create, set-data or action is sent exactly once unless
//! Make refused it before acting (429, refused connection); a redirect is never followed. The
//! outcomes are written as a table into `docs/reliability.md`; this test fails when the
//! table there is stale (rewrite it with `UPDATE_RELIABILITY=1`, never under `CI=true`).
#![cfg(feature = "sandbox")]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::text;
use make_credentials_mcp::make::{ApiKey, ClientSettings, parse_api_url};
use make_credentials_mcp::make::{MakeClient, RetryPolicy};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::in_process;
use make_sandbox::seed::{
    BASICAUTH_KEY_ID, DEFAULT_TEAM, GOOGLE_CONNECTION_ID, HTTP_CONNECTION_ID,
    PENDING_CREDENTIAL_ID, PENDING_REQUEST_ID, SLACK_CONNECTION_ID,
};
use make_sandbox::{Fault, Sandbox, closed_loopback_port};
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

/// Every tool, with arguments that succeed against a healthy sandbox.
fn tools() -> Vec<(&'static str, Value)> {
    let team = DEFAULT_TEAM;
    vec![
        ("connections_list", json!({"teamId": team})),
        (
            "connections_get",
            json!({"connectionId": GOOGLE_CONNECTION_ID}),
        ),
        (
            "connections_get-editable-data-schema",
            json!({"connectionId": HTTP_CONNECTION_ID}),
        ),
        (
            "connections_create",
            json!({"teamId": team, "accountName": "http", "name": "Basic", "data": {"authUser": "u", "authPass": "p"}}),
        ),
        (
            "connections_update",
            json!({"connectionId": HTTP_CONNECTION_ID, "data": {"authUser": "u", "authPass": "p"}}),
        ),
        (
            "connections_verify",
            json!({"connectionId": GOOGLE_CONNECTION_ID}),
        ),
        (
            "connections_delete",
            json!({"connectionId": SLACK_CONNECTION_ID}),
        ),
        ("keys_list", json!({"teamId": team})),
        ("keys_get", json!({"keyId": BASICAUTH_KEY_ID})),
        ("keys_list-types", json!({})),
        (
            "keys_create",
            json!({"teamId": team, "name": "K", "typeName": "basicauth", "parameters": {"authUser": "u", "authPass": "p"}}),
        ),
        (
            "keys_update",
            json!({"keyId": BASICAUTH_KEY_ID, "name": "Renamed"}),
        ),
        ("keys_delete", json!({"keyId": BASICAUTH_KEY_ID})),
        ("credential-requests_list", json!({"teamId": team})),
        (
            "credential-requests_get",
            json!({"requestId": PENDING_REQUEST_ID}),
        ),
        (
            "credential-requests_delete",
            json!({"requestId": PENDING_REQUEST_ID}),
        ),
        (
            "credential-requests_credential-decline",
            json!({"credentialId": PENDING_CREDENTIAL_ID}),
        ),
        (
            "credential-requests_credential-delete",
            json!({"credentialId": PENDING_CREDENTIAL_ID}),
        ),
        (
            "credential-requests_create",
            json!({"teamId": team, "credentials": [{"appName": "slack", "appModules": ["*"]}]}),
        ),
        (
            "credential-requests_create-by-credentials",
            json!({"teamId": team, "connections": [{"type": "google"}]}),
        ),
        (
            "credential-requests_extend-connection",
            json!({"connectionId": GOOGLE_CONNECTION_ID, "scopes": ["https://www.googleapis.com/auth/drive"]}),
        ),
        (
            "credential-requests_list-app-modules-with-creds",
            json!({"appName": "slack"}),
        ),
        (
            "credential-requests_wait-for-authorization",
            json!({"requestId": PENDING_REQUEST_ID, "timeoutSeconds": 1}),
        ),
    ]
}

/// The client's settings in every cell: short timeouts, two retries, tiny back-off.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);
const RETRIES: u32 = 2;

/// One column: a fault, how often it strikes, and the words the error must name it by.
#[derive(Clone)]
struct Column {
    name: &'static str,
    fault: Option<Fault>,
    times: u32,
    cause: &'static str,
}

fn columns() -> Vec<Column> {
    let always = 10_000;
    let col = |name, fault, times, cause| Column {
        name,
        fault,
        times,
        cause,
    };
    vec![
        col("healthy", None, 0, ""),
        col("429 once", Some(Fault::RATE_LIMITED), 1, ""),
        col("429", Some(Fault::RATE_LIMITED), always, "HTTP 429"),
        col(
            "429 + Retry-After",
            Some(Fault::TooManyRequests {
                retry_after: Some(1),
            }),
            always,
            "HTTP 429",
        ),
        col("500", Some(Fault::InternalServerError), always, "HTTP 500"),
        col("502", Some(Fault::BadGateway), always, "HTTP 502"),
        col("503", Some(Fault::ServiceUnavailable), always, "HTTP 503"),
        col("504", Some(Fault::GatewayTimeout), always, "HTTP 504"),
        col(
            "timeout",
            Some(Fault::Timeout {
                hold: Duration::from_secs(4),
            }),
            always,
            "did not answer within",
        ),
        col("refused", None, 0, "could not reach"),
        col(
            "dropped",
            Some(Fault::Drop),
            always,
            "request to the Make API failed",
        ),
        col(
            "truncated",
            Some(Fault::Truncate),
            always,
            "request to the Make API failed",
        ),
        col("non-JSON", Some(Fault::NonJson), always, "not JSON"),
        col(
            "oversized",
            Some(Fault::Oversize {
                bytes: 17 * 1024 * 1024,
            }),
            always,
            "larger than 16 MiB",
        ),
        col(
            "wrong type",
            Some(Fault::WrongContentType),
            always,
            "text/html, not JSON",
        ),
        col("redirect", Some(Fault::Redirect), always, "redirect"),
    ]
}

/// What happened in one cell.
struct Cell {
    ok: bool,
    requests: u64,
    problems: Vec<String>,
}

/// Requests that may take effect at Make, which must never be sent twice after a fault
/// that could have let the first one act.
fn acts(method: &str, path: &str) -> bool {
    method == "POST" && !path.ends_with("/scoped") && !path.ends_with("/test")
}

async fn run_cell(tool: &'static str, args: Value, column: Column) -> Cell {
    let sandbox = Sandbox::start().await.expect("sandbox");
    // Held until the cell ends, so no other cell's sandbox can take the port meanwhile.
    let closed = (column.name == "refused").then(|| closed_loopback_port().unwrap());
    let base = closed
        .as_ref()
        .map_or_else(|| sandbox.api_base_url(), |c| c.url().to_owned());
    let settings = ClientSettings {
        base_url: Some(parse_api_url(&base).unwrap()),
        api_key: ApiKey::new(sandbox.api_key()),
        timeout: CLIENT_TIMEOUT,
        connect_timeout: CLIENT_TIMEOUT,
        retry: RetryPolicy {
            max_retries: RETRIES,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
        },
    };
    let server = MakeServer::new(MakeClient::new(&settings).unwrap(), Some(DEFAULT_TEAM));
    if tool == "credential-requests_credential-delete" {
        authorize_pending_credential(&sandbox).await;
    }
    sandbox.reset_requests_seen();
    if let Some(fault) = column.fault.clone() {
        sandbox.inject(fault, column.times);
    }
    let client = in_process::connect(server, ()).await.expect("client");
    let Value::Object(args) = args else {
        unreachable!()
    };
    let args: Map<String, Value> = args;
    let call = client.call_tool(CallToolRequestParams::new(tool).with_arguments(args));
    let mut problems = Vec::new();
    let result = match tokio::time::timeout(Duration::from_secs(30), call).await {
        Ok(Ok(result)) => result,
        other => {
            return Cell {
                ok: false,
                requests: 0,
                problems: vec![format!("no tool result: {other:?}")],
            };
        }
    };
    let _ = client.cancel().await;
    let seen = sandbox.requests_seen();
    let requests = seen.total();
    let failed = result.is_error == Some(true);
    let message = text(&result);
    if matches!(column.name, "healthy" | "429 once") {
        if failed {
            problems.push(format!("failed without a lasting fault: {message}"));
        }
    } else if failed {
        if !message
            .to_lowercase()
            .contains(&column.cause.to_lowercase())
        {
            problems.push(format!("error does not name {:?}: {message}", column.cause));
        }
        if message.contains(sandbox.api_key()) {
            problems.push("the key leaked into the error".into());
        }
    } else {
        problems.push(format!("a lasting fault gave a normal result: {message}"));
    }
    let refused_first = matches!(
        column.name,
        "429" | "429 + Retry-After" | "429 once" | "refused"
    );
    for (method, path, count) in seen.iter() {
        if acts(method, path) && count > 1 && !refused_first {
            problems.push(format!("{method} {path} was sent {count} times"));
        }
    }
    if column.name == "refused" && requests != 0 {
        problems.push(format!("{requests} requests reached the sandbox"));
    }
    if sandbox.redirect_hits().hits > 0 {
        problems.push("a redirect was followed".into());
    }
    if failed && requests > 1 && tool_is_single_request(tool) && !message.contains("attempts") {
        problems.push(format!(
            "{requests} attempts, but the error does not say so: {message}"
        ));
    }
    Cell {
        ok: !failed,
        requests,
        problems,
    }
}

/// The person authorizes the seeded pending credential, so that it has a connection to delete.
async fn authorize_pending_credential(sandbox: &Sandbox) {
    let url = format!(
        "{}/credential-requests/{PENDING_REQUEST_ID}/credentials/{PENDING_CREDENTIAL_ID}/authorize",
        sandbox.origin()
    );
    let response = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// Tools that send one kind of request, so `requests > 1` means retries of it. keys_create
/// reads the key types (once, a failure only skipping the check) before it creates.
fn tool_is_single_request(tool: &str) -> bool {
    !matches!(
        tool,
        "connections_update"
            | "keys_create"
            | "credential-requests_extend-connection"
            | "credential-requests_wait-for-authorization"
    )
}

fn table(cells: &[(usize, usize, Cell)], columns: &[Column]) -> String {
    let mut out = String::from("| Tool |");
    for c in columns {
        out.push_str(&format!(" {} |", c.name));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for (t, (tool, _)) in tools().iter().enumerate() {
        out.push_str(&format!("| `{tool}` |"));
        for c in 0..columns.len() {
            let cell = &cells
                .iter()
                .find(|(ti, ci, _)| *ti == t && *ci == c)
                .unwrap()
                .2;
            let outcome = if cell.ok { "ok" } else { "error" };
            // The wait polls on a clock, so how often it asked depends on timing.
            if *tool == "credential-requests_wait-for-authorization" {
                out.push_str(&format!(" {outcome} |"));
            } else {
                out.push_str(&format!(" {outcome} ({}) |", cell.requests));
            }
        }
        out.push('\n');
    }
    out
}

const START: &str = "<!-- fault-matrix:start (generated by tests/fault_matrix.rs) -->";
const END: &str = "<!-- fault-matrix:end -->";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_against_every_upstream_fault() {
    let columns = columns();
    let limit = Arc::new(Semaphore::new(24));
    let mut tasks = tokio::task::JoinSet::new();
    let tools = tools();
    for (t, (tool, args)) in tools.iter().enumerate() {
        for (c, column) in columns.iter().enumerate() {
            let (tool, args, column, limit) = (*tool, args.clone(), column.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                (t, c, run_cell(tool, args, column).await)
            });
        }
    }
    let mut cells = Vec::new();
    while let Some(done) = tasks.join_next().await {
        cells.push(done.unwrap());
    }
    let mut problems = Vec::new();
    for (t, c, cell) in &cells {
        for p in &cell.problems {
            problems.push(format!("{} / {}: {p}", tools[*t].0, columns[*c].name));
        }
    }
    let generated = table(&cells, &columns);
    check_doc(&generated);
    assert!(
        problems.is_empty(),
        "{} cells failed:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn check_doc(generated: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/reliability.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let current = doc
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(table, _)| table.trim().to_string());
    if current.as_deref() == Some(generated.trim()) {
        return;
    }
    let may_write =
        std::env::var_os("UPDATE_RELIABILITY").is_some() && std::env::var_os("CI").is_none();
    if may_write {
        let (before, after) = match doc.split_once(START) {
            Some((before, rest)) => (
                before.to_string(),
                rest.split_once(END)
                    .map(|(_, a)| a.to_string())
                    .unwrap_or_default(),
            ),
            None => (doc.clone(), String::from("\n")),
        };
        std::fs::write(
            &path,
            format!("{before}{START}\n{}\n{END}{after}", generated.trim()),
        )
        .unwrap();
        return;
    }
    panic!(
        "docs/reliability.md's fault matrix is stale; rerun with UPDATE_RELIABILITY=1:\n{generated}"
    );
}
