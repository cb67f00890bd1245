//! The scope check over Streamable HTTP: a client with a legacy session (`--sessions`)
//! that listed tools before Make answered gets `notifications/tools/list_changed`; a
//! stateless client has no channel for it and simply sees the reduced list next time.

mod common;

use std::time::Duration;

use common::http::{modern_client, start_with, transport};
use common::scopes::{
    ALL_TOOLS, KEY, Watcher, assert_unknown, eventually, held_make, names, server,
};
use make_credentials_mcp::transport::http::HttpOptions;
use rmcp::ServiceExt;

const ANSWER: &str = r#"{"authorization":{"authUsed":"token","scope":["keys:read"]}}"#;

#[tokio::test]
async fn a_legacy_session_that_listed_early_is_told_the_list_changed() {
    let held = held_make(ANSWER).await;
    let server = server(&held.base, KEY, Duration::from_secs(30));
    server.start_scope_check(true);
    held.arrived.await.unwrap();
    let options = HttpOptions {
        sessions: true,
        ..HttpOptions::default()
    };
    let running = start_with(server.clone(), options).await;
    let watcher = Watcher::default();
    let client = watcher
        .clone()
        .serve(transport(running.mcp(), None))
        .await
        .expect("initialize");
    assert_eq!(names(&client).await.len(), ALL_TOOLS, "before Make answers");
    held.release.send(()).unwrap();
    assert!(watcher.changed(Duration::from_secs(10)).await);
    assert_eq!(
        names(&client).await,
        ["keys_get", "keys_list", "keys_list-types"]
    );
    assert_unknown(&client, "keys_create").await;
    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn stateless_clients_see_the_reduced_list_on_their_next_request() {
    let held = held_make(ANSWER).await;
    let server = server(&held.base, KEY, Duration::from_secs(30));
    server.start_scope_check(true);
    held.arrived.await.unwrap();
    let running = start_with(server.clone(), HttpOptions::default()).await;
    let watcher = Watcher::default();
    let legacy = watcher
        .clone()
        .serve(transport(running.mcp(), None))
        .await
        .expect("initialize");
    let modern = modern_client(running.mcp(), None).await;
    assert_eq!(names(&legacy).await.len(), ALL_TOOLS);
    assert_eq!(names(&modern).await.len(), ALL_TOOLS);
    held.release.send(()).unwrap();
    eventually(|| !server.scope_check_pending()).await;
    assert_eq!(
        names(&legacy).await,
        ["keys_get", "keys_list", "keys_list-types"]
    );
    assert_eq!(
        names(&modern).await,
        ["keys_get", "keys_list", "keys_list-types"]
    );
    assert_unknown(&modern, "keys_delete").await;
    assert!(!watcher.changed(Duration::from_millis(300)).await);
    legacy.cancel().await.unwrap();
    modern.cancel().await.unwrap();
    running.stop().await;
}
