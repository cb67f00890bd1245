//! Hiding what the key cannot do: the server asks Make for the key's scopes
//! (`GET /users/me/current-authorization`) in the background, hides the tools it lacks a
//! scope for, tells live clients that listed tools too early, and hides nothing when the
//! answer is not a usable list of scopes.

mod common;

use std::time::{Duration, Instant};

use common::scopes::{
    ALL_TOOLS, KEY, assert_unknown, connect, eventually, held_make, names, server,
};
use common::{Seen, assert_request};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUTH_PATH: &str = "/api/v2/users/me/current-authorization";

fn authorization(scopes: &[&str]) -> serde_json::Value {
    json!({"authorization": {"authUsed": "token", "scope": scopes}})
}

/// A mock Make whose current-authorization answers `response`.
async fn make_answering(response: ResponseTemplate) -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(AUTH_PATH))
        .respond_with(response)
        .mount(&mock)
        .await;
    mock
}

/// The only request the mock saw was Make's scope endpoint, with the key.
async fn assert_asked_once(mock: &MockServer) {
    let seen = mock.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_request(
        &Seen::from_request(&seen[0]),
        "GET",
        "/users/me/current-authorization",
        &[],
        None,
    );
}

const READ_CONNECTIONS_AND_KEYS: [&str; 6] = [
    "connections_get",
    "connections_get-editable-data-schema",
    "connections_list",
    "keys_get",
    "keys_list",
    "keys_list-types",
];

#[tokio::test]
async fn tools_the_key_lacks_a_scope_for_are_hidden_at_list_time() {
    let reply = authorization(&["connections:read", "keys:read", "user:read"]);
    // Slower than a client's first list, faster than the list's wait.
    let mock = make_answering(
        ResponseTemplate::new(200)
            .set_body_json(reply)
            .set_delay(Duration::from_millis(300)),
    )
    .await;
    let server = server(&mock.uri(), KEY, Duration::from_secs(10));
    server.start_scope_check(true);
    let (client, watcher) = connect(server.clone()).await;
    assert_eq!(names(&client).await, READ_CONNECTIONS_AND_KEYS);
    assert_asked_once(&mock).await;
    // Hidden tools are unknown, including one that needs a scope the key has and one it lacks.
    for tool in [
        "keys_create",
        "connections_update",
        "credential-requests_list",
    ] {
        assert_unknown(&client, tool).await;
    }
    assert_eq!(watcher.changes.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(!server.scope_check_pending());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_late_answer_reaches_a_live_client_as_list_changed() {
    let mock = make_answering(
        ResponseTemplate::new(200)
            .set_body_json(authorization(&["connections:read", "keys:read"]))
            .set_delay(Duration::from_secs(4)),
    )
    .await;
    let server = server(&mock.uri(), KEY, Duration::from_secs(10));
    server.start_scope_check(true);
    let (client, watcher) = connect(server.clone()).await;
    let started = Instant::now();
    assert_eq!(
        names(&client).await.len(),
        ALL_TOOLS,
        "everything until Make answers"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "tools/list waits only about 2 s"
    );
    assert!(
        watcher.changed(Duration::from_secs(20)).await,
        "notifications/tools/list_changed"
    );
    assert_eq!(names(&client).await, READ_CONNECTIONS_AND_KEYS);
    assert_unknown(&client, "keys_delete").await;
    assert_asked_once(&mock).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn initialize_completes_while_make_still_holds_the_scope_answer() {
    let held = held_make(r#"{"authorization":{"authUsed":"token","scope":["keys:read"]}}"#).await;
    let server = server(&held.base, KEY, Duration::from_secs(30));
    server.start_scope_check(true);
    let head = held.arrived.await.expect("the check asked Make");
    assert!(
        head.starts_with("GET /api/v2/users/me/current-authorization HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("authorization: token {KEY}\r\n")),
        "{head}"
    );
    // Make has not answered: initialize must not wait for it.
    let (client, watcher) = connect(server.clone()).await;
    assert!(server.scope_check_pending(), "initialize finished first");
    held.release.send(()).unwrap();
    eventually(|| !server.scope_check_pending()).await;
    assert_eq!(
        names(&client).await,
        ["keys_get", "keys_list", "keys_list-types"]
    );
    // The client had not listed tools before the answer: nothing to tell it.
    assert!(!watcher.changed(Duration::from_millis(200)).await);
    client.cancel().await.unwrap();
}

/// Whatever goes wrong with the scope endpoint, every tool stays listed.
#[tokio::test]
async fn nothing_is_hidden_when_the_endpoint_fails() {
    let failures = [
        (
            "500",
            ResponseTemplate::new(500)
                .set_body_json(json!({"code": "SC500", "message": "Internal error"})),
        ),
        (
            "404",
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": "SC404", "message": "Not Found"})),
        ),
        (
            "401",
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": "IM015", "message": "User is not logged in."})),
        ),
        (
            "403",
            ResponseTemplate::new(403)
                .set_body_json(json!({"code": "SC403", "message": "Permission denied"})),
        ),
        (
            "other shape",
            ResponseTemplate::new(200).set_body_json(json!({"authUser": {"id": 1}})),
        ),
        (
            "timeout",
            ResponseTemplate::new(200)
                .set_body_json(authorization(&[]))
                .set_delay(Duration::from_secs(5)),
        ),
    ];
    for (what, response) in failures {
        let mock = make_answering(response).await;
        // The client gives up after 1 s, before the timeout case's 5 s delay.
        let server = server(&mock.uri(), KEY, Duration::from_secs(1));
        server.start_scope_check(true);
        let (client, _) = connect(server.clone()).await;
        eventually(|| !server.scope_check_pending()).await;
        assert_eq!(names(&client).await.len(), ALL_TOOLS, "{what}");
        assert_asked_once(&mock).await;
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn an_oauth_token_or_no_scope_check_asks_nothing_and_hides_nothing() {
    let mock = make_answering(ResponseTemplate::new(200).set_body_json(authorization(&[]))).await;
    for (key, enabled) in [("ya29.an-oauth-access-token", true), (KEY, false)] {
        let server = server(&mock.uri(), key, Duration::from_secs(10));
        server.start_scope_check(enabled).await.unwrap();
        assert!(!server.scope_check_pending());
        let (client, _) = connect(server).await;
        assert_eq!(names(&client).await.len(), ALL_TOOLS, "{key} {enabled}");
        client.cancel().await.unwrap();
    }
    assert!(mock.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_key_with_every_scope_hides_nothing() {
    let all = [
        "apps:read",
        "connections:read",
        "connections:write",
        "credential-requests:read",
        "credential-requests:write",
        "keys:read",
        "keys:write",
    ];
    let mock = make_answering(ResponseTemplate::new(200).set_body_json(authorization(&all))).await;
    let server = server(&mock.uri(), KEY, Duration::from_secs(10));
    server.start_scope_check(true).await.unwrap();
    let (client, _) = connect(server).await;
    assert_eq!(names(&client).await.len(), ALL_TOOLS);
    client.cancel().await.unwrap();
}

/// A 2026-07-28 client keeps a `subscriptions/listen` stream open: the late scope answer
/// reaches it as `notifications/tools/list_changed`, tagged with its subscription.
#[tokio::test]
async fn a_late_answer_reaches_a_modern_listener_as_list_changed() {
    use rmcp::model::{ProtocolVersion, ServerNotification, SubscriptionFilter};
    use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
    let mock = make_answering(
        ResponseTemplate::new(200)
            .set_body_json(authorization(&["keys:read"]))
            .set_delay(Duration::from_millis(1500)),
    )
    .await;
    let server = server(&mock.uri(), KEY, Duration::from_secs(10));
    server.start_scope_check(true);
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    let client = ()
        .serve_with_lifecycle(
            client_end,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("server/discover");
    let filter = SubscriptionFilter::builder().tools_list_changed().build();
    let mut subscription = client.peer().listen(filter).await.expect("listen");
    assert_eq!(subscription.acknowledged().tools_list_changed, Some(true));
    let next = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("a notification before the timeout")
        .expect("the stream is open")
        .expect("a notification");
    assert!(
        matches!(next, ServerNotification::ToolListChangedNotification(_)),
        "{next:?}"
    );
    let listed = client.list_all_tools().await.unwrap();
    let mut names: Vec<String> = listed.into_iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["keys_get", "keys_list", "keys_list-types"]);
    let _ = client.cancel().await;
}
