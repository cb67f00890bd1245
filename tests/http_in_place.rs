//! Plain stateless tool calls are answered in place (src/transport/http/in_place.rs),
//! everything else by rmcp. Both ways must give the same answer, byte for byte: the same
//! requests go to a server with the shortcut and to one without, against the same Make.

mod common;

use common::http::*;
use make_credentials_mcp::transport::http::{BearerToken, HttpOptions};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A Make with one key list, one missing key, and an outage for team 9.
async fn make() -> MockServer {
    let make = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/keys"))
        .and(query_param("teamId", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [
            {"id": 16, "name": "Prod", "typeName": "basicauth", "teamId": 1},
        ], "pg": {"limit": 100, "offset": 0}})))
        .mount(&make)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/keys/404"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(common::make_error("IM005", "Key not found")),
        )
        .mount(&make)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/keys"))
        .and(query_param("teamId", "9"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(common::make_error("SC403", "Access denied")),
        )
        .mount(&make)
        .await;
    make
}

fn call(id: Value, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
}

/// One request: its headers beyond `Content-Type`/`Accept` (a `None` value removes that
/// header) and its body.
struct Case {
    name: &'static str,
    headers: Vec<(&'static str, Option<&'static str>)>,
    body: Value,
}

fn case(name: &'static str, version: &'static str, body: Value) -> Case {
    Case {
        name,
        headers: vec![("mcp-protocol-version", Some(version))],
        body,
    }
}

fn cases() -> Vec<Case> {
    let keys = || call(json!(1), "keys_list", json!({"teamId": 1}));
    let mut cases = vec![
        case("a list, 2025-11-25", "2025-11-25", keys()),
        case("a list, 2025-06-18", "2025-06-18", keys()),
        case("a list, 2025-03-26", "2025-03-26", keys()),
        case("a list, 2024-11-05", "2024-11-05", keys()),
        case(
            "a string id",
            "2025-11-25",
            call(json!("a-1"), "keys_list", json!({"teamId": 1})),
        ),
        case(
            "Make's 404",
            "2025-11-25",
            call(json!(2), "keys_get", json!({"keyId": 404})),
        ),
        case(
            "Make's 403",
            "2025-11-25",
            call(json!(3), "keys_list", json!({"teamId": 9})),
        ),
        case(
            "an invalid argument",
            "2025-11-25",
            call(json!(4), "keys_list", json!({"teamId": "x"})),
        ),
        case(
            "a missing argument",
            "2025-11-25",
            call(json!(5), "keys_get", json!({})),
        ),
        case(
            "an unknown tool",
            "2025-11-25",
            call(json!(6), "no_such_tool", json!({})),
        ),
        case(
            "no arguments at all",
            "2025-11-25",
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "keys_list"}}),
        ),
        case(
            "a progress token (SSE)",
            "2025-11-25",
            json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {
                "name": "keys_list", "arguments": {"teamId": 1}, "_meta": {"progressToken": 1}}}),
        ),
        case(
            "tools/list",
            "2025-11-25",
            json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}),
        ),
        case("an unknown version", "2099-01-01", keys()),
        case(
            "a stray result member",
            "2025-11-25",
            json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call",
                "params": {"name": "keys_list", "arguments": {"teamId": 1}}, "result": null}),
        ),
        case(
            "JSON-RPC 1.0",
            "2025-11-25",
            json!({"jsonrpc": "1.0", "id": 11, "method": "tools/call",
                "params": {"name": "keys_list", "arguments": {"teamId": 1}}}),
        ),
        case(
            "an unknown member",
            "2025-11-25",
            json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call", "extra": [1],
                "params": {"name": "keys_list", "arguments": {"teamId": 1}, "more": true}}),
        ),
        case(
            "an empty _meta",
            "2025-11-25",
            json!({"jsonrpc": "2.0", "id": 13, "method": "tools/call",
                "params": {"name": "keys_list", "arguments": {"teamId": 1}, "_meta": {}}}),
        ),
        case(
            "a null id",
            "2025-11-25",
            json!({"jsonrpc": "2.0", "id": null, "method": "tools/call",
                "params": {"name": "keys_list", "arguments": {"teamId": 1}}}),
        ),
        case("a batch", "2025-11-25", json!([keys()])),
    ];
    let with = |name, headers: Vec<(&'static str, Option<&'static str>)>| Case {
        name,
        headers: [vec![("mcp-protocol-version", Some("2025-11-25"))], headers].concat(),
        body: keys(),
    };
    cases.extend([
        with("no version header", vec![("mcp-protocol-version", None)]),
        with("a foreign Host", vec![("host", Some("evil.example"))]),
        with(
            "a loopback Origin",
            vec![("origin", Some("http://localhost:5173"))],
        ),
        with(
            "a foreign Origin",
            vec![("origin", Some("https://evil.example"))],
        ),
        with("JSON only", vec![("accept", Some("application/json"))]),
        with("text/plain", vec![("content-type", Some("text/plain"))]),
        with(
            "a session id",
            vec![("mcp-session-id", Some("not-a-session"))],
        ),
        with("Mcp-Method", vec![("mcp-method", Some("tools/call"))]),
    ]);
    cases
}

/// Status, `Content-Type` and body of `case` posted to `url`.
async fn answer(url: &str, case: &Case, token: Option<&str>) -> (u16, String, String) {
    let client = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .body(serde_json::to_vec(&case.body).unwrap());
    let mut removed = Vec::new();
    for (name, value) in &case.headers {
        match value {
            Some(value) => request = request.header(*name, *value),
            None => removed.push(*name),
        }
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut request = request.build().unwrap();
    for name in removed {
        request.headers_mut().remove(name);
    }
    let response = client.execute(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn compare(token: Option<&'static str>) {
    let auth_token = token.map(|t| BearerToken::new(t).unwrap());
    let (make_with, make_without) = (make().await, make().await);
    let with = start_with(
        server_for(&make_with),
        HttpOptions {
            auth_token: auth_token.clone(),
            ..HttpOptions::default()
        },
    )
    .await;
    let without = start_with(
        server_for(&make_without),
        HttpOptions {
            auth_token,
            in_place: false,
            ..HttpOptions::default()
        },
    )
    .await;
    for case in cases() {
        let ours = answer(&with.mcp(), &case, token).await;
        let rmcps = answer(&without.mcp(), &case, token).await;
        assert_eq!(ours, rmcps, "{}", case.name);
    }
    // Both sent Make the same requests.
    let seen = |make: MockServer| async move {
        let requests = make.received_requests().await.unwrap();
        requests
            .iter()
            .map(|r| (r.method.to_string(), r.url.to_string(), r.body.clone()))
            .collect::<Vec<_>>()
    };
    let (ours, rmcps) = (seen(make_with).await, seen(make_without).await);
    assert!(ours.len() >= 6, "{ours:?}");
    assert_eq!(ours, rmcps);
    with.stop().await;
    without.stop().await;
}

#[tokio::test]
async fn plain_calls_get_the_answers_rmcp_gives() {
    compare(None).await;
}

#[tokio::test]
async fn behind_a_token_too() {
    compare(Some(TOKEN)).await;
}

/// The answer of a successful call, read as a client would.
#[tokio::test]
async fn a_plain_call_answers_with_the_keys() {
    let make = make().await;
    let running = start_with(server_for(&make), HttpOptions::default()).await;
    let case = case(
        "a list",
        "2025-11-25",
        call(json!(1), "keys_list", json!({"teamId": 1})),
    );
    let (status, content_type, body) = answer(&running.mcp(), &case, None).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(
        answer["result"]["structuredContent"]["keys"][0]["name"], "Prod",
        "{answer}"
    );
    assert_ne!(answer["result"]["isError"], true);
    running.stop().await;
}
