//! Nobody can hold every connection slot: sockets that keep a connection warm with a request
//! every second, or that send half a request header and stop, are closed to make room for a
//! new client once the cap is reached; and one client address cannot hold more than its share
//! with requests in progress. Runs the binary with the sandbox and its default limits (256
//! connections, 128 per address).

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::http::{BIN, drain_log, spawn_and_read_log};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How many hogging sockets each test holds: more than the default connection cap.
const HOGS: usize = 300;
/// How long a new client may take to be answered while the hogs are held. Without room
/// being made, it waits for a hog's timeout (10 s for headers) or forever (keep-alive).
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The binary with `--sandbox` over tokenless HTTP on loopback; its address.
async fn spawn_sandbox_http(extra: &[&str]) -> (tokio::process::Child, SocketAddr) {
    let (child, lines, _log, addr) = spawn_and_read_log(
        tokio::process::Command::new(BIN)
            .args([
                "--no-cli-login",
                "--sandbox",
                "http",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env_remove("MAKE_API_KEY")
            .env_remove("MCP_AUTH_TOKEN")
            .env("RUST_LOG", "make_credentials_mcp=info"),
        "listen",
    )
    .await;
    drain_log(lines);
    (child, addr.parse().unwrap())
}

/// A connection from loopback address `from` (127.0.0.x: every one of them reaches the
/// server's 127.0.0.1, and the server sees each as another client).
async fn connect_from(from: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A new client, from its own connection: `/healthz`, then a `connections_list` call. Both
/// must answer within [`ANSWER_WITHIN`]; returns how long each took.
async fn new_client_is_answered(addr: SocketAddr) -> (Duration, Duration) {
    let client = make_credentials_mcp::make::client_builder()
        .timeout(ANSWER_WITHIN)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("/healthz answers while the slots are hogged");
    assert_eq!(health.status(), 200);
    let health_took = started.elapsed();

    let started = Instant::now();
    let response = client
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", common::http::ACCEPT)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "connections_list", "arguments": {"teamId": 1}}}))
        .send()
        .await
        .expect("a tool call answers while the slots are hogged");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["result"]["isError"], json!(false), "{body}");
    assert!(body["result"]["structuredContent"].is_object(), "{body}");
    (health_took, started.elapsed())
}

/// Sends `GET /healthz` on `stream` and reads its whole answer; false once the server has
/// closed the connection.
async fn keep_warm(stream: &mut TcpStream) -> bool {
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf).await {
        Ok(0) | Err(_) => false,
        Ok(_) => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_sockets_cannot_lock_out_a_new_client() {
    let (mut child, addr) = spawn_sandbox_http(&[]).await;
    // 300 sockets, each asking for /healthz every second on the same connection: none is
    // ever idle long enough for a timeout to close it.
    let mut hogs = Vec::new();
    for _ in 0..HOGS {
        hogs.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let mut answered = 0u32;
            while keep_warm(&mut stream).await {
                answered += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            answered
        }));
    }
    // Let the hogs take every slot and settle into their rhythm.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (health, call) = new_client_is_answered(addr).await;
    println!(
        "with {HOGS} keep-alive sockets held: /healthz in {health:?}, connections_list in {call:?}"
    );

    child.kill().await.unwrap();
    let mut served = 0;
    for hog in hogs {
        served += (hog.await.unwrap() > 0) as usize;
    }
    // The hogs really did hold connections (most got answers before being closed).
    assert!(served > 200, "only {served} hogs were ever answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_cannot_lock_out_a_new_client() {
    let (mut child, addr) = spawn_sandbox_http(&[]).await;
    let mut hogs = Vec::new();
    for _ in 0..HOGS {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
            .await
            .unwrap();
        hogs.push(stream);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (health, call) = new_client_is_answered(addr).await;
    println!(
        "with {HOGS} half-sent requests held: /healthz in {health:?}, connections_list in {call:?}"
    );
    child.kill().await.unwrap();
}

/// A connection busy sending a request body (it stays busy until the body timeout).
async fn busy(from: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let mut stream = connect_from(from, addr).await;
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn one_address_cannot_hold_every_slot_with_requests() {
    let (mut child, addr) = spawn_sandbox_http(&[
        "--max-connections",
        "8",
        "--max-connections-per-client",
        "4",
        "--body-timeout",
        "60",
    ])
    .await;
    let greedy = Ipv4Addr::new(127, 0, 0, 1);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(busy(greedy, addr).await);
    }
    // Make sure the server is reading all four bodies before the fifth arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A fifth connection from the same address is refused at once, with a reason.
    let mut fifth = busy(greedy, addr).await;
    let mut answer = String::new();
    tokio::time::timeout(ANSWER_WITHIN, fifth.read_to_string(&mut answer))
        .await
        .expect("the fifth connection is answered at once")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("--max-connections-per-client"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );

    // Another address still gets in, and its idle connections do not count against the
    // greedy one's.
    let mut other = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr).await;
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(ANSWER_WITHIN, other.read_to_string(&mut answer))
        .await
        .expect("another address is answered")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // The greedy address's requests were not cut: each is still being read.
    for stream in &mut held {
        let mut buf = [0u8; 64];
        let still_open =
            tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await;
        assert!(still_open.is_err(), "a busy connection was closed");
    }
    child.kill().await.unwrap();
}
