//! Connection tools: list, get, create, update, verify, delete.

use std::collections::BTreeMap;

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::args::{Id, Parameters, check_identifier, check_strings, check_text};
use super::{Reply, ToolError};
use crate::make::MakeError;
use crate::make::connections::{Connection, NewConnection};
use crate::person::{ConfirmOutcome, Question, Turn};
use crate::server::MakeServer;

/// Query parameters of the list call that a `scopes` key must not shadow.
const RESERVED_QUERY_NAMES: [&str; 4] = ["cols", "teamId", "type", "pg"];

/// Data fields that would collide with the fields the create body is built from.
const RESERVED_DATA_KEYS: [&str; 4] = ["accountName", "accountType", "scopes", "teamId"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArgs {
    /// Team whose connections to list. Optional when the server has a default team (MAKE_TEAM).
    team_id: Option<Id>,
    /// Only connections of these types (e.g. ["google", "slack3"]).
    #[serde(rename = "type")]
    types: Option<Vec<String>>,
    /// OAuth scopes to check, per connection type, e.g. {"google": ["https://www.googleapis.com/auth/drive"]}. Each row then says in `scoped` whether it has them all; the type is added to `type` automatically.
    scopes: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectionIdArgs {
    /// Numeric connection id (from connections_list).
    connection_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateArgs {
    /// Label for the new connection (1-128 characters, need not be unique).
    name: String,
    /// Connection type, e.g. "airtable2" or "http" (the `accountName` of existing connections of that app).
    account_name: String,
    /// Team to create the connection in. Optional when the server has a default team (MAKE_TEAM).
    team_id: Option<Id>,
    /// The type's connection fields, e.g. {"apiKey": "..."}. Holds secrets: prefer a credential request so the person enters them on Make's page.
    data: Option<Map<String, Value>>,
    /// OAuth scopes to request for the connection.
    scope: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateArgs {
    /// Numeric connection id (from connections_list).
    connection_id: Id,
    /// New label (1-128 characters).
    name: Option<String>,
    /// New connection data. REPLACES ALL stored data: give every editable parameter, not just the changed ones.
    data: Option<Map<String, Value>>,
}

/// `{connections: [...]}`
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionsOutput {
    /// The team's connections, sorted by label.
    connections: Vec<Connection>,
}

/// `{connection: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionOutput {
    /// The connection.
    connection: Connection,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOutput {
    /// The connection that was updated.
    connection_id: u64,
    /// Whether the label was changed.
    renamed: bool,
    /// Whether the connection data was replaced.
    data_updated: bool,
    /// The connection after renaming (present when renamed).
    #[serde(skip_serializing_if = "Option::is_none")]
    connection: Option<Connection>,
    /// What happened, and what to do next.
    message: String,
    /// Present when the person was asked to confirm replacing the data.
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation: Option<ConfirmOutcome>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOutput {
    /// The connection that was tested.
    connection_id: u64,
    /// True when Make could use the connection with its service.
    verified: bool,
    /// Why the connection is not valid (absent when it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// What the result means and what to do next.
    message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOutput {
    /// The connection concerned.
    connection_id: u64,
    /// True when the connection was deleted; false when the person did not confirm.
    deleted: bool,
    /// Present when the person was asked to confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was deleted: why, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[tool_router(router = connections_router, vis = "pub(crate)")]
impl MakeServer {
    #[tool(
        name = "connections_list",
        title = "List connections",
        description = "List the connections (authorized app accounts) of a Make team. Use it first: reuse a connection that fits instead of creating a new one. Filter with `type` (connection types such as \"google\"); pass `scopes` (per type; those types are then listed) to learn, per row in `scoped`, whether a connection already has the OAuth scopes you need (rows lacking them are not dropped). In rows, `name` is the label and `accountName` is the connection type. Read-only.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn connections_list(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<Json<ConnectionsOutput>, ToolError> {
        let team = self.team(args.team_id)?;
        let mut types = args.types.unwrap_or_default();
        for (i, t) in types.iter().enumerate() {
            check_identifier(&format!("type[{i}]"), t)?;
        }
        let scopes = args.scopes.unwrap_or_default();
        for (connection_type, list) in &scopes {
            // Each key becomes a query parameter name (`google[]=`): never one of Make's own.
            check_identifier(&format!("scopes.{connection_type}"), connection_type)?;
            if RESERVED_QUERY_NAMES.contains(&connection_type.as_str()) {
                return Err(ToolError::invalid(
                    &format!("scopes.{connection_type}"),
                    "is not a connection type",
                ));
            }
            check_strings(&format!("scopes.{connection_type}"), list, 100)?;
            if !types.contains(connection_type) {
                types.push(connection_type.clone());
            }
        }
        let connections = self.make().list_connections(team, &types, &scopes).await?;
        Ok(Json(ConnectionsOutput { connections }))
    }

    #[tool(
        name = "connections_get",
        title = "Get connection",
        description = "Get one connection by its numeric id, with its granted OAuth scopes (`scopes[].id`). Use it to check whether a connection has the scopes a scenario needs before calling credential-requests_extend-connection. Read-only.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn connections_get(
        &self,
        Parameters(args): Parameters<ConnectionIdArgs>,
    ) -> Result<Json<ConnectionOutput>, ToolError> {
        let connection = self.make().get_connection(args.connection_id.0).await?;
        Ok(Json(ConnectionOutput { connection }))
    }

    #[tool(
        name = "connections_create",
        title = "Create connection",
        description = "Create a connection directly from connection data (e.g. an API key). Each call creates a new connection. Prefer credential-requests_create-by-credentials: never ask the person to paste secrets into the chat, and OAuth connections need the person's consent in a browser anyway. `name` is the label, `accountName` the connection type; `scope` lists OAuth scopes; `data` holds the type's fields (sent as given, never logged).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn connections_create(
        &self,
        Parameters(args): Parameters<CreateArgs>,
    ) -> Result<Json<ConnectionOutput>, ToolError> {
        let team_id = self.team(args.team_id)?;
        check_text("name", &args.name, 128)?;
        check_identifier("accountName", &args.account_name)?;
        if let Some(scope) = &args.scope {
            check_strings("scope", scope, 100)?;
        }
        let data = args.data.unwrap_or_default();
        if let Some(key) = RESERVED_DATA_KEYS.iter().find(|k| data.contains_key(**k)) {
            return Err(ToolError::invalid(
                &format!("data.{key}"),
                "is reserved: use the `name` (label), `accountName` (type), `scope` and `teamId` inputs instead",
            ));
        }
        let new = NewConnection {
            team_id,
            label: args.name,
            connection_type: args.account_name,
            scopes: args.scope,
            data,
        };
        let connection = self.make().create_connection(new).await?;
        Ok(Json(ConnectionOutput { connection }))
    }

    #[tool(
        name = "connections_update",
        title = "Update connection",
        description = "Rename a connection (`name`) and/or replace its data (`data`). WARNING: setting data REPLACES ALL stored data; every editable parameter left out would be cleared, so this tool refuses a `data` that misses editable parameters or has parameters that are not editable, and says which. OAuth connections must be re-authorized after a data change (use a credential request). Give at least one of `name` or `data`. Replacing data asks the person to confirm where the client allows it. Data values are secrets: prefer a credential request over asking for them in chat.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<UpdateOutput>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn connections_update(
        &self,
        Parameters(args): Parameters<UpdateArgs>,
        turn: Turn,
    ) -> Result<Reply<UpdateOutput>, ToolError> {
        let id = args.connection_id.0;
        if args.name.is_none() && args.data.is_none() {
            return Err(ToolError::invalid(
                "name",
                "or `data` must be given: there is nothing to update",
            ));
        }
        if let Some(name) = &args.name {
            check_text("name", name, 128)?;
        }
        let mut confirmation = None;
        if let Some(data) = &args.data {
            self.check_replacement_data(id, data).await?;
            let question = || self.replace_data_question(id);
            match self
                .gate(&turn, question, |outcome, message| UpdateOutput {
                    connection_id: id,
                    renamed: false,
                    data_updated: false,
                    connection: None,
                    message,
                    confirmation: Some(outcome),
                })
                .await?
            {
                Ok(outcome) => confirmation = outcome,
                Err(reply) => return Ok(reply),
            }
        }
        let connection = match &args.name {
            Some(name) => Some(self.make().rename_connection(id, name).await?),
            None => None,
        };
        let renamed = connection.is_some();
        let data_updated = args.data.is_some();
        if let Some(data) = args.data {
            self.make()
                .set_connection_data(id, data)
                .await
                .map_err(|e| match &args.name {
                    Some(name) => ToolError::after(
                        format!(
                            "Renamed connection {id} to {name:?}, but its data was NOT changed."
                        ),
                        e,
                    ),
                    None => e.into(),
                })?;
        }
        let message = update_message(renamed, data_updated);
        Ok(Reply::Done(UpdateOutput {
            connection_id: id,
            renamed,
            data_updated,
            connection,
            message,
            confirmation,
        }))
    }

    #[tool(
        name = "connections_verify",
        title = "Verify connection",
        description = "Test a connection against its service (Make calls the third-party API). Returns `verified: true`, or `verified: false` with the `reason` when the connection does not work (expired or revoked authorization, wrong secret). To repair an invalid connection, create a credential request for its type. Basic-auth connections can pass with a wrong password on some services.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn connections_verify(
        &self,
        Parameters(args): Parameters<ConnectionIdArgs>,
    ) -> Result<Json<VerifyOutput>, ToolError> {
        let id = args.connection_id.0;
        let (verified, reason) = match self.make().verify_connection(id).await {
            Ok(true) => (true, None),
            Ok(false) => (
                false,
                Some("Make reported that the connection could not be verified.".to_string()),
            ),
            Err(MakeError::Api(api))
                if is_connection_failure(api.status, api.is_permission_code()) =>
            {
                (false, Some(api.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let message = if verified {
            format!("Connection {id} is valid.")
        } else {
            format!(
                "Connection {id} is not valid. Re-authorize it through a credential request (credential-requests_create-by-credentials with its type), or update its data."
            )
        };
        Ok(Json(VerifyOutput {
            connection_id: id,
            verified,
            reason,
            message,
        }))
    }

    #[tool(
        name = "connections_delete",
        title = "Delete connection",
        description = "Permanently delete a connection, even when scenarios use it (they lose access and stop working). Cannot be undone. The server asks the person to confirm where the client allows it (`deleted: false` with `confirmation` means they did not: do not retry); otherwise confirm with the person first, naming the connection.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<DeleteOutput>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn connections_delete(
        &self,
        Parameters(args): Parameters<ConnectionIdArgs>,
        turn: Turn,
    ) -> Result<Reply<DeleteOutput>, ToolError> {
        let id = args.connection_id.0;
        let question = || self.delete_question(id);
        let confirmation = match self
            .gate(&turn, question, |outcome, message| DeleteOutput {
                connection_id: id,
                deleted: false,
                confirmation: Some(outcome),
                message: Some(message),
            })
            .await?
        {
            Ok(confirmation) => confirmation,
            Err(reply) => return Ok(reply),
        };
        self.make().delete_connection(id).await?;
        Ok(Reply::Done(DeleteOutput {
            connection_id: id,
            deleted: true,
            confirmation,
            message: None,
        }))
    }
}

impl MakeServer {
    /// "Delete connection 'Slack prod' (id 1002, slack3)? ..." from the connection in Make.
    async fn delete_question(&self, id: u64) -> Result<Question, ToolError> {
        let (label, object) = self.connection_label(id).await?;
        Ok(Question {
            message: format!(
                "Delete {label}? Scenarios using it will stop working. This cannot be undone."
            ),
            object,
        })
    }

    async fn replace_data_question(&self, id: u64) -> Result<Question, ToolError> {
        let (label, object) = self.connection_label(id).await?;
        Ok(Question {
            message: format!(
                "Replace all stored data of {label}? Every value is overwritten at once; scenarios using it switch to the new data, and an OAuth connection must be re-authorized."
            ),
            object,
        })
    }

    /// "connection 'Slack prod' (id 1002, slack3)" and the object identity for sealed state.
    async fn connection_label(&self, id: u64) -> Result<(String, String), ToolError> {
        let c = self.make().get_connection(id).await?;
        let kind = c.account_name.as_deref().unwrap_or("unknown type");
        let label = match c.name.as_deref() {
            Some(name) => format!("connection '{name}' (id {id}, {kind})"),
            None => format!("connection {id} ({kind})"),
        };
        Ok((label, format!("connection {id} {kind}")))
    }

    /// Refuses set-data input that would clear editable parameters or that Make cannot take.
    async fn check_replacement_data(
        &self,
        id: u64,
        data: &Map<String, Value>,
    ) -> Result<(), ToolError> {
        if data.is_empty() {
            return Err(ToolError::invalid(
                "data",
                "is empty, which would clear all of the connection's data",
            ));
        }
        let editable = self.make().connection_editable_parameters(id).await?;
        let unknown: Vec<&str> = data
            .keys()
            .map(String::as_str)
            .filter(|k| !editable.iter().any(|e| e == k))
            .collect();
        if !unknown.is_empty() {
            return Err(ToolError::invalid(
                "data",
                format!(
                    "has parameters this connection cannot store: {}. Its editable parameters are: {}",
                    unknown.join(", "),
                    list_or_none(&editable)
                ),
            ));
        }
        let missing: Vec<&str> = editable
            .iter()
            .map(String::as_str)
            .filter(|e| !data.contains_key(*e))
            .collect();
        if !missing.is_empty() {
            return Err(ToolError::invalid(
                "data",
                format!(
                    "misses editable parameters that setting data would clear: {}. Include every one of them (ask the person for the values, or use a credential request)",
                    missing.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// Make answers a broken connection's test with an error status rather than `verified:false`:
/// 400 and 424 (the service failed), and 403 without a Make permission code (the service
/// refused). Permission problems of the key itself, 401, 404, 429 and 5xx stay errors.
fn is_connection_failure(status: u16, permission_code: bool) -> bool {
    matches!(status, 400 | 424) || (status == 403 && !permission_code)
}

fn update_message(renamed: bool, data_updated: bool) -> String {
    match (renamed, data_updated) {
        (true, true) => "Connection renamed and its data replaced. OAuth connections must be re-authorized after a data change.",
        (true, false) => "Connection renamed.",
        _ => "Connection data replaced. OAuth connections must be re-authorized after a data change; verify it with connections_verify.",
    }
    .to_string()
}
