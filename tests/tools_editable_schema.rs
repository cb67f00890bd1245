//! connections_get-editable-data-schema: the exact request, the result, and Make's errors.

mod common;

use common::{Harness, assert_request, err, make_error, ok};
use serde_json::json;

#[tokio::test]
async fn sends_get_editable_data_schema_and_returns_the_names() {
    let h = Harness::new().await;
    h.respond_to(
        "GET",
        "/connections/7/editable-data-schema",
        200,
        json!({"editableParameters": ["url", "apiKey"]}),
    )
    .await;
    let out = ok(&h
        .call(
            "connections_get-editable-data-schema",
            json!({"connectionId": 7}),
        )
        .await);
    assert_eq!(
        out,
        json!({"connectionId": 7, "editableParameters": ["url", "apiKey"]})
    );
    assert_request(
        &h.only_request().await,
        "GET",
        "/connections/7/editable-data-schema",
        &[],
        None,
    );
}

#[tokio::test]
async fn nothing_editable_says_what_to_do_instead() {
    let h = Harness::new().await;
    h.respond(200, json!({"editableParameters": []})).await;
    let out = ok(&h
        .call(
            "connections_get-editable-data-schema",
            json!({"connectionId": 8}),
        )
        .await);
    assert_eq!(out["editableParameters"], json!([]));
    let message = out["message"].as_str().unwrap();
    assert!(
        message.contains("no editable data parameters")
            && message.contains("credential-requests_create-by-credentials"),
        "{message}"
    );
}

#[tokio::test]
async fn shows_makes_error_with_a_hint() {
    let h = Harness::new().await;
    h.respond(404, make_error("SC404", "Connection not found"))
        .await;
    let text = err(&h
        .call(
            "connections_get-editable-data-schema",
            json!({"connectionId": 9}),
        )
        .await);
    assert!(
        text.contains("HTTP 404 [SC404]: Connection not found"),
        "{text}"
    );
    assert!(text.contains("Hint: no such object"), "{text}");
}

#[tokio::test]
async fn an_unexpected_answer_is_an_error_not_an_empty_list() {
    let h = Harness::new().await;
    h.respond(200, json!({"connection": {"id": 7}})).await;
    let text = err(&h
        .call(
            "connections_get-editable-data-schema",
            json!({"connectionId": 7}),
        )
        .await);
    assert!(text.contains("unexpected shape"), "{text}");
}

#[tokio::test]
async fn a_bad_id_sends_nothing() {
    let h = Harness::new().await;
    for bad in [
        json!({}),
        json!({"connectionId": "7"}),
        json!({"connectionId": 0}),
    ] {
        let text = err(&h.call("connections_get-editable-data-schema", bad).await);
        assert!(text.contains("connectionId"), "{text}");
    }
    assert!(h.seen().await.is_empty());
}
