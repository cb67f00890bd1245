//! Drives the Make API sandbox over loopback with reqwest, the way the product's client will.
#![cfg(feature = "sandbox")]

use std::time::Duration;

use make_credentials_mcp::make::credential_requests::{NewTypedRequest, RequestedKey};
use make_credentials_mcp::make::{ApiKey, ClientSettings, parse_api_url};
use make_credentials_mcp::make::{MakeClient, RetryPolicy};
use make_sandbox::seed::{
    AES_KEY_ID, AIRTABLE_CONNECTION_ID, APIKEY_KEY_ID, BASICAUTH_KEY_ID, CONNECTIONS,
    CRASHING_CONNECTION_ID, FOREIGN_CONNECTION_ID, FOREIGN_CREDENTIAL_ID, FOREIGN_KEY_ID,
    FOREIGN_REQUEST_ID as FOREIGN_REQUEST, GOOGLE_CONNECTION_ID, HTTP_CONNECTION_ID,
    PENDING_CREDENTIAL_ID as PENDING_CREDENTIAL, PENDING_REQUEST_ID as PENDING_REQUEST,
    REVOKED_CONNECTION_ID, SLACK_CONNECTION_ID,
};
use make_sandbox::{Fault, Sandbox};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const DRIVE_RO: &str = "https://www.googleapis.com/auth/drive.readonly";
const EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
const SHEETS: &str = "https://www.googleapis.com/auth/spreadsheets";
const GMAIL_SEND: &str = "https://www.googleapis.com/auth/gmail.send";

struct Ctx {
    sb: Sandbox,
    http: reqwest::Client,
    /// Does not follow redirects, to see the consent page's 303s.
    raw: reqwest::Client,
}

impl Ctx {
    async fn new() -> Self {
        let sb = Sandbox::start().await.expect("sandbox starts");
        let raw = make_credentials_mcp::make::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Ctx {
            sb,
            http: make_credentials_mcp::make::client_builder()
                .build()
                .unwrap(),
            raw,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sb.api_base_url()))
            .header("Authorization", format!("Token {}", self.sb.api_key()))
            .query(query);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call(Method::GET, path, query, None).await
    }

    async fn post(&self, path: &str, query: &[(&str, &str)], body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, query, Some(body)).await
    }

    /// A plain HTML form post to the consent page; returns status and `Location`.
    async fn form_post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Option<String>) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let resp = self
            .raw
            .post(format!("{}{path}", self.sb.origin()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (resp.status(), location)
    }

    async fn detail(&self, rid: &str) -> Value {
        let (s, body) = self
            .get(&format!("/credential-requests/requests/{rid}/detail"), &[])
            .await;
        assert_eq!(s, 200, "{body}");
        body["requestDetail"].clone()
    }

    async fn count(&self, query: &[(&str, &str)]) -> usize {
        let (_, b) = self.get("/credential-requests/requests", query).await;
        b["requests"].as_array().unwrap().len()
    }

    async fn page(&self, url: &str) -> (StatusCode, String) {
        let resp = self.raw.get(url).send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }
}

fn assert_error(resp: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(resp.0.as_u16(), status, "body: {}", resp.1);
    assert_eq!(resp.1["code"], code, "body: {}", resp.1);
    assert!(resp.1["message"].is_string());
}

fn ids(rows: &Value) -> Vec<u64> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

/// `/connections/{id}`.
fn connection(id: u64) -> String {
    format!("/connections/{id}")
}

/// `/keys/{id}`.
fn key(id: u64) -> String {
    format!("/keys/{id}")
}

/// Posts each body to `path`; every one is refused with `status` and `code`.
async fn assert_refused(
    ctx: &Ctx,
    path: &str,
    query: &[(&str, &str)],
    bodies: Vec<Value>,
    status: u16,
    code: &str,
) {
    for body in bodies {
        assert_error(&ctx.post(path, query, body).await, status, code);
    }
}

impl Ctx {
    async fn delete(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, query, None).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, &[], Some(body)).await
    }

    /// A bodiless POST (no content type either).
    async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::POST, path, &[], None).await
    }
}

/// A request made for a test: its id, its credentials' ids in order, and its `publicUri`.
struct Created {
    id: String,
    credentials: Vec<String>,
    public_uri: String,
}

impl Created {
    fn from(body: &Value) -> Self {
        Created {
            id: body["request"]["id"].as_str().unwrap().to_owned(),
            credentials: body["credentials"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .map(|c| c["id"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
            public_uri: body["publicUri"].as_str().unwrap().to_owned(),
        }
    }

    /// The consent page's form path of one credential: `.../credentials/{cid}/{action}`.
    fn form(&self, cid: &str, action: &str) -> String {
        format!(
            "/credential-requests/{}/credentials/{cid}/{action}",
            self.id
        )
    }
}

/// `POST /credential-requests/actions/create-by-credentials`, which must succeed.
async fn create_by_credentials(ctx: &Ctx, body: Value) -> (Created, Value) {
    let (s, created) = ctx
        .post(
            "/credential-requests/actions/create-by-credentials",
            &[],
            body,
        )
        .await;
    assert_eq!(s, 200, "{created}");
    (Created::from(&created), created)
}

/// `POST /credential-requests/actions/extend`, which must succeed.
async fn extend(ctx: &Ctx, connection_id: u64, scopes: &[&str]) -> Created {
    let (s, ext) = ctx
        .post(
            "/credential-requests/actions/extend",
            &[],
            json!({"connectionId": connection_id, "scopes": scopes}),
        )
        .await;
    assert_eq!(s, 200, "{ext}");
    Created::from(&ext)
}

#[tokio::test]
async fn start_binds_loopback_and_exposes_urls() {
    let ctx = Ctx::new().await;
    let origin = ctx.sb.origin();
    assert!(origin.starts_with("http://127.0.0.1:"));
    assert_eq!(ctx.sb.api_base_url(), format!("{origin}/api/v2"));
    let key = ctx.sb.api_key();
    assert_eq!(key.len(), 36);
    assert_eq!(&key[14..15], "4");
}

// --- Authentication -----------------------------------------------------------------------

#[tokio::test]
async fn auth_is_required_and_token_never_echoed() {
    let ctx = Ctx::new().await;
    let url = format!("{}/users/me", ctx.sb.api_base_url());
    let none = ctx.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.json::<Value>().await.unwrap(),
        json!({"code": "IM015", "message": "User is not logged in."})
    );
    let wrong = ctx
        .http
        .get(&url)
        .header(
            "Authorization",
            "Token 00000000-0000-4000-8000-000000000000",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains(ctx.sb.api_key()));
    let bearer = ctx
        .http
        .get(&url)
        .header("Authorization", format!("Bearer {}", ctx.sb.api_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
}

#[tokio::test]
async fn unknown_paths_are_401_without_a_token_and_404_with_one() {
    let ctx = Ctx::new().await;
    // Paths are case-sensitive.
    let anon = ctx
        .http
        .get(format!("{}/Connections", ctx.sb.api_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let (s, body) = ctx.get("/Connections", &[("teamId", "1")]).await;
    assert_eq!((s.as_u16(), body["code"].as_str()), (404, Some("SC404")));
}

#[tokio::test]
async fn the_token_belongs_to_the_sandbox_user_and_holds_make_scopes() {
    let ctx = Ctx::new().await;
    let (s, me) = ctx.get("/users/me", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(me["authUser"]["id"], 1);
    let (_, auth) = ctx.get("/users/me/current-authorization", &[]).await;
    assert_eq!(auth["authorization"]["authUsed"], "token");
    let scopes = auth["authorization"]["scope"].as_array().unwrap();
    assert!(
        scopes.contains(&json!("connections:write"))
            && scopes.contains(&json!("credential-requests:read"))
    );
}

// --- Connections --------------------------------------------------------------------------

#[tokio::test]
async fn connections_list_is_sorted_by_name_and_annotated() {
    let ctx = Ctx::new().await;
    let (s, body) = ctx
        .get("/connections", &[("teamId", "1"), ("cols[]", "*")])
        .await;
    assert_eq!(s, 200);
    let rows = body["connections"].as_array().unwrap();
    let in_team_1 = CONNECTIONS.iter().filter(|c| c.team_id == 1).count();
    assert_eq!(ids(&body["connections"]).len(), in_team_1);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "sorted by name");
    let google = rows
        .iter()
        .find(|r| r["id"] == GOOGLE_CONNECTION_ID)
        .unwrap();
    assert_eq!(google["accountName"], "google");
    assert_eq!(google["accountType"], "oauth");
    assert_eq!(google["accountLabel"], "Google");
    assert_eq!(
        (google["teamId"].as_u64(), google["organizationId"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(google["scopesCnt"], 2);
    assert!(body.get("pg").is_none());
}

#[tokio::test]
async fn connections_list_filters_by_type_and_marks_scoped_rows() {
    let ctx = Ctx::new().await;
    let (_, typed) = ctx
        .get(
            "/connections",
            &[("teamId", "1"), ("type[]", "google"), ("type[]", "http")],
        )
        .await;
    assert_eq!(ids(&typed["connections"]).len(), 2);
    let ctx = &ctx;
    let scoped = |scopes: &'static [&'static str]| {
        let mut query = vec![("teamId", "1"), ("type[]", "google")];
        query.extend(scopes.iter().map(|s| ("google[]", *s)));
        async move { ctx.get("/connections", &query).await.1 }
    };
    assert_eq!(
        scoped(&[DRIVE_RO, EMAIL]).await["connections"][0]["scoped"],
        true
    );
    assert_eq!(
        scoped(&[GMAIL_SEND]).await["connections"][0]["scoped"],
        false,
        "annotates, keeps the row"
    );
}

#[tokio::test]
async fn connections_list_projects_columns_and_needs_an_own_team() {
    let ctx = Ctx::new().await;
    let (_, projected) = ctx
        .get(
            "/connections",
            &[("teamId", "2"), ("cols[]", "id"), ("cols[]", "name")],
        )
        .await;
    for row in projected["connections"].as_array().unwrap() {
        assert_eq!(row.as_object().unwrap().len(), 2);
    }
    for team in ["3", "77"] {
        assert_error(
            &ctx.get("/connections", &[("teamId", team)]).await,
            403,
            "SC403",
        );
    }
    assert_error(&ctx.get("/connections", &[]).await, 400, "IM005");
}

#[tokio::test]
async fn connection_get_shape_and_errors() {
    let ctx = Ctx::new().await;
    let (s, body) = ctx
        .get(&connection(GOOGLE_CONNECTION_ID), &[("cols[]", "*")])
        .await;
    assert_eq!(s, 200);
    let c = &body["connection"];
    let seeded = CONNECTIONS
        .iter()
        .find(|c| c.id == GOOGLE_CONNECTION_ID)
        .unwrap();
    assert_eq!(c["name"], seeded.name);
    assert_eq!(c["metadata"]["type"], "email");
    assert!(c["uid"].is_string());
    let scopes = c["scopes"].as_array().unwrap();
    assert!(scopes.contains(&json!({"id": DRIVE_RO, "name": "See and download all your Google Drive files.", "account": "google"})));
    assert_error(&ctx.get("/connections/424242", &[]).await, 404, "SC404");
    assert_error(&ctx.get("/connections/abc", &[]).await, 404, "SC404");
    assert_error(
        &ctx.get(&connection(FOREIGN_CONNECTION_ID), &[]).await,
        403,
        "SC403",
    );
    let (_, schema) = ctx
        .get(
            &format!(
                "{}/editable-data-schema",
                connection(AIRTABLE_CONNECTION_ID)
            ),
            &[],
        )
        .await;
    assert_eq!(schema, json!({"editableParameters": ["apiKey"]}));
}

#[tokio::test]
async fn connection_create_persists_in_its_team() {
    let ctx = Ctx::new().await;
    let team = [("teamId", "2")];
    let (s, body) = ctx
        .post(
            "/connections",
            &team,
            json!({"accountName": "New Airtable", "accountType": "airtable2", "apiKey": "pat.1"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let c = &body["connection"];
    let id = c["id"].as_u64().unwrap();
    assert_eq!(
        (
            c["name"].as_str(),
            c["accountName"].as_str(),
            c["accountType"].as_str()
        ),
        (Some("New Airtable"), Some("airtable2"), Some("basic"))
    );
    assert_eq!(c["teamId"], 2);
    let (_, list) = ctx.get("/connections", &team).await;
    assert!(ids(&list["connections"]).contains(&id));
    let (s, _) = ctx.get(&connection(id), &[]).await;
    assert_eq!(s, 200);

    let (_, g) = ctx
        .post(
            "/connections",
            &[("teamId", "1")],
            json!({"accountName": "G", "accountType": "google", "scopes": [SHEETS]}),
        )
        .await;
    assert_eq!(g["connection"]["scopes"][0]["id"], SHEETS);
}

#[tokio::test]
async fn connection_create_refuses_malformed_bodies() {
    let ctx = Ctx::new().await;
    let malformed = vec![
        json!({"name": "x", "accountName": "airtable2", "apiKey": "k"}),
        json!({"accountName": "x", "accountType": "google", "scope": [SHEETS]}),
        json!({"accountName": "x", "apiKey": "k"}),
        json!({"accountType": "airtable2", "apiKey": "k"}),
        json!({"accountName": 5, "accountType": "airtable2", "apiKey": "k"}),
        json!({"accountName": "a".repeat(129), "accountType": "airtable2", "apiKey": "k"}),
        json!({"accountName": "x", "accountType": "airtable2"}),
        json!({"accountName": "x", "accountType": "airtable2", "apiKey": "k", "bogus": 1}),
        json!(["not", "an", "object"]),
    ];
    assert_refused(
        &ctx,
        "/connections",
        &[("teamId", "2")],
        malformed,
        400,
        "IM005",
    )
    .await;
}

#[tokio::test]
async fn connection_create_refuses_unknown_types_scopes_and_foreign_teams() {
    let ctx = Ctx::new().await;
    let bad = |b: Value| ctx.post("/connections", &[("teamId", "2")], b);
    let invalid_type = bad(json!({"accountName": "x", "accountType": "nope"})).await;
    assert_error(&invalid_type, 400, "SC400");
    assert_eq!(invalid_type.1["message"], "Invalid connection type");
    let invalid_scope = bad(json!({"accountName": "x", "accountType": "google", "scopes": ["https://example.com/nope"]})).await;
    assert_error(&invalid_scope, 400, "SC400");
    assert_eq!(invalid_scope.1["message"], "Invalid scope");
    assert_error(
        &ctx.post(
            "/connections",
            &[("teamId", "3")],
            json!({"accountName": "x", "accountType": "airtable2", "apiKey": "k"}),
        )
        .await,
        403,
        "SC403",
    );
}

#[tokio::test]
async fn connection_rename() {
    let ctx = Ctx::new().await;
    let path = connection(HTTP_CONNECTION_ID);
    let (s, r) = ctx.patch(&path, json!({"name": "Renamed"})).await;
    assert_eq!(s, 200);
    assert_eq!(r["connection"]["name"], "Renamed");
    assert_eq!(ctx.get(&path, &[]).await.1["connection"]["name"], "Renamed");
    assert_error(&ctx.patch(&path, json!({"name": ""})).await, 400, "IM005");
}

#[tokio::test]
async fn connection_set_data_takes_only_the_types_fields() {
    let ctx = Ctx::new().await;
    let set_data = |id: u64| format!("{}/set-data", connection(id));
    assert_eq!(
        ctx.post(
            &set_data(HTTP_CONNECTION_ID),
            &[],
            json!({"authUser": "u", "authPass": "p"})
        )
        .await
        .1,
        json!({"changed": true})
    );
    assert_error(
        &ctx.post(&set_data(HTTP_CONNECTION_ID), &[], json!({"apiKey": "x"}))
            .await,
        400,
        "IM005",
    );
    assert_error(
        &ctx.post(&set_data(SLACK_CONNECTION_ID), &[], json!({}))
            .await,
        400,
        "IM005",
    );
}

#[tokio::test]
async fn connection_test_verifies_fails_or_crashes_as_seeded() {
    let ctx = Ctx::new().await;
    let test = |id: u64| format!("{}/test", connection(id));
    assert_eq!(
        ctx.post(&test(GOOGLE_CONNECTION_ID), &[], json!(null))
            .await
            .1,
        json!({"verified": true})
    );
    assert_eq!(
        ctx.post_empty(&test(REVOKED_CONNECTION_ID)).await.1,
        json!({"verified": false})
    );
    let crashed = ctx.post_empty(&test(CRASHING_CONNECTION_ID)).await;
    assert_error(&crashed, 424, "SC424");
    assert_eq!(crashed.1["message"], "Connection action crashed");
}

#[tokio::test]
async fn connection_scoped_answers_whether_it_holds_the_scopes() {
    let ctx = Ctx::new().await;
    let scoped = format!("{}/scoped", connection(GOOGLE_CONNECTION_ID));
    assert_eq!(
        ctx.post(&scoped, &[], json!({"scope": [EMAIL]})).await.1,
        json!({"connection": {"scoped": true}})
    );
    assert_eq!(
        ctx.post(&scoped, &[], json!({"scope": [GMAIL_SEND]}))
            .await
            .1,
        json!({"connection": {"scoped": false}})
    );
}

#[tokio::test]
async fn connection_delete_needs_confirmation_only_when_used_in_a_scenario() {
    let ctx = Ctx::new().await;
    // The Google connection is used in a scenario: deleting needs confirmation.
    let google = connection(GOOGLE_CONNECTION_ID);
    let unconfirmed = ctx.delete(&google, &[]).await;
    assert_error(&unconfirmed, 400, "IM004");
    assert!(
        unconfirmed.1["message"]
            .as_str()
            .unwrap()
            .starts_with("Confirmation required")
    );
    assert_eq!(ctx.get(&google, &[]).await.0, 200);
    let deleted = ctx.delete(&google, &[("confirmed", "true")]).await;
    assert_eq!(deleted.1, json!({"connection": GOOGLE_CONNECTION_ID}));
    assert_error(&ctx.get(&google, &[]).await, 404, "SC404");
    // An unused connection goes without confirmation.
    assert_eq!(
        ctx.delete(&connection(AIRTABLE_CONNECTION_ID), &[]).await.0,
        200
    );
    assert_error(
        &ctx.delete(&connection(FOREIGN_CONNECTION_ID), &[("confirmed", "true")])
            .await,
        403,
        "SC403",
    );
}

// --- Keys ---------------------------------------------------------------------------------

#[tokio::test]
async fn keys_list_get_and_types_never_show_secrets() {
    let ctx = Ctx::new().await;
    let (s, list) = ctx.get("/keys", &[("teamId", "1"), ("cols[]", "*")]).await;
    assert_eq!(s, 200);
    assert_eq!(ids(&list["keys"]), vec![BASICAUTH_KEY_ID, APIKEY_KEY_ID]);
    assert!(
        !list.to_string().contains("sandbox-secret"),
        "secrets never returned"
    );
    let (_, k) = ctx.get(&key(AES_KEY_ID), &[]).await;
    assert_eq!(k["key"]["typeName"], "aes-key");
    assert_eq!(k["key"].as_object().unwrap().keys().len(), 6);
    let (_, types) = ctx.get("/keys/types", &[]).await;
    let basic = types["keysTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "basicauth")
        .unwrap();
    assert_eq!(basic["parameters"][0]["name"], "authUser");
    assert_error(&ctx.get(&key(FOREIGN_KEY_ID), &[]).await, 403, "SC403");
    assert_error(&ctx.get("/keys", &[("teamId", "3")]).await, 403, "SC403");
}

/// Creates an `apikeyauth` key "Partner API" in team 2; returns its id.
async fn create_partner_key(ctx: &Ctx) -> u64 {
    let (s, created) = ctx.post("/keys", &[], json!({"teamId": 2, "name": "Partner API", "typeName": "apikeyauth", "parameters": {"key": "k1"}})).await;
    assert_eq!(s, 200, "{created}");
    created["key"]["id"].as_u64().unwrap()
}

#[tokio::test]
async fn key_create_lists_it_and_rename_keeps_parameters_valid() {
    let ctx = Ctx::new().await;
    let id = create_partner_key(&ctx).await;
    assert!(ids(&ctx.get("/keys", &[("teamId", "2")]).await.1["keys"]).contains(&id));
    let (_, updated) = ctx.patch(&key(id), json!({"name": "Partner API v2"})).await;
    assert_eq!(updated["key"]["name"], "Partner API v2");
    assert_error(
        &ctx.patch(&key(id), json!({"parameters": {"placement": "cookie"}}))
            .await,
        400,
        "IM005",
    );
}

#[tokio::test]
async fn key_create_refuses_bad_bodies() {
    let ctx = Ctx::new().await;
    let wrong_names = ctx.post("/keys", &[], json!({"teamId": 1, "name": "b", "typeName": "basicauth", "parameters": {"user": "u", "pass": "p"}})).await;
    assert_error(&wrong_names, 400, "IM005");
    assert!(
        wrong_names.1["detail"]
            .as_str()
            .unwrap()
            .contains("authUser")
    );
    let malformed = vec![
        json!({"teamId": 1, "name": "b", "typeName": "basicauth", "parameters": {"authUser": "u"}}),
        json!({"teamId": 1, "name": "b", "typeName": "basicauth"}),
        json!({"name": "b", "typeName": "basicauth", "parameters": {}}),
        json!({"teamId": "1", "name": "b", "typeName": "basicauth", "parameters": {}}),
    ];
    assert_refused(&ctx, "/keys", &[], malformed, 400, "IM005").await;
    let unknown_type = json!({"teamId": 1, "name": "b", "typeName": "nope", "parameters": {}});
    assert_refused(&ctx, "/keys", &[], vec![unknown_type], 400, "SC400").await;
    let foreign = json!({"teamId": 3, "name": "b", "typeName": "basicauth", "parameters": {"authUser": "u", "authPass": "p"}});
    assert_refused(&ctx, "/keys", &[], vec![foreign], 403, "SC403").await;
}

#[tokio::test]
async fn key_delete_needs_confirmation() {
    let ctx = Ctx::new().await;
    let id = create_partner_key(&ctx).await;
    assert_error(&ctx.delete(&key(id), &[]).await, 400, "IM004");
    assert_eq!(
        ctx.get(&key(id), &[]).await.0,
        200,
        "kept without confirmation"
    );
    assert_eq!(
        ctx.delete(&key(id), &[("confirmed", "true")]).await.1,
        json!({"key": id})
    );
    assert_error(&ctx.get(&key(id), &[]).await, 404, "SC404");
}

// --- Credential requests through the API --------------------------------------------------

#[tokio::test]
async fn credential_requests_list_shows_the_pending_request() {
    let ctx = Ctx::new().await;
    let (s, list) = ctx
        .get(
            "/credential-requests/requests",
            &[("teamId", "1"), ("cols[]", "*")],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["requests"][0]["id"], PENDING_REQUEST);
    assert_eq!(list["requests"][0]["status"], "pending");
    assert_eq!(list["pg"]["total"], 1);
    assert_eq!(list["pg"]["limit"], 100);
}

#[tokio::test]
async fn credential_requests_list_filters() {
    let ctx = Ctx::new().await;
    for (query, expected) in [
        (&[("teamId", "1"), ("status", "pending")][..], 1),
        (&[("teamId", "1"), ("status", "authorized")], 0),
        (&[("teamId", "1"), ("name", "weekly report")], 1),
        (&[("teamId", "1"), ("userId", "2")], 0),
        (&[("teamId", "1"), ("makeProviderId", "9")], 0),
        (&[("teamId", "2")], 0),
    ] {
        assert_eq!(ctx.count(query).await, expected, "{query:?}");
    }
}

#[tokio::test]
async fn credential_requests_list_pages_and_refuses_bad_queries() {
    let ctx = Ctx::new().await;
    let (_, paged) = ctx
        .get(
            "/credential-requests/requests",
            &[("teamId", "1"), ("pg[limit]", "1"), ("pg[offset]", "1")],
        )
        .await;
    assert_eq!(
        (
            paged["requests"].as_array().unwrap().len(),
            paged["pg"]["total"].as_u64()
        ),
        (0, Some(1))
    );
    for (query, status, code) in [
        (&[("teamId", "1"), ("pg[limit]", "x")][..], 400, "IM005"),
        (&[], 400, "IM005"),
        (&[("teamId", "3")], 403, "SC403"),
    ] {
        assert_error(
            &ctx.get("/credential-requests/requests", query).await,
            status,
            code,
        );
    }
}

#[tokio::test]
async fn credential_request_get_and_detail() {
    let ctx = Ctx::new().await;
    let (_, r) = ctx
        .get(
            &format!("/credential-requests/requests/{PENDING_REQUEST}"),
            &[],
        )
        .await;
    assert_eq!(r["request"]["teamId"], 1);
    assert!(r["request"].get("credentials").is_none());
    let detail = ctx.detail(PENDING_REQUEST).await;
    assert_eq!(detail["user"]["id"], 1);
    let cred = &detail["credentials"][0];
    assert_eq!(
        (
            cred["id"].as_str(),
            cred["component"].as_str(),
            cred["name"].as_str(),
            cred["state"].as_str()
        ),
        (
            Some(PENDING_CREDENTIAL),
            Some("account"),
            Some("google"),
            Some("pending")
        )
    );
    assert_eq!(cred["scope"], json!([SHEETS]));
    assert!(cred["remoteId"].is_null());
    assert!(detail["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_error(
        &ctx.get(
            &format!("/credential-requests/requests/{FOREIGN_REQUEST}/detail"),
            &[],
        )
        .await,
        403,
        "SC403",
    );
    assert_error(
        &ctx.get(
            "/credential-requests/requests/ffffffffffffffffffffffffffffffff",
            &[],
        )
        .await,
        404,
        "SC404",
    );
}

/// `/credential-requests/credentials/{cid}/{action}`.
fn credential_action(cid: &str, action: &str) -> String {
    format!("/credential-requests/credentials/{cid}/{action}")
}

#[tokio::test]
async fn decline_through_the_api_records_the_reason() {
    let ctx = Ctx::new().await;
    let path = credential_action(PENDING_CREDENTIAL, "decline");
    let (s, c) = ctx.post_empty(&path).await;
    assert_eq!(s, 200, "no body, no content type");
    assert_eq!(c["credential"]["state"], "declined");
    let (_, c) = ctx
        .post(&path, &[], json!({"reason": "Wrong account"}))
        .await;
    assert_eq!(c["credential"]["declineReason"], "Wrong account");
    let (_, r) = ctx
        .get(
            &format!("/credential-requests/requests/{PENDING_REQUEST}"),
            &[],
        )
        .await;
    assert_eq!(r["request"]["status"], "declined");
    assert_error(
        &ctx.post(&path, &[], json!({"reason": 7})).await,
        400,
        "IM005",
    );
    // A declined credential has nothing remote to delete.
    assert_error(
        &ctx.post_empty(&credential_action(PENDING_CREDENTIAL, "delete-remote"))
            .await,
        400,
        "IM005",
    );
    // Nothing was created, so the request deletes without confirmation.
    let request = format!("/credential-requests/requests/{PENDING_REQUEST}");
    let (s, d) = ctx.delete(&request, &[]).await;
    assert_eq!((s.as_u16(), d), (200, json!({"deleted": true})));
    assert_error(&ctx.get(&request, &[]).await, 404, "SC404");
}

#[tokio::test]
async fn decline_refuses_foreign_and_unknown_credentials() {
    let ctx = Ctx::new().await;
    for (path, status, code) in [
        (
            credential_action(FOREIGN_CREDENTIAL_ID, "decline"),
            403,
            "SC403",
        ),
        (credential_action("nope", "decline"), 404, "SC404"),
    ] {
        assert_error(&ctx.post_empty(&path).await, status, code);
    }
}

#[tokio::test]
async fn app_modules_name_their_credential_types_and_scopes() {
    let ctx = Ctx::new().await;
    let modules = |app: &str, version: &str| {
        format!("/credential-requests/apps/{app}/{version}/modules-with-credentials")
    };
    let (s, m) = ctx.get(&modules("slack", "latest"), &[]).await;
    assert_eq!(s, 200);
    let send = m["appModules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "CreateMessage")
        .unwrap();
    assert_eq!(send["type"], "account:slack2,slack3");
    assert_eq!(send["scope"], json!(["chat:write"]));
    assert_eq!(ctx.get(&modules("http", "3"), &[]).await.0, 200);
    for unknown in [modules("http", "99"), modules("app%23nope", "latest")] {
        assert_error(&ctx.get(&unknown, &[]).await, 404, "SC404");
    }
}

#[tokio::test]
async fn create_by_app_makes_one_credential_per_app() {
    let ctx = Ctx::new().await;
    let body = json!({"teamId": 1, "name": "Reporting", "credentials": [
        {"appName": "http", "appModules": ["ActionSendDataBasicAuth"], "appVersion": 3},
        {"appName": "google-sheets", "appModules": ["addRow", "watchRows"], "description": "for the report"},
    ]});
    let (s, created) = ctx
        .post("/credential-requests/actions/create", &[], body)
        .await;
    assert_eq!(s, 200, "{created}");
    let id = created["request"]["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(
        created["publicUri"],
        format!("{}/credential-requests/{id}/authorize", ctx.sb.origin())
    );
    assert_eq!(
        created["request"]["appNames"],
        json!(["http", "google-sheets"])
    );
    let d = ctx.detail(id).await;
    let creds = d["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 2);
    assert_eq!(
        (creds[0]["component"].as_str(), creds[0]["name"].as_str()),
        (Some("keychain"), Some("basicauth"))
    );
    assert_eq!(creds[1]["name"], "google");
    assert_eq!(creds[1]["appVersion"], 2);
    assert_eq!(creds[1]["scope"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn create_by_app_refuses_bad_credentials_and_foreign_teams() {
    let ctx = Ctx::new().await;
    let path = "/credential-requests/actions/create";
    let in_team_1 = |credentials: Value| json!({"teamId": 1, "credentials": credentials});
    let malformed = vec![
        in_team_1(json!([{"appName": "slack"}])),
        in_team_1(json!([{"appName": "slack", "appModules": []}])),
        in_team_1(json!([])),
    ];
    assert_refused(&ctx, path, &[], malformed, 400, "IM005").await;
    let unknown = vec![
        in_team_1(json!([{"appName": "slack", "appModules": ["Nope"]}])),
        in_team_1(json!([{"appName": "nope", "appModules": ["*"]}])),
    ];
    assert_refused(&ctx, path, &[], unknown, 400, "SC400").await;
    let foreign = json!({"teamId": 3, "credentials": [{"appName": "slack", "appModules": ["*"]}]});
    assert_refused(&ctx, path, &[], vec![foreign], 403, "SC403").await;
}

#[tokio::test]
async fn create_by_credentials_validation() {
    let ctx = Ctx::new().await;
    let path = "/credential-requests/actions/create-by-credentials";
    let malformed = vec![
        json!({"teamId": 1}),
        json!({"teamId": 1, "description": "d".repeat(241), "keys": [{"type": "basicauth"}]}),
    ];
    assert_refused(&ctx, path, &[], malformed, 400, "IM005").await;
    let unknown = vec![
        json!({"teamId": 1, "connections": [{"type": "nope"}]}),
        json!({"teamId": 1, "connections": [{"type": "google", "scope": ["chat:write"]}]}),
        json!({"teamId": 1, "keys": [{"type": "nope"}]}),
    ];
    assert_refused(&ctx, path, &[], unknown, 400, "SC400").await;
    let (_, ok) = ctx
        .post(
            path,
            &[],
            json!({"teamId": 2, "keys": [{"type": "aes-key"}]}),
        )
        .await;
    assert_eq!(ok["request"]["name"], "Request for credentials");
    assert_eq!(ok["credentials"][0]["component"], "keychain");
}

#[tokio::test]
async fn extend_validation() {
    let ctx = Ctx::new().await;
    let path = "/credential-requests/actions/extend";
    let nothing_new = ctx
        .post(
            path,
            &[],
            json!({"connectionId": GOOGLE_CONNECTION_ID, "scopes": [EMAIL, DRIVE_RO]}),
        )
        .await;
    assert_error(&nothing_new, 400, "SC400");
    assert_eq!(nothing_new.1["message"], "No new scopes requested.");
    for (connection_id, scopes, status, code) in [
        (GOOGLE_CONNECTION_ID, json!([]), 400, "IM005"),
        (GOOGLE_CONNECTION_ID, json!(["bogus"]), 400, "SC400"),
        (HTTP_CONNECTION_ID, json!([SHEETS]), 400, "SC400"),
        (999_999, json!([SHEETS]), 404, "SC404"),
        (FOREIGN_CONNECTION_ID, json!([SHEETS]), 403, "SC403"),
    ] {
        let body = json!({"connectionId": connection_id, "scopes": scopes});
        assert_refused(&ctx, path, &[], vec![body], status, code).await;
    }
}

// --- The consent page ---------------------------------------------------------------------

/// A request for a Google connection and a basic-auth key, with markup in its name.
async fn request_onboarding(ctx: &Ctx) -> Created {
    let (created, _) = create_by_credentials(
        ctx,
        json!({"teamId": 1, "name": "Onboarding <Acme>", "description": "Connect your tools",
               "connections": [{"type": "google", "scope": [EMAIL], "nameOverride": "Acme Google", "description": "Drive sync"}],
               "keys": [{"type": "basicauth", "prefill": {"hard": {"authUser": "acme"}}}]}),
    )
    .await;
    created
}

async fn the_page_shows_the_request_escaped(ctx: &Ctx, req: &Created) {
    let conn_cred = &req.credentials[0];
    let (s, html) = ctx.page(&req.public_uri).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("Onboarding &lt;Acme&gt;") && !html.contains("<Acme>"),
        "escaped"
    );
    assert!(html.contains(conn_cred) && html.contains(EMAIL) && html.contains("Drive sync"));
    assert!(html.contains(&req.form(conn_cred, "authorize")));
    assert!(html.contains("Decline"));
}

/// Authorizes the Google credential with an empty form; returns the connection it created.
async fn authorize_the_connection(ctx: &Ctx, req: &Created) -> u64 {
    let (s, location) = ctx
        .form_post(&req.form(&req.credentials[0], "authorize"), &[])
        .await;
    assert_eq!(s, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("/credential-requests/{}/authorize", req.id).as_str())
    );

    let d = ctx.detail(&req.id).await;
    assert_eq!(d["status"], "partially_authorized");
    assert_eq!(d["credentials"][0]["state"], "authorized");
    let conn_id = d["credentials"][0]["remoteId"]
        .as_u64()
        .expect("remoteId set");
    let (_, conn) = ctx.get(&connection(conn_id), &[]).await;
    assert_eq!(
        (
            conn["connection"]["name"].as_str(),
            conn["connection"]["accountName"].as_str(),
            conn["connection"]["teamId"].as_u64()
        ),
        (Some("Acme Google"), Some("google"), Some(1))
    );
    conn_id
}

/// Declines the key, then changes mind and authorizes it; returns the key it created.
async fn decline_the_key_then_authorize_it(ctx: &Ctx, req: &Created) -> u64 {
    let key_cred = &req.credentials[1];
    let (s, _) = ctx
        .form_post(&req.form(key_cred, "decline"), &[("reason", "later")])
        .await;
    assert_eq!(s, 303);
    let d = ctx.detail(&req.id).await;
    assert_eq!(
        (
            d["credentials"][1]["state"].as_str(),
            d["credentials"][1]["declineReason"].as_str()
        ),
        (Some("declined"), Some("later"))
    );
    assert_eq!(d["status"], "partially_authorized");
    // A key needs its parameters: an empty form is refused and changes nothing.
    let key_authorize = req.form(key_cred, "authorize");
    let (s, _) = ctx.form_post(&key_authorize, &[]).await;
    assert_eq!(s, 422);
    assert_eq!(
        ctx.detail(&req.id).await["credentials"][1]["state"],
        "declined"
    );
    let (s, _) = ctx
        .form_post(
            &key_authorize,
            &[("authUser", "acme"), ("authPass", "typed-on-page")],
        )
        .await;
    assert_eq!(s, 303);
    let d = ctx.detail(&req.id).await;
    assert_eq!(d["status"], "authorized");
    let key_id = d["credentials"][1]["remoteId"].as_u64().unwrap();
    assert_eq!(
        ctx.get(&key(key_id), &[]).await.1["key"]["typeName"],
        "basicauth"
    );
    key_id
}

/// Extends the connection with a scope, authorized on its own page; deleting the extend
/// request does not delete the connection it did not create.
async fn extend_the_connection_on_its_own_page(ctx: &Ctx, conn_id: u64) {
    let ext = extend(ctx, conn_id, &[EMAIL, DRIVE_RO]).await;
    let ext_cred = ctx.detail(&ext.id).await["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, html) = ctx.page(&ext.public_uri).await;
    assert!(html.contains(DRIVE_RO));
    ctx.form_post(&ext.form(&ext_cred, "authorize"), &[]).await;
    let (_, conn) = ctx.get(&connection(conn_id), &[]).await;
    let scopes: Vec<&str> = conn["connection"]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, vec![EMAIL, DRIVE_RO]);
    assert_eq!(ctx.detail(&ext.id).await["status"], "authorized");
    assert_eq!(
        ctx.delete(
            &format!("/credential-requests/requests/{}", ext.id),
            &[("confirmed", "true")]
        )
        .await
        .0,
        200
    );
    assert_eq!(ctx.get(&connection(conn_id), &[]).await.0, 200);
}

/// Deletes the request: confirmation first, then the cascade to what it created.
async fn deleting_the_request_deletes_what_it_created(
    ctx: &Ctx,
    req: &Created,
    conn_id: u64,
    key_id: u64,
) {
    let request = format!("/credential-requests/requests/{}", req.id);
    assert_error(&ctx.delete(&request, &[]).await, 400, "IM004");
    assert_eq!(ctx.get(&connection(conn_id), &[]).await.0, 200);
    let (s, d) = ctx.delete(&request, &[("confirmed", "true")]).await;
    assert_eq!((s.as_u16(), d), (200, json!({"deleted": true})));
    assert_error(&ctx.get(&connection(conn_id), &[]).await, 404, "SC404");
    assert_error(&ctx.get(&key(key_id), &[]).await, 404, "SC404");
    let (s, html) = ctx.page(&req.public_uri).await;
    assert_eq!(s, 404);
    assert!(html.contains("<html"));
}

#[tokio::test]
async fn consent_flow_over_plain_form_posts() {
    let ctx = Ctx::new().await;
    let onboarding = request_onboarding(&ctx).await;
    the_page_shows_the_request_escaped(&ctx, &onboarding).await;
    let conn_id = authorize_the_connection(&ctx, &onboarding).await;
    let key_id = decline_the_key_then_authorize_it(&ctx, &onboarding).await;
    extend_the_connection_on_its_own_page(&ctx, conn_id).await;
    deleting_the_request_deletes_what_it_created(&ctx, &onboarding, conn_id, key_id).await;
}

#[tokio::test]
async fn delete_remote_resets_credential_and_removes_connection() {
    let ctx = Ctx::new().await;
    let (s, _) = ctx
        .form_post(
            &format!(
                "/credential-requests/{PENDING_REQUEST}/credentials/{PENDING_CREDENTIAL}/authorize"
            ),
            &[],
        )
        .await;
    assert_eq!(s, 303);
    let d = ctx.detail(PENDING_REQUEST).await;
    assert_eq!(d["status"], "authorized");
    let conn_id = d["credentials"][0]["remoteId"].as_u64().unwrap();
    let (_, conn) = ctx.get(&connection(conn_id), &[]).await;
    assert_eq!(conn["connection"]["scopes"][0]["id"], SHEETS);
    assert_error(
        &ctx.post(
            &credential_action(PENDING_CREDENTIAL, "decline"),
            &[],
            json!({}),
        )
        .await,
        400,
        "IM005",
    );

    let (s, c) = ctx
        .post_empty(&credential_action(PENDING_CREDENTIAL, "delete-remote"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            c["credential"]["state"].as_str(),
            c["credential"]["remoteId"].is_null()
        ),
        (Some("pending"), true)
    );
    assert_error(&ctx.get(&connection(conn_id), &[]).await, 404, "SC404");
}

#[tokio::test]
async fn consent_page_errors_are_html_404s() {
    let ctx = Ctx::new().await;
    let origin = ctx.sb.origin();
    // Unknown request, foreign request, mismatched credential.
    for path in [
        "/credential-requests/ffffffffffffffffffffffffffffffff/authorize".to_owned(),
        format!("/credential-requests/{FOREIGN_REQUEST}/authorize"),
    ] {
        let (s, html) = ctx.page(&format!("{origin}{path}")).await;
        assert_eq!(s, 404, "{path}");
        assert!(html.starts_with("<!doctype html>"));
    }
    let (s, _) = ctx.form_post(&format!("/credential-requests/{PENDING_REQUEST}/credentials/{FOREIGN_CREDENTIAL_ID}/authorize"), &[]).await;
    assert_eq!(s, 404);
}

// --- Scopes of known providers ------------------------------------------------------------

const CALENDAR_RO: &str = "https://www.googleapis.com/auth/calendar.readonly";

/// The HTML of one credential's card on the consent page.
fn card<'a>(html: &'a str, cid: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"credential-{cid}\""))
        .expect("card present");
    let end = html[start..]
        .find("</article>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

#[tokio::test]
async fn well_formed_scopes_of_a_known_provider_are_accepted_and_named_plainly() {
    let ctx = Ctx::new().await;
    let (req, created) = create_by_credentials(
        &ctx,
        json!({"teamId": 1, "connections": [
            {"type": "google", "scope": [DRIVE_RO, CALENDAR_RO]},
            {"type": "slack3", "scope": ["chat:write", "im:history"]}]}),
    )
    .await;
    assert_eq!(
        created["credentials"][0]["scope"],
        json!([DRIVE_RO, CALENDAR_RO])
    );
    let (_, html) = ctx.page(&req.public_uri).await;
    let g = card(&html, &req.credentials[0]);
    assert!(g.contains("Will grant"), "{g}");
    assert!(g.contains(&format!(
        "<code>{DRIVE_RO}</code> — See and download all your Google Drive files."
    )));
    assert!(g.contains(&format!(
        "<code>{CALENDAR_RO}</code> — calendar.readonly (no description in the sandbox)"
    )));
    let sl = card(&html, &req.credentials[1]);
    assert!(
        sl.contains("Send messages as the app.")
            && sl.contains("im:history (no description in the sandbox)")
    );
}

#[tokio::test]
async fn a_connection_holds_a_well_formed_scope_without_a_description() {
    let ctx = Ctx::new().await;
    let (s, conn) = ctx
        .post(
            "/connections",
            &[("teamId", "1")],
            json!({"accountName": "Cal", "accountType": "google", "scopes": [CALENDAR_RO]}),
        )
        .await;
    assert_eq!(s, 200, "{conn}");
    assert_eq!(
        conn["connection"]["scopes"][0],
        json!({"id": CALENDAR_RO, "name": null, "account": "google"})
    );
    let (s, scoped) = ctx
        .post(
            &format!("{}/scoped", connection(GOOGLE_CONNECTION_ID)),
            &[],
            json!({"scope": [CALENDAR_RO]}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), scoped),
        (200, json!({"connection": {"scoped": false}}))
    );
}

#[tokio::test]
async fn extending_shows_the_added_scopes_apart_from_those_granted() {
    let ctx = Ctx::new().await;
    let ext = extend(&ctx, GOOGLE_CONNECTION_ID, &[DRIVE_RO, CALENDAR_RO]).await;
    let (_, html) = ctx.page(&ext.public_uri).await;
    let adds = &html
        [html.find("Adds scopes").expect("adds")..html.find("Already granted").expect("granted")];
    assert!(
        adds.contains("calendar.readonly (no description in the sandbox)")
            && !adds.contains(DRIVE_RO),
        "{adds}"
    );
    let granted = &html[html.find("Already granted").unwrap()..];
    assert!(granted.contains(EMAIL) && granted.contains(DRIVE_RO));
}

#[tokio::test]
async fn malformed_scopes_are_still_invalid_everywhere() {
    let ctx = Ctx::new().await;
    for bad in [
        "https://evil.example.com/x",
        "",
        "https://www.googleapis.com/auth/calendar readonly",
        "https://www.googleapis.com/auth/",
    ] {
        let by_credentials = ctx
            .post(
                "/credential-requests/actions/create-by-credentials",
                &[],
                json!({"teamId": 1, "connections": [{"type": "google", "scope": [bad]}]}),
            )
            .await;
        let extend = ctx
            .post(
                "/credential-requests/actions/extend",
                &[],
                json!({"connectionId": GOOGLE_CONNECTION_ID, "scopes": [bad]}),
            )
            .await;
        let create = ctx
            .post(
                "/connections",
                &[("teamId", "1")],
                json!({"accountName": "x", "accountType": "google", "scopes": [bad]}),
            )
            .await;
        for resp in [by_credentials, extend, create] {
            assert_error(&resp, 400, "SC400");
            assert_eq!(resp.1["message"], "Invalid scope", "{bad:?}");
            assert!(
                resp.1["detail"]
                    .as_str()
                    .unwrap()
                    .contains("https://www.googleapis.com/auth/<name>")
            );
        }
    }
    let slack = ctx
        .post(
            "/credential-requests/actions/create-by-credentials",
            &[],
            json!({"teamId": 1, "connections": [{"type": "slack3", "scope": ["chat write"]}]}),
        )
        .await;
    assert_error(&slack, 400, "SC400");
}

#[tokio::test]
async fn key_credentials_ask_for_their_parameters_on_the_page() {
    let ctx = Ctx::new().await;
    let (req, _) = create_by_credentials(
        &ctx,
        json!({"teamId": 1, "keys": [{"type": "apikeyauth", "nameOverride": "Weather <API>"}]}),
    )
    .await;
    let (rid, cid) = (&req.id, &req.credentials[0]);
    let (_, html) = ctx.page(&req.public_uri).await;
    let key_card = card(&html, cid);
    assert!(key_card.contains("Weather &lt;API&gt;"), "escaped");
    assert!(key_card.contains("<input type=\"password\"") && key_card.contains("name=\"key\""));
    assert!(key_card.contains("<select") && key_card.contains("name=\"placement\""));
    assert!(key_card.contains("name=\"name\" value=\"X-API-Key\""));

    let path = req.form(cid, "authorize");
    for fields in [
        vec![],
        vec![("placement", "header")],
        vec![("key", "k"), ("placement", "cookie")],
    ] {
        let (s, _) = ctx.form_post(&path, &fields).await;
        assert_eq!(s, 422, "{fields:?}");
        let d = ctx.detail(rid).await;
        assert_eq!(
            (d["status"].as_str(), d["credentials"][0]["state"].as_str()),
            (Some("pending"), Some("pending"))
        );
    }
    let (s, _) = ctx
        .form_post(&path, &[("key", "typed-on-page"), ("placement", "query")])
        .await;
    assert_eq!(s, 303);
    let d = ctx.detail(rid).await;
    assert_eq!(d["status"], "authorized");
    let key_id = d["credentials"][0]["remoteId"].as_u64().unwrap();
    let (_, key) = ctx.get(&key(key_id), &[]).await;
    assert_eq!(
        (
            key["key"]["name"].as_str(),
            key["key"]["typeName"].as_str(),
            key["key"].get("parameters")
        ),
        (Some("Weather <API>"), Some("apikeyauth"), None)
    );
    let (_, html) = ctx.page(&req.public_uri).await;
    assert!(!html.contains("typed-on-page"));
}

// --- Faults and the Make client -----------------------------------------------------------

#[tokio::test]
async fn scripted_faults_hit_only_their_requests_and_every_request_is_counted() {
    let ctx = Ctx::new().await;
    let path = "/credential-requests/actions/create-by-credentials";
    ctx.sb.inject_on(Method::POST, path, Fault::BadGateway, 2);
    let body = json!({"teamId": 1, "keys": [{"type": "basicauth"}]});
    assert_eq!(
        ctx.get("/users/me", &[]).await.0,
        200,
        "not a matching request"
    );
    let before = ctx.count(&[("teamId", "1")]).await;
    for _ in 0..2 {
        let (status, page) = ctx.post(path, &[], body.clone()).await;
        assert_eq!(status, 502);
        assert!(page.as_str().unwrap().contains("502 Bad Gateway"));
    }
    assert_eq!(
        ctx.count(&[("teamId", "1")]).await,
        before,
        "nothing created"
    );
    assert_eq!(ctx.sb.faults_pending(), 0);
    assert_eq!(ctx.post(path, &[], body).await.0, 200);
    let seen = ctx.sb.requests_seen();
    assert_eq!(seen.count(&Method::POST, path), 3);
    assert_eq!(seen.count(&Method::GET, "/users/me"), 1);
    assert_eq!(seen.count(&Method::GET, "/credential-requests/requests"), 2);
}

#[tokio::test]
async fn the_make_client_sends_a_create_once_after_a_502_and_retries_a_429() {
    let sb = Sandbox::start().await.unwrap();
    let make = MakeClient::new(&ClientSettings {
        base_url: Some(parse_api_url(&sb.api_base_url()).unwrap()),
        api_key: ApiKey::new(sb.api_key()),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        ..ClientSettings::default()
    })
    .unwrap();
    let path = "/credential-requests/actions/create-by-credentials";
    let new = NewTypedRequest {
        team_id: 1,
        keys: vec![RequestedKey {
            kind: "basicauth".into(),
            ..RequestedKey::default()
        }],
        ..NewTypedRequest::default()
    };

    sb.inject_on(Method::POST, path, Fault::BadGateway, 2);
    let err = make.create_typed_request(&new).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(
        sb.requests_seen().count(&Method::POST, path),
        1,
        "never retried"
    );
    sb.clear_faults();

    sb.reset_requests_seen();
    sb.inject_on(Method::POST, path, Fault::RATE_LIMITED, 2);
    make.create_typed_request(&new).await.unwrap();
    assert_eq!(
        sb.requests_seen().count(&Method::POST, path),
        3,
        "429 is safe to retry"
    );
}
