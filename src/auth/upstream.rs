//! Make's OAuth provider, as this server's confidential client: discovery, the sign-in
//! redirect, the code exchange, refresh, revocation and `userinfo`.
//!
//! Endpoints come from the issuer's discovery document (`/.well-known/openid-configuration`),
//! fetched on first need and kept; a failed fetch is retried on the next sign-in. The client
//! secret goes in the form body (`client_secret_post`, what Make supports) and never into a
//! log line or an error text.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::OnceCell;
use url::Url;

use crate::config::Secret;

/// Longest wait for any answer of Make's OAuth endpoints.
const TIMEOUT: Duration = Duration::from_secs(15);

/// This server's registration with Make's OAuth provider.
#[derive(Debug, Clone)]
pub(crate) struct MakeOAuthClient {
    /// The issuer, e.g. `https://www.make.com`; its discovery document names the endpoints.
    pub(crate) issuer: Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    /// Scopes asked of Make at sign-in (space-separated in the request).
    pub(crate) scopes: Vec<String>,
    /// Where Make sends the person back: `{public URL}/oauth/callback`.
    pub(crate) redirect_uri: Url,
}

/// The endpoints of the discovery document this server uses.
#[derive(Debug, Clone, Deserialize)]
struct Endpoints {
    issuer: String,
    #[serde(deserialize_with = "url_field")]
    authorization_endpoint: Url,
    #[serde(deserialize_with = "url_field")]
    token_endpoint: Url,
    #[serde(default, deserialize_with = "optional_url_field")]
    revocation_endpoint: Option<Url>,
    #[serde(deserialize_with = "url_field")]
    userinfo_endpoint: Url,
}

fn url_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let text = String::deserialize(d)?;
    Url::parse(&text).map_err(serde::de::Error::custom)
}

fn optional_url_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| Url::parse(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// Tokens Make issued for one person.
#[derive(Clone, Deserialize)]
pub(crate) struct TokenSet {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
    /// Space-separated; Make may leave it out, and then the scopes asked for were granted.
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Who signed in, from Make's `userinfo`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserInfo {
    /// The person's Make user id (a string in OIDC).
    pub(crate) sub: serde_json::Value,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
}

impl UserInfo {
    /// The Make user id as text, whether Make sent it as a string or a number.
    pub(crate) fn user_id(&self) -> Option<String> {
        match &self.sub {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Why a request to Make's OAuth provider failed. Never carries a token or the secret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// Make refused the grant or the code (`invalid_grant`, `invalid_client`, ...): the
    /// person must sign in again.
    #[error("Make refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    /// Make could not be reached or answered something unusable: try again later.
    #[error("Make's sign-in service is unavailable: {0}")]
    Unavailable(String),
}

/// The client for Make's OAuth endpoints; cheap to clone.
#[derive(Clone)]
pub(crate) struct Upstream {
    registration: std::sync::Arc<MakeOAuthClient>,
    http: reqwest::Client,
    endpoints: std::sync::Arc<OnceCell<Endpoints>>,
}

impl Upstream {
    pub(crate) fn new(registration: MakeOAuthClient) -> Result<Self, String> {
        let http = crate::make::outbound_client(&registration.issuer, TIMEOUT)?;
        Ok(Self {
            registration: std::sync::Arc::new(registration),
            http,
            endpoints: std::sync::Arc::new(OnceCell::new()),
        })
    }

    /// The registration (issuer, client id, scopes), for metadata and logs.
    pub(crate) fn registration(&self) -> &MakeOAuthClient {
        &self.registration
    }

    async fn endpoints(&self) -> Result<&Endpoints, UpstreamError> {
        self.endpoints
            .get_or_try_init(|| async {
                let issuer = self.registration.issuer.as_str().trim_end_matches('/');
                let url = format!("{issuer}/.well-known/openid-configuration");
                let response = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| UpstreamError::Unavailable(format!("{url}: {e}")))?;
                if !response.status().is_success() {
                    return Err(UpstreamError::Unavailable(format!(
                        "{url} answered {}",
                        response.status()
                    )));
                }
                let endpoints: Endpoints = response.json().await.map_err(|e| {
                    UpstreamError::Unavailable(format!("{url} is not a discovery document: {e}"))
                })?;
                if endpoints.issuer.trim_end_matches('/') != issuer {
                    return Err(UpstreamError::Unavailable(format!(
                        "{url} names the issuer {:?}, not {issuer:?}",
                        endpoints.issuer
                    )));
                }
                Ok(endpoints)
            })
            .await
    }

    /// Where to send the person to sign in with Make, with this server's `state` and PKCE
    /// challenge.
    pub(crate) async fn authorize_url(
        &self,
        state: &str,
        code_challenge: &str,
    ) -> Result<Url, UpstreamError> {
        let mut url = self.endpoints().await?.authorization_endpoint.clone();
        let r = &self.registration;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &r.client_id)
            .append_pair("redirect_uri", r.redirect_uri.as_str())
            .append_pair("scope", &r.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Trades the code from Make's redirect for the person's tokens.
    pub(crate) async fn exchange(
        &self,
        code: &str,
        code_verifier: &str,
    ) -> Result<TokenSet, UpstreamError> {
        let r = &self.registration;
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", code_verifier),
            ("redirect_uri", r.redirect_uri.as_str()),
        ])
        .await
    }

    /// A new access token (and, when Make rotates them, refresh token) for a grant.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, UpstreamError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn token_request(&self, fields: &[(&str, &str)]) -> Result<TokenSet, UpstreamError> {
        let endpoint = self.endpoints().await?.token_endpoint.clone();
        let r = &self.registration;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("client_id", &r.client_id));
        form.push(("client_secret", r.client_secret.expose()));
        let (status, body) = fetch(self.http.post(endpoint.clone()).form(&form), &endpoint).await?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|_| {
                UpstreamError::Unavailable(format!("{endpoint} answered {status} without tokens"))
            });
        }
        Err(refusal_or_outage(status, &body, &endpoint))
    }

    /// Revokes a token at Make (RFC 7009); Make answering anything but 2xx is reported.
    pub(crate) async fn revoke(&self, token: &str) -> Result<(), UpstreamError> {
        let Some(endpoint) = self.endpoints().await?.revocation_endpoint.clone() else {
            return Ok(());
        };
        let r = &self.registration;
        let request = self.http.post(endpoint.clone()).form(&[
            ("token", token),
            ("client_id", &r.client_id),
            ("client_secret", r.client_secret.expose()),
        ]);
        let (status, body) = fetch(request, &endpoint).await?;
        if status.is_success() {
            return Ok(());
        }
        Err(refusal_or_outage(status, &body, &endpoint))
    }

    /// Who the access token belongs to.
    pub(crate) async fn userinfo(&self, access_token: &str) -> Result<UserInfo, UpstreamError> {
        let endpoint = self.endpoints().await?.userinfo_endpoint.clone();
        let request = self.http.get(endpoint.clone()).bearer_auth(access_token);
        let (status, body) = fetch(request, &endpoint).await?;
        if !status.is_success() {
            return Err(refusal_or_outage(status, &body, &endpoint));
        }
        serde_json::from_slice(&body)
            .map_err(|_| UpstreamError::Unavailable(format!("{endpoint} answered no user")))
    }
}

/// Sends `request` and reads the whole answer; a failure to get one is an outage.
async fn fetch(
    request: reqwest::RequestBuilder,
    endpoint: &Url,
) -> Result<(reqwest::StatusCode, axum::body::Bytes), UpstreamError> {
    let outage =
        |e: reqwest::Error| UpstreamError::Unavailable(format!("{endpoint}: {}", without_url(&e)));
    let response = request.send().await.map_err(outage)?;
    let status = response.status();
    let body = response.bytes().await.map_err(outage)?;
    Ok((status, body))
}

/// A 4xx with an OAuth error body is Make refusing; anything else is an outage.
fn refusal_or_outage(status: reqwest::StatusCode, body: &[u8], endpoint: &Url) -> UpstreamError {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) if status.is_client_error() => UpstreamError::Refused {
            error: crate::make::clip(&e.error, 64),
            description: e.error_description.map(|d| crate::make::clip(&d, 200)),
        },
        _ if status == reqwest::StatusCode::UNAUTHORIZED => UpstreamError::Refused {
            error: "invalid_token".into(),
            description: None,
        },
        _ => UpstreamError::Unavailable(format!("{endpoint} answered {status}")),
    }
}

/// A reqwest error's text without the URL (whose query could hold a code).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}
