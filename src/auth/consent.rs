//! `POST /consent`: the person's decision on the consent page. The ticket is single-use and
//! only valid for the browser that signed in (it is only ever in that page); posts from other
//! sites are refused.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::AuthServer;
use super::authorize::{CONSENT_TICKET, redirect_to_client};
use super::callback::{Deciding, issue_code};
use super::pages::{cross_site, error_page};

#[derive(Debug, Deserialize)]
pub(super) struct Decision {
    ticket: String,
    decision: String,
}

pub(super) async fn decide(
    State(auth): State<AuthServer>,
    headers: HeaderMap,
    Form(form): Form<Decision>,
) -> Response {
    if cross_site(&auth, &headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form was sent from another site, so it was refused.",
        );
    }
    let deciding = match auth
        .inner
        .store
        .take_once(CONSENT_TICKET, &form.ticket)
        .await
    {
        Ok(Some(value)) => match serde_json::from_value::<Deciding>(value) {
            Ok(deciding) => deciding,
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "This consent cannot be read."),
        },
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This consent page was already used or has expired.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read a consent ticket");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server's database is unavailable; try again shortly.",
            );
        }
    };
    let Deciding { request, person } = deciding;
    if form.decision != "allow" {
        tracing::info!(client_id = %request.client_id, "a person denied a client");
        return redirect_to_client(
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "the person denied access"),
            ],
            request.state.as_deref(),
            auth.issuer(),
        );
    }
    if let Err(e) = auth
        .inner
        .store
        .put_consent(&person, &request.client_id, &request.scopes)
        .await
    {
        tracing::error!(error = %e, "cannot store a consent");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server's database is unavailable; try again shortly.",
        );
    }
    tracing::info!(client_id = %request.client_id, "a person allowed a client");
    issue_code(&auth, request, person).await
}
