//! Shutdown of the `http` transport when the grace period ends with a call still running:
//! the client gets a tool error that says what happened, in every mode, not a bare 500 or
//! a stream that just stops.

mod common;

use std::time::Duration;

use common::http::*;
use common::text;
use make_credentials_mcp::transport::http::HttpOptions;
use serde_json::Value;

/// Make answers after a minute: every call is still running when the grace ends.
const MAKE_DELAY: Duration = Duration::from_secs(60);
const GRACE: Duration = Duration::from_millis(300);

fn short_grace(sessions: bool) -> HttpOptions {
    HttpOptions {
        sessions,
        shutdown_grace: GRACE,
        ..HttpOptions::default()
    }
}

fn assert_says_shutting_down(text: &str) {
    assert!(text.contains("shutting down"), "{text}");
    assert!(text.contains("may or may not have"), "{text}");
    assert!(text.contains("check in Make before retrying"), "{text}");
}

#[tokio::test]
async fn stateless_call_cut_by_shutdown_gets_a_tool_error_not_a_500() {
    let make = slow_make(MAKE_DELAY).await;
    let mut running = start_with(server_for(&make), short_grace(false)).await;
    let url = running.mcp();
    let call = tokio::spawn(async move {
        post(&url, keys_list_call(7))
            .await
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
    });
    eventually(|| async { !make.received_requests().await.unwrap().is_empty() }).await;
    let _ = running.stop.take().unwrap().send(());
    let response = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the cut call is answered")
        .unwrap()
        .expect("a response, not a dropped connection");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_says_shutting_down(body["result"]["content"][0]["text"].as_str().unwrap());
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn session_call_cut_by_shutdown_gets_a_tool_error_on_its_sse_stream() {
    let make = slow_make(MAKE_DELAY).await;
    let running = start_with(server_for(&make), short_grace(true)).await;
    let client = legacy_client(running.mcp(), None).await;
    let result = call_then_stop(client, &make, running).await;
    assert_eq!(result.is_error, Some(true), "{result:?}");
    assert_says_shutting_down(&text(&result));
}

#[tokio::test]
async fn modern_call_cut_by_shutdown_gets_a_tool_error() {
    let make = slow_make(MAKE_DELAY).await;
    let running = start_with(server_for(&make), short_grace(false)).await;
    let client = modern_client(running.mcp(), None).await;
    let result = call_then_stop(client, &make, running).await;
    assert_eq!(result.is_error, Some(true), "{result:?}");
    assert_says_shutting_down(&text(&result));
}
