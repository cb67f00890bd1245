//! Fields Make might return that look like secrets (a key's `parameters`, a connection's
//! `data`, tokens, passwords) never reach a tool result, whichever model carries them.

mod common;

use common::{Harness, ok, text};
use serde_json::{Value, json};

/// Marker in every secret value: it must never appear in a result.
const SECRET: &str = "TOPSECRET";

/// Secret-looking fields to add to any object Make returns.
fn secrets() -> Value {
    json!({
        "data": {"apiKey": SECRET},
        "parameters": {"authPass": SECRET},
        "password": SECRET,
        "clientSecret": SECRET,
        "accessToken": SECRET,
        "refresh_token": SECRET,
        "privateKey": SECRET,
        "apiKey": SECRET,
        "Authorization": SECRET,
        "nested": {"token": SECRET, "list": [{"secret": SECRET, "kept": "visible"}]},
        "harmless": "visible",
    })
}

/// `object` with the secret fields added.
fn leaky(object: Value) -> Value {
    let mut object = object;
    let Value::Object(fields) = secrets() else {
        unreachable!()
    };
    object.as_object_mut().unwrap().extend(fields);
    object
}

async fn assert_no_secrets(h: &Harness, tool: &str, args: Value) -> Value {
    let result = h.call(tool, args).await;
    let out = ok(&result);
    assert!(
        !text(&result).contains(SECRET),
        "{tool} leaked a secret: {out}"
    );
    assert!(
        !out.to_string().contains(SECRET),
        "{tool} leaked a secret: {out}"
    );
    assert!(
        out.to_string().contains("visible"),
        "{tool}: harmless unknown fields still pass: {out}"
    );
    out
}

#[tokio::test]
async fn connections_and_their_scopes_drop_secret_fields() {
    let h = Harness::new().await;
    let scope = leaky(json!({"id": "https://www.googleapis.com/auth/drive"}));
    let connection = leaky(json!({"id": 7, "name": "G", "accountName": "google",
        "metadata": {"type": "email", "value": "a@b.c", "token": SECRET}, "scopes": [scope]}));
    h.respond_to(
        "GET",
        "/connections",
        200,
        json!({"connections": [connection.clone()]}),
    )
    .await;
    h.respond_to(
        "GET",
        "/connections/7",
        200,
        json!({"connection": connection}),
    )
    .await;
    let out = assert_no_secrets(&h, "connections_list", json!({"teamId": 1})).await;
    assert_eq!(out["connections"][0]["metadata"]["value"], "a@b.c");
    let out = assert_no_secrets(&h, "connections_get", json!({"connectionId": 7})).await;
    assert_eq!(out["connection"]["scopes"][0]["harmless"], "visible");
}

#[tokio::test]
async fn keys_drop_secret_fields() {
    let h = Harness::new().await;
    let key = leaky(json!({"id": 16, "name": "Basic", "typeName": "basicauth"}));
    h.respond_to("GET", "/keys", 200, json!({"keys": [key.clone()]}))
        .await;
    h.respond_to("GET", "/keys/16", 200, json!({"key": key.clone()}))
        .await;
    h.respond_to("POST", "/keys", 200, json!({"key": key}))
        .await;
    assert_no_secrets(&h, "keys_list", json!({"teamId": 1})).await;
    assert_no_secrets(&h, "keys_get", json!({"keyId": 16})).await;
    let create = json!({"teamId": 1, "name": "B", "typeName": "basicauth",
        "parameters": {"authUser": "u", "authPass": "p"}});
    assert_no_secrets(&h, "keys_create", create).await;
}

#[tokio::test]
async fn credential_requests_credentials_and_paging_drop_secret_fields() {
    let h = Harness::new().await;
    let id = "a07e16f2ad134bf49cf83a00aa95c0a5";
    let credential = leaky(json!({"id": "c1", "requestId": id, "component": "account",
        "name": "google", "state": "pending", "prefill": {"hard": {"apiKey": SECRET}}}));
    let request = leaky(json!({"id": id, "status": "pending",
        "makeProviderId": {"id": 1, "secret": SECRET},
        "user": {"id": 1, "email": "a@b.c", "sessionToken": SECRET}}));
    let mut detail = request.clone();
    detail["credentials"] = json!([credential.clone()]);
    let pg = leaky(json!({"total": 1, "offset": 0, "limit": 100}));
    h.respond_to(
        "GET",
        "/credential-requests/requests",
        200,
        json!({"requests": [request], "pg": pg}),
    )
    .await;
    let detail_path = format!("/credential-requests/requests/{id}/detail");
    h.respond_to("GET", &detail_path, 200, json!({"requestDetail": detail}))
        .await;
    h.respond_to(
        "POST",
        "/credential-requests/credentials/c1/decline",
        200,
        json!({"credential": credential}),
    )
    .await;
    assert_no_secrets(&h, "credential-requests_list", json!({"teamId": 1})).await;
    let out = assert_no_secrets(&h, "credential-requests_get", json!({"requestId": id})).await;
    assert_eq!(out["request"]["user"]["email"], "a@b.c");
    assert_no_secrets(
        &h,
        "credential-requests_credential-decline",
        json!({"credentialId": "c1"}),
    )
    .await;
}

#[tokio::test]
async fn app_modules_drop_secret_fields() {
    let h = Harness::new().await;
    let module = leaky(json!({"id": "ActionSend", "type": "account:slack3", "hook": false}));
    h.respond(200, json!({"appModules": [module]})).await;
    assert_no_secrets(
        &h,
        "credential-requests_list-app-modules-with-creds",
        json!({"appName": "slack"}),
    )
    .await;
}

#[tokio::test]
async fn key_types_drop_secret_fields() {
    let h = Harness::new().await;
    let parameter = leaky(
        json!({"name": "authUser", "label": "Username", "type": "select",
        "options": [{"label": "a", "value": "a", "token": SECRET}],
        "default": {"password": SECRET, "kept": "visible"}}),
    );
    let mut key_type = leaky(json!({"name": "basicauth", "componentType": "key"}));
    // A key type's `parameters` is its list of parameter descriptions: that passes through
    // (in place of the secret-looking `parameters` that `leaky` added), scrubbed inside.
    key_type["parameters"] = json!([parameter]);
    h.respond_to("GET", "/keys/types", 200, json!({"keysTypes": [key_type]}))
        .await;
    let out = assert_no_secrets(&h, "keys_list-types", json!({})).await;
    let kept = &out["keysTypes"][0]["parameters"][0];
    assert_eq!(kept["name"], "authUser");
    assert_eq!(kept["harmless"], "visible");
    assert_eq!(kept["options"][0]["value"], "a");
    // A default that is not a scalar is shown as its JSON text, scrubbed all the same.
    assert_eq!(kept["default"], r#"{"kept":"visible"}"#);
}
