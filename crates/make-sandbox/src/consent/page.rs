//! The consent page's HTML: layout, one card per credential, the scopes an OAuth credential
//! grants, and error pages. The markup is written with [`maud::html!`], which escapes every
//! interpolated string (request, person or store data) by construction; only the constant
//! stylesheet and the doctype are inserted as they are.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, PreEscaped, html};

use super::key_form;
use crate::catalog::{self, ConnectionType};
use crate::errors::ApiError;
use crate::state::{Component, CredState, Credential, Store};
use crate::time::iso;

const STYLE: &str = "
body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f2fa;color:#1f1a33}
main{max-width:760px;margin:0 auto;padding:32px 20px}
.brand{color:#6d00cc;font-weight:600;letter-spacing:.02em;margin:0 0 4px}
h1{margin:0 0 8px;font-size:26px} h2{margin:0;font-size:18px}
.desc{margin:0 0 8px;white-space:pre-wrap} .meta{color:#5b5670;margin:0 0 24px}
.card{background:#fff;border:1px solid #e2ddf0;border-radius:10px;padding:18px 20px;margin:0 0 16px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.head{display:flex;justify-content:space-between;align-items:center;margin-bottom:8px}
dl{display:grid;grid-template-columns:130px 1fr;gap:4px 12px;margin:0 0 14px} dt{color:#5b5670} dd{margin:0;word-break:break-word}
ul{margin:0;padding-left:18px} code{background:#f1eefa;padding:1px 5px;border-radius:4px}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-size:13px;font-weight:600;background:#ecebf2;color:#3d3852}
.s-authorized{background:#dcf5e6;color:#116633} .s-declined{background:#fde2e2;color:#9b1c1c}
.s-partially_authorized{background:#fff1d6;color:#8a5a00} .s-pending{background:#e8e4fb;color:#4b2bb3}
.actions{display:flex;gap:10px;flex-wrap:wrap;align-items:center} form{display:flex;gap:8px;margin:0}
form.key-form{flex-direction:column;align-items:flex-start;width:100%;margin-bottom:8px}
.fields{display:grid;grid-template-columns:minmax(120px,200px) 1fr;gap:8px 12px;align-items:start;width:100%}
.fields label{padding-top:6px} .hint{display:block;color:#5b5670;font-size:13px}
.error{background:#fde2e2;color:#9b1c1c;border-radius:6px;padding:8px 12px;margin:0 0 12px}
button{font:inherit;border-radius:6px;padding:6px 16px;cursor:pointer;border:1px solid #c9c3dc;background:#fff}
button.primary{background:#6d00cc;border-color:#6d00cc;color:#fff}
input,select{font:inherit;padding:5px 8px;border:1px solid #c9c3dc;border-radius:6px;min-width:220px}
input[readonly]{background:#f4f2fa;color:#3d3852}
footer{color:#7b7690;font-size:13px;margin-top:28px}
";

/// The sandbox's page frame and stylesheet (the OAuth pages use it too).
pub(crate) fn layout(title: &str, body: Markup) -> String {
    html! {
        (PreEscaped("<!doctype html>\n"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    (body)
                    footer { "Served by the local Make API sandbox. Nothing here reaches Make or any third party." }
                }
            }
        }
        "\n"
    }
    .into_string()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        p class="brand" { "Make sandbox" }
        h1 { (status.as_u16()) }
        p { (message) }
    };
    (status, Html(layout("Credential request", body))).into_response()
}

/// An API error as an HTML page.
pub(crate) fn api_error_page(e: &ApiError) -> Response {
    // A request the token's organization cannot see is, for this page, simply unknown.
    let status = if e.status == StatusCode::FORBIDDEN {
        StatusCode::NOT_FOUND
    } else {
        e.status
    };
    error_page(status, &message(e))
}

fn message(e: &ApiError) -> String {
    match &e.detail {
        Some(d) => format!("{} {d}", e.message),
        None => e.message.clone(),
    }
}

/// A refused authorize post, shown on its credential's card when the page is re-rendered.
pub(crate) struct Feedback<'a> {
    pub(crate) credential_id: &'a str,
    pub(crate) error: &'a ApiError,
    /// The posted fields, so the person need not retype what was fine (never secrets).
    pub(crate) entered: &'a [(String, String)],
}

/// A list of scopes, each with the catalog's description or its plain name.
fn scope_list(ct: Option<&ConnectionType>, scopes: &[String]) -> Markup {
    html! {
        @if scopes.is_empty() {
            "None"
        } @else {
            ul {
                @for s in scopes {
                    li {
                        code { (s) }
                        @if let Some(ct) = ct {
                            " — " (ct.describe_scope(s))
                        }
                    }
                }
            }
        }
    }
}

/// What an OAuth credential will grant. An extension lists the scopes it adds apart from
/// those the connection already holds, so the person sees exactly what changes.
fn scope_rows(store: &Store, c: &Credential) -> Markup {
    let ct = catalog::connection_type(&c.type_name);
    match c.extends {
        Some(conn_id) if c.state != CredState::Authorized => {
            let held = store
                .connections
                .get(&conn_id)
                .map_or(&c.remote_scope, |conn| &conn.scopes);
            let adds: Vec<String> = c
                .scope
                .iter()
                .filter(|s| !held.contains(s))
                .cloned()
                .collect();
            html! {
                dt { "Adds scopes" }
                dd { (scope_list(ct, &adds)) }
                dt { "Already granted" }
                dd { (scope_list(ct, held)) }
            }
        }
        _ => {
            let head = if c.state == CredState::Authorized {
                "Granted scopes"
            } else {
                "Will grant"
            };
            let defaults: Vec<String> = ct
                .map(|t| t.default_scopes.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default();
            html! {
                dt { (head) }
                dd {
                    @if c.scope.is_empty() {
                        "No scopes requested; the connection gets the type's default: "
                        (scope_list(ct, &defaults))
                    } @else {
                        (scope_list(ct, &c.scope))
                    }
                }
            }
        }
    }
}

/// The card's facts: component, type, scopes, and what the request and the person added.
fn card_facts(store: &Store, c: &Credential) -> Markup {
    let component = match c.component {
        Component::Account => "Connection (account)",
        Component::Keychain => "Key (keychain)",
    };
    let created = if c.component == Component::Keychain {
        "key"
    } else {
        "connection"
    };
    html! {
        dl {
            dt { "Component" }
            dd { (component) }
            dt { "Type" }
            dd { code { (c.type_name) } " (" (c.auth_type) ")" }
            @if c.component == Component::Account && c.auth_type == "oauth" {
                (scope_rows(store, c))
            }
            @if let Some(d) = &c.description {
                dt { "Description" }
                dd { (d) }
            }
            @if let Some(app) = &c.app_name {
                dt { "Used by" }
                dd {
                    (app)
                    @if let Some(v) = c.app_version { " v" (v) }
                    " — " (c.app_modules.join(", "))
                }
            }
            @if let Some(conn) = c.extends {
                dt { "Extends" }
                dd { "connection #" (conn) }
            }
            @if let Some(remote) = c.remote_id {
                dt { "Created" }
                dd { (created) " #" (remote) }
            }
            @if let Some(reason) = &c.decline_reason {
                dt { "Decline reason" }
                dd { (reason) }
            }
        }
    }
}

/// The card's forms: authorize (a key's parameters, or one button) and decline.
fn card_actions(request_id: &str, c: &Credential, feedback: Option<&Feedback<'_>>) -> Markup {
    let base = format!("/credential-requests/{request_id}/credentials/{}", c.id);
    let authorize = format!("{base}/authorize");
    let key_type = (c.component == Component::Keychain)
        .then(|| catalog::key_type(&c.type_name))
        .flatten();
    html! {
        div class="actions" {
            @if c.state == CredState::Authorized {
                span { "Authorized. Delete the request or the credential to revoke it." }
            } @else {
                @if let Some(kt) = key_type {
                    (key_form::render(&authorize, c, kt, feedback.map(|f| f.entered)))
                } @else {
                    form method="post" action=(authorize) {
                        button class="primary" type="submit" { "Authorize" }
                    }
                }
                form method="post" action={ (base) "/decline" } {
                    input name="reason" maxlength="240" placeholder="Reason (optional)" aria-label="Decline reason";
                    button type="submit" { "Decline" }
                }
            }
        }
    }
}

fn credential_card(
    store: &Store,
    request_id: &str,
    c: &Credential,
    feedback: Option<&Feedback<'_>>,
) -> Markup {
    let state = c.state.as_str();
    let feedback = feedback.filter(|f| f.credential_id == c.id);
    html! {
        article class="card" id={ "credential-" (c.id) } {
            div class="head" {
                h2 { (c.name_override.as_deref().unwrap_or(&c.label)) }
                span class={ "badge s-" (state) } { (state) }
            }
            (card_facts(store, c))
            @if let Some(f) = feedback {
                p class="error" role="alert" { "Not authorized: " (message(f.error)) }
            }
            (card_actions(request_id, c, feedback))
        }
    }
}

/// The whole page for a request; `feedback` marks the card whose post was refused.
pub(crate) fn render_page(
    store: &Store,
    request_id: &str,
    feedback: Option<&Feedback<'_>>,
) -> Result<String, ApiError> {
    let req = store.request(request_id)?;
    let status = store.request_status(req);
    let team = store.accessible_team(req.team_id)?.name;
    let body = html! {
        p class="brand" { "Make sandbox · credential request" }
        h1 { (req.name) }
        @if let Some(d) = &req.description {
            p class="desc" { (d) }
        }
        p class="meta" {
            "Team " (team) " · Status "
            span class={ "badge s-" (status) } { (status) }
            " · Expires " (iso(req.expires_at))
        }
        @for c in store.credentials_of(req) {
            (credential_card(store, &req.id, c, feedback))
        }
    };
    Ok(layout(&format!("Authorize: {}", req.name), body))
}
