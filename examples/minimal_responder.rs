//! The floor `scripts/bench.py --compare` measures this server against: a minimal MCP
//! responder with the same I/O and none of the framework.
//!
//!     minimal_responder                      # stdio: one JSON-RPC message per line
//!     minimal_responder http --listen ADDR   # POST /mcp, one JSON answer per request
//!
//! (It takes the server's spelling, so the bench spawns both alike; other flags are ignored.)
//!
//! It answers `initialize` and `tools/list` with constants, and every `tools/call` with one
//! upstream `GET {MAKE_API_URL}/connections?teamId=1` (reqwest, pooled, as the server's Make
//! client), its body parsed and returned as `structuredContent` and as text. No validation,
//! no schemas, no logging, no security checks: not a server to use, a measure of what the
//! work itself costs on this machine.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::io::{BufRead, Write};

struct Upstream {
    /// Built on the first call, as the server builds its Make client: start-up is not spent
    /// on TLS set-up a plain-http upstream never uses.
    client: std::sync::OnceLock<reqwest::Client>,
    url: String,
    token: String,
}

impl Upstream {
    fn from_env() -> Self {
        let base = std::env::var("MAKE_API_URL").unwrap_or_default();
        Self {
            client: std::sync::OnceLock::new(),
            url: format!("{base}/connections?teamId=1"),
            token: format!(
                "Token {}",
                std::env::var("MAKE_API_KEY").unwrap_or_default()
            ),
        }
    }

    /// The answer to one JSON-RPC message; `None` for notifications.
    async fn answer(&self, message: &[u8]) -> Option<Vec<u8>> {
        let message: Value = serde_json::from_slice(message).ok()?;
        let id = message.get("id")?.clone();
        let result = match message["method"].as_str()? {
            "initialize" => json!({
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "minimal-responder", "version": "0"},
            }),
            "tools/list" => json!({"tools": []}),
            "tools/call" => self.call().await,
            _ => json!({}),
        };
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result})).ok()
    }

    async fn call(&self) -> Value {
        // The server's own builder: rustls on ring, no HTTP/2.
        let client = self.client.get_or_init(|| {
            make_credentials_mcp::make::client_builder()
                .build()
                .expect("an HTTP client")
        });
        let sent = client
            .get(&self.url)
            .header("authorization", &self.token)
            .send()
            .await;
        let body = match sent {
            Ok(response) => response.bytes().await.unwrap_or_default(),
            Err(_) => Bytes::new(),
        };
        let structured: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        json!({
            "content": [{"type": "text", "text": structured.to_string()}],
            "structuredContent": structured,
            "isError": false,
        })
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let upstream = Arc::new(Upstream::from_env());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1));
    match listen {
        Some(listen) if args.iter().any(|a| a == "http") => {
            runtime.block_on(http(upstream, listen.clone()));
        }
        _ => stdio(&runtime, &upstream),
    }
}

/// Plain blocking reads and writes on the main thread: no I/O threads at all.
fn stdio(runtime: &tokio::runtime::Runtime, upstream: &Upstream) {
    let mut stdout = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        if let Some(mut answer) = runtime.block_on(upstream.answer(line.as_bytes())) {
            answer.push(b'\n');
            if stdout
                .write_all(&answer)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return;
            }
        }
    }
}

async fn http(upstream: Arc<Upstream>, listen: String) {
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let upstream = upstream.clone();
                async move {
                    let body = request.into_body().collect().await.map(|b| b.to_bytes());
                    let answer = match body {
                        Ok(body) => upstream.answer(&body).await.unwrap_or_default(),
                        Err(_) => Vec::new(),
                    };
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(answer)))
                            .expect("a response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
