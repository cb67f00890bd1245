//! One request to the Make API, described before it is sent, and whether it may be repeated.

use reqwest::Method;
use serde_json::Value;

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
    pub(super) method: Method,
    pub(super) segments: Vec<String>,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<Value>,
    pub(super) replay: Replay,
    /// Retries allowed after the first try; `None`: the client's policy.
    pub(super) max_retries: Option<u32>,
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("segments", &self.segments)
            .field("query", &self.query)
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .field("replay", &self.replay)
            .field("max_retries", &self.max_retries)
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
            max_retries: None,
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
    pub(crate) fn patch(segments: &[&str]) -> Self {
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
    pub(crate) fn all_columns(self) -> Self {
        self.query("cols[]", "*")
    }

    /// Sets a JSON body (and with it `Content-Type: application/json`).
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends one attempt only, whatever the client's retry policy (for optional reads whose
    /// failure only skips a check, so that they never delay the call they serve).
    pub(crate) fn without_retries(mut self) -> Self {
        self.max_retries = Some(0);
        self
    }

    /// Overrides the replay class (e.g. a POST that is really a read).
    pub(crate) fn replay(mut self, replay: Replay) -> Self {
        self.replay = replay;
        self
    }
}
