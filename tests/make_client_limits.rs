//! What the Make client refuses to do for a misbehaving upstream: follow redirects, read
//! unbounded bodies, echo request URLs in errors, or claim a retried delete as certain.

mod common;

use std::time::Duration;

use common::{Harness, err};

use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::make::{
    ApiRequest, Deletion, MAX_RESPONSE_BYTES, MakeClient, MakeError, Replay, RetryPolicy,
};
use make_credentials_mcp::tools::ToolError;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(base: &str) -> MakeClient {
    MakeClient::new(&ClientSettings {
        base_url: Some(Url::parse(base).unwrap()),
        api_key: ApiKey::new("k"),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(20),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
    })
    .unwrap()
}

async fn mock_client(mock: &MockServer) -> MakeClient {
    client(&format!("{}/api/v2", mock.uri()))
}

/// A loopback server that answers every connection with `head` and then `body`, closing
/// the connection to end the body (no `Content-Length`). An empty `head` closes at once.
async fn raw_server(head: &'static str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                if !head.is_empty() {
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/api/v2")
}

/// Valid JSON of `size` bytes, so only the cap can refuse it.
fn json_of_size(size: usize) -> Vec<u8> {
    let mut body = br#"{"keys":[],"pad":""#.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_its_target_receives_nothing() {
    let target = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"key": {"id": 1}})))
        .mount(&target)
        .await;
    let make = MockServer::start().await;
    for status in [307, 308, 302] {
        make.reset().await;
        let location = format!(
            "{}/api/v2/keys?signature=s3cr3t-sig#frag",
            target.uri().replace("127.0.0.1", "user:pw@127.0.0.1")
        );
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).insert_header("location", location))
            .mount(&make)
            .await;
        let client = mock_client(&make).await;
        let create = ApiRequest::post(&["keys"]).json(json!({"parameters": {"key": "SECRET"}}));
        for request in [create, ApiRequest::get(&["keys"])] {
            let e = client.send::<Value>(&request).await.unwrap_err();
            let MakeError::Redirect { status: got, .. } = &e else {
                panic!("{e:?}")
            };
            assert_eq!(*got, status);
            let text = ToolError::from(e).to_string();
            assert!(
                text.contains(&format!("HTTP {status} redirect to http://127.0.0.1:")),
                "{text}"
            );
            assert!(
                text.contains("/api/v2/keys, which was not followed"),
                "{text}"
            );
            assert!(
                text.contains("Hint: Make's API does not redirect"),
                "{text}"
            );
            for hidden in ["s3cr3t-sig", "frag", "user", "pw@"] {
                assert!(!text.contains(hidden), "{hidden} leaked: {text}");
            }
        }
        assert_eq!(
            make.received_requests().await.unwrap().len(),
            2,
            "no retries"
        );
    }
    assert!(target.received_requests().await.unwrap().is_empty());
}

/// Reads the keys from the API at `base` and asserts that it fails as too large (HTTP 200).
async fn get_keys_is_too_large(base: &str) -> MakeError {
    let e = client(base)
        .send::<Value>(&ApiRequest::get(&["keys"]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, MakeError::TooLarge { status: 200, .. }),
        "{e:?}"
    );
    e
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_by_its_content_length() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(json_of_size(17 << 20), "application/json"),
        )
        .mount(&mock)
        .await;
    let e = get_keys_is_too_large(&format!("{}/api/v2", mock.uri())).await;
    assert_eq!(
        mock.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );
    let text = ToolError::from(e).to_string();
    assert!(
        text.starts_with("Make's response was larger than 16 MiB (HTTP 200)"),
        "{text}"
    );
    assert!(text.contains("Hint: ask for less"), "{text}");
    // The declared length alone is enough: nothing of the body is waited for.
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 17825792\r\n\r\n";
    let base = raw_server(head, b"{".to_vec()).await;
    get_keys_is_too_large(&base).await;
}

#[tokio::test]
async fn a_body_over_the_cap_without_content_length_is_cut_while_reading() {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
    let base = raw_server(head, json_of_size(17 << 20)).await;
    let e = client(&base)
        .send::<Value>(&ApiRequest::post(&["keys"]).json(json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            MakeError::TooLarge {
                status: 200,
                replay: Replay::Unsafe
            }
        ),
        "{e:?}"
    );
    let text = ToolError::from(e).to_string();
    assert!(text.contains("may or may not have taken effect"), "{text}");
    // Just under the cap still reads.
    let base = raw_server(head, json_of_size(MAX_RESPONSE_BYTES)).await;
    let out: Value = client(&base)
        .send(&ApiRequest::get(&["keys"]))
        .await
        .unwrap();
    assert_eq!(out["keys"], json!([]));
}

#[tokio::test]
async fn transport_errors_are_short_and_never_show_the_url() {
    // Accepts, reads the request and hangs up without answering.
    let base = raw_server("", Vec::new()).await;
    let mut request = ApiRequest::get(&["connections"]).query("teamId", 1);
    for i in 0..2000 {
        request = request.query("type[]", format!("type-{i}"));
    }
    let e = client(&base).send::<Value>(&request).await.unwrap_err();
    assert!(
        matches!(
            e,
            MakeError::Transport {
                replay: Replay::Safe,
                ..
            }
        ),
        "{e:?}"
    );
    let text = ToolError::from(e).to_string();
    assert!(text.len() < 800, "{} chars: {text}", text.len());
    for hidden in ["type", "teamId", "http://", "/api/v2"] {
        assert!(!text.contains(hidden), "{hidden} in: {text}");
    }
    assert!(text.contains("safe to repeat"), "{text}");
    assert!(
        !text.contains("create"),
        "a read's hint must not talk about creates: {text}"
    );

    let e = client(&base)
        .send::<Value>(&ApiRequest::post(&["keys"]).json(json!({})))
        .await
        .unwrap_err();
    let text = ToolError::from(e).to_string();
    assert!(text.contains("may or may not have taken effect"), "{text}");
}

#[tokio::test]
async fn a_delete_retried_after_a_502_that_finds_nothing_is_only_probable() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"code": "SC404"})))
        .with_priority(2)
        .mount(&mock)
        .await;
    let client = mock_client(&mock).await;
    let deletion = client
        .delete(&ApiRequest::delete(&["keys", "5"]))
        .await
        .unwrap();
    let Deletion::Probable { earlier } = deletion else {
        panic!("{deletion:?}")
    };
    assert!(earlier.contains("HTTP 502"), "{earlier}");

    mock.reset().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(204))
        .mount(&mock)
        .await;
    let deletion = client
        .delete(&ApiRequest::delete(&["keys", "5"]))
        .await
        .unwrap();
    assert_eq!(deletion, Deletion::Confirmed);
}

#[tokio::test]
async fn tools_report_a_redirect_and_an_oversized_answer_as_errors() {
    let elsewhere = MockServer::start().await;
    let h = Harness::new().await;
    let location = format!("{}/api/v2/keys?sig=abc", elsewhere.uri());
    h.respond_raw(
        "POST",
        "/keys",
        ResponseTemplate::new(307).insert_header("location", location),
    )
    .await;
    h.respond_raw(
        "GET",
        "/keys",
        ResponseTemplate::new(200).set_body_raw(json_of_size(17 << 20), "application/json"),
    )
    .await;
    let create = json!({"teamId": 1, "name": "B", "typeName": "basicauth",
        "parameters": {"authUser": "u", "authPass": "SECRET-PASS"}});
    let text = err(&h.call("keys_create", create).await);
    assert!(
        text.contains("HTTP 307 redirect") && text.contains("not followed"),
        "{text}"
    );
    assert!(
        !text.contains("sig=abc") && !text.contains("SECRET-PASS"),
        "{text}"
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    let text = err(&h.call("keys_list", json!({"teamId": 1})).await);
    assert!(
        text.starts_with("Make's response was larger than 16 MiB"),
        "{text}"
    );
}
