//! Who may talk to the HTTP endpoint: the bearer token, the loopback-only rule when there is
//! none, and the Host/Origin allow-lists that rmcp enforces (DNS rebinding, cross-site calls).
//!
//! The bearer token only authenticates the MCP client to *this* server. It is never the Make
//! key: the Make key is server configuration (`MAKE_API_KEY`), and nothing an HTTP client
//! sends can change which Make account the server uses.

use std::net::SocketAddr;
use std::path::Path;

use super::refusal::refusal;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// Host names a loopback client puts in `Host` (any port).
pub(crate) const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Browser origins of pages served from this machine (any port).
pub(crate) const LOOPBACK_ORIGINS: [&str; 3] =
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
    pub(crate) fn from_file(path: &Path) -> Result<Self, SecurityError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecurityError::TokenFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::new(&text)
    }

    /// True when `candidate` is this token; the time taken does not depend on where the two
    /// differ, so the token cannot be guessed byte by byte from response times.
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate)
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Compares two byte strings in time that depends only on their lengths (`subtle`).
///
/// The length of a token is not secret enough to hide (it shows in the configuration), so
/// a length mismatch may return early; equal lengths always scan every byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A security setting that makes the server unsafe or unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecurityError {
    #[error(
        "refusing to listen on {addr} without an auth token: anyone who can reach that address could manage your Make credentials. Set MCP_AUTH_TOKEN (or --auth-token-file), or listen on 127.0.0.1"
    )]
    NonLoopbackWithoutToken { addr: SocketAddr },
    #[error(
        "refusing {flag} {value} without an auth token: requests for that name come through a reverse proxy or another machine, so anyone who can reach it could manage your Make credentials. Set MCP_AUTH_TOKEN (or --auth-token-file), or allow only loopback names"
    )]
    ExposedWithoutToken { flag: &'static str, value: String },
    #[error("the auth token is empty")]
    EmptyToken,
    #[error("cannot read the auth token file {path}: {reason}")]
    TokenFile { path: String, reason: String },
    #[error(
        "give the auth token either by --auth-token/MCP_AUTH_TOKEN or by --auth-token-file, not both"
    )]
    TwoTokenSources,
    #[error(
        "give the metrics token either by MCP_METRICS_TOKEN or by --metrics-token-file, not both"
    )]
    TwoMetricsTokenSources,
    #[error(
        "serve /metrics either on its own listener (--metrics-listen, MCP_METRICS_LISTEN) or on the MCP listener behind a token (MCP_METRICS_TOKEN, --metrics-token-file), not both"
    )]
    MetricsTwoWays,
}

/// Refuses a listen address other machines can reach unless a token guards it.
pub fn check_bind(addr: SocketAddr, token: Option<&BearerToken>) -> Result<(), SecurityError> {
    if addr.ip().is_loopback() || token.is_some() {
        Ok(())
    } else {
        Err(SecurityError::NonLoopbackWithoutToken { addr })
    }
}

/// Refuses settings that expose the server to other machines without a token: a
/// non-loopback listen address ([`check_bind`]), or an allowed `Host` or `Origin` that is not
/// a loopback name. The latter is the reverse-proxy setup: the server listens on loopback,
/// but the proxy forwards anyone's requests to it.
pub fn check_exposure(
    listen: SocketAddr,
    allowed_hosts: &[String],
    allowed_origins: &[String],
    token: Option<&BearerToken>,
) -> Result<(), SecurityError> {
    check_bind(listen, token)?;
    if token.is_some() {
        return Ok(());
    }
    if let Some(host) = allowed_hosts.iter().find(|h| !is_loopback_host(h)) {
        return Err(SecurityError::ExposedWithoutToken {
            flag: "--allowed-host",
            value: host.clone(),
        });
    }
    if let Some(origin) = allowed_origins.iter().find(|o| !is_loopback_origin(o)) {
        return Err(SecurityError::ExposedWithoutToken {
            flag: "--allowed-origin",
            value: origin.clone(),
        });
    }
    Ok(())
}

/// [`check_exposure`] for a whole set of options.
/// Team mode needs no check: every request to `/mcp` carries a person's token.
pub(crate) fn check_options(options: &super::HttpOptions) -> Result<(), SecurityError> {
    if options.oauth.is_some() {
        return Ok(());
    }
    check_exposure(
        options.listen,
        &options.allowed_hosts,
        &options.allowed_origins,
        options.auth_token.as_ref(),
    )
}

/// `localhost`, a loopback IP (`127.0.0.1`, `::1`, `[::1]`), each with or without a port
/// (a number or `*`).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port == "*" || port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An `http` or `https` origin whose host is loopback ([`is_loopback_host`]).
pub(crate) fn is_loopback_origin(origin: &str) -> bool {
    let origin = origin.trim();
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !authority.contains(['/', '@'])
        && is_loopback_host(authority)
}

/// The `Host` values rmcp accepts: loopback names, the listen IP when it is a specific
/// address (clients use it), and the operator's extra names (a reverse proxy's host).
pub(crate) fn allowed_hosts(listen: SocketAddr, extra: &[String]) -> Vec<String> {
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
pub(crate) fn allowed_origins(extra: &[String]) -> Vec<String> {
    LOOPBACK_ORIGINS
        .iter()
        .map(|o| o.to_string())
        .chain(extra.iter().cloned())
        .collect()
}

/// 400 unless the request carries exactly one `Host` header (RFC 9112, section 3.2). With
/// two, the allow-list would check one value while a proxy in front, or anything reading
/// the headers later, could act on the other. A missing `Host` is left to rmcp, which
/// refuses it.
#[expect(
    clippy::result_large_err,
    reason = "a refusal is the response itself, as with axum's rejections"
)]
pub(crate) fn check_single_host(request: &Request) -> Result<(), Response> {
    if request
        .headers()
        .get_all(header::HOST)
        .iter()
        .nth(1)
        .is_none()
    {
        return Ok(());
    }
    Err((
        StatusCode::BAD_REQUEST,
        refusal("Bad Request: more than one Host header; send exactly one"),
    )
        .into_response())
}

/// Headers a reverse proxy adds on the way in. A proxy on the same host forwards
/// `Host: 127.0.0.1:PORT`, which passes the loopback allow-list, so without a token these
/// are the only sign that the request may come from another machine.
const PROXY_HEADERS: [&str; 3] = ["forwarded", "via", "x-real-ip"];

/// The proxy header `request` carries, if any: [`PROXY_HEADERS`] or any `X-Forwarded-*`.
fn proxy_header(request: &Request) -> Option<&str> {
    request
        .headers()
        .keys()
        .map(|name| name.as_str())
        .find(|name| PROXY_HEADERS.contains(name) || name.starts_with("x-forwarded-"))
}

/// 403 for a request that came through a reverse proxy when the server has no token: a
/// proxy makes a loopback-only server reachable from wherever the proxy is.
#[expect(
    clippy::result_large_err,
    reason = "a refusal is the response itself, as with axum's rejections"
)]
pub(crate) fn check_not_proxied(request: &Request) -> Result<(), Response> {
    let Some(name) = proxy_header(request) else {
        return Ok(());
    };
    Err((
        StatusCode::FORBIDDEN,
        refusal(format!(
            "Forbidden: this request came through a proxy ({name} header), and a server behind a proxy must have an auth token. Set MCP_AUTH_TOKEN (or --auth-token-file) and send Authorization: Bearer <token>"
        )),
    )
        .into_response())
}

/// 401 with `WWW-Authenticate: Bearer` unless the request carries the token. The header is
/// removed afterwards, so no tool can ever read it. `setting` names where the token is
/// configured (`MCP_AUTH_TOKEN`), for the refusal's text.
#[expect(
    clippy::result_large_err,
    reason = "a refusal is the response itself, as with axum's rejections"
)]
pub(crate) fn check_bearer(
    token: &BearerToken,
    setting: &str,
    request: &mut Request,
) -> Result<(), Response> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer_credentials(v.as_bytes()));
    if presented.is_some_and(|p| token.matches(p)) {
        request.headers_mut().remove(header::AUTHORIZATION);
        return Ok(());
    }
    let error = if presented.is_some() {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    };
    Err((
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static(error))],
        refusal(format!(
            "Unauthorized: send Authorization: Bearer <token> (the server's {setting})"
        )),
    )
        .into_response())
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
    fn non_loopback_allowed_names_need_a_token() {
        let lo: SocketAddr = "127.0.0.1:3901".parse().unwrap();
        let token = BearerToken::new("t").unwrap();
        let hosts = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for host in [
            "mcp.example.com",
            "mcp.example.com:8443",
            "10.0.0.5",
            "*",
            "localhost.evil.example",
        ] {
            let err = check_exposure(lo, &hosts(&[host]), &[], None).unwrap_err();
            assert_eq!(
                err,
                SecurityError::ExposedWithoutToken {
                    flag: "--allowed-host",
                    value: host.into()
                }
            );
            assert!(err.to_string().contains("MCP_AUTH_TOKEN"), "{err}");
            assert!(check_exposure(lo, &hosts(&[host]), &[], Some(&token)).is_ok());
        }
        for origin in [
            "https://app.example.com:443",
            "http://localhost.evil.example:*",
            "http://localhost@evil.example",
            "null",
        ] {
            let err = check_exposure(lo, &[], &hosts(&[origin]), None).unwrap_err();
            assert!(
                matches!(
                    err,
                    SecurityError::ExposedWithoutToken {
                        flag: "--allowed-origin",
                        ..
                    }
                ),
                "{origin}"
            );
            assert!(check_exposure(lo, &[], &hosts(&[origin]), Some(&token)).is_ok());
        }
    }

    #[test]
    fn loopback_allowed_names_need_no_token() {
        let lo: SocketAddr = "127.0.0.1:3901".parse().unwrap();
        let hosts: Vec<String> = [
            "localhost",
            "LOCALHOST:3901",
            "127.0.0.1",
            "127.0.0.1:8080",
            "::1",
            "[::1]",
            "[::1]:3901",
            "localhost:*",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let origins: Vec<String> = [
            "http://localhost:*",
            "http://localhost:6274",
            "https://127.0.0.1:8443",
            "http://[::1]:*",
            "http://localhost/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(check_exposure(lo, &hosts, &origins, None), Ok(()));
        // The listen address rule still comes first.
        let any: SocketAddr = "0.0.0.0:3901".parse().unwrap();
        assert!(matches!(
            check_exposure(any, &hosts, &origins, None),
            Err(SecurityError::NonLoopbackWithoutToken { .. })
        ));
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
