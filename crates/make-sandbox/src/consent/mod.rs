//! The end-user consent page behind a request's `publicUri`.
//!
//! Make sends the person who owns the credentials to a page where they authorize or
//! decline each one. The sandbox serves a plain HTML version (no JavaScript, no auth, like
//! a public link), one card per credential, so that what the person sees and does matches
//! the experience the sandbox stands in for: an OAuth card lists the scopes it will grant
//! (an extension lists the scopes it adds), and a key card asks for the key's parameters,
//! so a secret is typed on this page and never in the chat. Every user-provided string is
//! HTML-escaped by construction (`maud::html!`, see [`page`]).
//!
//! # Form contract
//!
//! Paths are fixed; other code (tests in the main tree) posts to them directly with
//! `Content-Type: application/x-www-form-urlencoded`:
//!
//! - `GET /credential-requests/{id}/authorize` — the page (the request's `publicUri`).
//! - `POST /credential-requests/{id}/credentials/{cid}/authorize`
//!   - Connection (`account`, OAuth or basic) credentials take **no fields**; any posted
//!     fields are ignored, and an empty body authorizes.
//!   - Key (`keychain`) credentials take **one field per parameter of the key type**, named
//!     exactly as in `GET /keys/types` (e.g. `apikeyauth`: `key`, `placement`, `name`;
//!     `basicauth`: `authUser`, `authPass`; `aes-key`: `key`, `keyEncoding`). An empty
//!     value counts as not given, and a parameter not given takes the hard prefill, then
//!     the soft prefill, then the type's default. The result is validated exactly like
//!     `POST /keys` (`keys::validate_parameters`): every required parameter present, a
//!     select's value one of its options, no value over `keys::MAX_PARAMETER_LEN`
//!     characters, no unknown field (an empty one, such as `reason=`, is ignored). A hard
//!     prefilled parameter posted with a different value and a field given twice are also
//!     refused. On success the key is created with those parameters.
//! - `POST /credential-requests/{id}/credentials/{cid}/decline` — optional `reason`
//!   (trimmed, at most 240 characters).
//!
//! Responses:
//!
//! - **303** to the page on success. Authorizing an authorized credential changes nothing
//!   (also 303).
//! - **422** when a key form is refused: the page is re-rendered with the error, which
//!   names the field, on that credential's card. Nothing changes: the credential keeps its
//!   state and no key is created.
//! - **404** HTML page for an unknown request, another organization's request, or a
//!   credential that is not part of the request in the path; other API errors keep their
//!   status (e.g. 400 for declining an authorized credential).
//! - **403** (plain text) for a `Host` that is not this sandbox, or a post a browser made
//!   for another site (`Origin` or `Sec-Fetch-Site`); see `super::guard`. Posts without
//!   those headers (curl, reqwest, scripts) pass.
//!
//! Every response of these routes carries a Content-Security-Policy,
//! `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`
//! and `Cache-Control: no-store`.

mod key_form;
mod page;
#[cfg(test)]
mod tests;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::AppState;
use super::credentials;
use super::errors::ApiError;
use super::state::Store;
pub(crate) use page::layout;
use page::{Feedback, api_error_page, render_page};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/credential-requests/{id}/authorize", get(show))
        .route(
            "/credential-requests/{id}/credentials/{cid}/authorize",
            post(authorize),
        )
        .route(
            "/credential-requests/{id}/credentials/{cid}/decline",
            post(decline),
        )
        .layer(axum::middleware::map_response(super::guard::page_headers))
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match render_page(&state.lock(), &id, None) {
        Ok(html) => Html(html).into_response(),
        Err(e) => api_error_page(&e),
    }
}

/// The credential must belong to the request in the URL.
fn check_pair(store: &Store, id: &str, cid: &str) -> Result<(), ApiError> {
    store.request(id)?;
    match store.credential(cid) {
        Ok(c) if c.request_id == id => Ok(()),
        _ => Err(ApiError::not_found("Credential", cid)),
    }
}

fn back_to(id: &str) -> Response {
    Redirect::to(&format!("/credential-requests/{id}/authorize")).into_response()
}

async fn authorize(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let entered: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut store = state.lock();
    match check_pair(&store, &id, &cid)
        .and_then(|()| credentials::authorize(&mut store, &cid, &entered))
    {
        Ok(()) => back_to(&id),
        // On this path only a refused key form yields IM005 (the pair check gives 404s,
        // the rest SC4xx), and that is the person's to fix on the page.
        Err(e) if e.code == "IM005" => refused_form(&store, &id, &cid, &e, &entered),
        Err(e) => api_error_page(&e),
    }
}

/// 422 with the page re-rendered and the error on the credential's card.
fn refused_form(
    store: &Store,
    id: &str,
    cid: &str,
    error: &ApiError,
    entered: &[(String, String)],
) -> Response {
    let feedback = Feedback {
        credential_id: cid,
        error,
        entered,
    };
    match render_page(store, id, Some(&feedback)) {
        Ok(html) => (StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response(),
        Err(e) => api_error_page(&e),
    }
}

async fn decline(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let reason = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "reason")
        .map(|(_, v)| v.trim().chars().take(240).collect::<String>())
        .filter(|r| !r.is_empty());
    let mut store = state.lock();
    match check_pair(&store, &id, &cid)
        .and_then(|()| credentials::decline(&mut store, &cid, reason))
    {
        Ok(()) => back_to(&id),
        Err(e) => api_error_page(&e),
    }
}
