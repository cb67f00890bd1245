//! How MCP messages reach the server: stdio for local clients, Streamable HTTP for remote
//! ones and replicas, and an in-process pipe for the `call` command (the same code path as
//! a real client, without a second process).

pub mod http;
pub mod in_process;
pub mod stdio;
