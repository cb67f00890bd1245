//! Connection limits of the `http` transport: slow or idle connections are closed, a request
//! body that trickles in is cut off, and connections beyond the cap wait instead of using up
//! the process's file descriptors. Responses, SSE streams included, are never timed out.

mod common;

use std::time::{Duration, Instant};

use common::http::*;
use common::text;
use make_credentials_mcp::transport::http::HttpOptions;
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_millis(500);

fn short_timeouts() -> HttpOptions {
    HttpOptions {
        header_timeout: SHORT,
        idle_timeout: SHORT,
        body_timeout: SHORT,
        ..HttpOptions::default()
    }
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
/// Panics if it is still open after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Instant) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {limit:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&received).into(), Instant::now());
            }
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// A connection that sends half a request header and then nothing.
async fn slow_header(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .await
        .unwrap();
    stream
}

#[tokio::test]
async fn slow_header_connections_are_closed_after_the_header_timeout() {
    let running = start(short_timeouts()).await;
    let started = Instant::now();
    let mut stream = slow_header(running.addr).await;
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let open_for = closed - started;
    assert!(
        open_for >= SHORT - Duration::from_millis(50),
        "{open_for:?}"
    );
    // A connection that sends nothing at all is closed too.
    let mut silent = TcpStream::connect(running.addr).await.unwrap();
    read_until_closed(&mut silent, Duration::from_secs(10)).await;
    running.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let running = start(short_timeouts()).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    running.stop().await;
}

#[tokio::test]
async fn a_slow_request_body_is_cut_off_with_408() {
    let running = start(short_timeouts()).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\":",
        )
        .await
        .unwrap();
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(
        response.contains("request body did not arrive"),
        "{response}"
    );
    running.stop().await;
}

#[tokio::test]
async fn more_connections_than_the_cap_do_not_wedge_the_server() {
    let running = start(HttpOptions {
        max_connections: 4,
        ..short_timeouts()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..12 {
        slow.push(slow_header(running.addr).await);
    }
    // At the cap, the slow connection that has waited longest is closed to let the probe in.
    let probe = make_credentials_mcp::make::client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let response = probe.get(running.healthz()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    for mut stream in slow {
        read_until_closed(&mut stream, Duration::from_secs(10)).await;
    }
    running.stop().await;
}

/// A call that takes longer than every timeout, answered over SSE (sessions), and the
/// session's GET stream, idle for longer than the header timeout, are not cut.
#[tokio::test]
async fn sse_responses_and_streams_outlive_the_timeouts() {
    let make = slow_make(Duration::from_millis(2500)).await;
    let running = start_with(
        server_for(&make),
        HttpOptions {
            sessions: true,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            ..HttpOptions::default()
        },
    )
    .await;
    let client = legacy_client(running.mcp(), None).await;
    let args = json!({"teamId": 1}).as_object().unwrap().clone();
    let result = client
        .call_tool(CallToolRequestParams::new("keys_list").with_arguments(args))
        .await
        .expect("the slow call is answered");
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    client.cancel().await.unwrap();

    let response = post(&running.mcp(), initialize_body())
        .await
        .send()
        .await
        .unwrap();
    let session = response.headers()["mcp-session-id"].clone();
    drop(response);
    let http = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap();
    http.post(running.mcp())
        .header("content-type", "application/json")
        .header("accept", ACCEPT)
        .header("mcp-session-id", session.clone())
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    let mut stream = http
        .get(running.mcp())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let until = tokio::time::Instant::now() + Duration::from_millis(2500);
    loop {
        match tokio::time::timeout_at(until, stream.chunk()).await {
            Err(_) => break, // still open after 2.5 header timeouts
            Ok(Ok(Some(_))) => continue,
            Ok(other) => panic!("the GET stream ended: {other:?}"),
        }
    }
    drop(stream);
    running.stop().await;
}

/// A connection that sent a request's headers and part of its body, and then nothing: it is
/// busy (being read) until the body timeout answers it with 408.
async fn slow_body(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    stream
}

/// The reviewer's setup: the binary under `ulimit -n 64` and 80 connections busy sending a
/// body. The cap fits itself to the limit, the server never runs out of descriptors, logs
/// the saturation once per episode, and `/healthz` answers once slow ones are cut off.
#[cfg(unix)]
#[tokio::test]
async fn binary_under_a_low_open_file_limit_keeps_answering() {
    let (mut child, mut lines, mut log, addr) = common::http::spawn_and_read_log(
        tokio::process::Command::new("sh")
            .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", BIN])
            .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
            .env("MCP_BODY_TIMEOUT", "1")
            .env_remove("MAKE_API_KEY")
            .env_remove("MCP_AUTH_TOKEN")
            .env("RUST_LOG", "make_credentials_mcp=info"),
        "listen",
    )
    .await;
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let mut slow = Vec::new();
    for _ in 0..80 {
        slow.push(slow_body(addr).await);
    }
    let probe = make_credentials_mcp::make::client_builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let response = probe
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for mut stream in slow {
        read_until_closed(&mut stream, Duration::from_secs(30)).await;
    }
    common::http::terminate_and_drain(&child, &mut lines, &mut log).await;
    child.wait().await.unwrap();
    let log = log.join("\n");
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("lowering --max-connections"), "{log}");
    // How many episodes there are depends on how the 80 timeouts interleave with accepting,
    // but an episode ends only once more than a quarter of the 32 slots (9) are free, so
    // every episode after the first needs at least 9 newly accepted connections. Logging per
    // connection would show up to 49.
    let (connections, cap) = (80 + 1, 32);
    let most = 1 + (connections - cap) / (cap / 4 + 1);
    let episodes = log.matches("connection limit reached").count();
    assert!(
        (1..=most).contains(&episodes),
        "{episodes} episodes:\n{log}"
    );
}
