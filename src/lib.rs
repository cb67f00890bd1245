//! make-credentials-mcp: an MCP server that manages Make.com connections, keys and
//! credential requests.
//!
//! Layers, outside in: [`transport`] (stdio, HTTP, in-process) → [`server`] (the MCP handler and
//! tool registry) → [`tools`] (one module per domain) → [`make`] (the shared Make API
//! client). [`person`] is how tools reach the human behind the client (links, confirmations,
//! sealed round-trip state). [`selection`] decides which tools are shown (the operator's
//! toolsets and names, and the Make key's scopes). `--sandbox` runs the in-process double of
//! the Make API from the `make-sandbox` crate (the default `sandbox` feature). In team mode
//! (`http --auth oauth`), [`auth`] signs each person in with Make and [`store`] keeps their
//! tokens and sealed Make grants in SQLite or Postgres. [`metrics`] counts calls, Make requests and
//! connections for Prometheus.

pub mod auth;
pub mod cli;
mod config;
pub mod logging;
pub mod make;
pub mod metrics;
#[cfg(not(feature = "sandbox"))]
mod no_sandbox;
pub mod person;
mod selection;
pub mod server;
pub mod startup;
pub mod store;
pub mod tools;
pub mod transport;
