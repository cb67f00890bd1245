//! The consent page's HTML: layout, one card per credential, the scopes an OAuth credential
//! grants, and error pages. Every string that came from a request, a person or the store
//! goes through [`escape`].

use std::fmt::Write;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::key_form;
use crate::sandbox::catalog::{self, ConnectionType};
use crate::sandbox::errors::ApiError;
use crate::sandbox::state::{Component, CredState, Credential, Store};
use crate::sandbox::time::iso;

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}\
         <footer>Served by the local Make API sandbox. Nothing here reaches Make or any third party.</footer>\
         </main></body></html>\n",
        escape(title)
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p class=\"brand\">Make sandbox</p><h1>{}</h1><p>{}</p>",
        status.as_u16(),
        escape(message)
    );
    (status, Html(layout("Credential request", &body))).into_response()
}

/// An API error as an HTML page.
pub fn api_error_page(e: &ApiError) -> Response {
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
pub struct Feedback<'a> {
    pub credential_id: &'a str,
    pub error: &'a ApiError,
    /// The posted fields, so the person need not retype what was fine (never secrets).
    pub entered: &'a [(String, String)],
}

/// A list of scopes, each with the catalog's description or its plain name.
fn scope_list(out: &mut String, ct: Option<&ConnectionType>, scopes: &[String]) {
    if scopes.is_empty() {
        out.push_str("None");
        return;
    }
    out.push_str("<ul>");
    for s in scopes {
        let _ = write!(out, "<li><code>{}</code>", escape(s));
        if let Some(ct) = ct {
            let _ = write!(out, " — {}", escape(&ct.describe_scope(s)));
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
}

/// What an OAuth credential will grant. An extension lists the scopes it adds apart from
/// those the connection already holds, so the person sees exactly what changes.
fn scope_rows(out: &mut String, store: &Store, c: &Credential) {
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
            out.push_str("<dt>Adds scopes</dt><dd>");
            scope_list(out, ct, &adds);
            out.push_str("</dd><dt>Already granted</dt><dd>");
            scope_list(out, ct, held);
            out.push_str("</dd>");
        }
        _ => {
            let head = if c.state == CredState::Authorized {
                "Granted scopes"
            } else {
                "Will grant"
            };
            let _ = write!(out, "<dt>{head}</dt><dd>");
            if c.scope.is_empty() {
                let defaults: Vec<String> = ct
                    .map(|t| t.default_scopes.iter().map(|s| s.to_string()).collect())
                    .unwrap_or_default();
                out.push_str("No scopes requested; the connection gets the type's default: ");
                scope_list(out, ct, &defaults);
            } else {
                scope_list(out, ct, &c.scope);
            }
            out.push_str("</dd>");
        }
    }
}

fn credential_card(
    out: &mut String,
    store: &Store,
    request_id: &str,
    c: &Credential,
    feedback: Option<&Feedback<'_>>,
) {
    let state = c.state.as_str();
    let component = match c.component {
        Component::Account => "Connection (account)",
        Component::Keychain => "Key (keychain)",
    };
    let _ = write!(
        out,
        "<article class=\"card\" id=\"credential-{id}\"><div class=\"head\"><h2>{label}</h2>\
         <span class=\"badge s-{state}\">{state}</span></div><dl>\
         <dt>Component</dt><dd>{component}</dd><dt>Type</dt><dd><code>{ty}</code> ({auth})</dd>",
        id = escape(&c.id),
        label = escape(c.name_override.as_deref().unwrap_or(&c.label)),
        ty = escape(&c.type_name),
        auth = escape(c.auth_type),
    );
    if c.component == Component::Account && c.auth_type == "oauth" {
        scope_rows(out, store, c);
    }
    if let Some(d) = &c.description {
        let _ = write!(out, "<dt>Description</dt><dd>{}</dd>", escape(d));
    }
    if let Some(app) = &c.app_name {
        let version = c.app_version.map(|v| format!(" v{v}")).unwrap_or_default();
        let _ = write!(
            out,
            "<dt>Used by</dt><dd>{}{} — {}</dd>",
            escape(app),
            version,
            escape(&c.app_modules.join(", "))
        );
    }
    if let Some(conn) = c.extends {
        let _ = write!(out, "<dt>Extends</dt><dd>connection #{conn}</dd>");
    }
    if let Some(remote) = c.remote_id {
        let what = if c.component == Component::Keychain {
            "key"
        } else {
            "connection"
        };
        let _ = write!(out, "<dt>Created</dt><dd>{what} #{remote}</dd>");
    }
    if let Some(reason) = &c.decline_reason {
        let _ = write!(out, "<dt>Decline reason</dt><dd>{}</dd>", escape(reason));
    }
    out.push_str("</dl>");
    let feedback = feedback.filter(|f| f.credential_id == c.id);
    if let Some(f) = feedback {
        let _ = write!(
            out,
            "<p class=\"error\" role=\"alert\">Not authorized: {}</p>",
            escape(&message(f.error))
        );
    }
    out.push_str("<div class=\"actions\">");
    let base = format!(
        "/credential-requests/{}/credentials/{}",
        escape(request_id),
        escape(&c.id)
    );
    let key_type = (c.component == Component::Keychain)
        .then(|| catalog::key_type(&c.type_name))
        .flatten();
    if c.state == CredState::Authorized {
        out.push_str("<span>Authorized. Delete the request or the credential to revoke it.</span>");
    } else {
        match key_type {
            Some(kt) => key_form::render(
                out,
                &format!("{base}/authorize"),
                c,
                kt,
                feedback.map(|f| f.entered),
            ),
            None => {
                let _ = write!(
                    out,
                    "<form method=\"post\" action=\"{base}/authorize\"><button class=\"primary\" type=\"submit\">Authorize</button></form>"
                );
            }
        }
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{base}/decline\"><input name=\"reason\" maxlength=\"240\" placeholder=\"Reason (optional)\" aria-label=\"Decline reason\">\
             <button type=\"submit\">Decline</button></form>"
        );
    }
    out.push_str("</div></article>");
}

/// The whole page for a request; `feedback` marks the card whose post was refused.
pub fn render_page(
    store: &Store,
    request_id: &str,
    feedback: Option<&Feedback<'_>>,
) -> Result<String, ApiError> {
    let req = store.request(request_id)?;
    let status = store.request_status(req);
    let team = store.accessible_team(req.team_id)?.name;
    let mut body = format!(
        "<p class=\"brand\">Make sandbox · credential request</p><h1>{}</h1>",
        escape(&req.name)
    );
    if let Some(d) = &req.description {
        let _ = write!(body, "<p class=\"desc\">{}</p>", escape(d));
    }
    let _ = write!(
        body,
        "<p class=\"meta\">Team {} · Status <span class=\"badge s-{status}\">{status}</span> · Expires {}</p>",
        escape(team),
        iso(req.expires_at)
    );
    for c in store.credentials_of(req) {
        credential_card(&mut body, store, &req.id, c, feedback);
    }
    Ok(layout(&format!("Authorize: {}", req.name), &body))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
