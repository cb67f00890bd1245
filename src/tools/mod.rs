//! The tool registry: one module per Make domain, each with its own rmcp router on the
//! [`Toolbox`], merged once into the registry the server stores.

mod apps;
pub(crate) mod args;
mod confirm;
mod connections;
mod credential_requests;
mod deletion;
mod error;
mod json;
mod keys;
pub(crate) mod limits;
mod reply;
pub mod schema;

use rmcp::handler::server::router::tool::ToolRouter;

pub(crate) use credential_requests::wait::DEFAULT_MAX_WAITS;
pub use error::ToolError;
pub(crate) use json::Json;
pub(crate) use keys::key_types::KeyTypeCache;
pub(crate) use reply::Reply;

use crate::make::MakeClient;
use crate::person::Person;
use credential_requests::wait::Waits;

/// What the tools work with: the shared Make client, the person behind the client, Make's
/// key types (read once per process), the team a call without `teamId` uses, and the waits
/// in progress. The server owns one and runs the registry's tools on it.
pub(crate) struct Toolbox {
    make: MakeClient,
    person: Person,
    key_types: KeyTypeCache,
    default_team: Option<u64>,
    waits: Waits,
}

impl Toolbox {
    /// `max_waits`: most `credential-requests_wait-for-authorization` calls at once.
    pub(crate) fn new(
        make: MakeClient,
        person: Person,
        default_team: Option<u64>,
        max_waits: usize,
    ) -> Self {
        Self {
            make,
            person,
            key_types: KeyTypeCache::default(),
            default_team,
            waits: Waits::new(max_waits),
        }
    }

    /// The shared Make client.
    pub(crate) fn make(&self) -> &MakeClient {
        &self.make
    }

    /// How tools reach the person behind the client.
    pub(crate) fn person(&self) -> &Person {
        &self.person
    }

    /// Make's key types, cached for the life of the process.
    pub(crate) fn key_types(&self) -> &KeyTypeCache {
        &self.key_types
    }

    /// The waits in progress: their shared polls and their bound.
    pub(crate) fn waits(&self) -> &Waits {
        &self.waits
    }

    /// The team a call works in: its `teamId`, else the default team.
    pub(crate) fn team(&self, given: Option<args::Id>) -> Result<u64, ToolError> {
        args::team(given, self.default_team)
    }
}

/// All tools, with portable input and lean, portable output schemas (see [`schema`]: each
/// tool names its own with `input_schema` and `output_schema`). Called once per server.
pub(crate) fn registry() -> ToolRouter<Toolbox> {
    Toolbox::connections_router()
        + Toolbox::keys_router()
        + Toolbox::credential_requests_router()
        + Toolbox::wait_router()
        + Toolbox::apps_router()
}
