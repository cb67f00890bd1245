//! Sealed `requestState` for 2026-07-28 input-required round trips.
//!
//! The client echoes the state back verbatim, so it is untrusted input. It is sealed with
//! an HMAC-SHA256 (rmcp's [`RequestStateCodec`]) over the payload, an expiry of
//! [`STATE_TTL`], and, as associated data, the tool name and the digest of the call's
//! arguments. Opening it with another tool, other arguments, after the expiry or after any
//! change fails, and the tool then does nothing. The payload is signed, not encrypted:
//! it holds ids and the public link, never a secret.
//!
//! The key comes from `MCP_STATE_KEY` or `--state-key-file` (at least 32 bytes). Without
//! one, each process draws a random key, so replicas behind a load balancer need a shared
//! key for a retry that lands on another replica.

use std::path::Path;
use std::time::Duration;

use rmcp::model::{RequestStateCodec, RequestStateError, SealOptions};
use serde::{Deserialize, Serialize};

use super::turn::Turn;

/// How long a person has to answer before the state expires.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// What a sealed state carries from one round to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Payload {
    /// A credential request was created and its link handed over: the retry must not
    /// create another one.
    #[serde(rename_all = "camelCase")]
    Link {
        request_id: String,
        public_uri: String,
        /// For extend: the scopes the request asks for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_scopes: Option<Vec<String>>,
    },
    /// The person was asked to confirm a change of this object (e.g. `connection 1002`,
    /// or a credential together with the connection it points at).
    #[serde(rename_all = "camelCase")]
    Confirm { object: String },
}

/// Key material for sealing (at least 32 bytes). Never printed.
#[derive(Clone)]
pub struct StateKey(Vec<u8>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(<redacted>)")
    }
}

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the request-state key must be at least 32 bytes (got {0})")]
    TooShort(usize),
    #[error("cannot read the request-state key file {path}: {error}")]
    File { path: String, error: std::io::Error },
    #[error("give the request-state key once: MCP_STATE_KEY or --state-key-file, not both")]
    TwoSources,
}

impl StateKey {
    /// A key from text (`MCP_STATE_KEY`); surrounding white space is dropped.
    pub fn new(text: &str) -> Result<Self, KeyError> {
        let bytes = text.trim().as_bytes().to_vec();
        if bytes.len() < RequestStateCodec::MIN_KEY_LENGTH {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// A key from a file (a trailing newline is ignored).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|error| KeyError::File {
            path: path.display().to_string(),
            error,
        })?;
        Self::new(&text)
    }
}

/// Why a retry's state was refused. Nothing is done in any of these cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error(
        "it has expired (a person has {} minutes to answer)",
        STATE_TTL.as_secs() / 60
    )]
    Expired,
    #[error(
        "it does not belong to this call: it was issued for another tool or other arguments, or was altered"
    )]
    Mismatch,
    #[error("it is not a state this server issued")]
    Malformed,
    #[error("it was issued for {issued}, but the call now concerns {now}")]
    OtherObject { issued: String, now: String },
}

/// Seals and opens states with one key.
pub struct Sealer {
    codec: RequestStateCodec,
}

impl Sealer {
    pub fn new(key: &StateKey) -> Self {
        Self {
            codec: RequestStateCodec::try_new(key.0.clone())
                .expect("StateKey holds at least 32 bytes"),
        }
    }

    /// A random per-process key.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        Self {
            codec: RequestStateCodec::try_new(key.to_vec()).expect("32 random bytes"),
        }
    }

    /// Seals `payload` for a retry of exactly this call.
    pub fn seal(&self, turn: &Turn, payload: &Payload) -> String {
        let context = binding(turn);
        let options = SealOptions::new()
            .associated_data(context.as_bytes())
            .ttl(STATE_TTL);
        self.codec
            .seal_json_with(payload, &options)
            .expect("a payload of strings always serializes")
    }

    /// Opens the state echoed by this retry.
    pub fn open(&self, turn: &Turn, sealed: &str) -> Result<Payload, StateError> {
        let context = binding(turn);
        self.codec
            .open_json_with(sealed, context.as_bytes())
            .map_err(|e| match e {
                RequestStateError::Expired => StateError::Expired,
                RequestStateError::IntegrityCheckFailed => StateError::Mismatch,
                _ => StateError::Malformed,
            })
    }
}

/// The associated data: tool name and argument digest.
fn binding(turn: &Turn) -> String {
    format!("make-credentials-mcp\n{}\n{}", turn.tool, turn.digest.0)
}
