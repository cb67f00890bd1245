//! The HTML of the account page and its answers (maud, which escapes every interpolated
//! string): plain forms that work without JavaScript, in the style of the consent page.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use super::pages::{describe, page_styled, person_label};
use crate::cli::audit::format_time;
use crate::store::{AuditEntry, GrantSummary};

/// The account page's own style, beside the consent page's.
const STYLE: &str = "body{max-width:52rem}h2{font-size:1.1rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;vertical-align:top;padding:.45rem .5rem;border-bottom:1px solid #eee}th{font-weight:600;color:#444}td ul{margin:0;padding-left:1rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem}dt{color:#555}dd{margin:0}.notice{background:#eef8ee;border:1px solid #9c9;padding:.6rem .9rem;border-radius:.4rem}button.revoke{font-size:.9rem;padding:.3rem .9rem;background:#fff;color:#a40000;border-color:#a40000}.outcome-done{color:#176317}.outcome-failed,.outcome-refused{color:#a40000}form.inline{margin:0}dd code,.when{white-space:nowrap}code.id{word-break:break-all}";

/// An MCP client the person allowed.
pub(super) struct ClientRow {
    pub(super) client_id: String,
    pub(super) name: Option<String>,
    pub(super) scopes: Vec<String>,
    /// Unix seconds.
    pub(super) allowed_at: i64,
}

/// What the account page shows.
pub(super) struct AccountView {
    pub(super) name: Option<String>,
    pub(super) email: Option<String>,
    pub(super) make_user_id: String,
    pub(super) grant: Option<GrantSummary>,
    pub(super) clients: Vec<ClientRow>,
    /// The person's newest audit entries, newest first.
    pub(super) audit: Vec<AuditEntry>,
    /// Names of the clients the audit entries name, by client id.
    pub(super) client_names: HashMap<String, String>,
    /// The session's form token, in every form.
    pub(super) form_token: String,
    /// The client just revoked (its name, else its id), for the notice.
    pub(super) revoked: Option<String>,
}

fn time(secs: i64) -> String {
    format!("{} UTC", format_time(secs))
}

/// The account page.
pub(super) fn account_page(view: &AccountView) -> Response {
    let who = person_label(
        view.name.as_deref(),
        view.email.as_deref(),
        &view.make_user_id,
    );
    let body = html! {
        h1 { "Your account" }
        p {
            "Signed in with Make as " strong { (who) }
            " " span.muted { "(Make user id " code { (view.make_user_id) } ")" }
        }
        @if let Some(revoked) = &view.revoked {
            p.notice role="status" {
                "Revoked " strong { (revoked) } ": its tokens no longer work, on every replica of this server. "
                "If it signs in again, you will be asked again."
                @if view.clients.is_empty() && view.grant.is_none() {
                    " No application is left, so your Make grant was revoked at Make too."
                }
            }
        }
        h2 { "Your Make grant" }
        @match &view.grant {
            Some(grant) => {
                p { "This server holds a grant from Make to act as you, for the applications below." }
                dl {
                    dt { "Scopes" }
                    dd { @for (i, scope) in grant.scopes.iter().enumerate() { @if i > 0 { " " } code { (scope) } } }
                    dt { "Last refreshed" }
                    dd { (time(grant.renewed_at)) }
                    dt { "Access token valid until" }
                    dd { (time(grant.expires_at)) " " span.muted { "(refreshed shortly before, when used)" } }
                    dt { "Make API" }
                    dd { code { (grant.api_base) } }
                }
            }
            None => {
                p.muted { "This server holds no Make grant of yours: it keeps one only while an application you allowed uses it." }
            }
        }
        h2 { "Applications you allowed" }
        @if view.clients.is_empty() {
            p.muted { "None." }
        } @else {
            table {
                thead { tr { th { "Application" } th { "May" } th { "Allowed" } th {} } }
                tbody {
                    @for client in &view.clients {
                        tr {
                            td {
                                strong { (client.name.as_deref().unwrap_or("An unnamed application")) }
                                br;
                                span.muted { "Client id " code.id { (client.client_id) } }
                            }
                            td {
                                ul {
                                    @for scope in &client.scopes {
                                        li { (describe(scope)) " " span.muted { "(" code { (scope) } ")" } }
                                    }
                                }
                            }
                            td.when { (time(client.allowed_at)) }
                            td {
                                form.inline method="post" action="/account/revoke" {
                                    input type="hidden" name="client_id" value=(client.client_id);
                                    input type="hidden" name="form_token" value=(view.form_token);
                                    button.revoke type="submit" aria-label={ "Revoke " (client.name.as_deref().unwrap_or(&client.client_id)) } { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
            p.muted {
                "Revoke ends an application's access at once: its next request is refused. "
                "When no application is left, the Make grant is revoked at Make too."
            }
        }
        h2 { "Your recent activity" }
        @if view.audit.is_empty() {
            p.muted { "No changes through this server yet." }
        } @else {
            table {
                thead { tr { th { "Time" } th { "Application" } th { "Tool" } th { "Object" } th { "Outcome" } } }
                tbody {
                    @for entry in &view.audit {
                        tr {
                            td { (time(entry.at)) }
                            td {
                                @match &entry.client_id {
                                    Some(id) => { (view.client_names.get(id).map(String::as_str).unwrap_or(id)) }
                                    None => { "-" }
                                }
                            }
                            td { code { (entry.tool) } }
                            td {
                                @match (&entry.object_type, &entry.object_id) {
                                    (Some(kind), Some(id)) => { (kind) " " code { (id) } }
                                    (None, Some(id)) => { code { (id) } }
                                    (Some(kind), None) => { (kind) }
                                    (None, None) => { "-" }
                                }
                            }
                            td class={ "outcome-" (entry.outcome.as_str()) } {
                                (entry.outcome.as_str())
                                @if let Some(code) = &entry.make_code { " (" (code) ")" }
                            }
                        }
                    }
                }
            }
            p.muted { "Your last changes in Make through this server, including refused and declined ones (ids only, never values)." }
        }
        form method="post" action="/account/sign-out" {
            input type="hidden" name="form_token" value=(view.form_token);
            div.buttons { button type="submit" { "Sign out" } }
        }
    };
    (
        StatusCode::OK,
        Html(page_styled("Your account", STYLE, body).into_string()),
    )
        .into_response()
}

/// The answer to signing out.
pub(super) fn signed_out_page() -> Response {
    let body = html! {
        h1 { "You are signed out" }
        p { "This browser's account session has ended. The applications you allowed keep working." }
        p { a href="/account" { "Sign in again" } }
    };
    (
        StatusCode::OK,
        Html(page_styled("Signed out", STYLE, body).into_string()),
    )
        .into_response()
}

/// A problem with the account page the person can do something about.
pub(super) fn problem(status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { "Account page" }
        p { (message) }
        p { a href="/account" { "Open the account page" } }
    };
    (
        status,
        Html(page_styled("Account page", STYLE, body).into_string()),
    )
        .into_response()
}
