//! The MCP server: one handler that owns the shared Make client and the tool registry,
//! built once and shared by every session (cloning it is an `Arc` clone).

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use tokio_util::sync::CancellationToken;

use crate::logging::quote;
use crate::make::MakeClient;
use crate::person::{CallDigest, Person, PersonSettings};
use crate::tools::{self, KeyTypeCache, ToolError, args::Id};

/// Guidance every client shows its model once, next to the tool list.
const INSTRUCTIONS: &str = "Manage Make.com credentials: connections (authorized accounts of apps such as Google or Slack), keys (keychain secrets such as API keys or basic auth) and credential requests (links where a person authorizes connections and keys on Make's own page).\n\
Workflow: 1) reuse an existing connection when one fits (connections_list with type and scopes). 2) Never ask the person to paste passwords, API keys or tokens into the chat: create a credential request (credential-requests_create-by-credentials, or credential-requests_create by app module). 3) Hand over its publicUri link: when the result says the client already showed it to the person (`person.action`), do not repeat it; otherwise give the person the link. 4) Call credential-requests_wait-for-authorization with the requestId until `done` is true (a timeout is normal: call again or ask the person), then continue with the new connection or key ids (`remoteId`). When a connection lacks OAuth scopes, use credential-requests_extend-connection and wait the same way.\n\
Destructive tools (deletes, replacing connection data or key parameters) may ask the person to confirm first; when the result says they declined, nothing changed: do not retry, ask the person what they want.\n\
Ids: connection, key, team and user ids are numbers; credential-request and credential ids are strings such as a07e16f2ad134bf49cf83a00aa95c0a5.";

/// What a call cut off by shutdown answers. The call may have been anywhere: before its
/// request reached Make, while Make was acting on it, or after Make answered.
pub const CUT_BY_SHUTDOWN: &str = "The server is shutting down and stopped this call before it finished (its shutdown grace period ran out). Anything the call was creating, changing or deleting in Make may or may not have happened: check in Make before retrying (for example with the matching _list or _get tool, once the server is back), so nothing is created twice.";

/// The MCP handler for all Make credential tools.
#[derive(Clone)]
pub struct MakeServer {
    inner: Arc<Inner>,
}

struct Inner {
    make: MakeClient,
    default_team: Option<u64>,
    person: Person,
    tools: ToolRouter<MakeServer>,
    /// Make's key types, read once per process (keys_list-types, the key parameter checks).
    key_types: KeyTypeCache,
    /// Cancelled when the transport gives up waiting for running calls (see [`MakeServer::cut_calls`]).
    cut: CancellationToken,
}

impl MakeServer {
    /// Builds the server and its tool registry (once; every session shares it).
    pub fn new(make: MakeClient, default_team: Option<u64>) -> Self {
        Self::with_person(make, default_team, PersonSettings::default())
    }

    /// Like [`MakeServer::new`], with the operator's settings for links, confirmations and
    /// sealed state.
    pub fn with_person(
        make: MakeClient,
        default_team: Option<u64>,
        person: PersonSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                make,
                default_team,
                person: Person::new(person),
                tools: tools::registry(),
                key_types: KeyTypeCache::default(),
                cut: CancellationToken::new(),
            }),
        }
    }

    /// How tools reach the person behind the client.
    pub fn person(&self) -> &Person {
        &self.inner.person
    }

    /// The shared Make client.
    pub fn make(&self) -> &MakeClient {
        &self.inner.make
    }

    /// Make's key types, cached for the life of the process.
    pub(crate) fn key_types(&self) -> &KeyTypeCache {
        &self.inner.key_types
    }

    /// The team to use: the call's `teamId`, else the server's `MAKE_TEAM`.
    pub fn team(&self, given: Option<Id>) -> Result<u64, ToolError> {
        given.map(|id| id.0).or(self.inner.default_team).ok_or_else(|| {
            ToolError::invalid(
                "teamId",
                "is required: pass the numeric teamId (this server has no default team; an operator can set MAKE_TEAM)",
            )
        })
    }

    /// Ends every running tool call (and any started later) with [`CUT_BY_SHUTDOWN`] as an
    /// `isError` result, so the transport can still deliver an answer the model can act on
    /// before it closes. Without this, shutting the transport down under a running call
    /// left the client with a bare HTTP 500 or a stream that just stopped.
    pub fn cut_calls(&self) {
        self.inner.cut.cancel();
    }

    /// Every tool definition, sorted by name, exactly as `tools/list` returns them.
    pub fn tool_definitions(&self) -> Vec<Tool> {
        self.inner.tools.list_all()
    }
}

#[tool_handler(router = self.inner.tools)]
impl ServerHandler for MakeServer {
    /// Runs the tool, and stops it (dropping its in-flight Make request) when the client
    /// cancels. A cancelled create may still have reached Make; it is never retried.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let cancelled = context.ct.clone();
        // Bound into sealed round-trip state: a retry must carry the same arguments.
        context
            .extensions
            .insert(CallDigest::of(request.arguments.as_ref()));
        let started = std::time::Instant::now();
        let tool = request.name.clone();
        let call = ToolCallContext::new(self, request, context);
        let outcome = tokio::select! {
            outcome = self.inner.tools.call(call) => outcome,
            () = cancelled.cancelled() => Err(ErrorData::internal_error("the tool call was cancelled", None)),
            () = self.inner.cut.cancelled() => Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                ContentBlock::text(CUT_BY_SHUTDOWN),
            ]))),
        };
        let failed = match &outcome {
            Ok(CallToolResponse::Complete(result)) => result.is_error == Some(true),
            Ok(_) => false,
            Err(_) => true,
        };
        // The name is the client's text: quoted, so it cannot start a forged log line.
        tracing::info!(tool = %quote(&tool), failed, elapsed_ms = started.elapsed().as_millis() as u64, "tool call");
        outcome
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                    .with_title("Make credentials"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}
