//! Typed failures of the Make API client.
//!
//! Every variant keeps what a caller needs to act: the HTTP status and Make's own
//! `code`, `message`, `detail` and `suberrors`. None of them ever holds the token.

use serde::Deserialize;
use serde_json::Value;

use super::budget::{Denied, Held};
use super::request::Replay;
use super::response::MAX_RESPONSE_MIB;

/// Longest text taken from Make's `message` or `detail`: enough for any real message, and a
/// bound on what a misbehaving upstream can push into a tool result.
const MAX_MESSAGE_CHARS: usize = 1000;
/// Most sub-errors kept, each clipped like a message.
const MAX_SUBERRORS: usize = 20;
/// Longest transport or decoding reason: they come from libraries that may quote input.
pub(crate) const MAX_REASON_CHARS: usize = 300;

/// `text` cut to `max` characters, with `…` marking the cut. Everything Make or a client
/// sends may be huge; error texts echo it only through this.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// An error answered by Make: a non-2xx response, with Make's error body when it had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code (e.g. 403).
    pub status: u16,
    /// Make's error code (`SC403`, `IM005`, ...) when the body had one.
    pub code: Option<String>,
    /// Make's `message`, or the HTTP reason phrase when the body was not Make's JSON.
    pub message: String,
    /// Make's longer `detail`, when present.
    pub detail: Option<String>,
    /// Messages of Make's `suberrors`, in order.
    pub suberrors: Vec<String>,
    /// How many times the request was sent (more than 1 after retries).
    pub attempts: u32,
}

impl ApiError {
    /// Parses Make's error body; falls back to the status text for empty or non-JSON bodies.
    pub fn from_response(status: reqwest::StatusCode, body: &[u8]) -> Self {
        let fallback = || {
            status
                .canonical_reason()
                .unwrap_or("Unknown error")
                .to_string()
        };
        let parsed: Option<RawErrorBody> = serde_json::from_slice(body).ok();
        let Some(raw) = parsed else {
            return Self::bare(status.as_u16(), fallback());
        };
        Self {
            status: status.as_u16(),
            code: raw.code.and_then(value_to_text).map(|c| clip(&c, 64)),
            message: raw.message.and_then(value_to_text).unwrap_or_else(fallback),
            detail: raw.detail.and_then(value_to_text),
            suberrors: raw
                .suberrors
                .into_iter()
                .filter_map(|s| match s {
                    Value::Object(mut map) => map.remove("message").and_then(value_to_text),
                    other => value_to_text(other),
                })
                .take(MAX_SUBERRORS)
                .collect(),
            attempts: 1,
        }
    }

    fn bare(status: u16, message: String) -> Self {
        Self {
            status,
            code: None,
            message,
            detail: None,
            suberrors: Vec::new(),
            attempts: 1,
        }
    }

    /// True when Make's code marks a permission problem rather than a problem of the object.
    pub(crate) fn is_permission_code(&self) -> bool {
        matches!(self.code.as_deref(), Some("SC403" | "IM001" | "IM002"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(detail) = self.detail.as_deref().filter(|d| *d != self.message) {
            write!(f, " ({detail})")?;
        }
        for sub in &self.suberrors {
            write!(f, "; {sub}")?;
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// Make's error body; every field optional and loosely typed, since Make is not strict about it.
#[derive(Deserialize)]
struct RawErrorBody {
    code: Option<Value>,
    message: Option<Value>,
    detail: Option<Value>,
    #[serde(default)]
    suberrors: Vec<Value>,
}

/// Make's text, clipped to [`MAX_MESSAGE_CHARS`]; `None` for null or blank.
fn value_to_text(value: Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) => s,
        other => other.to_string(),
    };
    Some(clip(&text, MAX_MESSAGE_CHARS))
}

/// The setting that is missing for a call to be possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    ApiKey,
    Zone,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Missing::ApiKey => "API key",
            Missing::Zone => "zone",
        })
    }
}

/// Everything that can go wrong talking to Make.
///
/// Texts taken from libraries or from Make are clipped, and never carry a request URL: a
/// URL's query string can hold every filter value a caller sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MakeError {
    /// No API key or zone was configured, so no request can be sent.
    #[error("no Make {0} is configured")]
    NotConfigured(Missing),
    /// Make answered with an error status.
    #[error("Make API error {0}")]
    Api(Box<ApiError>),
    /// Make did not answer within the configured timeout. `replay` says whether the call
    /// may simply be repeated, which is what the hint tells the model.
    #[error("the Make API did not answer within {seconds} seconds{}", attempts_note(*attempts))]
    Timeout {
        seconds: u64,
        replay: Replay,
        /// How many times the request was sent.
        attempts: u32,
    },
    /// The connection to Make could not be made (DNS, TLS, refused).
    #[error("could not reach the Make API: {0}")]
    Connect(String),
    /// Make answered 2xx with a body we could not understand.
    #[error("unexpected response from the Make API (HTTP {status}): {reason}")]
    Decode { status: u16, reason: String },
    /// Make's API never redirects API calls; a 3xx is not followed, since following it would
    /// re-send the request (a create's secrets included) to whatever origin it names.
    /// `location` is the target without its query string, when it could be read.
    #[error(
        "unexpected response from the Make API: HTTP {status} redirect{}, which was not followed",
        location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default()
    )]
    Redirect {
        status: u16,
        location: Option<String>,
    },
    /// The answer's body was larger than the client reads; it was dropped unread.
    #[error(
        "Make's response was larger than {MAX_RESPONSE_MIB} MiB (HTTP {status}), so it was discarded"
    )]
    TooLarge { status: u16, replay: Replay },
    /// Any other transport failure.
    #[error("request to the Make API failed: {reason}")]
    Transport { reason: String, replay: Replay },
    /// The server's Make request budget held the request back; it was not sent.
    /// `attempts` counts the earlier tries of the same request that were sent (after a
    /// 429, a refused connection or a safe retry: repeating the call is safe).
    #[error("{}{}", held_text(.why, *.retry_after_secs), sent_note(*.attempts))]
    RateLimited {
        retry_after_secs: u64,
        why: Held,
        attempts: u32,
    },
}

/// " (after 2 earlier tries that reached Make)" when earlier tries were sent.
fn sent_note(sent: u32) -> String {
    match sent {
        0 => String::new(),
        1 => " (after an earlier try that reached Make)".to_owned(),
        n => format!(" (after {n} earlier tries that reached Make)"),
    }
}

/// Why the budget held a request back, and for how long.
fn held_text(why: &Held, retry_after_secs: u64) -> String {
    let what = match why {
        Held::Organization { per_window } => format!(
            "your Make organization's request budget on this server ({per_window} requests a minute) is used up"
        ),
        Held::Share {
            share,
            per_window,
            people: 1,
        } => format!(
            "you have used your share of your Make organization's request budget on this server ({share} of {per_window} requests a minute: one person alone may use all but a few, which are kept for others of the organization)"
        ),
        Held::Share {
            share,
            per_window,
            people,
        } => format!(
            "you have used your share of your Make organization's request budget on this server ({share} of {per_window} requests a minute, shared by the {people} people calling now)"
        ),
        Held::Paused => {
            "Make answered 429 (the organization's request limit is reached), so this server pauses your organization's calls".to_owned()
        }
    };
    format!("not sent to Make: {what}; try again in {retry_after_secs} s")
}

/// " (after 3 attempts)" when the request was sent more than once.
fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

impl MakeError {
    /// True for Make's 403: the key may not do this (e.g. a write-only key reading).
    pub(crate) fn is_forbidden(&self) -> bool {
        matches!(self, MakeError::Api(api) if api.status == 403)
    }

    /// Records that the request was sent `attempts` times before this final error, so the
    /// model (and the person) can tell a first failure from exhausted retries.
    pub(crate) fn after_attempts(mut self, attempts: u32) -> Self {
        if attempts <= 1 {
            return self;
        }
        let note = attempts_note(attempts);
        match &mut self {
            MakeError::Api(api) => api.attempts = attempts,
            MakeError::Timeout { attempts: a, .. } => *a = attempts,
            MakeError::Connect(reason)
            | MakeError::Decode { reason, .. }
            | MakeError::Transport { reason, .. } => reason.push_str(&note),
            MakeError::NotConfigured(_)
            | MakeError::RateLimited { .. }
            | MakeError::Redirect { .. }
            | MakeError::TooLarge { .. } => {}
        }
        self
    }

    /// The budget's refusal of a request, after `sent` earlier tries of it were sent.
    pub(crate) fn held_back(denied: Denied, sent: u32) -> Self {
        let millis = denied.retry_after.as_millis();
        MakeError::RateLimited {
            // Whole seconds, rounded up: trying again sooner would be refused again.
            retry_after_secs: u64::try_from(millis.div_ceil(1000))
                .unwrap_or(u64::MAX)
                .max(1),
            why: denied.why,
            attempts: sent,
        }
    }

    /// Seconds to wait before trying again, when Make or the budget said so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            MakeError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The HTTP status Make answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            MakeError::Api(e) => Some(e.status),
            MakeError::Decode { status, .. }
            | MakeError::Redirect { status, .. }
            | MakeError::TooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn parses_make_error_body_with_suberrors() {
        let body = br#"{"detail":"Access denied.","message":"Permission denied","code":"SC403","suberrors":[{"message":"a"},{"message":"b"}]}"#;
        let e = ApiError::from_response(StatusCode::FORBIDDEN, body);
        assert_eq!(e.status, 403);
        assert_eq!(e.code.as_deref(), Some("SC403"));
        assert_eq!(e.message, "Permission denied");
        assert_eq!(e.detail.as_deref(), Some("Access denied."));
        assert_eq!(e.suberrors, vec!["a", "b"]);
        assert!(e.is_permission_code());
        assert_eq!(
            e.to_string(),
            "HTTP 403 [SC403]: Permission denied (Access denied.); a; b"
        );
    }

    #[test]
    fn falls_back_to_status_text_for_non_json_and_empty_bodies() {
        let e = ApiError::from_response(StatusCode::BAD_GATEWAY, b"<html>oops</html>");
        assert_eq!((e.status, e.message.as_str()), (502, "Bad Gateway"));
        assert_eq!(e.code, None);
        let e = ApiError::from_response(StatusCode::SERVICE_UNAVAILABLE, b"");
        assert_eq!(e.message, "Service Unavailable");
    }

    #[test]
    fn numeric_codes_and_null_detail_are_tolerated() {
        let e = ApiError::from_response(
            StatusCode::BAD_REQUEST,
            br#"{"code":400,"message":"Invalid scope","detail":null}"#,
        );
        assert_eq!(e.code.as_deref(), Some("400"));
        assert_eq!(e.detail, None);
        assert_eq!(e.to_string(), "HTTP 400 [400]: Invalid scope");
    }

    #[test]
    fn huge_make_texts_are_clipped() {
        let long = "x".repeat(100_000);
        let subs: Vec<Value> = (0..1000)
            .map(|_| serde_json::json!({"message": long}))
            .collect();
        let body =
            serde_json::json!({"code": long, "message": long, "detail": long, "suberrors": subs});
        let e = ApiError::from_response(StatusCode::BAD_REQUEST, body.to_string().as_bytes());
        assert_eq!(
            e.message.chars().count(),
            MAX_MESSAGE_CHARS + 1,
            "clipped, with …"
        );
        assert!(e.message.ends_with('…'));
        assert_eq!(e.suberrors.len(), MAX_SUBERRORS);
        assert!(e.to_string().len() < 30_000, "{}", e.to_string().len());
    }

    #[test]
    fn clip_keeps_short_texts_and_cuts_on_characters() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("äöüß", 2), "äö…");
    }
}
