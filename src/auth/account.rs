//! The account page, `/account`: a person signed in with Make sees their Make grant, the MCP
//! clients they allowed (each with a Revoke button) and their own recent audit entries, and
//! can sign out.
//!
//! Without a session, `GET /account` starts a sign-in with Make exactly like `/authorize`
//! (this server's PKCE and `state`, the same `/oauth/callback`), bound to the browser by a
//! short cookie; [`signed_in`] finishes it with a session ([`super::session`]). Its posts are
//! refused from other sites (as the consent page's) and without the session's form token.
//! Revoking is [`AuthServer::disconnect`], the same as a client's own `POST /revoke`: it
//! changes the database, so the client's next request is refused on every replica.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AuthServer;
use super::account_page::{AccountView, ClientRow, account_page, problem, signed_out_page};
use super::authorize::{PendingSignIn, to_make};
use super::callback::{Failed, MakeSignIn, finish_at_make, keep_grant, revoke_at_make};
use super::disconnect::Via;
use super::pages::cross_site;
use super::secrets::{self, Kind};
use super::session::{Cookie, Session};
use crate::store::{AuditFilter, StoreError};

/// How many of the person's audit entries the page shows.
const AUDIT_ROWS: u32 = 20;

/// `GET /account`: the page for a signed-in browser; otherwise off to Make to sign in.
pub(super) async fn page(
    State(auth): State<AuthServer>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let session = match auth.session(&headers).await {
        Ok(Some(session)) => session,
        Ok(None) => return start_sign_in(&auth).await,
        Err(e) => return unavailable(e),
    };
    match view(&auth, &session, params.get("revoked").map(String::as_str)).await {
        Ok(view) => account_page(&view),
        Err(e) => unavailable(e),
    }
}

/// Sends the browser to Make to sign in, with the cookie that binds the sign-in to it.
async fn start_sign_in(auth: &AuthServer) -> Response {
    let nonce = secrets::random(Kind::Internal);
    match to_make(auth, None, Some(secrets::hash(&nonce))).await {
        Ok(url) => (
            [(
                header::SET_COOKIE,
                auth.set_cookie(Cookie::SignIn, &nonce, super::SIGN_IN_TTL),
            )],
            Redirect::to(url.as_str()),
        )
            .into_response(),
        Err(description) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{}.", capitalized(description)),
        ),
    }
}

/// Make's answer to a sign-in the account page started (from [`super::callback`]): the
/// person gets a session and goes back to `/account`. Their Make grant is kept, replacing
/// the earlier one, as a client's sign-in does, while a client they allowed uses it; with no
/// such client, the new grant is revoked at Make at once (the page needs none).
pub(super) async fn signed_in(
    auth: &AuthServer,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    pending: &PendingSignIn,
) -> Response {
    let this_browser = auth
        .cookie(headers, Cookie::SignIn)
        .map(secrets::hash)
        .is_some_and(|hash| Some(&hash) == pending.browser.as_ref());
    if !this_browser {
        return problem(
            StatusCode::BAD_REQUEST,
            "This sign-in was started in another browser (or its cookie has expired). Open /account again.",
        );
    }
    let MakeSignIn {
        person,
        user_id,
        tokens,
        ..
    } = match finish_at_make(auth, params, &pending.make_verifier).await {
        Ok(signed_in) => signed_in,
        Err(Failed { description, .. }) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("{}.", capitalized(description)),
            );
        }
    };
    let store = &auth.inner.store;
    let in_use = match store.consents(&person).await {
        Ok(consents) => !consents.is_empty(),
        Err(e) => return unavailable(e),
    };
    if in_use {
        if let Err(e) = keep_grant(auth, &person, &tokens).await {
            return unavailable(e);
        }
    } else {
        let token = tokens.refresh_token.unwrap_or(tokens.access_token);
        revoke_at_make(auth, token, "an account page's unused Make grant");
    }
    let cookie = match auth.start_session(&person).await {
        Ok(cookie) => cookie,
        Err(e) => return unavailable(e),
    };
    tracing::info!(make_user = %user_id, "a person signed in to the account page");
    let mut response = Redirect::to("/account").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie);
    headers.append(header::SET_COOKIE, auth.clear_cookie(Cookie::SignIn));
    response
}

/// What the page shows `session`'s person.
async fn view(
    auth: &AuthServer,
    session: &Session,
    revoked: Option<&str>,
) -> Result<AccountView, StoreError> {
    let store = &auth.inner.store;
    let person = &session.person;
    let record = store.person(person).await?;
    let make_user_id = record
        .as_ref()
        .map(|r| r.make_user_id.clone())
        .unwrap_or_default();
    let mut clients = Vec::new();
    for (client_id, scopes, allowed_at) in store.consents(person).await? {
        let name = store.client(&client_id).await?.and_then(|c| c.name);
        clients.push(ClientRow {
            client_id,
            name,
            scopes,
            allowed_at,
        });
    }
    // The notice names a registered client the person no longer allows, never other text
    // from the link.
    let revoked = match revoked {
        Some(client_id) if !clients.iter().any(|c| c.client_id == client_id) => store
            .client(client_id)
            .await?
            .map(|c| c.name.unwrap_or(c.client_id)),
        _ => None,
    };
    let audit = store
        .audit(&AuditFilter {
            person: Some(make_user_id.clone()),
            limit: Some(AUDIT_ROWS),
            ..AuditFilter::default()
        })
        .await?;
    let mut client_names: HashMap<String, String> = clients
        .iter()
        .filter_map(|c| Some((c.client_id.clone(), c.name.clone()?)))
        .collect();
    for id in audit.iter().filter_map(|e| e.client_id.as_ref()) {
        if !client_names.contains_key(id)
            && let Some(name) = store.client(id).await?.and_then(|c| c.name)
        {
            client_names.insert(id.clone(), name);
        }
    }
    Ok(AccountView {
        name: record.as_ref().and_then(|r| r.name.clone()),
        email: record.as_ref().and_then(|r| r.email.clone()),
        make_user_id,
        grant: store.grant_summary(person).await?,
        clients,
        audit,
        client_names,
        form_token: session.form_token(),
        revoked,
    })
}

/// The Revoke button's form.
#[derive(Debug, Deserialize)]
pub(super) struct RevokeForm {
    client_id: String,
    form_token: String,
}

/// `POST /account/revoke`: disconnects a client from the signed-in person, then back to the
/// page with a notice.
pub(super) async fn revoke(
    State(auth): State<AuthServer>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let session = match checked_post(&auth, &headers, &form.form_token).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    match auth
        .disconnect(&session.person, &form.client_id, Via::AccountPage)
        .await
    {
        Ok(true) => {
            tracing::info!(client_id = %form.client_id, "a person revoked a client on the account page");
            let mut to = url::Url::parse("http://page/account").expect("a fixed URL");
            to.query_pairs_mut().append_pair("revoked", &form.client_id);
            Redirect::to(&to[url::Position::BeforePath..]).into_response()
        }
        Ok(false) => Redirect::to("/account").into_response(),
        Err(e) => unavailable(e),
    }
}

/// The sign-out button's form.
#[derive(Debug, Deserialize)]
pub(super) struct SignOutForm {
    form_token: String,
}

/// `POST /account/sign-out`: ends the session; the page says so.
pub(super) async fn sign_out(
    State(auth): State<AuthServer>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Err(refused) = checked_post(&auth, &headers, &form.form_token).await {
        return refused;
    }
    if let Err(e) = auth.end_session(&headers).await {
        return unavailable(e);
    }
    (
        [(header::SET_COOKIE, auth.clear_cookie(Cookie::Session))],
        signed_out_page(),
    )
        .into_response()
}

/// The session of a post from the page itself: refused (403) from another site, without a
/// session, or without the session's form token.
async fn checked_post(
    auth: &AuthServer,
    headers: &HeaderMap,
    form_token: &str,
) -> Result<Session, Response> {
    if cross_site(auth, headers) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "This form was sent from another site, so it was refused.",
        ));
    }
    let session = match auth.session(headers).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "You are not signed in to the account page (or your session has ended). Open /account to sign in again.",
            ));
        }
        Err(e) => return Err(unavailable(e)),
    };
    if !session.accepts(form_token) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "This form does not belong to your session, so it was refused. Open /account again.",
        ));
    }
    Ok(session)
}

fn unavailable(e: StoreError) -> Response {
    tracing::error!(error = %e, "the account page cannot reach the database");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server's database is unavailable; try again shortly.",
    )
}

/// `text` with its first letter in capitals (descriptions are written for OAuth errors).
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
