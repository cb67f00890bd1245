//! credential-requests_* tools: the exact requests they send, their results, and Make's errors.

mod common;

use common::{Harness, assert_request, err, make_error, ok};
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
    let out = ok(&h
        .call(
            "credential-requests_credential-decline",
            json!({"credentialId": CREDENTIAL_ID, "reason": "not needed"}),
        )
        .await);
    assert_eq!(out["credential"]["state"], "declined");
    ok(&h
        .call(
            "credential-requests_credential-decline",
            json!({"credentialId": CREDENTIAL_ID}),
        )
        .await);
    ok(&h
        .call(
            "credential-requests_credential-decline",
            json!({"credentialId": CREDENTIAL_ID, "reason": "  "}),
        )
        .await);
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
    let out = ok(&h
        .call(
            "credential-requests_credential-delete",
            json!({"credentialId": CREDENTIAL_ID}),
        )
        .await);
    assert_eq!(out["credential"]["state"], "pending");
    assert_request(
        &h.only_request().await,
        "POST",
        &format!("/credential-requests/credentials/{CREDENTIAL_ID}/delete-remote"),
        &[],
        None,
    );
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
    let out = ok(&h.call("credential-requests_create", args).await);
    assert_eq!(out["publicUri"], uri);
    assert_eq!(out["request"]["id"], REQUEST_ID);
    assert!(out["message"].as_str().unwrap().contains(&uri));
    assert_request(
        &h.only_request().await,
        "POST",
        "/credential-requests/actions/create",
        &[],
        Some(json!({"teamId": 5, "name": "Onboarding", "credentials": [
            {"appName": "http", "appModules": ["ActionSendDataBasicAuth"], "appVersion": 3},
            {"appName": "app#my-app", "appEndpoints": ["*"], "nameOverride": "Mine", "description": "d"}]})),
    );
}

#[tokio::test]
async fn create_checks_modules_or_endpoints_and_the_count() {
    let h = Harness::new().await;
    let text = err(&h
        .call(
            "credential-requests_create",
            json!({"teamId": 5, "credentials": [{"appName": "http"}]}),
        )
        .await);
    assert!(text.contains("credentials[0].appModules"), "{text}");
    let text = err(&h
        .call(
            "credential-requests_create",
            json!({"teamId": 5, "credentials": [{"appName": "http", "appModules": []}]}),
        )
        .await);
    assert!(
        text.contains("credentials[0].appModules") && text.contains("at least one"),
        "{text}"
    );
    let text = err(&h
        .call(
            "credential-requests_create",
            json!({"teamId": 5, "credentials": []}),
        )
        .await);
    assert!(text.contains("1 to 64"), "{text}");
    let many: Vec<Value> = (0..65)
        .map(|_| json!({"appName": "http", "appModules": ["*"]}))
        .collect();
    let text = err(&h
        .call(
            "credential-requests_create",
            json!({"teamId": 5, "credentials": many}),
        )
        .await);
    assert!(text.contains("got 65"), "{text}");
    assert!(h.seen().await.is_empty());
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
        "connections": [{"type": "google", "scope": ["https://www.googleapis.com/auth/drive"],
                         "prefill": {"soft": {"email": "a@b.c"}}, "nameOverride": "Drive"}],
        "keys": [{"type": "apikeyauth", "description": "CRM key"}]});
    let out = ok(&h
        .call("credential-requests_create-by-credentials", args)
        .await);
    assert_eq!(out["credentials"][0]["name"], "google");
    assert_eq!(out["publicUri"], uri);
    assert_request(
        &h.only_request().await,
        "POST",
        "/credential-requests/actions/create-by-credentials",
        &[],
        Some(json!({"teamId": 5, "description": "for the CRM sync",
            "connections": [{"type": "google", "scope": ["https://www.googleapis.com/auth/drive"],
                             "prefill": {"soft": {"email": "a@b.c"}}, "nameOverride": "Drive"}],
            "keys": [{"type": "apikeyauth", "description": "CRM key"}]})),
    );
}

#[tokio::test]
async fn create_by_credentials_needs_something_to_request() {
    let h = Harness::new().await;
    let text = err(&h
        .call(
            "credential-requests_create-by-credentials",
            json!({"teamId": 5}),
        )
        .await);
    assert!(text.contains("at least one credential"), "{text}");
    let text = err(&h
        .call(
            "credential-requests_create-by-credentials",
            json!({"teamId": 5, "connections": [], "keys": []}),
        )
        .await);
    assert!(text.contains("at least one credential"), "{text}");
    let text = err(&h.call("credential-requests_create-by-credentials",
        json!({"teamId": 5, "keys": [{"type": "apikeyauth", "prefill": {"hard": {"key": {"nested": 1}}}}]})).await);
    assert!(text.contains("keys[0].prefill.hard.key"), "{text}");
    assert!(h.seen().await.is_empty());
}

#[tokio::test]
async fn a_link_outside_make_is_withheld() {
    let h = Harness::new().await;
    h.respond(
        200,
        json!({"request": request(), "publicUri": "https://evil.example/authorize"}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_create-by-credentials",
            json!({"teamId": 5, "keys": [{"type": "apikeyauth"}]}),
        )
        .await);
    assert!(out.get("publicUri").is_none(), "{out}");
    assert!(
        out["message"].as_str().unwrap().contains("withheld"),
        "{out}"
    );
}

#[tokio::test]
async fn extend_short_circuits_when_the_connection_already_has_the_scopes() {
    let h = Harness::new().await;
    h.respond_to(
        "GET",
        "/connections/44",
        200,
        json!({"connection": {"id": 44, "scopes": [
        {"id": "https://www.googleapis.com/auth/drive", "account": "google"},
        {"id": "https://www.googleapis.com/auth/userinfo.email", "account": "google"}]}}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_extend-connection",
            json!({"connectionId": 44, "scopes": ["https://www.googleapis.com/auth/drive"]}),
        )
        .await);
    assert_eq!(out["alreadySatisfied"], true);
    assert_eq!(out["newScopes"], json!([]));
    assert!(out.get("publicUri").is_none());
    assert_request(
        &h.only_request().await,
        "GET",
        "/connections/44",
        &[("cols[]", "*")],
        None,
    );
}

#[tokio::test]
async fn extend_requests_only_the_missing_scopes() {
    let h = Harness::new().await;
    let uri = public_uri(&h).await;
    h.respond_to(
        "GET",
        "/connections/44",
        200,
        json!({"connection": {"id": 44, "scopes": [
        {"id": "https://www.googleapis.com/auth/drive", "account": "google"}]}}),
    )
    .await;
    h.respond_to(
        "POST",
        "/credential-requests/actions/extend",
        200,
        json!({"request": request(), "publicUri": uri}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_extend-connection",
            json!({"connectionId": 44, "scopes": [
        "https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/spreadsheets"]}),
        )
        .await);
    assert_eq!(out["alreadySatisfied"], false);
    assert_eq!(
        out["newScopes"],
        json!(["https://www.googleapis.com/auth/spreadsheets"])
    );
    assert_eq!(out["publicUri"], uri);
    let seen = h.seen().await;
    assert_eq!(seen.len(), 2);
    assert_request(
        &seen[1],
        "POST",
        "/credential-requests/actions/extend",
        &[],
        Some(
            json!({"connectionId": 44, "scopes": ["https://www.googleapis.com/auth/spreadsheets"]}),
        ),
    );
}

#[tokio::test]
async fn extend_goes_ahead_when_the_connection_cannot_be_read() {
    let h = Harness::new().await;
    let uri = public_uri(&h).await;
    h.respond_to(
        "GET",
        "/connections/44",
        403,
        make_error("SC403", "Permission denied"),
    )
    .await;
    h.respond_to(
        "POST",
        "/credential-requests/actions/extend",
        200,
        json!({"request": request(), "publicUri": uri}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_extend-connection",
            json!({"connectionId": 44, "scopes": ["a", "a", "b"]}),
        )
        .await);
    assert_eq!(out["newScopes"], json!(["a", "b"]), "deduplicated");
    let seen = h.seen().await;
    assert_request(
        &seen[1],
        "POST",
        "/credential-requests/actions/extend",
        &[],
        Some(json!({"connectionId": 44, "scopes": ["a", "b"]})),
    );
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
    let text = err(&h
        .call(
            "credential-requests_extend-connection",
            json!({"connectionId": 44, "scopes": ["a"]}),
        )
        .await);
    assert!(text.contains("Connection not found"), "{text}");
    assert_eq!(h.seen().await.len(), 1, "no extend call");
}

#[tokio::test]
async fn every_credential_request_tool_shows_makes_error_body() {
    let h = Harness::new().await;
    h.respond(400, make_error("IM005", "Invalid scope")).await;
    let calls = [
        ("credential-requests_list", json!({"teamId": 1})),
        ("credential-requests_get", json!({"requestId": REQUEST_ID})),
        (
            "credential-requests_delete",
            json!({"requestId": REQUEST_ID}),
        ),
        (
            "credential-requests_credential-decline",
            json!({"credentialId": CREDENTIAL_ID}),
        ),
        (
            "credential-requests_credential-delete",
            json!({"credentialId": CREDENTIAL_ID}),
        ),
        (
            "credential-requests_create",
            json!({"teamId": 1, "credentials": [{"appName": "http", "appModules": ["*"]}]}),
        ),
        (
            "credential-requests_create-by-credentials",
            json!({"teamId": 1, "keys": [{"type": "apikeyauth"}]}),
        ),
    ];
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
    let out = ok(&h
        .call(
            "credential-requests_list-app-modules-with-creds",
            json!({"appName": "app#my-app", "appVersion": 2}),
        )
        .await);
    assert_eq!(out["appModules"][0]["type"], "account:slack2,slack3");
    ok(&h
        .call(
            "credential-requests_list-app-modules-with-creds",
            json!({"appName": "slack", "appVersion": "latest"}),
        )
        .await);
    ok(&h
        .call(
            "credential-requests_list-app-modules-with-creds",
            json!({"appName": "slack"}),
        )
        .await);
    let seen = h.seen().await;
    assert_request(
        &seen[0],
        "GET",
        "/credential-requests/apps/app%23my-app/2/modules-with-credentials",
        &[],
        None,
    );
    assert_request(
        &seen[1],
        "GET",
        "/credential-requests/apps/slack/latest/modules-with-credentials",
        &[],
        None,
    );
    assert_request(
        &seen[2],
        "GET",
        "/credential-requests/apps/slack/latest/modules-with-credentials",
        &[],
        None,
    );
}

#[tokio::test]
async fn app_modules_show_makes_error() {
    let h = Harness::new().await;
    h.respond(404, make_error("SC404", "App not found")).await;
    let text = err(&h
        .call(
            "credential-requests_list-app-modules-with-creds",
            json!({"appName": "nope"}),
        )
        .await);
    assert!(text.contains("HTTP 404 [SC404]: App not found"), "{text}");
}

#[tokio::test]
async fn extend_asks_make_when_the_connection_comes_without_its_scopes() {
    let h = Harness::new().await;
    h.respond_to(
        "GET",
        "/connections/44",
        200,
        json!({"connection": {"id": 44, "accountName": "google"}}),
    )
    .await;
    h.respond_to(
        "POST",
        "/connections/44/scoped",
        200,
        json!({"connection": {"scoped": true}}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_extend-connection",
            json!({"connectionId": 44, "scopes": ["a", "b"]}),
        )
        .await);
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
    let uri = public_uri(&h).await;
    h.respond_to(
        "GET",
        "/connections/44",
        200,
        json!({"connection": {"id": 44}}),
    )
    .await;
    h.respond_to(
        "POST",
        "/connections/44/scoped",
        200,
        json!({"connection": {"scoped": false}}),
    )
    .await;
    h.respond_to(
        "POST",
        "/credential-requests/actions/extend",
        200,
        json!({"request": request(), "publicUri": uri}),
    )
    .await;
    let out = ok(&h
        .call(
            "credential-requests_extend-connection",
            json!({"connectionId": 44, "scopes": ["a", "b"]}),
        )
        .await);
    assert_eq!(out["newScopes"], json!(["a", "b"]));
    let seen = h.seen().await;
    assert_request(
        &seen[2],
        "POST",
        "/credential-requests/actions/extend",
        &[],
        Some(json!({"connectionId": 44, "scopes": ["a", "b"]})),
    );
}
