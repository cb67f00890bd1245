//! Inputs and outputs of the connection tools, with Make's property names.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::make::connections::Connection;
use crate::person::ConfirmOutcome;
use crate::tools::args::Id;
use crate::tools::limits::{MAX_ITEM_CHARS, MAX_LIST_ITEMS, scopes_by_type_schema};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ListArgs {
    /// Team whose connections to list. Default: MAKE_TEAM.
    pub(super) team_id: Option<Id>,
    /// Only connections of these types, e.g. ["google", "slack3"].
    #[serde(rename = "type")]
    #[schemars(length(max = MAX_LIST_ITEMS), inner(length(min = 1, max = 128)))]
    pub(super) types: Option<Vec<String>>,
    /// OAuth scopes to check per connection type, e.g. {"google": ["https://www.googleapis.com/auth/drive"]}; each row's `scoped` says whether it has them all.
    #[serde(default)]
    #[schemars(schema_with = "scopes_by_type_schema")]
    pub(super) scopes: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ConnectionIdArgs {
    /// Connection id (from connections_list).
    pub(super) connection_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateArgs {
    /// Label for the new connection (need not be unique).
    #[schemars(length(min = 1, max = 128))]
    pub(super) name: String,
    /// Connection type, e.g. "airtable2" (the `accountName` of existing connections).
    pub(super) account_name: String,
    /// Team to create the connection in. Default: MAKE_TEAM.
    pub(super) team_id: Option<Id>,
    /// The type's connection fields, e.g. {"apiKey": "..."} (connections_get-editable-data-schema names them). Secrets: prefer a credential request.
    pub(super) data: Option<Map<String, Value>>,
    /// OAuth scopes to request for the connection.
    #[schemars(length(min = 1, max = MAX_LIST_ITEMS), inner(length(min = 1, max = MAX_ITEM_CHARS)))]
    pub(super) scope: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UpdateArgs {
    /// Connection id (from connections_list).
    pub(super) connection_id: Id,
    /// New label.
    #[schemars(length(min = 1, max = 128))]
    pub(super) name: Option<String>,
    /// New connection data. REPLACES ALL stored data: give every editable parameter, not just the changed ones.
    pub(super) data: Option<Map<String, Value>>,
}

/// `{connections: [...]}`
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ConnectionsOutput {
    /// The team's connections, sorted by label.
    pub(super) connections: Vec<Connection>,
}

/// `{connection: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ConnectionOutput {
    /// The connection.
    pub(super) connection: Connection,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateOutput {
    /// The connection that was updated.
    pub(super) connection_id: u64,
    /// Whether the label was changed.
    pub(super) renamed: bool,
    /// Whether the connection data was replaced.
    pub(super) data_updated: bool,
    /// The connection after renaming (present when renamed).
    pub(super) connection: Option<Connection>,
    /// What happened, and what to do next.
    pub(super) message: String,
    /// Present when the person was asked to confirm replacing the data.
    pub(super) confirmation: Option<ConfirmOutcome>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyOutput {
    /// The connection that was tested.
    pub(super) connection_id: u64,
    /// True when Make could use the connection with its service.
    pub(super) verified: bool,
    /// Why the connection is not valid (absent when it is).
    pub(super) reason: Option<String>,
    /// What the result means and what to do next.
    pub(super) message: String,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteOutput {
    /// The connection concerned.
    pub(super) connection_id: u64,
    /// True when the connection was deleted; false when the person did not confirm.
    pub(super) deleted: bool,
    /// False when `deleted` is only probable: an attempt's outcome was unknown and a retry found no such connection (see `message`).
    pub(super) certain: bool,
    /// Present when the person was asked to confirm.
    pub(super) confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was deleted, or the deletion is not certain: why, and what to do.
    pub(super) message: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EditableSchemaOutput {
    /// The connection asked about.
    pub(super) connection_id: u64,
    /// Names of the data parameters connections_update `data` can set; it must give every one of them.
    pub(super) editable_parameters: Vec<String>,
    /// Present when nothing is editable: what that means and what to do instead.
    pub(super) message: Option<String>,
}
