//! Key tools (Make's keychain): list, get, create, update, delete.

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::args::{Id, Parameters};
use super::limits::check_text;
use super::{Reply, ToolError, deletion};
use crate::make::keys::{Key, NewKey};
use crate::person::{ConfirmOutcome, Question, Turn};
use crate::server::MakeServer;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArgs {
    /// Team whose keys to list. Optional when the server has a default team (MAKE_TEAM).
    team_id: Option<Id>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyIdArgs {
    /// Numeric key id (from keys_list).
    key_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateArgs {
    /// Team to create the key in. Optional when the server has a default team (MAKE_TEAM).
    team_id: Option<Id>,
    /// Label for the key (1-128 characters).
    name: String,
    /// Key type: basicauth, apikeyauth, aes-key, apn, clientcertauth, eet, gpg-private, gpg-public or webpay.
    type_name: String,
    /// The type's secret parameters, e.g. basicauth {"authUser","authPass"}; apikeyauth {"key","placement":"header","name":"X-API-Key"}; aes-key {"key","keyEncoding":"hex"}. Never logged.
    parameters: Map<String, Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateArgs {
    /// Numeric key id (from keys_list).
    key_id: Id,
    /// New label (1-128 characters).
    name: Option<String>,
    /// New secret parameters; give the full set for the key's type.
    parameters: Option<Map<String, Value>>,
}

/// `{keys: [...]}`
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeysOutput {
    /// The team's keys (secrets are never returned).
    keys: Vec<Key>,
}

/// `{key: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyOutput {
    /// The key (secrets are never returned).
    key: Key,
}

/// `{key: {...}}`, with the person's answer when they were asked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UpdateOutput {
    /// The key after the update (absent when the person did not confirm; secrets are never returned).
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<Key>,
    /// Present when the person was asked to confirm replacing the parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was changed: why, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOutput {
    /// The key concerned.
    key_id: u64,
    /// True when the key was deleted; false when the person did not confirm.
    deleted: bool,
    /// False when `deleted` is only probable: an attempt's outcome was unknown and a retry found no such key (see `message`).
    certain: bool,
    /// Present when the person was asked to confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was deleted, or the deletion is not certain: why, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[tool_router(router = keys_router, vis = "pub(crate)")]
impl MakeServer {
    #[tool(
        name = "keys_list",
        title = "List keys",
        description = "List the keys (keychain secrets such as API keys, basic-auth pairs, AES keys, certificates) of a Make team. Make never returns the secret values. Read-only.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn keys_list(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<Json<KeysOutput>, ToolError> {
        let team = self.team(args.team_id)?;
        let keys = self.make().list_keys(team).await?;
        Ok(Json(KeysOutput { keys }))
    }

    #[tool(
        name = "keys_get",
        title = "Get key",
        description = "Get one key by its numeric id: label, type and team (never the secret). Read-only.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn keys_get(
        &self,
        Parameters(args): Parameters<KeyIdArgs>,
    ) -> Result<Json<KeyOutput>, ToolError> {
        let key = self.make().get_key(args.key_id.0).await?;
        Ok(Json(KeyOutput { key }))
    }

    #[tool(
        name = "keys_create",
        title = "Create key",
        description = "Create a key from secret parameters. Each call creates a new key. The parameter names depend on `typeName` (basicauth: authUser, authPass; apikeyauth: key, placement, name; aes-key: key, keyEncoding). Prefer credential-requests_create-by-credentials with `keys`: never ask the person to paste secrets into the chat; they enter them on Make's page instead.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn keys_create(
        &self,
        Parameters(args): Parameters<CreateArgs>,
    ) -> Result<Json<KeyOutput>, ToolError> {
        let team_id = self.team(args.team_id)?;
        check_text("name", &args.name, 128)?;
        check_text("typeName", &args.type_name, 64)?;
        if args.parameters.is_empty() {
            return Err(ToolError::invalid(
                "parameters",
                "must hold the key type's parameters (e.g. basicauth: authUser, authPass)",
            ));
        }
        let new = NewKey {
            team_id,
            name: args.name,
            type_name: args.type_name,
            parameters: args.parameters,
        };
        let key = self.make().create_key(new).await?;
        Ok(Json(KeyOutput { key }))
    }

    #[tool(
        name = "keys_update",
        title = "Update key",
        description = "Rename a key (`name`) and/or replace its secret parameters (`parameters`, give the full set for its type). Fields left out keep their values. Scenarios using the key use the new secret at once. Replacing parameters asks the person to confirm where the client allows it. Give at least one of `name` or `parameters`.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<UpdateOutput>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn keys_update(
        &self,
        Parameters(args): Parameters<UpdateArgs>,
        turn: Turn,
    ) -> Result<Reply<UpdateOutput>, ToolError> {
        if args.name.is_none() && args.parameters.is_none() {
            return Err(ToolError::invalid(
                "name",
                "or `parameters` must be given: there is nothing to update",
            ));
        }
        if let Some(name) = &args.name {
            check_text("name", name, 128)?;
        }
        if args.parameters.as_ref().is_some_and(Map::is_empty) {
            return Err(ToolError::invalid(
                "parameters",
                "is empty; give the full set of the key type's parameters",
            ));
        }
        let id = args.key_id.0;
        let mut confirmation = None;
        if args.parameters.is_some() {
            let question = || {
                self.key_question(
                    id,
                    "Replace the secret parameters of",
                    "Scenarios using it switch to the new secret at once.",
                )
            };
            let kept = |outcome, message| UpdateOutput {
                key: None,
                confirmation: Some(outcome),
                message: Some(message),
            };
            match self.gate(&turn, question, kept).await? {
                Ok(outcome) => confirmation = outcome,
                Err(reply) => return Ok(reply),
            }
        }
        let key = self
            .make()
            .update_key(
                args.key_id.0,
                args.name.as_deref(),
                args.parameters.as_ref(),
            )
            .await?;
        Ok(Reply::Done(UpdateOutput {
            key: Some(key),
            confirmation,
            message: None,
        }))
    }

    #[tool(
        name = "keys_delete",
        title = "Delete key",
        description = "Permanently delete a key. Scenarios using it stop working. Cannot be undone. The server asks the person to confirm where the client allows it (`deleted: false` with `confirmation` means they did not: do not retry); otherwise confirm with the person first, naming the key.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<DeleteOutput>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn keys_delete(
        &self,
        Parameters(args): Parameters<KeyIdArgs>,
        turn: Turn,
    ) -> Result<Reply<DeleteOutput>, ToolError> {
        let id = args.key_id.0;
        let question = || {
            self.key_question(
                id,
                "Delete",
                "Scenarios using it will stop working. This cannot be undone.",
            )
        };
        let kept = |outcome, message| DeleteOutput {
            key_id: id,
            deleted: false,
            certain: true,
            confirmation: Some(outcome),
            message: Some(message),
        };
        let confirmation = match self.gate(&turn, question, kept).await? {
            Ok(confirmation) => confirmation,
            Err(reply) => return Ok(reply),
        };
        let deletion = self.make().delete_key(id).await?;
        let (certain, message) = deletion::describe(&deletion, &format!("key {id}"));
        Ok(Reply::Done(DeleteOutput {
            key_id: id,
            deleted: true,
            certain,
            confirmation,
            message,
        }))
    }
}

impl MakeServer {
    /// "{verb} key 'Prod API' (id 2002, apikeyauth)? {consequence}" from the key in Make.
    async fn key_question(
        &self,
        id: u64,
        verb: &str,
        consequence: &str,
    ) -> Result<Question, ToolError> {
        let key = self.make().get_key(id).await?;
        let kind = key.type_name.as_deref().unwrap_or("unknown type");
        let label = match key.name.as_deref() {
            Some(name) => format!("key '{name}' (id {id}, {kind})"),
            None => format!("key {id} ({kind})"),
        };
        Ok(Question {
            message: format!("{verb} {label}? {consequence}"),
            object: format!("key {id} {kind}"),
        })
    }
}
