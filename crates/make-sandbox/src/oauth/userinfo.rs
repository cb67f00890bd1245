//! `GET /oauth/v2/oidc/userinfo`: who an access token belongs to (OIDC Core §5.3).
//!
//! A live token granted `openid` answers `{sub, name, email}`, `sub` being the Make user
//! id as a string. A missing, unknown, expired or revoked token is 401 `invalid_token`; a
//! token without `openid` is 403 `insufficient_scope` (RFC 6750 §3.1).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// The token of an `Authorization: Bearer` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim()
        .split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn refuse(status: StatusCode, error: &'static str) -> Response {
    let mut resp = (status, Json(json!({"error": error}))).into_response();
    let challenge = format!("Bearer error=\"{error}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

pub(super) async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let owner = bearer(&headers).and_then(|t| state.oauth.lock().access_owner(t));
    let Some(owner) = owner else {
        return refuse(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    if !owner.scopes.contains("openid") {
        return refuse(StatusCode::FORBIDDEN, "insufficient_scope");
    }
    let p = owner.person;
    Json(json!({"sub": p.user_id.to_string(), "name": p.name, "email": p.email})).into_response()
}
