//! Small leaks and loose ends, on the real binary: a request with two `Host` headers, session
//! ids in the log, the state key's sources and strength, and secrets in `Debug` output.

mod common;

use std::time::Duration;

use common::http::*;
use make_credentials_mcp::cli::Cli;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `openssl rand -base64 32`.
const GOOD_STATE_KEY: &str = "q8Vf1kqH1Jm0xgM4nB0s3yqk3rWl5y9QeZ2tP7oXb1c=";

/// Sends `request` on a fresh connection and returns everything the server answers until
/// it closes the connection (the request asks it to).
async fn raw_exchange(url: &str, request: String) -> String {
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/mcp"))
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // The bound only keeps a regression from hanging the suite.
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A raw `POST /mcp` of `initialize` with these `Host` header values, one header each.
fn initialize_with_hosts(hosts: &[&str]) -> String {
    let body = initialize_body().to_string();
    let mut request = String::from("POST /mcp HTTP/1.1\r\n");
    for host in hosts {
        request.push_str(&format!("Host: {host}\r\n"));
    }
    request.push_str(&format!(
        "Content-Type: application/json\r\nAccept: {ACCEPT}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    request
}

#[tokio::test]
async fn a_request_with_two_host_headers_is_refused() {
    let (child, _lines, _log, url) = spawn_tokenless_http(&[], None).await;
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/mcp"))
        .unwrap()
        .to_string();
    // One Host header: served, so the refusal below is about the second header alone.
    let single = raw_exchange(&url, initialize_with_hosts(&[&host])).await;
    assert!(single.starts_with("HTTP/1.1 200"), "{single}");
    for hosts in [
        [host.as_str(), "evil.example"],
        ["evil.example", host.as_str()],
        [host.as_str(), host.as_str()],
    ] {
        let answer = raw_exchange(&url, initialize_with_hosts(&hosts)).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{hosts:?}: {answer}");
        assert!(
            answer.contains("more than one Host header"),
            "{hosts:?}: {answer}"
        );
        assert!(!answer.contains("protocolVersion"), "{hosts:?}: {answer}");
    }
    drop(child);
}

#[cfg(unix)]
#[tokio::test]
async fn session_ids_never_reach_the_log() {
    // Info for everything (rmcp's own info lines included; rmcp is never logged below
    // info), the default level, and debug.
    for rust_log in [Some("info"), None, Some("debug")] {
        let (child, mut lines, mut log, url) =
            spawn_tokenless_http(&["--sessions"], rust_log).await;
        let answer = send_initialize(&url).await;
        assert_eq!(answer.status(), 200);
        let session = answer
            .headers()
            .get("mcp-session-id")
            .expect("a session in --sessions mode")
            .to_str()
            .unwrap()
            .to_string();
        drop(answer);
        let in_session = |body: serde_json::Value| async {
            post(&url, body)
                .await
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-11-25")
                .send()
                .await
                .unwrap()
        };
        in_session(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        let listed = in_session(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})).await;
        assert_eq!(listed.status(), 200);
        assert!(listed.text().await.unwrap().contains("keys_list"));
        let deleted = make_credentials_mcp::make::client_builder()
            .build()
            .unwrap()
            .delete(&url)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success(), "{}", deleted.status());
        terminate_and_drain(&child, &mut lines, &mut log).await;
        let log = log.join("\n");
        assert!(
            log.contains(r#"mcp_method="tools/list""#),
            "{rust_log:?}: {log}"
        );
        assert!(
            !log.contains(&session),
            "{rust_log:?}: session id {session} in the log:\n{log}"
        );
        // Each line names the session by a digest of its id instead.
        assert!(log.contains(" session="), "{rust_log:?}: {log}");
    }
}

/// Runs `tools` with `MCP_STATE_KEY` set to `key` (unset when `None`) and `args` first.
async fn run_tools(args: &[&str], key: Option<&str>) -> std::process::Output {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .args(["--no-cli-login", "tools"])
        .env_remove("MAKE_API_KEY")
        .env_remove("MCP_STATE_KEY")
        .kill_on_drop(true);
    if let Some(key) = key {
        command.env("MCP_STATE_KEY", key);
    }
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the binary must exit by itself")
        .unwrap()
}

#[tokio::test]
async fn the_state_key_flag_is_gone() {
    let out = run_tools(&["--state-key", GOOD_STATE_KEY], None).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unexpected argument '--state-key'"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn weak_state_keys_are_refused_at_start_up() {
    for (key, reason) in [
        ("a".repeat(48), "one byte repeated"),
        (
            "correct horse battery staple!!!!".to_string(),
            "at least 43",
        ),
        ("too short".to_string(), "at least 32 bytes"),
    ] {
        let out = run_tools(&[], Some(&key)).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert!(stderr.contains("request-state key"), "{key}: {stderr}");
        assert!(stderr.contains(reason), "{key}: {stderr}");
        assert!(
            !stderr.contains(&key),
            "the key itself is not shown: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test]
async fn a_random_state_key_is_accepted() {
    let out = run_tools(&[], Some(GOOD_STATE_KEY)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("keys_list"));
}

#[test]
fn debug_of_the_command_line_shows_no_secret() {
    const MAKE_KEY: &str = "0f8e2c1a-1234-4abc-9def-0123456789ab";
    const TOKEN: &str = "bearer-token-7d1e9f";
    let args = [
        "m",
        "--api-key",
        MAKE_KEY,
        "--zone",
        "eu1.make.com",
        "http",
        "--auth-token",
        TOKEN,
    ];
    let cli = <Cli as clap::Parser>::try_parse_from(args).unwrap();
    let shown = format!("{cli:?}");
    assert!(
        !shown.contains(MAKE_KEY) && !shown.contains(TOKEN),
        "{shown}"
    );
    let run = format!("{:?}", cli.resolve().unwrap());
    assert!(!run.contains(MAKE_KEY) && !run.contains(TOKEN), "{run}");
}
