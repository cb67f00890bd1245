//! Shared pieces of the scope-check tests: a server whose Make is a local mock, an rmcp
//! client that counts `notifications/tools/list_changed`, and a fake Make that holds its
//! answer until the test releases it.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::make::{MakeClient, RetryPolicy};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::in_process;
use rmcp::model::ErrorCode;
use rmcp::service::{NotificationContext, RunningService, ServiceError};
use rmcp::{ClientHandler, RoleClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

/// A UUIDv4-shaped key (sent as `Token`).
pub const KEY: &str = super::TEST_KEY;

/// Every tool the server registers.
pub const ALL_TOOLS: usize = 23;

/// A client that counts tool-list changes.
#[derive(Clone, Default)]
pub struct Watcher {
    pub changes: Arc<AtomicUsize>,
    changed: Arc<Notify>,
}

impl Watcher {
    /// Waits for the first list change (at most `limit`); true when one came.
    pub async fn changed(&self, limit: Duration) -> bool {
        if self.changes.load(Ordering::SeqCst) > 0 {
            return true;
        }
        tokio::time::timeout(limit, self.changed.notified())
            .await
            .is_ok()
    }
}

impl ClientHandler for Watcher {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_one();
    }
}

/// A server whose Make API is at `base` (e.g. a wiremock's uri), without retries.
pub fn server(base: &str, key: &str, timeout: Duration) -> MakeServer {
    let settings = ClientSettings {
        base_url: Some(format!("{base}/api/v2").parse().unwrap()),
        api_key: ApiKey::new(key),
        timeout,
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..ClientSettings::default()
    };
    MakeServer::new(MakeClient::new(&settings).unwrap(), None)
}

/// A 2025-11-25 client (the legacy `initialize` handshake) on a live in-memory connection.
pub async fn connect(server: MakeServer) -> (RunningService<RoleClient, Watcher>, Watcher) {
    let watcher = Watcher::default();
    let client = in_process::connect(server, watcher.clone())
        .await
        .expect("initialize");
    (client, watcher)
}

/// The listed tool names, sorted.
pub async fn names<H: ClientHandler>(client: &RunningService<RoleClient, H>) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

/// Asserts that calling `tool` gets the answer to an unknown tool: JSON-RPC -32602.
pub async fn assert_unknown<H: ClientHandler>(client: &RunningService<RoleClient, H>, tool: &str) {
    let params = rmcp::model::CallToolRequestParams::new(tool.to_string())
        .with_arguments(serde_json::Map::new());
    match client.call_tool(params).await {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{tool}: {e:?}");
            assert_eq!(e.message, "tool not found", "{tool}");
        }
        other => panic!("{tool}: expected -32602 tool not found, got {other:?}"),
    }
}

/// Polls `done` every 20 ms for up to 10 s.
pub async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached within 10 s");
}

/// A fake Make for one request: reports the request head when it arrives, then answers
/// `body` (200, JSON) only once `release` is sent.
pub struct HeldMake {
    pub base: String,
    pub arrived: oneshot::Receiver<String>,
    pub release: oneshot::Sender<()>,
}

pub async fn held_make(body: &'static str) -> HeldMake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (arrived_tx, arrived) = oneshot::channel();
    let (release, release_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending its request");
            head.extend_from_slice(&buf[..n]);
        }
        let _ = arrived_tx.send(String::from_utf8_lossy(&head).into_owned());
        let _ = release_rx.await;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
        let _ = socket.flush().await;
        // Keep the connection until the client is done with it.
        let _ = socket.read(&mut buf).await;
    });
    HeldMake {
        base,
        arrived,
        release,
    }
}
