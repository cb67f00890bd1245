//! Dynamic client registration (RFC 7591): what most MCP clients do before their first
//! sign-in. A client registers its redirect URIs and gets a `client_id` (and a secret when it
//! asks to be confidential). Registration alone grants nothing: each person still signs in
//! with Make and consents to each client.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AuthServer;
use super::clients::check_redirect_uris;
use super::secrets::{self, Kind};
use crate::store::{ClientKind, ClientRecord};

/// The registration request fields this server reads (others are ignored, as RFC 7591 allows).
#[derive(Debug, Deserialize)]
pub(super) struct Registration {
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
}

pub(super) async fn register(State(auth): State<AuthServer>, body: axum::body::Bytes) -> Response {
    let registration: Registration = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return invalid(
                "invalid_client_metadata",
                &format!("the body is not a registration request: {e}"),
            );
        }
    };
    if let Err(e) = check_redirect_uris(&registration.redirect_uris) {
        return invalid("invalid_redirect_uri", &e);
    }
    let method = registration
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| "client_secret_basic".into());
    let confidential = match method.as_str() {
        "none" => false,
        "client_secret_post" | "client_secret_basic" => true,
        other => {
            return invalid(
                "invalid_client_metadata",
                &format!(
                    "token_endpoint_auth_method {other:?} is not supported (none, client_secret_post, client_secret_basic)"
                ),
            );
        }
    };
    if let Some(grants) = &registration.grant_types
        && grants
            .iter()
            .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return invalid(
            "invalid_client_metadata",
            "only the authorization_code and refresh_token grant types are supported",
        );
    }
    if let Some(types) = &registration.response_types
        && types.iter().any(|t| t != "code")
    {
        return invalid(
            "invalid_client_metadata",
            "only the code response type is supported",
        );
    }
    let client_id = secrets::random(Kind::ClientId);
    let secret = confidential.then(|| secrets::random(Kind::ClientSecret));
    let name = registration
        .client_name
        .as_deref()
        .map(|n| crate::make::clip(n.trim(), 100))
        .filter(|n| !n.is_empty());
    let now = super::now();
    let record = ClientRecord {
        client_id: client_id.clone(),
        secret_hash: secret.as_deref().map(secrets::hash),
        redirect_uris: registration.redirect_uris.clone(),
        name: name.clone(),
        kind: ClientKind::Dynamic,
        metadata: serde_json::Value::Null,
        created_at: now,
    };
    if let Err(e) = auth.inner.store.put_client(&record).await {
        tracing::error!(error = %e, "could not store a client registration");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "temporarily_unavailable", "error_description": "the client registry is unavailable; try again"})),
        )
            .into_response();
    }
    tracing::info!(client_id = %client_id, name = ?name.as_deref().map(crate::logging::quote), "registered an MCP client");
    let mut answer = json!({
        "client_id": client_id,
        "client_id_issued_at": now,
        "redirect_uris": registration.redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    if let Some(name) = name {
        answer["client_name"] = json!(name);
    }
    if let Some(secret) = secret {
        answer["client_secret"] = json!(secret);
        answer["client_secret_expires_at"] = json!(0);
    }
    (
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(answer),
    )
        .into_response()
}

fn invalid(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}
