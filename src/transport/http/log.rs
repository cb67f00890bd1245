//! One info line per HTTP request: method, path, MCP method, tool name, status, duration
//! (and in `--sessions` mode a digest of the session id, [`session_label`]); and the body
//! peek on `/mcp` that finds the MCP labels (with the body's size cap and read deadline).
//!
//! The MCP method and tool name come from the JSON-RPC body (`method`, `params.name`), or
//! from the `Mcp-Method`/`Mcp-Name` headers that 2026-07-28 clients send. Nothing else from
//! the request is logged: no header values, tokens, arguments or bodies. Names that do not
//! look like a method or tool name are replaced, so a client cannot write free text (or a
//! secret pasted by mistake) into the log. The path is quoted and capped (see
//! [`crate::logging`]); the method needs no quoting, as hyper only accepts token characters.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::refusal::refusal;
use crate::logging::quote;

/// What the body peek learned, handed back to the outer log layer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct McpLabel {
    pub(crate) method: Option<String>,
    pub(crate) tool: Option<String>,
}

/// A slot the outer layer puts in the request; the inner peek fills it.
///
/// The peek runs after authentication, so an unauthenticated client never makes the
/// server buffer its body; its requests are still logged (without MCP labels).
#[derive(Debug, Default, Clone)]
struct LabelSlot(Arc<Mutex<McpLabel>>);

/// Outermost layer: times the request and logs it once the response head is ready. With
/// the line filtered out (`RUST_LOG` below info for this target), it neither times nor
/// labels anything.
pub(crate) async fn log_requests(mut request: Request, next: Next) -> Response {
    if !tracing::enabled!(target: "make_credentials_mcp::http", tracing::Level::INFO) {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let slot = LabelSlot::default();
    request.extensions_mut().insert(slot.clone());
    let from_headers = label_from_headers(request.headers());
    let session = session_label(request.headers());
    let response = next.run(request).await;
    let label = {
        let body = slot.0.lock().map(|l| l.clone()).unwrap_or_default();
        McpLabel {
            method: body.method.or(from_headers.method),
            tool: body.tool.or(from_headers.tool),
        }
    };
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mcp_method = label.method.as_deref().unwrap_or("-");
    let tool = label.tool.as_deref().unwrap_or("-");
    let duration_ms = format_args!("{duration_ms:.1}");
    // Every request, health probes included, gets its one info line: an operator who wants
    // probes out can filter on `path` downstream.
    match session.or_else(|| session_label(response.headers())) {
        Some(session) => {
            tracing::info!(target: "make_credentials_mcp::http", %method, path = %quote(&path), mcp_method, tool, status, duration_ms, session, "http request");
        }
        None => {
            tracing::info!(target: "make_credentials_mcp::http", %method, path = %quote(&path), mcp_method, tool, status, duration_ms, "http request");
        }
    }
    response
}

/// How the log names the session of a request or response (`--sessions` mode): the first
/// 8 hex digits of the SHA-256 of its `Mcp-Session-Id`. The id itself works like a bearer
/// token (whoever holds it can act in the session), so it never reaches the log; the digest
/// still tells one session's requests from another's.
pub(crate) fn session_label(headers: &HeaderMap) -> Option<String> {
    use sha2::{Digest, Sha256};
    let id = headers.get("mcp-session-id")?;
    let digest = Sha256::digest(id.as_bytes());
    Some(digest[..4].iter().map(|b| format!("{b:02x}")).collect())
}

/// Limits on reading a POST body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// 413 above this.
    pub(crate) max_bytes: usize,
    /// 408 when the whole body has not arrived by then: a client that trickles its body
    /// must not hold a connection (and its buffer) open forever.
    pub(crate) timeout: Duration,
}

/// A request after [`peek`]: a POST with its body in memory, anything else as it came.
pub(crate) enum Peeked {
    Read(Parts, Bytes),
    Untouched(Request),
}

impl Peeked {
    /// The request again, with the same bytes as its body.
    pub(crate) fn into_request(self) -> Request {
        match self {
            Peeked::Read(parts, bytes) => Request::from_parts(parts, Body::from(bytes)),
            Peeked::Untouched(request) => request,
        }
    }
}

/// On `/mcp` (after auth): buffers a POST body up to `max_bytes` (413 above) within
/// `timeout` (408 after) and reads `method` and `params.name` for the log line. Other
/// methods carry no body that anyone reads (hyper drops an unread body and closes the
/// connection), so they pass as they are.
pub(crate) async fn peek(limits: BodyLimits, request: Request) -> Result<Peeked, Response> {
    if request.method() != Method::POST {
        return Ok(Peeked::Untouched(request));
    }
    let max_bytes = limits.max_bytes;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return Err(too_large(max_bytes));
    }
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, max_bytes));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => return Err(too_large(max_bytes)),
        Ok(Err(_)) => {
            return Err((
                StatusCode::BAD_REQUEST,
                refusal("Bad Request: unreadable body"),
            )
                .into_response());
        }
        Err(_) => return Err(too_slow(limits.timeout)),
    };
    if let Some(slot) = parts.extensions.get::<LabelSlot>()
        && let Ok(mut label) = slot.0.lock()
    {
        *label = label_from_body(&bytes);
    }
    Ok(Peeked::Read(parts, bytes))
}

fn too_slow(timeout: Duration) -> Response {
    (
        StatusCode::REQUEST_TIMEOUT,
        [(axum::http::header::CONNECTION, "close")],
        refusal(format!(
            "Request Timeout: the request body did not arrive within {} s",
            timeout.as_secs_f64()
        )),
    )
        .into_response()
}

fn too_large(max_bytes: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        refusal(format!("Payload Too Large: the limit is {max_bytes} bytes")),
    )
        .into_response()
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[derive(Deserialize)]
struct Envelope {
    method: Option<String>,
    params: Option<serde_json::Value>,
}

/// `method` and, for `tools/call`, `params.name` of a JSON-RPC message (`batch` for arrays).
pub(crate) fn label_from_body(bytes: &[u8]) -> McpLabel {
    if bytes.trim_ascii_start().first() == Some(&b'[') {
        return McpLabel {
            method: Some("batch".into()),
            tool: None,
        };
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(bytes) else {
        return McpLabel::default();
    };
    let method = envelope.method.map(|m| safe_name(&m));
    let tool = match (&method, &envelope.params) {
        (Some(m), Some(params)) if m == "tools/call" => {
            params.get("name").and_then(|n| n.as_str()).map(safe_name)
        }
        _ => None,
    };
    McpLabel { method, tool }
}

fn label_from_headers(headers: &HeaderMap) -> McpLabel {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(safe_name)
    };
    McpLabel {
        method: get("mcp-method"),
        tool: get("mcp-name"),
    }
}

/// The name itself when it looks like an MCP method or tool name, else a placeholder.
fn safe_name(name: &str) -> String {
    let plausible = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if plausible {
        name.to_string()
    } else {
        "(unprintable)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_labels_method_and_tool_only() {
        let l = label_from_body(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"keys_list","arguments":{"teamId":1}}}"#,
        );
        assert_eq!(l.method.as_deref(), Some("tools/call"));
        assert_eq!(l.tool.as_deref(), Some("keys_list"));
        let l = label_from_body(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"x"}}"#,
        );
        assert_eq!(l.tool, None);
        assert_eq!(label_from_body(b"not json"), McpLabel::default());
        assert_eq!(label_from_body(b" [{}]").method.as_deref(), Some("batch"));
    }

    #[test]
    fn a_session_is_named_by_a_short_digest_of_its_id() {
        let id = "b00d95f7-2277-414c-bb9a-5afe707479fc";
        let mut headers = HeaderMap::new();
        assert_eq!(session_label(&headers), None);
        headers.insert("mcp-session-id", id.parse().unwrap());
        let label = session_label(&headers).unwrap();
        assert_eq!(label.len(), 8);
        assert!(label.bytes().all(|b| b.is_ascii_hexdigit()), "{label}");
        assert!(!id.contains(&label), "{label}");
    }

    #[test]
    fn free_text_never_reaches_the_log() {
        assert_eq!(
            safe_name("credential-requests_get"),
            "credential-requests_get"
        );
        assert_eq!(safe_name("Bearer abc def"), "(unprintable)");
        assert_eq!(safe_name(&"a".repeat(200)), "(unprintable)");
    }
}
