//! `GET /authorize`: an MCP client sends the person here. The request is checked (a known
//! client, its exact `redirect_uri`, PKCE S256, this server as the resource), kept in the
//! database under a fresh `state`, and the person is sent to Make to sign in with this
//! server's own PKCE. Make sends them back to [`super::callback`], on any replica.
//!
//! Until the redirect URI is known to be the client's, problems are shown as a page (never a
//! redirect, so the endpoint cannot bounce people to an attacker's site); after that they go
//! back to the client as OAuth errors.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use url::Url;

use super::AuthServer;
use super::pages::error_page;
use super::secrets::{self, Kind};

/// A client's authorization request, as kept between the steps of a sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ClientRequest {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    /// The client's `state`, returned unchanged.
    pub(super) state: Option<String>,
    pub(super) scopes: Vec<String>,
}

/// The sign-in in progress while the person is at Make.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PendingSignIn {
    /// The client's request; `None` for a sign-in to the account page.
    #[serde(default)]
    pub(super) request: Option<ClientRequest>,
    /// This server's PKCE verifier for Make.
    pub(super) make_verifier: String,
    /// For the account page: the hash of the nonce in the browser's sign-in cookie, which
    /// must come back with Make's answer (so nobody can finish their sign-in in another
    /// person's browser).
    #[serde(default)]
    pub(super) browser: Option<String>,
}

/// Single-use record kinds in the store.
pub(super) const PENDING_SIGN_IN: &str = "sign-in";
pub(super) const CONSENT_TICKET: &str = "consent";
pub(super) const AUTHORIZATION_CODE: &str = "code";

pub(super) async fn authorize(
    State(auth): State<AuthServer>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(client_id) = get("client_id") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The request names no client (client_id is missing).",
        );
    };
    let client = match auth.inner.clients.find(client_id).await {
        Ok(client) => client,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The request names no redirect_uri.",
        );
    };
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not one this application registered, so this server will not send you there.",
        );
    }
    let state = get("state").map(String::from);
    let back = |error: &str, description: &str| {
        redirect_to_client(
            redirect_uri,
            &[("error", error), ("error_description", description)],
            state.as_deref(),
            auth.issuer(),
        )
    };
    if get("response_type") != Some("code") {
        return back(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) if secrets::is_s256_challenge(challenge) => {}
        _ => {
            return back(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method=S256",
            );
        }
    }
    if let Some(resource) = get("resource")
        && resource.trim_end_matches('/') != auth.resource()
    {
        return back(
            "invalid_target",
            "this server only issues tokens for its own /mcp resource",
        );
    }
    let scopes = match get("scope") {
        None => super::SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(text) => {
            let asked: Vec<String> = text.split_ascii_whitespace().map(String::from).collect();
            if let Some(unknown) = asked.iter().find(|s| !super::SCOPES.contains(&s.as_str())) {
                return back("invalid_scope", &format!("unknown scope {unknown:?}"));
            }
            dedup(asked)
        }
    };
    let request = ClientRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        code_challenge: get("code_challenge").unwrap_or_default().to_string(),
        state: state.clone(),
        scopes,
    };
    match to_make(&auth, Some(request), None).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(description) => back("temporarily_unavailable", description),
    }
}

/// Where to send the person to sign in with Make: a fresh PKCE verifier and `state` of this
/// server's, the sign-in kept in the database under that `state` until Make sends the person
/// back to [`super::callback`] (on any replica). `Err` says why not, in words for the person.
pub(super) async fn to_make(
    auth: &AuthServer,
    request: Option<ClientRequest>,
    browser: Option<String>,
) -> Result<Url, &'static str> {
    let make_verifier = secrets::random(Kind::Internal);
    let make_state = secrets::random(Kind::Internal);
    let url = auth
        .inner
        .upstream
        .authorize_url(&make_state, &secrets::pkce_challenge(&make_verifier))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot send a person to Make to sign in");
            "Make's sign-in is unavailable; try again shortly"
        })?;
    let pending = PendingSignIn {
        request,
        make_verifier,
        browser,
    };
    auth.inner
        .store
        .put_once(
            PENDING_SIGN_IN,
            &make_state,
            &serde_json::to_value(&pending).expect("plain data serializes"),
            super::SIGN_IN_TTL,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot store a sign-in in progress");
            "the server's database is unavailable; try again shortly"
        })?;
    Ok(url)
}

/// A 303 to the client's redirect URI with `params`, its `state` and this server as `iss`
/// (RFC 9207), so the client can tell which server answered.
pub(super) fn redirect_to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The application's redirect_uri is not a URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

fn dedup(mut scopes: Vec<String>) -> Vec<String> {
    scopes.sort();
    scopes.dedup();
    scopes
}
