//! Drives the Make API sandbox over loopback with reqwest, the way the product's client will.

use std::time::Duration;

use make_credentials_mcp::make::credential_requests::{NewTypedRequest, RequestedKey};
use make_credentials_mcp::make::{ApiKey, ClientSettings, parse_api_url};
use make_credentials_mcp::make::{MakeClient, RetryPolicy};
use make_credentials_mcp::sandbox::{Fault, Sandbox};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PENDING_REQUEST: &str = "a07e16f2ad134bf49cf83a00aa95c0a5";
const PENDING_CREDENTIAL: &str = "5d3f0c9be2a14f6e8b7a1c2d3e4f5061";
const FOREIGN_REQUEST: &str = "fe3c0c4a1b2d4e5f8a9b0c1d2e3f4a5b";
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
        let raw = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Ctx {
            sb,
            http: reqwest::Client::new(),
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
    // Unknown paths are 401 without a token, 404 with one (paths are case-sensitive).
    let anon = ctx
        .http
        .get(format!("{}/Connections", ctx.sb.api_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let (s, body) = ctx.get("/Connections", &[("teamId", "1")]).await;
    assert_eq!((s.as_u16(), body["code"].as_str()), (404, Some("SC404")));

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

#[tokio::test]
async fn connections_list_filters_annotates_and_projects() {
    let ctx = Ctx::new().await;
    let (s, body) = ctx
        .get("/connections", &[("teamId", "1"), ("cols[]", "*")])
        .await;
    assert_eq!(s, 200);
    let rows = body["connections"].as_array().unwrap();
    assert_eq!(ids(&body["connections"]).len(), 4);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "sorted by name");
    let google = rows.iter().find(|r| r["id"] == 1001).unwrap();
    assert_eq!(google["accountName"], "google");
    assert_eq!(google["accountType"], "oauth");
    assert_eq!(google["accountLabel"], "Google");
    assert_eq!(
        (google["teamId"].as_u64(), google["organizationId"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(google["scopesCnt"], 2);
    assert!(body.get("pg").is_none());

    let (_, typed) = ctx
        .get(
            "/connections",
            &[("teamId", "1"), ("type[]", "google"), ("type[]", "http")],
        )
        .await;
    assert_eq!(ids(&typed["connections"]).len(), 2);
    let (_, scoped) = ctx
        .get(
            "/connections",
            &[
                ("teamId", "1"),
                ("type[]", "google"),
                ("google[]", DRIVE_RO),
                ("google[]", EMAIL),
            ],
        )
        .await;
    assert_eq!(scoped["connections"][0]["scoped"], true);
    let (_, unscoped) = ctx
        .get(
            "/connections",
            &[
                ("teamId", "1"),
                ("type[]", "google"),
                ("google[]", GMAIL_SEND),
            ],
        )
        .await;
    assert_eq!(
        unscoped["connections"][0]["scoped"], false,
        "annotates, keeps the row"
    );

    let (_, projected) = ctx
        .get(
            "/connections",
            &[("teamId", "2"), ("cols[]", "id"), ("cols[]", "name")],
        )
        .await;
    for row in projected["connections"].as_array().unwrap() {
        assert_eq!(row.as_object().unwrap().len(), 2);
    }
    assert_error(
        &ctx.get("/connections", &[("teamId", "3")]).await,
        403,
        "SC403",
    );
    assert_error(
        &ctx.get("/connections", &[("teamId", "77")]).await,
        403,
        "SC403",
    );
    assert_error(&ctx.get("/connections", &[]).await, 400, "IM005");
}

#[tokio::test]
async fn connection_get_shape_and_errors() {
    let ctx = Ctx::new().await;
    let (s, body) = ctx.get("/connections/1001", &[("cols[]", "*")]).await;
    assert_eq!(s, 200);
    let c = &body["connection"];
    assert_eq!(c["name"], "Google (sandbox.user@example.com)");
    assert_eq!(c["metadata"]["type"], "email");
    assert!(c["uid"].is_string());
    let scopes = c["scopes"].as_array().unwrap();
    assert!(scopes.contains(&json!({"id": DRIVE_RO, "name": "See and download all your Google Drive files.", "account": "google"})));
    assert_error(&ctx.get("/connections/424242", &[]).await, 404, "SC404");
    assert_error(&ctx.get("/connections/abc", &[]).await, 404, "SC404");
    assert_error(&ctx.get("/connections/1901", &[]).await, 403, "SC403");
    let (_, schema) = ctx.get("/connections/1004/editable-data-schema", &[]).await;
    assert_eq!(schema, json!({"editableParameters": ["apiKey"]}));
}

#[tokio::test]
async fn connection_create_validates_body_and_persists() {
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
    let (s, _) = ctx.get(&format!("/connections/{id}"), &[]).await;
    assert_eq!(s, 200);

    let (_, g) = ctx
        .post(
            "/connections",
            &[("teamId", "1")],
            json!({"accountName": "G", "accountType": "google", "scopes": [SHEETS]}),
        )
        .await;
    assert_eq!(g["connection"]["scopes"][0]["id"], SHEETS);

    let bad = |b: Value| ctx.post("/connections", &team, b);
    assert_error(
        &bad(json!({"name": "x", "accountName": "airtable2", "apiKey": "k"})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"accountName": "x", "accountType": "google", "scope": [SHEETS]})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"accountName": "x", "apiKey": "k"})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"accountType": "airtable2", "apiKey": "k"})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"accountName": 5, "accountType": "airtable2", "apiKey": "k"})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"accountName": "a".repeat(129), "accountType": "airtable2", "apiKey": "k"}))
            .await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"accountName": "x", "accountType": "airtable2"})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"accountName": "x", "accountType": "airtable2", "apiKey": "k", "bogus": 1}))
            .await,
        400,
        "IM005",
    );
    assert_error(&bad(json!(["not", "an", "object"])).await, 400, "IM005");
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
async fn connection_rename_set_data_verify_scoped_delete() {
    let ctx = Ctx::new().await;
    let (s, r) = ctx
        .call(
            Method::PATCH,
            "/connections/1003",
            &[],
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(r["connection"]["name"], "Renamed");
    assert_eq!(
        ctx.get("/connections/1003", &[]).await.1["connection"]["name"],
        "Renamed"
    );
    assert_error(
        &ctx.call(
            Method::PATCH,
            "/connections/1003",
            &[],
            Some(json!({"name": ""})),
        )
        .await,
        400,
        "IM005",
    );

    assert_eq!(
        ctx.post(
            "/connections/1003/set-data",
            &[],
            json!({"authUser": "u", "authPass": "p"})
        )
        .await
        .1,
        json!({"changed": true})
    );
    assert_error(
        &ctx.post("/connections/1003/set-data", &[], json!({"apiKey": "x"}))
            .await,
        400,
        "IM005",
    );
    assert_error(
        &ctx.post("/connections/1002/set-data", &[], json!({})).await,
        400,
        "IM005",
    );

    assert_eq!(
        ctx.post("/connections/1001/test", &[], json!(null)).await.1,
        json!({"verified": true})
    );
    assert_eq!(
        ctx.call(Method::POST, "/connections/1005/test", &[], None)
            .await
            .1,
        json!({"verified": false})
    );
    let crashed = ctx
        .call(Method::POST, "/connections/1006/test", &[], None)
        .await;
    assert_error(&crashed, 424, "SC424");
    assert_eq!(crashed.1["message"], "Connection action crashed");

    assert_eq!(
        ctx.post("/connections/1001/scoped", &[], json!({"scope": [EMAIL]}))
            .await
            .1,
        json!({"connection": {"scoped": true}})
    );
    assert_eq!(
        ctx.post(
            "/connections/1001/scoped",
            &[],
            json!({"scope": [GMAIL_SEND]})
        )
        .await
        .1,
        json!({"connection": {"scoped": false}})
    );

    // 1001 is used in a scenario: deleting needs confirmation.
    let unconfirmed = ctx
        .call(Method::DELETE, "/connections/1001", &[], None)
        .await;
    assert_error(&unconfirmed, 400, "IM004");
    assert!(
        unconfirmed.1["message"]
            .as_str()
            .unwrap()
            .starts_with("Confirmation required")
    );
    assert_eq!(ctx.get("/connections/1001", &[]).await.0, 200);
    let deleted = ctx
        .call(
            Method::DELETE,
            "/connections/1001",
            &[("confirmed", "true")],
            None,
        )
        .await;
    assert_eq!(deleted.1, json!({"connection": 1001}));
    assert_error(&ctx.get("/connections/1001", &[]).await, 404, "SC404");
    // An unused connection goes without confirmation.
    assert_eq!(
        ctx.call(Method::DELETE, "/connections/1004", &[], None)
            .await
            .0,
        200
    );
    assert_error(
        &ctx.call(
            Method::DELETE,
            "/connections/1901",
            &[("confirmed", "true")],
            None,
        )
        .await,
        403,
        "SC403",
    );
}

#[tokio::test]
async fn keys_crud_types_and_errors() {
    let ctx = Ctx::new().await;
    let (s, list) = ctx.get("/keys", &[("teamId", "1"), ("cols[]", "*")]).await;
    assert_eq!(s, 200);
    assert_eq!(ids(&list["keys"]), vec![2001, 2002]);
    assert!(
        !list.to_string().contains("sandbox-secret"),
        "secrets never returned"
    );
    let (_, k) = ctx.get("/keys/2003", &[]).await;
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

    let (s, created) = ctx.post("/keys", &[], json!({"teamId": 2, "name": "Partner API", "typeName": "apikeyauth", "parameters": {"key": "k1"}})).await;
    assert_eq!(s, 200, "{created}");
    let id = created["key"]["id"].as_u64().unwrap();
    assert!(ids(&ctx.get("/keys", &[("teamId", "2")]).await.1["keys"]).contains(&id));
    let (_, updated) = ctx
        .call(
            Method::PATCH,
            &format!("/keys/{id}"),
            &[],
            Some(json!({"name": "Partner API v2"})),
        )
        .await;
    assert_eq!(updated["key"]["name"], "Partner API v2");
    assert_error(
        &ctx.call(
            Method::PATCH,
            &format!("/keys/{id}"),
            &[],
            Some(json!({"parameters": {"placement": "cookie"}})),
        )
        .await,
        400,
        "IM005",
    );

    let bad = |b: Value| ctx.post("/keys", &[], b);
    let wrong_names = bad(json!({"teamId": 1, "name": "b", "typeName": "basicauth", "parameters": {"user": "u", "pass": "p"}})).await;
    assert_error(&wrong_names, 400, "IM005");
    assert!(
        wrong_names.1["detail"]
            .as_str()
            .unwrap()
            .contains("authUser")
    );
    assert_error(&bad(json!({"teamId": 1, "name": "b", "typeName": "basicauth", "parameters": {"authUser": "u"}})).await, 400, "IM005");
    assert_error(
        &bad(json!({"teamId": 1, "name": "b", "typeName": "basicauth"})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"name": "b", "typeName": "basicauth", "parameters": {}})).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!({"teamId": 1, "name": "b", "typeName": "nope", "parameters": {}})).await,
        400,
        "SC400",
    );
    assert_error(
        &bad(json!({"teamId": "1", "name": "b", "typeName": "basicauth", "parameters": {}})).await,
        400,
        "IM005",
    );
    assert_error(&bad(json!({"teamId": 3, "name": "b", "typeName": "basicauth", "parameters": {"authUser": "u", "authPass": "p"}})).await, 403, "SC403");

    assert_error(
        &ctx.call(Method::DELETE, &format!("/keys/{id}"), &[], None)
            .await,
        400,
        "IM004",
    );
    assert_eq!(
        ctx.get(&format!("/keys/{id}"), &[]).await.0,
        200,
        "kept without confirmation"
    );
    assert_eq!(
        ctx.call(
            Method::DELETE,
            &format!("/keys/{id}"),
            &[("confirmed", "true")],
            None
        )
        .await
        .1,
        json!({"key": id})
    );
    assert_error(&ctx.get(&format!("/keys/{id}"), &[]).await, 404, "SC404");
    assert_error(&ctx.get("/keys/2901", &[]).await, 403, "SC403");
    assert_error(&ctx.get("/keys", &[("teamId", "3")]).await, 403, "SC403");
}

#[tokio::test]
async fn credential_requests_list_get_detail() {
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
    assert_eq!(
        ctx.count(&[("teamId", "1"), ("status", "pending")]).await,
        1
    );
    assert_eq!(
        ctx.count(&[("teamId", "1"), ("status", "authorized")])
            .await,
        0
    );
    assert_eq!(
        ctx.count(&[("teamId", "1"), ("name", "weekly report")])
            .await,
        1
    );
    assert_eq!(ctx.count(&[("teamId", "1"), ("userId", "2")]).await, 0);
    assert_eq!(
        ctx.count(&[("teamId", "1"), ("makeProviderId", "9")]).await,
        0
    );
    assert_eq!(ctx.count(&[("teamId", "2")]).await, 0);
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
    assert_error(
        &ctx.get(
            "/credential-requests/requests",
            &[("teamId", "1"), ("pg[limit]", "x")],
        )
        .await,
        400,
        "IM005",
    );
    assert_error(
        &ctx.get("/credential-requests/requests", &[]).await,
        400,
        "IM005",
    );
    assert_error(
        &ctx.get("/credential-requests/requests", &[("teamId", "3")])
            .await,
        403,
        "SC403",
    );

    let (_, r) = ctx
        .get(
            &format!("/credential-requests/requests/{PENDING_REQUEST}"),
            &[],
        )
        .await;
    assert_eq!(r["request"]["teamId"], 1);
    assert!(r["request"].get("credentials").is_none());
    let (_, d) = ctx
        .get(
            &format!("/credential-requests/requests/{PENDING_REQUEST}/detail"),
            &[],
        )
        .await;
    let detail = &d["requestDetail"];
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

#[tokio::test]
async fn decline_and_delete_remote_errors() {
    let ctx = Ctx::new().await;
    let path = format!("/credential-requests/credentials/{PENDING_CREDENTIAL}/decline");
    let (s, c) = ctx.call(Method::POST, &path, &[], None).await;
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
    assert_error(
        &ctx.call(
            Method::POST,
            &format!("/credential-requests/credentials/{PENDING_CREDENTIAL}/delete-remote"),
            &[],
            None,
        )
        .await,
        400,
        "IM005",
    );
    assert_error(
        &ctx.call(
            Method::POST,
            "/credential-requests/credentials/0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e/decline",
            &[],
            None,
        )
        .await,
        403,
        "SC403",
    );
    assert_error(
        &ctx.call(
            Method::POST,
            "/credential-requests/credentials/nope/decline",
            &[],
            None,
        )
        .await,
        404,
        "SC404",
    );
    // Nothing was created, so the request deletes without confirmation.
    let (s, d) = ctx
        .call(
            Method::DELETE,
            &format!("/credential-requests/requests/{PENDING_REQUEST}"),
            &[],
            None,
        )
        .await;
    assert_eq!((s.as_u16(), d), (200, json!({"deleted": true})));
    assert_error(
        &ctx.get(
            &format!("/credential-requests/requests/{PENDING_REQUEST}"),
            &[],
        )
        .await,
        404,
        "SC404",
    );
}

#[tokio::test]
async fn app_modules_and_create_by_app() {
    let ctx = Ctx::new().await;
    let (s, m) = ctx
        .get(
            "/credential-requests/apps/slack/latest/modules-with-credentials",
            &[],
        )
        .await;
    assert_eq!(s, 200);
    let send = m["appModules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "CreateMessage")
        .unwrap();
    assert_eq!(send["type"], "account:slack2,slack3");
    assert_eq!(send["scope"], json!(["chat:write"]));
    assert_eq!(
        ctx.get(
            "/credential-requests/apps/http/3/modules-with-credentials",
            &[]
        )
        .await
        .0,
        200
    );
    assert_error(
        &ctx.get(
            "/credential-requests/apps/http/99/modules-with-credentials",
            &[],
        )
        .await,
        404,
        "SC404",
    );
    assert_error(
        &ctx.get(
            "/credential-requests/apps/app%23nope/latest/modules-with-credentials",
            &[],
        )
        .await,
        404,
        "SC404",
    );

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
    let (_, d) = ctx
        .get(&format!("/credential-requests/requests/{id}/detail"), &[])
        .await;
    let creds = d["requestDetail"]["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 2);
    assert_eq!(
        (creds[0]["component"].as_str(), creds[0]["name"].as_str()),
        (Some("keychain"), Some("basicauth"))
    );
    assert_eq!(creds[1]["name"], "google");
    assert_eq!(creds[1]["appVersion"], 2);
    assert_eq!(creds[1]["scope"].as_array().unwrap().len(), 2);

    let bad = |c: Value| {
        ctx.post(
            "/credential-requests/actions/create",
            &[],
            json!({"teamId": 1, "credentials": c}),
        )
    };
    assert_error(&bad(json!([{"appName": "slack"}])).await, 400, "IM005");
    assert_error(
        &bad(json!([{"appName": "slack", "appModules": []}])).await,
        400,
        "IM005",
    );
    assert_error(
        &bad(json!([{"appName": "slack", "appModules": ["Nope"]}])).await,
        400,
        "SC400",
    );
    assert_error(
        &bad(json!([{"appName": "nope", "appModules": ["*"]}])).await,
        400,
        "SC400",
    );
    assert_error(&bad(json!([])).await, 400, "IM005");
    assert_error(
        &ctx.post(
            "/credential-requests/actions/create",
            &[],
            json!({"teamId": 3, "credentials": [{"appName": "slack", "appModules": ["*"]}]}),
        )
        .await,
        403,
        "SC403",
    );
}

#[tokio::test]
async fn create_by_credentials_and_extend_validation() {
    let ctx = Ctx::new().await;
    let path = "/credential-requests/actions/create-by-credentials";
    let bad = |b: Value| ctx.post(path, &[], b);
    assert_error(&bad(json!({"teamId": 1})).await, 400, "IM005");
    assert_error(
        &bad(json!({"teamId": 1, "connections": [{"type": "nope"}]})).await,
        400,
        "SC400",
    );
    assert_error(
        &bad(json!({"teamId": 1, "connections": [{"type": "google", "scope": ["chat:write"]}]}))
            .await,
        400,
        "SC400",
    );
    assert_error(
        &bad(json!({"teamId": 1, "keys": [{"type": "nope"}]})).await,
        400,
        "SC400",
    );
    assert_error(
        &bad(json!({"teamId": 1, "description": "d".repeat(241), "keys": [{"type": "basicauth"}]}))
            .await,
        400,
        "IM005",
    );
    let (_, ok) = bad(json!({"teamId": 2, "keys": [{"type": "aes-key"}]})).await;
    assert_eq!(ok["request"]["name"], "Request for credentials");
    assert_eq!(ok["credentials"][0]["component"], "keychain");

    let extend = |b: Value| ctx.post("/credential-requests/actions/extend", &[], b);
    let nothing_new = extend(json!({"connectionId": 1001, "scopes": [EMAIL, DRIVE_RO]})).await;
    assert_error(&nothing_new, 400, "SC400");
    assert_eq!(nothing_new.1["message"], "No new scopes requested.");
    assert_error(
        &extend(json!({"connectionId": 1001, "scopes": []})).await,
        400,
        "IM005",
    );
    assert_error(
        &extend(json!({"connectionId": 1001, "scopes": ["bogus"]})).await,
        400,
        "SC400",
    );
    assert_error(
        &extend(json!({"connectionId": 1003, "scopes": [SHEETS]})).await,
        400,
        "SC400",
    );
    assert_error(
        &extend(json!({"connectionId": 999999, "scopes": [SHEETS]})).await,
        404,
        "SC404",
    );
    assert_error(
        &extend(json!({"connectionId": 1901, "scopes": [SHEETS]})).await,
        403,
        "SC403",
    );
}

#[tokio::test]
async fn consent_flow_over_plain_form_posts() {
    let ctx = Ctx::new().await;
    let (s, created) = ctx
        .post(
            "/credential-requests/actions/create-by-credentials",
            &[],
            json!({"teamId": 1, "name": "Onboarding <Acme>", "description": "Connect your tools",
                   "connections": [{"type": "google", "scope": [EMAIL], "nameOverride": "Acme Google", "description": "Drive sync"}],
                   "keys": [{"type": "basicauth", "prefill": {"hard": {"authUser": "acme"}}}]}),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let rid = created["request"]["id"].as_str().unwrap().to_owned();
    let conn_cred = created["credentials"][0]["id"].as_str().unwrap().to_owned();
    let key_cred = created["credentials"][1]["id"].as_str().unwrap().to_owned();
    let public_uri = created["publicUri"].as_str().unwrap().to_owned();

    let (s, html) = ctx.page(&public_uri).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("Onboarding &lt;Acme&gt;") && !html.contains("<Acme>"),
        "escaped"
    );
    assert!(html.contains(&conn_cred) && html.contains(EMAIL) && html.contains("Drive sync"));
    assert!(html.contains(&format!(
        "/credential-requests/{rid}/credentials/{conn_cred}/authorize"
    )));
    assert!(html.contains("Decline"));

    let (s, location) = ctx
        .form_post(
            &format!("/credential-requests/{rid}/credentials/{conn_cred}/authorize"),
            &[],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("/credential-requests/{rid}/authorize").as_str())
    );

    let d = ctx.detail(&rid).await;
    assert_eq!(d["status"], "partially_authorized");
    assert_eq!(d["credentials"][0]["state"], "authorized");
    let conn_id = d["credentials"][0]["remoteId"]
        .as_u64()
        .expect("remoteId set");
    let (_, conn) = ctx.get(&format!("/connections/{conn_id}"), &[]).await;
    assert_eq!(
        (
            conn["connection"]["name"].as_str(),
            conn["connection"]["accountName"].as_str(),
            conn["connection"]["teamId"].as_u64()
        ),
        (Some("Acme Google"), Some("google"), Some(1))
    );

    // Decline the key, then change mind and authorize it.
    let (s, _) = ctx
        .form_post(
            &format!("/credential-requests/{rid}/credentials/{key_cred}/decline"),
            &[("reason", "later")],
        )
        .await;
    assert_eq!(s, 303);
    let d = ctx.detail(&rid).await;
    assert_eq!(
        (
            d["credentials"][1]["state"].as_str(),
            d["credentials"][1]["declineReason"].as_str()
        ),
        (Some("declined"), Some("later"))
    );
    assert_eq!(d["status"], "partially_authorized");
    // A key needs its parameters: an empty form is refused and changes nothing.
    let key_authorize = format!("/credential-requests/{rid}/credentials/{key_cred}/authorize");
    let (s, _) = ctx.form_post(&key_authorize, &[]).await;
    assert_eq!(s, 422);
    assert_eq!(
        ctx.detail(&rid).await["credentials"][1]["state"],
        "declined"
    );
    let (s, _) = ctx
        .form_post(
            &key_authorize,
            &[("authUser", "acme"), ("authPass", "typed-on-page")],
        )
        .await;
    assert_eq!(s, 303);
    let d = ctx.detail(&rid).await;
    assert_eq!(d["status"], "authorized");
    let key_id = d["credentials"][1]["remoteId"].as_u64().unwrap();
    assert_eq!(
        ctx.get(&format!("/keys/{key_id}"), &[]).await.1["key"]["typeName"],
        "basicauth"
    );

    // Extend the new connection with a scope, authorize on its own page.
    let (s, ext) = ctx
        .post(
            "/credential-requests/actions/extend",
            &[],
            json!({"connectionId": conn_id, "scopes": [EMAIL, DRIVE_RO]}),
        )
        .await;
    assert_eq!(s, 200, "{ext}");
    let ext_id = ext["request"]["id"].as_str().unwrap().to_owned();
    let ext_detail = ctx.detail(&ext_id).await;
    let ext_cred = ext_detail["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, html) = ctx.page(ext["publicUri"].as_str().unwrap()).await;
    assert!(html.contains(DRIVE_RO));
    ctx.form_post(
        &format!("/credential-requests/{ext_id}/credentials/{ext_cred}/authorize"),
        &[],
    )
    .await;
    let (_, conn) = ctx.get(&format!("/connections/{conn_id}"), &[]).await;
    let scopes: Vec<&str> = conn["connection"]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, vec![EMAIL, DRIVE_RO]);
    assert_eq!(ctx.detail(&ext_id).await["status"], "authorized");
    // Deleting the extend request does not delete the connection it did not create.
    assert_eq!(
        ctx.call(
            Method::DELETE,
            &format!("/credential-requests/requests/{ext_id}"),
            &[("confirmed", "true")],
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        ctx.get(&format!("/connections/{conn_id}"), &[]).await.0,
        200
    );

    // Delete the original request: confirmation first, then the cascade.
    let unconfirmed = ctx
        .call(
            Method::DELETE,
            &format!("/credential-requests/requests/{rid}"),
            &[],
            None,
        )
        .await;
    assert_error(&unconfirmed, 400, "IM004");
    assert_eq!(
        ctx.get(&format!("/connections/{conn_id}"), &[]).await.0,
        200
    );
    let (s, d) = ctx
        .call(
            Method::DELETE,
            &format!("/credential-requests/requests/{rid}"),
            &[("confirmed", "true")],
            None,
        )
        .await;
    assert_eq!((s.as_u16(), d), (200, json!({"deleted": true})));
    assert_error(
        &ctx.get(&format!("/connections/{conn_id}"), &[]).await,
        404,
        "SC404",
    );
    assert_error(
        &ctx.get(&format!("/keys/{key_id}"), &[]).await,
        404,
        "SC404",
    );
    let (s, html) = ctx.page(&public_uri).await;
    assert_eq!(s, 404);
    assert!(html.contains("<html"));
}

#[tokio::test]
async fn delete_remote_resets_credential_and_removes_connection() {
    let ctx = Ctx::new().await;
    let origin = ctx.sb.origin();
    let (s, _) = ctx
        .form_post(
            &format!(
                "/credential-requests/{PENDING_REQUEST}/credentials/{PENDING_CREDENTIAL}/authorize"
            ),
            &[],
        )
        .await;
    assert_eq!(s, 303);
    let (_, d) = ctx
        .get(
            &format!("/credential-requests/requests/{PENDING_REQUEST}/detail"),
            &[],
        )
        .await;
    assert_eq!(d["requestDetail"]["status"], "authorized");
    let conn_id = d["requestDetail"]["credentials"][0]["remoteId"]
        .as_u64()
        .unwrap();
    let (_, conn) = ctx.get(&format!("/connections/{conn_id}"), &[]).await;
    assert_eq!(conn["connection"]["scopes"][0]["id"], SHEETS);
    assert_error(
        &ctx.post(
            &format!("/credential-requests/credentials/{PENDING_CREDENTIAL}/decline"),
            &[],
            json!({}),
        )
        .await,
        400,
        "IM005",
    );

    let (s, c) = ctx
        .call(
            Method::POST,
            &format!("/credential-requests/credentials/{PENDING_CREDENTIAL}/delete-remote"),
            &[],
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            c["credential"]["state"].as_str(),
            c["credential"]["remoteId"].is_null()
        ),
        (Some("pending"), true)
    );
    assert_error(
        &ctx.get(&format!("/connections/{conn_id}"), &[]).await,
        404,
        "SC404",
    );

    // Consent page errors are HTML: unknown request, foreign request, mismatched credential.
    for path in [
        "/credential-requests/ffffffffffffffffffffffffffffffff/authorize".to_owned(),
        format!("/credential-requests/{FOREIGN_REQUEST}/authorize"),
    ] {
        let (s, html) = ctx.page(&format!("{origin}{path}")).await;
        assert_eq!(s, 404, "{path}");
        assert!(html.starts_with("<!doctype html>"));
    }
    let (s, _) = ctx.form_post(&format!("/credential-requests/{PENDING_REQUEST}/credentials/0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e/authorize"), &[]).await;
    assert_eq!(s, 404);
}

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
    let (s, created) = ctx
        .post(
            "/credential-requests/actions/create-by-credentials",
            &[],
            json!({"teamId": 1, "connections": [
                {"type": "google", "scope": [DRIVE_RO, CALENDAR_RO]},
                {"type": "slack3", "scope": ["chat:write", "im:history"]}]}),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(
        created["credentials"][0]["scope"],
        json!([DRIVE_RO, CALENDAR_RO])
    );
    let google = created["credentials"][0]["id"].as_str().unwrap().to_owned();
    let slack = created["credentials"][1]["id"].as_str().unwrap().to_owned();
    let (_, html) = ctx.page(created["publicUri"].as_str().unwrap()).await;
    let g = card(&html, &google);
    assert!(g.contains("Will grant"), "{g}");
    assert!(g.contains(&format!(
        "<code>{DRIVE_RO}</code> — See and download all your Google Drive files."
    )));
    assert!(g.contains(&format!(
        "<code>{CALENDAR_RO}</code> — calendar.readonly (no description in the sandbox)"
    )));
    let sl = card(&html, &slack);
    assert!(
        sl.contains("Send messages as the app.")
            && sl.contains("im:history (no description in the sandbox)")
    );

    // A connection created with it, and asked about through /scoped.
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
            "/connections/1001/scoped",
            &[],
            json!({"scope": [CALENDAR_RO]}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), scoped),
        (200, json!({"connection": {"scoped": false}}))
    );

    // Extending shows the scope being added apart from those already granted.
    let (s, ext) = ctx
        .post(
            "/credential-requests/actions/extend",
            &[],
            json!({"connectionId": 1001, "scopes": [DRIVE_RO, CALENDAR_RO]}),
        )
        .await;
    assert_eq!(s, 200, "{ext}");
    let (_, html) = ctx.page(ext["publicUri"].as_str().unwrap()).await;
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
                json!({"connectionId": 1001, "scopes": [bad]}),
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
    let (s, created) = ctx
        .post(
            "/credential-requests/actions/create-by-credentials",
            &[],
            json!({"teamId": 1, "keys": [{"type": "apikeyauth", "nameOverride": "Weather <API>"}]}),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let rid = created["request"]["id"].as_str().unwrap().to_owned();
    let cid = created["credentials"][0]["id"].as_str().unwrap().to_owned();
    let (_, html) = ctx.page(created["publicUri"].as_str().unwrap()).await;
    let key_card = card(&html, &cid);
    assert!(key_card.contains("Weather &lt;API&gt;"), "escaped");
    assert!(key_card.contains("<input type=\"password\"") && key_card.contains("name=\"key\""));
    assert!(key_card.contains("<select") && key_card.contains("name=\"placement\""));
    assert!(key_card.contains("name=\"name\" value=\"X-API-Key\""));

    let path = format!("/credential-requests/{rid}/credentials/{cid}/authorize");
    for fields in [
        vec![],
        vec![("placement", "header")],
        vec![("key", "k"), ("placement", "cookie")],
    ] {
        let (s, _) = ctx.form_post(&path, &fields).await;
        assert_eq!(s, 422, "{fields:?}");
        let d = ctx.detail(&rid).await;
        assert_eq!(
            (d["status"].as_str(), d["credentials"][0]["state"].as_str()),
            (Some("pending"), Some("pending"))
        );
    }
    let (s, _) = ctx
        .form_post(&path, &[("key", "typed-on-page"), ("placement", "query")])
        .await;
    assert_eq!(s, 303);
    let d = ctx.detail(&rid).await;
    assert_eq!(d["status"], "authorized");
    let key_id = d["credentials"][0]["remoteId"].as_u64().unwrap();
    let (_, key) = ctx.get(&format!("/keys/{key_id}"), &[]).await;
    assert_eq!(
        (
            key["key"]["name"].as_str(),
            key["key"]["typeName"].as_str(),
            key["key"].get("parameters")
        ),
        (Some("Weather <API>"), Some("apikeyauth"), None)
    );
    let (_, html) = ctx.page(created["publicUri"].as_str().unwrap()).await;
    assert!(!html.contains("typed-on-page"));
}

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
