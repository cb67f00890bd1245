//! keys_list-types, connections_get-editable-data-schema, the key parameter check and
//! credential-requests_list paging against the built-in sandbox, started the way the binary
//! starts it (`--sandbox`), through the MCP tools.
#![cfg(feature = "sandbox")]

mod common;

use clap::Parser;
use common::structured;
use make_credentials_mcp::cli::Cli;
use make_credentials_mcp::startup::{self, Purpose, Started};
use make_credentials_mcp::transport::in_process;
use make_sandbox::seed::{HTTP_CONNECTION_ID, SLACK_CONNECTION_ID};
use rmcp::RoleClient;
use rmcp::model::CallToolResult;
use rmcp::service::RunningService;
use serde_json::{Value, json};

struct Sandboxed {
    client: RunningService<RoleClient, ()>,
    _started: Started,
}

impl Sandboxed {
    async fn start() -> Self {
        let cli =
            Cli::try_parse_from(["make-credentials-mcp", "--sandbox", "--no-cli-login"]).unwrap();
        let started = startup::start(
            &cli.make,
            cli.person.settings().unwrap(),
            &cli.tools,
            Purpose::Command,
        )
        .await
        .unwrap();
        let server = started.server.clone();
        let client = in_process::connect(server, ()).await.unwrap();
        Self {
            client,
            _started: started,
        }
    }

    async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        common::call(&self.client, tool, args).await
    }

    async fn ok(&self, tool: &str, args: Value) -> Value {
        structured(&self.call(tool, args).await)
    }

    async fn err(&self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args).await;
        assert_eq!(result.is_error, Some(true), "{tool}: {:?}", result.content);
        result.content[0].as_text().unwrap().text.clone()
    }
}

#[tokio::test]
async fn key_types_list_each_types_parameters() {
    let s = Sandboxed::start().await;
    let out = s.ok("keys_list-types", json!({})).await;
    let types = out["keysTypes"].as_array().unwrap();
    let basic = types.iter().find(|t| t["name"] == "basicauth").unwrap();
    let names: Vec<&str> = basic["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["authUser", "authPass"]);
    let api = types.iter().find(|t| t["name"] == "apikeyauth").unwrap();
    assert_eq!(api["parameters"][1]["name"], "placement");
    assert_eq!(api["parameters"][1]["default"], "header");
    assert_eq!(api["parameters"][1]["options"][0]["value"], "header");
}

#[tokio::test]
async fn keys_create_refuses_user_and_pass_and_creates_nothing() {
    let s = Sandboxed::start().await;
    let before = s.ok("keys_list", json!({})).await["keys"]
        .as_array()
        .unwrap()
        .len();
    let text = s
        .err(
            "keys_create",
            json!({"name": "API", "typeName": "basicauth", "parameters": {"user": "u", "pass": "p"}}),
        )
        .await;
    assert!(
        text.starts_with("Invalid argument `parameters`: has names key type 'basicauth' does not take: pass (did you mean authPass?), user (did you mean authUser?); it misses required authUser, authPass."),
        "{text}"
    );
    let after = s.ok("keys_list", json!({})).await["keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "nothing was created");
    let created = s
        .ok(
            "keys_create",
            json!({"name": "API", "typeName": "basicauth", "parameters": {"authUser": "u", "authPass": "p"}}),
        )
        .await;
    assert_eq!(created["key"]["typeName"], "basicauth");

    // keys_update checks new parameters against the key's type too.
    let id = created["key"]["id"].clone();
    let text = s
        .err(
            "keys_update",
            json!({"keyId": id, "parameters": {"password": "p"}}),
        )
        .await;
    assert!(text.contains("does not take: password"), "{text}");
}

#[tokio::test]
async fn editable_schema_names_what_connections_update_must_give() {
    let s = Sandboxed::start().await;
    let out = s
        .ok(
            "connections_get-editable-data-schema",
            json!({"connectionId": HTTP_CONNECTION_ID}),
        )
        .await;
    assert_eq!(
        out,
        json!({"connectionId": HTTP_CONNECTION_ID, "editableParameters": ["authUser", "authPass"]})
    );
    let data: serde_json::Map<String, Value> = out["editableParameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n.as_str().unwrap().to_string(), json!("new")))
        .collect();
    let updated = s
        .ok(
            "connections_update",
            json!({"connectionId": HTTP_CONNECTION_ID, "data": data}),
        )
        .await;
    assert_eq!(updated["dataUpdated"], true);

    let slack = s
        .ok(
            "connections_get-editable-data-schema",
            json!({"connectionId": SLACK_CONNECTION_ID}),
        )
        .await;
    assert_eq!(slack["editableParameters"], json!([]));
    assert!(slack["message"].as_str().unwrap().contains("no editable"));

    let text = s
        .err(
            "connections_get-editable-data-schema",
            json!({"connectionId": 999_999}),
        )
        .await;
    assert!(text.contains("HTTP 404"), "{text}");
}

#[tokio::test]
async fn credential_requests_page_through_the_sandbox() {
    let s = Sandboxed::start().await;
    for i in 0..3 {
        s.ok(
            "credential-requests_create-by-credentials",
            json!({"name": format!("Paging {i}"), "keys": [{"type": "apikeyauth"}]}),
        )
        .await;
    }
    let all = s.ok("credential-requests_list", json!({})).await;
    let total = all["pg"]["total"].as_u64().unwrap();
    assert!(total >= 4, "the seeded request and three new ones: {all}");
    assert!(all.get("more").is_none(), "{all}");

    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = s
            .ok(
                "credential-requests_list",
                json!({"offset": offset, "limit": 2}),
            )
            .await;
        for r in page["requests"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        if page.get("more").is_none() {
            assert!(page.get("nextOffset").is_none());
            break;
        }
        assert_eq!(page["more"], true);
        offset = page["nextOffset"].as_u64().unwrap();
        assert_eq!(offset as usize, seen.len(), "{page}");
    }
    assert_eq!(seen.len() as u64, total);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len() as u64, total, "every request once");
}
