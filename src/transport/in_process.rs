//! Runs one tool call through a real MCP session held in memory: rmcp's client on one end
//! of a pipe, the server on the other. `call` uses it so that the CLI exercises exactly
//! what an MCP client would. The tests connect their clients the same way.

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::io::DuplexStream;
use tokio::task::JoinHandle;

use crate::server::{Hidden, MakeServer};

/// The in-memory pipe's buffer for [`connect`].
const PIPE_BUFFER: usize = 1 << 20;

/// Serves `server` on one end of an in-memory pipe of `buffer` bytes; returns the other end,
/// for a client, and the serving task (it ends when the client hangs up).
pub fn serve_on_pipe(server: MakeServer, buffer: usize) -> (DuplexStream, JoinHandle<()>) {
    let (server_end, client_end) = tokio::io::duplex(buffer);
    let serving = tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    (client_end, serving)
}

/// Connects `client` to `server` over an in-memory pipe (the 2025-11-25 `initialize`
/// handshake): the stdio transport's code path without a process.
pub async fn connect<C: ClientHandler>(
    server: MakeServer,
    client: C,
) -> Result<RunningService<RoleClient, C>, ClientInitializeError> {
    let (client_end, _serving) = serve_on_pipe(server, PIPE_BUFFER);
    client.serve(client_end).await
}

/// Why a call did not produce a tool result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("arguments must be a JSON object: {0}")]
    Arguments(String),
    #[error("tool {tool} is hidden by {by}")]
    Hidden { tool: String, by: String },
    #[error("unknown tool '{tool}'; the tools this server shows: {shown}")]
    Unknown { tool: String, shown: String },
    #[error("{0}")]
    Protocol(String),
}

/// Refuses a tool the server does not show, saying which setting hides it. An MCP client
/// only learns "tool not found"; a person at a shell needs to know what to change.
pub fn check_callable(server: &MakeServer, tool: &str) -> Result<(), CallError> {
    match server.hidden(tool) {
        Some(Hidden::Selection(by)) => Err(CallError::Hidden {
            tool: tool.to_string(),
            by: by.to_string(),
        }),
        Some(Hidden::Scopes(missing)) => Err(CallError::Hidden {
            tool: tool.to_string(),
            by: format!("the scope check: the Make key lacks {}", missing.join(", ")),
        }),
        None => {
            let shown: Vec<String> = server
                .tool_definitions()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            if shown.iter().any(|name| name == tool) {
                Ok(())
            } else {
                Err(CallError::Unknown {
                    tool: tool.to_string(),
                    shown: shown.join(", "),
                })
            }
        }
    }
}

/// Calls `tool` with `arguments` (a JSON object text) and returns the tool's result.
pub async fn call(
    server: MakeServer,
    tool: &str,
    arguments: &str,
) -> Result<CallToolResult, CallError> {
    let arguments: JsonObject =
        serde_json::from_str(arguments).map_err(|e| CallError::Arguments(e.to_string()))?;
    let (client_end, serving) = serve_on_pipe(server, 64 * 1024);
    let client = ().serve(client_end).await.map_err(|e| CallError::Protocol(e.to_string()))?;
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
    let result = client.call_tool(params).await;
    let _ = client.cancel().await;
    serving.abort();
    result.map_err(|e| CallError::Protocol(e.to_string()))
}
