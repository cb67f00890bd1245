//! The MCP server: one handler that owns the shared Make client and the tool registry,
//! built once and shared by every session (cloning it is an `Arc` clone).

pub(crate) mod audit;
mod caller;
mod grants;
mod live;

use std::sync::Arc;

use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    Implementation, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ResultType,
    ServerCapabilities, ServerConfig, ServerNotification, SubscriptionFilter, Tool,
    ToolListChangedNotification,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use audit::{Auditor, DEFAULT_TOKEN_LABEL};
pub use caller::Caller;
pub(crate) use live::Hidden;
use live::LiveTools;

use crate::logging::quote;
use crate::make::MakeClient;
use crate::metrics::{Metrics, ToolOutcome};
use crate::person::{CallDigest, Person, PersonSettings};
use crate::selection::{Selection, check};
use crate::tools::Toolbox;

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
    /// What the tools run on: the Make client, the person, key types, the default team.
    toolbox: Toolbox,
    /// The registry minus the selection, minus what the scope check hides.
    tools: Arc<LiveTools>,
    /// Cancelled when the transport gives up waiting for running calls (see [`MakeServer::cut_calls`]).
    cut: CancellationToken,
    /// This server's metrics, shared with its Make client and the HTTP transport.
    metrics: Metrics,
    /// Where calls that change Make are audited (team mode, or a static token with a
    /// database); set once, when the database is open ([`MakeServer::audit_to`]).
    audit: std::sync::OnceLock<Auditor>,
}

/// The wait tool, whose running calls the `mcp_waits_in_flight` gauge counts.
const WAIT_TOOL: &str = "credential-requests_wait-for-authorization";

/// How the server is set up, besides its Make client.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    /// Team used when a call omits `teamId`.
    pub(crate) default_team: Option<u64>,
    /// Links, confirmations and sealed state.
    pub(crate) person: PersonSettings,
    /// Which tools are shown (default: all).
    pub(crate) selection: Selection,
    /// Most waits for authorization in progress at once (`--max-waits`).
    pub(crate) max_waits: usize,
    /// Where calls and Make requests are counted (a registry of the server's own).
    pub(crate) metrics: Metrics,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            default_team: None,
            person: PersonSettings::default(),
            selection: Selection::default(),
            max_waits: crate::tools::DEFAULT_MAX_WAITS,
            metrics: Metrics::new(),
        }
    }
}

impl MakeServer {
    /// Builds the server (once: every session shares it and its tool registry), with every
    /// tool selected and no scope check.
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
        let settings = ServerSettings {
            default_team,
            person,
            ..ServerSettings::default()
        };
        Self::build(make, settings)
            .expect("the default selection shows every tool, and the settings' ledger opens")
    }

    /// Builds the server with `settings`; fails when the selection names unknown tools or
    /// leaves none, or when the confirmations directory cannot be created.
    pub(crate) fn build(make: MakeClient, settings: ServerSettings) -> anyhow::Result<Self> {
        let tools = LiveTools::new(settings.selection)?;
        let ledger = settings.person.ledger()?;
        let person = Person::new(settings.person, ledger);
        let make = make.with_metrics(settings.metrics.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                toolbox: Toolbox::new(make, person, settings.default_team, settings.max_waits),
                tools: Arc::new(tools),
                cut: CancellationToken::new(),
                metrics: settings.metrics,
                audit: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Starts the scope check in the background (`enabled: false` for
    /// `--no-scope-check`): tools the key's Make scopes cannot serve are hidden once Make
    /// answers. Returns at once; `initialize` never waits for it, `tools/list` at most
    /// [`check::LIST_WAIT`].
    pub fn start_scope_check(&self, enabled: bool) -> JoinHandle<()> {
        let live = self.inner.tools.clone();
        let make = self.inner.toolbox.make().clone();
        let skip = check::skip_without_asking(&make, enabled);
        if skip.is_none() {
            live.begin_check();
        }
        tokio::spawn(async move {
            match skip {
                Some(skip) => live.skip(skip).await,
                None => live.settle(check::ask(&make).await).await,
            }
        })
    }

    /// This server's metrics (its Make client counts into the same registry).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Audits every call that changes Make to `auditor` from now on (once: a second auditor
    /// is ignored, with a warning).
    pub fn audit_to(&self, auditor: Auditor) {
        if self.inner.audit.set(auditor).is_err() {
            tracing::warn!("the audit trail was already set up; keeping the first");
        }
    }

    /// The shared Make client (the operator's credentials, or none in team mode).
    pub fn make_client(&self) -> &MakeClient {
        self.inner.toolbox.make()
    }

    /// Whether the scope check started by [`MakeServer::start_scope_check`] is still
    /// waiting for Make.
    pub fn scope_check_pending(&self) -> bool {
        self.inner.tools.check_pending()
    }

    /// Why `tool` is hidden (by a selection setting, or by the key's scopes); `None` when
    /// it is visible or no tool has that name.
    pub(crate) fn hidden(&self, tool: &str) -> Option<Hidden> {
        self.inner.tools.hidden(tool)
    }

    /// Ends every running tool call (and any started later) with [`CUT_BY_SHUTDOWN`] as an
    /// `isError` result, so the transport can still deliver an answer the model can act on
    /// before it closes. Without this, shutting the transport down under a running call
    /// would leave the client with a bare HTTP 500 or a stream that just stops.
    pub(crate) fn cut_calls(&self) {
        self.inner.cut.cancel();
    }

    /// How many tools the selection shows, when the registry has been built (at start, only
    /// for a selection other than the default; see src/server/live.rs).
    pub fn selected_tool_count(&self) -> Option<usize> {
        self.inner.tools.selected_count()
    }

    /// Every visible tool definition, sorted by name, exactly as `tools/list` returns them
    /// now (without waiting for a pending scope check).
    pub fn tool_definitions(&self) -> Vec<Tool> {
        self.inner.tools.current().list_all()
    }
}

/// Which branch ended a call in `call_tool`.
enum Ended {
    Answered,
    Cancelled,
    Cut,
}

impl ServerHandler for MakeServer {
    /// Runs the tool, and stops it (dropping its in-flight Make request) when the client
    /// cancels. A cancelled create may still have reached Make; it is never retried.
    ///
    /// A signed-in person's call ([`Caller`]) runs with their Make client, among the tools
    /// their grant allows, and every log line it writes names them (`make_user`).
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (acting, tools, person, span) = match Caller::of(&context) {
            Some(caller) => (
                Some(self.inner.toolbox.acting_as(caller.make.clone())),
                self.inner.tools.for_grant(&caller.scopes),
                Some(caller.make_user_id.clone()),
                tracing::info_span!("call", make_user = %quote(&caller.make_user_id)),
            ),
            None => (
                None,
                self.inner.tools.current(),
                None,
                tracing::Span::none(),
            ),
        };
        // Calls that change Make are audited, as the signed-in person or the static token.
        let audited = self
            .inner
            .audit
            .get()
            .filter(|_| audit::changes_make(&request.name))
            .map(|auditor| {
                let who = match Caller::of(&context) {
                    Some(caller) => audit::Who {
                        person: caller.make_user_id.clone(),
                        client_id: Some(caller.client_id.clone()),
                    },
                    None => audit::Who {
                        person: auditor.token_label().to_string(),
                        client_id: None,
                    },
                };
                let object = audit::Object::in_arguments(request.arguments.as_ref());
                (auditor, who, object, tools.has_route(&request.name))
            });
        let toolbox = acting.as_ref().unwrap_or(&self.inner.toolbox);
        async {
            let cancelled = context.ct.clone();
            // Bound into sealed round-trip state: a retry must carry the same arguments, and
            // come from the same person. Only 2026-07-28 calls take part in round trips, so
            // only they pay for the hash.
            if context
                .protocol_version()
                .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
            {
                let digest = CallDigest::of(request.arguments.as_ref());
                context.extensions.insert(match &person {
                    Some(make_user_id) => digest.for_person(make_user_id),
                    None => digest,
                });
            }
            let started = std::time::Instant::now();
            let tool = request.name.clone();
            let _waiting = (tool == WAIT_TOOL).then(|| self.inner.metrics.wait_started());
            // Hidden tools are disabled or removed: rmcp answers them as unknown (-32602).
            let call = ToolCallContext::new(toolbox, request, context);
            let ((outcome, ending), noted) = audit::noting(async {
                tokio::select! {
                    outcome = tools.call(call) => (outcome, Ended::Answered),
                    () = cancelled.cancelled() => (Err(ErrorData::internal_error("the tool call was cancelled", None)), Ended::Cancelled),
                    () = self.inner.cut.cancelled() => (Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                        ContentBlock::text(CUT_BY_SHUTDOWN),
                    ]))), Ended::Cut),
                }
            })
            .await;
            // The client cancelling is an outcome of its own, whatever error it becomes.
            let counted = match &outcome {
                _ if matches!(ending, Ended::Cancelled) => ToolOutcome::Cancelled,
                Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
                    ToolOutcome::Error
                }
                Ok(_) => ToolOutcome::Ok,
                Err(_) => ToolOutcome::Refused,
            };
            let elapsed = started.elapsed();
            self.inner.metrics.tool_call(&tool, counted, elapsed);
            let failed = counted != ToolOutcome::Ok;
            // The name is the client's text: quoted, so it cannot start a forged log line.
            tracing::info!(tool = %quote(&tool), failed, elapsed_ms = elapsed.as_millis() as u64, "tool call");
            if let Some((auditor, who, object, visible)) = audited {
                let ending = match ending {
                    Ended::Answered => audit::Ending::Answered(&outcome),
                    Ended::Cancelled => audit::Ending::Cancelled,
                    Ended::Cut => audit::Ending::Cut,
                };
                auditor.write(audit::entries(who, &tool, object, visible, ending, noted));
            }
            outcome
        }
        .instrument(span)
        .await
    }

    /// Waits up to [`check::LIST_WAIT`] for a pending scope check, so a client connecting
    /// at startup usually gets the final list at once. A signed-in person gets the tools
    /// their grant allows, without waiting (the operator key's check is not theirs).
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let cache_hints = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        // A person's list depends on their grant: no one else may be served it from a cache.
        let (tools, cache_scope) = match Caller::of(&context) {
            Some(caller) => (
                self.inner.tools.for_grant(&caller.scopes),
                CacheScope::Private,
            ),
            None => (
                self.inner.tools.for_listing(&context).await,
                CacheScope::Public,
            ),
        };
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools: tools.list_all(),
            meta: None,
            next_cursor: None,
            // The list can change once (when the scope check answers): never cache it.
            ttl_ms: cache_hints.then_some(0),
            cache_scope: cache_hints.then_some(cache_scope),
        })
    }

    /// rmcp asks for a tool only to check `Mcp-Param-*` headers against its input schema,
    /// without the request context, so this cannot know the caller: it answers from the
    /// operator's view. A tool hidden from the caller still fails in `call_tool`.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.tools.current().get(name).cloned()
    }

    /// Advertises `tools.listChanged`: the scope check may hide tools after a client listed them.
    /// 2026-07-28 clients learn of list changes by `subscriptions/listen`; only tool-list
    /// changes exist here (the scope check hiding tools after its answer).
    fn accepted_subscription_filter(
        &self,
        _requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.inner.tools.watch();
        loop {
            tokio::select! {
                () = subscription.cancelled() => return Ok(()),
                changed = LiveTools::changed(&mut changes) => match changed {
                    Some(true) => {
                        let notice = ServerNotification::ToolListChangedNotification(
                            ToolListChangedNotification::default(),
                        );
                        if let Err(e) = subscription.sink().send(notice).await {
                            tracing::debug!(error = %e, "could not send tools/list_changed");
                        }
                    }
                    Some(false) => {}
                    // The server is going away: end the subscription gracefully.
                    None => return Ok(()),
                },
            }
        }
    }

    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                    .with_title("Make credentials"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}
