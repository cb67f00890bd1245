//! The resource check in front of `/mcp` in team mode: the bearer token must be one this
//! server issued for its own `/mcp` URL, unexpired and unrevoked; the person it names must
//! still have a Make grant. What passes carries a [`Caller`] (the person, their Make
//! credentials and scopes, and whose part of the Make request budget their calls spend) to
//! the tools; the token itself is removed from the request, so
//! it cannot travel further.

use std::collections::BTreeSet;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AuthServer;
use super::grants::GrantError;
use super::metadata::challenge;
use super::secrets;
use crate::make::budget::{Organization, Spender};
use crate::server::Caller;
use crate::transport::http::refusal::refusal;

impl AuthServer {
    /// Admits `request` as its person (a [`Caller`] in its extensions) or answers 401/503.
    pub(crate) async fn admit(&self, request: &mut Request) -> Result<(), Response> {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_string())
            });
        let Some(token) = presented else {
            return Err(self.unauthorized(None, "Unauthorized: sign in (this server uses OAuth; your MCP client starts the sign-in from the WWW-Authenticate header)"));
        };
        let store = &self.inner.store;
        let grant = match store.access_token(&secrets::hash(&token)).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return Err(self.unauthorized(
                    Some("invalid_token"),
                    "Unauthorized: the token is unknown, expired or revoked; sign in again",
                ));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot look up an access token");
                return Err(unavailable());
            }
        };
        if grant.resource != self.resource() {
            return Err(self.unauthorized(
                Some("invalid_token"),
                "Unauthorized: the token was issued for another resource",
            ));
        }
        let person = match store.person(&grant.person).await {
            Ok(Some(person)) => person,
            Ok(None) => {
                return Err(self.unauthorized(Some("invalid_token"), "Unauthorized: sign in again"));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot look up a person");
                return Err(unavailable());
            }
        };
        let make = match self.fresh_grant(&grant.person).await {
            Ok(make) => make,
            Err(GrantError::SignInAgain) => {
                return Err(self.unauthorized(
                    Some("invalid_token"),
                    "Unauthorized: your Make sign-in has ended (revoked or expired); sign in again",
                ));
            }
            Err(GrantError::Unavailable(reason)) => {
                tracing::warn!(%reason, "no usable Make grant for a request");
                return Err(unavailable());
            }
        };
        let allowed: BTreeSet<String> = make.scopes.iter().cloned().collect();
        let scopes = grant
            .scopes
            .iter()
            .filter(|s| allowed.contains(*s))
            .cloned()
            .collect();
        let base = url::Url::parse(&make.api_base).ok();
        let spender = Spender {
            organization: person
                .organization_id
                .map_or(Organization::Unknown, Organization::Id),
            person: person.make_user_id.as_str().into(),
            plan_limit: person.organization_api_limit,
        };
        let caller = Caller {
            make: self
                .inner
                .make
                .acting_as(&make.access_token, base)
                .spending_as(spender),
            make_user_id: person.make_user_id,
            client_id: grant.client_id,
            scopes,
        };
        request.headers_mut().remove(header::AUTHORIZATION);
        request.extensions_mut().insert(caller);
        Ok(())
    }

    fn unauthorized(&self, error: Option<&str>, message: &str) -> Response {
        let value = HeaderValue::from_str(&challenge(self, error))
            .expect("the challenge is built from a URL and fixed words");
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, value)],
            refusal(message),
        )
            .into_response()
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
        refusal("Service unavailable: the server cannot reach its database or Make's sign-in service; try again shortly"),
    )
        .into_response()
}
