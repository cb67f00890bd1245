//! The authorization endpoint: checking the request, the login form and the consent form.
//!
//! Order of checks (RFC 6749 §4.1.2.1): the client and the redirect URI first, and while
//! either is in doubt the person gets an error page, never a redirect; after that, errors
//! go back to the client as `error=...&state=...&iss=...`. Each form carries a one-time
//! ticket, so a login or consent post works once, and cross-site posts are refused by the
//! guard in front of every route.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use super::grants::AuthRequest;
use super::{pages, pkce, supported_scopes};
use crate::AppState;
use crate::seed::{PEOPLE_PASSWORD, person};

/// Longest `state` accepted; a bound on what a request can store.
const MAX_STATE_LEN: usize = 1024;

/// A request that cannot be completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum AuthorizeError {
    /// Shown to the person: the client or its redirect URI is not trusted.
    #[error("{0}")]
    Page(String),
    /// Sent back to the registered redirect URI.
    #[error("{error}: {description}")]
    Redirect {
        error: &'static str,
        description: String,
        redirect_uri: String,
        state: Option<String>,
    },
}

/// Query or form fields; a field given twice is refused (RFC 6749 §3.1).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(raw: &[u8]) -> Self {
        Fields(url::form_urlencoded::parse(raw).into_owned().collect())
    }

    /// The field's value; `Err` with its name when given more than once.
    fn one(&self, name: &'static str) -> Result<Option<&str>, &'static str> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str());
        match found.next() {
            Some(_) => Err(name),
            None => Ok(first.filter(|v| !v.is_empty())),
        }
    }
}

/// Checks an authorization request into what the forms carry.
fn check(state: &AppState, fields: &Fields) -> Result<AuthRequest, AuthorizeError> {
    let config = &state.oauth.config;
    let page = |m: &str| AuthorizeError::Page(m.to_owned());
    let repeated = |name| AuthorizeError::Page(format!("The parameter {name} is given twice."));
    let client_id = fields.one("client_id").map_err(repeated)?;
    if client_id != Some(config.client_id.as_str()) {
        return Err(page("The client_id is missing or not a registered client."));
    }
    let redirect_uri = fields.one("redirect_uri").map_err(repeated)?;
    let Some(redirect_uri) = redirect_uri.filter(|r| config.redirect_uris.iter().any(|u| u == r))
    else {
        return Err(page(
            "The redirect_uri is missing or not registered for this client.",
        ));
    };
    let redirect_uri = redirect_uri.to_owned();
    // A state that cannot be echoed (too long, given twice) is refused without one.
    let (state_param, state_problem) = match fields.one("state") {
        Ok(Some(s)) if s.len() > MAX_STATE_LEN => (
            None,
            Some(format!("state is longer than {MAX_STATE_LEN} characters.")),
        ),
        Ok(s) => (s.map(str::to_owned), None),
        Err(n) => (None, Some(format!("The parameter {n} is given twice."))),
    };
    let back = |error: &'static str, description: String| AuthorizeError::Redirect {
        error,
        description,
        redirect_uri: redirect_uri.clone(),
        state: state_param.clone(),
    };
    let field = |name| {
        fields.one(name).map_err(|n: &str| {
            back(
                "invalid_request",
                format!("The parameter {n} is given twice."),
            )
        })
    };
    if let Some(problem) = state_problem {
        return Err(back("invalid_request", problem));
    }
    if field("response_type")? != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "Only response_type=code is supported.".into(),
        ));
    }
    let challenge = field("code_challenge")?;
    if field("code_challenge_method")? != Some("S256") {
        return Err(back(
            "invalid_request",
            "PKCE is required with code_challenge_method=S256.".into(),
        ));
    }
    let Some(challenge) = challenge.filter(|c| pkce::well_formed(c)) else {
        return Err(back(
            "invalid_request",
            "code_challenge is missing or not 43-128 characters of [A-Za-z0-9-._~].".into(),
        ));
    };
    let Some(scope) = field("scope")? else {
        return Err(back("invalid_scope", "scope is required.".into()));
    };
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !supported_scopes().any(|known| known == s) {
            return Err(back("invalid_scope", format!("Unknown scope '{s}'.")));
        }
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(back("invalid_scope", "scope is required.".into()));
    }
    Ok(AuthRequest {
        client_id: config.client_id.clone(),
        redirect_uri,
        scopes,
        state: state_param,
        code_challenge: challenge.to_owned(),
    })
}

/// 303 to the client's redirect URI with `params`, `state` and `iss` added to its query.
fn back_to_client(
    state: &AppState,
    redirect_uri: &str,
    params: &[(&str, &str)],
    client_state: Option<&str>,
) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "The registered redirect_uri is not a URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(params);
        if let Some(s) = client_state {
            query.append_pair("state", s);
        }
        query.append_pair("iss", &state.oauth.config.issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

fn refused(state: &AppState, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(message) => pages::error(StatusCode::BAD_REQUEST, &message),
        AuthorizeError::Redirect {
            error,
            description,
            redirect_uri,
            state: client_state,
        } => back_to_client(
            state,
            &redirect_uri,
            &[("error", error), ("error_description", &description)],
            client_state.as_deref(),
        ),
    }
}

/// `GET /oauth/v2/authorize`: the login page for a valid request.
pub(super) async fn start(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let fields = Fields::parse(q.unwrap_or_default().as_bytes());
    match check(&state, &fields) {
        Ok(request) => {
            let ticket = state.oauth.lock().ticket(request.clone(), None);
            pages::login(&ticket, &request, None)
        }
        Err(e) => refused(&state, e),
    }
}

const EXPIRED: &str =
    "This page has expired or was already used. Start again from the application.";

/// `POST /oauth/v2/login`: the consent page, or the login form again with a message.
pub(super) async fn login(State(state): State<AppState>, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let ticket = fields.one("ticket").ok().flatten().unwrap_or_default();
    let Some(taken) = state.oauth.lock().take_ticket(ticket) else {
        return pages::error(StatusCode::BAD_REQUEST, EXPIRED);
    };
    if taken.person.is_some() {
        return pages::error(StatusCode::BAD_REQUEST, EXPIRED);
    }
    let username = fields.one("username").ok().flatten().unwrap_or_default();
    let password = fields.one("password").ok().flatten().unwrap_or_default();
    let password_ok: bool = password.as_bytes().ct_eq(PEOPLE_PASSWORD.as_bytes()).into();
    match person(username.trim(), state.oauth.config.crowd).filter(|_| password_ok) {
        Some(p) => {
            let next = state.oauth.lock().ticket(taken.request.clone(), Some(p));
            pages::consent(&next, &taken.request, p)
        }
        None => {
            let next = state.oauth.lock().ticket(taken.request.clone(), None);
            pages::login(&next, &taken.request, Some("Wrong user name or password."))
        }
    }
}

/// `POST /oauth/v2/consent`: approve issues a code, deny says `access_denied`; both go back
/// to the client.
pub(super) async fn consent(State(state): State<AppState>, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let ticket = fields.one("ticket").ok().flatten().unwrap_or_default();
    let Some(taken) = state.oauth.lock().take_ticket(ticket) else {
        return pages::error(StatusCode::BAD_REQUEST, EXPIRED);
    };
    let Some(person) = taken.person else {
        return pages::error(StatusCode::BAD_REQUEST, EXPIRED);
    };
    let request = taken.request;
    let client_state = request.state.clone();
    match fields.one("decision") {
        Ok(Some("approve")) => {
            let redirect_uri = request.redirect_uri.clone();
            let code = state.oauth.lock().code(request, person);
            back_to_client(
                &state,
                &redirect_uri,
                &[("code", &code)],
                client_state.as_deref(),
            )
        }
        Ok(Some("deny")) => back_to_client(
            &state,
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "The person denied the request."),
            ],
            client_state.as_deref(),
        ),
        _ => pages::error(
            StatusCode::BAD_REQUEST,
            "The form must say approve or deny. Start again from the application.",
        ),
    }
}
