//! `--sessions` mode caps live sessions (`--max-sessions`): past the cap a new session gets
//! 503 with `Retry-After`, existing sessions keep working, an ended session frees its slot,
//! and a flood of `initialize` requests cannot grow memory without bound. Runs the binary.

mod common;

use common::http::{drain_log, initialize_body, post, spawn_tokenless_http};
use serde_json::json;

/// Sends `initialize` without a session; the response and its session id, if any.
async fn initialize(url: &str) -> (reqwest::StatusCode, Option<String>, reqwest::Response) {
    let response = post(url, initialize_body()).await.send().await.unwrap();
    let id = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status(), id, response)
}

/// Sends `body` within session `id`.
async fn in_session(url: &str, id: &str, body: serde_json::Value) -> reqwest::Response {
    post(url, body)
        .await
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sessions_past_the_cap_get_503_and_ended_ones_free_a_slot() {
    let (child, lines, _log, url) =
        spawn_tokenless_http(&["--sessions", "--max-sessions", "5"], None).await;
    drain_log(lines);

    let mut ids = Vec::new();
    for _ in 0..5 {
        let (status, id, response) = initialize(&url).await;
        assert_eq!(status, 200, "{}", response.text().await.unwrap());
        response.text().await.unwrap();
        ids.push(id.expect("a session id"));
    }

    let (status, id, response) = initialize(&url).await;
    assert_eq!(status, 503);
    assert!(id.is_none());
    let retry_after = response.headers().get("retry-after").expect("Retry-After");
    assert!(retry_after.to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let text = response.text().await.unwrap();
    assert!(text.contains("sessions"), "{text}");

    // An existing session still answers.
    let first = &ids[0];
    let notified = in_session(
        &url,
        first,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(notified.status(), 202);
    let listed = in_session(
        &url,
        first,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    assert_eq!(listed.status(), 200);
    let text = listed.text().await.unwrap();
    assert!(text.contains("keys_list"), "{text}");

    // Ending one session frees its slot, once.
    let deleted = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap()
        .delete(&url)
        .header("mcp-session-id", &ids[4])
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let (status, id, response) = initialize(&url).await;
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
    assert!(id.is_some());
    let (status, _, _) = initialize(&url).await;
    assert_eq!(status, 503, "the freed slot is taken again");
    drop(child);
}

/// A flood of `initialize` requests on one connection holds at most the cap's sessions,
/// so the process's memory stays far below what uncapped sessions take.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_initialize_flood_keeps_memory_bounded() {
    let (child, lines, _log, url) =
        spawn_tokenless_http(&["--sessions", "--max-sessions", "100"], None).await;
    drain_log(lines);
    let pid = child.id().unwrap();
    let client = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap();
    let (mut created, mut refused) = (0, 0);
    for _ in 0..3000 {
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", common::http::ACCEPT)
            .json(&initialize_body())
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => created += 1,
            503 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
        response.bytes().await.unwrap();
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    // Uncapped, 3,000 sessions take about 150 MB; 100 sessions take a few MB.
    assert!(rss_kb < 80 * 1024, "VmRSS {rss_kb} kB");
    assert_eq!((created, refused), (100, 2900));
    drop(child);
}
