//! Plain stateless tool calls, answered in place.
//!
//! In stateless mode rmcp serves each POST by building a service for it: a peer, a serve
//! loop and a handler task, the channels between them, and their spans. A plain
//! 2025-era `tools/call` uses none of that, and it was most of this server's own CPU per
//! HTTP call (callgrind, per call: about 60k instructions, 2k instruction-cache misses and
//! 900 data-cache write misses, out of 337k, 8.5k and 1.9k). So such a call is answered
//! here: rmcp's own dispatch (`Service::handle_request`, with its version and capability
//! checks) runs with the context rmcp would have built, and the answer is the JSON rmcp
//! would have written.
//!
//! Everything here is a shortcut, never a decision. A request is taken only when it is
//! plainly one that rmcp would accept and answer with one JSON message: no session, no
//! `Origin`, no SEP-2243 headers, a known pre-2026 `MCP-Protocol-Version`, the exact
//! media types, an allowed `Host`, and a body that parses as a `tools/call` request with
//! no `_meta` (a progress token would turn the answer into an SSE stream). Anything else
//! goes to rmcp as it came, so every refusal keeps rmcp's status and text.
//!
//! The peer in the context carries what rmcp gives a stateless request: the protocol
//! version from the header and no client capabilities (so no elicitation). Its transport
//! is closed: anything a tool tried to send the client fails at once, as it cannot reach a
//! stateless client anyway. `http --no-in-place` (`MAKE_MCP_NO_IN_PLACE=true`) turns the
//! shortcut off; tests/http_in_place.rs compares both ways answer for answer.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use rmcp::model::{
    CallToolRequest, ClientCapabilities, ClientRequest, GetExtensions, GetMeta, Implementation,
    InitializeRequestParams, JsonRpcMessage, JsonRpcRequest, ProtocolVersion, ServerJsonRpcMessage,
};
use rmcp::service::{Peer, RequestContext, serve_directly};
use rmcp::{RoleServer, Service};

use crate::logging::quote;
use crate::server::MakeServer;

const JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";

/// Answers plain stateless tool calls without rmcp's per-request service.
pub(crate) struct InPlace {
    server: MakeServer,
    /// One closed peer per pre-2026 protocol version, carrying that version.
    peers: Vec<(ProtocolVersion, Peer<RoleServer>)>,
    /// The allowed `Host` names that are plain DNS names or IPv4 addresses, lower-cased.
    hosts: Vec<String>,
}

/// A request [`InPlace`] takes: its peer and its parsed JSON-RPC request.
pub(crate) struct PlainCall {
    peer: Peer<RoleServer>,
    request: JsonRpcRequest<ClientRequest>,
}

impl InPlace {
    /// Must run inside the runtime: each peer comes from a service whose transport ends at
    /// once.
    pub(crate) fn new(server: MakeServer, allowed_hosts: &[String]) -> Self {
        let peers = ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .filter(|v| **v < ProtocolVersion::V_2026_07_28)
            .map(|version| (version.clone(), closed_peer(&server, version.clone())))
            .collect();
        let hosts = allowed_hosts
            .iter()
            .filter(|h| is_plain_host(h))
            .map(|h| h.to_ascii_lowercase())
            .collect();
        Self {
            server,
            peers,
            hosts,
        }
    }

    /// The call, when `parts` and `body` are plainly a stateless `tools/call` that rmcp
    /// would accept and answer with one JSON message; `None` leaves the request to rmcp.
    pub(crate) fn plain_call(&self, parts: &Parts, body: &[u8]) -> Option<PlainCall> {
        if parts.method != Method::POST || !self.plain_headers(&parts.headers) {
            return None;
        }
        let peer = self.peer_for(parts.headers.get("mcp-protocol-version")?)?;
        let request = tool_call(body)?;
        request
            .request
            .get_meta()
            .is_empty()
            .then_some(PlainCall { peer, request })
    }

    /// Runs the call through rmcp's dispatch and writes its JSON-RPC answer, as rmcp's
    /// stateless JSON mode does (HTTP 200 for results and errors alike).
    pub(crate) async fn answer(&self, parts: Parts, call: PlainCall) -> Response {
        let PlainCall { peer, request } = call;
        let JsonRpcRequest {
            id, mut request, ..
        } = request;
        request.extensions_mut().insert(parts);
        let mut context = RequestContext::new(id.clone(), peer);
        context.meta = std::mem::take(request.get_meta_mut());
        context.extensions = std::mem::take(request.extensions_mut());
        let message: ServerJsonRpcMessage = match Service::<RoleServer>::handle_request(
            &self.server,
            request,
            context,
        )
        .await
        {
            Ok(result) => JsonRpcMessage::response(result, id),
            Err(error) => {
                // rmcp logs its error answers at warn too.
                tracing::warn!(%id, code = error.code.0, message = %quote(&error.message), "tools/call answered with a JSON-RPC error");
                JsonRpcMessage::error(error, Some(id))
            }
        };
        match serde_json::to_vec(&message) {
            Ok(body) => json_response(Bytes::from(body)),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a tools/call answer");
                Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body(Body::from(
                        "Internal Server Error: cannot serialize the answer\n",
                    ))
                    .expect("a valid response")
            }
        }
    }

    /// No session, no `Origin`, no SEP-2243 headers; an allowed `Host`; JSON in, and both
    /// JSON and SSE accepted.
    fn plain_headers(&self, headers: &HeaderMap) -> bool {
        let foreign = headers.keys().any(|name| {
            let name = name.as_str();
            name == "origin" || (name.starts_with("mcp-") && name != "mcp-protocol-version")
        });
        !foreign
            && headers.get_all("mcp-protocol-version").iter().count() == 1
            && self.host_allowed(headers)
            && is_json_content(headers)
            && accepts_json_and_sse(headers)
    }

    /// `Host` is `name` or `name:port` for an allowed plain name.
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(header::HOST).iter();
        let (Some(host), None) = (values.next(), values.next()) else {
            return false;
        };
        let Ok(host) = host.to_str() else {
            return false;
        };
        let name = match host.rsplit_once(':') {
            Some((name, port))
                if port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok() =>
            {
                name
            }
            Some(_) => return false,
            None => host,
        };
        is_plain_host(name) && self.hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    fn peer_for(&self, version: &HeaderValue) -> Option<Peer<RoleServer>> {
        let version = version.to_str().ok()?;
        self.peers
            .iter()
            .find(|(v, _)| v.as_str() == version)
            .map(|(_, peer)| peer.clone())
    }
}

/// `body` as a `tools/call` request, parsed as rmcp parses it, minus the trial of every
/// other request type (rmcp's `ClientRequest` tries them in turn, building an error for
/// each). Like rmcp, a message that also has a `result` or `error` member is refused.
fn tool_call(body: &[u8]) -> Option<JsonRpcRequest<ClientRequest>> {
    let JsonRpcRequest {
        jsonrpc,
        id,
        request,
    } = serde_json::from_slice::<JsonRpcRequest<CallToolRequest>>(body).ok()?;
    if serde_json::from_slice::<ReplyMembers>(body).ok()?.0 {
        return None;
    }
    Some(JsonRpcRequest {
        jsonrpc,
        id,
        request: ClientRequest::CallToolRequest(request),
    })
}

/// Whether a JSON object has a `result` or an `error` member (with any value, `null` too).
struct ReplyMembers(bool);

impl<'de> serde::Deserialize<'de> for ReplyMembers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = ReplyMembers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut found = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    found |= key == "result" || key == "error";
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
                Ok(ReplyMembers(found))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

/// What rmcp's stateless mode gives a request of `version`: a peer whose client sent
/// `version` and declared nothing. Its transport reads end-of-file at once, so the service
/// behind it stops and every send through it fails.
fn closed_peer(server: &MakeServer, version: ProtocolVersion) -> Peer<RoleServer> {
    let info =
        InitializeRequestParams::new(ClientCapabilities::default(), Implementation::default())
            .with_protocol_version(version);
    let service = serve_directly(
        server.clone(),
        (tokio::io::empty(), tokio::io::sink()),
        Some(info),
    );
    let peer = service.peer().clone();
    service.cancellation_token().cancel();
    peer
}

/// A DNS name or an IPv4 address: letters, digits, dots and hyphens.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

/// One `Content-Type`, `application/json` with any parameters.
fn is_json_content(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    value.to_str().is_ok_and(|v| {
        let essence = v.split_once(';').map_or(v, |(essence, _)| essence);
        essence.trim().eq_ignore_ascii_case(JSON)
    })
}

/// `Accept` names both types plainly (entries with parameters or quotes are left for rmcp
/// to weigh).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        if value.contains(['"', ';']) {
            return false;
        }
        for entry in value.split(',').map(str::trim) {
            json |= entry.eq_ignore_ascii_case(JSON);
            sse |= entry.eq_ignore_ascii_case(EVENT_STREAM);
        }
    }
    json && sse
}

fn json_response(body: Bytes) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, JSON)
        .body(Body::from(body))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::make::{ClientSettings, MakeClient};
    use serde_json::{Value, json};

    fn in_place() -> InPlace {
        let client = MakeClient::new(&ClientSettings::default()).unwrap();
        InPlace::new(
            MakeServer::new(client, None),
            &["localhost".into(), "127.0.0.1".into(), "::1".into()],
        )
    }

    fn call(meta: Option<Value>) -> Value {
        let mut params = json!({"name": "keys_list", "arguments": {"teamId": 1}});
        if let Some(meta) = meta {
            params["_meta"] = meta;
        }
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
    }

    /// The headers a plain 2025-11-25 client sends, with `change` applied (`None` removes).
    fn parts(change: &[(&str, Option<&str>)]) -> Parts {
        let mut headers = vec![
            ("host", "127.0.0.1:3901"),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        for (name, value) in change {
            headers.retain(|(n, _)| n != name);
            if let Some(value) = value {
                headers.push((name, value));
            }
        }
        let mut request = axum::http::Request::builder().method("POST").uri("/mcp");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn takes(in_place: &InPlace, parts: &Parts, body: &Value) -> bool {
        in_place
            .plain_call(parts, &serde_json::to_vec(body).unwrap())
            .is_some()
    }

    #[tokio::test]
    async fn takes_plain_legacy_tool_calls() {
        let in_place = in_place();
        for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
            let parts = parts(&[("mcp-protocol-version", Some(version))]);
            assert!(takes(&in_place, &parts, &call(None)), "{version}");
        }
        for host in ["localhost", "LOCALHOST:80", "127.0.0.1", "localhost:65535"] {
            assert!(takes(
                &in_place,
                &parts(&[("host", Some(host))]),
                &call(None)
            ));
        }
        let variants = [
            ("content-type", "application/json; charset=utf-8"),
            ("accept", "text/event-stream,application/json"),
        ];
        for (name, value) in variants {
            assert!(takes(
                &in_place,
                &parts(&[(name, Some(value))]),
                &call(None)
            ));
        }
        let string_id = json!({"jsonrpc": "2.0", "id": "a", "method": "tools/call",
            "params": {"name": "nope"}});
        assert!(takes(&in_place, &parts(&[]), &string_id));
    }

    #[tokio::test]
    async fn leaves_everything_else_to_rmcp() {
        let in_place = in_place();
        let plain = call(None);
        let header_changes: &[&[(&str, Option<&str>)]] = &[
            &[("mcp-protocol-version", None)],
            &[("mcp-protocol-version", Some("2026-07-28"))],
            &[("mcp-protocol-version", Some("2099-01-01"))],
            &[("origin", Some("http://localhost:3000"))],
            &[("mcp-session-id", Some("abc"))],
            &[("mcp-method", Some("tools/call"))],
            &[("mcp-name", Some("keys_list"))],
            &[("host", Some("evil.example"))],
            &[("host", Some("[::1]:3901"))],
            &[("host", Some("localhost:x"))],
            &[("host", Some("localhost:65536"))],
            &[("host", Some("localhost:+1"))],
            &[("host", Some("localhost:"))],
            &[("host", None)],
            &[("content-type", Some("text/plain"))],
            &[("content-type", None)],
            &[("accept", Some("application/json"))],
            &[("accept", Some("*/*"))],
            &[("accept", Some("application/json, text/event-stream;q=0"))],
            &[("accept", None)],
        ];
        for change in header_changes {
            assert!(!takes(&in_place, &parts(change), &plain), "{change:?}");
        }
        let bodies = [
            call(Some(json!({"progressToken": 1}))),
            call(Some(
                json!({"io.modelcontextprotocol/protocolVersion": "2025-11-25"}),
            )),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json!([plain.clone()]),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call"}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "keys_list"}, "result": null}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "keys_list"}, "error": {}}),
            json!({"jsonrpc": "1.0", "id": 1, "method": "tools/call",
                "params": {"name": "keys_list"}}),
        ];
        for body in &bodies {
            assert!(!takes(&in_place, &parts(&[]), body), "{body}");
        }
        assert!(in_place.plain_call(&parts(&[]), b"{not json").is_none());
        let mut get = parts(&[]);
        get.method = Method::GET;
        assert!(!takes(&in_place, &get, &plain));
    }

    #[tokio::test]
    async fn answers_with_rmcps_json_rpc_message() {
        let in_place = in_place();
        let body = json!({"jsonrpc": "2.0", "id": "x", "method": "tools/call",
            "params": {"name": "no_such_tool", "arguments": {}}});
        let parts = parts(&[]);
        let call = in_place
            .plain_call(&parts, &serde_json::to_vec(&body).unwrap())
            .unwrap();
        let response = in_place.answer(parts, call).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(answer["id"], "x");
        assert_eq!(answer["error"]["code"], -32602, "{answer}");
    }
}
