//! One round of a tool call as the person-in-the-loop code sees it: the MCP request
//! context, the tool's name, a digest of its arguments and, on a 2026-07-28 retry, the
//! echoed `requestState` with the client's `inputResponses`.

use std::borrow::Cow;

use rmcp::RoleServer;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{InputResponses, JsonObject};
use rmcp::service::RequestContext;
use sha2::{Digest, Sha256};

/// SHA-256 (hex) of a call's arguments in canonical form (object keys sorted), computed
/// once per call by the server and bound into sealed state, so that a state can only be
/// replayed with exactly the arguments it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallDigest(pub(crate) String);

impl CallDigest {
    /// The digest of a call that cannot take part in a round trip (a 2025-11-25 client): no
    /// state is ever sealed for it, and any state it echoes fails to open against this.
    pub(crate) fn none() -> Self {
        Self(String::new())
    }

    pub(crate) fn of(arguments: Option<&JsonObject>) -> Self {
        // serde_json's map is a BTreeMap (no `preserve_order`), so this text is canonical.
        let text = arguments
            .map(|a| serde_json::to_string(a).unwrap_or_default())
            .unwrap_or_else(|| "{}".to_string());
        Self::hex(text.as_bytes())
    }

    /// This digest bound to the signed-in person `make_user_id` too, so that a state sealed
    /// for one person's call does not open for another person's call with the same
    /// arguments (a confirmation is the person's own).
    pub(crate) fn for_person(self, make_user_id: &str) -> Self {
        Self::hex(format!("{}\nperson {make_user_id}", self.0).as_bytes())
    }

    fn hex(text: &[u8]) -> Self {
        let hash = Sha256::digest(text);
        Self(hash.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// Extracted by tools that may ask the person (`turn: Turn` in a `#[tool]` function).
pub(crate) struct Turn {
    pub(crate) ctx: RequestContext<RoleServer>,
    pub(crate) tool: Cow<'static, str>,
    pub(crate) digest: CallDigest,
    /// The echoed `requestState`: present only when this call is a retry.
    pub(crate) state: Option<String>,
    pub(crate) responses: Option<InputResponses>,
}

impl<S> FromContextPart<ToolCallContext<'_, S>> for Turn {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        let digest = context
            .request_context
            .extensions
            .get::<CallDigest>()
            .cloned()
            .unwrap_or_else(CallDigest::none);
        Ok(Self {
            ctx: context.request_context.clone(),
            tool: context.name.clone(),
            digest,
            state: context.request_state.take(),
            responses: context.input_responses.take(),
        })
    }
}

impl Turn {
    /// The client's answer to the input request named `key`, from a retry.
    pub(crate) fn response(&self, key: &str) -> Option<&serde_json::Value> {
        self.responses.as_ref()?.get(key)
    }

    /// What the person chose in the retry's answer to `key`: `accept`, `decline`, `cancel`,
    /// or `no_answer` when the client sent none.
    pub(crate) fn answered(&self, key: &str) -> String {
        self.response(key)
            .and_then(|r| r.get("action"))
            .and_then(|a| a.as_str())
            .filter(|a| matches!(*a, "accept" | "decline" | "cancel"))
            .unwrap_or("no_answer")
            .to_string()
    }
}
