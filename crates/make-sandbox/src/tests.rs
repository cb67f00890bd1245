//! In-crate tests that need to see inside the store (data and key parameters are never
//! returned by the API) or the server lifecycle.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::seed::{BASICAUTH_KEY_ID, GOOGLE_CONNECTION_ID, HTTP_CONNECTION_ID};
use super::{Sandbox, SandboxOptions};

/// A reqwest client builder for the tests. Built together with the server, reqwest has rustls
/// compiled in and asks it for the process's crypto provider, which must then be named:
/// ring's is installed first (later calls do nothing).
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// `GET path` on the sandbox's API with its key.
pub(crate) async fn key_get(sb: &Sandbox, path: &str) -> reqwest::Response {
    client_builder()
        .build()
        .unwrap()
        .get(format!("{}{path}", sb.api_base_url()))
        .header("Authorization", format!("Token {}", sb.api_key()))
        .send()
        .await
        .unwrap()
}

async fn send(
    sb: &Sandbox,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> reqwest::StatusCode {
    crate::tests::client_builder()
        .build()
        .unwrap()
        .request(method, format!("{}{path}", sb.api_base_url()))
        .header("Authorization", format!("Token {}", sb.api_key()))
        .json(&body)
        .send()
        .await
        .expect("sent")
        .status()
}

#[tokio::test]
async fn set_data_replaces_every_editable_parameter() {
    let sb = Sandbox::start().await.unwrap();
    let status = send(
        &sb,
        reqwest::Method::POST,
        &format!("/connections/{HTTP_CONNECTION_ID}/set-data"),
        json!({"authUser": "new"}),
    )
    .await;
    assert_eq!(status, 200);
    let store = sb.state.lock();
    let data = &store.connections[&HTTP_CONNECTION_ID].data;
    assert_eq!(data["authUser"], "new");
    assert_eq!(
        data["authPass"], "",
        "left-out editable parameter is emptied"
    );
}

#[tokio::test]
async fn create_stores_data_and_key_update_merges_parameters() {
    let sb = Sandbox::start().await.unwrap();
    let status = send(
        &sb,
        reqwest::Method::PATCH,
        &format!("/keys/{BASICAUTH_KEY_ID}"),
        json!({"parameters": {"authPass": "rotated"}}),
    )
    .await;
    assert_eq!(status, 200);
    let store = sb.state.lock();
    let params = &store.keys[&BASICAUTH_KEY_ID].parameters;
    assert_eq!(
        (params["authUser"].as_str(), params["authPass"].as_str()),
        (Some("staging"), Some("rotated"))
    );
}

#[tokio::test]
async fn latency_option_delays_responses() {
    let sb = Sandbox::start_with(SandboxOptions {
        latency: Some(Duration::from_millis(150)),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let started = Instant::now();
    let status = send(&sb, reqwest::Method::GET, "/users/me", Value::Null).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn wrong_method_is_a_make_style_405() {
    let sb = Sandbox::start().await.unwrap();
    let resp = crate::tests::client_builder()
        .build()
        .unwrap()
        .put(format!(
            "{}/connections/{GOOGLE_CONNECTION_ID}",
            sb.api_base_url()
        ))
        .header("Authorization", format!("Token {}", sb.api_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "SC405");
}

#[tokio::test]
async fn dropping_the_sandbox_stops_the_server() {
    let sb = Sandbox::start().await.unwrap();
    let url = format!("{}/users/me", sb.api_base_url());
    drop(sb);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        crate::tests::client_builder()
            .build()
            .unwrap()
            .get(&url)
            .send()
            .await
            .is_err()
    );
}
