//! The account page end to end: a person signs in to `/account` through the sandbox's Make
//! login, sees their grant, clients and own audit entries, and revokes clients; the revoked
//! client's token is refused on the next request on every replica. Posts from other sites,
//! without the session or with another session's form token are refused.

use super::*;

/// A browser's cookies for the server's origin (Make's pages are visited without them).
#[derive(Default)]
struct Jar {
    cookies: Vec<(String, String)>,
}

impl Jar {
    /// Keeps the cookies a response sets (a `Max-Age=0` one is removed).
    fn take(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    async fn open(&mut self, url: &str) -> reqwest::Response {
        let response = browser()
            .get(url)
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.take(&response);
        response
    }

    /// A form post as the page's own (`Sec-Fetch-Site: same-origin`), plus `extra` headers.
    async fn post(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = browser()
            .post(url)
            .header("cookie", self.header())
            .form(form);
        if !extra.iter().any(|(n, _)| *n == "sec-fetch-site") {
            request = request.header("sec-fetch-site", "same-origin");
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.take(&response);
        response
    }
}

/// `/account` without a session: the redirect to Make (checked) and its URL.
async fn start(team: &Team, jar: &mut Jar) -> String {
    let start = jar.open(&format!("{}/account", team.base)).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let to_make = location(&start);
    assert!(
        to_make.starts_with(&team.sandbox.oauth_issuer()),
        "{to_make}"
    );
    to_make
}

/// Signs `person` in to the account page in `jar`; the page.
async fn account_sign_in(team: &Team, jar: &mut Jar, person: &str) -> String {
    let to_make = start(team, jar).await;
    let callback = through_make(team, &to_make, person).await;
    let back = jar.open(&callback).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back), "/account");
    account(team, jar).await
}

/// The account page of the session in `jar`.
async fn account(team: &Team, jar: &mut Jar) -> String {
    let page = jar.open(&format!("{}/account", team.base)).await;
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.unwrap()
}

/// The revoke form's post for `client_id`.
async fn revoke_client(
    team: &Team,
    jar: &mut Jar,
    client_id: &str,
    form_token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    jar.post(
        &format!("{}/account/revoke", team.base),
        &[("client_id", client_id), ("form_token", form_token)],
        extra,
    )
    .await
}

/// Whether `page` lists `client_id` with a Revoke button.
fn lists(page: &str, client_id: &str) -> bool {
    page.contains(&format!("name=\"client_id\" value=\"{client_id}\""))
}

/// Waits until the audit trail has `n` rows.
async fn audited(team: &Team, n: usize) {
    for _ in 0..200 {
        let rows = team
            .auth
            .inner
            .store
            .audit(&crate::store::AuditFilter::default())
            .await
            .unwrap();
        if rows.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the audit trail did not get {n} rows");
}

async fn create_key(base: &str, token: &str, team_id: u64, name: &str) -> u64 {
    let (_, created) = call(
        base,
        token,
        "keys_create",
        json!({"teamId": team_id, "name": name, "typeName": "apikeyauth",
            "parameters": {"key": "account-page-secret-5e1f", "placement": "header", "name": "X-API-Key"}}),
    )
    .await;
    created["result"]["structuredContent"]["key"]["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{created}"))
}

#[tokio::test]
async fn the_account_page_shows_grant_clients_and_own_activity_and_revoke_ends_a_client_on_every_replica()
 {
    let team = Team::start(None).await;
    let (other, _stop) = team.replica().await;
    let (first, first_tokens) = tokens_for(&team, "ada").await;
    let (second, second_tokens) = tokens_for(&team, "ada").await;
    let (_, grace) = tokens_for(&team, "grace").await;
    let first_token = first_tokens["access_token"].as_str().unwrap();
    let second_token = second_tokens["access_token"].as_str().unwrap();
    let ada_key = create_key(&team.base, first_token, 1, "Ada's key").await;
    let grace_key = create_key(
        &team.base,
        grace["access_token"].as_str().unwrap(),
        2,
        "Grace's key",
    )
    .await;
    audited(&team, 2).await;
    for base in [&team.base, &other] {
        assert_eq!(list_team_1(base, first_token).await, StatusCode::OK);
    }

    let mut jar = Jar::default();
    let page = account_sign_in(&team, &mut jar, "ada").await;
    let ada = make_sandbox::seed::ADA;
    for expected in [
        ada.name,
        ada.email,
        &ada.user_id.to_string(),
        "Last refreshed",
        "connections:read",
        "keys_create",
        &ada_key.to_string(),
        "Revoke",
        "Sign out",
    ] {
        assert!(page.contains(expected), "{expected:?} not in {page}");
    }
    assert!(lists(&page, &first) && lists(&page, &second), "{page}");
    assert!(
        !page.contains(&grace_key.to_string()),
        "grace's entry shown to ada"
    );
    assert!(!page.contains("account-page-secret-5e1f"));
    // The session works on the other replica too (behind one public name).
    let host = team.base.trim_start_matches("http://");
    let elsewhere = browser()
        .get(format!("{other}/account"))
        .header("host", host)
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::OK);
    assert!(elsewhere.text().await.unwrap().contains(ada.name));
    let headers = jar.open(&format!("{}/account", team.base)).await;
    let header = |name: &str| headers.headers()[name].to_str().unwrap().to_string();
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));

    // Revoke the first client: its tokens are refused at once, on both replicas.
    let form_token = hidden(&page, "form_token");
    let revoked = revoke_client(&team, &mut jar, &first, &form_token, &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert!(location(&revoked).starts_with("/account?revoked="));
    let after = jar
        .open(&format!("{}{}", team.base, location(&revoked)))
        .await;
    let after = after.text().await.unwrap();
    assert!(after.contains("Revoked"), "{after}");
    assert!(!lists(&after, &first) && lists(&after, &second), "{after}");
    // The notice only names a client the person no longer allows, never other text.
    for link in [
        format!("/account?revoked={second}"),
        "/account?revoked=Your+bank+says+hello".to_string(),
    ] {
        let page = jar.open(&format!("{}{link}", team.base)).await;
        let page = page.text().await.unwrap();
        assert!(
            !page.contains("Revoked") && !page.contains("bank"),
            "{page}"
        );
    }
    for base in [&team.base, &other] {
        assert_eq!(
            list_team_1(base, first_token).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(list_team_1(base, second_token).await, StatusCode::OK);
    }
    let refresh = browser()
        .post(format!("{}/token", team.base))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                first_tokens["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", first.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
    // The grant stays while the second client uses it.
    assert!(after.contains("Last refreshed"), "{after}");

    // Revoking the last client ends the Make grant too, here and at Make.
    let make_token = team.sandbox.authorizations_seen().pop().unwrap();
    let revoked = revoke_client(&team, &mut jar, &second, &form_token, &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    for base in [&team.base, &other] {
        assert_eq!(
            list_team_1(base, second_token).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let page = account(&team, &mut jar).await;
    assert!(page.contains("holds no Make grant"), "{page}");
    assert!(!lists(&page, &second));
    // Both revokes and the Make grant's end are in ada's audit trail, and on her page.
    assert_eq!(
        disconnects(&team, "account_revoke").await,
        [
            (Some("client".into()), AuditOutcome::Done),
            (Some("client".into()), AuditOutcome::Done),
            (Some("make-grant".into()), AuditOutcome::Done),
        ]
    );
    assert!(page.contains("account_revoke"), "{page}");
    assert_eq!(
        make_answers(&team, &make_token).await,
        StatusCode::UNAUTHORIZED
    );
    // Grace's client never changed.
    let (status, _) = call(
        &team.base,
        grace["access_token"].as_str().unwrap(),
        "keys_list",
        json!({"teamId": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn account_posts_are_refused_from_other_sites_and_without_the_sessions_form_token() {
    let team = Team::start(None).await;
    let (client, ada) = tokens_for(&team, "ada").await;
    let token = ada["access_token"].as_str().unwrap();
    let mut jar = Jar::default();
    let page = account_sign_in(&team, &mut jar, "ada").await;
    let form_token = hidden(&page, "form_token");
    let refused = [
        ("a wrong form token", "not-the-token".to_string(), vec![]),
        (
            "a cross-site post",
            form_token.clone(),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "a same-site post from another origin",
            form_token.clone(),
            vec![("sec-fetch-site", "same-site")],
        ),
    ];
    for (what, presented, extra) in refused {
        let answer = revoke_client(&team, &mut jar, &client, &presented, &extra).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{what}");
    }
    // An older browser: no Sec-Fetch-Site, another Origin.
    let answer = browser()
        .post(format!("{}/account/revoke", team.base))
        .header("cookie", jar.header())
        .header("origin", "http://attacker.example")
        .form(&[("client_id", client.as_str()), ("form_token", &form_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "a foreign Origin");
    // Without the session cookie, the right token does nothing.
    let answer = revoke_client(&team, &mut Jar::default(), &client, &form_token, &[]).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "no session");
    // Grace's session with Ada's form token is refused; with her own it cannot touch Ada.
    let mut grace = Jar::default();
    let grace_page = account_sign_in(&team, &mut grace, "grace").await;
    let answer = revoke_client(&team, &mut grace, &client, &form_token, &[]).await;
    assert_eq!(
        answer.status(),
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    let answer = revoke_client(
        &team,
        &mut grace,
        &client,
        &hidden(&grace_page, "form_token"),
        &[],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/account", "nothing was revoked");
    // Sign-out is held to the same rules.
    let sign_out = format!("{}/account/sign-out", team.base);
    let answer = jar
        .post(
            &sign_out,
            &[("form_token", &form_token)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let answer = jar.post(&sign_out, &[("form_token", "x")], &[]).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    // After all that, Ada's client still works and is still listed.
    assert_eq!(list_team_1(&team.base, token).await, StatusCode::OK);
    assert!(lists(&account(&team, &mut jar).await, &client));
}

#[tokio::test]
async fn without_a_session_the_account_page_goes_to_make_and_sign_out_ends_the_session() {
    let team = Team::start(None).await;
    let mut jar = Jar::default();
    let start_response = jar.open(&format!("{}/account", team.base)).await;
    assert_eq!(start_response.status(), StatusCode::SEE_OTHER);
    let to_make = url::Url::parse(&location(&start_response)).unwrap();
    let query: Vec<(String, String)> = to_make.query_pairs().into_owned().collect();
    assert_eq!(param(&query, "code_challenge_method"), Some("S256"));
    assert!(param(&query, "state").is_some() && param(&query, "code_challenge").is_some());
    let binding = start_response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        binding.starts_with("mcp-account-sign-in=")
            && binding.ends_with("; Path=/; Max-Age=600; HttpOnly; SameSite=Lax"),
        "{binding}"
    );
    // A session cookie the server does not know is no session.
    let mut forged = Jar::default();
    forged
        .cookies
        .push(("mcp-account".into(), "mcp_as_forged".into()));
    start(&team, &mut forged).await;

    // Make's answer brought to another browser (without the sign-in cookie) is refused, and
    // the sign-in is spent.
    let callback = through_make(&team, to_make.as_str(), "grace").await;
    let elsewhere = Jar::default().open(&callback).await;
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    assert!(elsewhere.headers().get("set-cookie").is_none());
    let replay = jar.open(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // Grace has allowed no client: the page needs no Make grant, and none is kept.
    let page = account_sign_in(&team, &mut jar, "grace").await;
    assert!(page.contains("holds no Make grant"), "{page}");
    assert!(page.contains("None."), "{page}");
    assert_eq!(
        jar.get("mcp-account-sign-in"),
        None,
        "the binding is cleared"
    );
    let session = jar.get("mcp-account").unwrap().to_string();
    assert!(session.starts_with("mcp_as_"));
    // The database holds the session's hash only.
    let path = team
        .database
        .trim_start_matches("sqlite://")
        .trim_end_matches("?mode=rwc")
        .to_string();
    let mut raw = std::fs::read(&path).unwrap();
    raw.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    assert!(!raw.windows(session.len()).any(|w| w == session.as_bytes()));

    // Sign-out ends the session in the database, not only in this browser.
    let signed_out = jar
        .post(
            &format!("{}/account/sign-out", team.base),
            &[("form_token", &hidden(&page, "form_token"))],
            &[],
        )
        .await;
    assert_eq!(signed_out.status(), StatusCode::OK);
    assert!(signed_out.text().await.unwrap().contains("signed out"));
    assert_eq!(jar.get("mcp-account"), None);
    let mut old = Jar::default();
    old.cookies.push(("mcp-account".into(), session));
    start(&team, &mut old).await;
}
