//! The login and consent pages and the authorization error page. Plain HTML forms that work
//! without JavaScript, written with [`maud::html!`] so every interpolated string is escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use super::grants::AuthRequest;
use crate::consent::layout;
use crate::guard::CONTENT_SECURITY_POLICY;
use crate::seed::{PEOPLE, PEOPLE_PASSWORD, SeedPerson, TEAMS};

/// What a person reads for a scope on the consent page.
fn describe(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are (your user id, name and email).",
        "apps:read" => "Read the apps and modules your credentials are used with.",
        "connections:read" => "See your connections.",
        "connections:write" => "Create, change, verify and delete your connections.",
        "credential-requests:read" => "See credential requests.",
        "credential-requests:write" => "Create, extend and delete credential requests.",
        "keys:read" => "See your keys (never their secret values).",
        "keys:write" => "Create, change and delete your keys.",
        "organizations:read" => "See your organizations.",
        "teams:read" => "See your teams.",
        "user:read" => "See your profile.",
        _ => "A scope without a description in the sandbox.",
    }
}

/// The login form; `error` after a wrong name or password.
pub(super) fn login(ticket: &str, request: &AuthRequest, error: Option<&str>) -> Response {
    let people: Vec<&str> = PEOPLE.iter().map(|p| p.username).collect();
    let body = html! {
        p class="brand" { "Make sandbox · sign in" }
        h1 { "Sign in to Make" }
        p class="meta" { "to continue to " code { (request.client_id) } }
        article class="card" {
            @if let Some(error) = error {
                p class="error" role="alert" { (error) }
            }
            form class="key-form" method="post" action="/oauth/v2/login" {
                input type="hidden" name="ticket" value=(ticket);
                div class="fields" {
                    label for="username" { "User name" }
                    input id="username" name="username" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                button class="primary" type="submit" { "Sign in" }
            }
        }
        p class="meta" {
            "Sandbox people: " (people.join(", ")) "; the password is "
            code { (PEOPLE_PASSWORD) } "."
        }
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (status, Html(layout("Sign in · Make sandbox", body))).into_response()
}

fn team_names(person: &SeedPerson) -> String {
    let names: Vec<&str> = TEAMS
        .iter()
        .filter(|t| person.team_ids.contains(&t.id))
        .map(|t| t.name)
        .collect();
    names.join(", ")
}

/// The consent page for a signed-in person. Its policy lets the form's redirect reach the
/// client's origin (browsers apply `form-action` to the redirect after a post).
pub(super) fn consent(ticket: &str, request: &AuthRequest, person: &SeedPerson) -> Response {
    let body = html! {
        p class="brand" { "Make sandbox · authorize an application" }
        h1 { code { (request.client_id) } " wants to access your Make account" }
        p class="meta" {
            "Signed in as " (person.name) " (" (person.email) ") · Teams: " (team_names(person))
        }
        article class="card" {
            div class="head" { h2 { "It will be able to" } }
            ul {
                @for s in &request.scopes {
                    li { code { (s) } " — " (describe(s)) }
                }
            }
            p class="meta" { "You will be sent back to " code { (request.redirect_uri) } "." }
            form method="post" action="/oauth/v2/consent" {
                input type="hidden" name="ticket" value=(ticket);
                button class="primary" type="submit" name="decision" value="approve" { "Approve" }
                button type="submit" name="decision" value="deny" { "Deny" }
            }
        }
    };
    let mut resp = Html(layout("Authorize · Make sandbox", body)).into_response();
    if let Ok(csp) = HeaderValue::from_str(&policy_for(&request.redirect_uri)) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    resp
}

/// The pages' policy with the redirect URI's origin added to `form-action`.
fn policy_for(redirect_uri: &str) -> String {
    let origin = url::Url::parse(redirect_uri)
        .map(|u| match u.origin() {
            o @ url::Origin::Tuple(..) => o.ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", u.scheme()),
        })
        .unwrap_or_default();
    CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    )
}

/// An authorization request that cannot go back to the client (unknown client, redirect
/// URI not registered, expired form): a page, never a redirect.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    let body = html! {
        p class="brand" { "Make sandbox · authorization" }
        h1 { "The application's request cannot be completed" }
        p { (message) }
    };
    (
        status,
        Html(layout("Authorization error · Make sandbox", body)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::policy_for;

    #[test]
    fn the_consent_policy_adds_the_clients_origin() {
        let p = policy_for("http://127.0.0.1:8080/oauth/callback?x=1");
        assert!(
            p.contains("form-action 'self' http://127.0.0.1:8080;"),
            "{p}"
        );
        assert!(policy_for("com.example.app:/cb").contains("form-action 'self' com.example.app:;"));
    }
}
