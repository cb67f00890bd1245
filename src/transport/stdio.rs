//! MCP over stdin/stdout, with rmcp's stdio transport. stdout carries only protocol
//! messages; logs go to stderr.

use std::io::IsTerminal;

use rmcp::ServiceExt;

use crate::server::MakeServer;

/// Serves until the client closes stdin.
pub async fn serve(server: MakeServer) -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() {
        // A person ran it by hand: say what it is waiting for (on stderr; stdout is protocol).
        eprintln!(
            "make-credentials-mcp is serving MCP on stdin/stdout and waits for an MCP client.\n\
             Register this command in a client (see README), or try it by hand with\n\
             `make-credentials-mcp --sandbox call connections_list`. Ctrl-D or Ctrl-C quits."
        );
    }
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}
