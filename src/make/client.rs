//! The one HTTP client every tool shares: base URL, authentication, timeouts, retries,
//! and turning Make's answers into typed values or [`MakeError`]s.
//!
//! It only ever talks to the configured base URL: redirects are never followed (Make's API
//! does not redirect, and following one would re-send a create's secrets elsewhere), and a
//! loopback base URL (the sandbox, tests) is never reached through a proxy from the
//! environment, which would carry the key in plain text.

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::budget::{Budget, Denied, Held, Slot, Spender};
use super::error::{ApiError, MAX_REASON_CHARS, MakeError, Missing, clip};
use super::http::{LazyHttp, Recipe};
use super::request::{ApiRequest, Replay};
use super::response::{
    BodyError, decode_reason, foreign_content_type, read_capped, redirect_target,
};
use super::settings::{ApiKey, ClientSettings, RetryPolicy};
use crate::metrics::Metrics;

mod acting;

/// The shared, pooled Make API client. Cheap to clone.
#[derive(Clone)]
pub struct MakeClient {
    http: LazyHttp,
    base: Option<Url>,
    auth: Option<HeaderValue>,
    /// The key is sent as `Bearer` (an OAuth access token, not a Make API token).
    oauth: bool,
    timeout_secs: u64,
    retry: RetryPolicy,
    /// Where each HTTP exchange with Make is counted; `None` counts nothing.
    metrics: Option<Metrics>,
    /// The replica's Make request budget, shared by every client derived from this one.
    budget: Option<Budget>,
    /// Whose budget this client's requests spend; without one, requests are not budgeted.
    spender: Option<Spender>,
}

impl std::fmt::Debug for MakeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MakeClient")
            .field("base", &self.base.as_ref().map(Url::as_str))
            .field("authenticated", &self.auth.is_some())
            .field("spender", &self.spender)
            .finish()
    }
}

/// What one try produced, before the retry decision.
enum Attempt {
    /// Make answered (any status but a redirect) with a body within the cap.
    Done {
        status: StatusCode,
        body: Vec<u8>,
        retry_after: Option<Duration>,
    },
    /// No usable answer; `never_sent` when the connection itself failed, so Make cannot
    /// have acted.
    Failed { error: MakeError, never_sent: bool },
}

impl Attempt {
    /// The HTTP status Make (or whatever answered) sent, when an answer came.
    fn status(&self) -> Option<u16> {
        match self {
            Attempt::Done { status, .. } => Some(status.as_u16()),
            Attempt::Failed { error, .. } => match error {
                MakeError::Redirect { status, .. }
                | MakeError::Decode { status, .. }
                | MakeError::TooLarge { status, .. } => Some(*status),
                _ => None,
            },
        }
    }
}

/// How a DELETE ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// Make answered 2xx: the object is gone.
    Confirmed,
    /// An earlier try's outcome is unknown (`earlier` says why: its answer was a 5xx or was
    /// lost), and a retry found no such object. The earlier try most likely deleted it, but
    /// an id that never existed ends the same way, so this is not certain.
    Probable { earlier: String },
}

/// A request's final 2xx answer (or a retried DELETE's 404, with `earlier` set).
struct Exchange {
    status: StatusCode,
    body: Vec<u8>,
    /// Why an earlier try's outcome is unknown, when a retried DELETE then found nothing.
    earlier: Option<String>,
}

impl MakeClient {
    /// Builds the client. The HTTP side (TLS, trust store) is built on the first call.
    ///
    /// Proxies from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`)
    /// are honoured for a real Make zone, but never for a loopback base URL: traffic to the
    /// sandbox or a local test server must not leave the machine.
    pub fn new(settings: &ClientSettings) -> Result<Self, MakeError> {
        super::install_crypto_provider();
        let http = LazyHttp::new(Recipe::for_base(
            settings.base_url.as_ref(),
            settings.connect_timeout,
            settings.timeout,
        ));
        Ok(Self {
            http,
            base: settings.base_url.clone(),
            auth: settings.api_key.as_ref().map(authorization_header),
            oauth: settings
                .api_key
                .as_ref()
                .is_some_and(|k| !k.is_make_api_token()),
            timeout_secs: settings.timeout.as_secs().max(1),
            retry: settings.retry.clone(),
            metrics: None,
            budget: None,
            spender: None,
        })
    }

    /// The same client keeping Make's request limit with `budget` (one per replica); so do
    /// the clients derived from it, for whoever [`MakeClient::spending_as`] names.
    pub fn with_budget(self, budget: Budget) -> Self {
        Self {
            budget: Some(budget),
            ..self
        }
    }

    /// The same client, its requests spending `spender`'s part of the budget (when it has
    /// one): every HTTP request, retries included, first takes a slot.
    pub fn spending_as(self, spender: Spender) -> Self {
        Self {
            spender: Some(spender),
            ..self
        }
    }

    /// The replica's Make request budget, when it keeps one.
    pub(crate) fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// Whose budget this client's requests spend, when they are budgeted.
    pub fn spender(&self) -> Option<&Spender> {
        self.spender.as_ref()
    }

    /// The same client, counting each HTTP exchange with Make (method, status, duration)
    /// in `metrics`; so do the clients derived from it, and its budget, per organization.
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        if let Some(budget) = &self.budget {
            budget.count_into(&metrics);
        }
        Self {
            metrics: Some(metrics),
            ..self
        }
    }

    /// Where this client counts its exchanges, when anywhere.
    pub(crate) fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// The API base URL (`https://{zone}/api/v2`), when configured.
    pub(crate) fn base_url(&self) -> Option<&Url> {
        self.base.as_ref()
    }

    /// A digest of the credential this client sends (never the credential itself), so that
    /// state shared between calls can be kept apart per Make credential.
    pub(crate) fn credential_digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let sent = self
            .auth
            .as_ref()
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        Sha256::digest(sent).into()
    }

    /// True when a key is configured.
    pub(crate) fn has_key(&self) -> bool {
        self.auth.is_some()
    }

    /// True when the key is an OAuth access token (sent as `Bearer`), whose scopes are the
    /// OAuth grant's rather than a Make API token's.
    pub(crate) fn uses_oauth_token(&self) -> bool {
        self.oauth
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
            reason: decode_reason(&e),
        })
    }

    /// Sends `request`, retrying per policy, and returns the 2xx status and body. A retried
    /// DELETE that finds nothing left (404 after a try with an unknown outcome) also counts
    /// as success; [`MakeClient::delete`] says how sure that is.
    pub async fn send_raw(&self, request: &ApiRequest) -> Result<(StatusCode, Vec<u8>), MakeError> {
        let exchange = self.exchange(request).await?;
        Ok((exchange.status, exchange.body))
    }

    /// Sends a DELETE request and says whether the deletion is certain.
    pub async fn delete(&self, request: &ApiRequest) -> Result<Deletion, MakeError> {
        let exchange = self.exchange(request).await?;
        // Make answers a deletion with JSON: anything else did not come from Make's API, so
        // the deletion cannot be taken as done.
        if exchange.status.is_success()
            && !exchange.body.iter().all(u8::is_ascii_whitespace)
            && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&exchange.body)
        {
            return Err(MakeError::Decode {
                status: exchange.status.as_u16(),
                reason: decode_reason(&e),
            });
        }
        Ok(match exchange.earlier {
            Some(earlier) => Deletion::Probable { earlier },
            None => Deletion::Confirmed,
        })
    }

    async fn exchange(&self, request: &ApiRequest) -> Result<Exchange, MakeError> {
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
        // Why an earlier try may have taken effect at Make (timeout, 5xx, lost answer).
        let mut maybe_acted: Option<String> = None;
        loop {
            let slot = self.take_slot().await.map_err(|denied| {
                tracing::info!(method = %request.method, path = url.path(), retry_after_ms = denied.retry_after.as_millis() as u64, why = ?denied.why, "held back by the make request budget");
                MakeError::held_back(denied, retries)
            })?;
            let started = Instant::now();
            let attempt = self.try_once(request, url.clone(), auth).await;
            let elapsed = started.elapsed();
            if let Some(metrics) = &self.metrics {
                metrics.make_request(&request.method, attempt.status(), elapsed);
            }
            if let Some(slot) = &slot {
                slot.answered(attempt.status());
            }
            let paused = self.pause_on_429(&attempt);
            let elapsed_ms = elapsed.as_millis() as u64;
            let max_retries = request.max_retries.unwrap_or(self.retry.max_retries);
            let delay = if retries < max_retries {
                // After a 429 the budget's pause is the wait: the retry's slot waits it out.
                self.retry_delay(&attempt, request.replay, retries)
                    .map(|d| if paused { Duration::ZERO } else { d })
            } else {
                None
            };
            let error = match attempt {
                Attempt::Done { status, body, .. } if status.is_success() => {
                    tracing::debug!(method = %request.method, path = url.path(), status = status.as_u16(), elapsed_ms, "make api");
                    return Ok(Exchange {
                        status,
                        body,
                        earlier: None,
                    });
                }
                // An earlier try may have deleted the object before its answer was lost.
                Attempt::Done {
                    status: StatusCode::NOT_FOUND,
                    body,
                    ..
                } if maybe_acted.is_some() && request.method == Method::DELETE => {
                    tracing::debug!(method = %request.method, path = url.path(), "retried delete found nothing left: probably deleted");
                    return Ok(Exchange {
                        status: StatusCode::NOT_FOUND,
                        body,
                        earlier: maybe_acted,
                    });
                }
                Attempt::Done { status, body, .. } => {
                    MakeError::Api(Box::new(ApiError::from_response(status, &body)))
                }
                Attempt::Failed { error, .. } => error,
            };
            tracing::debug!(method = %request.method, path = url.path(), error = %crate::logging::quote(&error), elapsed_ms, "make api");
            let Some(delay) = delay else {
                // Make's last word was 429 and the budget paused the organization: say
                // when to try again, as for any call the budget holds back.
                if let Some(left) = paused.then(|| self.pause_left()).flatten() {
                    return Err(MakeError::held_back(
                        Denied {
                            retry_after: left,
                            why: Held::Paused,
                        },
                        retries + 1,
                    ));
                }
                return Err(error.after_attempts(retries + 1));
            };
            if maybe_acted.is_none() && may_have_acted(&error) {
                maybe_acted = Some(error.to_string());
            }
            retries += 1;
            tracing::info!(method = %request.method, path = url.path(), retry = retries, delay_ms = delay.as_millis() as u64, "retrying make api request");
            tokio::time::sleep(delay).await;
        }
    }

    /// A slot of the budget for the next HTTP request; `None` when it is not budgeted.
    async fn take_slot(&self) -> Result<Option<Slot>, Denied> {
        match (&self.budget, &self.spender) {
            (Some(budget), Some(spender)) => budget.take(spender).await.map(Some),
            _ => Ok(None),
        }
    }

    /// How long the spender's organization stays paused, when it is.
    fn pause_left(&self) -> Option<Duration> {
        let (budget, spender) = (self.budget.as_ref()?, self.spender.as_ref()?);
        budget.pause_left(&spender.organization)
    }

    /// After a 429 from Make, pauses the spender's organization (for `Retry-After`); true
    /// when the budget now holds the retry back.
    fn pause_on_429(&self, attempt: &Attempt) -> bool {
        let Attempt::Done {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after,
            ..
        } = attempt
        else {
            return false;
        };
        match (&self.budget, &self.spender) {
            (Some(budget), Some(spender)) if budget.per_window().is_some() => {
                budget.pause(&spender.organization, *retry_after);
                true
            }
            _ => false,
        }
    }

    async fn try_once(&self, request: &ApiRequest, url: Url, auth: &HeaderValue) -> Attempt {
        let http = match self.http.get().await {
            Ok(http) => http,
            Err(reason) => {
                return Attempt::Failed {
                    never_sent: true,
                    error: MakeError::Transport {
                        reason,
                        replay: request.replay,
                    },
                };
            }
        };
        let mut builder = http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, auth.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Failed {
                    never_sent: e.is_connect(),
                    error: self.transport_error(e, request.replay),
                };
            }
        };
        let status = response.status();
        if status.is_redirection() {
            return Attempt::Failed {
                never_sent: false,
                error: MakeError::Redirect {
                    status: status.as_u16(),
                    location: redirect_target(&response),
                },
            };
        }
        if status.is_success()
            && let Some(kind) = foreign_content_type(&response)
        {
            return Attempt::Failed {
                never_sent: false,
                error: MakeError::Decode {
                    status: status.as_u16(),
                    reason: format!(
                        "the body is {kind}, not JSON: something other than Make's API answered (a proxy or captive portal?)"
                    ),
                },
            };
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match read_capped(&mut response).await {
            Ok(body) => Attempt::Done {
                status,
                body,
                retry_after,
            },
            Err(BodyError::TooLarge) => Attempt::Failed {
                never_sent: false,
                error: MakeError::TooLarge {
                    status: status.as_u16(),
                    replay: request.replay,
                },
            },
            Err(BodyError::Transport(e)) => Attempt::Failed {
                never_sent: false,
                error: self.transport_error(e, request.replay),
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
            // Make does not redirect, and a body past the cap will not shrink on a retry.
            Attempt::Failed {
                error: MakeError::Redirect { .. } | MakeError::TooLarge { .. },
                ..
            } => None,
            Attempt::Failed { never_sent, .. } => {
                (*never_sent || safe).then(|| self.backoff(retries))
            }
        }
    }

    /// Exponential back-off with ±20 % jitter, capped by `max_delay`.
    fn backoff(&self, retries: u32) -> Duration {
        let base = self.retry.base_delay.saturating_mul(1 << retries.min(16));
        jittered(base).min(self.retry.max_delay)
    }

    fn transport_error(&self, e: reqwest::Error, replay: Replay) -> MakeError {
        if e.is_timeout() {
            MakeError::Timeout {
                seconds: self.timeout_secs,
                replay,
                attempts: 1,
            }
        } else if e.is_connect() {
            MakeError::Connect(describe_transport_error(e))
        } else {
            MakeError::Transport {
                reason: describe_transport_error(e),
                replay,
            }
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

/// reqwest's error text with its source chain, clipped, and without the request URL that
/// reqwest puts in it: its query string holds every filter value sent, which can make the
/// message megabytes long.
fn describe_transport_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    clip(&text, MAX_REASON_CHARS)
}

/// `delay` ± 20 %: retries and polls of many clients do not fall into step.
pub(crate) fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(rand::random_range(0.8..=1.2))
}
