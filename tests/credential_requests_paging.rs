//! credential-requests_list paging: `offset` and `limit` sent as `pg[offset]` and
//! `pg[limit]`, and a result that says when more rows match than one page holds.

mod common;

use common::{Harness, assert_request, err, ok};
use serde_json::{Value, json};

const PATH: &str = "/credential-requests/requests";

fn rows(from: u64, count: u64) -> Vec<Value> {
    (from..from + count)
        .map(|i| json!({"id": format!("r{i:031}"), "status": "pending"}))
        .collect()
}

#[tokio::test]
async fn offset_and_limit_are_sent_as_pg() {
    let h = Harness::new().await;
    h.respond(
        200,
        json!({"requests": rows(20, 10), "pg": {"offset": 20, "limit": 10, "total": 30}}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_list",
            json!({"teamId": 5, "status": "pending", "offset": 20, "limit": 10}),
        )
        .await);
    assert_request(
        &h.only_request().await,
        "GET",
        PATH,
        &[
            ("teamId", "5"),
            ("cols[]", "*"),
            ("status", "pending"),
            ("pg[offset]", "20"),
            ("pg[limit]", "10"),
        ],
        None,
    );
    assert_eq!(out["requests"].as_array().unwrap().len(), 10);
    assert!(
        out.get("more").is_none() && out.get("nextOffset").is_none(),
        "the last page claims no more: {out}"
    );
    assert!(out.get("message").is_none());
}

#[tokio::test]
async fn without_paging_inputs_no_pg_is_sent() {
    let h = Harness::new().await;
    h.respond(
        200,
        json!({"requests": [], "pg": {"offset": 0, "limit": 100, "total": 0}}),
    )
    .await;
    ok(&h
        .call("credential-requests_list", json!({"teamId": 5}))
        .await);
    assert_request(
        &h.only_request().await,
        "GET",
        PATH,
        &[("teamId", "5"), ("cols[]", "*")],
        None,
    );
}

#[tokio::test]
async fn more_rows_than_one_page_say_where_the_next_page_starts() {
    let h = Harness::new().await;
    h.respond(
        200,
        json!({"requests": rows(0, 100), "pg": {"offset": 0, "limit": 100, "sortBy": "id", "sortDir": "asc", "total": 250}}),
    )
    .await;
    let out = ok(&h
        .call("credential-requests_list", json!({"teamId": 5}))
        .await);
    assert_eq!(out["more"], true);
    assert_eq!(out["nextOffset"], 100);
    assert_eq!(out["pg"]["total"], 250);
    assert_eq!(
        out["message"],
        "Showing rows 1 to 100 of 250: 150 more match. Call credential-requests_list again with the same filters and offset 100 for the next page (or filter by status or name)."
    );
}

#[tokio::test]
async fn a_middle_page_points_past_itself() {
    let h = Harness::new().await;
    h.respond(
        200,
        json!({"requests": rows(100, 100), "pg": {"offset": 100, "limit": 100, "total": 250}}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_list",
            json!({"teamId": 5, "offset": 100}),
        )
        .await);
    assert_eq!(out["nextOffset"], 200);
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .starts_with("Showing rows 101 to 200 of 250: 50 more match."),
        "{out}"
    );
}

#[tokio::test]
async fn paging_inputs_out_of_range_send_nothing() {
    let h = Harness::new().await;
    for (args, field) in [
        (json!({"teamId": 5, "limit": 0}), "limit"),
        (json!({"teamId": 5, "limit": 10_001}), "limit"),
        (json!({"teamId": 5, "offset": -1}), "offset"),
        (json!({"teamId": 5, "offset": 1.5}), "offset"),
        (
            json!({"teamId": 5, "offset": 9_007_199_254_740_992u64}),
            "offset",
        ),
        (json!({"teamId": 5, "limit": "10"}), "limit"),
    ] {
        let text = err(&h.call("credential-requests_list", args.clone()).await);
        assert!(text.contains(&format!("`{field}`")), "{args}: {text}");
    }
    assert!(h.seen().await.is_empty());
}
