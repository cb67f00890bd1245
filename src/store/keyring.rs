//! The keys that seal Make grants in the database (XChaCha20-Poly1305).
//!
//! A keyring holds one or more 32-byte keys, each under a key id. The last key listed seals;
//! every key opens, so a key is rotated by appending a new one and removing the old one only
//! once no grant is sealed with it (grants are sealed again whenever they are refreshed or
//! replaced). The key id is stored beside each ciphertext, and the associated data binds the
//! ciphertext to its row, so a ciphertext copied into another row does not open.
//!
//! Text form ([`Keyring::parse`]): `kid:key[,kid:key...]`, each key 32 bytes written as
//! base64 (standard or URL-safe, padded or not) or 64 hex digits; or one key alone, whose id
//! is `1`. Keys are checked like the request-state key
//! ([`check_key_material`](crate::person::sealed::check_key_material)).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

use crate::person::sealed::{HOW_TO_MAKE_ONE, KeyFlaw, check_key_material};

/// Bytes in a key, and in an XChaCha20 nonce.
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// Longest key id, and its id when a single key is given alone.
const MAX_KID_CHARS: usize = 32;
const LONE_KID: &str = "1";

/// Why a keyring's text was refused. No text holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("the sealing keyring is empty; {HOW_TO_MAKE_ONE}")]
    Empty,
    #[error(
        "sealing key number {0}: a key id (letters, digits, '-' or '_', at most {MAX_KID_CHARS}) must come before the key, as kid:key, when several keys are given"
    )]
    BadKeyId(usize),
    #[error("the sealing key id {0} is given twice")]
    DuplicateKeyId(String),
    #[error(
        "sealing key {kid}: the key is not 32 bytes written as base64 or 64 hex digits; {HOW_TO_MAKE_ONE}"
    )]
    Encoding { kid: String },
    #[error("sealing key {kid} {flaw}; {HOW_TO_MAKE_ONE}")]
    Weak { kid: String, flaw: KeyFlaw },
}

/// A sealed value as stored: the id of the key that sealed it, and base64 of nonce and
/// ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sealed {
    pub(super) key_id: String,
    pub(super) text: String,
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpenError {
    /// No key of this id in the keyring.
    UnknownKey,
    /// Altered, bound to other associated data, or sealed by another key of the same id.
    Failed,
}

/// Sealing keys, newest last. Never printed.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, [u8; KEY_BYTES])>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("Keyring")
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Reads `kid:key[,kid:key...]`, or a single key alone (id `1`). Surrounding white space
    /// (a trailing newline of a file) is ignored.
    pub fn parse(text: &str) -> Result<Self, KeyringError> {
        let entries: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Err(KeyringError::Empty);
        }
        let mut keys: Vec<(String, [u8; KEY_BYTES])> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let (kid, material) = match entry.split_once(':') {
                Some((kid, material)) => (kid.trim(), material.trim()),
                None if entries.len() == 1 => (LONE_KID, *entry),
                None => return Err(KeyringError::BadKeyId(i + 1)),
            };
            if !valid_kid(kid) {
                return Err(KeyringError::BadKeyId(i + 1));
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(KeyringError::DuplicateKeyId(kid.into()));
            }
            let key =
                decode_key(material).ok_or_else(|| KeyringError::Encoding { kid: kid.into() })?;
            check_key_material(&key).map_err(|flaw| KeyringError::Weak {
                kid: kid.into(),
                flaw,
            })?;
            keys.push((kid.into(), key));
        }
        Ok(Self { keys })
    }

    /// One fresh random key (id `1`): for the sandbox and tests, where grants need not
    /// outlive the process.
    pub fn generate() -> Self {
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key).expect("the operating system's random source");
        Self {
            keys: vec![(LONE_KID.into(), key)],
        }
    }

    /// The key ids, oldest first; the last one seals.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    /// Seals `plaintext` with the newest key, bound to `aad`.
    pub(super) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Sealed {
        let (kid, key) = self.keys.last().expect("a keyring holds at least one key");
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let cipher = XChaCha20Poly1305::new_from_slice(key).expect("a 32-byte key");
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("a grant is far below XChaCha20-Poly1305's length limit");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        Sealed {
            key_id: kid.clone(),
            text: STANDARD.encode(bytes),
        }
    }

    /// Opens what [`Keyring::seal`] sealed under `key_id`, bound to `aad`.
    pub(super) fn open(&self, key_id: &str, aad: &[u8], text: &str) -> Result<Vec<u8>, OpenError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(kid, _)| kid == key_id)
            .ok_or(OpenError::UnknownKey)?;
        let bytes = STANDARD.decode(text).map_err(|_| OpenError::Failed)?;
        if bytes.len() < NONCE_BYTES {
            return Err(OpenError::Failed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError::Failed)?;
        let cipher = XChaCha20Poly1305::new_from_slice(key).expect("a 32-byte key");
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| OpenError::Failed)
    }
}

/// Letters, digits, `-` and `_`, 1 to [`MAX_KID_CHARS`] of them.
fn valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_CHARS).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 32 bytes from 64 hex digits or from base64 in any of its usual alphabets and paddings.
fn decode_key(text: &str) -> Option<[u8; KEY_BYTES]> {
    let bytes = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..KEY_BYTES)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())?
    };
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl rand -base64 32` and `openssl rand -hex 32`.
    const B64: &str = "q8Vf1kqH1Jm0xgM4nB0s3yqk3rWl5y9QeZ2tP7oXb1c=";
    const HEX: &str = "9f2c1a7be04d3c58a6e1f0b2d4c6e8a0135792468ace0bdf1357924680ace0bd";

    #[test]
    fn a_lone_key_gets_id_1_in_hex_or_any_base64() {
        for text in [
            B64,
            B64.trim_end_matches('='),
            &B64.replace('+', "-").replace('/', "_"),
            HEX,
            &format!("{HEX}\n"),
        ] {
            let ring = Keyring::parse(text).unwrap();
            assert_eq!(ring.key_ids().collect::<Vec<_>>(), ["1"], "{text}");
        }
    }

    #[test]
    fn several_keys_need_ids_and_the_last_one_seals() {
        let ring = Keyring::parse(&format!("old:{B64}, new:{HEX}")).unwrap();
        assert_eq!(ring.key_ids().collect::<Vec<_>>(), ["old", "new"]);
        assert_eq!(ring.seal(b"aad", b"x").key_id, "new");
        assert_eq!(
            Keyring::parse(&format!("{B64},{HEX}")).unwrap_err(),
            KeyringError::BadKeyId(1)
        );
        assert_eq!(
            Keyring::parse(&format!("a:{B64},a:{HEX}")).unwrap_err(),
            KeyringError::DuplicateKeyId("a".into())
        );
        assert_eq!(
            Keyring::parse(&format!("bad id:{B64}")).unwrap_err(),
            KeyringError::BadKeyId(1)
        );
        assert_eq!(Keyring::parse(" , ").unwrap_err(), KeyringError::Empty);
    }

    #[test]
    fn weak_or_misencoded_keys_are_refused_without_showing_them() {
        // 16 bytes, one byte repeated, and a 32-character password written in base64.
        let short = "0f8e2c1a12344abc9def0123456789ab";
        let repeated = "ab".repeat(32);
        let password = STANDARD.encode("correct horse battery staple!!!!");
        for (text, expected) in [
            (short.to_string(), None),
            (repeated.clone(), Some(KeyFlaw::Repeated)),
            (password.clone(), Some(KeyFlaw::TooShortText(32))),
        ] {
            let error = Keyring::parse(&format!("k:{text}")).unwrap_err();
            match expected {
                None => assert_eq!(error, KeyringError::Encoding { kid: "k".into() }),
                Some(flaw) => assert_eq!(
                    error,
                    KeyringError::Weak {
                        kid: "k".into(),
                        flaw
                    }
                ),
            }
            let shown = error.to_string();
            assert!(!shown.contains(&text), "{shown}");
            assert!(shown.contains("openssl rand -base64 32"), "{shown}");
        }
        let ring = Keyring::parse(B64).unwrap();
        assert!(!format!("{ring:?}").contains(B64));
    }

    #[test]
    fn sealed_with_an_old_key_opens_after_a_new_key_is_added_but_not_with_other_aad() {
        let old = Keyring::parse(&format!("old:{B64}")).unwrap();
        let sealed = old.seal(b"person 1\ngrant a", b"secret");
        let rotated = Keyring::parse(&format!("old:{B64},new:{HEX}")).unwrap();
        assert_eq!(
            rotated.open(&sealed.key_id, b"person 1\ngrant a", &sealed.text),
            Ok(b"secret".to_vec())
        );
        assert_eq!(
            rotated.open(&sealed.key_id, b"person 2\ngrant a", &sealed.text),
            Err(OpenError::Failed)
        );
        let resealed = rotated.seal(b"person 1\ngrant a", b"secret");
        assert_eq!(resealed.key_id, "new");
        let new_only = Keyring::parse(&format!("new:{HEX}")).unwrap();
        assert_eq!(
            new_only.open(&sealed.key_id, b"person 1\ngrant a", &sealed.text),
            Err(OpenError::UnknownKey)
        );
        // Another key under the same id does not open it either.
        let impostor = Keyring::parse(&format!("old:{HEX}")).unwrap();
        assert_eq!(
            impostor.open(&sealed.key_id, b"person 1\ngrant a", &sealed.text),
            Err(OpenError::Failed)
        );
        assert_ne!(
            Keyring::generate().seal(b"", b"x").text,
            Keyring::generate().seal(b"", b"x").text
        );
    }
}
