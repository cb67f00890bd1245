//! The authorization server over HTTP, as a confidential client and a person with a plain
//! HTTP client would use it: discovery, the login and consent forms, the token endpoint,
//! revocation, userinfo, and the API acting as the person who signed in.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::pkce::challenge_of;
use crate::seed::{
    ADA, AES_KEY_ID, AIRTABLE_CONNECTION_ID, GOOGLE_CONNECTION_ID, GRACE, PEOPLE_PASSWORD,
    REVOKED_CONNECTION_ID, SeedPerson,
};
use crate::{Sandbox, SandboxOptions};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
const VERIFIER: &str = "a-verifier-of-at-least-43-characters-0123456789";
const ALL: &str = "openid connections:read connections:write keys:read credential-requests:read";

struct Client {
    sb: Sandbox,
    /// Follows no redirects, so every 303 and its Location are visible.
    http: reqwest::Client,
}

/// What the client gets back at its redirect URI.
#[derive(Debug)]
struct Callback(Vec<(String, String)>);

impl Callback {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The value of the form's hidden ticket.
fn ticket(html: &str) -> String {
    let at = html.find("name=\"ticket\" value=\"").expect("a ticket") + 21;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

impl Client {
    async fn start(lifetime: Option<Duration>) -> Self {
        Self::start_with(SandboxOptions {
            oauth_access_token_lifetime: lifetime,
            ..SandboxOptions::default()
        })
        .await
    }

    /// A sandbox with `options` and this file's redirect URI registered.
    async fn start_with(options: SandboxOptions) -> Self {
        let sb = Sandbox::start_with(SandboxOptions {
            oauth_redirect_uris: vec![REDIRECT.into()],
            ..options
        })
        .await
        .unwrap();
        let http = crate::tests::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Client { sb, http }
    }

    fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&format!("{}/oauth/v2/authorize", self.sb.origin())).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.into()
    }

    /// A complete, valid authorize request for `scope`, with `overrides` replacing fields
    /// (an empty value drops the field).
    fn request_params(&self, scope: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let challenge = challenge_of(VERIFIER);
        let base = [
            ("response_type", "code"),
            ("client_id", self.sb.oauth_client_id()),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st-123"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        base.iter()
            .map(|(k, v)| {
                let v = overrides
                    .iter()
                    .find(|(o, _)| o == k)
                    .map_or(*v, |(_, o)| *o);
                (k.to_string(), v.to_string())
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    async fn get_authorize(&self, params: &[(String, String)]) -> reqwest::Response {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (&**k, &**v)).collect();
        self.http
            .get(self.authorize_url(&params))
            .send()
            .await
            .unwrap()
    }

    async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.sb.origin()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .unwrap()
    }

    /// The login page's HTML for a valid request.
    async fn login_page(&self, scope: &str) -> String {
        let resp = self.get_authorize(&self.request_params(scope, &[])).await;
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// Signs in as `person`; returns the consent page's HTML.
    async fn consent_page(&self, person: &SeedPerson, scope: &str) -> String {
        let login = self.login_page(scope).await;
        let resp = self
            .post_form(
                "/oauth/v2/login",
                &[
                    ("ticket", &ticket(&login)),
                    ("username", person.username),
                    ("password", PEOPLE_PASSWORD),
                ],
            )
            .await;
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// Posts the consent decision; returns the redirect's query.
    async fn decide(&self, consent_html: &str, decision: &str) -> Callback {
        let resp = self
            .post_form(
                "/oauth/v2/consent",
                &[("ticket", &ticket(consent_html)), ("decision", decision)],
            )
            .await;
        assert_eq!(resp.status(), 303);
        callback(&resp)
    }

    /// The whole front channel: sign in as `person`, approve; returns the code.
    async fn code_for(&self, person: &SeedPerson, scope: &str) -> String {
        let consent = self.consent_page(person, scope).await;
        let cb = self.decide(&consent, "approve").await;
        assert_eq!(cb.get("state"), Some("st-123"));
        assert_eq!(cb.get("iss"), Some(self.sb.oauth_issuer().as_str()));
        cb.get("code").expect("a code").to_owned()
    }

    async fn token(&self, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut all = vec![
            ("client_id", self.sb.oauth_client_id()),
            ("client_secret", self.sb.oauth_client_secret()),
        ];
        all.extend_from_slice(fields);
        let resp = self.post_form("/oauth/v2/token", &all).await;
        assert_eq!(resp.headers()["cache-control"], "no-store");
        (resp.status(), resp.json().await.unwrap())
    }

    async fn exchange(&self, code: &str, verifier: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Signs `person` in and exchanges the code; returns the token response.
    async fn tokens_for(&self, person: &SeedPerson, scope: &str) -> Value {
        let code = self.code_for(person, scope).await;
        let (status, body) = self.exchange(&code, VERIFIER).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// An API GET with `Authorization: Bearer <token>`.
    async fn api(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.sb.api_base_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }
}

/// An `application/x-www-form-urlencoded` body.
fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

fn callback(resp: &reqwest::Response) -> Callback {
    let location = resp.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    assert_eq!(
        format!("{}{}", url.origin().ascii_serialization(), url.path()),
        REDIRECT
    );
    Callback(url.query_pairs().into_owned().collect())
}

fn access(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

fn ids(body: &Value, key: &str) -> Vec<u64> {
    body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn discovery_names_the_endpoints_of_the_issuer() {
    let c = Client::start(None).await;
    let issuer = c.sb.oauth_issuer();
    assert_eq!(issuer, c.sb.origin());
    assert!(!issuer.ends_with('/'));
    let doc: Value = c
        .http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], issuer);
    for (field, path) in [
        ("authorization_endpoint", "/oauth/v2/authorize"),
        ("token_endpoint", "/oauth/v2/token"),
        ("revocation_endpoint", "/oauth/v2/revoke"),
        ("userinfo_endpoint", "/oauth/v2/oidc/userinfo"),
        ("jwks_uri", "/oauth/v2/oidc/jwks"),
    ] {
        assert_eq!(doc[field], format!("{issuer}{path}"), "{field}");
    }
    let list = |f: &str| serde_json::from_value::<Vec<String>>(doc[f].clone()).unwrap();
    assert_eq!(list("response_types_supported"), ["code"]);
    assert_eq!(
        list("grant_types_supported"),
        ["authorization_code", "refresh_token"]
    );
    assert_eq!(list("code_challenge_methods_supported"), ["S256"]);
    assert_eq!(
        list("token_endpoint_auth_methods_supported"),
        ["client_secret_post"]
    );
    let scopes = list("scopes_supported");
    for s in [
        "openid",
        "connections:read",
        "connections:write",
        "keys:read",
        "keys:write",
        "credential-requests:read",
        "credential-requests:write",
        "apps:read",
    ] {
        assert!(scopes.iter().any(|have| have == s), "{s}");
    }
    let jwks: Value = c
        .http
        .get(format!("{issuer}/oauth/v2/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, serde_json::json!({"keys": []}));
    assert_eq!(c.sb.oauth_client_id(), super::DEFAULT_CLIENT_ID);
    assert!(c.sb.oauth_client_secret().len() >= 32);
}

#[tokio::test]
async fn ada_signs_in_and_the_api_acts_as_her_in_team_1_only() {
    let c = Client::start(None).await;
    let tokens = c.tokens_for(&ADA, ALL).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], ALL);
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|r| r.len() >= 32)
    );
    let token = access(&tokens);

    let (status, me) = c.api(token, "/users/me").await;
    assert_eq!(status, 200);
    assert_eq!(
        (&me["authUser"]["id"], &me["authUser"]["email"]),
        (&ADA.user_id.into(), &ADA.email.into())
    );
    let (_, auth) = c.api(token, "/users/me/current-authorization").await;
    assert_eq!(auth["authorization"]["authUsed"], "oauth");
    assert_eq!(
        auth["authorization"]["scope"],
        serde_json::json!([
            "connections:read",
            "connections:write",
            "credential-requests:read",
            "keys:read"
        ])
    );

    let (status, list) = c.api(token, "/connections?teamId=1").await;
    assert_eq!(status, 200);
    assert!(ids(&list, "connections").contains(&GOOGLE_CONNECTION_ID));
    for path in [
        "/connections?teamId=2".to_owned(),
        format!("/connections/{AIRTABLE_CONNECTION_ID}"),
        format!("/keys/{AES_KEY_ID}"),
        "/keys?teamId=2".to_owned(),
    ] {
        let (status, body) = c.api(token, &path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("SC403")),
            "{path}"
        );
    }
    let (status, _) = c
        .api(token, &format!("/connections/{GOOGLE_CONNECTION_ID}"))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn grace_sees_only_team_2() {
    let c = Client::start(None).await;
    let tokens = c.tokens_for(&GRACE, ALL).await;
    let token = access(&tokens);
    let (status, list) = c.api(token, "/connections?teamId=2").await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&list, "connections"),
        [AIRTABLE_CONNECTION_ID, REVOKED_CONNECTION_ID]
    );
    let (status, body) = c.api(token, "/connections?teamId=1").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("SC403"))
    );
    let (status, _) = c
        .api(token, &format!("/connections/{GOOGLE_CONNECTION_ID}"))
        .await;
    assert_eq!(status, 403);
    let (status, me) = c.api(token, "/users/me").await;
    assert_eq!(
        (status, &me["authUser"]["name"]),
        (StatusCode::OK, &GRACE.name.into())
    );
    // The key keeps seeing both teams of its organization.
    let key = format!("Token {}", c.sb.api_key());
    for team in [1, 2] {
        let resp = c
            .http
            .get(format!("{}/connections?teamId={team}", c.sb.api_base_url()))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn scopes_limit_what_a_token_may_do() {
    let c = Client::start(None).await;
    let tokens = c.tokens_for(&ADA, "connections:read").await;
    let token = access(&tokens);
    let (status, _) = c.api(token, "/connections?teamId=1").await;
    assert_eq!(status, 200);
    let (status, body) = c.api(token, "/keys?teamId=1").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("SC403"))
    );
    assert!(body["detail"].as_str().unwrap().contains("keys:read"));
    let resp = c
        .http
        .post(format!("{}/connections?teamId=1", c.sb.api_base_url()))
        .bearer_auth(token)
        .json(&serde_json::json!({"accountName": "x", "accountType": "http"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let (_, auth) = c.api(token, "/users/me/current-authorization").await;
    assert_eq!(
        auth["authorization"]["scope"],
        serde_json::json!(["connections:read"])
    );
    // Without openid there is no userinfo.
    let resp = c
        .http
        .get(format!("{}/oauth/v2/oidc/userinfo", c.sb.origin()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn userinfo_names_the_person() {
    let c = Client::start(None).await;
    let tokens = c.tokens_for(&GRACE, "openid").await;
    let url = format!("{}/oauth/v2/oidc/userinfo", c.sb.origin());
    let resp = c
        .http
        .get(&url)
        .bearer_auth(access(&tokens))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(
        info,
        serde_json::json!({"sub": GRACE.user_id.to_string(), "name": GRACE.name, "email": GRACE.email})
    );
    for auth in [None, Some("Bearer not-a-token"), Some("Token whatever")] {
        let mut req = c.http.get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
    }
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_uses_the_code_up() {
    let c = Client::start(None).await;
    let code = c.code_for(&ADA, ALL).await;
    let (status, body) = c
        .exchange(&code, "another-verifier-of-at-least-43-characters-000")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = c.exchange(&code, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(c.sb.oauth_code_exchanges(), 2);
}

#[tokio::test]
async fn the_code_is_bound_to_its_redirect_uri() {
    let c = Client::start(None).await;
    let code = c.code_for(&ADA, ALL).await;
    let (status, body) = c
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_ends_its_grant() {
    let c = Client::start(None).await;
    let code = c.code_for(&ADA, ALL).await;
    let (status, tokens) = c.exchange(&code, VERIFIER).await;
    assert_eq!(status, 200);
    let (status, body) = c.exchange(&code, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = c.api(access(&tokens), "/users/me").await;
    assert_eq!(status, 401);
    let (status, _) = c.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_used_one_is_refused() {
    let c = Client::start(None).await;
    let first = c.tokens_for(&ADA, ALL).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (status, second) = c.refresh(old).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["scope"], ALL);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    let (status, body) = c.refresh(old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = c.api(access(&second), "/users/me").await;
    assert_eq!(status, 200);
    // A narrower scope narrows the new access token; a wider one is refused.
    let (status, third) = c
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", second["refresh_token"].as_str().unwrap()),
            ("scope", "keys:read"),
        ])
        .await;
    assert_eq!(
        (status, third["scope"].as_str()),
        (StatusCode::OK, Some("keys:read"))
    );
    let (status, body) = c
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", third["refresh_token"].as_str().unwrap()),
            ("scope", "keys:write"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    assert_eq!(c.sb.oauth_refreshes(), 4);
    assert_eq!(c.sb.oauth_code_exchanges(), 1);
}

#[tokio::test]
async fn revoking_a_token_ends_the_whole_grant() {
    let c = Client::start(None).await;
    let tokens = c.tokens_for(&ADA, ALL).await;
    let other = c.tokens_for(&ADA, ALL).await;
    let revoke = |token: String, secret: String| {
        let c = &c;
        async move {
            let id = c.sb.oauth_client_id().to_owned();
            c.post_form(
                "/oauth/v2/revoke",
                &[
                    ("token", &token),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await
            .status()
        }
    };
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(revoke(refresh.clone(), "wrong".into()).await, 401);
    let (status, _) = c.api(access(&tokens), "/users/me").await;
    assert_eq!(status, 200, "a refused revocation changes nothing");
    let secret = c.sb.oauth_client_secret().to_owned();
    assert_eq!(revoke(refresh.clone(), secret.clone()).await, 200);
    let (status, body) = c.api(access(&tokens), "/users/me").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("IM015"))
    );
    let (status, _) = c.refresh(&refresh).await;
    assert_eq!(status, 400);
    assert_eq!(revoke("unknown".into(), secret).await, 200);
    let (status, _) = c.api(access(&other), "/users/me").await;
    assert_eq!(status, 200, "another grant lives on");
}

#[tokio::test]
async fn an_expired_access_token_is_a_401_and_refresh_brings_a_new_one() {
    let c = Client::start(Some(Duration::from_secs(1))).await;
    let tokens = c.tokens_for(&ADA, ALL).await;
    assert_eq!(tokens["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = c.api(access(&tokens), "/users/me").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        serde_json::json!({"message": "User is not logged in.", "code": "IM015"})
    );
    let (status, fresh) = c.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (status, _) = c.api(access(&fresh), "/users/me").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_unregistered_redirect_or_client_gets_a_page_never_a_redirect() {
    let c = Client::start(None).await;
    for overrides in [
        [("redirect_uri", "http://127.0.0.1:9/oauth/callback/extra")],
        [("redirect_uri", "https://evil.example/cb")],
        [("redirect_uri", "")],
        [("client_id", "someone-else")],
        [("client_id", "")],
    ] {
        let resp = c.get_authorize(&c.request_params(ALL, &overrides)).await;
        assert_eq!(resp.status(), 400, "{overrides:?}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains("cannot be completed"));
    }
}

#[tokio::test]
async fn other_bad_requests_go_back_to_the_client_with_an_error() {
    let c = Client::start(None).await;
    for (overrides, error) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin:all")], "invalid_scope"),
        (vec![("scope", "")], "invalid_scope"),
    ] {
        let resp = c.get_authorize(&c.request_params(ALL, &overrides)).await;
        assert_eq!(resp.status(), 303, "{overrides:?}");
        let cb = callback(&resp);
        assert_eq!(cb.get("error"), Some(error), "{overrides:?}");
        assert_eq!(cb.get("state"), Some("st-123"));
        assert_eq!(cb.get("iss"), Some(c.sb.oauth_issuer().as_str()));
    }
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_and_deny_says_access_denied() {
    let c = Client::start(None).await;
    let login = c.login_page(ALL).await;
    assert!(login.contains("name=\"password\""));
    let resp = c
        .post_form(
            "/oauth/v2/login",
            &[
                ("ticket", &ticket(&login)),
                ("username", "ada"),
                ("password", "guess"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 401);
    let again = resp.text().await.unwrap();
    assert!(again.contains("Wrong user name or password."));
    // The first ticket is used up; the new form carries a new one.
    let reused = c
        .post_form(
            "/oauth/v2/login",
            &[
                ("ticket", &ticket(&login)),
                ("username", "ada"),
                ("password", PEOPLE_PASSWORD),
            ],
        )
        .await;
    assert_eq!(reused.status(), 400);
    let resp = c
        .post_form(
            "/oauth/v2/login",
            &[
                ("ticket", &ticket(&again)),
                ("username", "ada"),
                ("password", PEOPLE_PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let consent = resp.text().await.unwrap();
    assert!(consent.contains("Ada Lovelace") && consent.contains("keys:read"));
    let cb = c.decide(&consent, "deny").await;
    assert_eq!(cb.get("error"), Some("access_denied"));
    assert_eq!(cb.get("state"), Some("st-123"));
    assert!(cb.get("code").is_none());
    // The consent ticket worked once.
    let resp = c
        .post_form(
            "/oauth/v2/consent",
            &[("ticket", &ticket(&consent)), ("decision", "approve")],
        )
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn the_consent_page_lets_its_form_reach_the_client_and_refuses_cross_site_posts() {
    let c = Client::start(None).await;
    let login = c.login_page(ALL).await;
    let resp = c
        .post_form(
            "/oauth/v2/login",
            &[
                ("ticket", &ticket(&login)),
                ("username", "grace"),
                ("password", PEOPLE_PASSWORD),
            ],
        )
        .await;
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9;"),
        "{csp}"
    );
    let consent = resp.text().await.unwrap();
    let resp = c
        .http
        .post(format!("{}/oauth/v2/consent", c.sb.origin()))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("ticket", &ticket(&consent)),
            ("decision", "approve"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // The refused post did not use the ticket up.
    let cb = c.decide(&consent, "approve").await;
    assert!(cb.get("code").is_some());
}

#[tokio::test]
async fn the_token_endpoint_speaks_rfc_6749_errors() {
    let c = Client::start(None).await;
    let code = c.code_for(&ADA, ALL).await;
    let resp = c
        .post_form(
            "/oauth/v2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", c.sb.oauth_client_id()),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(!body.to_string().contains(c.sb.oauth_client_secret()));
    let (status, body) = c.token(&[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, body) = c
        .token(&[("grant_type", "authorization_code"), ("code", &code)])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, body) = c
        .token(&[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // The refused client did not use the code up.
    let (status, _) = c.exchange(&code, VERIFIER).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_api_logs_every_authorization_it_received_and_no_other() {
    let c = Client::start(None).await;
    let tokens = c.tokens_for(&ADA, ALL).await;
    let key = format!("Token {}", c.sb.api_key());
    c.http
        .get(format!("{}/users/me", c.sb.api_base_url()))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    c.api(access(&tokens), "/users/me").await;
    c.api(access(&tokens), "/users/me").await;
    c.api("made-up", "/users/me").await;
    c.http
        .get(format!("{}/users/me", c.sb.api_base_url()))
        .send()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", access(&tokens));
    assert_eq!(
        c.sb.authorizations_seen(),
        [key, bearer.clone(), bearer, "Bearer made-up".to_owned()]
    );
}

#[tokio::test]
async fn generated_people_sign_in_and_each_sees_only_a_team_of_their_own() {
    let c = Client::start_with(SandboxOptions {
        crowd: 3,
        ..SandboxOptions::default()
    })
    .await;
    let third = crate::seed::crowd_person(3).unwrap();
    assert_eq!(
        (third.username, third.user_id, third.team_ids),
        ("person-3", 100_003, &[100_003u64][..])
    );
    let tokens = c.tokens_for(third, "connections:read").await;
    let token = access(&tokens);
    let (status, list) = c.api(token, "/connections?teamId=100003").await;
    assert_eq!(
        (status, ids(&list, "connections")),
        (StatusCode::OK, vec![])
    );
    for other in ["/connections?teamId=100002", "/connections?teamId=1"] {
        let (status, _) = c.api(token, other).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{other}");
    }
    let (_, me) = c.api(token, "/users/me").await;
    assert_eq!(me["authUser"]["name"], "Person 3");
    // Past the crowd, and names that only look alike, are not people.
    for name in ["person-4", "person-0", "person-03", "person-"] {
        assert_eq!(crate::seed::person(name, 3), None, "{name}");
    }
    assert_eq!(
        crate::seed::person("person-2", 3).map(|p| p.user_id),
        Some(100_002)
    );
}
