//! A retried DELETE that finds nothing (502, then 404) is reported as probably deleted,
//! not as a certain deletion: the id may never have existed.

mod common;

use common::{flaky_delete, ok};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

fn calls() -> [(&'static str, Value, &'static str); 3] {
    [
        (
            "connections_delete",
            json!({"connectionId": 8}),
            "connection 8",
        ),
        ("keys_delete", json!({"keyId": 16}), "key 16"),
        (
            "credential-requests_delete",
            json!({"requestId": "a07e16f2ad134bf49cf83a00aa95c0a5"}),
            "credential request a07e16f2ad134bf49cf83a00aa95c0a5",
        ),
    ]
}

#[tokio::test]
async fn a_502_then_404_is_probably_deleted_not_certainly() {
    for (tool, args, what) in calls() {
        let h = flaky_delete(ResponseTemplate::new(502)).await;
        let out = ok(&h.call(tool, args).await);
        assert_eq!(out["deleted"], true, "{tool}: {out}");
        assert_eq!(out["certain"], false, "{tool}: {out}");
        let message = out["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("Probably deleted: the first attempt's outcome is unknown"),
            "{tool}: {message}"
        );
        assert!(message.contains("HTTP 502"), "{tool}: {message}");
        assert!(
            message.contains(&format!("found no {what}")),
            "{tool}: {message}"
        );
        assert_eq!(h.seen().await.len(), 2, "{tool}: one retry");
    }
}

#[tokio::test]
async fn a_deletion_make_confirms_is_certain() {
    for (tool, args, _) in calls() {
        let h = flaky_delete(ResponseTemplate::new(200).set_body_json(json!({}))).await;
        let out = ok(&h.call(tool, args).await);
        assert_eq!(
            (&out["deleted"], &out["certain"]),
            (&json!(true), &json!(true))
        );
        assert!(out.get("message").is_none(), "{tool}: {out}");
    }
}
