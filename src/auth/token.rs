//! `POST /token` (authorization code and refresh token grants) and `POST /revoke`.
//!
//! Codes are single-use and bound to the client, its redirect URI and PKCE challenge.
//! Refresh tokens rotate: each use returns a new one, and presenting a used one again
//! revokes every token of that sign-in (a stolen copy is detected, RFC 9700 §4.14.2).
//! Access tokens are bound to this server's `/mcp` URL.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::AuthServer;
use super::authorize::AUTHORIZATION_CODE;
use super::callback::Deciding;
use super::disconnect::Via;
use super::secrets::{self, Kind};
use crate::store::{ClientRecord, Rotation, TokenGrant};

/// An OAuth error answer (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn unavailable() -> Response {
    oauth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the server's database is unavailable; try again shortly",
    )
}

/// The client that authenticated itself: by `client_secret_basic`, `client_secret_post`,
/// or (a public client) by its `client_id` alone.
async fn authenticate(
    auth: &AuthServer,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<ClientRecord, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (client_id, secret) = match basic {
        Some((id, secret)) => (id, Some(secret)),
        None => match form.get("client_id") {
            Some(id) => (id.clone(), form.get("client_secret").cloned()),
            None => {
                return Err(oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "no client_id",
                ));
            }
        },
    };
    let client = match auth.inner.store.client(&client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the client registry");
            return Err(unavailable());
        }
    };
    match (&client.secret_hash, secret) {
        (None, _) => Ok(client),
        (Some(hash), Some(secret))
            if crate::transport::http::security::constant_time_eq(
                secrets::hash(&secret).as_bytes(),
                hash.as_bytes(),
            ) =>
        {
            Ok(client)
        }
        (Some(_), _) => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )),
    }
}

pub(super) async fn token(
    State(auth): State<AuthServer>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let client = match authenticate(&auth, &headers, &form).await {
        Ok(client) => client,
        Err(refused) => return refused,
    };
    if let Some(resource) = form.get("resource")
        && resource.trim_end_matches('/') != auth.resource()
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "this server only issues tokens for its own /mcp resource",
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&auth, &client, &form).await,
        Some("refresh_token") => refresh_grant(&auth, &client, &form).await,
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

async fn code_grant(
    auth: &AuthServer,
    client: &ClientRecord,
    form: &HashMap<String, String>,
) -> Response {
    let Some(code) = form.get("code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is missing",
        );
    };
    let granted = match auth.inner.store.take_once(AUTHORIZATION_CODE, code).await {
        Ok(Some(value)) => match serde_json::from_value::<Deciding>(value) {
            Ok(granted) => granted,
            Err(_) => return invalid_grant("the code cannot be read"),
        },
        Ok(None) => return invalid_grant("the code is unknown, expired or already used"),
        Err(e) => {
            tracing::error!(error = %e, "cannot read an authorization code");
            return unavailable();
        }
    };
    let Deciding { request, person } = granted;
    if request.client_id != client.client_id {
        return invalid_grant("the code was issued to another client");
    }
    if form
        .get("redirect_uri")
        .is_some_and(|r| *r != request.redirect_uri)
    {
        return invalid_grant("redirect_uri does not match the authorization request");
    }
    let verifier = form
        .get("code_verifier")
        .map(String::as_str)
        .unwrap_or_default();
    if !secrets::pkce_matches(verifier, &request.code_challenge) {
        return invalid_grant("code_verifier does not match the code_challenge");
    }
    let grant = TokenGrant {
        person,
        client_id: client.client_id.clone(),
        scopes: request.scopes,
        resource: auth.resource().to_string(),
        family: secrets::random(Kind::Internal),
    };
    issue_tokens(auth, &grant, None).await
}

async fn refresh_grant(
    auth: &AuthServer,
    client: &ClientRecord,
    form: &HashMap<String, String>,
) -> Response {
    let Some(presented) = form.get("refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is missing",
        );
    };
    let refresh = secrets::random(Kind::RefreshToken);
    let expires = super::now() + super::REFRESH_TOKEN_TTL.as_secs() as i64;
    let rotation = auth
        .inner
        .store
        .rotate_refresh_token(&secrets::hash(presented), &secrets::hash(&refresh), expires)
        .await;
    match rotation {
        Ok(Rotation::Rotated(grant)) if grant.client_id == client.client_id => {
            issue_tokens(auth, &grant, Some(refresh)).await
        }
        Ok(Rotation::Rotated(grant)) => {
            // Another client's token: it is burnt now, as a stolen one should be.
            let _ = auth.inner.store.revoke_family(&grant.family).await;
            invalid_grant("the refresh token was issued to another client")
        }
        Ok(Rotation::Reused) => {
            tracing::warn!(client_id = %client.client_id, "a used refresh token was presented again; revoked that sign-in's tokens");
            invalid_grant("the refresh token was already used; sign in again")
        }
        Ok(Rotation::Unknown) => invalid_grant("the refresh token is unknown, expired or revoked"),
        Err(e) => {
            tracing::error!(error = %e, "cannot rotate a refresh token");
            unavailable()
        }
    }
}

/// Issues an access token (and a refresh token, unless rotation already stored `refresh`)
/// for `grant`.
async fn issue_tokens(auth: &AuthServer, grant: &TokenGrant, refresh: Option<String>) -> Response {
    let store = &auth.inner.store;
    let now = super::now();
    let access = secrets::random(Kind::AccessToken);
    let refresh = match refresh {
        Some(rotated) => rotated,
        None => {
            let fresh = secrets::random(Kind::RefreshToken);
            let expires = now + super::REFRESH_TOKEN_TTL.as_secs() as i64;
            if let Err(e) = store
                .put_refresh_token(&secrets::hash(&fresh), grant, expires)
                .await
            {
                tracing::error!(error = %e, "cannot store a refresh token");
                return unavailable();
            }
            fresh
        }
    };
    let ttl = super::ACCESS_TOKEN_TTL.as_secs();
    if let Err(e) = store
        .put_access_token(&secrets::hash(&access), grant, now + ttl as i64)
        .await
    {
        tracing::error!(error = %e, "cannot store an access token");
        return unavailable();
    }
    (
        StatusCode::OK,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            "scope": grant.scopes.join(" "),
        })),
    )
        .into_response()
}

/// `POST /revoke` (RFC 7009): revokes an access token, or a refresh token with its whole
/// sign-in. Revoking a refresh token is how a client disconnects: the person's consent for
/// that client ends too (the next sign-in asks again), and when no client is left with their
/// consent, their Make grant is deleted and revoked at Make. A token of another client is left
/// alone. Answers 200 whether or not the token was known, as RFC 7009 asks.
pub(super) async fn revoke(
    State(auth): State<AuthServer>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let client = match authenticate(&auth, &headers, &form).await {
        Ok(client) => client,
        Err(refused) => return refused,
    };
    let Some(token) = form.get("token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
        );
    };
    let store = &auth.inner.store;
    let hash = secrets::hash(token);
    let owner = match (
        store.access_token(&hash).await,
        store.refresh_token(&hash).await,
    ) {
        (Ok(access), Ok(refresh)) => access.map(|g| (g, false)).or(refresh.map(|g| (g, true))),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot look up a token to revoke");
            return unavailable();
        }
    };
    let done = (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response();
    let Some((grant, is_refresh)) = owner else {
        return done;
    };
    if grant.client_id != client.client_id {
        return done;
    }
    if let Err(e) = store.revoke_token(&hash).await {
        tracing::error!(error = %e, "cannot revoke a token");
        return unavailable();
    }
    if is_refresh
        && let Err(e) = auth
            .disconnect(&grant.person, &grant.client_id, Via::Client)
            .await
    {
        tracing::error!(error = %e, "cannot withdraw a consent");
        return unavailable();
    }
    done
}
