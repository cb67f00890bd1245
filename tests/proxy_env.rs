//! Loopback traffic never goes through a proxy from the environment: with `HTTP_PROXY`,
//! `http_proxy` and `ALL_PROXY` set, the real binary still talks to a loopback
//! `MAKE_API_URL`, and to `--sandbox`, directly, so the key never passes a proxy in plain text.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::TEST_KEY;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A "proxy" that counts the connections it gets (and answers none of them).
async fn recording_proxy() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, seen)
}

/// The binary with a clean environment plus every proxy variable pointing at `proxy`.
fn command(proxy: &str) -> tokio::process::Command {
    let mut cmd = common::clean_binary();
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(name, proxy);
    }
    cmd
}

async fn call_keys_list(cmd: &mut tokio::process::Command) -> Value {
    common::run_ok(cmd, &["call", "keys_list", r#"{"teamId":1}"#]).await
}

#[tokio::test]
async fn a_loopback_make_api_url_is_never_proxied() {
    let (proxy, proxied) = recording_proxy().await;
    let mock = common::make_with_keys(json!({"keys": [{"id": 16}]})).await;
    let mut cmd = command(&proxy);
    cmd.env("MAKE_API_URL", format!("{}/api/v2", mock.uri()))
        .env("MAKE_API_KEY", TEST_KEY);
    let out = call_keys_list(&mut cmd).await;
    assert_eq!(out["keys"][0]["id"], 16);
    assert_eq!(mock.received_requests().await.unwrap().len(), 1);
    assert_eq!(
        proxied.load(Ordering::SeqCst),
        0,
        "the proxy saw a connection"
    );
}

#[cfg(feature = "sandbox")]
#[tokio::test]
async fn the_sandbox_is_never_proxied() {
    let (proxy, proxied) = recording_proxy().await;
    let out = call_keys_list(command(&proxy).arg("--sandbox")).await;
    assert!(!out["keys"].as_array().unwrap().is_empty(), "{out}");
    assert_eq!(
        proxied.load(Ordering::SeqCst),
        0,
        "the proxy saw a connection"
    );
}
