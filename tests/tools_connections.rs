//! connections_* tools: the exact requests they send, their results, and Make's errors.

mod common;

use common::{Harness, Options, assert_request, err, make_error, ok};
use serde_json::json;

fn connection(id: u64) -> serde_json::Value {
    json!({
        "id": id, "name": "My Google", "accountName": "google", "accountLabel": "Google",
        "accountType": "oauth", "teamId": 22, "uid": null, "futureField": {"x": 1},
        "scopes": [{"id": "https://www.googleapis.com/auth/drive", "name": "Drive", "account": "google"}]
    })
}

#[tokio::test]
async fn list_sends_team_columns_types_and_scope_filters() {
    let h = Harness::new().await;
    h.respond(200, json!({"connections": [connection(1)]}))
        .await;
    let result = h
        .call(
            "connections_list",
            json!({"teamId": 123, "type": ["google"], "scopes": {"google": [
                "https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"]}}),
        )
        .await;
    let out = ok(&result);
    assert_eq!(out["connections"][0]["id"], 1);
    assert_eq!(
        out["connections"][0]["futureField"],
        json!({"x": 1}),
        "unknown fields pass through"
    );
    let seen = h.only_request().await;
    assert_request(
        &seen,
        "GET",
        "/connections",
        &[
            ("teamId", "123"),
            ("cols[]", "*"),
            ("type[]", "google"),
            ("google[]", "https://www.googleapis.com/auth/spreadsheets"),
            ("google[]", "https://www.googleapis.com/auth/drive"),
        ],
        None,
    );
    assert!(
        seen.raw_query.contains("type%5B%5D=google"),
        "brackets encoded: {}",
        seen.raw_query
    );
    assert!(
        seen.raw_query.contains("https%3A%2F%2Fwww.googleapis.com"),
        "{}",
        seen.raw_query
    );
}

#[tokio::test]
async fn list_adds_the_type_of_a_scope_filter_and_uses_the_default_team() {
    let h = Harness::with(Options {
        team: Some(7),
        ..Options::default()
    })
    .await;
    h.respond(200, json!({"connections": []})).await;
    let out = ok(&h
        .call(
            "connections_list",
            json!({"scopes": {"slack3": ["chat:write"]}}),
        )
        .await);
    assert_eq!(out, json!({"connections": []}));
    assert_request(
        &h.only_request().await,
        "GET",
        "/connections",
        &[
            ("teamId", "7"),
            ("cols[]", "*"),
            ("type[]", "slack3"),
            ("slack3[]", "chat:write"),
        ],
        None,
    );
}

#[tokio::test]
async fn list_without_team_or_default_is_refused_before_any_request() {
    let h = Harness::new().await;
    let text = err(&h.call("connections_list", json!({})).await);
    assert!(
        text.contains("teamId") && text.contains("MAKE_TEAM"),
        "{text}"
    );
    assert!(h.seen().await.is_empty());
}

#[tokio::test]
async fn get_requests_all_columns() {
    let h = Harness::new().await;
    // Make's `uid` can exceed u64; it must not break decoding.
    let body = connection(5)
        .to_string()
        .replace("\"uid\":null", "\"uid\":225874569526501080000");
    h.respond_raw(
        "GET",
        "/connections/5",
        wiremock::ResponseTemplate::new(200)
            .set_body_raw(format!("{{\"connection\":{body}}}"), "application/json"),
    )
    .await;
    let out = ok(&h.call("connections_get", json!({"connectionId": 5})).await);
    assert_eq!(
        out["connection"]["scopes"][0]["id"],
        "https://www.googleapis.com/auth/drive"
    );
    // An opaque uid beyond u64 is shown as text (one type in the output schema).
    let uid = out["connection"]["uid"].as_str().expect("uid as text");
    assert_eq!(uid.parse::<f64>().unwrap(), 225874569526501080000.0);
    assert_request(
        &h.only_request().await,
        "GET",
        "/connections/5",
        &[("cols[]", "*")],
        None,
    );
}

#[tokio::test]
async fn create_puts_team_in_query_and_swaps_names_and_sends_scopes() {
    let h = Harness::new().await;
    h.respond(
        200,
        json!({"connection": {"id": 9, "name": "Slack test", "accountName": "slack"}}),
    )
    .await;
    let result = h
        .call(
            "connections_create",
            json!({"name": "Slack test", "accountName": "slack", "teamId": 22,
                   "scope": ["chat:write"], "data": {"apiKey": "s3cr3t"}}),
        )
        .await;
    assert_eq!(ok(&result)["connection"]["id"], 9);
    assert_request(
        &h.only_request().await,
        "POST",
        "/connections",
        &[("teamId", "22")],
        Some(
            json!({"accountName": "Slack test", "accountType": "slack", "scopes": ["chat:write"], "apiKey": "s3cr3t"}),
        ),
    );
}

#[tokio::test]
async fn create_rejects_reserved_data_keys_and_blank_names() {
    let h = Harness::new().await;
    let long = "x".repeat(129);
    h.assert_refused(
        "connections_create",
        &[
            (
                json!({"name": "x", "accountName": "slack", "teamId": 1, "data": {"accountType": "y"}}),
                &["data.accountType"],
            ),
            (
                json!({"name": " ", "accountName": "slack", "teamId": 1}),
                &["`name`", "empty"],
            ),
            (
                json!({"name": long, "accountName": "slack", "teamId": 1}),
                &["at most 128"],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn create_shows_makes_400_with_code_and_hint() {
    let h = Harness::new().await;
    h.respond(400, make_error("IM005", "Invalid connection type"))
        .await;
    let text = err(&h
        .call(
            "connections_create",
            json!({"name": "x", "accountName": "nope", "teamId": 1}),
        )
        .await);
    assert!(
        text.contains("HTTP 400")
            && text.contains("[IM005]")
            && text.contains("Invalid connection type"),
        "{text}"
    );
    assert!(text.contains("Hint:"), "{text}");
}

/// Make answers connection 5's editable schema with `parameters`, a rename, and `set-data`
/// with `set_data_status` and `set_data_body`.
async fn update_answers(
    h: &Harness,
    parameters: serde_json::Value,
    set_data_status: u16,
    set_data_body: serde_json::Value,
) {
    h.respond_to_each(&[
        (
            "GET",
            "/connections/5/editable-data-schema",
            200,
            json!({ "editableParameters": parameters }),
        ),
        (
            "PATCH",
            "/connections/5",
            200,
            json!({"connection": {"id": 5, "name": "New"}}),
        ),
        (
            "POST",
            "/connections/5/set-data",
            set_data_status,
            set_data_body,
        ),
    ])
    .await;
}

#[tokio::test]
async fn update_renames_then_sets_data_after_checking_the_editable_schema() {
    let h = Harness::new().await;
    update_answers(&h, json!(["apiKey", "url"]), 200, json!({"changed": true})).await;
    let out = h
        .call_ok(
            "connections_update",
            json!({"connectionId": 5, "name": "New", "data": {"apiKey": "k", "url": "u"}}),
        )
        .await;
    assert_eq!(out["renamed"], true);
    assert_eq!(out["dataUpdated"], true);
    assert_eq!(out["connection"]["name"], "New");
    let seen = h.seen().await;
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_request(
        &seen[0],
        "GET",
        "/connections/5/editable-data-schema",
        &[],
        None,
    );
    assert_request(
        &seen[1],
        "PATCH",
        "/connections/5",
        &[],
        Some(json!({"name": "New"})),
    );
    assert_request(
        &seen[2],
        "POST",
        "/connections/5/set-data",
        &[],
        Some(json!({"apiKey": "k", "url": "u"})),
    );
}

#[tokio::test]
async fn update_with_name_only_sends_only_the_patch() {
    let h = Harness::new().await;
    h.respond(200, json!({"connection": {"id": 5, "name": "New"}}))
        .await;
    let out = h
        .call_ok(
            "connections_update",
            json!({"connectionId": 5, "name": "New"}),
        )
        .await;
    assert_eq!(
        (out["renamed"].clone(), out["dataUpdated"].clone()),
        (json!(true), json!(false))
    );
    h.assert_only_request("PATCH", "/connections/5", &[], Some(json!({"name": "New"})))
        .await;
}

#[tokio::test]
async fn update_refuses_data_that_would_clear_or_cannot_be_stored() {
    let h = Harness::new().await;
    h.respond_to(
        "GET",
        "/connections/5/editable-data-schema",
        200,
        json!({"editableParameters": ["apiKey", "url"]}),
    )
    .await;
    let text = h
        .call_err(
            "connections_update",
            json!({"connectionId": 5, "data": {"apiKey": "k"}}),
        )
        .await;
    assert!(text.contains("url") && text.contains("clear"), "{text}");
    let text = h
        .call_err(
            "connections_update",
            json!({"connectionId": 5, "data": {"apiKey": "k", "url": "u", "bogus": 1}}),
        )
        .await;
    assert!(text.contains("bogus"), "{text}");
    let seen = h.seen().await;
    assert!(
        seen.iter().all(|s| s.method == "GET"),
        "nothing was written: {seen:#?}"
    );
}

#[tokio::test]
async fn update_with_nothing_to_do_is_an_error_not_a_fake_success() {
    let h = Harness::new().await;
    h.assert_refused(
        "connections_update",
        &[(json!({"connectionId": 5}), &["nothing to update"])],
    )
    .await;
}

#[tokio::test]
async fn update_reports_a_rename_that_succeeded_before_set_data_failed() {
    let h = Harness::new().await;
    update_answers(
        &h,
        json!(["apiKey"]),
        400,
        make_error("IM005", "Cannot edit this connection"),
    )
    .await;
    let text = h
        .call_err(
            "connections_update",
            json!({"connectionId": 5, "name": "New", "data": {"apiKey": "k"}}),
        )
        .await;
    assert!(
        text.starts_with("Renamed connection 5 to \"New\", but its data was NOT changed."),
        "{text}"
    );
    assert!(
        text.contains("Cannot edit this connection") && text.contains("IM005"),
        "{text}"
    );
}

/// Make answers `POST /connections/{id}/test` with each `(id, status, body)`.
async fn verify_answers(h: &Harness, answers: &[(u64, u16, serde_json::Value)]) {
    for (id, status, body) in answers {
        h.respond_to(
            "POST",
            &format!("/connections/{id}/test"),
            *status,
            body.clone(),
        )
        .await;
    }
}

async fn verify(h: &Harness, id: u64) -> rmcp::model::CallToolResult {
    h.call("connections_verify", json!({ "connectionId": id }))
        .await
}

#[tokio::test]
async fn verify_maps_true_false_and_connection_level_errors_to_results() {
    let h = Harness::new().await;
    verify_answers(
        &h,
        &[
            (1, 200, json!({"verified": true})),
            (2, 200, json!({"verified": false})),
            (3, 424, make_error("SC424", "Connection action crashed")),
            (
                4,
                403,
                json!({"message": "Access denied: Invalid token header."}),
            ),
        ],
    )
    .await;
    let out = ok(&verify(&h, 1).await);
    assert_eq!(out["verified"], true);
    assert!(out.get("reason").is_none());
    let out = ok(&verify(&h, 2).await);
    assert_eq!(out["verified"], false);
    assert!(out["message"].as_str().unwrap().contains("not valid"));
    let out = ok(&verify(&h, 3).await);
    assert_eq!(out["verified"], false);
    let reason = out["reason"].as_str().unwrap();
    assert!(reason.contains("Connection action crashed"), "{reason}");
    let out = ok(&verify(&h, 4).await);
    let reason = out["reason"].as_str().unwrap();
    assert!(reason.contains("Invalid token header"), "{reason}");
    let seen = h.seen().await;
    assert_request(&seen[0], "POST", "/connections/1/test", &[], None);
}

#[tokio::test]
async fn verify_keeps_key_problems_and_unknown_ids_as_errors() {
    let h = Harness::new().await;
    verify_answers(
        &h,
        &[
            (1, 403, make_error("SC403", "Permission denied")),
            (2, 404, make_error("SC404", "Connection not found")),
            (3, 401, make_error("IM015", "User is not logged in.")),
        ],
    )
    .await;
    for (id, expected) in [(1, "SC403"), (2, "Connection not found"), (3, "IM015")] {
        let text = err(&verify(&h, id).await);
        assert!(text.contains(expected), "{id}: {text}");
    }
}

#[tokio::test]
async fn delete_sends_confirmed_and_reports_not_found() {
    let h = Harness::new().await;
    h.respond_to("DELETE", "/connections/8", 200, json!({"connection": 8}))
        .await;
    h.respond_to(
        "DELETE",
        "/connections/9",
        404,
        make_error("SC404", "Connection not found"),
    )
    .await;
    assert_eq!(
        ok(&h
            .call("connections_delete", json!({"connectionId": 8}))
            .await),
        json!({"connectionId": 8, "deleted": true, "certain": true})
    );
    let text = err(&h
        .call("connections_delete", json!({"connectionId": 9}))
        .await);
    assert!(
        text.contains("HTTP 404")
            && text.contains("SC404")
            && text.contains("Connection not found"),
        "{text}"
    );
    let seen = h.seen().await;
    assert_request(
        &seen[0],
        "DELETE",
        "/connections/8",
        &[("confirmed", "true")],
        None,
    );
}

#[tokio::test]
async fn every_connection_tool_shows_makes_error_body() {
    let h = Harness::new().await;
    h.respond(403, make_error("SC403", "Permission denied"))
        .await;
    let calls = common::valid_calls_of(&[
        "connections_list",
        "connections_get",
        "connections_create",
        "connections_update",
        "connections_delete",
    ]);
    // The 403 hint mentions the zone.
    h.assert_errors_show(
        &calls,
        &["HTTP 403", "[SC403]", "Permission denied", "MAKE_ZONE"],
    )
    .await;
}
