//! keys_* tools: the exact requests they send, their results, and Make's errors.

mod common;

use common::{Harness, Options, assert_request, err, make_error, ok};
use serde_json::json;

fn key(id: u64) -> serde_json::Value {
    json!({"id": id, "name": "Basic", "typeName": "basicauth", "teamId": 22, "packageName": null, "theme": "#007ee5"})
}

#[tokio::test]
async fn list_sends_team_and_columns() {
    let h = Harness::new().await;
    h.respond(200, json!({"keys": [key(16)]})).await;
    let out = ok(&h.call("keys_list", json!({"teamId": 22})).await);
    assert_eq!(out["keys"][0]["typeName"], "basicauth");
    assert!(
        out["keys"][0].get("packageName").is_none(),
        "nulls are omitted"
    );
    assert_request(
        &h.only_request().await,
        "GET",
        "/keys",
        &[("teamId", "22"), ("cols[]", "*")],
        None,
    );
}

#[tokio::test]
async fn list_uses_the_default_team() {
    let h = Harness::with(Options {
        team: Some(3),
        ..Options::default()
    })
    .await;
    h.respond(200, json!({"keys": []})).await;
    ok(&h.call("keys_list", json!({})).await);
    assert_request(
        &h.only_request().await,
        "GET",
        "/keys",
        &[("teamId", "3"), ("cols[]", "*")],
        None,
    );
}

#[tokio::test]
async fn get_requests_all_columns() {
    let h = Harness::new().await;
    h.respond(200, json!({"key": key(16)})).await;
    assert_eq!(
        ok(&h.call("keys_get", json!({"keyId": 16})).await)["key"]["id"],
        16
    );
    assert_request(
        &h.only_request().await,
        "GET",
        "/keys/16",
        &[("cols[]", "*")],
        None,
    );
}

/// `GET /keys/types` with basicauth, as make-api.md §4.3 shows it.
fn key_types() -> serde_json::Value {
    json!({"keysTypes": [{"name": "basicauth", "label": "HTTP Basic Auth", "parameters": [
        {"name": "authUser", "label": "Username", "type": "text"},
        {"name": "authPass", "label": "Password", "type": "password"}], "componentType": "key"}]})
}

#[tokio::test]
async fn create_checks_the_type_then_puts_team_in_the_body() {
    let h = Harness::new().await;
    h.respond_to_each(&[
        ("GET", "/keys/types", 200, key_types()),
        ("POST", "/keys", 200, json!({"key": key(17)})),
    ])
    .await;
    let args = json!({"teamId": 22, "name": "Basic", "typeName": "basicauth", "parameters": {"authUser": "u", "authPass": "p"}});
    assert_eq!(
        h.call_ok("keys_create", args.clone()).await["key"]["id"],
        17
    );
    let seen = h.seen().await;
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_request(&seen[0], "GET", "/keys/types", &[], None);
    assert_request(&seen[1], "POST", "/keys", &[], Some(args));
}

#[tokio::test]
async fn create_requires_parameters() {
    let h = Harness::new().await;
    h.assert_refused(
        "keys_create",
        &[
            (
                json!({"teamId": 22, "name": "B", "typeName": "basicauth", "parameters": {}}),
                &["`parameters`"],
            ),
            (
                json!({"teamId": 22, "name": "B", "typeName": "basicauth"}),
                &["missing field `parameters`"],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn create_shows_makes_validation_error() {
    let h = Harness::new().await;
    h.respond(400, json!({"code": "IM005", "message": "Invalid input file", "suberrors": [{"message": "File is too big"}]})).await;
    let text = h.call_err("keys_create", json!({"teamId": 1, "name": "c", "typeName": "clientcertauth", "parameters": {"file": "x"}})).await;
    assert!(
        text.contains("HTTP 400 [IM005]: Invalid input file; File is too big"),
        "{text}"
    );
}

#[tokio::test]
async fn update_sends_only_the_fields_given() {
    let h = Harness::new().await;
    h.respond_to_each(&[
        ("GET", "/keys/types", 200, key_types()),
        ("GET", "/keys/16", 200, json!({"key": key(16)})),
        ("PATCH", "/keys/16", 200, json!({"key": key(16)})),
    ])
    .await;
    let rename = json!({"name": "Renamed"});
    let parameters = json!({"parameters": {"authUser": "u", "authPass": "p"}});
    for change in [&rename, &parameters] {
        let mut args = change.clone();
        args["keyId"] = json!(16);
        h.call_ok("keys_update", args).await;
    }
    let seen = h.seen().await;
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert_request(&seen[0], "PATCH", "/keys/16", &[], Some(rename));
    // New parameters are checked against the key's type first (its typeName needs the key).
    assert_request(&seen[1], "GET", "/keys/types", &[], None);
    assert_request(&seen[2], "GET", "/keys/16", &[("cols[]", "*")], None);
    assert_request(&seen[3], "PATCH", "/keys/16", &[], Some(parameters));
}

#[tokio::test]
async fn update_with_nothing_is_refused() {
    let h = Harness::new().await;
    assert!(err(&h.call("keys_update", json!({"keyId": 16})).await).contains("nothing to update"));
    assert!(h.seen().await.is_empty());
}

#[tokio::test]
async fn delete_sends_confirmed() {
    let h = Harness::new().await;
    h.respond(200, json!({"key": 16})).await;
    assert_eq!(
        ok(&h.call("keys_delete", json!({"keyId": 16})).await),
        json!({"keyId": 16, "deleted": true, "certain": true})
    );
    assert_request(
        &h.only_request().await,
        "DELETE",
        "/keys/16",
        &[("confirmed", "true")],
        None,
    );
}

#[tokio::test]
async fn delete_accepts_an_empty_2xx_body() {
    let h = Harness::new().await;
    h.respond_raw("DELETE", "/keys/16", wiremock::ResponseTemplate::new(204))
        .await;
    assert_eq!(
        ok(&h.call("keys_delete", json!({"keyId": 16})).await)["deleted"],
        true
    );
}

#[tokio::test]
async fn every_key_tool_shows_makes_error_body() {
    let h = Harness::new().await;
    h.respond(404, make_error("SC404", "Key not found")).await;
    let calls = common::valid_calls_of(&[
        "keys_list",
        "keys_get",
        "keys_create",
        "keys_update",
        "keys_delete",
    ]);
    h.assert_errors_show(
        &calls,
        &["HTTP 404 [SC404]: Key not found", "Hint: no such object"],
    )
    .await;
}
