//! The sandbox with a key limited to some Make scopes, started the way the binary starts
//! it: the scope check hides the other tools from an rmcp client, and with the check off
//! an unhidden tool fails with Make's own 403, as against a real Make.
#![cfg(feature = "sandbox")]

mod common;

use clap::Parser;
use common::scopes::{ALL_TOOLS, Watcher, assert_unknown, connect, names};
use common::{err, ok};
use make_credentials_mcp::cli::Cli;
use make_credentials_mcp::startup::{self, Purpose, Started};
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use serde_json::json;

/// Starts the server (and its sandbox) from a command line, as for `stdio`.
async fn start(args: &[&str]) -> Started {
    let cli = Cli::try_parse_from(args).unwrap();
    let person = cli.person.settings().unwrap();
    startup::start(&cli.make, person, &cli.tools, Purpose::Serve)
        .await
        .unwrap()
}

async fn call(client: &RunningService<RoleClient, Watcher>, tool: &str) -> CallToolResult {
    let args = json!({"teamId": 1}).as_object().unwrap().clone();
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reduced_sandbox_key_hides_the_tools_it_lacks_a_scope_for() {
    let started = start(&[
        "m",
        "--sandbox",
        "--sandbox-scopes",
        "connections:read,credential-requests:read",
    ])
    .await;
    let (client, _) = connect(started.server.clone()).await;
    assert_eq!(
        names(&client).await,
        [
            "connections_get",
            "connections_get-editable-data-schema",
            "connections_list",
            "credential-requests_get",
            "credential-requests_list",
            "credential-requests_wait-for-authorization",
        ]
    );
    assert!(ok(&call(&client, "connections_list").await)["connections"].is_array());
    assert_unknown(&client, "keys_list").await;
    assert_unknown(&client, "credential-requests_list-app-modules-with-creds").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn with_the_check_off_an_unhidden_tool_gets_makes_403() {
    let started = start(&[
        "m",
        "--sandbox",
        "--sandbox-scopes",
        "connections:read",
        "--no-scope-check",
    ])
    .await;
    let (client, _) = connect(started.server.clone()).await;
    assert_eq!(names(&client).await.len(), ALL_TOOLS);
    let denied = err(&call(&client, "keys_list").await);
    assert!(
        denied.contains("403") && denied.contains("SC403") && denied.contains("keys:read"),
        "{denied}"
    );
    ok(&call(&client, "connections_list").await);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_selection_and_the_scope_check_combine() {
    let started = start(&[
        "m",
        "--sandbox",
        "--toolsets",
        "keys,connections",
        "--exclude-tools",
        "connections_get",
        "--sandbox-scopes",
        "keys:read,keys:write,connections:read",
    ])
    .await;
    let (client, _) = connect(started.server.clone()).await;
    assert_eq!(
        names(&client).await,
        [
            "connections_get-editable-data-schema",
            "connections_list",
            "keys_create",
            "keys_delete",
            "keys_get",
            "keys_list",
            "keys_list-types",
            "keys_update",
        ]
    );
    // Hidden by --exclude-tools, by --toolsets and by the key's scopes: all equally unknown.
    for tool in [
        "connections_get",
        "credential-requests_list",
        "connections_create",
    ] {
        assert_unknown(&client, tool).await;
    }
    client.cancel().await.unwrap();
}
