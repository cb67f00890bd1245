//! `GET /oauth/callback`: Make sends the person back here after they signed in. The pending
//! sign-in is taken (once: a replayed `state` finds nothing), Make's code is traded for the
//! person's Make grant, which is stored sealed, and the person is asked to consent to the
//! client, unless they already did for these scopes. A sign-in to the account page ends in
//! [`super::account::signed_in`] instead.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::AuthServer;
use super::authorize::{
    AUTHORIZATION_CODE, CONSENT_TICKET, ClientRequest, PENDING_SIGN_IN, PendingSignIn,
    redirect_to_client,
};
use super::pages::{ConsentView, consent_page, error_page, person_label};
use super::secrets::{self, Kind};
use super::upstream::{TokenSet, UserInfo};
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
    headers: HeaderMap,
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
    match pending.request {
        Some(request) => client_sign_in(&auth, &params, request, &pending.make_verifier).await,
        None => super::account::signed_in(&auth, &headers, &params, &pending).await,
    }
}

/// Who signed in at Make, and the tokens Make issued for them.
pub(super) struct MakeSignIn {
    pub(super) person: PersonId,
    pub(super) user: UserInfo,
    /// Make's user id.
    pub(super) user_id: String,
    pub(super) tokens: TokenSet,
}

/// Why Make's answer gave no person: an OAuth error code and a description for the person.
pub(super) struct Failed {
    pub(super) error: &'static str,
    pub(super) description: &'static str,
}

/// Make's answer at the callback turned into the person who signed in: the code traded (with
/// this server's PKCE verifier) for tokens, `userinfo` asked who it is, the person stored.
pub(super) async fn finish_at_make(
    auth: &AuthServer,
    params: &HashMap<String, String>,
    make_verifier: &str,
) -> Result<MakeSignIn, Failed> {
    let failed = |error, description| Failed { error, description };
    if let Some(error) = params.get("error") {
        tracing::info!(error = %crate::logging::quote(error), "Make's sign-in ended without a grant");
        return Err(failed(
            "access_denied",
            "the sign-in with Make was not completed",
        ));
    }
    let Some(code) = params.get("code") else {
        return Err(failed("server_error", "Make's answer carries no code"));
    };
    let upstream = &auth.inner.upstream;
    let tokens = upstream.exchange(code, make_verifier).await.map_err(|e| {
        tracing::warn!(error = %e, "Make refused to trade a sign-in code");
        failed("access_denied", "Make did not grant access; sign in again")
    })?;
    let no_user = || failed("server_error", "Make did not say who signed in; try again");
    let user = upstream.userinfo(&tokens.access_token).await.map_err(|e| {
        tracing::warn!(error = %e, "Make's userinfo failed after sign-in");
        no_user()
    })?;
    let user_id = user.user_id().ok_or_else(no_user)?;
    let person = auth
        .inner
        .store
        .upsert_person(&user_id, user.name.as_deref(), user.email.as_deref())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot store a person");
            failed(
                "temporarily_unavailable",
                "the server's database is unavailable",
            )
        })?;
    learn_organization(auth, &person, &user_id, &tokens.access_token).await;
    Ok(MakeSignIn {
        person,
        user,
        user_id,
        tokens,
    })
}

/// Stores the Make grant of a sign-in as the person's grant. The person's earlier grant is
/// replaced, and revoked at Make, so no grant this server no longer holds stays alive there.
pub(super) async fn keep_grant(
    auth: &AuthServer,
    person: &PersonId,
    tokens: &TokenSet,
) -> Result<(), crate::store::StoreError> {
    let store = &auth.inner.store;
    let upstream = &auth.inner.upstream;
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
    let replaced = store.grant(person).await.ok().flatten().map(|(old, _)| old);
    store.put_grant(person, &grant).await?;
    if let Some(old) = replaced
        && let Some(token) = old.refresh_token.or(Some(old.access_token))
        && Some(&token) != grant.refresh_token.as_ref()
    {
        revoke_at_make(auth, token, "a replaced Make grant");
    }
    Ok(())
}

/// Revokes `token` at Make in the background; a failure is logged with `what`.
pub(super) fn revoke_at_make(auth: &AuthServer, token: String, what: &'static str) {
    let upstream = auth.inner.upstream.clone();
    tokio::spawn(async move {
        if let Err(e) = upstream.revoke(&token).await {
            tracing::info!(error = %e, "could not revoke {what} at Make");
        }
    });
}

/// The rest of a client's sign-in: the grant kept, then the consent page (or the code at once
/// when the person already allowed these scopes).
async fn client_sign_in(
    auth: &AuthServer,
    params: &HashMap<String, String>,
    request: ClientRequest,
    make_verifier: &str,
) -> Response {
    let back = |error: &str, description: &str| {
        redirect_to_client(
            &request.redirect_uri,
            &[("error", error), ("error_description", description)],
            request.state.as_deref(),
            auth.issuer(),
        )
    };
    let MakeSignIn {
        person,
        user,
        user_id,
        tokens,
    } = match finish_at_make(auth, params, make_verifier).await {
        Ok(signed_in) => signed_in,
        Err(Failed { error, description }) => return back(error, description),
    };
    if let Err(e) = keep_grant(auth, &person, &tokens).await {
        tracing::error!(error = %e, "cannot store a Make grant");
        return back(
            "temporarily_unavailable",
            "the server's database is unavailable",
        );
    }
    let store = &auth.inner.store;
    tracing::info!(make_user = %user_id, client_id = %request.client_id, "a person signed in with Make");
    let remembered = store
        .consent(&person, &request.client_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|scopes| request.scopes.iter().all(|s| scopes.contains(s)));
    if remembered {
        return issue_code(auth, request, person).await;
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
    let person_label = person_label(user.name.as_deref(), user.email.as_deref(), &user_id);
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
/// with the token they just got) and the requests a minute its plan allows
/// (`license.apiLimit`), and stores both. When Make does not say which organization (the
/// grant lacks `organizations:read`, the call failed), the organization stored before is
/// kept, or the person stays in the shared budget of unknown organizations; when it does
/// not say the limit, the budget setting holds. The requests wait for no slot (the
/// organization is what they would be counted against); once Make answered, they count
/// against the organization found.
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
    let limit = tokio::time::timeout(
        ORGANIZATION_LOOKUP,
        make.organization_api_limit(organization),
    )
    .await;
    let (plan_limit, status) = match limit {
        Ok(Ok(limit)) => (limit, Some(200)),
        Ok(Err(e)) => {
            tracing::info!(error = %crate::logging::quote(&e), "could not learn a Make organization's request limit: the budget setting holds for it");
            (None, e.status())
        }
        Err(_) => {
            tracing::info!(
                "Make did not give a Make organization's request limit in time: the budget setting holds for it"
            );
            (None, None)
        }
    };
    if let Some(budget) = make.budget() {
        let spender = Spender {
            organization: Organization::Id(organization),
            person: make_user_id.into(),
            plan_limit,
        };
        budget.spent(&spender, Some(200));
        budget.spent(&spender, status);
    }
    if let Err(e) = auth
        .inner
        .store
        .set_person_organization(person, organization, plan_limit)
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
