//! The one HTTP client every tool shares: base URL, authentication, timeouts, retries,
//! and turning Make's answers into typed values or [`MakeError`]s.

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::error::{ApiError, MakeError, Missing};
use crate::config::{ApiKey, ClientSettings};

/// Whether a request may be sent again when its outcome is unknown (timeout, 5xx).
///
/// A create that timed out may have created the object at Make, so repeating it could
/// duplicate a connection, key or credential request. Only `Safe` requests are retried then.
/// A 429 or a refused connection means Make did not act, so every kind is retried then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads, renames, deletes: repeating them changes nothing more.
    Safe,
    /// Creates, set-data, actions, verify: never repeated after an unknown outcome.
    Unsafe,
}

/// One request to the Make API, described before it is sent. Its `Debug` leaves the body
/// out: bodies carry connection data and key parameters.
#[derive(Clone)]
pub struct ApiRequest {
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    replay: Replay,
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("segments", &self.segments)
            .field("query", &self.query)
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .field("replay", &self.replay)
            .finish()
    }
}

impl ApiRequest {
    fn new(method: Method, segments: &[&str], replay: Replay) -> Self {
        Self {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            replay,
        }
    }

    /// A GET of `segments` joined as path segments (each one percent-encoded).
    pub fn get(segments: &[&str]) -> Self {
        Self::new(Method::GET, segments, Replay::Safe)
    }

    /// A POST that must not be repeated after an unknown outcome.
    pub fn post(segments: &[&str]) -> Self {
        Self::new(Method::POST, segments, Replay::Unsafe)
    }

    /// A PATCH (Make's PATCHes set fields, so repeating one is harmless).
    pub fn patch(segments: &[&str]) -> Self {
        Self::new(Method::PATCH, segments, Replay::Safe)
    }

    /// A DELETE (a repeat finds nothing more to delete).
    pub fn delete(segments: &[&str]) -> Self {
        Self::new(Method::DELETE, segments, Replay::Safe)
    }

    /// Adds one query pair; call it again with the same key for arrays (`type[]`).
    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Asks Make for every column (`cols[]=*`), as Make's own tools do.
    pub fn all_columns(self) -> Self {
        self.query("cols[]", "*")
    }

    /// Sets a JSON body (and with it `Content-Type: application/json`).
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Overrides the replay class (e.g. a POST that is really a read).
    pub fn replay(mut self, replay: Replay) -> Self {
        self.replay = replay;
        self
    }
}

/// How failed requests are retried (see [`Replay`] for which ones may be).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first try (0 turns retrying off).
    pub max_retries: u32,
    /// First back-off delay; doubled on each retry, with jitter.
    pub base_delay: Duration,
    /// Upper bound of any single wait, including a server's `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// The shared, pooled Make API client. Cheap to clone.
#[derive(Clone)]
pub struct MakeClient {
    http: reqwest::Client,
    base: Option<Url>,
    auth: Option<HeaderValue>,
    timeout_secs: u64,
    retry: RetryPolicy,
}

impl std::fmt::Debug for MakeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MakeClient")
            .field("base", &self.base.as_ref().map(Url::as_str))
            .field("authenticated", &self.auth.is_some())
            .finish()
    }
}

/// What one try produced, before the retry decision.
enum Attempt {
    /// Make answered (any status).
    Done {
        status: StatusCode,
        body: Vec<u8>,
        retry_after: Option<Duration>,
    },
    /// No answer; `never_sent` when the connection itself failed, so Make cannot have acted.
    Failed { error: MakeError, never_sent: bool },
}

impl MakeClient {
    /// Builds the client; fails only if the TLS backend cannot start.
    pub fn new(settings: &ClientSettings) -> Result<Self, MakeError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("make-credentials-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| MakeError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base: settings.base_url.clone(),
            auth: settings.api_key.as_ref().map(authorization_header),
            timeout_secs: settings.timeout.as_secs().max(1),
            retry: settings.retry.clone(),
        })
    }

    /// The API base URL (`https://{zone}/api/v2`), when configured.
    pub fn base_url(&self) -> Option<&Url> {
        self.base.as_ref()
    }

    /// True when a key is configured.
    pub fn has_key(&self) -> bool {
        self.auth.is_some()
    }

    /// Sends `request` and decodes the 2xx body as `T`.
    pub async fn send<T: DeserializeOwned>(&self, request: &ApiRequest) -> Result<T, MakeError> {
        let (status, body) = self.send_raw(request).await?;
        let bytes = if body.iter().all(u8::is_ascii_whitespace) {
            b"null".as_slice()
        } else {
            &body
        };
        serde_json::from_slice(bytes).map_err(|e| MakeError::Decode {
            status: status.as_u16(),
            reason: e.to_string(),
        })
    }

    /// Sends `request`, retrying per policy, and returns the 2xx status and body.
    pub async fn send_raw(&self, request: &ApiRequest) -> Result<(StatusCode, Vec<u8>), MakeError> {
        let auth = self
            .auth
            .as_ref()
            .ok_or(MakeError::NotConfigured(Missing::ApiKey))?;
        let base = self
            .base
            .as_ref()
            .ok_or(MakeError::NotConfigured(Missing::Zone))?;
        let url = url_for(base, request);
        let mut retries = 0;
        // Whether an earlier try may have taken effect at Make (timeout, 5xx, lost answer).
        let mut maybe_acted = false;
        loop {
            let started = Instant::now();
            let attempt = self.try_once(request, url.clone(), auth).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let delay = if retries < self.retry.max_retries {
                self.retry_delay(&attempt, request.replay, retries)
            } else {
                None
            };
            let error = match attempt {
                Attempt::Done { status, body, .. } if status.is_success() => {
                    tracing::debug!(method = %request.method, path = url.path(), status = status.as_u16(), elapsed_ms, "make api");
                    return Ok((status, body));
                }
                // An earlier try may have deleted the object before its answer was lost.
                Attempt::Done {
                    status: StatusCode::NOT_FOUND,
                    body,
                    ..
                } if maybe_acted && request.method == Method::DELETE => {
                    tracing::debug!(method = %request.method, path = url.path(), "retried delete found nothing left: deleted");
                    return Ok((StatusCode::NOT_FOUND, body));
                }
                Attempt::Done { status, body, .. } => {
                    MakeError::Api(Box::new(ApiError::from_response(status, &body)))
                }
                Attempt::Failed { error, .. } => error,
            };
            tracing::debug!(method = %request.method, path = url.path(), error = %crate::logging::quote(&error), elapsed_ms, "make api");
            let Some(delay) = delay else {
                return Err(error);
            };
            maybe_acted |= may_have_acted(&error);
            retries += 1;
            tracing::info!(method = %request.method, path = url.path(), retry = retries, delay_ms = delay.as_millis() as u64, "retrying make api request");
            tokio::time::sleep(delay).await;
        }
    }

    async fn try_once(&self, request: &ApiRequest, url: Url, auth: &HeaderValue) -> Attempt {
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, auth.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Failed {
                    never_sent: e.is_connect(),
                    error: self.transport_error(&e),
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match response.bytes().await {
            Ok(bytes) => Attempt::Done {
                status,
                body: bytes.to_vec(),
                retry_after,
            },
            Err(e) => Attempt::Failed {
                never_sent: false,
                error: self.transport_error(&e),
            },
        }
    }

    /// The wait before the next try, or `None` when this outcome must not be retried.
    fn retry_delay(&self, attempt: &Attempt, replay: Replay, retries: u32) -> Option<Duration> {
        let safe = replay == Replay::Safe;
        match attempt {
            Attempt::Done { status, .. } if status.is_success() => None,
            // Make refused before acting: any kind may go again, after Retry-After when given.
            Attempt::Done {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after,
                ..
            } => Some(
                retry_after
                    .map(|d| d.min(self.retry.max_delay))
                    .unwrap_or_else(|| self.backoff(retries)),
            ),
            Attempt::Done { status, .. } => {
                let transient = matches!(
                    *status,
                    StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                );
                (transient && safe).then(|| self.backoff(retries))
            }
            Attempt::Failed { never_sent, .. } => {
                (*never_sent || safe).then(|| self.backoff(retries))
            }
        }
    }

    /// Exponential back-off with ±20 % jitter, capped by `max_delay`.
    fn backoff(&self, retries: u32) -> Duration {
        let base = self.retry.base_delay.saturating_mul(1 << retries.min(16));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = 0.8 + f64::from(nanos % 400) / 1000.0;
        base.mul_f64(jitter).min(self.retry.max_delay)
    }

    fn transport_error(&self, e: &reqwest::Error) -> MakeError {
        if e.is_timeout() {
            MakeError::Timeout(self.timeout_secs)
        } else if e.is_connect() {
            MakeError::Connect(describe_transport_error(e))
        } else {
            MakeError::Transport(describe_transport_error(e))
        }
    }
}

/// False only when Make certainly did nothing: it refused with 429, or the connection
/// could not even be made.
fn may_have_acted(error: &MakeError) -> bool {
    match error {
        MakeError::Api(api) => api.status != 429,
        MakeError::Connect(_) => false,
        _ => true,
    }
}

/// `base` plus the request's segments, each percent-encoded (`app#x` → `app%23x`).
fn url_for(base: &Url, request: &ApiRequest) -> Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .expect("base URL is validated as http(s)")
        .pop_if_empty()
        .extend(&request.segments);
    url
}

/// `Token <key>` for Make API tokens (UUID-shaped), `Bearer <key>` for OAuth access tokens.
fn authorization_header(key: &ApiKey) -> HeaderValue {
    let scheme = if key.is_make_api_token() {
        "Token"
    } else {
        "Bearer"
    };
    let mut value = HeaderValue::from_str(&format!("{scheme} {}", key.expose()))
        .unwrap_or_else(|_| HeaderValue::from_static("Token invalid"));
    value.set_sensitive(true);
    value
}

/// reqwest's error text with its source chain (the URL in it holds ids, never the key).
fn describe_transport_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
