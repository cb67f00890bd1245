//! The HTML this server shows a person (the consent page and error pages) and the
//! protections every endpoint of the authorization server has: only its own `Host` names,
//! no framing, no caching, and no form post from another site.
//!
//! Pages are plain HTML forms that work without JavaScript; maud escapes every
//! interpolated string.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::AuthServer;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}h1{font-size:1.4rem}ul{padding-left:1.2rem}code{background:#f2f2f2;padding:0 .2rem}.buttons{display:flex;gap:1rem;margin-top:2rem}button{font-size:1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:1px solid #888;cursor:pointer}button.allow{background:#6d00cc;color:#fff;border-color:#6d00cc}.muted{color:#666;font-size:.9rem}";

/// Refuses a request whose `Host` is not one of the server's names (DNS rebinding), and
/// adds the headers every answer of the authorization server carries.
pub(super) async fn check_host(
    State(auth): State<AuthServer>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !auth
        .inner
        .hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&host))
    {
        return (StatusCode::FORBIDDEN, "Forbidden: unknown Host").into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// True when a form post comes from another site: browsers say so in `Sec-Fetch-Site`, or
/// older ones by an `Origin` that is not the server's.
pub(super) fn cross_site(auth: &AuthServer, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin != auth.issuer(),
        None => false,
    }
}

fn page(title: &str, body: Markup) -> Markup {
    page_styled(title, "", body)
}

/// A page in the common style, with `extra` style rules after it.
pub(super) fn page_styled(title: &str, extra: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (maud::PreEscaped(STYLE)) (maud::PreEscaped(extra)) }
            }
            body { (body) }
        }
    }
}

/// A page that explains a problem the person can do something about; never redirects.
pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { "Sign-in cannot continue" }
        p { (message) }
        p.muted { "Start again from your MCP client (for example, reconnect the server there)." }
    };
    (status, Html(page("Sign-in problem", body).into_string())).into_response()
}

/// A person as the pages name them: `Name <email>`, or what of it Make told.
pub(super) fn person_label(name: Option<&str>, email: Option<&str>, user_id: &str) -> String {
    match (name, email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(name), None) => name.to_string(),
        (None, Some(email)) => email.to_string(),
        (None, None) => format!("Make user {user_id}"),
    }
}

/// What the consent page shows.
pub(super) struct ConsentView<'a> {
    pub(super) ticket: &'a str,
    pub(super) client_name: &'a str,
    pub(super) client_id: &'a str,
    pub(super) redirect_host: &'a str,
    pub(super) person: &'a str,
    pub(super) scopes: &'a [String],
}

/// What a scope lets the client do, in words.
pub(super) fn describe(scope: &str) -> &'static str {
    match scope {
        "connections:read" => "see your connections",
        "connections:write" => "create, change, verify and delete your connections",
        "keys:read" => "see your keys",
        "keys:write" => "create, change and delete your keys",
        "credential-requests:read" => "see your credential requests",
        "credential-requests:write" => "create, decline and delete credential requests",
        "apps:read" => "read app and module descriptions",
        _ => "",
    }
}

/// The consent page: which client asks to act as this person in Make, with which scopes.
pub(super) fn consent_page(view: &ConsentView<'_>) -> Response {
    let body = html! {
        h1 { "Allow " strong { (view.client_name) } " to act as you in Make?" }
        p { "Signed in with Make as " strong { (view.person) } "." }
        p {
            "The application " strong { (view.client_name) }
            " (it will receive the answer at " code { (view.redirect_host) } ") asks to use this server to:"
        }
        ul {
            @for scope in view.scopes {
                li { (describe(scope)) " " span.muted { "(" code { (scope) } ")" } }
            }
        }
        p.muted { "Client id: " code { (view.client_id) } ". You can revoke this later; it lasts until you do." }
        form method="post" action="/consent" {
            input type="hidden" name="ticket" value=(view.ticket);
            div.buttons {
                button.allow type="submit" name="decision" value="allow" { "Allow" }
                button type="submit" name="decision" value="deny" { "Deny" }
            }
        }
    };
    (
        StatusCode::OK,
        Html(page("Allow access to Make?", body).into_string()),
    )
        .into_response()
}
