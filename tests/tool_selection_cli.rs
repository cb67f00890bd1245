//! Choosing tools on the command line, with the real binary: `tools` and `call` under a
//! selection (flags and their environment twins), the exit code and message for unknown
//! names, a hidden tool's `call`, quiet logs for the shell commands, and what serving
//! over stdio lists and logs.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use common::TEST_KEY;
use common::scopes::{ALL_TOOLS, assert_unknown, names};
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Command-line flags and environment variables of one case.
type Setting = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// The binary with a clean environment (no RUST_LOG, no proxies, no Make CLI login).
fn command() -> tokio::process::Command {
    let mut cmd = common::clean_binary();
    cmd.stdin(Stdio::null());
    cmd
}

async fn run(cmd: &mut tokio::process::Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().await.unwrap();
    (
        status.code(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// The names `tools` prints; its stderr must be empty (warnings only by default).
async fn tools(cmd: &mut tokio::process::Command) -> Vec<String> {
    let (code, stdout, stderr) = run(cmd.arg("tools")).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "", "`tools` logs only warnings by default");
    let tools: Vec<Value> = serde_json::from_str(&stdout).expect("stdout is only JSON");
    tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

async fn mock_make() -> MockServer {
    common::make_with_keys(json!({"keys": [{"id": 16}]})).await
}

#[tokio::test]
async fn tools_prints_only_the_selected_tools_with_flags_or_environment() {
    assert_eq!(tools(&mut command()).await.len(), ALL_TOOLS);
    assert_eq!(
        tools(command().args(["--toolsets", "keys", "--read-only"])).await,
        ["keys_get", "keys_list", "keys_list-types"]
    );
    assert_eq!(
        tools(
            command()
                .env("MCP_TOOLSETS", "connections,keys")
                .env(
                    "MCP_TOOLS",
                    "keys_list,connections_get,connections_delete,keys_create"
                )
                .env("MCP_EXCLUDE_TOOLS", "connections_delete")
                .env("MCP_READ_ONLY", "1")
        )
        .await,
        ["connections_get", "keys_list"]
    );
    assert_eq!(
        tools(command().args(["--tools", "credential-requests_wait-for-authorization"])).await,
        ["credential-requests_wait-for-authorization"]
    );
    assert_eq!(
        tools(command().env("MCP_READ_ONLY", "0").env("MCP_TOOLSETS", ""))
            .await
            .len(),
        ALL_TOOLS,
        "MCP_READ_ONLY=0 is off; an empty MCP_TOOLSETS means all"
    );
}

#[tokio::test]
async fn unknown_names_and_empty_selections_stop_the_server_with_exit_2() {
    let cases: [(Setting, &str); 5] = [
        (
            (&["--toolsets", "keys,secrets"], &[]),
            "unknown toolset 'secrets'; valid toolsets: connections, keys, credential-requests",
        ),
        (
            (&[], &[("MCP_TOOLSETS", "apps")]),
            "unknown toolset 'apps'; valid toolsets: connections, keys, credential-requests",
        ),
        (
            (&[], &[("MCP_TOOLS", "keys_list,keys_lst")]),
            "unknown tool 'keys_lst' in --tools (MCP_TOOLS); valid tool names: connections_create, connections_delete,",
        ),
        (
            (&["--exclude-tools", "delete_everything"], &[]),
            "unknown tool 'delete_everything' in --exclude-tools (MCP_EXCLUDE_TOOLS); valid tool names: connections_create,",
        ),
        (
            (&["--tools", "keys_create", "--read-only"], &[]),
            "the tool selection leaves no tools (every tool is hidden by --tools (MCP_TOOLS) or --read-only (MCP_READ_ONLY))",
        ),
    ];
    for ((args, env), message) in cases {
        for subcommand in ["stdio", "tools"] {
            let mut cmd = command();
            cmd.args(args).envs(env.iter().copied()).arg(subcommand);
            let (code, stdout, stderr) = run(&mut cmd).await;
            assert_eq!(code, Some(2), "{args:?} {env:?} {subcommand}: {stderr}");
            assert!(stderr.contains(message), "{args:?} {env:?}: {stderr}");
            assert_eq!(stdout, "", "nothing on stdout");
        }
    }
}

#[tokio::test]
async fn call_of_a_hidden_tool_says_which_setting_hides_it() {
    let mock = mock_make().await;
    let url = format!("{}/api/v2", mock.uri());
    let cases: [(Setting, &str, &str); 4] = [
        (
            (&["--read-only"], &[]),
            "keys_create",
            "tool keys_create is hidden by --read-only (MCP_READ_ONLY)",
        ),
        (
            (&[], &[("MCP_EXCLUDE_TOOLS", "keys_list")]),
            "keys_list",
            "tool keys_list is hidden by --exclude-tools (MCP_EXCLUDE_TOOLS)",
        ),
        (
            (&["--toolsets", "connections"], &[]),
            "keys_list",
            "tool keys_list is hidden by --toolsets (MCP_TOOLSETS)",
        ),
        (
            (&["--tools", "keys_get"], &[]),
            "keys_list",
            "tool keys_list is hidden by --tools (MCP_TOOLS)",
        ),
    ];
    for ((args, env), tool, message) in cases {
        let mut cmd = command();
        cmd.env("MAKE_API_URL", &url)
            .env("MAKE_API_KEY", TEST_KEY)
            .args(args)
            .envs(env.iter().copied())
            .args(["call", tool, r#"{"teamId":1}"#]);
        let (code, stdout, stderr) = run(&mut cmd).await;
        assert_eq!(code, Some(2), "{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("make-credentials-mcp: {message}")
        );
        assert_eq!(stdout, "");
    }
    assert!(
        mock.received_requests().await.unwrap().is_empty(),
        "no hidden call reached Make, and `call` runs no scope check"
    );

    let (code, _, stderr) = run(command().args(["call", "no_such_tool"])).await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "unknown tool 'no_such_tool'; the tools this server shows: connections_create,"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn call_prints_only_json_and_rust_log_still_wins() {
    let mock = mock_make().await;
    let url = format!("{}/api/v2", mock.uri());
    let mut cmd = command();
    cmd.env("MAKE_API_URL", &url)
        .env("MAKE_API_KEY", TEST_KEY)
        .args(["--read-only", "call", "keys_list", r#"{"teamId":1}"#]);
    let (code, stdout, stderr) = run(&mut cmd).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "", "only warnings by default");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["keys"][0]["id"],
        16
    );

    let mut cmd = command();
    cmd.env("MAKE_API_URL", &url)
        .env("MAKE_API_KEY", TEST_KEY)
        .env("RUST_LOG", "info")
        .args(["call", "keys_list", r#"{"teamId":1}"#]);
    let (code, _, stderr) = run(&mut cmd).await;
    assert_eq!(code, Some(0));
    assert!(stderr.contains("make-credentials-mcp starting"), "{stderr}");
    assert!(stderr.contains("tool call"), "{stderr}");
}

/// Serves over stdio with `args` and `env`, lists the tools with an rmcp client, checks
/// that `hidden` is unknown, and returns the names and everything logged.
async fn serve_and_list(
    args: &[&str],
    env: &[(&str, &str)],
    hidden: &str,
) -> (Vec<String>, String) {
    let mut cmd = command();
    cmd.args(args).envs(env.iter().copied());
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = stderr.unwrap();
    let logs = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let client = ().serve(transport).await.expect("initialize");
    let listed = names(&client).await;
    assert_unknown(&client, hidden).await;
    client.cancel().await.unwrap();
    let logs = tokio::time::timeout(Duration::from_secs(10), logs)
        .await
        .expect("the server exits when stdin closes")
        .unwrap();
    (listed, logs)
}

#[cfg(feature = "sandbox")]
#[tokio::test]
async fn serving_logs_the_selection_and_what_the_scope_check_hid() {
    let (listed, logs) = serve_and_list(
        &["--sandbox", "--toolsets", "keys,connections"],
        &[("MCP_SANDBOX_SCOPES", "keys:read")],
        "connections_list",
    )
    .await;
    assert_eq!(listed, ["keys_get", "keys_list", "keys_list-types"]);
    let starting = logs
        .lines()
        .find(|l| l.contains("make-credentials-mcp starting"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        starting.contains("toolsets=keys,connections") && starting.contains("tools=13"),
        "{starting}"
    );
    let hid: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("lacks scopes"))
        .collect();
    assert_eq!(hid.len(), 1, "{logs}");
    assert!(hid[0].contains(" INFO "), "{}", hid[0]);
    for part in [
        "hidden=10",
        "visible=3",
        "connections_list (connections:read)",
        "connections_update (connections:read, connections:write)",
        "keys_create (keys:write)",
    ] {
        assert!(hid[0].contains(part), "{part}: {}", hid[0]);
    }
}

#[tokio::test]
async fn a_failing_scope_check_or_an_oauth_key_is_logged_and_hides_nothing() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users/me/current-authorization"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"code": "SC500", "message": "Boom"})),
        )
        .mount(&mock)
        .await;
    let url = format!("{}/api/v2", mock.uri());
    let cases = [
        (TEST_KEY, " WARN ", "current-authorization failed"),
        (
            "ya29.oauth-access-token",
            " INFO ",
            "the key is an OAuth token",
        ),
    ];
    for (key, level, why) in cases {
        let env = [
            ("MAKE_API_URL", url.as_str()),
            ("MAKE_API_KEY", key),
            ("MAKE_RETRIES", "0"),
        ];
        let (listed, logs) = serve_and_list(&["--read-only"], &env, "keys_create").await;
        assert_eq!(listed.len(), 10, "the selection still applies: {listed:?}");
        let skipped: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("scope check skipped"))
            .collect();
        assert_eq!(skipped.len(), 1, "{logs}");
        assert!(
            skipped[0].contains(level) && skipped[0].contains(why),
            "{}",
            skipped[0]
        );
        assert!(!logs.contains(key), "the key was logged");
    }
    assert_eq!(
        mock.received_requests().await.unwrap().len(),
        1,
        "only the Token key is checked"
    );
}

#[cfg(feature = "sandbox")]
#[tokio::test]
async fn mcp_no_scope_check_keeps_every_tool_of_a_reduced_key() {
    let env = [
        ("MCP_SANDBOX_SCOPES", "keys:read"),
        ("MCP_NO_SCOPE_CHECK", "1"),
    ];
    let (listed, logs) = serve_and_list(&["--sandbox"], &env, "no_such_tool").await;
    assert_eq!(listed.len(), ALL_TOOLS);
    assert!(
        logs.lines().any(|l| l.contains(" INFO ")
            && l.contains("scope check skipped")
            && l.contains("--no-scope-check (MCP_NO_SCOPE_CHECK) is set")),
        "{logs}"
    );
}
