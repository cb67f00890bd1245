//! `credential-requests_wait-for-authorization` against a mock Make API: the exact request
//! it polls with, what ends the wait (done, a lasting error) and what does not (429, 5xx),
//! and that a cancelled call stops polling. Also: a link that fails the Make-host check is
//! never handed to the person.

mod common;

use std::time::Duration;

use common::person::{self, Era, TestPerson};
use common::{params, structured, text};
use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::make::{MakeClient, RetryPolicy};
use make_credentials_mcp::server::MakeServer;
use rmcp::model::{NumberOrString, ProgressToken, RequestMetaObject};
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ID: &str = "a07e16f2ad134bf49cf83a00aa95c0a5";
const DETAIL: &str = "/api/v2/credential-requests/requests/a07e16f2ad134bf49cf83a00aa95c0a5/detail";

fn detail(states: &[&str]) -> Value {
    let credentials: Vec<Value> = states
        .iter()
        .enumerate()
        .map(|(i, state)| json!({"id": format!("c{i}"), "component": "account", "name": "google", "state": state, "remoteId": if *state == "authorized" { json!(5001) } else { Value::Null }}))
        .collect();
    json!({"requestDetail": {"id": ID, "status": "pending", "credentials": credentials}})
}

async fn server_on(mock: &MockServer) -> MakeServer {
    let settings = ClientSettings {
        base_url: Some(Url::parse(&format!("{}/api/v2", mock.uri())).unwrap()),
        api_key: ApiKey::new("5c4e2a1b-0d3f-4a6b-8c9d-112233445566"),
        retry: RetryPolicy {
            max_retries: 0,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        ..ClientSettings::default()
    };
    MakeServer::new(MakeClient::new(&settings).unwrap(), Some(1))
}

async fn detail_calls(mock: &MockServer) -> usize {
    mock.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == DETAIL)
        .count()
}

/// Make answers the detail read with `status` and `body`, `times` times (or from then on).
async fn detail_answers(mock: &MockServer, status: u16, body: Value, times: Option<u64>) {
    let mock_builder = Mock::given(method("GET"))
        .and(path(DETAIL))
        .respond_with(ResponseTemplate::new(status).set_body_json(body));
    match times {
        Some(n) => mock_builder.up_to_n_times(n).mount(mock).await,
        None => mock_builder.mount(mock).await,
    }
}

/// Waits on a server whose Make is `mock`, from a client that cannot be asked anything.
async fn wait(mock: &MockServer, arguments: Value) -> rmcp::model::CallToolResult {
    let client = person::pipe(
        server_on(mock).await,
        Era::Legacy,
        TestPerson::unreachable(),
    )
    .await;
    client
        .call_tool(params(
            "credential-requests_wait-for-authorization",
            arguments,
        ))
        .await
        .unwrap()
}

#[tokio::test]
async fn polls_the_detail_endpoint_until_no_credential_is_pending() {
    let mock = MockServer::start().await;
    detail_answers(&mock, 200, detail(&["pending"]), Some(1)).await;
    detail_answers(&mock, 200, detail(&["authorized"]), None).await;
    let out = structured(&wait(&mock, json!({"requestId": ID})).await);
    assert_eq!(out["done"], true);
    assert_eq!(out["credentials"][0]["remoteId"], 5001);
    let requests = mock.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "one poll pending, one done");
    for r in &requests {
        assert_eq!(r.method.as_str(), "GET");
        assert_eq!(r.url.path(), DETAIL);
        assert_eq!(r.url.query(), None);
        assert!(r.body.is_empty());
    }
}

#[tokio::test]
async fn throttling_and_outages_do_not_end_the_wait_but_other_errors_do() {
    let mock = MockServer::start().await;
    let too_many = json!({"message": "Too many requests", "code": "SC429"});
    detail_answers(&mock, 429, too_many, Some(1)).await;
    detail_answers(&mock, 503, json!({"message": "Unavailable"}), Some(1)).await;
    detail_answers(&mock, 200, detail(&["declined"]), None).await;
    let out = structured(&wait(&mock, json!({"requestId": ID, "timeoutSeconds": 20})).await);
    assert_eq!(out["done"], true, "{out}");
    assert_eq!(out["summary"], "1 of 1 done: google declined");

    let mock = MockServer::start().await;
    let denied = json!({"message": "Permission denied", "code": "SC403"});
    detail_answers(&mock, 403, denied, None).await;
    let result = wait(&mock, json!({"requestId": ID})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("HTTP 403 [SC403]"),
        "{}",
        text(&result)
    );
    assert_eq!(
        detail_calls(&mock).await,
        1,
        "a lasting error ends the wait at once"
    );
}

#[tokio::test]
async fn progress_repeats_at_least_every_ten_seconds_and_cancel_stops_polling() {
    let mock = MockServer::start().await;
    detail_answers(&mock, 200, detail(&["pending", "authorized"]), None).await;
    let person = TestPerson::unreachable();
    let client = person::pipe(server_on(&mock).await, Era::Legacy, person.clone()).await;
    let mut p = params(
        "credential-requests_wait-for-authorization",
        json!({"requestId": ID, "timeoutSeconds": 12}),
    );
    p.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::Number(3),
    )));
    let out = structured(&client.call_tool(p).await.unwrap());
    assert_eq!(out["timedOut"], true);
    let progress = person.progress();
    assert!(
        progress.len() >= 2,
        "a first report and a heartbeat after 10 s: {progress:?}"
    );
    assert!(
        progress
            .iter()
            .all(|p| p.progress == 1.0 && p.total == Some(2.0))
    );

    // Cancel: dropping the call sends notifications/cancelled; polling stops.
    let wait = client.call_tool(params(
        "credential-requests_wait-for-authorization",
        json!({"requestId": ID, "timeoutSeconds": 60}),
    ));
    assert!(
        tokio::time::timeout(Duration::from_millis(2500), wait)
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after_cancel = detail_calls(&mock).await;
    tokio::time::sleep(Duration::from_millis(6000)).await;
    assert_eq!(
        detail_calls(&mock).await,
        after_cancel,
        "no poll after the cancel"
    );
}

#[tokio::test]
async fn a_link_off_make_is_never_handed_to_the_person() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/api/v2/credential-requests/actions/create-by-credentials",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request": {"id": ID, "status": "pending"},
            "publicUri": "https://evil.example.com/steal"
        })))
        .mount(&mock)
        .await;
    let person = TestPerson::agreeing();
    let client = person::pipe(server_on(&mock).await, Era::Legacy, person.clone()).await;
    let args = json!({"connections": [{"type": "google"}]});
    let out = structured(
        &client
            .call_tool(params("credential-requests_create-by-credentials", args))
            .await
            .unwrap(),
    );
    assert!(out.get("publicUri").is_none(), "{out}");
    assert!(out.get("person").is_none());
    assert!(
        person.elicitations().is_empty(),
        "nothing was shown to the person"
    );
}

/// Over stateless HTTP, a client that goes away (closes the connection mid-call, without
/// sending notifications/cancelled) stops the polling too.
#[tokio::test]
async fn a_client_that_goes_away_over_http_stops_the_polling() {
    use make_credentials_mcp::transport::http::{self, HttpOptions};
    let mock = MockServer::start().await;
    detail_answers(&mock, 200, detail(&["pending"]), None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = server_on(&mock).await;
    tokio::spawn(http::serve_on(
        listener,
        server,
        HttpOptions::default(),
        std::future::pending(),
    ));
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "credential-requests_wait-for-authorization",
        "arguments": {"requestId": ID, "timeoutSeconds": 60}
    }});
    let gone = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap()
        .post(format!("http://{addr}/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&call)
        .timeout(Duration::from_millis(2500))
        .send()
        .await;
    assert!(
        gone.is_err(),
        "the call was still running when the client left: {gone:?}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = detail_calls(&mock).await;
    assert!(after >= 1, "it was polling");
    tokio::time::sleep(Duration::from_millis(6000)).await;
    assert_eq!(
        detail_calls(&mock).await,
        after,
        "no poll after the client went away"
    );
}
