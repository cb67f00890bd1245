//! Token check for `/api/v2` and the two identity endpoints (`/users/me`,
//! `/users/me/current-authorization`) clients use to validate a token at startup.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use super::errors::ApiError;
use super::state::{ORGANIZATION_ID, USER_EMAIL, USER_ID, USER_NAME};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/users/me", get(me)).route(
        "/users/me/current-authorization",
        get(current_authorization),
    )
}

/// Accepts `Token <key>` (Make API tokens) and `Bearer <key>` (OAuth style); anything else
/// is Make's 401 `IM015`. The presented token is never echoed or logged.
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
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")
        })
        .map(|(_, token)| token.trim());
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), state.api_key.as_bytes()) => {
            next.run(req).await
        }
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Compares two byte strings in time that depends only on their lengths: the key's length
/// is no secret, its bytes are.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

async fn me() -> Json<Value> {
    Json(json!({"authUser": {
        "id": USER_ID,
        "name": USER_NAME,
        "email": USER_EMAIL,
        "language": "en",
        "locale": "en-US",
        "timezone": "Europe/Prague",
        "organizationId": ORGANIZATION_ID,
        "features": {},
        "avatar": null,
    }}))
}

/// The key's scopes: all of them unless the sandbox was started with fewer.
async fn current_authorization(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"authorization": {"authUsed": "token", "scope": state.scopes.list()}}))
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
