//! Property tests (proptest): hostile input never panics the server, and never reaches Make
//! unless it validates; hostile bytes posted to `/mcp` never produce a 5xx; hostile Make
//! responses never panic the client.
//!
//! Each property drives the real MCP code path (rmcp's client, the server, the shared Make
//! client) against a wiremock Make. A panic in a tool would leave its call unanswered, so
//! every call runs under a timeout and a missing answer fails the property.

mod common;

use std::time::Duration;

use common::{Harness, Options, TEST_KEY, text};
use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::make::{MakeClient, RetryPolicy};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::http::{self, HttpOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value, json};
use url::Url;
use wiremock::{Mock, ResponseTemplate};

/// Every tool with arguments that validate, for the response property.
const VALID: &[(&str, &str)] = &[
    ("connections_list", r#"{"teamId": 1}"#),
    ("connections_get", r#"{"connectionId": 5}"#),
    (
        "connections_get-editable-data-schema",
        r#"{"connectionId": 5}"#,
    ),
    (
        "connections_create",
        r#"{"teamId": 1, "accountName": "google", "name": "G"}"#,
    ),
    (
        "connections_update",
        r#"{"connectionId": 5, "name": "New"}"#,
    ),
    ("connections_verify", r#"{"connectionId": 5}"#),
    ("connections_delete", r#"{"connectionId": 5}"#),
    ("keys_list", r#"{"teamId": 1}"#),
    ("keys_get", r#"{"keyId": 5}"#),
    ("keys_list-types", r#"{}"#),
    (
        "keys_create",
        r#"{"teamId": 1, "name": "K", "typeName": "basicauth", "parameters": {"authUser": "u", "authPass": "p"}}"#,
    ),
    ("keys_update", r#"{"keyId": 5, "name": "K2"}"#),
    ("keys_delete", r#"{"keyId": 5}"#),
    ("credential-requests_list", r#"{"teamId": 1}"#),
    ("credential-requests_get", r#"{"requestId": "abc"}"#),
    ("credential-requests_delete", r#"{"requestId": "abc"}"#),
    (
        "credential-requests_credential-decline",
        r#"{"credentialId": "abc"}"#,
    ),
    (
        "credential-requests_credential-delete",
        r#"{"credentialId": "abc"}"#,
    ),
    (
        "credential-requests_create",
        r#"{"teamId": 1, "credentials": [{"appName": "slack", "appModules": ["*"]}]}"#,
    ),
    (
        "credential-requests_create-by-credentials",
        r#"{"teamId": 1, "keys": [{"type": "apikeyauth"}]}"#,
    ),
    (
        "credential-requests_extend-connection",
        r#"{"connectionId": 5, "scopes": ["a"]}"#,
    ),
    (
        "credential-requests_list-app-modules-with-creds",
        r#"{"appName": "slack"}"#,
    ),
    (
        "credential-requests_wait-for-authorization",
        r#"{"requestId": "abc", "timeoutSeconds": 1}"#,
    ),
];

/// Property names the tools take, so generated arguments often hit real fields.
const NAMES: &[&str] = &[
    "teamId",
    "connectionId",
    "keyId",
    "requestId",
    "credentialId",
    "type",
    "scopes",
    "scope",
    "accountName",
    "name",
    "data",
    "typeName",
    "parameters",
    "credentials",
    "connections",
    "keys",
    "appName",
    "appModules",
    "appVersion",
    "reason",
    "timeoutSeconds",
    "status",
    "userId",
    "makeProviderId",
    "description",
    "prefill",
    "offset",
    "limit",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        Just(json!("a07e16f2ad134bf49cf83a00aa95c0a5")),
        (0u64..100_000).prop_map(|n| json!(n)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An arguments object: known and unknown property names with arbitrary values.
fn arguments() -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => "[a-zA-Z_]{1,10}",
    ];
    prop::collection::btree_map(key, json_value(), 0..5).prop_map(|m| m.into_iter().collect())
}

fn tool_names() -> Vec<&'static str> {
    VALID.iter().map(|(name, _)| *name).collect()
}

#[test]
fn arbitrary_arguments_never_panic_and_never_reach_make_unless_valid() {
    let rt = runtime();
    let harness = rt.block_on(Harness::with(Options {
        team: Some(1),
        ..Options::default()
    }));
    rt.block_on(harness.respond(200, json!({})));
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    // Half the cases start from arguments that validate and change a few of them, so that
    // both refusals and calls that reach Make are common.
    let mutated = prop::sample::select(VALID.to_vec()).prop_flat_map(|(tool, valid)| {
        let valid: Map<String, Value> = serde_json::from_str(valid).unwrap();
        (
            Just(tool),
            arguments(),
            prop::collection::vec(any::<prop::sample::Index>(), 0..2),
        )
            .prop_map(move |(tool, extra, drops)| {
                let mut args = valid.clone();
                for index in drops {
                    if !args.is_empty() {
                        let key = args.keys().nth(index.index(args.len())).cloned().unwrap();
                        args.remove(&key);
                    }
                }
                for (k, v) in extra.into_iter().take(1) {
                    args.insert(k, v);
                }
                (tool, args)
            })
    });
    let strategy = prop_oneof![(prop::sample::select(tool_names()), arguments()), mutated];
    let (refusals, calls) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner
        .run(&strategy, |(tool, args)| {
            rt.block_on(async {
                let before = harness.seen().await.len();
                let params =
                    CallToolRequestParams::new(tool.to_string()).with_arguments(args.clone());
                let result =
                    tokio::time::timeout(Duration::from_secs(10), harness.client.call_tool(params))
                        .await
                        .map_err(|_| TestCaseError::fail(format!("{tool} {args:?}: no answer")))?
                        .map_err(|e| TestCaseError::fail(format!("{tool}: protocol error {e}")))?;
                let message = text(&result);
                prop_assert!(!message.contains(TEST_KEY));
                let refused = result.is_error == Some(true)
                    && (message.starts_with("Invalid argument")
                        || message.contains("failed to deserialize parameters"));
                let after = harness.seen().await.len();
                if refused {
                    refusals.set(refusals.get() + 1);
                    prop_assert_eq!(
                        after,
                        before,
                        "{} refused {:?} but Make was called",
                        tool,
                        args
                    );
                } else if after > before {
                    calls.set(calls.get() + 1);
                }
                Ok(())
            })
        })
        .unwrap();
    eprintln!("{} refused, {} reached Make", refusals.get(), calls.get());
    // The property means something only when both outcomes occur.
    assert!(refusals.get() >= 50, "only {} refusals", refusals.get());
    assert!(calls.get() >= 5, "only {} calls reached Make", calls.get());
}

#[test]
fn arbitrary_make_responses_never_panic_the_client() {
    let rt = runtime();
    let harness = rt.block_on(Harness::with(Options {
        team: Some(1),
        ..Options::default()
    }));
    let body = prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
        // Right envelopes, wrong insides.
        json_value().prop_map(|v| json!({"connections": v, "connection": v, "keys": v, "key": v, "requests": v, "requestDetail": v, "request": v, "credential": v, "credentials": v, "publicUri": v, "appModules": v, "editableParameters": v, "keysTypes": v, "code": v, "message": v, "suberrors": v}).to_string().into_bytes()),
    ];
    let status = prop_oneof![
        Just(200u16),
        Just(201),
        Just(204),
        Just(400),
        Just(404),
        Just(409),
        Just(429),
        Just(500),
        Just(503),
        200u16..600
    ];
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let strategy = (prop::sample::select(VALID.to_vec()), status, body);
    runner
        .run(&strategy, |((tool, args), status, body)| {
            rt.block_on(async {
                harness.mock.reset().await;
                Mock::given(wiremock::matchers::any())
                    .respond_with(
                        ResponseTemplate::new(status)
                            .set_body_raw(body.clone(), "application/json"),
                    )
                    .mount(&harness.mock)
                    .await;
                let args: Map<String, Value> = serde_json::from_str(args).unwrap();
                let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
                let result =
                    tokio::time::timeout(Duration::from_secs(10), harness.client.call_tool(params))
                        .await
                        .map_err(|_| {
                            TestCaseError::fail(format!("{tool} on {status}: no answer"))
                        })?;
                prop_assert!(result.is_ok(), "{} on {}: {:?}", tool, status, result.err());
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn arbitrary_posts_to_mcp_never_give_a_server_error() {
    let rt = runtime();
    let base = rt.block_on(async {
        let mock = wiremock::MockServer::start().await;
        let settings = ClientSettings {
            base_url: Some(Url::parse(&format!("{}/api/v2", mock.uri())).unwrap()),
            api_key: ApiKey::new(TEST_KEY),
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
            ..ClientSettings::default()
        };
        let server = MakeServer::new(MakeClient::new(&settings).unwrap(), Some(1));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(http::serve_on(
            listener,
            server,
            HttpOptions::default(),
            std::future::pending(),
        ));
        std::mem::forget(mock);
        format!("http://{addr}")
    });
    let http = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap();
    let rpc = (
        prop_oneof![
            3 => prop::sample::select(&["initialize", "tools/call", "tools/list", "server/discover", "ping", "notifications/initialized", "notifications/cancelled"][..]).prop_map(str::to_string),
            1 => "[a-z/]{1,16}",
        ],
        json_value(),
        prop_oneof![Just(json!(1)), Just(json!("x")), Just(Value::Null), json_value()],
    )
        .prop_map(|(method, params, id)| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string().into_bytes());
    let body = prop_oneof![
        2 => rpc,
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
    ];
    let headers = (
        prop::option::of(prop_oneof![
            3 => prop::sample::select(&["2025-11-25", "2026-07-28", "1999-01-01"][..]).prop_map(str::to_string),
            1 => "\\PC{0,10}",
        ]),
        prop_oneof![
            Just("application/json, text/event-stream"),
            Just("application/json"),
            Just("*/*"),
            Just("text/html")
        ],
        prop_oneof![Just("application/json"), Just("text/plain"), Just("")],
        prop::option::of(prop_oneof![
            2 => prop::sample::select(&["tools/call", "initialize"][..]).prop_map(str::to_string),
            1 => "[a-z/]{0,8}",
        ]),
    );
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    runner
        .run(
            &(body, headers),
            |(body, (version, accept, content_type, mcp_method))| {
                rt.block_on(async {
                    let mut request = http
                        .post(format!("{base}/mcp"))
                        .header("Accept", accept)
                        .body(body.clone())
                        .timeout(Duration::from_secs(10));
                    if !content_type.is_empty() {
                        request = request.header("Content-Type", content_type);
                    }
                    if let Some(Ok(v)) = version.map(|v| reqwest::header::HeaderValue::from_str(&v))
                    {
                        request = request.header("MCP-Protocol-Version", v);
                    }
                    if let Some(Ok(m)) =
                        mcp_method.map(|m| reqwest::header::HeaderValue::from_str(&m))
                    {
                        request = request.header("Mcp-Method", m);
                    }
                    let response = request
                        .send()
                        .await
                        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
                    prop_assert!(
                        response.status().as_u16() < 500,
                        "{} for {:?}",
                        response.status(),
                        String::from_utf8_lossy(&body)
                    );
                    Ok(())
                })
            },
        )
        .unwrap();
    // Still serving.
    let health = rt
        .block_on(http.get(format!("{base}/healthz")).send())
        .unwrap();
    assert!(health.status().is_success());
}
