//! The loopback guard and the page headers: the parsing rules, then what a browser-like
//! client sees over the wire (refusals change nothing; plain clients keep working).

use axum::http::{HeaderMap, HeaderValue};
use reqwest::StatusCode;

use super::{CONTENT_SECURITY_POLICY, cross_site, host_is_sandbox, origin_is_sandbox};
use crate::Sandbox;
use crate::state::CredState;

/// The seeded pending request and its pending OAuth credential (an empty post authorizes).
use crate::seed::{PENDING_CREDENTIAL_ID as CREDENTIAL, PENDING_REQUEST_ID as REQUEST};
#[test]
fn hosts() {
    for ok in [
        "127.0.0.1:3902",
        "127.0.0.1",
        "localhost:3902",
        "LocalHost",
        "[::1]:3902",
        "[::1]",
    ] {
        assert!(host_is_sandbox(ok, 3902), "{ok}");
    }
    for bad in [
        "127.0.0.1:3903",
        "evil.example:3902",
        "evil.example",
        "127.0.0.2:3902",
        "localhost.:3902",
        "localhost:",
        "::1",
        "[::1]3902",
        "0.0.0.0:3902",
        "127.0.0.1:3902@evil",
        "",
    ] {
        assert!(!host_is_sandbox(bad, 3902), "{bad}");
    }
}

#[test]
fn origins() {
    for ok in [
        "http://127.0.0.1:3902",
        "http://localhost:3902",
        "http://[::1]:3902",
    ] {
        assert!(origin_is_sandbox(ok, 3902), "{ok}");
    }
    assert!(origin_is_sandbox("http://localhost", 80));
    for bad in [
        "null",
        "https://127.0.0.1:3902",
        "http://127.0.0.1:8080",
        "http://127.0.0.1",
        "http://evil.example:3902",
        "http://127.0.0.1:3902/path",
        "",
    ] {
        assert!(!origin_is_sandbox(bad, 3902), "{bad}");
    }
}

#[test]
fn fetch_metadata() {
    let with = |name: &'static str, value: &'static str| {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    };
    assert_eq!(cross_site(&HeaderMap::new(), 3902), None);
    assert_eq!(
        cross_site(&with("sec-fetch-site", "same-origin"), 3902),
        None
    );
    assert_eq!(cross_site(&with("sec-fetch-site", "none"), 3902), None);
    for refused in ["cross-site", "same-site"] {
        assert!(cross_site(&with("sec-fetch-site", refused), 3902).is_some());
    }
    assert_eq!(
        cross_site(&with("origin", "http://localhost:3902"), 3902),
        None
    );
    assert!(cross_site(&with("origin", "null"), 3902).is_some());
}

/// What Chromium and Firefox send when the page's own form posts under a referrer policy
/// that hides the origin, and what a foreign page's post looks like under the same policy.
#[test]
fn a_null_origin_passes_only_from_the_same_origin() {
    let headers = |pairs: &[(&'static str, &'static str)]| {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_static(value));
        }
        h
    };
    let own = headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]);
    assert_eq!(cross_site(&own, 3902), None);
    for foreign in [
        headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]),
        headers(&[("origin", "null"), ("sec-fetch-site", "same-site")]),
        headers(&[("origin", "null"), ("sec-fetch-site", "none")]),
        headers(&[("origin", "null")]),
        headers(&[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ]),
    ] {
        assert!(cross_site(&foreign, 3902).is_some(), "{foreign:?}");
    }
}

struct Browser {
    sb: Sandbox,
    http: reqwest::Client,
}

impl Browser {
    async fn new() -> Self {
        Browser {
            sb: Sandbox::start().await.unwrap(),
            http: crate::tests::client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Posts an empty authorize form with these extra headers.
    async fn authorize(&self, headers: &[(&'static str, String)]) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!(
                "{}/credential-requests/{REQUEST}/credentials/{CREDENTIAL}/authorize",
                self.sb.origin()
            ))
            .header("Content-Type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        req.send().await.unwrap()
    }

    /// Gets the request's authorize page with this one extra header.
    async fn page(&self, header: &'static str, value: &str) -> reqwest::Response {
        self.http
            .get(self.page_url())
            .header(header, value)
            .send()
            .await
            .unwrap()
    }

    fn page_url(&self) -> String {
        format!(
            "{}/credential-requests/{REQUEST}/authorize",
            self.sb.origin()
        )
    }

    fn state(&self) -> CredState {
        self.sb.state.lock().credentials[CREDENTIAL].state
    }

    fn port(&self) -> u16 {
        self.sb.addr.port()
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused_on_every_route() {
    let b = Browser::new().await;
    let port = b.port();
    for host in ["evil.example", "evil.example:{port}", "127.0.0.1:1"] {
        let host = host.replace("{port}", &port.to_string());
        let resp = b.authorize(&[("Host", host.clone())]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{host}");
        let text = resp.text().await.unwrap();
        assert!(
            text.contains(&format!("Host '{host}' is not this sandbox")),
            "{text}"
        );
        let page = b.page("Host", &host).await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "page, {host}");
        let api = b
            .http
            .get(format!("{}/users/me", b.sb.api_base_url()))
            .header("Authorization", format!("Token {}", b.sb.api_key()))
            .header("Host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::FORBIDDEN, "api, {host}");
    }
    assert_eq!(b.state(), CredState::Pending);
    // Every loopback name of this sandbox is fine, with or without the port.
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.1".into(),
    ] {
        let page = b.page("Host", &host).await;
        assert_eq!(page.status(), StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn cross_site_form_posts_are_refused_and_change_nothing() {
    let b = Browser::new().await;
    let refused: [(&'static str, String); 5] = [
        ("Origin", "https://evil.example".into()),
        ("Origin", "null".into()),
        ("Origin", "http://127.0.0.1:1".into()),
        ("Sec-Fetch-Site", "cross-site".into()),
        ("Sec-Fetch-Site", "same-site".into()),
    ];
    for header in refused {
        let resp = b.authorize(std::slice::from_ref(&header)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{header:?}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("was refused"), "{header:?}: {text}");
        assert_eq!(b.state(), CredState::Pending, "{header:?}");
    }
    let decline = b
        .http
        .post(format!(
            "{}/credential-requests/{REQUEST}/credentials/{CREDENTIAL}/decline",
            b.sb.origin()
        ))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(decline.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.state(), CredState::Pending);
}

#[tokio::test]
async fn the_pages_own_posts_and_plain_clients_pass() {
    let b = Browser::new().await;
    let own = format!("http://localhost:{}", b.port());
    let resp = b
        .authorize(&[("Origin", own), ("Sec-Fetch-Site", "same-origin".into())])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.state(), CredState::Authorized);
    let b = Browser::new().await;
    let hidden_origin = b
        .authorize(&[
            ("Origin", "null".into()),
            ("Sec-Fetch-Site", "same-origin".into()),
        ])
        .await;
    assert_eq!(hidden_origin.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.state(), CredState::Authorized);
    // A link opened from a chat is a cross-site GET: the page still shows.
    let page = b.page("Sec-Fetch-Site", "cross-site").await;
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn html_pages_carry_the_browser_protections() {
    let b = Browser::new().await;
    let page = b.page_url();
    let unknown = format!("{}/credential-requests/nope/authorize", b.sb.origin());
    let ok = b.http.get(&page).send().await.unwrap();
    let missing = b.http.get(&unknown).send().await.unwrap();
    let posted = b.authorize(&[]).await;
    for (resp, status) in [(ok, 200), (missing, 404), (posted, 303)] {
        assert_eq!(resp.status().as_u16(), status);
        let h = resp.headers();
        assert_eq!(h["content-security-policy"], CONTENT_SECURITY_POLICY);
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store");
    }
    // The policy allows what the page uses: its inline <style> and forms posting to itself.
    assert!(CONTENT_SECURITY_POLICY.contains("style-src 'unsafe-inline'"));
    assert!(CONTENT_SECURITY_POLICY.contains("form-action 'self'"));
    let html = b
        .http
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<style>") && !html.contains("<script"));
    assert!(
        !html.contains("action=\"http"),
        "forms post to relative paths"
    );
}
