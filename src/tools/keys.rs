//! Key tools (Make's keychain): list, get, create, update, delete.

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ToolError;
use super::args::{Id, Parameters, check_text};
use crate::make::keys::{Key, NewKey};
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

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOutput {
    /// The key that was deleted.
    key_id: u64,
    /// Always true on success.
    deleted: bool,
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
        description = "Rename a key (`name`) and/or replace its secret parameters (`parameters`, give the full set for its type). Fields left out keep their values. Scenarios using the key use the new secret at once. Give at least one of `name` or `parameters`.",
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
    ) -> Result<Json<KeyOutput>, ToolError> {
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
        let key = self
            .make()
            .update_key(
                args.key_id.0,
                args.name.as_deref(),
                args.parameters.as_ref(),
            )
            .await?;
        Ok(Json(KeyOutput { key }))
    }

    #[tool(
        name = "keys_delete",
        title = "Delete key",
        description = "Permanently delete a key. Scenarios using it stop working. Cannot be undone. Confirm with the person first, naming the key.",
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
    ) -> Result<Json<DeleteOutput>, ToolError> {
        self.make().delete_key(args.key_id.0).await?;
        Ok(Json(DeleteOutput {
            key_id: args.key_id.0,
            deleted: true,
        }))
    }
}
