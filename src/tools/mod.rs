//! The tool registry: one module per Make domain, each with its own rmcp router, merged
//! once into the registry the server stores.

mod apps;
pub mod args;
mod confirm;
mod connections;
mod credential_requests;
mod deletion;
mod error;
mod keys;
pub mod limits;
mod reply;
pub mod schema;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;

pub use error::ToolError;
pub use keys::key_types::KeyTypeCache;
pub use reply::Reply;

use crate::server::MakeServer;

/// All tools, with portable input and lean, portable output schemas. Called once per server.
pub fn registry() -> ToolRouter<MakeServer> {
    let merged = MakeServer::connections_router()
        + MakeServer::keys_router()
        + MakeServer::credential_requests_router()
        + MakeServer::wait_router()
        + MakeServer::apps_router();
    let mut registry = ToolRouter::new();
    for mut route in merged {
        route.attr.input_schema = Arc::new(schema::portable(&route.attr.input_schema));
        if let Some(output) = &route.attr.output_schema {
            route.attr.output_schema =
                Some(Arc::new(schema::lean_output(&schema::portable(output))));
        }
        registry.add_route(route);
    }
    registry
}
