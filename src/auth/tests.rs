//! Team mode end to end in one process: the sandbox as Make's OAuth provider, this server's
//! authorization server and resource check, real HTTP between them. The independent clients
//! (Python and TypeScript SDKs) run the same flows from scripts/; these tests cover what only
//! the inside can see: the sandbox's request log, the stored tokens, two replicas on one
//! database, expiry.

use std::time::Duration;

use make_sandbox::{Sandbox, SandboxOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::AuthServer;
use super::secrets;
use super::settings::{RawAuthSettings, SandboxDefaults, Surroundings};
use crate::make::budget::{Budget, BudgetSettings, PlanLimit};
use crate::make::{ClientSettings, MakeClient};
use crate::server::MakeServer;
use crate::store::{AuditOutcome, Keyring, Store, TokenGrant};
use crate::transport::http::{self, HttpOptions};

const REDIRECT: &str = "http://127.0.0.1:33418/callback";

/// A team-mode server on the sandbox; `replica` builds a second server on the same database.
struct Team {
    sandbox: Sandbox,
    base: String,
    auth: AuthServer,
    database: String,
    keyring_text: String,
    _dir: TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn browser() -> reqwest::Client {
    crate::make::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Team {
    async fn start(make_lifetime: Option<Duration>) -> Team {
        Self::start_with(make_lifetime, None, None).await
    }

    /// A team server keeping Make's request limit with `budget`, on a sandbox enforcing
    /// `make_limit` requests a minute per organization.
    async fn start_with(
        make_lifetime: Option<Duration>,
        budget: Option<BudgetSettings>,
        make_limit: Option<u32>,
    ) -> Team {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sandbox = Sandbox::start_with(SandboxOptions {
            oauth_redirect_uris: vec![format!("{base}/oauth/callback")],
            oauth_access_token_lifetime: make_lifetime,
            rate_limit: make_limit,
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "team-test-{}",
            secrets::random(secrets::Kind::Internal).replace(['-', '_'], "")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let database = format!("sqlite://{}?mode=rwc", dir.join("team.db").display());
        let keyring_text = format!("1:{}", "ab".repeat(8) + &"cd9f".repeat(12));
        let (auth, stop) =
            serve_with(&sandbox, listener, &base, &database, &keyring_text, budget).await;
        Team {
            sandbox,
            base,
            auth,
            database,
            keyring_text,
            _dir: TempDir(dir),
            _stop: stop,
        }
    }

    /// Another server on the same database and key (a replica), on its own port.
    async fn replica(&self) -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let own = format!("http://{}", listener.local_addr().unwrap());
        let (_auth, stop) = serve_as(
            &self.sandbox,
            listener,
            &self.base,
            &self.database,
            &self.keyring_text,
        )
        .await;
        (own, stop)
    }
}

/// Serves team mode on `listener` with `public` as its public URL.
async fn serve_as(
    sandbox: &Sandbox,
    listener: TcpListener,
    public: &str,
    database: &str,
    keyring: &str,
) -> (AuthServer, tokio::sync::oneshot::Sender<()>) {
    serve_with(sandbox, listener, public, database, keyring, None).await
}

/// [`serve_as`], keeping Make's request limit with `budget` when given.
async fn serve_with(
    sandbox: &Sandbox,
    listener: TcpListener,
    public: &str,
    database: &str,
    keyring: &str,
    budget: Option<BudgetSettings>,
) -> (AuthServer, tokio::sync::oneshot::Sender<()>) {
    let mut make = MakeClient::new(&ClientSettings {
        base_url: Some(sandbox.api_base_url().parse().unwrap()),
        ..ClientSettings::default()
    })
    .unwrap();
    if let Some(budget) = budget {
        make = make.with_budget(Budget::new(budget));
    }
    let raw = RawAuthSettings {
        public_url: Some(public.to_string()),
        database: Some(database.to_string()),
        encryption_key: Some(crate::config::Secret::from(keyring.to_string())),
        ..RawAuthSettings::default()
    };
    let settings = raw
        .resolve(Surroundings {
            listen: listener.local_addr().unwrap(),
            allowed_hosts: &[url::Url::parse(public).unwrap()
                [url::Position::BeforeHost..url::Position::BeforePath]
                .to_string()],
            api_base: make.base_url().cloned(),
            sandbox: Some(SandboxDefaults {
                issuer: sandbox.oauth_issuer().parse().unwrap(),
                client_id: sandbox.oauth_client_id().to_string(),
                client_secret: crate::config::Secret::from(
                    sandbox.oauth_client_secret().to_string(),
                ),
            }),
        })
        .await
        .unwrap();
    let auth = AuthServer::new(settings, make.clone()).unwrap();
    let server = MakeServer::new(make, None);
    // As startup::team_mode does: every person's changes are audited in the team database.
    server.audit_to(crate::server::Auditor::new(auth.store().clone(), "token"));
    let options = HttpOptions {
        oauth: Some(auth.clone()),
        allowed_hosts: vec![
            url::Url::parse(public).unwrap()[url::Position::BeforeHost..url::Position::BeforePath]
                .to_string(),
        ],
        ..HttpOptions::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(http::serve_on(listener, server, options, async move {
        let _ = stopped.await;
    }));
    (auth, stop)
}

/// A registered public client: its id.
async fn register(base: &str, name: &str) -> String {
    let answer: Value = browser()
        .post(format!("{base}/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "client_name": name, "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["client_id"].as_str().unwrap().to_string()
}

/// The value of the hidden input `name` in an HTML page.
fn hidden(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// How a sign-in went.
#[derive(Debug)]
enum SignIn {
    /// The client's redirect URI got these parameters.
    Redirected(Vec<(String, String)>),
    /// The server showed its consent page (the person has not decided), with its ticket.
    Consent(String),
}

/// Walks a person through `/authorize` up to the client's redirect URI (or this server's
/// consent page when `decision` is `None`).
async fn sign_in(
    team: &Team,
    client_id: &str,
    person: &str,
    verifier: &str,
    decision: Option<&str>,
) -> SignIn {
    let http = browser();
    let challenge = secrets::pkce_challenge(verifier);
    let start = http
        .get(format!("{}/authorize", team.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "client-state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        start.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        start.text().await
    );
    let to_make = location(&start);
    assert!(
        to_make.starts_with(&team.sandbox.oauth_issuer()),
        "{to_make}"
    );
    let callback = through_make(team, &to_make, person).await;
    let mut answer = http.get(&callback).send().await.unwrap();
    if answer.status() == StatusCode::OK {
        let page = answer.text().await.unwrap();
        assert!(page.contains("act as you in Make"), "{page}");
        let ticket = hidden(&page, "ticket");
        let Some(decision) = decision else {
            return SignIn::Consent(ticket);
        };
        answer = http
            .post(format!("{}/consent", team.base))
            .form(&[("ticket", ticket.as_str()), ("decision", decision)])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to_client = url::Url::parse(&location(&answer)).unwrap();
    assert!(to_client.as_str().starts_with(REDIRECT), "{to_client}");
    SignIn::Redirected(to_client.query_pairs().into_owned().collect())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Redeems `code` at `/token`.
async fn redeem(base: &str, client_id: &str, code: &str, verifier: &str) -> (StatusCode, Value) {
    let response = browser()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A signed-in person's tokens.
async fn tokens_for(team: &Team, person: &str) -> (String, Value) {
    let client_id = register(&team.base, &format!("{person}'s client")).await;
    let verifier = secrets::random(secrets::Kind::Internal);
    let SignIn::Redirected(params) =
        sign_in(team, &client_id, person, &verifier, Some("allow")).await
    else {
        panic!("no redirect");
    };
    let (status, tokens) = redeem(
        &team.base,
        &client_id,
        param(&params, "code").unwrap(),
        &verifier,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (client_id, tokens)
}

/// A raw MCP `tools/call` with `token`; the HTTP status and the body.
async fn call(base: &str, token: &str, tool: &str, arguments: Value) -> (StatusCode, Value) {
    let response = browser()
        .post(format!("{base}/mcp"))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The status of listing team 1's connections with `token`.
async fn list_team_1(base: &str, token: &str) -> StatusCode {
    call(base, token, "connections_list", json!({"teamId": 1}))
        .await
        .0
}

fn connection_ids(answer: &Value) -> Vec<u64> {
    answer["result"]["structuredContent"]["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("no connections in {answer}"))
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn two_people_each_act_as_themselves_and_tokens_never_cross_to_make() {
    let team = Team::start(None).await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let (_, grace) = tokens_for(&team, "grace").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    let grace_token = grace["access_token"].as_str().unwrap();
    assert!(ada_token.starts_with("mcp_at_") && grace_token.starts_with("mcp_at_"));

    let (status, own) = call(
        &team.base,
        ada_token,
        "connections_list",
        json!({"teamId": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!connection_ids(&own).is_empty());
    let (_, foreign) = call(
        &team.base,
        ada_token,
        "connections_list",
        json!({"teamId": 2}),
    )
    .await;
    assert_eq!(foreign["result"]["isError"], true, "{foreign}");
    assert!(foreign.to_string().contains("403"), "{foreign}");
    let (_, grace_own) = call(
        &team.base,
        grace_token,
        "connections_list",
        json!({"teamId": 2}),
    )
    .await;
    assert!(!connection_ids(&grace_own).is_empty());
    let (_, grace_foreign) = call(
        &team.base,
        grace_token,
        "connections_list",
        json!({"teamId": 1}),
    )
    .await;
    assert_eq!(grace_foreign["result"]["isError"], true);

    // Make saw only Make's tokens: neither MCP token, and each person's own Make token.
    let seen = team.sandbox.authorizations_seen();
    assert!(!seen.is_empty());
    for value in &seen {
        assert!(
            !value.contains(ada_token) && !value.contains(grace_token),
            "an MCP token reached Make"
        );
        assert!(value.starts_with("Bearer "), "{value}");
    }
    let make_tokens: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(
        make_tokens.len(),
        2,
        "one Make token per person: {make_tokens:?}"
    );
    // ... and no Make token reached a client: the clients hold only this server's tokens.
    for value in &seen {
        let make = value.trim_start_matches("Bearer ");
        for answer in [&ada, &grace] {
            assert!(
                !answer.to_string().contains(make),
                "a Make token reached a client"
            );
        }
    }
}

#[tokio::test]
async fn each_persons_changes_are_audited_as_them_with_their_client() {
    use crate::store::AuditFilter;
    let team = Team::start(None).await;
    let (ada_client, ada) = tokens_for(&team, "ada").await;
    let (grace_client, grace) = tokens_for(&team, "grace").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    let grace_token = grace["access_token"].as_str().unwrap();
    let secret = "team-audit-secret-41d7";
    let (_, created) = call(
        &team.base,
        ada_token,
        "keys_create",
        json!({"teamId": 1, "name": "Ada's", "typeName": "apikeyauth",
            "parameters": {"key": secret, "placement": "header", "name": "X-API-Key"}}),
    )
    .await;
    let key_id = created["result"]["structuredContent"]["key"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{created}"));
    // Grace cannot rename Ada's key (another team): Make refuses it.
    let (_, failed) = call(
        &team.base,
        grace_token,
        "keys_update",
        json!({"keyId": key_id, "name": "Grace's now"}),
    )
    .await;
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    let (_, refused) = call(
        &team.base,
        ada_token,
        "keys_create",
        json!({"teamId": 1, "name": "x", "typeName": "apikeyauth", "parameters": {}}),
    )
    .await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    call(&team.base, ada_token, "keys_list", json!({"teamId": 1})).await;

    let store = &team.auth.inner.store;
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = store.audit(&AuditFilter::default()).await.unwrap();
        if rows.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ada_id = make_sandbox::seed::ADA.user_id.to_string();
    let grace_id = make_sandbox::seed::GRACE.user_id.to_string();
    let key = key_id.to_string();
    let mut seen: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.person.as_str(),
                r.client_id.as_deref(),
                r.tool.as_str(),
                r.object_id.as_deref(),
                r.outcome,
            )
        })
        .collect();
    seen.sort_by_key(|r| format!("{r:?}"));
    let mut expected = vec![
        (
            ada_id.as_str(),
            Some(ada_client.as_str()),
            "keys_create",
            Some(key.as_str()),
            AuditOutcome::Done,
        ),
        (
            grace_id.as_str(),
            Some(grace_client.as_str()),
            "keys_update",
            Some(key.as_str()),
            AuditOutcome::Failed,
        ),
        (
            ada_id.as_str(),
            Some(ada_client.as_str()),
            "keys_create",
            None,
            AuditOutcome::Refused,
        ),
    ];
    expected.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(seen, expected, "{rows:#?}");
    let everything = format!("{rows:?}");
    assert!(!everything.contains(secret) && !everything.contains(ada_token));
    // Ada's own rows, by the filter the subcommand uses.
    let of_ada = store
        .audit(&AuditFilter {
            person: Some(ada_id.clone()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(of_ada.len(), 2);
}

#[tokio::test]
async fn refused_tokens_get_401_with_the_challenge() {
    let team = Team::start(None).await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let token = ada["access_token"].as_str().unwrap();
    let grant = team
        .auth
        .inner
        .store
        .access_token(&secrets::hash(token))
        .await
        .unwrap()
        .unwrap();
    let store = &team.auth.inner.store;
    let now = super::now();
    // Expired, and issued for another resource: both stored, both refused.
    store
        .put_access_token(&secrets::hash("mcp_at_expired"), &grant, now - 1)
        .await
        .unwrap();
    let elsewhere = TokenGrant {
        resource: "https://other.example.com/mcp".into(),
        ..grant.clone()
    };
    store
        .put_access_token(&secrets::hash("mcp_at_elsewhere"), &elsewhere, now + 600)
        .await
        .unwrap();
    for (what, bad) in [
        ("expired", "mcp_at_expired"),
        ("wrong audience", "mcp_at_elsewhere"),
        (
            "forged",
            "mcp_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
    ] {
        let (status, body) = call(&team.base, bad, "connections_list", json!({"teamId": 1})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    }
    let response = browser()
        .post(format!("{}/mcp", team.base))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            team.base
        )),
        "{challenge}"
    );
    // Revoked at /revoke.
    let revoked = browser()
        .post(format!("{}/revoke", team.base))
        .form(&[("token", token), ("client_id", grant.client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let status = list_team_1(&team.base, token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_consent_no_code_and_nothing_replays() {
    let team = Team::start(None).await;
    let client_id = register(&team.base, "undecided").await;
    let verifier = secrets::random(secrets::Kind::Internal);
    // The person signed in with Make but has not consented: the client has no code.
    let SignIn::Consent(ticket) = sign_in(&team, &client_id, "ada", &verifier, None).await else {
        panic!("the first sign-in of a client must ask for consent");
    };
    // Denied: the client gets access_denied and no code.
    let denied = browser()
        .post(format!("{}/consent", team.base))
        .form(&[("ticket", ticket.as_str()), ("decision", "deny")])
        .send()
        .await
        .unwrap();
    let to_client = url::Url::parse(&location(&denied)).unwrap();
    let params: Vec<(String, String)> = to_client.query_pairs().into_owned().collect();
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "code"), None);
    assert_eq!(param(&params, "state"), Some("client-state"));
    // The ticket was spent.
    let again = browser()
        .post(format!("{}/consent", team.base))
        .form(&[("ticket", ticket.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    // A consent posted from another site is refused.
    let SignIn::Consent(ticket) = sign_in(&team, &client_id, "ada", &verifier, None).await else {
        panic!("denied consent is not remembered");
    };
    let forged = browser()
        .post(format!("{}/consent", team.base))
        .header("sec-fetch-site", "cross-site")
        .form(&[("ticket", ticket.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // Allowed: a code, with iss; the code works once, and only with the right verifier.
    let SignIn::Redirected(params) =
        sign_in(&team, &client_id, "ada", &verifier, Some("allow")).await
    else {
        panic!("no redirect");
    };
    assert_eq!(param(&params, "iss"), Some(team.base.as_str()));
    let code = param(&params, "code").unwrap();
    let (status, body) = redeem(
        &team.base,
        &client_id,
        code,
        "wrong-verifier-wrong-verifier-wrong-verifier-x",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let SignIn::Redirected(params) =
        sign_in(&team, &client_id, "ada", &verifier, Some("allow")).await
    else {
        panic!("no redirect");
    };
    let code = param(&params, "code").unwrap();
    let (status, tokens) = redeem(&team.base, &client_id, code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, body) = redeem(&team.base, &client_id, code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // A replayed state (Make's callback again) finds nothing.
    let http = browser();
    let start = http
        .get(format!("{}/authorize", team.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &secrets::pkce_challenge(&verifier)),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let to_make = url::Url::parse(&location(&start)).unwrap();
    let state = to_make
        .query_pairs()
        .find(|(n, _)| n == "state")
        .unwrap()
        .1
        .into_owned();
    let first = http
        .get(format!("{}/oauth/callback", team.base))
        .query(&[("state", state.as_str()), ("error", "access_denied")])
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let replay = http
        .get(format!("{}/oauth/callback", team.base))
        .query(&[("state", state.as_str()), ("code", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_a_page_never_a_redirect() {
    let team = Team::start(None).await;
    let client_id = register(&team.base, "strict").await;
    let response = browser()
        .get(format!("{}/authorize", team.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", "https://attacker.example.com/cb"),
            (
                "code_challenge",
                &secrets::pkce_challenge(&secrets::random(secrets::Kind::Internal)),
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    // No PKCE: back to the (registered) client with invalid_request.
    let response = browser()
        .get(format!("{}/authorize", team.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&response).contains("error=invalid_request"));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_sign_in() {
    let team = Team::start(None).await;
    let (client_id, first) = tokens_for(&team, "ada").await;
    let refresh = |token: String| {
        let base = team.base.clone();
        let client_id = client_id.clone();
        async move {
            let response = browser()
                .post(format!("{base}/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                    ("client_id", client_id.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let old = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = refresh(old.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let (status, body) = refresh(old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The reuse burnt the sign-in: the newer tokens are gone too.
    let status = list_team_1(&team.base, second["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh(second["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn two_replicas_refresh_a_due_grant_once() {
    // Make's tokens live 125 s: fresh for the first 5 s, then due (refreshed with 120 s left).
    let team = Team::start(Some(Duration::from_secs(125))).await;
    let (other, _stop) = team.replica().await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let token = ada["access_token"].as_str().unwrap().to_string();
    // A person signed in through one replica works through the other.
    let (status, answer) = call(&other, &token, "connections_list", json!({"teamId": 1})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(team.sandbox.oauth_refreshes(), 0);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let calls = (0..10).map(|i| {
        let base = if i % 2 == 0 {
            team.base.clone()
        } else {
            other.clone()
        };
        let token = token.clone();
        tokio::spawn(
            async move { call(&base, &token, "connections_list", json!({"teamId": 1})).await },
        )
    });
    for call in calls {
        let (status, answer) = call.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(
            answer["result"]["isError"].is_null() || answer["result"]["isError"] == false,
            "{answer}"
        );
    }
    assert_eq!(
        team.sandbox.oauth_refreshes(),
        1,
        "one refresh for both replicas"
    );
}

#[tokio::test]
async fn a_grant_make_no_longer_honours_means_sign_in_again() {
    let team = Team::start(Some(Duration::from_secs(121))).await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let token = ada["access_token"].as_str().unwrap();
    // Revoke the Make grant at Make (the sandbox), then let it come due.
    let grant = team
        .auth
        .inner
        .store
        .access_token(&secrets::hash(token))
        .await
        .unwrap()
        .unwrap();
    let (make, _) = team
        .auth
        .inner
        .store
        .grant(&grant.person)
        .await
        .unwrap()
        .unwrap();
    team.auth
        .inner
        .upstream
        .revoke(make.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = call(&team.base, token, "connections_list", json!({"teamId": 1})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.to_string().contains("sign in again"), "{body}");
}

#[tokio::test]
async fn stored_grants_hold_no_token_in_clear() {
    let team = Team::start(None).await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let status = list_team_1(&team.base, ada["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!team.sandbox.authorizations_seen().is_empty());
    let path = team
        .database
        .trim_start_matches("sqlite://")
        .trim_end_matches("?mode=rwc")
        .to_string();
    let mut raw = std::fs::read(&path).unwrap();
    for suffix in ["-wal", "-shm"] {
        raw.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
    }
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    for seen in team.sandbox.authorizations_seen() {
        assert!(
            !contains(seen.trim_start_matches("Bearer ")),
            "a Make token in clear"
        );
    }
    assert!(!contains(ada["access_token"].as_str().unwrap()));
    assert!(!contains(ada["refresh_token"].as_str().unwrap()));
    // And a store opened with another key cannot read the grant.
    let other = Store::open(&team.database)
        .await
        .unwrap()
        .with_keyring(Keyring::generate());
    let grant = team
        .auth
        .inner
        .store
        .access_token(&secrets::hash(ada["access_token"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert!(other.grant(&grant.person).await.is_err());
}

/// Serves `document` at `/client.json` on a loopback port; the document's URL.
async fn serve_document(document: impl Fn(&str) -> Value + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/client.json", listener.local_addr().unwrap());
    let body = document(&url);
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_client_id_metadata_document_registers_its_client() {
    let team = Team::start(None).await;
    let client_id = serve_document(|url| {
        json!({"client_id": url, "client_name": "Doc client", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})
    })
    .await;
    let verifier = secrets::random(secrets::Kind::Internal);
    let SignIn::Redirected(params) =
        sign_in(&team, &client_id, "grace", &verifier, Some("allow")).await
    else {
        panic!("no redirect");
    };
    let (status, tokens) = redeem(
        &team.base,
        &client_id,
        param(&params, "code").unwrap(),
        &verifier,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // A document naming another client_id is refused with a page.
    let liar = serve_document(
        |_| json!({"client_id": "https://else.example.com/c.json", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let response = browser()
        .get(format!("{}/authorize", team.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", liar.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &secrets::pkce_challenge(&verifier)),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("another client_id"));
}

#[tokio::test]
async fn outside_the_sandbox_metadata_documents_on_private_addresses_are_not_fetched() {
    let team = Team::start(None).await;
    let url = serve_document(|url| json!({"client_id": url, "redirect_uris": [REDIRECT]})).await;
    let https = url.replace("http://", "https://");
    let clients =
        super::clients::Clients::new(team.auth.inner.store.clone(), Vec::new(), false).unwrap();
    let refused = clients.find(&https).await.unwrap_err();
    assert!(refused.contains("private or loopback"), "{refused}");
    // A plain-http client id is not a metadata document outside the sandbox at all.
    let refused = clients.find(&url).await.unwrap_err();
    assert!(refused.contains("not registered"), "{refused}");
}

#[tokio::test]
async fn preregistered_confidential_clients_must_authenticate() {
    let team = Team::start(None).await;
    let clients = super::clients::Clients::new(
        team.auth.inner.store.clone(),
        vec![super::clients::Preregistered {
            client_id: "team-cli".into(),
            client_secret: Some("a-long-preregistered-secret".into()),
            redirect_uris: vec![REDIRECT.into()],
            client_name: Some("Team CLI".into()),
        }],
        false,
    )
    .unwrap();
    clients.store_preregistered().await.unwrap();
    let token = |secret: &'static str| {
        let base = team.base.clone();
        async move {
            let response = browser()
                .post(format!("{base}/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", "team-cli"),
                    ("client_secret", secret),
                ])
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = token("wrong").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, body) = token("a-long-preregistered-secret").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn disconnecting_the_last_client_ends_its_consent_and_the_make_grant() {
    let team = Team::start(None).await;
    let (client_id, ada) = tokens_for(&team, "ada").await;
    let status = list_team_1(&team.base, ada["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let make_token = team.sandbox.authorizations_seen().pop().unwrap();
    // Another client cannot revoke ada's token.
    let stranger = register(&team.base, "stranger").await;
    let refresh = ada["refresh_token"].as_str().unwrap();
    let revoke = |client: String| {
        let base = team.base.clone();
        let refresh = refresh.to_string();
        async move {
            browser()
                .post(format!("{base}/revoke"))
                .form(&[("token", refresh.as_str()), ("client_id", client.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke(stranger).await, StatusCode::OK);
    let status = list_team_1(&team.base, ada["access_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another client's revocation must change nothing"
    );
    // The client itself disconnects: its tokens end, and with no client left, Make's grant.
    assert_eq!(revoke(client_id.clone()).await, StatusCode::OK);
    let status = list_team_1(&team.base, ada["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        make_answers(&team, &make_token).await,
        StatusCode::UNAUTHORIZED,
        "the Make grant must be revoked at Make"
    );
    // Both ends are in the audit trail, under ada's Make user id and the client (the
    // stranger's attempt ended nothing and left no row).
    let rows = disconnects(&team, "oauth_revoke").await;
    assert_eq!(
        rows,
        [
            (Some("client".into()), AuditOutcome::Done),
            (Some("make-grant".into()), AuditOutcome::Done),
        ]
    );
    // The consent ended: the next sign-in of that client asks again.
    let verifier = secrets::random(secrets::Kind::Internal);
    assert!(matches!(
        sign_in(&team, &client_id, "ada", &verifier, None).await,
        SignIn::Consent(_)
    ));
}

/// What the sandbox's Make API answers `GET /users/me` with `authorization` (a raw
/// `Authorization` value the API saw): 401 once that grant was revoked.
async fn make_answers(team: &Team, authorization: &str) -> StatusCode {
    browser()
        .get(format!("{}/users/me", team.sandbox.api_base_url()))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
}

/// The audit rows of disconnects named `tool` (object type and outcome, sorted: rows of one
/// second have no order), after checking that each names ada and a client.
async fn disconnects(team: &Team, tool: &str) -> Vec<(Option<String>, AuditOutcome)> {
    let rows = team
        .auth
        .inner
        .store
        .audit(&crate::store::AuditFilter {
            tool: Some(tool.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    for row in &rows {
        assert_eq!(row.person, make_sandbox::seed::ADA.user_id.to_string());
        assert!(row.client_id.is_some(), "{row:?}");
        assert_eq!(row.object_id, None);
    }
    let mut rows: Vec<_> = rows
        .into_iter()
        .map(|r| (r.object_type, r.outcome))
        .collect();
    rows.sort_by_key(|r| format!("{r:?}"));
    rows
}

/// The text of a tool result.
fn result_text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The seconds a held-back call says to wait ("try again in N s").
fn retry_secs(text: &str) -> u64 {
    let (_, after) = text
        .split_once("try again in ")
        .unwrap_or_else(|| panic!("no retry time in {text}"));
    after
        .split_once(" s")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {text}"))
}

/// Team mode's budget on one replica: `per_window` requests a minute, waits up to
/// `max_wait`, a tenth held back.
fn team_budget(per_window: u32, max_wait: Duration, plan_limit: PlanLimit) -> BudgetSettings {
    BudgetSettings {
        per_window: Some(per_window),
        max_wait,
        hold_back: true,
        plan_limit,
        replicas: 1,
    }
}

/// `connections_list` of team `team_id` as `token`: the JSON-RPC answer (HTTP 200 checked).
async fn list_team(team: &Team, token: &str, team_id: u64) -> Value {
    let (status, answer) = call(
        &team.base,
        token,
        "connections_list",
        json!({ "teamId": team_id }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Calls `connections_list` for team 1 as `token` until the request budget holds the caller
/// back: how many calls were served (failing past `expected`), and the refusal's text.
async fn until_held_back(team: &Team, token: &str, expected: usize) -> (usize, String) {
    let mut served = 0;
    loop {
        let answer = list_team(team, token, 1).await;
        if answer["result"]["isError"] == true {
            return (served, result_text(&answer));
        }
        served += 1;
        assert!(served <= expected, "more than expected: {answer}");
    }
}

#[tokio::test]
async fn a_runaway_cannot_spend_the_organizations_budget_and_make_never_answers_429() {
    // 30 a minute for the organization, as the sandbox enforces it too (and reports as the
    // plan's limit); the two sign-ins' look-ups (organizations, then the plan's limit) count.
    let budget = team_budget(30, Duration::from_millis(500), PlanLimit::Lowers);
    let team = Team::start_with(None, Some(budget), Some(30)).await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    // Ada's agent runs away: alone, she gets the budget but its hold-back (3 of 30), less
    // her sign-in's two look-ups...
    let (served, refusal) = until_held_back(&team, ada_token, 25).await;
    assert_eq!(served, 25, "{refusal}");
    // ...and is then told how long to wait, not handed Make's 429.
    assert!(refusal.starts_with("Not sent to Make"), "{refusal}");
    assert!(refusal.contains("your share"), "{refusal}");
    assert!(!refusal.contains("HTTP 429"), "{refusal}");
    let wait = retry_secs(&refusal);
    assert!((40..=61).contains(&wait), "{refusal}");
    assert!(
        refusal.contains("safe"),
        "the hint says repeating is safe: {refusal}"
    );

    // Grace signs in, and though in the same organization, is served at once.
    let (_, grace) = tokens_for(&team, "grace").await;
    let grace_token = grace["access_token"].as_str().unwrap();
    // Both signed in to organization 1 on a plan of 30 a minute, learned from Make at
    // sign-in.
    let store = team.auth.store();
    for who in ["11", "12"] {
        let id = store.upsert_person(who, None, None).await.unwrap();
        let person = store.person(&id).await.unwrap().unwrap();
        assert_eq!(person.organization_id, Some(1), "user {who}");
        assert_eq!(person.organization_api_limit, Some(30), "user {who}");
    }

    // Grace is served at once (her sign-in's look-ups took two of the slots held back).
    let answer = list_team(&team, grace_token, 2).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert!(!connection_ids(&answer).is_empty());
    // Now the whole budget is spent: both are held back, neither reaches Make.
    let seen = team.sandbox.requests_seen().total();
    let answer = list_team(&team, grace_token, 2).await;
    let text = result_text(&answer);
    assert!(
        text.contains("budget on this server (30 requests a minute) is used up"),
        "{text}"
    );
    let answer = list_team(&team, ada_token, 1).await;
    assert!(result_text(&answer).contains("your share"), "{answer}");
    assert_eq!(
        team.sandbox.requests_seen().total(),
        seen,
        "held-back calls reached Make"
    );
    assert_eq!(team.sandbox.rate_limited(), 0, "Make answered 429");
}

#[tokio::test]
async fn a_default_budget_follows_the_organizations_plan_as_make_reports_it() {
    // The default (10 here) gives way to the plan's 40 a minute, which the sandbox enforces
    // and reports at sign-in: ada alone gets 40 less the hold-back (4) and her sign-in's two
    // look-ups, far past the default, and Make never answers 429.
    let budget = team_budget(10, Duration::ZERO, PlanLimit::Replaces);
    let team = Team::start_with(None, Some(budget), Some(40)).await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    let (served, refusal) = until_held_back(&team, ada_token, 34).await;
    assert_eq!(served, 34, "{refusal}");
    assert!(refusal.contains("your share"), "{refusal}");
    assert_eq!(team.sandbox.rate_limited(), 0, "Make answered 429");
}

#[tokio::test]
async fn a_429_from_make_pauses_the_organization_for_its_retry_after() {
    use make_sandbox::Fault;
    let budget = team_budget(60, Duration::from_secs(3), PlanLimit::Lowers);
    let team = Team::start_with(None, Some(budget), None).await;
    let (_, ada) = tokens_for(&team, "ada").await;
    let (_, grace) = tokens_for(&team, "grace").await;
    let ada_token = ada["access_token"].as_str().unwrap();
    let grace_token = grace["access_token"].as_str().unwrap();

    // A short Retry-After is waited out inside the call, which then succeeds.
    team.sandbox.reset_requests_seen();
    team.sandbox.inject(
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
        1,
    );
    let started = std::time::Instant::now();
    let (_, answer) = call(
        &team.base,
        ada_token,
        "connections_list",
        json!({"teamId": 1}),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        team.sandbox.requests_seen().total(),
        2,
        "the 429, then the retry"
    );

    // Make answering 429 to every try: the call ends with when to try again, not Make's 429.
    team.sandbox.inject(
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
        3,
    );
    let (_, answer) = call(
        &team.base,
        ada_token,
        "connections_list",
        json!({"teamId": 1}),
    )
    .await;
    let text = result_text(&answer);
    assert!(text.contains("Make answered 429"), "{text}");
    assert!(text.contains("after 3 earlier tries"), "{text}");
    assert_eq!(retry_secs(&text), 1, "{text}");
    assert!(!text.contains("HTTP 429"), "{text}");
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A long one pauses the organization: the call ends with when to try again...
    team.sandbox.inject(
        Fault::TooManyRequests {
            retry_after: Some(30),
        },
        1,
    );
    let (_, answer) = call(
        &team.base,
        ada_token,
        "connections_list",
        json!({"teamId": 1}),
    )
    .await;
    let text = result_text(&answer);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(text.contains("Make answered 429"), "{text}");
    assert!((29..=30).contains(&retry_secs(&text)), "{text}");
    assert!(
        text.contains("after an earlier try that reached Make"),
        "{text}"
    );
    // ...and everyone else of the organization waits too, without reaching Make.
    let seen = team.sandbox.requests_seen().total();
    let (_, answer) = call(
        &team.base,
        grace_token,
        "connections_list",
        json!({"teamId": 2}),
    )
    .await;
    let text = result_text(&answer);
    assert!(text.contains("pauses your organization's calls"), "{text}");
    assert!(!text.contains("earlier try"), "{text}");
    assert_eq!(team.sandbox.requests_seen().total(), seen);
}

/// Walks Make's login and consent (the sandbox) from `to_make`; the callback URL.
async fn through_make(team: &Team, to_make: &str, person: &str) -> String {
    let http = browser();
    let login = http
        .get(to_make)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sandbox = team.sandbox.oauth_issuer();
    let consent = http
        .post(format!("{sandbox}/oauth/v2/login"))
        .form(&[
            ("ticket", hidden(&login, "ticket").as_str()),
            ("username", person),
            ("password", "sandbox"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let back = http
        .post(format!("{sandbox}/oauth/v2/consent"))
        .form(&[
            ("ticket", hidden(&consent, "ticket").as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    let callback = location(&back);
    assert!(
        callback.starts_with(&format!("{}/oauth/callback", team.base)),
        "{callback}"
    );
    callback
}

mod account;
