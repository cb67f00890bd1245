//! A call whose client has gone stops, in every transport mode: its Make polling ends.
//! Each test runs the binary against a Make API sandbox in this process, starts
//! `credential-requests_wait-for-authorization` calls on the sandbox's pending request,
//! lets the client go, and counts the requests the sandbox still gets afterwards. The cases
//! run at once in one test: each has its own sandbox and server, and each spends most of its
//! time waiting out the server's grace and poll pauses, which need not be waited in turn.
#![cfg(feature = "sandbox")]

mod common;

use std::time::Duration;

use common::http::{ACCEPT, BIN, LogLines, eventually, initialize_body, spawn_and_read_log};
use make_sandbox::Sandbox;
use make_sandbox::seed::PENDING_REQUEST_ID;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Concurrent waits each test starts.
const WAITS: usize = 20;
/// Longer than the session transport's grace for a client to resume a dropped stream (5 s),
/// so that every call that is going to stop has stopped; the stdio transport's wait for
/// running calls (5 s) is over before the process exits.
const SETTLE: Duration = Duration::from_secs(9);
/// Time for calls that are cancelled at once to stop: far more than a cancellation takes,
/// far less than rmcp's own wait for the calls of a closing session (5 s).
const PROMPTLY: Duration = Duration::from_secs(1);
/// Longer than the wait's longest pause between polls (5 s, with jitter), so that a wait
/// still running polls at least once in it.
const WATCH: Duration = Duration::from_secs(7);

/// Polls of the pending request's detail seen by the sandbox.
fn polls(sandbox: &Sandbox) -> u64 {
    sandbox.requests_seen().count(
        &Method::GET,
        &format!("/credential-requests/requests/{PENDING_REQUEST_ID}/detail"),
    )
}

/// The binary on `sandbox`, without a token, a CLI login or a scope check.
fn binary(sandbox: &Sandbox) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    command
        .arg("--no-cli-login")
        .env("MAKE_API_URL", sandbox.api_base_url())
        .env("MAKE_API_KEY", sandbox.api_key())
        .env("MAKE_TEAM", "1")
        .env_remove("MCP_AUTH_TOKEN")
        .env_remove("MCP_STATE_KEY")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    command
}

fn wait_call(id: usize) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "credential-requests_wait-for-authorization",
        "arguments": {"requestId": PENDING_REQUEST_ID, "timeoutSeconds": 300}
    }})
}

/// Reads the rest of the child's log so that its stderr pipe never fills.
fn drain(mut lines: LogLines) {
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
}

/// Waits until the calls poll Make. Waits on one request share one poll, so this is one
/// poll more than `before`, however many calls there are; as long as any of them still
/// runs, that poll goes on, which is what the tests watch for.
async fn polling(sandbox: &Sandbox, before: u64) {
    eventually(|| async { polls(sandbox) > before }).await;
}

/// Polls seen while watching for `WATCH` after `settle`: what the gone calls still do.
async fn polls_after_settling(sandbox: &Sandbox, settle: Duration) -> (u64, u64) {
    let gone = polls(sandbox);
    tokio::time::sleep(settle).await;
    let settled = polls(sandbox);
    tokio::time::sleep(WATCH).await;
    let watched = polls(sandbox);
    eprintln!(
        "{WAITS} waits: {} polls in the {settle:?} after the client went, {} in the {WATCH:?} after that",
        settled - gone,
        watched - settled
    );
    (settled, watched)
}

/// The HTTP server in `--sessions` mode on `sandbox`: the child and the `/mcp` URL.
async fn sessions_server(sandbox: &Sandbox) -> (tokio::process::Child, String) {
    let mut command = binary(sandbox);
    command.args(["http", "--listen", "127.0.0.1:0", "--sessions"]);
    let (child, lines, _log, url) = spawn_and_read_log(&mut command, "url").await;
    drain(lines);
    (child, url)
}

/// A new HTTP client, so that every request has a connection of its own.
fn client() -> reqwest::Client {
    make_credentials_mcp::make::client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Opens a session and completes its initialization; returns its id.
async fn open_session(url: &str) -> String {
    let response = client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.text().await.unwrap();
    let initialized = in_session(
        url,
        &id,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(initialized.status(), 202);
    id
}

/// POSTs `body` within session `id`, on a connection of its own; returns the response as
/// soon as its headers arrived.
async fn in_session(url: &str, id: &str, body: Value) -> reqwest::Response {
    client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Starts the `WAITS` calls within session `id` and returns their open SSE responses.
async fn start_waits(sandbox: &Sandbox, url: &str, id: &str) -> Vec<reqwest::Response> {
    let before = polls(sandbox);
    let mut open = Vec::new();
    for n in 0..WAITS {
        let response = in_session(url, id, wait_call(100 + n)).await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    polling(sandbox, before).await;
    open
}

/// `--sessions`: the client closes the connections that carry the calls' SSE streams and
/// does not come back to resume them. The calls stop; the session lives on.
async fn sessions_calls_stop_when_their_connections_close() {
    let sandbox = Sandbox::start().await.unwrap();
    let (child, url) = sessions_server(&sandbox).await;
    let id = open_session(&url).await;
    let open = start_waits(&sandbox, &url, &id).await;

    drop(open);
    let (settled, watched) = polls_after_settling(&sandbox, SETTLE).await;
    assert_eq!(watched, settled, "no poll once the calls' client has gone");

    // The session itself still answers.
    let listed = in_session(
        &url,
        &id,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(listed.status(), 200);
    assert!(listed.text().await.unwrap().contains("keys_list"));
    drop(child);
}

/// `--sessions`: the client ends its session (DELETE) while calls run; they stop.
async fn sessions_calls_stop_when_their_session_ends() {
    let sandbox = Sandbox::start().await.unwrap();
    let (child, url) = sessions_server(&sandbox).await;
    let id = open_session(&url).await;
    let open = start_waits(&sandbox, &url, &id).await;

    let deleted = client()
        .delete(&url)
        .header("mcp-session-id", &id)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let (settled, watched) = polls_after_settling(&sandbox, PROMPTLY).await;
    assert_eq!(watched, settled, "no poll once the session has ended");
    drop(open);
    drop(child);
}

/// Stateless HTTP: each call's connection closes; the calls stop.
async fn stateless_calls_stop_when_their_connections_close() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut command = binary(&sandbox);
    command.args(["http", "--listen", "127.0.0.1:0"]);
    let (child, lines, _log, url) = spawn_and_read_log(&mut command, "url").await;
    drain(lines);

    let before = polls(&sandbox);
    let mut running = Vec::new();
    for n in 0..WAITS {
        let request = client()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", ACCEPT)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&wait_call(n))
            .send();
        running.push(tokio::spawn(request));
    }
    polling(&sandbox, before).await;
    // The first call started the shared poll; give the rest a moment to arrive too.
    tokio::time::sleep(PROMPTLY).await;

    for call in &running {
        call.abort();
    }
    let (settled, watched) = polls_after_settling(&sandbox, SETTLE).await;
    assert_eq!(watched, settled, "no poll once the calls' client has gone");
    drop(child);
}

/// stdio: the client closes the server's stdin while calls run. The server stops them and
/// exits by itself.
async fn stdio_calls_stop_and_the_server_exits_when_stdin_closes() {
    let sandbox = Sandbox::start().await.unwrap();
    let mut child = binary(&sandbox)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = async |message: Value| {
        let mut line = message.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.unwrap();
    };
    send(initialize_body()).await;
    let answer = stdout
        .next_line()
        .await
        .unwrap()
        .expect("initialize result");
    assert!(answer.contains("serverInfo"), "{answer}");
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    let before = polls(&sandbox);
    for n in 0..WAITS {
        send(wait_call(100 + n)).await;
    }
    polling(&sandbox, before).await;
    // The first call started the shared poll; give the rest a moment to arrive too.
    tokio::time::sleep(PROMPTLY).await;
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });

    drop(stdin);
    let closed = std::time::Instant::now();
    // The bound only keeps a regression from hanging the suite.
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the server exits once stdin is closed")
        .unwrap();
    assert!(status.success(), "{status}");
    eprintln!("stdio: exited {:?} after stdin closed", closed.elapsed());
    let (settled, watched) = polls_after_settling(&sandbox, SETTLE).await;
    assert_eq!(watched, settled, "no poll after the server exited");
}

/// `--sessions`: a client whose connection broke resumes the call's stream (`GET` with
/// `Last-Event-ID`) within the grace. The call runs on past the grace, and its result
/// arrives on the resumed stream.
async fn sessions_a_resumed_call_runs_on_and_answers() {
    use make_sandbox::seed::PENDING_CREDENTIAL_ID;
    let sandbox = Sandbox::start().await.unwrap();
    let (child, url) = sessions_server(&sandbox).await;
    let id = open_session(&url).await;
    let before = polls(&sandbox);
    let mut first = in_session(&url, &id, wait_call(7)).await;
    assert_eq!(first.status(), 200);
    let priming = String::from_utf8(first.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    let event_id = priming
        .lines()
        .find_map(|line| line.strip_prefix("id:"))
        .unwrap_or_else(|| panic!("an event id in {priming:?}"))
        .trim()
        .to_owned();
    eventually(|| async { polls(&sandbox) > before }).await;
    drop(first);

    let mut resumed = client()
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &id)
        .header("mcp-protocol-version", "2025-11-25")
        .header("last-event-id", &event_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    tokio::time::sleep(SETTLE).await;
    let settled = polls(&sandbox);
    tokio::time::sleep(WATCH).await;
    assert!(polls(&sandbox) > settled, "the resumed call still polls");

    let consent = format!(
        "{}/credential-requests/{PENDING_REQUEST_ID}/credentials/{PENDING_CREDENTIAL_ID}/authorize",
        sandbox.origin()
    );
    let authorized = client()
        .post(consent)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert!(
        authorized.status().is_success() || authorized.status().is_redirection(),
        "{}",
        authorized.status()
    );
    // The bound only keeps a regression from hanging the suite.
    let answer = tokio::time::timeout(Duration::from_secs(60), async {
        let mut text = String::new();
        while !text.contains(r#""id":7"#) {
            let chunk = resumed.chunk().await.unwrap().expect("the stream goes on");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    })
    .await
    .expect("the result arrives on the resumed stream");
    assert!(answer.contains(r#""done":true"#), "{answer}");
    drop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_clients_calls_stop_in_every_transport_mode() {
    let cases = [
        (
            "sessions_calls_stop_when_their_connections_close",
            tokio::spawn(sessions_calls_stop_when_their_connections_close()),
        ),
        (
            "sessions_calls_stop_when_their_session_ends",
            tokio::spawn(sessions_calls_stop_when_their_session_ends()),
        ),
        (
            "stateless_calls_stop_when_their_connections_close",
            tokio::spawn(stateless_calls_stop_when_their_connections_close()),
        ),
        (
            "stdio_calls_stop_and_the_server_exits_when_stdin_closes",
            tokio::spawn(stdio_calls_stop_and_the_server_exits_when_stdin_closes()),
        ),
        (
            "sessions_a_resumed_call_runs_on_and_answers",
            tokio::spawn(sessions_a_resumed_call_runs_on_and_answers()),
        ),
    ];
    let mut failed = Vec::new();
    for (name, case) in cases {
        if let Err(e) = case.await {
            failed.push(format!("{name}: {e}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
