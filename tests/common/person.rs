//! A person behind an MCP client, for the person-in-the-loop tests: an rmcp client whose
//! handler answers elicitations as told and records what it was sent (elicitations,
//! `notifications/elicitation/complete`, progress), connected to a server backed by the
//! Make API sandbox over an in-memory pipe (the stdio code path) or Streamable HTTP
//! (stateless or with sessions), in either protocol era.

#![allow(dead_code)]
// Without the sandbox, `World` is left out and the imports only it uses go unused.
#![cfg_attr(not(feature = "sandbox"), allow(unused_imports))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::params;
use make_credentials_mcp::make::MakeClient;
use make_credentials_mcp::make::{ApiKey, ClientSettings, parse_api_url};
use make_credentials_mcp::person::PersonSettings;
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::http::{self, HttpOptions};
use make_credentials_mcp::transport::in_process;
#[cfg(feature = "sandbox")]
use make_sandbox::{Sandbox, SandboxOptions};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    CustomNotification, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationCapability, FormElicitationCapability, Implementation, NumberOrString,
    ProgressNotificationParam, ProgressToken, ProtocolVersion, RequestMetaObject,
    UrlElicitationCapability,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient, ServiceExt,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// An in-memory pipe: the stdio transport's code path.
    Pipe,
    /// Streamable HTTP, stateless (the default `http` mode).
    Stateless,
    /// Streamable HTTP with legacy sessions (`http --sessions`).
    Sessions,
}

/// The protocol era the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// `initialize`, 2025-11-25.
    Legacy,
    /// `server/discover`, 2026-07-28 (input-required round trips).
    Modern,
}

/// Every combination the tests run in.
pub const ALL: [(Wire, Era); 6] = [
    (Wire::Pipe, Era::Legacy),
    (Wire::Pipe, Era::Modern),
    (Wire::Stateless, Era::Legacy),
    (Wire::Stateless, Era::Modern),
    (Wire::Sessions, Era::Legacy),
    (Wire::Sessions, Era::Modern),
];

/// Whether a client that declares elicitation can be asked over this wire and era.
pub fn can_ask(wire: Wire, era: Era) -> bool {
    !(wire == Wire::Stateless && era == Era::Legacy)
}

/// What the client heard from the server.
#[derive(Debug, Default)]
pub struct Log {
    pub elicitations: Vec<ElicitRequestParams>,
    pub completed: Vec<String>,
    pub progress: Vec<ProgressNotificationParam>,
}

/// The person and their client: what they answer, and what they were sent.
#[derive(Clone)]
pub struct TestPerson {
    /// Whether the client declares elicitation (form and URL).
    pub elicits: bool,
    /// The answer to a link.
    pub link: ElicitationAction,
    /// The answer to a confirmation, and whether the box is ticked.
    pub confirm: ElicitationAction,
    pub tick: bool,
    pub log: Arc<Mutex<Log>>,
}

impl TestPerson {
    pub fn answering(link: ElicitationAction, confirm: ElicitationAction) -> Self {
        Self {
            elicits: true,
            link,
            confirm,
            tick: true,
            log: Arc::default(),
        }
    }

    pub fn agreeing() -> Self {
        Self::answering(ElicitationAction::Accept, ElicitationAction::Accept)
    }

    /// A client that declares no elicitation at all.
    pub fn unreachable() -> Self {
        Self {
            elicits: false,
            ..Self::agreeing()
        }
    }

    pub fn elicitations(&self) -> Vec<ElicitRequestParams> {
        self.log.lock().unwrap().elicitations.clone()
    }

    pub fn completed(&self) -> Vec<String> {
        self.log.lock().unwrap().completed.clone()
    }

    pub fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.log.lock().unwrap().progress.clone()
    }
}

impl ClientHandler for TestPerson {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.log.lock().unwrap().elicitations.push(request.clone());
        Ok(match request {
            ElicitRequestParams::UrlElicitationParams { .. } => {
                ElicitResult::new(self.link.clone())
            }
            ElicitRequestParams::FormElicitationParams { .. } => {
                let result = ElicitResult::new(self.confirm.clone());
                if self.confirm == ElicitationAction::Accept {
                    result.with_content(json!({ "confirm": self.tick }))
                } else {
                    result
                }
            }
            _ => ElicitResult::new(ElicitationAction::Decline),
        })
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        _context: NotificationContext<RoleClient>,
    ) {
        if notification.method == "notifications/elicitation/complete" {
            let id = notification
                .params
                .as_ref()
                .and_then(|p| p["elicitationId"].as_str());
            self.log
                .lock()
                .unwrap()
                .completed
                .push(id.unwrap_or_default().to_string());
        }
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.log.lock().unwrap().progress.push(params);
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        if self.elicits {
            capabilities.elicitation = Some(
                ElicitationCapability::new()
                    .with_form(FormElicitationCapability::new())
                    .with_url(UrlElicitationCapability::new()),
            );
        }
        ClientConfig::new(capabilities, Implementation::new("test-person", "1.0"))
    }
}

/// A server on the sandbox, a client with a person, and the wire between them.
#[cfg(feature = "sandbox")]
pub struct World {
    pub sandbox: Sandbox,
    pub person: TestPerson,
    pub client: RunningService<RoleClient, TestPerson>,
    stop: Option<oneshot::Sender<()>>,
    http: reqwest::Client,
}

#[cfg(feature = "sandbox")]
impl World {
    pub async fn start(wire: Wire, era: Era, person: TestPerson) -> Self {
        Self::with(wire, era, person, PersonSettings::default()).await
    }

    pub async fn with(wire: Wire, era: Era, person: TestPerson, settings: PersonSettings) -> Self {
        Self::on(wire, era, person, settings, SandboxOptions::default()).await
    }

    /// Like [`World::with`], on a sandbox started with `options` (e.g. a reduced key).
    pub async fn on(
        wire: Wire,
        era: Era,
        person: TestPerson,
        settings: PersonSettings,
        options: SandboxOptions,
    ) -> Self {
        let sandbox = Sandbox::start_with(options).await.expect("sandbox");
        let client_settings = ClientSettings {
            base_url: Some(parse_api_url(&sandbox.api_base_url()).unwrap()),
            api_key: ApiKey::new(sandbox.api_key()),
            ..ClientSettings::default()
        };
        let make = MakeClient::new(&client_settings).unwrap();
        let server = MakeServer::with_person(make, Some(1), settings);
        let (client, stop) = match wire {
            Wire::Pipe => (pipe(server, era, person.clone()).await, None),
            Wire::Stateless | Wire::Sessions => {
                let (url, stop) = serve_http(server, wire == Wire::Sessions).await;
                let transport = StreamableHttpClientTransport::from_uri(url);
                (connect(person.clone(), transport, era).await, Some(stop))
            }
        };
        Self {
            sandbox,
            person,
            client,
            stop,
            http: make_credentials_mcp::make::client_builder()
                .build()
                .unwrap(),
        }
    }

    /// Calls a tool; a 2026-07-28 client answers input requests and retries by itself.
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.client
            .call_tool(params(tool, args))
            .await
            .expect("tools/call")
    }

    /// Calls a tool and returns the structured content; a tool error fails the test.
    pub async fn call_ok(&self, tool: &str, args: Value) -> Value {
        super::structured(&self.call(tool, args).await)
    }

    /// One round only: the result or the input request, as the server sent it.
    pub async fn call_once(&self, params: CallToolRequestParams) -> CallToolResponse {
        self.client
            .call_tool_once(params)
            .await
            .expect("tools/call")
    }

    /// Calls a tool with a progress token.
    pub async fn call_with_progress(&self, tool: &str, args: Value) -> CallToolResult {
        let mut p = params(tool, args);
        p.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
            NumberOrString::Number(7),
        )));
        self.client.call_tool(p).await.expect("tools/call")
    }

    /// The person presses Authorize (OAuth: no fields) on the consent page.
    pub async fn authorize(&self, request_id: &str, credential_id: &str) {
        self.consent(request_id, credential_id, "authorize", &[])
            .await;
    }

    /// The person presses Decline on the consent page.
    pub async fn decline(&self, request_id: &str, credential_id: &str) {
        self.consent(
            request_id,
            credential_id,
            "decline",
            &[("reason", "not now")],
        )
        .await;
    }

    async fn consent(
        &self,
        request_id: &str,
        credential_id: &str,
        verb: &str,
        form: &[(&str, &str)],
    ) {
        let url = format!(
            "{}/credential-requests/{request_id}/credentials/{credential_id}/{verb}",
            self.sandbox.origin()
        );
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
            .await
            .expect("consent page");
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "{verb}: {}",
            response.status()
        );
    }

    /// GET on the sandbox's Make API, as the server's key.
    pub async fn make_get(&self, path: &str) -> (u16, Value) {
        self.make_request(reqwest::Method::GET, path).await
    }

    /// POST without a body on the sandbox's Make API, as the server's key (a change made
    /// behind the server's back, e.g. `delete-remote`).
    pub async fn make_post(&self, path: &str) -> (u16, Value) {
        self.make_request(reqwest::Method::POST, path).await
    }

    /// A request without a body on the sandbox's Make API, as the server's key.
    async fn make_request(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.sandbox.api_base_url()))
            .header("Authorization", format!("Token {}", self.sandbox.api_key()))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// How many credential requests team 1 has.
    pub async fn request_count(&self) -> usize {
        let (_, body) = self
            .make_get("/credential-requests/requests?teamId=1&cols[]=*")
            .await;
        body["requests"].as_array().map(Vec::len).unwrap_or(0)
    }

    pub async fn stop(mut self) {
        let _ = self.client.cancel().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Waits (briefly) until `check` holds; notifications travel apart from results.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

/// Serves `server` over an in-memory pipe to a client with `person`.
pub async fn pipe(
    server: MakeServer,
    era: Era,
    person: TestPerson,
) -> RunningService<RoleClient, TestPerson> {
    let (client_end, _serving) = in_process::serve_on_pipe(server, 1 << 20);
    connect(person, client_end, era).await
}

/// Connects a client with `person` over `transport` in `era`.
pub async fn connect<T, E, A>(
    person: TestPerson,
    transport: T,
    era: Era,
) -> RunningService<RoleClient, TestPerson>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    match era {
        Era::Legacy => person.serve(transport).await.expect("initialize"),
        Era::Modern => person
            .serve_with_lifecycle(
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .expect("server/discover"),
    }
}

async fn serve_http(server: MakeServer, sessions: bool) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = HttpOptions {
        sessions,
        ..HttpOptions::default()
    };
    tokio::spawn(http::serve_on(listener, server, options, async move {
        let _ = stopped.await;
    }));
    (format!("http://{addr}/mcp"), stop)
}
