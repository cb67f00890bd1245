//! The audit trail end to end: a server on the Make API sandbox auditing to a SQLite file as
//! the static token's label (what `http --auth token --database` sets up), driven by a
//! 2026-07-28 client through a create, a delete confirmed that Make then fails, a delete
//! declined then confirmed, a refused call and a call Make fails. The rows name the person, tool, object ids and outcomes, and no data
//! value. Then the `audit` subcommand of the built binary reads the same file with filters.
#![cfg(feature = "sandbox")]

mod common;

use std::time::Duration;

use common::http::BIN;
use common::person::{self, Era, TestPerson};
use common::{params, structured, text};
use make_credentials_mcp::make::{ApiKey, ClientSettings, MakeClient, parse_api_url};
use make_credentials_mcp::server::{Auditor, MakeServer};
use make_credentials_mcp::store::{AuditEntry, AuditFilter, AuditOutcome, Store};
use make_sandbox::seed::FOREIGN_KEY_ID;
use make_sandbox::{Fault, Sandbox};
use reqwest::Method;
use rmcp::RoleClient;
use rmcp::model::{CallToolResponse, CallToolResult};
use rmcp::service::RunningService;
use serde_json::{Value, json};

type Client = RunningService<RoleClient, TestPerson>;

/// A key parameter value: it must never reach the audit trail.
const SECRET: &str = "audit-secret-value-8f2c";

/// The first round of `tool`: the sealed state of its question.
async fn ask(client: &Client, tool: &str, args: Value) -> String {
    match client.call_tool_once(params(tool, args)).await.unwrap() {
        CallToolResponse::InputRequired(ask) => ask.request_state.expect("a sealed state"),
        other => panic!("{tool}: expected input_required, got {other:?}"),
    }
}

/// The retry of `tool` with `state` and the person's `answer` to the confirmation.
async fn answer(
    client: &Client,
    tool: &str,
    args: Value,
    state: String,
    answer: Value,
) -> CallToolResult {
    let mut p = params(tool, args);
    p.request_state = Some(state);
    p.input_responses = Some(serde_json::from_value(json!({ "confirm": answer })).unwrap());
    match client.call_tool_once(p).await.unwrap() {
        CallToolResponse::Complete(result) => result,
        other => panic!("{tool}: expected a result, got {other:?}"),
    }
}

async fn rows(store: &Store, expected: usize) -> Vec<AuditEntry> {
    // Rows are written off the call's path: wait for them.
    for _ in 0..100 {
        let rows = store.audit(&AuditFilter::default()).await.unwrap();
        if rows.len() >= expected {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.audit(&AuditFilter::default()).await.unwrap()
}

/// The built binary's `audit` with `args` on `database`: exit code and stdout.
async fn audit_cli(database: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(BIN)
        .arg("audit")
        .args(["--database", database])
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn changes_refusals_answers_and_failures_are_audited_by_id_only() {
    let dir = std::env::temp_dir().join(format!("mcm-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}?mode=rwc", dir.join("audit.db").display());
    let store = Store::open(&database).await.unwrap();

    let sandbox = Sandbox::start().await.expect("sandbox");
    let make = MakeClient::new(&ClientSettings {
        base_url: Some(parse_api_url(&sandbox.api_base_url()).unwrap()),
        api_key: ApiKey::new(sandbox.api_key()),
        ..ClientSettings::default()
    })
    .unwrap();
    let server = MakeServer::new(make, Some(1));
    server.audit_to(Auditor::new(store.clone(), "ops-token"));
    let client = person::pipe(server, Era::Modern, TestPerson::agreeing()).await;

    // A create: done, with the new key's id.
    let created = client
        .call_tool(params(
            "keys_create",
            json!({"name": "Audited", "typeName": "apikeyauth",
                "parameters": {"key": SECRET, "placement": "header", "name": "X-API-Key"}}),
        ))
        .await
        .unwrap();
    let key_id = structured(&created)["key"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{}", text(&created)));
    let key = key_id.to_string();

    // A delete the person confirms and Make then fails (every attempt answered 500): the
    // trail shows both.
    let delete = json!({"keyId": key_id});
    let yes = json!({"action": "accept", "content": {"confirm": true}});
    sandbox.inject_on(Method::DELETE, "/keys", Fault::InternalServerError, 10);
    let state = ask(&client, "keys_delete", delete.clone()).await;
    let broken = answer(&client, "keys_delete", delete.clone(), state, yes.clone()).await;
    assert_eq!(broken.is_error, Some(true), "{}", text(&broken));
    sandbox.clear_faults();

    // A delete declined, then confirmed.
    let state = ask(&client, "keys_delete", delete.clone()).await;
    let kept = answer(
        &client,
        "keys_delete",
        delete.clone(),
        state,
        json!({"action": "decline"}),
    )
    .await;
    assert_eq!(structured(&kept)["deleted"], false, "{}", text(&kept));
    let state = ask(&client, "keys_delete", delete.clone()).await;
    let gone = answer(&client, "keys_delete", delete, state, yes).await;
    assert_eq!(structured(&gone)["deleted"], true, "{}", text(&gone));

    // A refused call (nothing sent) and one Make fails (another organization's key).
    let refused = client
        .call_tool(params(
            "keys_create",
            json!({"name": "x", "typeName": "apikeyauth", "parameters": {}}),
        ))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    let malformed = client
        .call_tool(params("keys_update", json!({"keyId": 5, "bogus": SECRET})))
        .await
        .unwrap();
    assert_eq!(malformed.is_error, Some(true), "{}", text(&malformed));
    let failed = client
        .call_tool(params(
            "keys_update",
            json!({"keyId": FOREIGN_KEY_ID, "name": "x"}),
        ))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true), "{}", text(&failed));
    // A read is not audited.
    client
        .call_tool(params("keys_list", json!({})))
        .await
        .unwrap();

    let mut all = rows(&store, 9).await;
    all.reverse();
    let seen: Vec<(&str, Option<&str>, AuditOutcome)> = all
        .iter()
        .map(|r| (r.tool.as_str(), r.object_id.as_deref(), r.outcome))
        .collect();
    let foreign = FOREIGN_KEY_ID.to_string();
    // Rows of one call share a second; their order within it is the writer's.
    let mut expected = vec![
        ("keys_create", Some(key.as_str()), AuditOutcome::Done),
        ("keys_delete", Some(key.as_str()), AuditOutcome::Confirmed),
        ("keys_delete", Some(key.as_str()), AuditOutcome::Failed),
        ("keys_delete", Some(key.as_str()), AuditOutcome::Declined),
        ("keys_delete", Some(key.as_str()), AuditOutcome::Confirmed),
        ("keys_delete", Some(key.as_str()), AuditOutcome::Done),
        ("keys_create", None, AuditOutcome::Refused),
        ("keys_update", Some("5"), AuditOutcome::Refused),
        ("keys_update", Some(foreign.as_str()), AuditOutcome::Failed),
    ];
    let mut sorted = seen.clone();
    sorted.sort_by_key(|r| format!("{r:?}"));
    expected.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(sorted, expected, "{all:#?}");
    for row in &all {
        assert_eq!(row.person, "ops-token");
        assert_eq!(row.client_id, None);
        assert_eq!(row.object_type.as_deref().unwrap_or("key"), "key");
    }
    let failures: Vec<_> = all
        .iter()
        .filter(|r| r.outcome == AuditOutcome::Failed)
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures.iter().all(|f| f.make_code.is_some()),
        "{failures:?}"
    );
    let mut refusals: Vec<_> = all
        .iter()
        .filter(|r| r.outcome == AuditOutcome::Refused)
        .map(|r| r.detail.as_deref())
        .collect();
    refusals.sort();
    assert_eq!(
        refusals,
        [
            Some("arguments refused"),
            Some("invalid argument parameters")
        ]
    );
    let everything = serde_json::to_string(&all).unwrap();
    assert!(!everything.contains(SECRET), "{everything}");
    assert!(!everything.contains("X-API-Key"), "{everything}");

    // The subcommand reads the same rows, filtered, one JSON object a line.
    let (code, out) = audit_cli(&database, &["--json", "--tool", "keys_delete"]).await;
    assert_eq!(code, Some(0));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l["tool"] == "keys_delete" && l["person"] == "ops-token")
    );
    let (_, out) = audit_cli(&database, &["--json", "--object", &foreign]).await;
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["outcome"], "failed");
    let (_, out) = audit_cli(&database, &["--json", "--limit", "2", "--since", "1h"]).await;
    assert_eq!(json_lines(&out).len(), 2, "{out}");
    let (_, out) = audit_cli(&database, &["--json", "--person", "someone-else"]).await;
    assert_eq!(out, "");
    let (_, out) = audit_cli(&database, &["--json", "--since", "2999-01-01"]).await;
    assert_eq!(out, "");
    let (code, table) = audit_cli(&database, &["--since", "24h"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(table.lines().count(), 10, "{table}");
    assert!(table.starts_with("TIME (UTC)"), "{table}");
    for bad in [["--since", "yesterday"], ["--limit", "0"]] {
        let (code, out) = audit_cli(&database, &bad).await;
        assert_eq!(code, Some(2), "{bad:?}");
        assert_eq!(out, "");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
