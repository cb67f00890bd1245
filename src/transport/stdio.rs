//! MCP over stdin/stdout. stdout carries only protocol messages; logs go to stderr.

use rmcp::ServiceExt;

use crate::server::MakeServer;

/// Serves until the client closes stdin.
pub async fn serve(server: MakeServer) -> anyhow::Result<()> {
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}
