//! `GET /oauth/callback`: Make sends the person back here after they signed in. The pending
//! sign-in is taken (once: a replayed `state` finds nothing), Make's code is traded for the
//! person's Make grant, which is stored sealed, and the person is asked to consent to the
//! client, unless they already did for these scopes.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::AuthServer;
use super::authorize::{
    AUTHORIZATION_CODE, CONSENT_TICKET, ClientRequest, PENDING_SIGN_IN, PendingSignIn,
    redirect_to_client,
};
use super::pages::{ConsentView, consent_page, error_page};
use super::secrets::{self, Kind};
use crate::make::budget::{Organization, Spender};
use crate::store::{MakeGrant, PersonId};

/// A consent ticket: the request and the person who signed in, until they decide.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Deciding {
    pub(super) request: ClientRequest,
    pub(super) person: PersonId,
}

pub(super) async fn callback(
    State(auth): State<AuthServer>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(state) = params.get("state") else {
        return error_page(StatusCode::BAD_REQUEST, "Make's answer carries no state.");
    };
    let pending = match auth.inner.store.take_once(PENDING_SIGN_IN, state).await {
        Ok(Some(value)) => match serde_json::from_value::<PendingSignIn>(value) {
            Ok(pending) => pending,
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "This sign-in cannot be read."),
        },
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link was already used or has expired.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read a sign-in in progress");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server's database is unavailable; try again shortly.",
            );
        }
    };
    let request = pending.request;
    let back = |error: &str, description: &str| {
        redirect_to_client(
            &request.redirect_uri,
            &[("error", error), ("error_description", description)],
            request.state.as_deref(),
            auth.issuer(),
        )
    };
    if let Some(error) = params.get("error") {
        tracing::info!(error = %crate::logging::quote(error), "Make's sign-in ended without a grant");
        return back("access_denied", "the sign-in with Make was not completed");
    }
    let Some(code) = params.get("code") else {
        return back("server_error", "Make's answer carries no code");
    };
    let upstream = &auth.inner.upstream;
    let tokens = match upstream.exchange(code, &pending.make_verifier).await {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::warn!(error = %e, "Make refused to trade a sign-in code");
            return back("access_denied", "Make did not grant access; sign in again");
        }
    };
    let user = match upstream.userinfo(&tokens.access_token).await {
        Ok(user) => user,
        Err(e) => {
            tracing::warn!(error = %e, "Make's userinfo failed after sign-in");
            return back("server_error", "Make did not say who signed in; try again");
        }
    };
    let Some(user_id) = user.user_id() else {
        return back("server_error", "Make did not say who signed in; try again");
    };
    let store = &auth.inner.store;
    let person = match store
        .upsert_person(&user_id, user.name.as_deref(), user.email.as_deref())
        .await
    {
        Ok(person) => person,
        Err(e) => {
            tracing::error!(error = %e, "cannot store a person");
            return back(
                "temporarily_unavailable",
                "the server's database is unavailable",
            );
        }
    };
    learn_organization(&auth, &person, &user_id, &tokens.access_token).await;
    let granted: Vec<String> = match &tokens.scope {
        Some(scope) => scope.split_ascii_whitespace().map(String::from).collect(),
        None => upstream.registration().scopes.clone(),
    };
    let grant = MakeGrant {
        access_token: tokens.access_token.clone(),
        refresh_token: tokens.refresh_token.clone(),
        expires_at: super::now() + tokens.expires_in.unwrap_or(3600) as i64,
        scopes: granted,
        api_base: auth.inner.api_base.to_string(),
    };
    let replaced = store
        .grant(&person)
        .await
        .ok()
        .flatten()
        .map(|(old, _)| old);
    if let Err(e) = store.put_grant(&person, &grant).await {
        tracing::error!(error = %e, "cannot store a Make grant");
        return back(
            "temporarily_unavailable",
            "the server's database is unavailable",
        );
    }
    // The person's earlier grant is replaced: revoke it at Make, so no grant this server
    // no longer holds stays alive there.
    if let Some(old) = replaced
        && let Some(token) = old.refresh_token.or(Some(old.access_token))
        && Some(&token) != grant.refresh_token.as_ref()
    {
        let upstream = upstream.clone();
        tokio::spawn(async move {
            if let Err(e) = upstream.revoke(&token).await {
                tracing::info!(error = %e, "could not revoke a replaced Make grant at Make");
            }
        });
    }
    tracing::info!(make_user = %user_id, client_id = %request.client_id, "a person signed in with Make");
    let remembered = store
        .consent(&person, &request.client_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|scopes| request.scopes.iter().all(|s| scopes.contains(s)));
    if remembered {
        return issue_code(&auth, request, person).await;
    }
    let client = match auth.inner.clients.find(&request.client_id).await {
        Ok(client) => client,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    let ticket = secrets::random(Kind::Internal);
    let deciding = Deciding {
        request: request.clone(),
        person,
    };
    if let Err(e) = store
        .put_once(
            CONSENT_TICKET,
            &ticket,
            &serde_json::to_value(&deciding).expect("plain data serializes"),
            super::SIGN_IN_TTL,
        )
        .await
    {
        tracing::error!(error = %e, "cannot store a consent ticket");
        return back(
            "temporarily_unavailable",
            "the server's database is unavailable",
        );
    }
    let redirect_host = url::Url::parse(&request.redirect_uri)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(String::from)
                .or_else(|| Some(format!("{}:", u.scheme())))
        })
        .unwrap_or_default();
    let person_label = match (&user.name, &user.email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(name), None) => name.clone(),
        (None, Some(email)) => email.clone(),
        (None, None) => format!("Make user {user_id}"),
    };
    consent_page(&ConsentView {
        ticket: &ticket,
        client_name: client.name.as_deref().unwrap_or("An unnamed application"),
        client_id: &client.client_id,
        redirect_host: &redirect_host,
        person: &person_label,
        scopes: &request.scopes,
    })
}

/// Asks Make which organization the person's calls count against (their organizations,
/// with the token they just got) and stores it. When Make does not say (the grant lacks
/// `organizations:read`, the call failed), the organization stored before is kept, or the
/// person stays in the shared budget of unknown organizations. The request waits for no
/// slot (the organization is what it would be counted against); once Make answered, it
/// counts against the organization found.
async fn learn_organization(
    auth: &AuthServer,
    person: &PersonId,
    make_user_id: &str,
    access_token: &str,
) {
    let make = auth
        .inner
        .make
        .acting_as(access_token, Some(auth.inner.api_base.clone()));
    let found = tokio::time::timeout(ORGANIZATION_LOOKUP, make.organizations()).await;
    let organization = match found {
        Ok(Ok(items)) => {
            crate::make::organizations::counted_organization(&items, &auth.inner.api_base)
        }
        Ok(Err(e)) => {
            tracing::info!(error = %crate::logging::quote(&e), "could not learn a person's Make organization: their calls share the budget of unknown organizations");
            return;
        }
        Err(_) => {
            tracing::info!(
                "Make did not list a person's organizations in time: their calls share the budget of unknown organizations"
            );
            return;
        }
    };
    let Some(organization) = organization else {
        return;
    };
    if let Some(budget) = make.budget() {
        let spender = Spender {
            organization: Organization::Id(organization),
            person: make_user_id.into(),
        };
        budget.spent(&spender, Some(200));
    }
    if let Err(e) = auth
        .inner
        .store
        .set_person_organization(person, organization)
        .await
    {
        tracing::warn!(error = %e, "cannot store a person's Make organization");
    }
}

/// How long the sign-in waits for Make to list the person's organizations.
const ORGANIZATION_LOOKUP: std::time::Duration = std::time::Duration::from_secs(10);

/// Issues a single-use authorization code for `request`, bound to the client, its redirect
/// URI and PKCE challenge, and sends the person back to the client with it.
pub(super) async fn issue_code(
    auth: &AuthServer,
    request: ClientRequest,
    person: PersonId,
) -> Response {
    let code = secrets::random(Kind::Code);
    let granted = Deciding {
        request: request.clone(),
        person,
    };
    let stored = auth
        .inner
        .store
        .put_once(
            AUTHORIZATION_CODE,
            &code,
            &serde_json::to_value(&granted).expect("plain data serializes"),
            super::CODE_TTL,
        )
        .await;
    if let Err(e) = stored {
        tracing::error!(error = %e, "cannot store an authorization code");
        return redirect_to_client(
            &request.redirect_uri,
            &[("error", "temporarily_unavailable")],
            request.state.as_deref(),
            auth.issuer(),
        );
    }
    redirect_to_client(
        &request.redirect_uri,
        &[("code", &code)],
        request.state.as_deref(),
        auth.issuer(),
    )
}
