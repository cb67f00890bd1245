//! Team mode: each HTTP request may carry a signed-in person (a `Caller`, put into the
//! request's extensions by the layer in front of rmcp), and their tool calls act as them:
//! Make sees their bearer token, never another person's or the operator's key; they see
//! only the tools their grant's scopes allow; and their calls' log lines name them.
//!
//! The layer here is a stand-in for the real authentication: it picks the caller by a test
//! header. rmcp's own streamable HTTP service sits behind it, so the caller travels the
//! same way it will in production (HTTP request extensions → `http::request::Parts` in the
//! MCP request context), for both protocol eras.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use make_credentials_mcp::make::{ApiKey, ClientSettings, MakeClient, RetryPolicy};
use make_credentials_mcp::server::{Caller, MakeServer};
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{CacheScope, CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{Peer, RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPERATOR_KEY: &str = "5c4e2a1b-0d3f-4a6b-8c9d-112233445566";
const TOKEN_A: &str = "access-token-of-person-a-7d1f";
const TOKEN_B: &str = "access-token-of-person-b-20c9";
const PERSON_HEADER: &str = "x-test-person";

/// Person A holds every scope; person B only `connections:read`.
fn callers(operator: &MakeClient) -> HashMap<&'static str, Caller> {
    let every: BTreeSet<String> = [
        "apps:read",
        "connections:read",
        "connections:write",
        "credential-requests:read",
        "credential-requests:write",
        "keys:read",
        "keys:write",
        "openid",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let a = Caller {
        make_user_id: "user-a".into(),
        client_id: "client-a".into(),
        make: operator.acting_as(TOKEN_A, None),
        scopes: every,
    };
    let b = Caller {
        make_user_id: "user-b".into(),
        client_id: "client-b".into(),
        make: operator.acting_as(TOKEN_B, None),
        scopes: ["connections:read".to_string()].into(),
    };
    HashMap::from([("a", a), ("b", b)])
}

/// A mock Make, and the server behind rmcp's HTTP service behind the caller layer.
struct Team {
    make: MockServer,
    url: String,
}

async fn team() -> Team {
    let make = MockServer::start().await;
    // A little delay, so that concurrent calls are in flight at Make together.
    for (api_path, body) in [
        ("/api/v2/connections", json!({"connections": []})),
        (
            "/api/v2/keys",
            json!({"keys": [], "pg": {"limit": 100, "offset": 0}}),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(api_path))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(body)
                    .set_delay(Duration::from_millis(20)),
            )
            .mount(&make)
            .await;
    }
    let operator = MakeClient::new(&ClientSettings {
        base_url: Some(format!("{}/api/v2", make.uri()).parse().unwrap()),
        api_key: ApiKey::new(OPERATOR_KEY),
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..ClientSettings::default()
    })
    .unwrap();
    let callers = Arc::new(callers(&operator));
    let server = MakeServer::new(operator, None);
    // Team mode turns the operator key's scope check off; it must settle without Make.
    server.start_scope_check(false).await.unwrap();
    let rmcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new()
        .nest_service("/mcp", rmcp)
        .layer(middleware::from_fn(
            move |mut request: Request, next: Next| {
                let callers = callers.clone();
                async move {
                    let caller = request
                        .headers()
                        .get(PERSON_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|person| callers.get(person))
                        .cloned();
                    if let Some(caller) = caller {
                        request.extensions_mut().insert(caller);
                    }
                    next.run(request).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Team { make, url }
}

fn transport(url: &str, person: Option<&str>) -> StreamableHttpClientTransport<reqwest::Client> {
    make_credentials_mcp::make::install_crypto_provider();
    let mut headers = HashMap::new();
    if let Some(person) = person {
        headers.insert(
            HeaderName::from_static(PERSON_HEADER),
            HeaderValue::from_str(person).unwrap(),
        );
    }
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers),
    )
}

/// A 2025-11-25 client (initialize, an HTTP session).
async fn legacy(url: &str, person: Option<&str>) -> RunningService<RoleClient, ()> {
    ().serve(transport(url, person)).await.expect("initialize")
}

/// A 2026-07-28 client (server/discover, stateless requests).
async fn modern(url: &str, person: Option<&str>) -> RunningService<RoleClient, ()> {
    ().serve_with_lifecycle(
        transport(url, person),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("server/discover")
}

async fn call(
    client: &Peer<RoleClient>,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    let arguments = arguments.as_object().cloned().unwrap();
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
}

async fn tool_names(client: &RunningService<RoleClient, ()>) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    names.sort();
    names
}

/// `(teamId, Authorization)` of every request Make received.
async fn authorizations(make: &MockServer) -> Vec<(String, String)> {
    make.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let team = r
                .url
                .query_pairs()
                .find(|(k, _)| k == "teamId")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let auth = r.headers["authorization"].to_str().unwrap().to_owned();
            (team, auth)
        })
        .collect()
}

#[tokio::test]
async fn each_persons_calls_reach_make_with_their_own_token_never_crossing() {
    let team = team().await;
    // A over an HTTP session, B stateless: the caller arrives on both of rmcp's paths.
    let a = legacy(&team.url, Some("a")).await;
    let b = modern(&team.url, Some("b")).await;
    const CALLS: usize = 8;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        for (peer, team_id) in [(a.peer().clone(), 1), (b.peer().clone(), 2)] {
            calls.spawn(async move {
                call(&peer, "connections_list", json!({"teamId": team_id})).await
            });
        }
    }
    for result in calls.join_all().await {
        let result = result.expect("no protocol error");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    let seen = authorizations(&team.make).await;
    assert_eq!(seen.len(), 2 * CALLS, "{seen:?}");
    for (team_id, auth) in &seen {
        let expected = match team_id.as_str() {
            "1" => format!("Bearer {TOKEN_A}"),
            "2" => format!("Bearer {TOKEN_B}"),
            other => panic!("unexpected teamId {other}"),
        };
        assert_eq!(auth, &expected, "team {team_id}");
    }
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
}

#[tokio::test]
async fn without_a_caller_the_operators_key_is_used_as_before() {
    let team = team().await;
    let anonymous = legacy(&team.url, None).await;
    let result = call(&anonymous, "keys_list", json!({"teamId": 3}))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert_eq!(
        authorizations(&team.make).await,
        [("3".to_string(), format!("Token {OPERATOR_KEY}"))]
    );
    // Every tool shows: the scope check is off and no grant narrows the list.
    assert!(tool_names(&anonymous).await.len() > 20);
    anonymous.cancel().await.unwrap();
}

#[tokio::test]
async fn a_grant_without_keys_read_lists_no_keys_tools_and_refuses_them_as_unknown() {
    let team = team().await;
    for (b, modern_era) in [
        (legacy(&team.url, Some("b")).await, false),
        (modern(&team.url, Some("b")).await, true),
    ] {
        assert_eq!(
            tool_names(&b).await,
            [
                "connections_get",
                "connections_get-editable-data-schema",
                "connections_list"
            ]
        );
        if modern_era {
            // 2026-07-28: a list that depends on the person is not for shared caches.
            let listed = b.list_tools(None).await.unwrap();
            assert_eq!(listed.cache_scope, Some(CacheScope::Private));
        }
        let hidden = call(&b, "keys_list", json!({"teamId": 1})).await;
        let unknown = call(&b, "no_such_tool", json!({"teamId": 1})).await;
        let (ServiceError::McpError(hidden), ServiceError::McpError(unknown)) =
            (hidden.unwrap_err(), unknown.unwrap_err())
        else {
            panic!("not JSON-RPC errors");
        };
        assert_eq!(
            hidden, unknown,
            "a hidden tool must answer as an unknown one"
        );
        b.cancel().await.unwrap();
    }
    // A holds keys:read: the same tool works for them, in the same server.
    let a = legacy(&team.url, Some("a")).await;
    assert!(tool_names(&a).await.contains(&"keys_list".to_string()));
    let result = call(&a, "keys_list", json!({"teamId": 1})).await.unwrap();
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert_eq!(
        authorizations(&team.make).await,
        [("1".to_string(), format!("Bearer {TOKEN_A}"))],
        "B's refused calls reached Make"
    );
    a.cancel().await.unwrap();
}

/// The log lines every test of this file writes, in the server's own format.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(log.clone());
        let subscriber = tracing_subscriber::registry()
            .with(
                "make_credentials_mcp=debug"
                    .parse::<tracing_subscriber::filter::Targets>()
                    .unwrap(),
            )
            .with(make_credentials_mcp::logging::lines(move || sink.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        log
    })
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_persons_call_logs_their_make_user_id_and_no_token() {
    let log = captured();
    let team = team().await;
    let a = modern(&team.url, Some("a")).await;
    let b = legacy(&team.url, Some("b")).await;
    call(&a, "keys_list", json!({"teamId": 11})).await.unwrap();
    call(&b, "connections_list", json!({"teamId": 12}))
        .await
        .unwrap();
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
    let log = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let line = |who: &str, what: &str| {
        log.lines()
            .find(|l| l.contains(&format!(r#"call{{make_user="{who}"}}"#)) && l.contains(what))
            .unwrap_or_else(|| panic!("no {what} line of {who} in:\n{log}"))
    };
    line("user-a", r#"tool call tool="keys_list""#);
    line("user-b", r#"tool call tool="connections_list""#);
    // Lines written deeper inside the call (the Make client's) carry the person too.
    assert!(line("user-a", "make api").contains("/api/v2/keys"));
    assert!(line("user-b", "make api").contains("/api/v2/connections"));
    for secret in [TOKEN_A, TOKEN_B, OPERATOR_KEY] {
        assert!(!log.contains(secret), "a credential in the log:\n{log}");
    }
}
