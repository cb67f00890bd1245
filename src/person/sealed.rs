//! Sealed `requestState` for 2026-07-28 input-required round trips.
//!
//! The client echoes the state back verbatim, so it is untrusted input. It is sealed with
//! an HMAC-SHA256 (rmcp's [`RequestStateCodec`]) over the payload, an expiry of
//! [`STATE_TTL`], and, as associated data, the tool name and the digest of the call's
//! arguments. Opening it with another tool, other arguments, after the expiry or after any
//! change fails, and the tool then does nothing. The payload is signed, not encrypted:
//! it holds ids and the public link, never a secret.
//!
//! A confirmation state also carries a random nonce, spent in the
//! [ledger](super::ledger) by the first retry that presents it, so a confirmation goes
//! through at most once; replicas share the ledger through `--confirmations-dir`.
//!
//! The key comes from `MCP_STATE_KEY` or `--state-key-file` (at least 32 bytes, and not
//! obviously made up: see [`StateKey::from_bytes`]). Without one, each process draws a
//! random key, so replicas behind a load balancer need a shared key for a retry that lands
//! on another replica.

use std::path::Path;
use std::time::Duration;

use rmcp::model::{RequestStateCodec, RequestStateError, SealOptions};
use serde::{Deserialize, Serialize};

use super::turn::{CallDigest, Turn};

/// How long a person has to answer before the state expires.
pub(crate) const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// What a sealed state carries from one round to the next.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Payload {
    /// A credential request was created and its link handed over: the retry must not
    /// create another one.
    #[serde(rename_all = "camelCase")]
    Link {
        request_id: String,
        public_uri: String,
        /// For extend: the scopes the request asks for.
        #[serde(default)]
        new_scopes: Option<Vec<String>>,
    },
    /// The person was asked to confirm a change of this object (e.g. `connection 1002`,
    /// or a credential together with the connection it points at). `nonce` (32 hex
    /// digits, see [`super::ledger::Nonce`]) is spent by the first retry, so the
    /// confirmation goes through at most once.
    #[serde(rename_all = "camelCase")]
    Confirm { object: String, nonce: String },
}

/// Key material for sealing (at least 32 bytes). Never printed.
#[derive(Clone)]
pub struct StateKey(Vec<u8>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(<redacted>)")
    }
}

/// Fewest characters a key made only of printable ASCII must have: 32 random bytes written
/// in base64 without padding (6 bits a character) take 43. `openssl rand -base64 32` (44)
/// and `openssl rand -hex 32` (64) pass; a password or a phrase of 32 letters does not.
pub(crate) const MIN_TEXT_KEY_CHARS: usize = 43;

/// How to make a good key, for the error messages.
pub(crate) const HOW_TO_MAKE_ONE: &str = "generate one with `openssl rand -base64 32`";

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the request-state key must be at least 32 bytes (got {0}); {HOW_TO_MAKE_ONE}")]
    TooShort(usize),
    #[error("the request-state key is not random: {0}; {HOW_TO_MAKE_ONE}")]
    NotRandom(&'static str),
    #[error(
        "the request-state key is not random enough: {0} printable characters hold less than 32 random bytes (at least {MIN_TEXT_KEY_CHARS} are needed); {HOW_TO_MAKE_ONE}"
    )]
    TooShortText(usize),
    #[error("cannot read the request-state key file {path}: {error}")]
    File { path: String, error: std::io::Error },
    #[error("give the request-state key once: MCP_STATE_KEY or --state-key-file, not both")]
    TwoSources,
}

/// What makes key material unfit, whatever the key is for (the request-state key here, the
/// team server's sealing keys in `crate::store`). The texts name no key: each caller says
/// which key it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFlaw {
    #[error("must be at least 32 bytes (got {0})")]
    TooShort(usize),
    #[error("is not random: it is one byte repeated")]
    Repeated,
    #[error(
        "is not random enough: {0} printable characters hold less than 32 random bytes (at least {MIN_TEXT_KEY_CHARS} are needed)"
    )]
    TooShortText(usize),
}

/// Checks key material: refused are fewer than 32 bytes, one byte repeated, and printable
/// ASCII shorter than [`MIN_TEXT_KEY_CHARS`], which cannot hold 32 random bytes (this also
/// catches 32 decoded bytes that are a password written in base64).
pub(crate) fn check_key_material(bytes: &[u8]) -> Result<(), KeyFlaw> {
    if bytes.len() < RequestStateCodec::MIN_KEY_LENGTH {
        return Err(KeyFlaw::TooShort(bytes.len()));
    }
    if bytes.iter().all(|b| *b == bytes[0]) {
        return Err(KeyFlaw::Repeated);
    }
    let printable = bytes.iter().all(|b| (b' '..=b'~').contains(b));
    if printable && bytes.len() < MIN_TEXT_KEY_CHARS {
        return Err(KeyFlaw::TooShortText(bytes.len()));
    }
    Ok(())
}

impl From<KeyFlaw> for KeyError {
    fn from(flaw: KeyFlaw) -> Self {
        match flaw {
            KeyFlaw::TooShort(n) => KeyError::TooShort(n),
            KeyFlaw::Repeated => KeyError::NotRandom("it is one byte repeated"),
            KeyFlaw::TooShortText(n) => KeyError::TooShortText(n),
        }
    }
}

impl StateKey {
    /// A key from `MCP_STATE_KEY` or a key file; surrounding ASCII white space (a trailing
    /// newline) is dropped, and the rest must pass [`check_key_material`].
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes = bytes.trim_ascii();
        check_key_material(bytes)?;
        Ok(Self(bytes.to_vec()))
    }

    /// A key from a file, read as bytes (a trailing newline is ignored).
    pub(crate) fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|error| KeyError::File {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_bytes(&bytes)
    }
}

/// Why a retry's state was refused. Nothing is done in any of these cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("it has expired (the person's answer came too late; states last about 10 minutes)")]
    Expired,
    #[error(
        "it does not belong to this call: it was issued for another tool or other arguments, or was altered"
    )]
    Mismatch,
    #[error("it is not a state this server issued")]
    Malformed,
    #[error("it was issued for {issued}, but the call now concerns {now}")]
    OtherObject { issued: String, now: String },
    #[error("it was already used: a confirmation goes through once, whatever the answer was")]
    AlreadyUsed,
}

/// Seals and opens states with one key.
pub(crate) struct Sealer {
    codec: RequestStateCodec,
    ttl: Duration,
}

impl Sealer {
    /// Seals with `key`; states expire after `ttl`.
    pub(crate) fn new(key: &StateKey, ttl: Duration) -> Self {
        Self {
            codec: RequestStateCodec::try_new(key.0.clone())
                .expect("StateKey holds at least 32 bytes"),
            ttl,
        }
    }

    /// A random per-process key.
    pub(crate) fn random(ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        Self {
            codec: RequestStateCodec::try_new(key.to_vec()).expect("32 random bytes"),
            ttl,
        }
    }

    /// Seals `payload` for a retry of exactly this call.
    pub(crate) fn seal(&self, turn: &Turn, payload: &Payload) -> String {
        self.seal_for(&turn.tool, &turn.digest, payload)
    }

    /// Opens the state echoed by this retry.
    pub(crate) fn open(&self, turn: &Turn, sealed: &str) -> Result<Payload, StateError> {
        self.open_for(&turn.tool, &turn.digest, sealed)
    }

    /// Seals `payload` for the call of `tool` with arguments of `digest`.
    pub(crate) fn seal_for(&self, tool: &str, digest: &CallDigest, payload: &Payload) -> String {
        let context = binding(tool, digest);
        let options = SealOptions::new()
            .associated_data(context.as_bytes())
            .ttl(self.ttl);
        self.codec
            .seal_json_with(payload, &options)
            .expect("a payload of strings always serializes")
    }

    /// Opens a state for the call of `tool` with arguments of `digest`.
    pub(crate) fn open_for(
        &self,
        tool: &str,
        digest: &CallDigest,
        sealed: &str,
    ) -> Result<Payload, StateError> {
        let context = binding(tool, digest);
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
fn binding(tool: &str, digest: &CallDigest) -> String {
    format!("make-credentials-mcp\n{tool}\n{}", digest.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `openssl rand -base64 32`.
    const GOOD_KEY: &str = "q8Vf1kqH1Jm0xgM4nB0s3yqk3rWl5y9QeZ2tP7oXb1c=";

    fn digest(args: serde_json::Value) -> CallDigest {
        CallDigest::of(args.as_object())
    }

    fn sealer(ttl: Duration) -> Sealer {
        Sealer::new(&StateKey::from_bytes(GOOD_KEY.as_bytes()).unwrap(), ttl)
    }

    fn confirm(object: &str) -> Payload {
        Payload::Confirm {
            object: object.into(),
            nonce: "0".repeat(32),
        }
    }

    #[test]
    fn a_state_opens_only_for_its_own_tool_and_arguments() {
        let s = sealer(STATE_TTL);
        let args = digest(json!({"connectionId": 1002}));
        let sealed = s.seal_for("connections_delete", &args, &confirm("connection 1002"));
        assert_eq!(
            s.open_for("connections_delete", &args, &sealed),
            Ok(confirm("connection 1002"))
        );
        assert_eq!(
            s.open_for("keys_delete", &args, &sealed),
            Err(StateError::Mismatch)
        );
        let other = digest(json!({"connectionId": 1006}));
        assert_eq!(
            s.open_for("connections_delete", &other, &sealed),
            Err(StateError::Mismatch)
        );
    }

    #[test]
    fn a_state_sealed_for_one_person_does_not_open_for_another() {
        let s = sealer(STATE_TTL);
        let args = || digest(json!({"connectionId": 1002}));
        let sealed = s.seal_for(
            "connections_delete",
            &args().for_person("1001"),
            &confirm("c"),
        );
        assert_eq!(
            s.open_for("connections_delete", &args().for_person("1001"), &sealed),
            Ok(confirm("c"))
        );
        for other in [args().for_person("1002"), args()] {
            assert_eq!(
                s.open_for("connections_delete", &other, &sealed),
                Err(StateError::Mismatch)
            );
        }
    }

    #[test]
    fn key_order_does_not_change_the_digest_but_values_do() {
        let a = digest(json!({"a": 1, "b": [1, 2]}));
        let b: serde_json::Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap();
        assert_eq!(a, CallDigest::of(b.as_object()));
        assert_ne!(a, digest(json!({"a": 2, "b": [1, 2]})));
    }

    #[test]
    fn tampered_foreign_and_expired_states_are_refused() {
        let s = sealer(STATE_TTL);
        let args = digest(json!({}));
        let sealed = s.seal_for("t", &args, &confirm("x"));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(s.open_for("t", &args, &tampered).is_err());
        assert_eq!(
            s.open_for("t", &args, "garbage"),
            Err(StateError::Malformed)
        );
        let foreign = Sealer::random(STATE_TTL).seal_for("t", &args, &confirm("x"));
        assert_eq!(s.open_for("t", &args, &foreign), Err(StateError::Mismatch));
        let short = sealer(Duration::from_millis(1));
        let sealed = short.seal_for("t", &args, &confirm("x"));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            short.open_for("t", &args, &sealed),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn short_repeated_and_short_text_keys_are_refused_with_the_reason() {
        let refused = |key: &[u8]| StateKey::from_bytes(key).unwrap_err().to_string();
        assert!(matches!(
            StateKey::from_bytes(b"short"),
            Err(KeyError::TooShort(5))
        ));
        for weak in ["k".repeat(32), "x".repeat(64)] {
            let text = refused(weak.as_bytes());
            assert!(text.contains("one byte repeated"), "{text}");
            assert!(text.contains("openssl rand -base64 32"), "{text}");
        }
        assert!(refused(&[0u8; 32]).contains("one byte repeated"));
        // A 32-character password, and the hex of only 16 random bytes.
        for weak in [
            "correct horse battery staple!!!!",
            "0f8e2c1a12344abc9def0123456789ab",
        ] {
            assert!(matches!(
                StateKey::from_bytes(weak.as_bytes()),
                Err(KeyError::TooShortText(32))
            ));
            assert!(refused(weak.as_bytes()).contains("at least 43"));
        }
    }

    #[test]
    fn random_keys_in_every_usual_form_are_accepted() {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).unwrap();
        // Two random bytes that happen to be equal are fine; all 32 equal is not. The ends
        // are not ASCII white space, which is trimmed like a key file's newline (a random
        // end byte is white space about one run in fifty, and the key then falls short).
        raw[0] = 0x80;
        raw[1] = 0x81;
        raw[31] = 0x82;
        assert!(StateKey::from_bytes(&raw).is_ok());
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert!(StateKey::from_bytes(hex.as_bytes()).is_ok());
        assert!(StateKey::from_bytes(format!("{GOOD_KEY}\n").as_bytes()).is_ok());
        assert!(StateKey::from_bytes(GOOD_KEY.trim_end_matches('=').as_bytes()).is_ok());
    }
}
