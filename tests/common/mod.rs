//! Test harness: a mock Make API (wiremock on loopback), the server pointed at it, and an
//! rmcp client talking to the server over an in-memory pipe.
#![allow(dead_code)]

pub mod http;
pub mod person;
pub mod scopes;

use std::time::Duration;

use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::make::{MakeClient, RetryPolicy};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::in_process;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A UUIDv4-shaped key, so the client sends `Authorization: Token …`.
pub const TEST_KEY: &str = "5c4e2a1b-0d3f-4a6b-8c9d-112233445566";

pub struct Harness {
    pub mock: MockServer,
    pub client: RunningService<RoleClient, ()>,
}

/// One request the mock received, decoded for exact comparisons.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Decoded query pairs in order (`("type[]", "google")`).
    pub query: Vec<(String, String)>,
    /// The raw, still-encoded query string.
    pub raw_query: String,
    pub body: Option<Value>,
    pub headers: reqwest::header::HeaderMap,
}

impl Seen {
    /// Decodes one request the mock received.
    pub fn from_request(r: &wiremock::Request) -> Self {
        Seen {
            method: r.method.to_string(),
            path: r.url.path().to_string(),
            query: r
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            raw_query: r.url.query().unwrap_or_default().to_string(),
            body: (!r.body.is_empty()).then(|| serde_json::from_slice(&r.body).expect("JSON body")),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

pub struct Options {
    pub key: Option<&'static str>,
    pub team: Option<u64>,
    pub retries: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            key: Some(TEST_KEY),
            team: None,
            retries: 0,
        }
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        let mock = MockServer::start().await;
        let settings = ClientSettings {
            base_url: Some(Url::parse(&format!("{}/api/v2", mock.uri())).unwrap()),
            api_key: options.key.and_then(ApiKey::new),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                max_retries: options.retries,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
        };
        let server = MakeServer::new(MakeClient::new(&settings).unwrap(), options.team);
        let client = in_process::connect(server, ())
            .await
            .expect("client connects");
        Self { mock, client }
    }

    /// Answers every request with `status` and `body`.
    pub async fn respond(&self, status: u16, body: Value) {
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&self.mock)
            .await;
    }

    /// Answers `verb path` (path below `/api/v2`) with `status` and `body`.
    pub async fn respond_to(&self, verb: &str, api_path: &str, status: u16, body: Value) {
        Mock::given(method(verb))
            .and(path(format!("/api/v2{api_path}")))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&self.mock)
            .await;
    }

    /// Answers `verb path` with a raw response (for non-JSON bodies, headers).
    pub async fn respond_raw(&self, verb: &str, api_path: &str, response: ResponseTemplate) {
        Mock::given(method(verb))
            .and(path(format!("/api/v2{api_path}")))
            .respond_with(response)
            .mount(&self.mock)
            .await;
    }

    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        call(&self.client, tool, arguments).await
    }

    /// Calls `tool` and returns its structured content; a tool error fails the test.
    pub async fn call_ok(&self, tool: &str, arguments: Value) -> Value {
        ok(&self.call(tool, arguments).await)
    }

    /// Calls `tool` and returns its error text; a result that is not an error fails the test.
    pub async fn call_err(&self, tool: &str, arguments: Value) -> String {
        err(&self.call(tool, arguments).await)
    }

    /// Calls `tool` once per `arguments` and asserts that each is refused with a text holding
    /// its `expected` parts, and that none of the calls reached Make.
    pub async fn assert_refused(&self, tool: &str, cases: &[(Value, &[&str])]) {
        for (arguments, expected) in cases {
            let text = self.call_err(tool, arguments.clone()).await;
            for part in *expected {
                assert!(
                    text.contains(part),
                    "{tool} {arguments}: expected {part:?} in: {text}"
                );
            }
        }
        assert!(self.seen().await.is_empty(), "a refused call reached Make");
    }

    /// Answers every `(verb, path, status, body)` of `routes` (paths below `/api/v2`).
    pub async fn respond_to_each(&self, routes: &[(&str, &str, u16, Value)]) {
        for (verb, api_path, status, body) in routes {
            self.respond_to(verb, api_path, *status, body.clone()).await;
        }
    }

    /// Asserts that the single request sent was `verb path` with `query` and `body`.
    pub async fn assert_only_request(
        &self,
        verb: &str,
        api_path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) {
        assert_request(&self.only_request().await, verb, api_path, query, body);
    }

    pub async fn seen(&self) -> Vec<Seen> {
        self.mock
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(Seen::from_request)
            .collect()
    }

    /// Calls every `(tool, arguments)` and asserts that each ends in an error whose text
    /// holds every one of `expected` (Make's status, code and message, a hint).
    pub async fn assert_errors_show(&self, calls: &[(&str, Value)], expected: &[&str]) {
        for (tool, arguments) in calls {
            let text = err(&self.call(tool, arguments.clone()).await);
            for part in expected {
                assert!(text.contains(part), "{tool}: expected {part:?} in: {text}");
            }
        }
    }

    /// The single request sent; fails if there were more or none.
    pub async fn only_request(&self) -> Seen {
        let seen = self.seen().await;
        assert_eq!(seen.len(), 1, "expected exactly one request, got {seen:#?}");
        seen.into_iter().next().unwrap()
    }
}

/// A harness whose mock answers the first DELETE with `first` and every later one 404.
pub async fn flaky_delete(first: ResponseTemplate) -> Harness {
    let h = Harness::with(Options {
        retries: 2,
        ..Options::default()
    })
    .await;
    Mock::given(method("DELETE"))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.mock)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": "SC404", "message": "Not found"})),
        )
        .with_priority(2)
        .mount(&h.mock)
        .await;
    h
}

/// Asserts the request's method, path, query pairs (order-insensitive) and body.
pub fn assert_request(
    seen: &Seen,
    verb: &str,
    api_path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) {
    assert_eq!(seen.method, verb, "method of {seen:#?}");
    assert_eq!(seen.path, format!("/api/v2{api_path}"), "path");
    let mut got: Vec<(String, String)> = seen.query.clone();
    let mut want: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "query of {} {}", seen.method, seen.path);
    assert_eq!(seen.body, body, "body of {} {}", seen.method, seen.path);
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some(format!("Token {TEST_KEY}").as_str())
    );
    let has_content_type = seen.header("content-type").is_some();
    assert_eq!(
        has_content_type,
        seen.body.is_some(),
        "Content-Type only with a body"
    );
}

/// The structured content of a successful result (which must mirror the text content).
pub fn ok(result: &CallToolResult) -> Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "unexpected tool error: {}",
        text(result)
    );
    let structured = result
        .structured_content
        .clone()
        .expect("structured content");
    let text_copy: Value = serde_json::from_str(&text(result)).expect("text is the JSON copy");
    assert_eq!(structured, text_copy);
    structured
}

/// The text of an error result, checked to be an error that never shows the key.
pub fn err(result: &CallToolResult) -> String {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected a tool error, got {result:?}"
    );
    let text = text(result);
    assert!(!text.contains(TEST_KEY), "the key leaked into: {text}");
    text
}

/// The parameters of a call of `tool` with `arguments` (a JSON object).
pub fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)
}

/// Calls `tool`; a protocol error (rather than a tool result) fails the test.
pub async fn call<C: ClientHandler>(
    client: &RunningService<RoleClient, C>,
    tool: &str,
    arguments: Value,
) -> CallToolResult {
    client
        .call_tool(params(tool, arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
}

/// The structured content of a result that is not an error.
pub fn structured(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool error: {}", text(result));
    result
        .structured_content
        .clone()
        .expect("structured content")
}

/// The text content of a result, its blocks joined by newlines.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each tool with a valid set of arguments (the bad-argument tests break them one by one).
pub fn valid_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("connections_list", json!({"teamId": 1})),
        ("connections_get", json!({"connectionId": 1})),
        (
            "connections_get-editable-data-schema",
            json!({"connectionId": 1}),
        ),
        (
            "connections_create",
            json!({"teamId": 1, "name": "a", "accountName": "slack"}),
        ),
        (
            "connections_update",
            json!({"connectionId": 1, "name": "a"}),
        ),
        ("connections_verify", json!({"connectionId": 1})),
        ("connections_delete", json!({"connectionId": 1})),
        ("keys_list", json!({"teamId": 1})),
        ("keys_get", json!({"keyId": 1})),
        (
            "keys_create",
            json!({"teamId": 1, "name": "a", "typeName": "basicauth", "parameters": {"authUser": "u"}}),
        ),
        ("keys_update", json!({"keyId": 1, "name": "a"})),
        ("keys_delete", json!({"keyId": 1})),
        ("credential-requests_list", json!({"teamId": 1})),
        ("credential-requests_get", json!({"requestId": "abc"})),
        ("credential-requests_delete", json!({"requestId": "abc"})),
        (
            "credential-requests_credential-decline",
            json!({"credentialId": "abc"}),
        ),
        (
            "credential-requests_credential-delete",
            json!({"credentialId": "abc"}),
        ),
        (
            "credential-requests_create",
            json!({"teamId": 1, "credentials": [{"appName": "http", "appModules": ["*"]}]}),
        ),
        (
            "credential-requests_create-by-credentials",
            json!({"teamId": 1, "keys": [{"type": "apikeyauth"}]}),
        ),
        (
            "credential-requests_extend-connection",
            json!({"connectionId": 1, "scopes": ["a"]}),
        ),
    ]
}

/// The valid calls of `tools`, in that order.
pub fn valid_calls_of(tools: &[&str]) -> Vec<(&'static str, Value)> {
    let all = valid_calls();
    tools
        .iter()
        .map(|tool| {
            all.iter()
                .find(|(name, _)| name == tool)
                .unwrap_or_else(|| panic!("no valid call of {tool}"))
                .clone()
        })
        .collect()
}

/// The binary with a clean environment: only PATH, a HOME without a Make CLI login, and
/// `--no-cli-login` (no RUST_LOG, no proxies, no Make key).
pub fn clean_binary() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_make-credentials-mcp"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir().join("mcm-no-home"))
        .arg("--no-cli-login");
    command
}

/// Runs `command` with `args`; fails the test unless it exits 0, and returns its stdout as
/// JSON.
pub async fn run_ok(command: &mut tokio::process::Command, args: &[&str]) -> Value {
    let out = command.args(args).output().await.unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is only JSON")
}

/// A mock Make whose `GET /keys` answers 200 with `body`.
pub async fn make_with_keys(body: Value) -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&mock)
        .await;
    mock
}

/// Make's error body, as in make-api.md §1.6.
pub fn make_error(code: &str, message: &str) -> Value {
    serde_json::json!({ "code": code, "message": message, "detail": format!("{message} (detail)") })
}
