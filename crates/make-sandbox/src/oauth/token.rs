//! The token endpoint (RFC 6749 §4.1.3, §6) and revocation (RFC 7009), both with
//! `client_secret_post` client authentication.
//!
//! Errors are RFC 6749 §5.2 JSON bodies: 401 `invalid_client`, otherwise 400. Every answer
//! carries `Cache-Control: no-store`. Neither a token nor the secret ever appears in an
//! error description.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::grants::{GrantError, Issued};
use crate::AppState;

/// A refused token or revocation request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("Client authentication failed (client_secret_post).")]
    InvalidClient,
    #[error(transparent)]
    InvalidGrant(#[from] GrantError),
    #[error("grant_type must be authorization_code or refresh_token.")]
    UnsupportedGrantType,
}

impl TokenError {
    fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient => "invalid_client",
            TokenError::InvalidGrant(GrantError::ScopeExceeded) => "invalid_scope",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let status = match self {
            TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({"error": self.code(), "error_description": self.to_string()});
        no_store((status, Json(body)).into_response())
    }
}

fn no_store(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// A form body; a field given twice is refused.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Self {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    fn one(&self, name: &str) -> Result<Option<&str>, TokenError> {
        let mut found = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        match (found.next(), found.next()) {
            (_, Some(_)) => Err(TokenError::InvalidRequest(format!(
                "The parameter {name} is given twice."
            ))),
            (v, None) => Ok(v.map(String::as_str).filter(|v| !v.is_empty())),
        }
    }

    fn required(&self, name: &str) -> Result<&str, TokenError> {
        self.one(name)?
            .ok_or_else(|| TokenError::InvalidRequest(format!("{name} is required.")))
    }
}

/// Authenticates the client by its id and secret in the form; returns the client id.
fn authenticate(state: &AppState, form: &Form) -> Result<String, TokenError> {
    let config = &state.oauth.config;
    let id = form.one("client_id")?.unwrap_or_default();
    let secret = form.one("client_secret")?.unwrap_or_default();
    let id_ok: bool = id.as_bytes().ct_eq(config.client_id.as_bytes()).into();
    let secret_ok: bool = secret
        .as_bytes()
        .ct_eq(config.client_secret.as_bytes())
        .into();
    if !(id_ok && secret_ok) {
        return Err(TokenError::InvalidClient);
    }
    Ok(id.to_owned())
}

fn issued(i: Issued) -> Response {
    no_store(
        Json(json!({
            "access_token": i.access_token,
            "token_type": "Bearer",
            "expires_in": i.expires_in,
            "refresh_token": i.refresh_token,
            "scope": i.scope,
        }))
        .into_response(),
    )
}

/// `POST /oauth/v2/token`.
pub(super) async fn token(State(state): State<AppState>, body: Bytes) -> Response {
    match exchange(&state, &body) {
        Ok(i) => issued(i),
        Err(e) => e.into_response(),
    }
}

fn exchange(state: &AppState, body: &Bytes) -> Result<Issued, TokenError> {
    let oauth = &state.oauth;
    let lifetime = oauth.config.access_lifetime;
    let form = Form::parse(body);
    // Counted before anything else, so a test sees every attempt of each kind.
    match form.one("grant_type") {
        Ok(Some("authorization_code")) => oauth.lock().code_exchanges += 1,
        Ok(Some("refresh_token")) => oauth.lock().refreshes += 1,
        _ => {}
    }
    let client_id = authenticate(state, &form)?;
    match form.required("grant_type")? {
        "authorization_code" => {
            let code = form.required("code")?;
            let redirect_uri = form.required("redirect_uri")?;
            let verifier = form.required("code_verifier")?;
            Ok(oauth
                .lock()
                .exchange_code(code, &client_id, redirect_uri, verifier, lifetime)?)
        }
        "refresh_token" => {
            let refresh = form.required("refresh_token")?;
            let scope = form.one("scope")?.map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            });
            Ok(oauth.lock().refresh(refresh, &client_id, scope, lifetime)?)
        }
        _ => Err(TokenError::UnsupportedGrantType),
    }
}

/// `POST /oauth/v2/revoke`: 200 for any token of the client, known or not (RFC 7009 §2.2).
pub(super) async fn revoke(State(state): State<AppState>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let result = authenticate(&state, &form).and_then(|client_id| {
        let token = form.required("token")?;
        state.oauth.lock().revoke(token, &client_id);
        Ok(())
    });
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => e.into_response(),
    }
}
