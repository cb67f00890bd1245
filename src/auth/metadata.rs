//! The two discovery documents: Protected Resource Metadata (RFC 9728), which a 401 from
//! `/mcp` points to, and Authorization Server Metadata (RFC 8414).

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

use super::AuthServer;

/// `/.well-known/oauth-protected-resource[/mcp]`.
pub(super) async fn protected_resource(State(auth): State<AuthServer>) -> impl IntoResponse {
    Json(json!({
        "resource": auth.resource(),
        "authorization_servers": [auth.issuer()],
        "scopes_supported": super::SCOPES,
        "bearer_methods_supported": ["header"],
        "resource_name": "Make credentials",
    }))
}

/// `/.well-known/oauth-authorization-server`.
pub(super) async fn authorization_server(State(auth): State<AuthServer>) -> impl IntoResponse {
    let issuer = auth.issuer();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "scopes_supported": super::SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
    }))
}

/// The `WWW-Authenticate` value of a 401 from `/mcp` (`error` empty: no token was sent).
pub(crate) fn challenge(auth: &AuthServer, error: Option<&str>) -> String {
    let mut value = format!(
        r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", scope="{}""#,
        auth.issuer(),
        super::SCOPES.join(" ")
    );
    if let Some(error) = error {
        value.push_str(&format!(r#", error="{error}""#));
    }
    value
}
