//! The shared Make client: authentication, encoding, error decoding, timeouts and the retry
//! policy that never repeats a create after an unknown outcome.

use std::time::Duration;

use make_credentials_mcp::make::{ApiKey, ClientSettings};
use make_credentials_mcp::make::{ApiRequest, MakeClient, MakeError, Missing, RetryPolicy};
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings(base: &str, key: &str) -> ClientSettings {
    ClientSettings {
        base_url: Some(Url::parse(base).unwrap()),
        api_key: ApiKey::new(key),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_millis(500),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
    }
}

async fn client_for(mock: &MockServer, key: &str) -> MakeClient {
    MakeClient::new(&settings(&format!("{}/api/v2", mock.uri()), key)).unwrap()
}

async fn respond_in_order(mock: &MockServer, responses: Vec<ResponseTemplate>) {
    let count = responses.len() as u64;
    for (i, response) in responses.into_iter().enumerate() {
        let mock_builder = Mock::given(any()).respond_with(response).up_to_n_times(1);
        // Earlier responses get higher priority, so they answer first.
        mock_builder.with_priority((i + 1) as u8).mount(mock).await;
    }
    assert!(count > 0);
}

#[tokio::test]
async fn uuid_keys_use_token_and_other_keys_bearer_with_a_user_agent() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&mock)
        .await;
    client_for(&mock, "5c4e2a1b-0d3f-4a6b-8c9d-112233445566")
        .await
        .send::<Value>(&ApiRequest::get(&["users", "me"]))
        .await
        .unwrap();
    client_for(&mock, "oauth-access-token")
        .await
        .send::<Value>(&ApiRequest::get(&["users", "me"]))
        .await
        .unwrap();
    let seen = mock.received_requests().await.unwrap();
    assert_eq!(
        seen[0].headers.get("authorization").unwrap(),
        "Token 5c4e2a1b-0d3f-4a6b-8c9d-112233445566"
    );
    assert_eq!(
        seen[1].headers.get("authorization").unwrap(),
        "Bearer oauth-access-token"
    );
    let agent = seen[0].headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("make-credentials-mcp/"), "{agent}");
}

#[tokio::test]
async fn path_segments_are_percent_encoded() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&mock)
        .await;
    let client = client_for(&mock, "k").await;
    client
        .send::<Value>(&ApiRequest::get(&[
            "credential-requests",
            "apps",
            "app#my-app",
            "latest",
        ]))
        .await
        .unwrap();
    client
        .send::<Value>(&ApiRequest::get(&["x", "../../users"]))
        .await
        .unwrap();
    let seen = mock.received_requests().await.unwrap();
    assert_eq!(
        seen[0].url.path(),
        "/api/v2/credential-requests/apps/app%23my-app/latest"
    );
    assert_eq!(seen[1].url.path(), "/api/v2/x/..%2F..%2Fusers");
}

#[tokio::test]
async fn a_429_is_retried_even_for_a_create_because_make_did_not_act() {
    let mock = MockServer::start().await;
    respond_in_order(&mock, vec![
        ResponseTemplate::new(429).insert_header("retry-after", "0").set_body_json(json!({"message": "Requests limit for organization exceeded, please try again later.", "code": "SC429"})),
        ResponseTemplate::new(200).set_body_json(json!({"ok": true})),
    ]).await;
    let out: Value = client_for(&mock, "k")
        .await
        .send(&ApiRequest::post(&["keys"]).json(json!({})))
        .await
        .unwrap();
    assert_eq!(out, json!({"ok": true}));
    assert_eq!(mock.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn persistent_429_gives_up_after_the_retries_with_makes_message() {
    let mock = MockServer::start().await;
    Mock::given(any()).respond_with(ResponseTemplate::new(429).set_body_json(json!({"message": "Requests limit for organization exceeded, please try again later.", "code": "SC429"}))).mount(&mock).await;
    let e = client_for(&mock, "k")
        .await
        .send::<Value>(&ApiRequest::get(&["keys"]))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert!(e.to_string().contains("Requests limit"), "{e}");
    assert_eq!(
        mock.received_requests().await.unwrap().len(),
        3,
        "1 try + 2 retries"
    );
}

#[tokio::test]
async fn a_503_is_retried_for_reads_but_never_for_creates() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>down</html>"))
        .mount(&mock)
        .await;
    let client = client_for(&mock, "k").await;
    let e = client
        .send::<Value>(&ApiRequest::post(&["connections"]).json(json!({})))
        .await
        .unwrap_err();
    let MakeError::Api(api) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (api.status, api.message.as_str(), api.code.clone()),
        (503, "Service Unavailable", None)
    );
    assert_eq!(
        mock.received_requests().await.unwrap().len(),
        1,
        "a create is sent once"
    );
    client
        .send::<Value>(&ApiRequest::get(&["connections"]))
        .await
        .unwrap_err();
    assert_eq!(
        mock.received_requests().await.unwrap().len(),
        4,
        "a read is tried three times"
    );
}

#[tokio::test]
async fn a_timeout_is_typed_and_a_create_is_not_repeated() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&mock)
        .await;
    let e = client_for(&mock, "k")
        .await
        .send::<Value>(
            &ApiRequest::post(&["credential-requests", "actions", "create"]).json(json!({})),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MakeError::Timeout { .. }), "{e:?}");
    assert_eq!(mock.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_host_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client =
        MakeClient::new(&settings(&format!("http://127.0.0.1:{port}/api/v2"), "k")).unwrap();
    let e = client
        .send::<Value>(&ApiRequest::post(&["keys"]))
        .await
        .unwrap_err();
    assert!(matches!(e, MakeError::Connect(_)), "{e:?}");
}

#[tokio::test]
async fn a_2xx_body_that_is_not_json_is_a_decode_error() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .mount(&mock)
        .await;
    let e = client_for(&mock, "k")
        .await
        .send::<Value>(&ApiRequest::get(&["keys"]))
        .await
        .unwrap_err();
    assert!(matches!(e, MakeError::Decode { status: 200, .. }), "{e:?}");
}

#[tokio::test]
async fn missing_key_or_zone_fail_before_any_request() {
    let mut s = settings("http://127.0.0.1:9/api/v2", "k");
    s.api_key = None;
    let e = MakeClient::new(&s)
        .unwrap()
        .send::<Value>(&ApiRequest::get(&["keys"]))
        .await
        .unwrap_err();
    assert!(matches!(e, MakeError::NotConfigured(Missing::ApiKey)));
    let mut s = settings("http://127.0.0.1:9/api/v2", "k");
    s.base_url = None;
    let e = MakeClient::new(&s)
        .unwrap()
        .send::<Value>(&ApiRequest::get(&["keys"]))
        .await
        .unwrap_err();
    assert!(matches!(e, MakeError::NotConfigured(Missing::Zone)));
}

#[tokio::test]
async fn a_retried_delete_that_finds_nothing_counts_as_deleted() {
    let mock = MockServer::start().await;
    respond_in_order(
        &mock,
        vec![
            ResponseTemplate::new(503),
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": "SC404", "message": "Not found"})),
        ],
    )
    .await;
    let client = client_for(&mock, "k").await;
    client
        .send_raw(&ApiRequest::delete(&["keys", "5"]).query("confirmed", true))
        .await
        .unwrap();
    assert_eq!(mock.received_requests().await.unwrap().len(), 2);
    // A first-try 404 is still an error.
    let e = client
        .send_raw(&ApiRequest::delete(&["keys", "6"]))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
}

#[tokio::test]
async fn a_delete_retried_after_make_refused_still_reports_not_found() {
    let mock = MockServer::start().await;
    respond_in_order(
        &mock,
        vec![
            ResponseTemplate::new(429).insert_header("retry-after", "0"),
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": "SC404", "message": "Not found"})),
        ],
    )
    .await;
    let e = client_for(&mock, "k")
        .await
        .send_raw(&ApiRequest::delete(&["keys", "77"]))
        .await
        .unwrap_err();
    assert_eq!(
        e.status(),
        Some(404),
        "429 means Make did nothing, so the 404 is real"
    );
}
