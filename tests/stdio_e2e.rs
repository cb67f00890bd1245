//! End to end: the real binary over stdio, driven by rmcp's client in both protocol eras,
//! against a mock Make API; plus the `tools` and `call` commands.

mod common;

use common::{TEST_KEY, assert_request, text};
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Value, json};
use wiremock::MockServer;

fn command(api_url: Option<&str>, key: Option<&str>) -> tokio::process::Command {
    let mut cmd = common::clean_binary();
    cmd.env("RUST_LOG", "debug")
        .stderr(std::process::Stdio::null());
    if let Some(url) = api_url {
        cmd.env("MAKE_API_URL", url);
    }
    if let Some(key) = key {
        cmd.env("MAKE_API_KEY", key);
    }
    cmd
}

/// The `call` command of `keys_list` for team 22.
const LIST_KEYS: [&str; 3] = ["call", "keys_list", r#"{"teamId":22}"#];

async fn mock_make() -> MockServer {
    common::make_with_keys(json!({"keys": [{"id": 16, "name": "Basic", "typeName": "basicauth"}]}))
        .await
}

/// The binary over stdio with the key, its Make API at `mock`.
fn stdio_to(mock: &MockServer) -> TokioChildProcess {
    let url = format!("{}/api/v2", mock.uri());
    TokioChildProcess::new(command(Some(&url), Some(TEST_KEY))).unwrap()
}

/// Checks that `client` speaks `version`, lists the tools and calls `keys_list` with the key.
async fn exercise(
    client: RunningService<RoleClient, ()>,
    mock: &MockServer,
    version: ProtocolVersion,
) {
    assert_eq!(client.peer_info().unwrap().protocol_version, version);
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 23);
    let args = json!({"teamId": 22}).as_object().unwrap().clone();
    let result = client
        .call_tool(CallToolRequestParams::new("keys_list").with_arguments(args))
        .await
        .expect("tools/call");
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(result.structured_content.unwrap()["keys"][0]["id"], 16);
    let seen = mock.received_requests().await.unwrap();
    let last = seen.last().expect("the mock saw the call");
    assert_eq!(last.url.path(), "/api/v2/keys");
    assert_eq!(
        last.headers.get("authorization").unwrap(),
        &format!("Token {TEST_KEY}")
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stdio_2025_11_25_client_lists_and_calls() {
    let mock = mock_make().await;
    let client = ().serve(stdio_to(&mock)).await.expect("initialize");
    exercise(client, &mock, ProtocolVersion::V_2025_11_25).await;
}

#[tokio::test]
async fn stdio_2026_07_28_client_lists_and_calls() {
    let mock = mock_make().await;
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client =
        ().serve_with_lifecycle(stdio_to(&mock), lifecycle)
            .await
            .expect("server/discover");
    exercise(client, &mock, ProtocolVersion::V_2026_07_28).await;
}

#[tokio::test]
async fn without_a_key_tools_are_listed_and_calls_explain_the_setup() {
    let transport = TokioChildProcess::new(command(None, None)).unwrap();
    let client = ().serve(transport).await.expect("initialize");
    assert_eq!(client.list_all_tools().await.unwrap().len(), 23);
    let args = json!({"teamId": 1}).as_object().unwrap().clone();
    let result = client
        .call_tool(CallToolRequestParams::new("connections_list").with_arguments(args))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(message.contains("MAKE_API_KEY"), "{message}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn tools_command_prints_the_same_definitions_as_the_snapshot() {
    let out = command(None, None).arg("tools").output().await.unwrap();
    assert!(out.status.success());
    let tools: Vec<Value> = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert_eq!(tools.len(), 23);
    let snapshot: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tool-schemas/keys_list.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(tools.contains(&snapshot));
}

#[tokio::test]
async fn call_command_prints_the_result_and_exits_by_outcome() {
    let mock = mock_make().await;
    let url = format!("{}/api/v2", mock.uri());
    let printed = common::run_ok(&mut command(Some(&url), Some(TEST_KEY)), &LIST_KEYS).await;
    assert_eq!(printed["keys"][0]["name"], "Basic");
    let seen = mock.received_requests().await.unwrap();
    let request = common::Seen::from_request(&seen[0]);
    assert_request(
        &request,
        "GET",
        "/keys",
        &[("teamId", "22"), ("cols[]", "*")],
        None,
    );

    let out = command(Some(&url), Some(TEST_KEY))
        .args(["call", "keys_get", r#"{"keyId":0}"#])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a tool error exits 1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("keyId"));
    assert!(out.stdout.is_empty());

    let out = command(Some(&url), Some(TEST_KEY))
        .args(["call", "no_such_tool"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown tool exits 2");
}

#[tokio::test]
async fn the_key_never_reaches_the_logs() {
    let mock = mock_make().await;
    let url = format!("{}/api/v2", mock.uri());
    let mut cmd = command(Some(&url), Some(TEST_KEY));
    cmd.stderr(std::process::Stdio::piped());
    let out = cmd.args(LIST_KEYS).output().await.unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("make api"), "debug logs were written: {logs}");
    assert!(!logs.contains(TEST_KEY), "the key leaked into the logs");
}

#[tokio::test]
async fn a_bare_origin_in_make_api_url_means_its_api_v2() {
    let mock = mock_make().await;
    for origin in [mock.uri(), format!("{}/", mock.uri())] {
        common::run_ok(&mut command(Some(&origin), Some(TEST_KEY)), &LIST_KEYS).await;
    }
    let seen = mock.received_requests().await.unwrap();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.url.path(), "/api/v2/keys");
    }
}

#[tokio::test]
async fn configuration_errors_never_show_a_urls_user_info() {
    let secret = "s3cretPW";
    for (variable, value) in [
        (
            "MAKE_API_URL",
            format!("https://user:{secret}@eu1.make.com"),
        ),
        (
            "MAKE_API_URL",
            format!("https://eu1.make.com/api/v2?token={secret}"),
        ),
        ("MAKE_ZONE", format!("https://user:{secret}@eu1.make.com")),
    ] {
        let mut cmd = command(None, Some(TEST_KEY));
        cmd.env(variable, &value)
            .stderr(std::process::Stdio::piped())
            .arg("tools");
        let out = cmd.output().await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{variable}={value} is refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(variable), "{stderr}");
        assert!(stderr.contains("eu1.make.com"), "{stderr}");
        assert!(!stderr.contains(secret), "{variable}: {stderr}");
    }
}
