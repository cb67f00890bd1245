//! OIDC discovery (`/.well-known/openid-configuration`) and the key set.
//!
//! The same fields Make's document has, with the sandbox's origin as issuer. No signing
//! keys are listed because the sandbox issues no id tokens, so the document does not claim
//! an id-token signing algorithm either.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::supported_scopes;
use crate::AppState;

pub(super) async fn configuration(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.oauth.config.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/v2/authorize"),
        "token_endpoint": format!("{issuer}/oauth/v2/token"),
        "revocation_endpoint": format!("{issuer}/oauth/v2/revoke"),
        "userinfo_endpoint": format!("{issuer}/oauth/v2/oidc/userinfo"),
        "jwks_uri": format!("{issuer}/oauth/v2/oidc/jwks"),
        "scopes_supported": supported_scopes().collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_post"],
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "name", "email"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

/// An empty key set: there are no id tokens to verify.
pub(super) async fn jwks() -> Json<Value> {
    Json(json!({"keys": []}))
}
