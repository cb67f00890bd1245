//! keys_list-types, and the check of key `parameters` against the key's type that
//! keys_create and keys_update make before anything is sent: the exact requests, the
//! results, Make's errors, and a check that is skipped (never failing the call) when the
//! types cannot be read.

mod common;

use common::{Harness, Options, assert_request, err, make_error, ok};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

/// Make's `GET /keys/types` answer: basicauth as make-api.md §4.3 shows it (no `required`),
/// apikeyauth with required parameters and defaults.
fn key_types() -> Value {
    json!({"keysTypes": [
        {"name": "basicauth", "label": "HTTP Basic Auth", "componentType": "key", "theme": "#007ee5",
         "parameters": [
            {"name": "authUser", "label": "Username", "type": "text"},
            {"name": "authPass", "label": "Password", "type": "password"}]},
        {"name": "apikeyauth", "label": "API Key Auth", "componentType": "key", "parameters": [
            {"name": "key", "label": "Key", "type": "password", "required": true},
            {"name": "placement", "label": "API Key placement", "type": "select", "required": true,
             "default": "header", "options": [{"label": "Header", "value": "header"}, {"label": "Query", "value": "query"}]},
            {"name": "name", "label": "API Key parameter name", "type": "text", "required": true, "default": "X-API-Key"}]}
    ]})
}

fn key(id: u64, type_name: &str) -> Value {
    json!({"id": id, "name": "K", "typeName": type_name, "teamId": 22})
}

fn create(type_name: &str, parameters: Value) -> Value {
    json!({"teamId": 22, "name": "K", "typeName": type_name, "parameters": parameters})
}

#[tokio::test]
async fn list_types_sends_get_keys_types_and_returns_every_parameter() {
    let h = Harness::new().await;
    h.respond_to("GET", "/keys/types", 200, key_types()).await;
    let out = ok(&h.call("keys_list-types", json!({})).await);
    assert_request(&h.only_request().await, "GET", "/keys/types", &[], None);
    let basic = &out["keysTypes"][0];
    assert_eq!(basic["name"], "basicauth");
    assert_eq!(basic["label"], "HTTP Basic Auth");
    assert_eq!(basic["componentType"], "key");
    assert_eq!(basic["theme"], "#007ee5", "unknown fields pass through");
    assert_eq!(
        basic["parameters"],
        json!([{"name": "authUser", "label": "Username", "type": "text"},
               {"name": "authPass", "label": "Password", "type": "password"}])
    );
    let placement = &out["keysTypes"][1]["parameters"][1];
    assert_eq!(placement["required"], true);
    assert_eq!(placement["default"], "header");
    assert_eq!(placement["options"][1]["value"], "query");
}

#[tokio::test]
async fn list_types_is_read_once_per_process() {
    let h = Harness::new().await;
    h.respond_to("GET", "/keys/types", 200, key_types()).await;
    h.respond_to("POST", "/keys", 200, json!({"key": key(17, "basicauth")}))
        .await;
    ok(&h.call("keys_list-types", json!({})).await);
    let again = ok(&h.call("keys_list-types", json!({})).await);
    assert_eq!(again["keysTypes"][0]["name"], "basicauth");
    let params = json!({"authUser": "u", "authPass": "p"});
    ok(&h.call("keys_create", create("basicauth", params)).await);
    let seen = h.seen().await;
    let types_reads = seen.iter().filter(|s| s.path == "/api/v2/keys/types");
    assert_eq!(types_reads.count(), 1, "{seen:#?}");
    assert_eq!(
        seen.len(),
        2,
        "one read of the types, one create: {seen:#?}"
    );
}

#[tokio::test]
async fn list_types_shows_makes_error_and_asks_again_next_time() {
    let h = Harness::new().await;
    h.respond_to(
        "GET",
        "/keys/types",
        403,
        make_error("SC403", "Permission denied"),
    )
    .await;
    let text = err(&h.call("keys_list-types", json!({})).await);
    assert!(
        text.contains("HTTP 403 [SC403]: Permission denied"),
        "{text}"
    );
    assert!(
        text.contains("keys:read"),
        "the hint names the scope: {text}"
    );
    err(&h.call("keys_list-types", json!({})).await);
    assert_eq!(h.seen().await.len(), 2, "a failure is not cached");
}

#[tokio::test]
async fn list_types_takes_no_arguments() {
    let h = Harness::new().await;
    let text = err(&h.call("keys_list-types", json!({"teamId": 1})).await);
    assert!(text.contains("unknown field `teamId`"), "{text}");
    assert!(h.seen().await.is_empty());
}

#[tokio::test]
async fn create_refuses_user_and_pass_for_basicauth_naming_auth_user_and_auth_pass() {
    let h = Harness::new().await;
    h.respond_to("GET", "/keys/types", 200, key_types()).await;
    let args = create("basicauth", json!({"user": "alice", "pass": "hunter2"}));
    let text = err(&h.call("keys_create", args).await);
    assert_eq!(
        text,
        "Invalid argument `parameters`: has names key type 'basicauth' does not take: pass (did you mean authPass?), user (did you mean authUser?). Key type 'basicauth' takes: authUser (Username), authPass (Password) (see keys_list-types). Nothing was sent to Make; correct the arguments and call again."
    );
    assert!(!text.contains("hunter2"));
    assert_request(&h.only_request().await, "GET", "/keys/types", &[], None);
}

#[tokio::test]
async fn create_refuses_missing_required_parameters_but_not_defaulted_ones() {
    let h = Harness::new().await;
    h.respond_to_each(&[
        ("GET", "/keys/types", 200, key_types()),
        ("POST", "/keys", 200, json!({"key": key(18, "apikeyauth")})),
    ])
    .await;
    let text = h
        .call_err(
            "keys_create",
            create("apikeyauth", json!({"placement": "query"})),
        )
        .await;
    assert!(
        text.starts_with("Invalid argument `parameters`: misses required key. Key type 'apikeyauth' takes: key (Key, required), placement (API Key placement, default \"header\"), name (API Key parameter name, default \"X-API-Key\")"),
        "{text}"
    );
    let args = create("apikeyauth", json!({"key": "k"}));
    h.call_ok("keys_create", args.clone()).await;
    let seen = h.seen().await;
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_request(&seen[1], "POST", "/keys", &[], Some(args));
}

#[tokio::test]
async fn create_is_sent_unchecked_when_the_key_types_cannot_be_read() {
    // Retries are on, yet the optional read is tried once and not again for a while.
    let h = Harness::with(Options {
        retries: 2,
        ..Options::default()
    })
    .await;
    h.respond_to_each(&[
        (
            "GET",
            "/keys/types",
            503,
            make_error("SC503", "Service unavailable"),
        ),
        ("POST", "/keys", 200, json!({"key": key(19, "basicauth")})),
    ])
    .await;
    let args = create("basicauth", json!({"user": "u", "pass": "p"}));
    assert_eq!(
        h.call_ok("keys_create", args.clone()).await["key"]["id"],
        19
    );
    h.call_ok("keys_create", args.clone()).await;
    let seen = h.seen().await;
    let paths: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET", "/api/v2/keys/types"),
            ("POST", "/api/v2/keys"),
            ("POST", "/api/v2/keys")
        ]
    );
    assert_request(&seen[1], "POST", "/keys", &[], Some(args));
}

#[tokio::test]
async fn create_is_sent_unchecked_when_the_answer_is_not_a_type_list() {
    let h = Harness::new().await;
    h.respond_raw(
        "GET",
        "/keys/types",
        ResponseTemplate::new(200).set_body_json(json!({"unexpected": true})),
    )
    .await;
    h.respond_to("POST", "/keys", 200, json!({"key": key(20, "basicauth")}))
        .await;
    let args = create("basicauth", json!({"user": "u", "pass": "p"}));
    h.call_ok("keys_create", args).await;
    assert_eq!(h.seen().await.len(), 2);
}

#[tokio::test]
async fn create_of_a_type_make_does_not_list_is_left_to_make() {
    let h = Harness::new().await;
    h.respond_to_each(&[
        ("GET", "/keys/types", 200, key_types()),
        (
            "POST",
            "/keys",
            400,
            json!({"code": "IM005", "message": "Invalid input file"}),
        ),
    ])
    .await;
    let args = create("clientcertauth", json!({"file": "x"}));
    let text = h.call_err("keys_create", args).await;
    assert!(
        text.contains("HTTP 400 [IM005]: Invalid input file"),
        "{text}"
    );
    assert_eq!(h.seen().await.len(), 2);
}

/// Make answers the key types with `types`, the read of key 16 with `key`, and its update.
async fn update_answers(h: &Harness, types: (u16, Value), key_read: (u16, Value)) {
    h.respond_to_each(&[
        ("GET", "/keys/types", types.0, types.1),
        ("GET", "/keys/16", key_read.0, key_read.1),
        (
            "PATCH",
            "/keys/16",
            200,
            json!({"key": key(16, "basicauth")}),
        ),
    ])
    .await;
}

#[tokio::test]
async fn update_refuses_names_the_keys_type_does_not_take() {
    let h = Harness::new().await;
    update_answers(
        &h,
        (200, key_types()),
        (200, json!({"key": key(16, "basicauth")})),
    )
    .await;
    let args = json!({"keyId": 16, "parameters": {"user": "u", "authPass": "p"}});
    let text = h.call_err("keys_update", args).await;
    assert!(
        text.starts_with("Invalid argument `parameters`: has names key type 'basicauth' does not take: user (did you mean authUser?). Key type 'basicauth' takes: authUser (Username), authPass (Password)"),
        "{text}"
    );
    let seen = h.seen().await;
    assert_eq!(seen.len(), 2, "no PATCH: {seen:#?}");
    assert_request(&seen[0], "GET", "/keys/types", &[], None);
    assert_request(&seen[1], "GET", "/keys/16", &[("cols[]", "*")], None);
}

#[tokio::test]
async fn update_is_sent_unchecked_when_the_key_types_cannot_be_read() {
    let h = Harness::new().await;
    update_answers(
        &h,
        (500, make_error("SC500", "Oops")),
        (200, json!({"key": key(16, "basicauth")})),
    )
    .await;
    let args = json!({"keyId": 16, "parameters": {"authUser": "u", "authPass": "p"}});
    h.call_ok("keys_update", args).await;
    let seen = h.seen().await;
    assert_eq!(
        seen.len(),
        2,
        "the key is not read for a check that cannot run: {seen:#?}"
    );
    assert_request(
        &seen[1],
        "PATCH",
        "/keys/16",
        &[],
        Some(json!({"parameters": {"authUser": "u", "authPass": "p"}})),
    );
}

#[tokio::test]
async fn update_is_sent_unchecked_when_the_key_cannot_be_read() {
    let h = Harness::new().await;
    update_answers(&h, (200, key_types()), (500, make_error("SC500", "Oops"))).await;
    let args = json!({"keyId": 16, "parameters": {"user": "u"}});
    h.call_ok("keys_update", args).await;
    let seen = h.seen().await;
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_eq!(seen[2].method, "PATCH");
}
