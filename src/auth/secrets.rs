//! The server's own secrets: random tokens, codes and states, their stored hashes, and
//! PKCE (RFC 7636, S256 only).
//!
//! Every token the server hands out is 32 random bytes written as URL-safe base64 with a
//! short prefix saying what it is (so a leaked one is recognisable in a scanner). Only its
//! SHA-256 hash is stored: a copy of the database lets nobody act as anyone.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// What kind of secret a random string is; the prefix of its text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    AccessToken,
    RefreshToken,
    Code,
    ClientId,
    ClientSecret,
    /// The account page's session id (in its cookie).
    AccountSession,
    /// `state` sent to Make, consent tickets, PKCE verifiers: never shown to a client.
    Internal,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::AccessToken => "mcp_at_",
            Kind::RefreshToken => "mcp_rt_",
            Kind::Code => "mcp_code_",
            Kind::ClientId => "mcp_client_",
            Kind::ClientSecret => "mcp_cs_",
            Kind::AccountSession => "mcp_as_",
            Kind::Internal => "",
        }
    }
}

/// A fresh random secret of `kind`: 256 bits from the operating system.
pub(crate) fn random(kind: Kind) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash under which a secret is stored and looked up (lowercase hex SHA-256).
pub(crate) fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The S256 challenge of a PKCE verifier: `BASE64URL(SHA256(verifier))`.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// True when `verifier` is a valid RFC 7636 verifier (43-128 unreserved characters) whose
/// S256 challenge is `challenge`; compared in constant time.
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed
        && crate::transport::http::security::constant_time_eq(
            pkce_challenge(verifier).as_bytes(),
            challenge.as_bytes(),
        )
}

/// True when `challenge` has the shape of an S256 challenge (43 base64url characters).
pub(crate) fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            pkce_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_matches("short", &pkce_challenge("short")));
        assert!(is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_s256_challenge("plain-verifier"));
    }

    #[test]
    fn tokens_are_random_prefixed_and_stored_as_hashes() {
        let a = random(Kind::AccessToken);
        let b = random(Kind::AccessToken);
        assert_ne!(a, b);
        assert!(a.starts_with("mcp_at_") && a.len() == 7 + 43);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
        assert!(!hash(&a).contains(&a[7..]));
    }
}
