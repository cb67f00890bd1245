//! Invalid arguments are refused with an `isError` result that names the field and the
//! problem, and no request reaches Make.

mod common;

use common::{Harness, err};
use serde_json::{Value, json};

fn numeric_id_field(args: &Value) -> Option<&'static str> {
    ["connectionId", "keyId", "teamId"]
        .into_iter()
        .find(|f| args.get(*f).is_some())
}

fn string_id_field(args: &Value) -> Option<&'static str> {
    ["requestId", "credentialId"]
        .into_iter()
        .find(|f| args.get(*f).is_some())
}

async fn assert_refused(h: &Harness, tool: &str, args: Value, field: &str, problem: &str) {
    let text = err(&h.call(tool, args.clone()).await);
    assert!(
        text.contains(field),
        "{tool} {args}: the message should name `{field}`: {text}"
    );
    assert!(
        text.to_lowercase().contains(&problem.to_lowercase()),
        "{tool} {args}: expected {problem:?} in: {text}"
    );
}

#[tokio::test]
async fn bad_numeric_ids_are_refused_by_every_tool() {
    let h = Harness::new().await;
    let bad = [
        (json!(0), "between 1 and"),
        (json!(-5), "between 1 and"),
        (json!(1.5), "between 1 and"),
        (json!(9_007_199_254_740_992u64), "between 1 and"),
        (json!(1e30), "between 1 and"),
        (json!("12"), "not a string"),
        (json!(true), "positive integer"),
    ];
    for (tool, args) in common::valid_calls() {
        let Some(field) = numeric_id_field(&args) else {
            continue;
        };
        for (value, problem) in &bad {
            let mut broken = args.clone();
            broken[field] = value.clone();
            assert_refused(&h, tool, broken, field, problem).await;
        }
    }
    assert!(h.seen().await.is_empty(), "no request may reach Make");
}

#[tokio::test]
async fn bad_string_ids_are_refused_by_every_tool() {
    let h = Harness::new().await;
    let bad = [
        json!("../../users"),
        json!(""),
        json!("a/b"),
        json!("a?b=c"),
        json!("%2e%2e"),
        json!(42),
        json!("x".repeat(129)),
    ];
    for (tool, args) in common::valid_calls() {
        let Some(field) = string_id_field(&args) else {
            continue;
        };
        for value in &bad {
            let mut broken = args.clone();
            broken[field] = value.clone();
            assert_refused(&h, tool, broken, field, "string id").await;
        }
    }
    assert!(h.seen().await.is_empty(), "no request may reach Make");
}

#[tokio::test]
async fn missing_required_inputs_are_named() {
    let h = Harness::new().await;
    let required: &[(&str, &[&str])] = &[
        ("connections_get", &["connectionId"]),
        ("connections_get-editable-data-schema", &["connectionId"]),
        ("connections_create", &["name", "accountName"]),
        ("connections_update", &["connectionId"]),
        ("connections_verify", &["connectionId"]),
        ("connections_delete", &["connectionId"]),
        ("keys_get", &["keyId"]),
        ("keys_create", &["name", "typeName", "parameters"]),
        ("keys_update", &["keyId"]),
        ("keys_delete", &["keyId"]),
        ("credential-requests_get", &["requestId"]),
        ("credential-requests_delete", &["requestId"]),
        ("credential-requests_credential-decline", &["credentialId"]),
        ("credential-requests_credential-delete", &["credentialId"]),
        ("credential-requests_create", &["credentials"]),
        (
            "credential-requests_extend-connection",
            &["connectionId", "scopes"],
        ),
    ];
    let calls = common::valid_calls();
    for (tool, fields) in required {
        let args = &calls.iter().find(|(t, _)| t == tool).unwrap().1;
        for field in *fields {
            let mut broken = args.clone();
            broken.as_object_mut().unwrap().remove(*field);
            assert_refused(
                &h,
                tool,
                broken,
                &format!("missing field `{field}`"),
                "missing",
            )
            .await;
        }
    }
    assert!(h.seen().await.is_empty());
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_are_refused() {
    let h = Harness::new().await;
    let cases = [
        (
            "connections_list",
            json!({"teamId": 1, "type": "google"}),
            "type",
        ),
        (
            "connections_list",
            json!({"teamId": 1, "scopes": ["x"]}),
            "scopes",
        ),
        (
            "connections_create",
            json!({"teamId": 1, "name": 5, "accountName": "slack"}),
            "name",
        ),
        (
            "connections_create",
            json!({"teamId": 1, "name": "a", "accountName": "slack", "data": "k"}),
            "data",
        ),
        (
            "keys_create",
            json!({"teamId": 1, "name": "a", "typeName": "basicauth", "parameters": ["u"]}),
            "parameters",
        ),
        (
            "credential-requests_create",
            json!({"teamId": 1, "credentials": [{"appName": "http", "appModules": "x"}]}),
            "credentials[0].appModules",
        ),
        (
            "credential-requests_create",
            json!({"teamId": 1, "credentials": [{"appName": "http", "appModules": ["*"], "appVersion": 0}]}),
            "credentials[0].appVersion",
        ),
        (
            "credential-requests_create-by-credentials",
            json!({"teamId": 1, "connections": [{"scope": ["x"]}]}),
            "connections[0]",
        ),
        (
            "credential-requests_extend-connection",
            json!({"connectionId": 1, "scopes": "a"}),
            "scopes",
        ),
        (
            "credential-requests_extend-connection",
            json!({"connectionId": 1, "scopes": []}),
            "scopes",
        ),
        (
            "credential-requests_list",
            json!({"teamId": 1, "makeProviderId": {"a": 1}}),
            "makeProviderId",
        ),
        (
            "connections_get",
            json!({"connectionId": 1, "connection_id": 1}),
            "connection_id",
        ),
        (
            "keys_list",
            json!({"teamId": 1, "typeName": "basicauth"}),
            "typeName",
        ),
        (
            "keys_list-types",
            json!({"typeName": "basicauth"}),
            "typeName",
        ),
        (
            "credential-requests_list",
            json!({"teamId": 1, "limit": 0}),
            "limit",
        ),
    ];
    for (tool, args, field) in cases {
        let text = err(&h.call(tool, args.clone()).await);
        assert!(
            text.contains(field),
            "{tool} {args}: should name {field}: {text}"
        );
        assert!(text.contains("Nothing was sent to Make"), "{text}");
    }
    assert!(h.seen().await.is_empty());
}

/// `n` distinct strings made with `f`.
fn many(n: usize, f: impl Fn(usize) -> String) -> Vec<String> {
    (0..n).map(f).collect()
}

#[tokio::test]
async fn oversized_lists_are_refused_with_a_short_message_before_any_request() {
    let h = Harness::new().await;
    let types = |n| many(n, |i| format!("type{i}"));
    let scopes = |n| many(n, |i| format!("https://example.com/scope/{i}"));
    let per_type: serde_json::Map<String, Value> =
        types(33).into_iter().map(|t| (t, json!(["s"]))).collect();
    let app = json!({"appName": "http", "appModules": ["*"]});
    let cases = [
        // The reviewer's case: 300,000 connection types.
        (
            "connections_list",
            json!({"teamId": 1, "type": types(300_000)}),
            "type",
            "at most 100 items",
        ),
        (
            "connections_list",
            json!({"teamId": 1, "type": types(101)}),
            "type",
            "at most 100 items",
        ),
        (
            "connections_list",
            json!({"teamId": 1, "scopes": per_type}),
            "scopes",
            "at most 32 items",
        ),
        (
            "connections_list",
            json!({"teamId": 1, "scopes": {"google": scopes(101)}}),
            "scopes.google",
            "at most 100 items",
        ),
        (
            "connections_list",
            json!({"teamId": 1, "scopes": {"google": ["s".repeat(513)]}}),
            "scopes.google[0]",
            "at most 512 characters",
        ),
        (
            "connections_create",
            json!({"teamId": 1, "name": "a", "accountName": "google", "scope": scopes(101)}),
            "scope",
            "at most 100 items",
        ),
        (
            "credential-requests_extend-connection",
            json!({"connectionId": 1, "scopes": scopes(101)}),
            "scopes",
            "at most 100 items",
        ),
        (
            "credential-requests_create",
            json!({"teamId": 1, "credentials": vec![app; 65]}),
            "credentials",
            "1 to 64",
        ),
        (
            "credential-requests_create",
            json!({"teamId": 1, "credentials": [{"appName": "http", "appModules": types(501)}]}),
            "credentials[0].appModules",
            "at most 500 items",
        ),
        (
            "credential-requests_create-by-credentials",
            json!({"teamId": 1, "connections": vec![json!({"type": "google"}); 33]}),
            "connections",
            "at most 32 items",
        ),
        (
            "credential-requests_create-by-credentials",
            json!({"teamId": 1, "keys": vec![json!({"type": "apikeyauth"}); 33]}),
            "keys",
            "at most 32 items",
        ),
        (
            "credential-requests_create-by-credentials",
            json!({"teamId": 1, "connections": [{"type": "google", "scope": scopes(101)}]}),
            "connections[0].scope",
            "at most 100 items",
        ),
        (
            "credential-requests_list",
            json!({"teamId": 1, "name": "n".repeat(129)}),
            "name",
            "at most 128 characters",
        ),
        (
            "credential-requests_list",
            json!({"teamId": 1, "status": "s".repeat(65)}),
            "status",
            "at most 64 characters",
        ),
    ];
    for (tool, args, field, problem) in cases {
        let text = err(&h.call(tool, args).await);
        assert!(
            text.contains(&format!("`{field}`")),
            "{tool}: should name {field}: {text}"
        );
        assert!(
            text.contains(problem),
            "{tool}: expected {problem:?}: {text}"
        );
        assert!(text.len() < 400, "{tool}: {} chars: {text}", text.len());
        assert!(!text.contains("create took effect"), "{text}");
    }
    assert!(h.seen().await.is_empty());
}

#[tokio::test]
async fn huge_values_are_not_echoed_back() {
    let h = Harness::new().await;
    let huge = "x".repeat(1_000_000);
    let cases = [
        ("connections_list", json!({"teamId": 1, "type": [huge]})),
        (
            "connections_list",
            json!({"teamId": 1, "scopes": {huge.clone(): ["s"]}}),
        ),
        ("connections_get", json!({"connectionId": huge})),
        ("credential-requests_get", json!({"requestId": huge})),
    ];
    for (tool, args) in cases {
        let text = err(&h.call(tool, args).await);
        assert!(text.len() < 1000, "{tool}: {} chars", text.len());
    }
    assert!(h.seen().await.is_empty());
}

/// rmcp turns an argument failure into an `isError` result (one the model can correct) only
/// when the message starts with "failed to deserialize parameters:"; anything else becomes a
/// JSON-RPC error. This is why rmcp is pinned exactly in Cargo.toml: a version that changes
/// the rule fails here (and in every test above, whose calls would end in protocol errors).
#[tokio::test]
async fn argument_errors_are_tool_results_by_rmcps_prefix() {
    let h = Harness::new().await;
    let result = h
        .client
        .call_tool(common::params(
            "connections_get",
            json!({"connectionId": 0}),
        ))
        .await
        .expect("a tool result, not a JSON-RPC error");
    let text = err(&result);
    assert!(
        text.starts_with("failed to deserialize parameters: invalid argument `connectionId`: "),
        "{text}"
    );
    assert!(h.seen().await.is_empty(), "nothing may reach Make");
}
