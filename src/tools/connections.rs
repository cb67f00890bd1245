//! Connection tools: list, get, create, update, verify, delete.

use crate::tools::Json;
use rmcp::{tool, tool_router};

use super::args::Parameters;
use super::confirm::gate;
use super::limits::{
    MAX_LIST_ITEMS, MAX_SCOPE_TYPES, check_count, check_identifier, check_strings, check_text,
};
use super::{Reply, ToolError, deletion};
use crate::make::connections::NewConnection;
use crate::make::{MakeClient, MakeError};
use crate::person::{Question, Turn, identifier, quoted};
use crate::tools::{Toolbox, schema};

mod data;
mod types;

use types::*;

/// Query parameters of the list call that a `scopes` key must not shadow.
const RESERVED_QUERY_NAMES: [&str; 4] = ["cols", "teamId", "type", "pg"];

/// Data fields that would collide with the fields the create body is built from.
const RESERVED_DATA_KEYS: [&str; 4] = ["accountName", "accountType", "scopes", "teamId"];

#[tool_router(router = connections_router, vis = "pub(crate)")]
impl Toolbox {
    #[tool(
        name = "connections_list",
        input_schema = schema::input::<ListArgs>(),
        output_schema = schema::output::<ConnectionsOutput>(),
        title = "List connections",
        description = "List a team's connections (authorized app accounts); call it first and reuse one that fits. Filter by `type`; pass `scopes` per type to learn from each row's `scoped` whether it has them (rows lacking them are kept). `name` is the label, `accountName` the connection type.",
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
        check_count("type", types.len(), MAX_LIST_ITEMS)?;
        for (i, t) in types.iter().enumerate() {
            check_identifier(&format!("type[{i}]"), t)?;
        }
        let scopes = args.scopes.unwrap_or_default();
        check_count("scopes", scopes.len(), MAX_SCOPE_TYPES)?;
        for (connection_type, list) in &scopes {
            // Each key becomes a query parameter name (`google[]=`): never one of Make's own.
            check_identifier(&format!("scopes.{connection_type}"), connection_type)?;
            if RESERVED_QUERY_NAMES.contains(&connection_type.as_str()) {
                return Err(ToolError::invalid(
                    &format!("scopes.{connection_type}"),
                    "is not a connection type",
                ));
            }
            check_strings(&format!("scopes.{connection_type}"), list, MAX_LIST_ITEMS)?;
            if !types.contains(connection_type) {
                types.push(connection_type.clone());
            }
        }
        let connections = self.make().list_connections(team, &types, &scopes).await?;
        Ok(Json(ConnectionsOutput { connections }))
    }

    #[tool(
        name = "connections_get",
        input_schema = schema::input::<ConnectionIdArgs>(),
        output_schema = schema::output::<ConnectionOutput>(),
        title = "Get connection",
        description = "Get one connection with its granted OAuth scopes (`scopes[].id`): check them before credential-requests_extend-connection.",
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
        name = "connections_get-editable-data-schema",
        input_schema = schema::input::<ConnectionIdArgs>(),
        output_schema = schema::output::<EditableSchemaOutput>(),
        title = "Get connection editable data schema",
        description = "List the data parameter names that connections_update `data` sets (e.g. [\"url\", \"apiKey\"]) and connections_create `data` takes for this type. Setting data REPLACES ALL of them: give every one. Empty: the data cannot be changed (re-authorize OAuth connections with a credential request).",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn connections_get_editable_data_schema(
        &self,
        Parameters(args): Parameters<ConnectionIdArgs>,
    ) -> Result<Json<EditableSchemaOutput>, ToolError> {
        let id = args.connection_id.0;
        let editable_parameters = self.make().connection_editable_parameters(id).await?;
        let message = editable_parameters.is_empty().then(|| {
            format!(
                "Connection {id} has no editable data parameters: connections_update cannot change its data. To replace its authorization, create a credential request for its type (credential-requests_create-by-credentials)."
            )
        });
        Ok(Json(EditableSchemaOutput {
            connection_id: id,
            editable_parameters,
            message,
        }))
    }

    #[tool(
        name = "connections_create",
        input_schema = schema::input::<CreateArgs>(),
        output_schema = schema::output::<ConnectionOutput>(),
        title = "Create connection",
        description = "Create a connection from its data (e.g. an API key); each call creates a new one. Prefer credential-requests_create-by-credentials: no secrets in chat, and OAuth needs the person's browser anyway. `accountName` is the connection type, `name` its label.",
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
            check_strings("scope", scope, MAX_LIST_ITEMS)?;
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
        input_schema = schema::input::<UpdateArgs>(),
        title = "Update connection",
        description = "Rename a connection (`name`) and/or replace its data (`data`). Setting data REPLACES ALL stored data: editable parameters left out would be cleared, so a `data` that misses some or names others is refused, saying which (see connections_get-editable-data-schema). OAuth connections need re-authorizing after a data change.",
        output_schema = schema::output::<UpdateOutput>(),
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
            data::check_replacement_data(self.make(), id, data).await?;
            let question = || replace_data_question(self.make(), id);
            match gate(self.person(), &turn, question, |outcome, message| {
                UpdateOutput {
                    connection_id: id,
                    renamed: false,
                    data_updated: false,
                    connection: None,
                    message,
                    confirmation: Some(outcome),
                }
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
        input_schema = schema::input::<ConnectionIdArgs>(),
        output_schema = schema::output::<VerifyOutput>(),
        title = "Verify connection",
        description = "Test a connection against its service. Returns `verified`, with the `reason` when it fails (expired or revoked authorization, wrong secret); repair it with a credential request for its type. Some services pass basic auth with a wrong password.",
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
        input_schema = schema::input::<ConnectionIdArgs>(),
        title = "Delete connection",
        description = "Permanently delete a connection; scenarios using it lose access. Cannot be undone. Asks the person to confirm when the client can; otherwise confirm with them first, naming the connection.",
        output_schema = schema::output::<DeleteOutput>(),
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
        let question = || delete_question(self.make(), id);
        let confirmation = match gate(self.person(), &turn, question, |outcome, message| {
            DeleteOutput {
                connection_id: id,
                deleted: false,
                certain: true,
                confirmation: Some(outcome),
                message: Some(message),
            }
        })
        .await?
        {
            Ok(confirmation) => confirmation,
            Err(reply) => return Ok(reply),
        };
        let deletion = self.make().delete_connection(id).await?;
        let (certain, message) = deletion::describe(&deletion, &format!("connection {id}"));
        Ok(Reply::Done(DeleteOutput {
            connection_id: id,
            deleted: true,
            certain,
            confirmation,
            message,
        }))
    }
}

/// "Delete connection 1002 (slack3), named \"Slack prod\"? ..." from the connection in Make.
async fn delete_question(make: &MakeClient, id: u64) -> Result<Question, ToolError> {
    let (label, object) = connection_label(make, id).await?;
    Ok(Question {
        message: format!(
            "Delete {label}? Scenarios using it will stop working. This cannot be undone."
        ),
        object,
    })
}

async fn replace_data_question(make: &MakeClient, id: u64) -> Result<Question, ToolError> {
    let (label, object) = connection_label(make, id).await?;
    Ok(Question {
        message: format!(
            "Replace all stored data of {label}? Every value is overwritten at once; scenarios using it switch to the new data, and an OAuth connection must be re-authorized."
        ),
        object,
    })
}

/// "connection 1002 (slack3), named \"Slack prod\"" and the object identity for sealed state.
async fn connection_label(make: &MakeClient, id: u64) -> Result<(String, String), ToolError> {
    // A key that may change but not read (no connections:read) still gets asked, about
    // the bare id, rather than having its change refused.
    let c = match make.get_connection(id).await {
        Ok(c) => c,
        Err(e) if e.is_forbidden() => {
            return Ok((format!("connection {id}"), format!("connection {id}")));
        }
        Err(e) => return Err(e.into()),
    };
    let kind = c.account_name.as_deref().unwrap_or("unknown type");
    // The id and type come first, where the name cannot reach them; the name is quoted.
    let shown_kind = c
        .account_name
        .as_deref()
        .map_or(kind.to_string(), identifier);
    let label = match c.name.as_deref() {
        Some(name) => format!("connection {id} ({shown_kind}), named {}", quoted(name)),
        None => format!("connection {id} ({shown_kind})"),
    };
    Ok((label, format!("connection {id} {kind}")))
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
