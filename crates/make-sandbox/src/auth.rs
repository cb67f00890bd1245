//! Token check for `/api/v2` and the two identity endpoints (`/users/me`,
//! `/users/me/current-authorization`) clients use to validate a token at startup, plus the
//! log of the `Authorization` headers the API received.

use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use super::caller::Caller;
use super::errors::ApiError;
use super::state::{ORGANIZATION_ID, USER_EMAIL, USER_ID, USER_NAME};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/users/me", get(me)).route(
        "/users/me/current-authorization",
        get(current_authorization),
    )
}

/// Decides who the request acts for and serves it as them: `Token <key>` or `Bearer <key>`
/// is the sandbox's key; `Bearer <access token>` a person who signed in through the OAuth
/// pages ([`Caller`]). Anything else (an unknown, expired or revoked token, another
/// scheme) is Make's 401 `IM015`. The presented token is never echoed or logged.
pub(super) async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .map(|(scheme, token)| (scheme, token.trim()));
    let caller = match presented {
        Some((scheme, token))
            if (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
                && constant_time_eq(token.as_bytes(), state.api_key.as_bytes()) =>
        {
            Some(Caller::Key)
        }
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            state.oauth.lock().access_owner(token).map(|owner| {
                let mut scopes = (*owner.scopes).clone();
                scopes.remove("openid");
                Caller::Person {
                    person: owner.person,
                    scopes: scopes.into(),
                }
            })
        }
        _ => None,
    };
    match caller {
        Some(caller) => caller.serve(next.run(req)).await,
        None => ApiError::unauthorized().into_response(),
    }
}

/// The raw `Authorization` values the API received, in order, kept as runs of equal
/// values so a long test or load run with one token stays small.
#[derive(Default)]
pub(crate) struct AuthorizationLog(Mutex<Vec<(String, usize)>>);

impl AuthorizationLog {
    fn push(&self, value: String) {
        let mut runs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match runs.last_mut() {
            Some((last, n)) if *last == value => *n += 1,
            _ => runs.push((value, 1)),
        }
    }

    /// Every value, repeats included, in the order received.
    pub(crate) fn values(&self) -> Vec<String> {
        let runs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        runs.iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v.clone(), *n))
            .collect()
    }
}

/// Logs the request's `Authorization` header (none: nothing logged), before faults and the
/// token check, so every value that reached the API is there.
pub(super) async fn log_authorization(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        state
            .authorizations
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    next.run(req).await
}

/// Compares two byte strings in time that depends only on their lengths: the key's length
/// is no secret, its bytes are.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The token's user: the sandbox user for the key, the person for an access token.
async fn me() -> Json<Value> {
    let (id, name, email) = match Caller::current() {
        Caller::Key => (USER_ID, USER_NAME, USER_EMAIL),
        Caller::Person { person, .. } => (person.user_id, person.name, person.email),
    };
    Json(json!({"authUser": {
        "id": id,
        "name": name,
        "email": email,
        "language": "en",
        "locale": "en-US",
        "timezone": "Europe/Prague",
        "organizationId": ORGANIZATION_ID,
        "features": {},
        "avatar": null,
    }}))
}

/// The key's scopes (all unless the sandbox was started with fewer), or the scopes granted
/// to an access token (`openid` left out).
async fn current_authorization(State(state): State<AppState>) -> Json<Value> {
    let caller = Caller::current();
    let used = match caller {
        Caller::Key => "token",
        Caller::Person { .. } => "oauth",
    };
    Json(json!({"authorization": {"authUsed": used, "scope": caller.scope_list(&state.scopes)}}))
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
