//! The body of every refusal the HTTP layer sends before rmcp sees a request (401, 403,
//! 408, 413, 503, ...): a JSON-RPC error without an id, as the Streamable HTTP transport
//! allows for HTTP errors. MCP SDKs show such a body's message to their caller, where a
//! plain-text body is reduced to "the server returned an error", so the person or model
//! learns what to do: set a token, retry later, send a smaller body.

use axum::Json;
use serde_json::{Value, json};

/// JSON-RPC's "server error" range: the refusal is about the HTTP request, not a method.
const CODE: i64 = -32000;

/// A JSON-RPC error body carrying `message` (e.g. "Forbidden: ... set a token").
pub(crate) fn refusal(message: impl Into<String>) -> Json<Value> {
    Json(json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": CODE, "message": message.into()},
    }))
}

/// The same body as bytes, for answers written straight to a socket.
pub(crate) fn refusal_bytes(message: &str) -> Vec<u8> {
    serde_json::to_vec(&refusal(message).0).expect("a JSON value always serializes")
}
