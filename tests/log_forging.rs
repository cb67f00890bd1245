//! Clients cannot write lines into the server's log: a tool name (or JSON-RPC id, path or
//! header) with a newline and terminal escape bytes shows up escaped inside its own line,
//! over stdio and over HTTP, with the real binary.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::{BIN, TOKEN};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// What a forged line would start with: a timestamp like the real ones.
const FORGED: &str = "2099-01-01T00:00:00.000000Z  INFO make_credentials_mcp::server: FORGED";

fn evil(what: &str) -> String {
    format!(
        "{what}\n{FORGED} tool call tool=\"keys_delete\" failed=false\u{1b}[31m\r\n{FORGED}\u{1b}[0m"
    )
}

/// Asserts that no line of `log` is forged and that no raw control byte got through.
fn assert_not_forged(log: &str) {
    for line in log.lines() {
        assert!(
            !line.starts_with("2099-"),
            "forged line {line:?} in:\n{log}"
        );
    }
    assert!(!log.contains('\u{1b}'), "raw ESC in:\n{log}");
    assert!(!log.contains('\r'), "raw CR in:\n{log}");
    assert!(!log.contains('\u{7f}'), "raw DEL in:\n{log}");
}

#[tokio::test]
async fn stdio_tool_names_and_ids_cannot_forge_log_lines() {
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir().join("mcm-no-home"))
        .env("RUST_LOG", "debug")
        .arg("--no-cli-login")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": evil("client"), "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": evil("keys_list"), "arguments": {"teamId": 1}}}),
        json!({"jsonrpc": "2.0", "id": evil("3"), "method": "tools/call",
            "params": {"name": "keys_list", "arguments": {"teamId": 1}}}),
    ];
    let mut answers = Vec::new();
    for message in messages {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        if message.get("id").is_some() {
            let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
                .await
                .expect("an answer")
                .unwrap()
                .expect("stdout open");
            answers.push(serde_json::from_str::<Value>(&line).unwrap());
        }
    }
    drop(stdin);
    let mut log = String::new();
    tokio::time::timeout(Duration::from_secs(30), stderr.read_to_string(&mut log))
        .await
        .expect("the server exits when stdin closes")
        .unwrap();
    let _ = child.wait().await;
    // The evil tool name was refused, and the refusal was logged (escaped).
    assert!(answers[1].get("error").is_some(), "{:?}", answers[1]);
    assert!(log.contains(r#"tool="keys_list\n2099-"#), "{log}");
    assert_not_forged(&log);
}

#[cfg(unix)]
#[tokio::test]
async fn http_requests_cannot_forge_log_lines() {
    let (mut child, mut lines, mut log, addr) = common::http::spawn_and_read_log(
        tokio::process::Command::new(BIN)
            .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
            .env_remove("MAKE_API_KEY")
            .env("MCP_AUTH_TOKEN", TOKEN)
            .env("RUST_LOG", "debug"),
        "listen",
    )
    .await;
    let http = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap();
    let call = |body: Value, path: &str| {
        http.post(format!("http://{addr}{path}"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .header("accept", common::http::ACCEPT)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body)
            .send()
    };
    let response = call(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": evil("keys_list"), "arguments": {"teamId": 1}}}),
        "/mcp",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let response = call(
        json!({"jsonrpc": "2.0", "id": evil("2"), "method": evil("tools/list")}),
        "/mcp",
    )
    .await
    .unwrap();
    assert!(response.status().is_success() || response.status().is_client_error());
    let path = format!("/mcp%0A{}", "x".repeat(500));
    call(json!({}), &path).await.unwrap();
    // Raw bytes a client library would refuse to send: ESC in a header value and in the path.
    for raw in [
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: a\u{1b}[31m\r\n\r\n",
        "GET /he\u{1b}[31malthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(raw.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    }
    common::http::terminate_and_drain(&child, &mut lines, &mut log).await;
    child.wait().await.unwrap();
    let log = log.join("\n");
    assert!(log.contains(r#"tool="keys_list\n2099-"#), "{log}");
    assert!(log.contains(r#"path="/mcp%0Axxx"#), "{log}");
    assert!(log.contains("…(+"), "long paths are capped:\n{log}");
    assert_not_forged(&log);
}
