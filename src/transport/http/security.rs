//! Who may talk to the HTTP endpoint: the bearer token, the loopback-only rule when there is
//! none, and the Host/Origin allow-lists that rmcp enforces (DNS rebinding, cross-site calls).
//!
//! The bearer token only authenticates the MCP client to *this* server. It is never the Make
//! key: the Make key is server configuration (`MAKE_API_KEY`), and nothing an HTTP client
//! sends can change which Make account the server uses.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Host names a loopback client puts in `Host` (any port).
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Browser origins of pages served from this machine (any port).
pub const LOOPBACK_ORIGINS: [&str; 3] =
    ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// The shared secret clients present as `Authorization: Bearer …`.
///
/// Its text never reaches `Debug`, logs or error messages.
#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    /// Wraps a token; surrounding white space (a trailing newline from a file) is dropped.
    /// An empty token is refused: it would be a lock anyone can open.
    pub fn new(token: &str) -> Result<Self, SecurityError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(SecurityError::EmptyToken);
        }
        Ok(Self(token.to_string()))
    }

    /// Reads the token from a file (e.g. a mounted secret).
    pub fn from_file(path: &Path) -> Result<Self, SecurityError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecurityError::TokenFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::new(&text)
    }

    /// True when `candidate` is this token; the time taken does not depend on where the two
    /// differ, so the token cannot be guessed byte by byte from response times.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate)
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// The length of a token is not secret enough to hide (it shows in the configuration), so
/// a length mismatch may return early; equal lengths always scan every byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A security setting that makes the server unsafe or unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecurityError {
    #[error(
        "refusing to listen on {addr} without an auth token: anyone who can reach that address could manage your Make credentials. Set MCP_AUTH_TOKEN (or --auth-token-file), or listen on 127.0.0.1"
    )]
    NonLoopbackWithoutToken { addr: SocketAddr },
    #[error("the auth token is empty")]
    EmptyToken,
    #[error("cannot read the auth token file {path}: {reason}")]
    TokenFile { path: String, reason: String },
    #[error(
        "give the auth token either by --auth-token/MCP_AUTH_TOKEN or by --auth-token-file, not both"
    )]
    TwoTokenSources,
}

/// Refuses a listen address other machines can reach unless a token guards it.
pub fn check_bind(addr: SocketAddr, token: Option<&BearerToken>) -> Result<(), SecurityError> {
    if addr.ip().is_loopback() || token.is_some() {
        Ok(())
    } else {
        Err(SecurityError::NonLoopbackWithoutToken { addr })
    }
}

/// The `Host` values rmcp accepts: loopback names, the listen IP when it is a specific
/// address (clients use it), and the operator's extra names (a reverse proxy's host).
pub fn allowed_hosts(listen: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
    let ip = listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        hosts.push(ip.to_string());
    }
    hosts.extend(extra.iter().cloned());
    hosts
}

/// The `Origin` values rmcp accepts: loopback pages plus the operator's extra origins.
/// A request without `Origin` (not a browser) passes; a foreign one gets 403.
pub fn allowed_origins(extra: &[String]) -> Vec<String> {
    LOOPBACK_ORIGINS
        .iter()
        .map(|o| o.to_string())
        .chain(extra.iter().cloned())
        .collect()
}

/// Axum middleware: 401 with `WWW-Authenticate: Bearer` unless the request carries the
/// token. The header is removed afterwards, so no tool can ever read it.
pub async fn require_bearer(
    State(token): State<BearerToken>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer_credentials(v.as_bytes()));
    let ok = presented.is_some_and(|p| token.matches(p));
    if !ok {
        let error = if presented.is_some() {
            r#"Bearer error="invalid_token""#
        } else {
            "Bearer"
        };
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static(error))],
            "Unauthorized: send Authorization: Bearer <token> (the server's MCP_AUTH_TOKEN)\n",
        )
            .into_response();
    }
    request.headers_mut().remove(header::AUTHORIZATION);
    next.run(request).await
}

/// The credentials of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer_credentials(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    Some(rest[start..].trim_ascii_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn token_is_trimmed_redacted_and_never_empty() {
        let t = BearerToken::new("abc\n").unwrap();
        assert!(t.matches(b"abc"));
        assert_eq!(format!("{t:?}"), "BearerToken(<redacted>)");
        assert_eq!(
            BearerToken::new(" \n").unwrap_err(),
            SecurityError::EmptyToken
        );
    }

    #[test]
    fn token_file_drops_the_trailing_newline() {
        let path = std::env::temp_dir().join(format!("mcm-token-{}", std::process::id()));
        std::fs::write(&path, "s3cret\n").unwrap();
        assert!(BearerToken::from_file(&path).unwrap().matches(b"s3cret"));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            BearerToken::from_file(&path),
            Err(SecurityError::TokenFile { .. })
        ));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_credentials(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_credentials(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_credentials(b"Basic abc"), None);
        assert_eq!(bearer_credentials(b"Bearer "), None);
        assert_eq!(bearer_credentials(b"Bear"), None);
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let token = BearerToken::new("t").unwrap();
        let lo: SocketAddr = "127.0.0.1:3901".parse().unwrap();
        let lo6: SocketAddr = "[::1]:3901".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:3901".parse().unwrap();
        assert!(check_bind(lo, None).is_ok());
        assert!(check_bind(lo6, None).is_ok());
        let err = check_bind(any, None).unwrap_err();
        assert!(err.to_string().contains("MCP_AUTH_TOKEN"), "{err}");
        assert!(check_bind(any, Some(&token)).is_ok());
    }

    #[test]
    fn allow_lists_start_from_loopback() {
        let any: SocketAddr = "0.0.0.0:3901".parse().unwrap();
        let lan: SocketAddr = "10.0.0.5:3901".parse().unwrap();
        assert_eq!(allowed_hosts(any, &[]), LOOPBACK_HOSTS.to_vec());
        assert!(allowed_hosts(lan, &["mcp.example.com".into()]).contains(&"10.0.0.5".into()));
        assert!(
            allowed_hosts(lan, &["mcp.example.com".into()]).contains(&"mcp.example.com".into())
        );
        assert_eq!(
            allowed_origins(&["https://app.example.com".into()]).len(),
            4
        );
    }
}
