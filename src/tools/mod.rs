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

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;

pub(crate) use credential_requests::wait::DEFAULT_MAX_WAITS;
pub use error::ToolError;
pub(crate) use json::Json;
pub(crate) use keys::key_types::KeyTypeCache;
pub(crate) use reply::Reply;

use crate::make::MakeClient;
use crate::person::Person;
use credential_requests::wait::Waits;

/// What the tools work with: the Make client, the person behind the client, Make's key
/// types (read once per process), the team a call without `teamId` uses, and the waits in
/// progress. The server owns one with the operator's Make client; a call made by a
/// signed-in person runs on a view of it with that person's client ([`Toolbox::acting_as`]).
pub(crate) struct Toolbox {
    make: MakeClient,
    /// Everything but the Make client, shared by every view.
    shared: Arc<Shared>,
}

/// The part of a [`Toolbox`] every person's calls share.
struct Shared {
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
            shared: Arc::new(Shared {
                person,
                key_types: KeyTypeCache::default(),
                default_team,
                waits: Waits::new(max_waits),
            }),
        }
    }

    /// The same toolbox acting through `make` (a person's client): the person-in-the-loop
    /// state, the key-type cache, the default team and the waits stay shared. Costs one
    /// reference count besides `make`.
    pub(crate) fn acting_as(&self, make: MakeClient) -> Self {
        Self {
            make,
            shared: Arc::clone(&self.shared),
        }
    }

    /// The Make client this toolbox's calls go through.
    pub(crate) fn make(&self) -> &MakeClient {
        &self.make
    }

    /// How tools reach the person behind the client.
    pub(crate) fn person(&self) -> &Person {
        &self.shared.person
    }

    /// Make's key types, cached for the life of the process.
    pub(crate) fn key_types(&self) -> &KeyTypeCache {
        &self.shared.key_types
    }

    /// The waits in progress: their shared polls and their bound.
    pub(crate) fn waits(&self) -> &Waits {
        &self.shared.waits
    }

    /// The team a call works in: its `teamId`, else the default team.
    pub(crate) fn team(&self, given: Option<args::Id>) -> Result<u64, ToolError> {
        args::team(given, self.shared.default_team)
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
