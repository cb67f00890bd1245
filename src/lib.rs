//! make-credentials-mcp: an MCP server for Make.com credentials.

pub mod sandbox;
