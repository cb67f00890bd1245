//! The `http` transport end to end on loopback with ephemeral ports: rmcp's HTTP client in
//! both protocol eras, the security checks (Origin, Host, bearer, body cap), `/healthz`,
//! graceful shutdown, and the binary's refusal to listen off loopback without a token.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::*;
use common::text;
use make_credentials_mcp::make::MakeClient;
use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::http::{
    self, BearerToken, HttpOptions, SecurityError, security,
};
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use serde_json::json;

/// Checks that `client` speaks `version`, lists the tools and calls one twice; without a
/// Make key each call is an isError result that tells the operator how to configure one.
async fn list_and_call_twice(client: RunningService<RoleClient, ()>, version: ProtocolVersion) {
    assert_eq!(client.peer_info().unwrap().protocol_version, version);
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 23, "{} tools", tools.len());
    assert!(tools.iter().any(|t| t.name == "keys_list"));
    for _ in 0..2 {
        let args = json!({"teamId": 1}).as_object().unwrap().clone();
        let result = client
            .call_tool(CallToolRequestParams::new("keys_list").with_arguments(args))
            .await
            .expect("tools/call");
        assert_eq!(result.is_error, Some(true));
        assert!(text(&result).contains("MAKE_API_KEY"), "{}", text(&result));
    }
    client.cancel().await.unwrap();
}

/// A client of each era, with `token`, lists the tools and calls one on `running`.
async fn both_eras_list_and_call(running: &Running, token: Option<&str>) {
    let legacy = legacy_client(running.mcp(), token).await;
    list_and_call_twice(legacy, ProtocolVersion::V_2025_11_25).await;
    let modern = modern_client(running.mcp(), token).await;
    list_and_call_twice(modern, ProtocolVersion::V_2026_07_28).await;
}

/// On a default (stateless) server, a client of `version`'s era lists the tools and calls one.
async fn default_server_serves(version: ProtocolVersion) {
    let running = start(HttpOptions::default()).await;
    let client = if version == ProtocolVersion::V_2026_07_28 {
        modern_client(running.mcp(), None).await
    } else {
        legacy_client(running.mcp(), None).await
    };
    list_and_call_twice(client, version).await;
    running.stop().await;
}

#[tokio::test]
async fn legacy_2025_client_lists_and_calls_tools_statelessly() {
    default_server_serves(ProtocolVersion::V_2025_11_25).await;
}

#[tokio::test]
async fn stateless_default_hands_out_no_session() {
    let running = start(HttpOptions::default()).await;
    let response = send_initialize(&running.mcp()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // The answer carries its Content-Length, not a chunked body: the in-flight counter
    // around `/mcp` passes the body's size on.
    assert!(response.headers().get("transfer-encoding").is_none());
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().len(), length);
    running.stop().await;
}

#[tokio::test]
async fn modern_2026_client_lists_and_calls_tools() {
    default_server_serves(ProtocolVersion::V_2026_07_28).await;
}

#[tokio::test]
async fn sessions_flag_gives_2025_clients_a_session() {
    let options = HttpOptions {
        sessions: true,
        ..HttpOptions::default()
    };
    let running = start(options).await;
    let response = send_initialize(&running.mcp()).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_some());
    drop(response);
    // 2026-07-28 clients are served statelessly whatever the mode.
    both_eras_list_and_call(&running, None).await;
    running.stop().await;
}

#[tokio::test]
async fn both_eras_work_with_the_bearer_token() {
    let running = start(with_token()).await;
    both_eras_list_and_call(&running, Some(TOKEN)).await;
    running.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_bearer_gets_401_with_www_authenticate() {
    let running = start(with_token()).await;
    let cases = [
        None,
        Some("Bearer wrong-token-xxxx".to_string()),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
    ];
    for authorization in cases {
        let mut request = post(&running.mcp(), initialize_body()).await;
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        let body = response.text().await.unwrap();
        assert!(!body.contains(TOKEN), "the token must not be echoed");
    }
    let ok = post(&running.mcp(), initialize_body())
        .await
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    running.stop().await;
}

/// With the bearer token and `allowed` as the one extra allowed origin or host (`header`),
/// an `initialize` whose `header` is one of `refused` gets 403, and one of `passed` gets 200.
async fn assert_only_allowed_pass(header: &str, allowed: &str, refused: &[&str], passed: &[&str]) {
    let mut options = with_token();
    match header {
        "origin" => options.allowed_origins = vec![allowed.into()],
        "host" => options.allowed_hosts = vec![allowed.into()],
        other => panic!("no allow list for {other}"),
    }
    let running = start(options).await;
    let cases = refused
        .iter()
        .map(|v| (v, 403))
        .chain(passed.iter().map(|v| (v, 200)));
    for (value, status) in cases {
        let response = post(&running.mcp(), initialize_body())
            .await
            .header(header, *value)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{header}: {value}");
    }
    running.stop().await;
}

#[tokio::test]
async fn foreign_origin_gets_403_and_loopback_origins_pass() {
    // A non-loopback origin is only allowed with a token.
    let foreign = [
        "http://evil.example.com",
        "https://localhost.evil.example.com",
    ];
    let loopback = [
        "http://localhost:6274",
        "http://127.0.0.1:8080",
        "http://[::1]:3000",
    ];
    let allowed = ["https://app.example.com"];
    let passed = [loopback.as_slice(), &allowed].concat();
    assert_only_allowed_pass("origin", "https://app.example.com:443", &foreign, &passed).await;
}

#[tokio::test]
async fn foreign_host_gets_403_and_allowed_host_passes() {
    // A non-loopback host is only allowed with a token.
    let foreign = ["evil.example.com", "evil.example.com:3901"];
    let passed = ["mcp.example.com", "localhost:3901"];
    assert_only_allowed_pass("host", "mcp.example.com", &foreign, &passed).await;
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let running = start(HttpOptions {
        max_body_bytes: 1024,
        ..HttpOptions::default()
    })
    .await;
    let mut body = initialize_body();
    body["params"]["clientInfo"]["padding"] = json!("x".repeat(4096));
    let response = post(&running.mcp(), body).await.send().await.unwrap();
    assert_eq!(response.status(), 413);
    let small = send_initialize(&running.mcp()).await;
    assert_eq!(small.status(), 200);
    running.stop().await;
}

#[tokio::test]
async fn default_body_cap_is_4_mib() {
    let running = start(HttpOptions::default()).await;
    let mut body = initialize_body();
    body["params"]["clientInfo"]["padding"] = json!("x".repeat(4 * 1024 * 1024 + 1));
    let response = post(&running.mcp(), body).await.send().await.unwrap();
    assert_eq!(response.status(), 413);
    running.stop().await;
}

#[tokio::test]
async fn healthz_answers_without_auth_and_without_secrets() {
    let running = start(with_token()).await;
    let response = reqwest::get(format!("http://{}/healthz", running.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(!body.to_string().contains(TOKEN));
    running.stop().await;
}

#[tokio::test]
async fn non_loopback_without_token_is_refused() {
    let any: SocketAddr = "0.0.0.0:3901".parse().unwrap();
    assert!(matches!(
        security::check_bind(any, None),
        Err(SecurityError::NonLoopbackWithoutToken { .. })
    ));
    let token = BearerToken::new(TOKEN).unwrap();
    assert!(security::check_bind(any, Some(&token)).is_ok());
    assert!(security::check_bind("127.0.0.1:3901".parse().unwrap(), None).is_ok());
    // serve_on checks the bound address too, not only the CLI.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let result = http::serve_on(
        listener,
        server_without_key(),
        HttpOptions::default(),
        std::future::pending(),
    )
    .await;
    assert!(matches!(
        result,
        Err(http::HttpError::Security(
            SecurityError::NonLoopbackWithoutToken { .. }
        ))
    ));
}

#[tokio::test]
async fn binary_refuses_non_loopback_without_token() {
    let out = run_binary(&["--no-cli-login", "http", "--listen", "0.0.0.0:0"], None).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("MCP_AUTH_TOKEN"), "{stderr}");
}

#[tokio::test]
async fn binary_refuses_two_token_sources_and_empty_tokens() {
    let out = run_binary(
        &[
            "--no-cli-login",
            "http",
            "--auth-token-file",
            "/nonexistent",
        ],
        Some("x"),
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not both"));
    let out = run_binary(&["--no-cli-login", "http"], Some("  ")).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_call_finish_and_refuses_new_ones() {
    let make = slow_make(Duration::from_millis(800)).await;
    let running = start_with(server_for(&make), HttpOptions::default()).await;
    let healthz = running.healthz();
    let client = legacy_client(running.mcp(), None).await;
    let result = call_then_stop(client, &make, running).await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    // The listener is gone: new requests are refused.
    assert!(reqwest::get(healthz).await.is_err());
}

#[cfg(unix)]
#[tokio::test]
async fn binary_serves_logs_one_line_per_request_without_secrets_and_stops_on_sigterm() {
    let (mut child, mut lines, mut log, url) = spawn_and_read_log(
        tokio::process::Command::new(BIN)
            .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
            .env_remove("MAKE_API_KEY")
            .env("MCP_AUTH_TOKEN", TOKEN)
            .env("RUST_LOG", "make_credentials_mcp=info"),
        "url",
    )
    .await;
    let client = legacy_client(url, Some(TOKEN)).await;
    let args = json!({"teamId": 987654}).as_object().unwrap().clone();
    client
        .call_tool(CallToolRequestParams::new("keys_list").with_arguments(args))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    let killed = terminate_and_drain(&child, &mut lines, &mut log).await;
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    let log = log.join("\n");
    assert!(
        log.contains(
            r#"method=POST path="/mcp" mcp_method="tools/call" tool="keys_list" status=200"#
        ),
        "{log}"
    );
    assert!(log.contains(r#"mcp_method="initialize""#), "{log}");
    assert!(!log.contains(TOKEN), "token in log:\n{log}");
    assert!(!log.contains("987654"), "argument in log:\n{log}");
    assert!(log.contains("HTTP server stopped"), "{log}");
}

/// The Make key is server configuration: whatever a client sends in headers, a server
/// without a key still has none.
#[tokio::test]
async fn http_clients_cannot_supply_the_make_key() {
    let running = start(HttpOptions::default()).await;
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "keys_list", "arguments": {"teamId": 1}}});
    let response = post(&running.mcp(), body)
        .await
        .header("mcp-protocol-version", "2025-11-25")
        .header(
            "authorization",
            "Token 0f8e2c1a-1234-4abc-9def-0123456789ab",
        )
        .header("make-api-key", "0f8e2c1a-1234-4abc-9def-0123456789ab")
        .header("x-make-api-key", "0f8e2c1a-1234-4abc-9def-0123456789ab")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["result"]["isError"], true, "{body}");
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("No Make API key is configured"), "{text}");
    running.stop().await;
}

#[tokio::test]
async fn make_sees_only_the_servers_key_whatever_the_http_client_sends() {
    let make = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({"keys": []})))
        .mount(&make)
        .await;
    let server_key = "5c4e2a1b-0d3f-4a6b-8c9d-112233445566";
    let settings = ClientSettings {
        base_url: Some(url::Url::parse(&format!("{}/api/v2", make.uri())).unwrap()),
        api_key: ApiKey::new(server_key),
        ..ClientSettings::default()
    };
    let server = MakeServer::new(MakeClient::new(&settings).unwrap(), None);
    let running = start_with(server, with_token()).await;
    let client_key = "0f8e2c1a-1234-4abc-9def-0123456789ab";
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "keys_list", "arguments": {"teamId": 1}}});
    let response = post(&running.mcp(), body)
        .await
        .header("mcp-protocol-version", "2025-11-25")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("make-api-key", client_key)
        .header("x-make-api-key", client_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["result"]["isError"], false, "{body}");
    let seen = make.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].headers.get("authorization").unwrap(),
        &format!("Token {server_key}")
    );
    let forwarded: Vec<_> = seen[0]
        .headers
        .iter()
        .filter(|(_, v)| v.as_bytes() == client_key.as_bytes())
        .collect();
    assert!(
        forwarded.is_empty(),
        "a client header reached Make: {forwarded:?}"
    );
    assert!(
        !seen[0]
            .headers
            .values()
            .any(|v| v.as_bytes().ends_with(TOKEN.as_bytes())),
        "the MCP token reached Make"
    );
    running.stop().await;
}
