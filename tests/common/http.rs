//! Shared pieces of the HTTP transport tests: a server on an ephemeral loopback port with a
//! stop switch, rmcp HTTP clients of both protocol eras, raw requests, a mock Make that
//! answers slowly, and the binary run as a child process.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use make_credentials_mcp::make::MakeClient;
use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::http::{self, BearerToken, HttpOptions};
use rmcp::model::ProtocolVersion;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-token-5f1c";
pub const ACCEPT: &str = "application/json, text/event-stream";
pub const BIN: &str = env!("CARGO_BIN_EXE_make-credentials-mcp");

/// A running server: its address, a stop switch and the serving task.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), http::HttpError>>,
}

impl Running {
    pub fn mcp(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    pub fn healthz(&self) -> String {
        format!("http://{}/healthz", self.addr)
    }

    /// Triggers graceful shutdown and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

pub fn server_without_key() -> MakeServer {
    MakeServer::new(MakeClient::new(&ClientSettings::default()).unwrap(), None)
}

/// A server whose Make API is `make` (a wiremock server), with a valid-looking key.
pub fn server_for(make: &wiremock::MockServer) -> MakeServer {
    let settings = ClientSettings {
        base_url: Some(format!("{}/api/v2", make.uri()).parse().unwrap()),
        api_key: ApiKey::new("0f8e2c1a-1234-4abc-9def-0123456789ab"),
        ..ClientSettings::default()
    };
    MakeServer::new(MakeClient::new(&settings).unwrap(), None)
}

/// A mock Make that answers every request with an empty key list after `delay`.
pub async fn slow_make(delay: Duration) -> wiremock::MockServer {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let make = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"keys": [], "pg": {"limit": 100, "offset": 0}}))
                .set_delay(delay),
        )
        .mount(&make)
        .await;
    make
}

pub async fn start_with(server: MakeServer, options: HttpOptions) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(http::serve_on(listener, server, options, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

pub async fn start(options: HttpOptions) -> Running {
    start_with(server_without_key(), options).await
}

pub fn with_token() -> HttpOptions {
    HttpOptions {
        auth_token: Some(BearerToken::new(TOKEN).unwrap()),
        ..HttpOptions::default()
    }
}

pub fn transport(
    url: String,
    token: Option<&str>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    // rmcp builds its own reqwest client, which needs the process's rustls provider: without
    // this, a test run alone (no other test installed it first) panics.
    make_credentials_mcp::make::install_crypto_provider();
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    StreamableHttpClientTransport::from_config(config)
}

pub async fn legacy_client(url: String, token: Option<&str>) -> RunningService<RoleClient, ()> {
    ().serve(transport(url, token)).await.expect("initialize")
}

pub async fn modern_client(url: String, token: Option<&str>) -> RunningService<RoleClient, ()> {
    ().serve_with_lifecycle(
        transport(url, token),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .expect("server/discover")
}

pub async fn post(url: &str, body: serde_json::Value) -> reqwest::RequestBuilder {
    make_credentials_mcp::make::client_builder()
        .build()
        .unwrap()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .json(&body)
}

pub fn initialize_body() -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
}

/// Sends a bare `initialize` (no token, no extra header) to `url`.
pub async fn send_initialize(url: &str) -> reqwest::Response {
    post(url, initialize_body()).await.send().await.unwrap()
}

/// A stateless 2025-11-25 `tools/call` of `keys_list` for team 1.
pub fn keys_list_call(id: u64) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "keys_list", "arguments": {"teamId": 1}}})
}

/// Spawns `http --listen 127.0.0.1:0 [extra]` without a token, logging at `rust_log` (the
/// default when `None`), and returns the child, its log so far and its `/mcp` URL.
pub async fn spawn_tokenless_http(
    extra: &[&str],
    rust_log: Option<&str>,
) -> (tokio::process::Child, LogLines, Vec<String>, String) {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("MAKE_API_KEY")
        .env_remove("MCP_AUTH_TOKEN")
        .env_remove("MCP_STATE_KEY")
        .env_remove("RUST_LOG");
    if let Some(level) = rust_log {
        command.env("RUST_LOG", level);
    }
    spawn_and_read_log(&mut command, "url").await
}

/// Runs the binary with `args`; a time bound only keeps a regression from hanging the suite.
pub async fn run_binary(args: &[&str], token: Option<&str>) -> std::process::Output {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .env_remove("MCP_AUTH_TOKEN")
        .env_remove("MAKE_API_KEY")
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("MCP_AUTH_TOKEN", token);
    }
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the binary must exit by itself")
        .unwrap()
}

/// The server's log lines, as the tests read them from its stderr.
pub type LogLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>;

/// Reads the rest of the child's log so that its stderr pipe never fills.
pub fn drain_log(mut lines: LogLines) {
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
}

/// Spawns `command` (the binary, logging at info or finer) with its stderr piped and killed
/// on drop, and reads its log up to the first line with `key=`: the child, the rest of its
/// log, the lines read so far, and the word after `key=` (e.g. the address it listens on).
pub async fn spawn_and_read_log(
    command: &mut tokio::process::Command,
    key: &str,
) -> (tokio::process::Child, LogLines, Vec<String>, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let marker = format!("{key}=");
    let value = loop {
        let line = lines.next_line().await.unwrap().expect("server log");
        log.push(line.clone());
        if let Some(rest) = line.split(&marker).nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    (child, lines, log, value)
}

/// Starts a `keys_list` call on `client`, stops the server once Make has the request, and
/// returns what the client got (the bound only keeps a regression from hanging the suite).
pub async fn call_then_stop(
    client: RunningService<RoleClient, ()>,
    make: &wiremock::MockServer,
    mut running: Running,
) -> rmcp::model::CallToolResult {
    let args = json!({"teamId": 1}).as_object().unwrap().clone();
    let call = tokio::spawn(async move {
        let result = client
            .call_tool(rmcp::model::CallToolRequestParams::new("keys_list").with_arguments(args))
            .await;
        (client, result)
    });
    eventually(|| async { !make.received_requests().await.unwrap().is_empty() }).await;
    let _ = running.stop.take().unwrap().send(());
    let (client, result) = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the cut call is answered")
        .unwrap();
    running.task.await.unwrap().unwrap();
    let _ = client.cancel().await;
    result.expect("a tools/call result, not a transport error")
}

/// Sends SIGTERM to `child` and appends the rest of its log to `log`, up to its end.
pub async fn terminate_and_drain(
    child: &tokio::process::Child,
    lines: &mut LogLines,
    log: &mut Vec<String>,
) -> std::process::ExitStatus {
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        log.push(line);
    }
    killed
}

/// Waits for `condition` (polling), so the test does not depend on timing.
pub async fn eventually<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    while !condition().await {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
