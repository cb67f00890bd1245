//! The Make API base URL from `MAKE_ZONE` or `MAKE_API_URL`, forgiving the obvious (a bare
//! host, a bare origin, a trailing slash), and error messages that never echo what a URL
//! may carry besides its address: user info (`user:password@`), a query string or a fragment.

use url::Url;

use super::clip;

/// A Make API URL or zone that cannot be used; the message names the setting
/// (`MAKE_ZONE`, `MAKE_API_URL`) and quotes the value only as [`shown`] allows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UrlError(pub(crate) String);

/// The path of Make's API below a zone's origin.
pub(crate) const API_PATH: &str = "/api/v2";

/// `eu1.make.com`, `https://eu1.make.com/` or `eu1.make.com/api/v2` → `https://eu1.make.com/api/v2`.
pub(crate) fn zone_base_url(zone: &str) -> Result<Url, UrlError> {
    let host = zone.trim();
    let host = host
        .strip_prefix("https://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(host);
    let host = host.trim_end_matches('/');
    let host = host.strip_suffix(API_PATH).unwrap_or(host);
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !valid {
        let hint = if zone.contains('@') {
            " (without user name or password: the key goes in MAKE_API_KEY)"
        } else {
            ""
        };
        return Err(UrlError(format!(
            "MAKE_ZONE must be a host name such as eu1.make.com{hint}, got {}",
            shown(zone)
        )));
    }
    if !is_make_host(host) {
        tracing::info!(
            zone = host,
            "using a Make zone outside the public list (private instance)"
        );
    }
    Url::parse(&format!("https://{host}{API_PATH}")).map_err(|e| {
        UrlError(format!(
            "MAKE_ZONE {} is not a valid host: {e}",
            shown(zone)
        ))
    })
}

/// A full base URL (`MAKE_API_URL`). Plain `http` is only accepted for loopback hosts. A bare
/// origin (`https://eu1.make.com`, with or without a trailing slash) means its `/api/v2`, as
/// a zone does; a URL with a path keeps it.
pub fn parse_api_url(text: &str) -> Result<Url, UrlError> {
    let mut url = Url::parse(text.trim()).map_err(|e| {
        let hint = if text.contains("://") {
            ""
        } else {
            " (give the scheme, e.g. https://eu1.make.com, or set MAKE_ZONE to the bare host)"
        };
        UrlError(format!(
            "MAKE_API_URL {} is not a URL: {e}{hint}",
            shown(text)
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_url(&url) => {}
        "http" => {
            return Err(UrlError(format!(
                "MAKE_API_URL {} uses plain http, which is only allowed for loopback hosts; use https",
                shown(text)
            )));
        }
        other => {
            return Err(UrlError(format!(
                "MAKE_API_URL must be an http(s) URL, got scheme {:?}",
                clip(other, 20)
            )));
        }
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError(format!(
            "MAKE_API_URL {} must name a host and carry no user name or password (the key goes in MAKE_API_KEY)",
            shown(text)
        )));
    }
    // Every request URL and the startup log line start from this one: a query string here
    // (a token, a signature) would be sent with every call and logged.
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UrlError(format!(
            "MAKE_API_URL {} must not carry a query string or fragment",
            shown(text)
        )));
    }
    if url.path() == "/" {
        url.set_path(API_PATH);
    }
    Ok(url)
}

/// `text` as an error message may quote it: trimmed, clipped, and with the user info (all
/// up to the last `@` of the address part), the query string and the fragment replaced by
/// `***`. Works on text that is not a valid URL too, since that is when it gets quoted.
pub(crate) fn shown(text: &str) -> String {
    let text = text.trim();
    let start = text.find("://").map_or(0, |i| i + 3);
    let (address, rest) = match text[start..].find(['?', '#']) {
        Some(i) => text.split_at(start + i),
        None => (text, ""),
    };
    let address = match address[start..].rfind('@') {
        Some(at) => format!("{}***@{}", &address[..start], &address[start + at + 1..]),
        None => address.to_string(),
    };
    let rest = match rest.chars().next() {
        Some(mark) => format!("{mark}***"),
        None => String::new(),
    };
    format!("{:?}", clip(&format!("{address}{rest}"), 200))
}

/// Hosts of Make's public zones (`*.make.com`, `*.make.celonis.com`).
pub(crate) fn is_make_host(host: &str) -> bool {
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    host.ends_with(".make.com") || host.ends_with(".make.celonis.com")
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]`.
pub(crate) fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests;
