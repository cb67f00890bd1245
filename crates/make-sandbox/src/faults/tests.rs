//! Each fault on the wire, as a client sees it: status, headers and body shape, dropped and
//! cut connections, the redirect sink, the request counter, the plan's probabilities, and a
//! held request that does not hold up others.

use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{Value, json};

use super::{DEFAULT_OVERSIZE_BYTES, Fault, FaultPlan};
use crate::seed::PENDING_REQUEST_ID;
use crate::{Sandbox, SandboxOptions};

/// A client that does not follow redirects, so a 307 stays visible.
fn client() -> reqwest::Client {
    crate::tests::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(
    sb: &Sandbox,
    http: &reqwest::Client,
    method: Method,
    path: &str,
) -> reqwest::Result<reqwest::Response> {
    let mut req = http
        .request(method.clone(), format!("{}{path}", sb.api_base_url()))
        .header("Authorization", format!("Token {}", sb.api_key()));
    if method == Method::POST {
        req = req.json(
            &json!({"teamId": 1, "name": "Fault key", "typeName": "basicauth",
            "parameters": {"authUser": "u", "authPass": "p"}}),
        );
    }
    req.send().await
}

async fn get(sb: &Sandbox, path: &str) -> reqwest::Result<reqwest::Response> {
    send(sb, &client(), Method::GET, path).await
}

fn key_count(sb: &Sandbox) -> usize {
    sb.state.lock().keys.len()
}

#[tokio::test]
async fn status_faults_answer_like_make_and_its_gateway() {
    let sb = Sandbox::start().await.unwrap();
    let cases: [(Fault, u16, Option<&str>, &str); 7] = [
        (Fault::RATE_LIMITED, 429, None, "SC429"),
        (
            Fault::TooManyRequests {
                retry_after: Some(3),
            },
            429,
            Some("3"),
            "SC429",
        ),
        (Fault::InternalServerError, 500, None, "SC500"),
        (Fault::ServiceUnavailable, 503, None, "SC503"),
        (
            Fault::BadGateway,
            502,
            None,
            "<title>502 Bad Gateway</title>",
        ),
        (
            Fault::GatewayTimeout,
            504,
            None,
            "<title>504 Gateway Timeout</title>",
        ),
        (
            Fault::Timeout {
                hold: Duration::from_millis(10),
            },
            504,
            None,
            "<title>504 Gateway Timeout</title>",
        ),
    ];
    for (fault, status, retry_after, marker) in cases {
        sb.inject(fault.clone(), 1);
        let resp = get(&sb, "/users/me").await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{fault:?}");
        let header = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap());
        assert_eq!(header, retry_after, "{fault:?}");
        let json = resp.headers()["content-type"] == "application/json";
        let text = resp.text().await.unwrap();
        if json {
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["code"], marker, "{fault:?}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        } else {
            assert!(text.contains(marker), "{fault:?}: {text}");
        }
    }
    assert_eq!(sb.faults_pending(), 0);
    assert_eq!(get(&sb, "/users/me").await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_refusing_fault_leaves_the_store_alone() {
    let sb = Sandbox::start().await.unwrap();
    let before = key_count(&sb);
    for fault in [
        Fault::BadGateway,
        Fault::Drop,
        Fault::Redirect,
        Fault::NonJson,
    ] {
        sb.inject(fault, 1);
        let _ = send(&sb, &client(), Method::POST, "/keys").await;
    }
    assert_eq!(key_count(&sb), before);
    let resp = send(&sb, &client(), Method::POST, "/keys").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(key_count(&sb), before + 1);
}

#[tokio::test]
async fn drop_closes_the_connection_without_a_response() {
    let sb = Sandbox::start().await.unwrap();
    sb.inject(Fault::Drop, 1);
    let err = get(&sb, "/users/me").await.unwrap_err();
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    assert!(err.is_request(), "no response came back: {err:?}");
    assert_eq!(get(&sb, "/users/me").await.unwrap().status(), 200);
}

#[tokio::test]
async fn truncate_applies_the_request_and_cuts_its_answer() {
    let sb = Sandbox::start().await.unwrap();
    let before = key_count(&sb);
    sb.inject(Fault::Truncate, 1);
    let resp = send(&sb, &client(), Method::POST, "/keys").await.unwrap();
    assert_eq!(resp.status(), 200);
    let declared: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 20, "the whole answer's length: {declared}");
    assert!(resp.bytes().await.is_err(), "the body breaks off");
    assert_eq!(
        key_count(&sb),
        before + 1,
        "Make acted; its answer was lost"
    );
}

#[tokio::test]
async fn bodies_that_are_not_the_json_a_client_expects() {
    let sb = Sandbox::start().await.unwrap();
    sb.inject(Fault::NonJson, 1);
    let resp = get(&sb, "/users/me").await.unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            resp.headers()["content-type"].to_str().unwrap()
        ),
        (200, "application/json")
    );
    assert!(serde_json::from_slice::<Value>(&resp.bytes().await.unwrap()).is_err());

    sb.inject(Fault::WrongContentType, 1);
    let resp = get(&sb, "/users/me").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().starts_with("<!doctype html>"));

    sb.inject(Fault::oversize(), 1);
    let resp = get(&sb, "/users/me").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(DEFAULT_OVERSIZE_BYTES));
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len() as u64, DEFAULT_OVERSIZE_BYTES);
    let value: Value = serde_json::from_slice(&body).expect("valid JSON");
    assert!(value["padding"].is_string());
}

#[tokio::test]
async fn redirect_points_at_the_sink_which_records_followers() {
    let sb = Sandbox::start().await.unwrap();
    sb.inject(Fault::Redirect, 1);
    let resp = get(&sb, "/connections?teamId=1").await.unwrap();
    assert_eq!(resp.status(), 307);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    assert!(
        location.ends_with("/redirected/api/v2/connections?teamId=1"),
        "{location}"
    );
    assert!(!location.starts_with(&sb.origin()), "another loopback port");
    assert_eq!(sb.redirect_hits().hits, 0, "not followed without redirects");

    // A client that follows redirects repeats the request at the sink.
    sb.inject(Fault::Redirect, 1);
    let follows = crate::tests::client_builder().build().unwrap();
    let resp = send(&sb, &follows, Method::GET, "/users/me").await.unwrap();
    assert_eq!(resp.status(), 200);
    let hits = sb.redirect_hits();
    assert_eq!(hits.hits, 1);
    assert_eq!(
        hits.with_authorization, 0,
        "reqwest drops the token across origins"
    );
}

#[tokio::test]
async fn a_held_request_does_not_hold_up_others() {
    let sb = Sandbox::start().await.unwrap();
    sb.inject_on(
        Method::GET,
        "/users/me",
        Fault::Timeout {
            hold: Duration::from_secs(30),
        },
        1,
    );
    let impatient = crate::tests::client_builder()
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let started = Instant::now();
    let held = send(&sb, &impatient, Method::GET, "/users/me");
    let other = async {
        // Let the held request arrive first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let resp = get(&sb, "/connections?teamId=1").await.unwrap();
        (resp.status(), started.elapsed())
    };
    let (held, (status, other_done)) = tokio::join!(held, other);
    assert!(held.unwrap_err().is_timeout(), "the client gave up");
    assert_eq!(status, 200);
    assert!(other_done < Duration::from_millis(1200), "{other_done:?}");
    assert_eq!(
        sb.requests_seen().count(&Method::GET, "/users/me"),
        1,
        "no hidden retry"
    );
}

#[tokio::test]
async fn requests_are_counted_per_method_and_path() {
    let sb = Sandbox::start().await.unwrap();
    sb.inject(Fault::BadGateway, 1);
    get(&sb, "/connections?teamId=1").await.unwrap();
    get(&sb, "/connections?teamId=2").await.unwrap();
    send(&sb, &client(), Method::POST, "/keys").await.unwrap();
    // Without a token, and the consent page, which is not the API.
    reqwest::get(format!("{}/users/me", sb.api_base_url()))
        .await
        .unwrap();
    client()
        .get(format!(
            "{}/credential-requests/{PENDING_REQUEST_ID}/authorize",
            sb.origin()
        ))
        .send()
        .await
        .unwrap();
    let seen = sb.requests_seen();
    assert_eq!(seen.count(&Method::GET, "/connections"), 2);
    assert_eq!(seen.count(&Method::POST, "/api/v2/keys"), 1);
    assert_eq!(seen.count(&Method::GET, "/users/me"), 1);
    assert_eq!(seen.count(&Method::DELETE, "/keys"), 0);
    assert_eq!(seen.total(), 4);
    let listed: Vec<_> = seen.iter().collect();
    assert_eq!(listed[0], ("GET", "/connections", 2));
    sb.reset_requests_seen();
    assert_eq!(sb.requests_seen().total(), 0);
}

#[tokio::test]
async fn probability_one_always_faults_and_zero_never() {
    let plan: FaultPlan = "500=1".parse().unwrap();
    let sb = Sandbox::start_with(SandboxOptions {
        faults: plan,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    for _ in 0..20 {
        assert_eq!(get(&sb, "/users/me").await.unwrap().status(), 500);
    }
    let page = client()
        .get(format!(
            "{}/credential-requests/{PENDING_REQUEST_ID}/authorize",
            sb.origin()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the consent page never faults");
    // A scripted fault wins over the plan.
    sb.inject(Fault::BadGateway, 1);
    assert_eq!(get(&sb, "/users/me").await.unwrap().status(), 502);

    sb.set_fault_plan("500=0,drop=0".parse().unwrap());
    for _ in 0..20 {
        assert_eq!(get(&sb, "/users/me").await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn plan_latency_and_the_delay_fault_slow_requests_down() {
    let plan = FaultPlan::default().latency(Duration::from_millis(120));
    let sb = Sandbox::start_with(SandboxOptions {
        faults: plan,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let started = Instant::now();
    assert_eq!(get(&sb, "/users/me").await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(120));

    sb.set_fault_plan(FaultPlan::default());
    sb.inject(Fault::Delay(Duration::from_millis(150)), 1);
    let started = Instant::now();
    assert_eq!(get(&sb, "/users/me").await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_closed_loopback_port_refuses_connections() {
    let closed = super::closed_loopback_port().unwrap();
    let url = closed.url();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/api/v2"));
    let client = crate::tests::client_builder().build().unwrap();
    let err = client
        .get(format!("{url}/users/me"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // Held: nobody else can listen on it meanwhile.
    let port = url["http://127.0.0.1:".len()..].split('/').next().unwrap();
    assert!(std::net::TcpListener::bind(format!("127.0.0.1:{port}")).is_err());
}
