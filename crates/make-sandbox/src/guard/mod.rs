//! Who may talk to the sandbox, and how its HTML pages protect themselves in a browser.
//!
//! The consent page has no login (like Make's public link), its ids are seeded and its port
//! is fixed by default, so without these checks any web page the person visits could
//! authorize a pending credential by posting a form to `http://127.0.0.1:3902/...`, or reach
//! the sandbox under its own host name through DNS rebinding. Hence, for every route:
//!
//! - **Host** must name this sandbox: `127.0.0.1`, `localhost` or `[::1]`, with the
//!   sandbox's port or none. Anything else is 403 (DNS rebinding).
//! - **State-changing requests** (anything but GET, HEAD, OPTIONS, TRACE) from a browser
//!   must come from the sandbox's own pages: `Sec-Fetch-Site` other than `same-origin` or
//!   `none` is 403, and so is a present `Origin` that is not a loopback origin on the
//!   sandbox's port. `Origin: null` passes only beside `Sec-Fetch-Site: same-origin`: a
//!   browser sends `null` for its own page's post whenever a referrer policy hides the
//!   origin (Fetch, "serializing a request origin"), and `Sec-Fetch-Site` is set by the
//!   browser alone, so no page can forge it. Requests without these headers (curl, reqwest,
//!   the tests, the Make client) pass: they are not a browser acting for a foreign page.
//!
//! A GET of the page may come from anywhere: the person opens it from a chat or a link.
//! [`page_headers`] then forbids framing, scripts, foreign form targets and referrers.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What the page needs and nothing more: its inline stylesheet and forms posting to itself.
/// No scripts, images, fonts or frames; nobody may frame it.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Refuses requests whose Host is not this sandbox, and cross-site state changes.
pub(super) async fn require_loopback(
    State(port): State<u16>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match host {
        Some(h) if host_is_sandbox(h, port) => {}
        Some(h) => {
            return refuse(format!(
                "Host '{h}' is not this sandbox. It answers only to 127.0.0.1, localhost or [::1] on port {port}."
            ));
        }
        None => return refuse("the request has no Host header.".into()),
    }
    if !req.method().is_safe()
        && let Some(reason) = cross_site(req.headers(), port)
    {
        return refuse(format!(
            "{reason}. Authorize or decline on the sandbox's own page instead."
        ));
    }
    next.run(req).await
}

/// Why a state-changing request looks like a foreign page's, if it does.
fn cross_site(headers: &HeaderMap, port: u16) -> Option<String> {
    let site = headers
        .get("sec-fetch-site")
        .map(|s| s.to_str().unwrap_or("(not text)"));
    if let Some(site) = site
        && !matches!(site, "same-origin" | "none")
    {
        return Some(format!("a {site} request (Sec-Fetch-Site) was refused"));
    }
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().unwrap_or("(not text)");
    let own_page_hiding_its_origin = text == "null" && site == Some("same-origin");
    if origin_is_sandbox(text, port) || own_page_hiding_its_origin {
        return None;
    }
    Some(format!(
        "a request from the page at Origin '{text}' was refused"
    ))
}

/// `127.0.0.1`, `localhost` or `[::1]` (case-insensitive), with `:port` or no port.
fn host_is_sandbox(host: &str, port: u16) -> bool {
    let Some((name, given)) = split_host_port(host) else {
        return false;
    };
    let port_ok = match given {
        None => true,
        Some(p) => p.parse::<u16>() == Ok(port),
    };
    is_loopback_name(name) && port_ok
}

/// `http://` plus a loopback name and the sandbox's port (80 when absent), nothing else.
fn origin_is_sandbox(origin: &str, port: u16) -> bool {
    let Some(authority) = origin.strip_prefix("http://") else {
        return false;
    };
    let Some((name, given)) = split_host_port(authority) else {
        return false;
    };
    let given = given.map_or(Ok(80), str::parse::<u16>);
    is_loopback_name(name) && given == Ok(port)
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "::1"
}

/// Splits `name[:port]` or `[v6][:port]`; `None` when it is neither.
fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        return match after {
            "" => Some((name, None)),
            _ => Some((name, Some(after.strip_prefix(':')?))),
        };
    }
    match text.split_once(':') {
        Some((_, port)) if port.contains(':') => None,
        Some((name, port)) => Some((name, Some(port))),
        None => Some((text, None)),
    }
}

fn refuse(message: String) -> Response {
    let mut resp = (StatusCode::FORBIDDEN, format!("Forbidden: {message}\n")).into_response();
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// Browser protections for the consent pages (and their redirects and error pages). A page
/// whose form must end up on another origin (the OAuth consent page, which redirects to
/// the client) sets its own Content-Security-Policy, which is kept.
pub(super) async fn page_headers(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Referrers never leave the sandbox, yet its own form posts keep their Origin.
        (header::REFERRER_POLICY, "same-origin"),
        // The page shows the state of a request; a stale copy would mislead.
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests;
