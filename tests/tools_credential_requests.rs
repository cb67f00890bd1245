//! credential-requests_* tools: the exact requests they send, their results, and Make's errors.

mod common;

use common::{Harness, assert_request, make_error, ok};
use serde_json::{Value, json};

const REQUEST_ID: &str = "a07e16f2ad134bf49cf83a00aa95c0a5";
const CREDENTIAL_ID: &str = "c4b0b8b1d2e34f5a";

fn request() -> Value {
    json!({"id": REQUEST_ID, "name": "Request for credentials", "status": "pending", "teamId": 5,
           "makeProviderId": 12, "createdAt": "2026-11-01T00:00:00.000Z"})
}

fn credential(state: &str) -> Value {
    json!({"id": CREDENTIAL_ID, "requestId": REQUEST_ID, "component": "account", "type": "oauth",
           "name": "google", "state": state, "remoteId": null, "scope": ["https://www.googleapis.com/auth/drive"]})
}

/// A link on the mock's own (loopback) host, like the sandbox's: accepted because the API is there too.
async fn public_uri(h: &Harness) -> String {
    format!(
        "{}/credential-requests/{REQUEST_ID}/authorize",
        h.mock.uri()
    )
}

const EXTEND: &str = "credential-requests_extend-connection";
const DRIVE: &str = "https://www.googleapis.com/auth/drive";
const EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
const SHEETS: &str = "https://www.googleapis.com/auth/spreadsheets";

/// Make answers the read of connection 44 with `status` and `connection`.
async fn connection_has(h: &Harness, status: u16, connection: Value) {
    h.respond_to(
        "GET",
        "/connections/44",
        status,
        json!({ "connection": connection }),
    )
    .await;
}

/// Make answers the `scoped` check of connection 44 with `scoped`.
async fn scoped_check_says(h: &Harness, scoped: bool) {
    h.respond_to(
        "POST",
        "/connections/44/scoped",
        200,
        json!({"connection": {"scoped": scoped}}),
    )
    .await;
}

/// Make answers the extend with a request and its link, which is returned.
async fn extend_answers(h: &Harness) -> String {
    let uri = public_uri(h).await;
    h.respond_to(
        "POST",
        "/credential-requests/actions/extend",
        200,
        json!({"request": request(), "publicUri": uri}),
    )
    .await;
    uri
}

/// Extends connection 44 by `scopes`; the structured result.
async fn extend(h: &Harness, scopes: Value) -> Value {
    h.call_ok(EXTEND, json!({"connectionId": 44, "scopes": scopes}))
        .await
}

/// Asserts that `seen` is the extend of connection 44 by exactly `scopes`.
fn assert_extend_sent(seen: &common::Seen, scopes: Value) {
    assert_request(
        seen,
        "POST",
        "/credential-requests/actions/extend",
        &[],
        Some(json!({"connectionId": 44, "scopes": scopes})),
    );
}

#[tokio::test]
async fn list_sends_team_columns_and_filters_and_returns_paging() {
    let h = Harness::new().await;
    h.respond(200, json!({"requests": [request()], "pg": {"offset": 0, "limit": 100, "sortBy": "id", "sortDir": "asc", "total": 1}})).await;
    let args = json!({"teamId": 5, "userId": 9, "makeProviderId": 12, "status": "pending", "name": "Onboarding"});
    let out = ok(&h.call("credential-requests_list", args).await);
    assert_eq!(out["requests"][0]["id"], REQUEST_ID);
    assert_eq!(out["pg"]["total"], 1);
    assert_eq!(out["pg"]["sortDir"], "asc");
    assert_request(
        &h.only_request().await,
        "GET",
        "/credential-requests/requests",
        &[
            ("teamId", "5"),
            ("cols[]", "*"),
            ("userId", "9"),
            ("makeProviderId", "12"),
            ("status", "pending"),
            ("name", "Onboarding"),
        ],
        None,
    );
}

#[tokio::test]
async fn list_with_team_only() {
    let h = Harness::new().await;
    h.respond(200, json!({"requests": []})).await;
    assert_eq!(
        ok(&h
            .call(
                "credential-requests_list",
                json!({"teamId": 5, "makeProviderId": "abc"})
            )
            .await),
        json!({"requests": []})
    );
    assert_request(
        &h.only_request().await,
        "GET",
        "/credential-requests/requests",
        &[("teamId", "5"), ("cols[]", "*"), ("makeProviderId", "abc")],
        None,
    );
}

#[tokio::test]
async fn get_uses_the_detail_endpoint() {
    let h = Harness::new().await;
    let mut detail = request();
    detail["credentials"] = json!([credential("pending")]);
    detail["user"] = json!({"id": 9, "email": "a@b.c", "name": "A"});
    h.respond(200, json!({"requestDetail": detail})).await;
    let out = ok(&h
        .call("credential-requests_get", json!({"requestId": REQUEST_ID}))
        .await);
    assert_eq!(out["request"]["credentials"][0]["state"], "pending");
    assert_eq!(out["request"]["credentials"][0]["type"], "oauth");
    assert_eq!(
        out["request"]["user"]["email"], "a@b.c",
        "extra fields pass through"
    );
    assert_request(
        &h.only_request().await,
        "GET",
        &format!("/credential-requests/requests/{REQUEST_ID}/detail"),
        &[],
        None,
    );
}

#[tokio::test]
async fn delete_sends_confirmed() {
    let h = Harness::new().await;
    h.respond(200, json!({"deleted": true})).await;
    let out = ok(&h
        .call(
            "credential-requests_delete",
            json!({"requestId": REQUEST_ID}),
        )
        .await);
    assert_eq!(
        out,
        json!({"requestId": REQUEST_ID, "deleted": true, "certain": true})
    );
    assert_request(
        &h.only_request().await,
        "DELETE",
        &format!("/credential-requests/requests/{REQUEST_ID}"),
        &[("confirmed", "true")],
        None,
    );
}

#[tokio::test]
async fn decline_sends_a_reason_only_when_given() {
    let h = Harness::new().await;
    let mut declined = credential("declined");
    declined["declineReason"] = json!("not needed");
    h.respond(200, json!({"credential": declined})).await;
    let decline = "credential-requests_credential-decline";
    let out = h
        .call_ok(
            decline,
            json!({"credentialId": CREDENTIAL_ID, "reason": "not needed"}),
        )
        .await;
    assert_eq!(out["credential"]["state"], "declined");
    h.call_ok(decline, json!({"credentialId": CREDENTIAL_ID}))
        .await;
    h.call_ok(
        decline,
        json!({"credentialId": CREDENTIAL_ID, "reason": "  "}),
    )
    .await;
    let seen = h.seen().await;
    let path = format!("/credential-requests/credentials/{CREDENTIAL_ID}/decline");
    assert_request(
        &seen[0],
        "POST",
        &path,
        &[],
        Some(json!({"reason": "not needed"})),
    );
    assert_request(&seen[1], "POST", &path, &[], None);
    assert_request(&seen[2], "POST", &path, &[], None);
}

#[tokio::test]
async fn credential_delete_posts_delete_remote() {
    let h = Harness::new().await;
    h.respond(200, json!({"credential": credential("pending")}))
        .await;
    let out = h
        .call_ok(
            "credential-requests_credential-delete",
            json!({"credentialId": CREDENTIAL_ID}),
        )
        .await;
    assert_eq!(out["credential"]["state"], "pending");
    h.assert_only_request(
        "POST",
        &format!("/credential-requests/credentials/{CREDENTIAL_ID}/delete-remote"),
        &[],
        None,
    )
    .await;
}

#[tokio::test]
async fn create_sends_the_app_module_body_and_returns_the_link() {
    let h = Harness::new().await;
    let uri = public_uri(&h).await;
    h.respond(200, json!({"request": request(), "publicUri": uri}))
        .await;
    let args = json!({"teamId": 5, "name": "Onboarding", "credentials": [
        {"appName": "http", "appModules": ["ActionSendDataBasicAuth"], "appVersion": 3},
        {"appName": "app#my-app", "appEndpoints": ["*"], "nameOverride": "Mine", "description": "d"}]});
    let out = h.call_ok("credential-requests_create", args.clone()).await;
    assert_eq!(out["publicUri"], uri);
    assert_eq!(out["request"]["id"], REQUEST_ID);
    assert!(out["message"].as_str().unwrap().contains(&uri));
    h.assert_only_request(
        "POST",
        "/credential-requests/actions/create",
        &[],
        Some(args),
    )
    .await;
}

#[tokio::test]
async fn create_checks_modules_or_endpoints_and_the_count() {
    let h = Harness::new().await;
    let many: Vec<Value> = (0..65)
        .map(|_| json!({"appName": "http", "appModules": ["*"]}))
        .collect();
    let credentials = |list: Value| json!({"teamId": 5, "credentials": list});
    h.assert_refused(
        "credential-requests_create",
        &[
            (
                credentials(json!([{"appName": "http"}])),
                &["credentials[0].appModules"],
            ),
            (
                credentials(json!([{"appName": "http", "appModules": []}])),
                &["credentials[0].appModules", "at least one"],
            ),
            (credentials(json!([])), &["1 to 64"]),
            (credentials(json!(many)), &["got 65"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn create_by_credentials_sends_connections_and_keys() {
    let h = Harness::new().await;
    let uri = public_uri(&h).await;
    h.respond(
        200,
        json!({"request": request(), "credentials": [credential("pending")], "publicUri": uri}),
    )
    .await;
    let args = json!({"teamId": 5, "description": "for the CRM sync",
        "connections": [{"type": "google", "scope": [DRIVE],
                         "prefill": {"soft": {"email": "a@b.c"}}, "nameOverride": "Drive"}],
        "keys": [{"type": "apikeyauth", "description": "CRM key"}]});
    let out = h
        .call_ok("credential-requests_create-by-credentials", args.clone())
        .await;
    assert_eq!(out["credentials"][0]["name"], "google");
    assert_eq!(out["publicUri"], uri);
    h.assert_only_request(
        "POST",
        "/credential-requests/actions/create-by-credentials",
        &[],
        Some(args),
    )
    .await;
}

#[tokio::test]
async fn create_by_credentials_needs_something_to_request() {
    let h = Harness::new().await;
    let nested = json!({"type": "apikeyauth", "prefill": {"hard": {"key": {"nested": 1}}}});
    h.assert_refused(
        "credential-requests_create-by-credentials",
        &[
            (json!({"teamId": 5}), &["at least one credential"]),
            (
                json!({"teamId": 5, "connections": [], "keys": []}),
                &["at least one credential"],
            ),
            (
                json!({"teamId": 5, "keys": [nested]}),
                &["keys[0].prefill.hard.key"],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_link_outside_make_is_withheld() {
    let h = Harness::new().await;
    h.respond(
        200,
        json!({"request": request(), "publicUri": "https://evil.example/authorize"}),
    )
    .await;
    let out = h
        .call_ok(
            "credential-requests_create-by-credentials",
            json!({"teamId": 5, "keys": [{"type": "apikeyauth"}]}),
        )
        .await;
    assert!(out.get("publicUri").is_none(), "{out}");
    assert!(
        out["message"].as_str().unwrap().contains("withheld"),
        "{out}"
    );
}

#[tokio::test]
async fn extend_short_circuits_when_the_connection_already_has_the_scopes() {
    let h = Harness::new().await;
    connection_has(
        &h,
        200,
        json!({"id": 44, "scopes": [
        {"id": DRIVE, "account": "google"}, {"id": EMAIL, "account": "google"}]}),
    )
    .await;
    let out = extend(&h, json!([DRIVE])).await;
    assert_eq!(out["alreadySatisfied"], true);
    assert_eq!(out["newScopes"], json!([]));
    assert!(out.get("publicUri").is_none());
    h.assert_only_request("GET", "/connections/44", &[("cols[]", "*")], None)
        .await;
}

#[tokio::test]
async fn extend_requests_only_the_missing_scopes() {
    let h = Harness::new().await;
    connection_has(
        &h,
        200,
        json!({"id": 44, "scopes": [{"id": DRIVE, "account": "google"}]}),
    )
    .await;
    let uri = extend_answers(&h).await;
    let out = extend(&h, json!([DRIVE, SHEETS])).await;
    assert_eq!(out["alreadySatisfied"], false);
    assert_eq!(out["newScopes"], json!([SHEETS]));
    assert_eq!(out["publicUri"], uri);
    let seen = h.seen().await;
    assert_eq!(seen.len(), 2);
    assert_extend_sent(&seen[1], json!([SHEETS]));
}

#[tokio::test]
async fn extend_goes_ahead_when_the_connection_cannot_be_read() {
    let h = Harness::new().await;
    h.respond_to(
        "GET",
        "/connections/44",
        403,
        make_error("SC403", "Permission denied"),
    )
    .await;
    extend_answers(&h).await;
    let out = extend(&h, json!(["a", "a", "b"])).await;
    assert_eq!(out["newScopes"], json!(["a", "b"]), "deduplicated");
    assert_extend_sent(&h.seen().await[1], json!(["a", "b"]));
}

#[tokio::test]
async fn extend_of_an_unknown_connection_stops_at_the_check() {
    let h = Harness::new().await;
    h.respond_to(
        "GET",
        "/connections/44",
        404,
        make_error("SC404", "Connection not found"),
    )
    .await;
    let text = h
        .call_err(EXTEND, json!({"connectionId": 44, "scopes": ["a"]}))
        .await;
    assert!(text.contains("Connection not found"), "{text}");
    assert_eq!(h.seen().await.len(), 1, "no extend call");
}

#[tokio::test]
async fn every_credential_request_tool_shows_makes_error_body() {
    let h = Harness::new().await;
    h.respond(400, make_error("IM005", "Invalid scope")).await;
    let calls = common::valid_calls_of(&[
        "credential-requests_list",
        "credential-requests_get",
        "credential-requests_delete",
        "credential-requests_credential-decline",
        "credential-requests_credential-delete",
        "credential-requests_create",
        "credential-requests_create-by-credentials",
    ]);
    h.assert_errors_show(&calls, &["HTTP 400 [IM005]: Invalid scope"])
        .await;
    // extend: the pre-check fails with 400 too, so the extend itself is tried and fails the same way.
    let extend = [(
        "credential-requests_extend-connection",
        json!({"connectionId": 1, "scopes": ["x"]}),
    )];
    h.assert_errors_show(&extend, &["Invalid scope"]).await;
}

#[tokio::test]
async fn app_modules_are_read_with_an_encoded_app_name_and_version() {
    let h = Harness::new().await;
    h.respond(200, json!({"appModules": [{"id": "CreateMessage", "name": "CreateMessage", "label": "Send a Message",
        "type": "account:slack2,slack3", "scope": ["chat:write"], "hook": false}]})).await;
    let tool = "credential-requests_list-app-modules-with-creds";
    let out = h
        .call_ok(tool, json!({"appName": "app#my-app", "appVersion": 2}))
        .await;
    assert_eq!(out["appModules"][0]["type"], "account:slack2,slack3");
    h.call_ok(tool, json!({"appName": "slack", "appVersion": "latest"}))
        .await;
    h.call_ok(tool, json!({"appName": "slack"})).await;
    let seen = h.seen().await;
    for (seen, path) in seen.iter().zip([
        "/credential-requests/apps/app%23my-app/2/modules-with-credentials",
        "/credential-requests/apps/slack/latest/modules-with-credentials",
        "/credential-requests/apps/slack/latest/modules-with-credentials",
    ]) {
        assert_request(seen, "GET", path, &[], None);
    }
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn app_modules_show_makes_error() {
    let h = Harness::new().await;
    h.respond(404, make_error("SC404", "App not found")).await;
    let text = h
        .call_err(
            "credential-requests_list-app-modules-with-creds",
            json!({"appName": "nope"}),
        )
        .await;
    assert!(text.contains("HTTP 404 [SC404]: App not found"), "{text}");
}

#[tokio::test]
async fn extend_asks_make_when_the_connection_comes_without_its_scopes() {
    let h = Harness::new().await;
    connection_has(&h, 200, json!({"id": 44, "accountName": "google"})).await;
    scoped_check_says(&h, true).await;
    let out = extend(&h, json!(["a", "b"])).await;
    assert_eq!(out["alreadySatisfied"], true);
    let seen = h.seen().await;
    assert_eq!(seen.len(), 2, "no extend call: {seen:#?}");
    assert_request(
        &seen[1],
        "POST",
        "/connections/44/scoped",
        &[],
        Some(json!({"scope": ["a", "b"]})),
    );
}

#[tokio::test]
async fn extend_requests_every_scope_when_the_scoped_check_says_some_are_missing() {
    let h = Harness::new().await;
    connection_has(&h, 200, json!({"id": 44})).await;
    scoped_check_says(&h, false).await;
    extend_answers(&h).await;
    let out = extend(&h, json!(["a", "b"])).await;
    assert_eq!(out["newScopes"], json!(["a", "b"]));
    assert_extend_sent(&h.seen().await[2], json!(["a", "b"]));
}
