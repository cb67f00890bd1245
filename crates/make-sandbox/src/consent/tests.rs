//! Consent-page tests that must see inside the store: key parameters are stored but never
//! returned by the API, so only the store can show what a key form created.

use serde_json::{Value, json};

use crate::Sandbox;
use crate::state::CredState;

struct Page {
    sb: Sandbox,
    /// Does not follow redirects, so the 303 of a successful post is visible.
    http: reqwest::Client,
}

impl Page {
    async fn new() -> Self {
        let http = crate::tests::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Page {
            sb: Sandbox::start().await.unwrap(),
            http,
        }
    }

    /// Creates a request for keys; returns its id and the credential ids in order.
    async fn request_keys(&self, keys: Value) -> (String, Vec<String>) {
        self.request(json!({"teamId": 1, "keys": keys})).await
    }

    /// Creates a request from a `create-by-credentials` body; returns its id and the
    /// credential ids in order.
    async fn request(&self, body: Value) -> (String, Vec<String>) {
        let resp = self
            .http
            .post(format!(
                "{}/credential-requests/actions/create-by-credentials",
                self.sb.api_base_url()
            ))
            .header("Authorization", format!("Token {}", self.sb.api_key()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        let creds = body["credentials"].as_array().unwrap();
        (
            body["request"]["id"].as_str().unwrap().to_owned(),
            creds
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect(),
        )
    }

    async fn html(&self, rid: &str) -> String {
        let url = format!("{}/credential-requests/{rid}/authorize", self.sb.origin());
        let resp = self.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// Posts the authorize form; returns the status and the body (the page on a 422).
    async fn authorize(&self, rid: &str, cid: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let resp = self
            .http
            .post(format!(
                "{}/credential-requests/{rid}/credentials/{cid}/authorize",
                self.sb.origin()
            ))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// The credential's state and the parameters of the key it created, if any.
    fn stored(&self, cid: &str) -> (CredState, Option<Value>) {
        let store = self.sb.state.lock();
        let c = &store.credentials[cid];
        let params = c
            .remote_id
            .map(|id| Value::Object(store.keys[&id].parameters.clone()));
        (c.state, params)
    }

    fn key_count(&self) -> usize {
        self.sb.state.lock().keys.len()
    }
}

/// A refused post: the credential, the posted fields, and the message expected.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// The HTML of one credential's card.
fn card<'a>(html: &'a str, cid: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"credential-{cid}\""))
        .expect("card present");
    let end = html[start..]
        .find("</article>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// The authorize form inside a card (the decline form has its own `reason` input).
fn key_form(card: &str) -> &str {
    let start = card.find("class=\"key-form\"").expect("key form");
    let end = card[start..].find("</form>").unwrap() + start;
    &card[start..end]
}

#[tokio::test]
async fn key_form_has_one_typed_input_per_parameter_and_no_secret() {
    let p = Page::new().await;
    let (rid, cids) = p
        .request_keys(json!([
            {"type": "apikeyauth", "prefill": {"soft": {"name": "X-Token"}}},
            {"type": "basicauth", "prefill": {"hard": {"authUser": "acme"}, "soft": {"authPass": "suggested-secret"}}},
        ]))
        .await;
    let html = p.html(&rid).await;

    let api = key_form(card(&html, &cids[0]));
    assert_eq!(api.matches(" name=\"").count(), 3, "{api}");
    assert!(api.contains("type=\"password\"") && api.contains("name=\"key\""));
    assert!(api.contains("<select") && api.contains("<option value=\"header\" selected>"));
    assert!(
        api.contains("name=\"name\" value=\"X-Token\""),
        "soft prefill shown"
    );
    assert!(!api.contains("readonly"));

    let basic = key_form(card(&html, &cids[1]));
    assert_eq!(basic.matches(" name=\"").count(), 2, "{basic}");
    assert!(basic.contains("name=\"authUser\" value=\"acme\" readonly"));
    assert!(basic.contains("type=\"password\"") && basic.contains("name=\"authPass\""));
    assert!(
        !html.contains("suggested-secret"),
        "a password input never has a value"
    );
    for seeded in ["sandbox-secret", "sandbox-key"] {
        assert!(!html.contains(seeded));
    }
    assert!(
        !card(&html, &cids[0]).contains("Will grant"),
        "keys have no scopes"
    );
}

#[tokio::test]
async fn a_valid_post_creates_the_key_with_the_entered_parameters() {
    let p = Page::new().await;
    let (rid, cids) = p
        .request_keys(json!([
            {"type": "apikeyauth"},
            {"type": "basicauth", "prefill": {"hard": {"authUser": "acme"}, "soft": {"authPass": "suggested-secret"}}},
        ]))
        .await;
    let (status, _) = p
        .authorize(
            &rid,
            &cids[0],
            &[
                ("key", "typed-secret-123"),
                ("placement", "query"),
                ("name", "api_key"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        p.stored(&cids[0]),
        (
            CredState::Authorized,
            Some(json!({"key": "typed-secret-123", "placement": "query", "name": "api_key"}))
        )
    );
    // Empty inputs fall back to hard prefill, soft prefill and defaults.
    let (status, _) = p
        .authorize(&rid, &cids[1], &[("authUser", "acme"), ("authPass", "")])
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        p.stored(&cids[1]).1,
        Some(json!({"authUser": "acme", "authPass": "suggested-secret"}))
    );

    // The stored secret is never rendered, authorized or reset to pending.
    assert!(!p.html(&rid).await.contains("typed-secret-123"));
    let remote = p.sb.state.lock().credentials[&cids[0]].remote_id.unwrap();
    crate::credentials::delete_remote(&mut p.sb.state.lock(), &cids[0]).unwrap();
    assert!(!p.sb.state.lock().keys.contains_key(&remote));
    let html = p.html(&rid).await;
    assert!(key_form(card(&html, &cids[0])).contains("name=\"key\""));
    assert!(!html.contains("typed-secret-123"));
}

#[tokio::test]
async fn refused_forms_answer_422_name_the_field_and_change_nothing() {
    let p = Page::new().await;
    let (rid, cids) = p
        .request_keys(json!([
            {"type": "apikeyauth"},
            {"type": "basicauth", "prefill": {"hard": {"authUser": "acme"}}},
        ]))
        .await;
    let long = "k".repeat(crate::keys::MAX_PARAMETER_LEN + 1);
    let cases: [Case<'_>; 6] = [
        (
            &cids[0],
            vec![],
            "Missing value of required parameter 'key'.",
        ),
        (
            &cids[0],
            vec![("key", "s"), ("placement", "cookie"), ("name", "Kept-Name")],
            "Invalid value in parameter 'placement'. Allowed values: header, query.",
        ),
        (
            &cids[0],
            vec![("key", &long)],
            "maximum length of 4096 chars in parameter 'key'",
        ),
        (
            &cids[0],
            vec![("key", "s"), ("colour", "red")],
            "Invalid parameter 'colour'.",
        ),
        (
            &cids[0],
            vec![("key", "a"), ("key", "b")],
            "Parameter 'key' was given more than once.",
        ),
        (
            &cids[1],
            vec![("authUser", "mallory"), ("authPass", "p")],
            "Parameter 'authUser' is fixed by the request",
        ),
    ];
    let keys_before = p.key_count();
    for (cid, fields, message) in cases {
        let (status, html) = p.authorize(&rid, cid, &fields).await;
        assert_eq!(status, 422, "{fields:?}");
        let card = card(&html, cid);
        assert!(
            card.contains("class=\"error\"") && card.contains(message),
            "{message}: {card}"
        );
        assert_eq!(p.stored(cid), (CredState::Pending, None));
    }
    assert_eq!(p.key_count(), keys_before);

    // The re-rendered form keeps what was typed, except a secret.
    let (_, html) = p
        .authorize(
            &rid,
            &cids[0],
            &[
                ("key", "typed-secret"),
                ("placement", "cookie"),
                ("name", "Kept-Name"),
            ],
        )
        .await;
    assert!(html.contains("value=\"Kept-Name\"") && !html.contains("typed-secret"));
}

#[tokio::test]
async fn declined_key_can_still_be_authorized_with_its_parameters() {
    let p = Page::new().await;
    let (rid, cids) = p.request_keys(json!([{"type": "aes-key"}])).await;
    crate::credentials::decline(&mut p.sb.state.lock(), &cids[0], None).unwrap();
    let html = p.html(&rid).await;
    let form = key_form(card(&html, &cids[0]));
    assert!(form.contains("<option value=\"hex\" selected>"));
    assert_eq!(p.authorize(&rid, &cids[0], &[]).await.0, 422);
    assert_eq!(
        p.authorize(&rid, &cids[0], &[("key", "00ff"), ("keyEncoding", "hex")])
            .await
            .0,
        303
    );
    assert_eq!(
        p.stored(&cids[0]),
        (
            CredState::Authorized,
            Some(json!({"key": "00ff", "keyEncoding": "hex"}))
        )
    );
}

/// Markup from the API and the person lands as text: a name, description, prefill or
/// reason with tags and quotes cannot open an element or leave an attribute.
#[tokio::test]
async fn hostile_strings_come_out_escaped() {
    const HOSTILE: &str = r#"x"><script>alert('pwned')</script><b a='1'>"#;
    const ESCAPED: &str = "x&quot;&gt;&lt;script&gt;alert('pwned')&lt;/script&gt;&lt;b a='1'&gt;";
    let p = Page::new().await;
    let (rid, cids) = p
        .request(json!({
            "teamId": 1, "name": HOSTILE, "description": HOSTILE,
            "connections": [{"type": "google", "nameOverride": HOSTILE, "description": HOSTILE}],
            "keys": [{"type": "apikeyauth", "nameOverride": HOSTILE,
                      "prefill": {"hard": {"name": HOSTILE}, "soft": {"key": HOSTILE}}}],
        }))
        .await;
    crate::credentials::decline(&mut p.sb.state.lock(), &cids[0], Some(HOSTILE.into())).unwrap();
    let html = p.html(&rid).await;

    assert!(!html.contains("<script") && !html.contains("<b "), "{html}");
    assert!(html.contains(&format!("<title>Authorize: {ESCAPED}</title>")));
    assert!(html.contains(&format!("<h1>{ESCAPED}</h1>")));
    let google = card(&html, &cids[0]);
    assert!(google.contains(&format!("<h2>{ESCAPED}</h2>")), "{google}");
    assert!(google.contains(&format!("<dt>Decline reason</dt><dd>{ESCAPED}</dd>")));
    let key = key_form(card(&html, &cids[1]));
    assert!(
        key.contains(&format!("name=\"name\" value=\"{ESCAPED}\" readonly")),
        "a hard prefill stays inside its attribute: {key}"
    );

    // A refused post's message and the values typed into it are escaped too.
    let (status, html) = p
        .authorize(
            &rid,
            &cids[1],
            &[("name", HOSTILE), ("colour<script>", "red")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("Invalid parameter 'colour&lt;script&gt;'."));
}
