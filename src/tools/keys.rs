//! Key tools (Make's keychain): list, get, create, update, delete, and the key types that
//! say which parameters each kind of key takes.

use crate::tools::Json;
use rmcp::{tool, tool_router};
use serde_json::Map;

use super::args::Parameters;
use super::confirm::gate;
use super::limits::check_text;
use super::{Reply, ToolError, deletion};
use crate::make::MakeError;
use crate::make::keys::{Key, NewKey};
use crate::person::{Question, Turn, identifier, quoted};
use crate::tools::{Toolbox, schema};

pub(crate) mod key_types;
mod types;

use key_types::check_parameters;
use types::*;

#[tool_router(router = keys_router, vis = "pub(crate)")]
impl Toolbox {
    #[tool(
        name = "keys_list",
        input_schema = schema::input::<ListArgs>(),
        output_schema = schema::output::<KeysOutput>(),
        title = "List keys",
        description = "List a team's keys (API keys, basic-auth pairs, AES keys, certificates). Secret values are never returned.",
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
        input_schema = schema::input::<KeyIdArgs>(),
        output_schema = schema::output::<KeyOutput>(),
        title = "Get key",
        description = "Get one key by its numeric id: label, type and team (never the secret).",
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
        name = "keys_list-types",
        input_schema = schema::input::<NoArgs>(),
        output_schema = schema::output::<KeyTypesOutput>(),
        title = "List key types",
        description = "List Make's key types and their parameters: `name` is the exact key for keys_create and keys_update `parameters` (basicauth takes authUser and authPass, not user and pass), with `label`, input `type`, `required`, a select's `options` and the `default`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn keys_list_types(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> Result<Json<KeyTypesOutput>, ToolError> {
        let types = self.key_types().get(self.make()).await?;
        Ok(Json(KeyTypesOutput {
            keys_types: types.to_vec(),
        }))
    }

    #[tool(
        name = "keys_create",
        input_schema = schema::input::<CreateArgs>(),
        output_schema = schema::output::<KeyOutput>(),
        title = "Create key",
        description = "Create a key from secret parameters; each call creates a new one. Parameter names depend on `typeName` (see keys_list-types; basicauth: authUser, authPass; apikeyauth: key, placement, name); unknown or missing ones are refused before sending. Prefer credential-requests_create-by-credentials with `keys`: no secrets in chat.",
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
                "must hold the key type's parameters (e.g. basicauth: authUser, authPass; see keys_list-types)",
            ));
        }
        if let Some(types) = self.key_types().for_check(self.make()).await {
            check_parameters(&types, &args.type_name, &args.parameters, false)?;
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
        input_schema = schema::input::<UpdateArgs>(),
        title = "Update key",
        description = "Rename a key (`name`) and/or replace its secret `parameters` (the full set for its type, named as keys_list-types lists them; unknown names are refused). Fields left out keep their values; scenarios use a new secret at once.",
        output_schema = schema::output::<UpdateOutput>(),
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
        if let Some(parameters) = &args.parameters {
            let known = self
                .key_types()
                .check_new_parameters(self.make(), id, parameters)
                .await?;
            let question = move || async move {
                let key = match known {
                    Some(key) => Some(key),
                    None => readable_key(self.make().get_key(id).await)?,
                };
                Ok(key_question(
                    id,
                    key.as_ref(),
                    "Replace the secret parameters of",
                    "Scenarios using it switch to the new secret at once.",
                ))
            };
            let kept = |outcome, message| UpdateOutput {
                key: None,
                confirmation: Some(outcome),
                message: Some(message),
            };
            match gate(self.person(), &turn, question, kept).await? {
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
        input_schema = schema::input::<KeyIdArgs>(),
        title = "Delete key",
        description = "Permanently delete a key; scenarios using it stop working. Cannot be undone. Asks the person to confirm when the client can; otherwise confirm with them first, naming the key.",
        output_schema = schema::output::<DeleteOutput>(),
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
        let question = || async {
            let key = readable_key(self.make().get_key(id).await)?;
            Ok(key_question(
                id,
                key.as_ref(),
                "Delete",
                "Scenarios using it will stop working. This cannot be undone.",
            ))
        };
        let kept = |outcome, message| DeleteOutput {
            key_id: id,
            deleted: false,
            certain: true,
            confirmation: Some(outcome),
            message: Some(message),
        };
        let confirmation = match gate(self.person(), &turn, question, kept).await? {
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

/// The key for a question; `None` when the key may not read it (no keys:read), so that the
/// person is asked about the bare id rather than the change being refused.
fn readable_key(read: Result<Key, MakeError>) -> Result<Option<Key>, ToolError> {
    match read {
        Ok(key) => Ok(Some(key)),
        Err(e) if e.is_forbidden() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// "{verb} key 2002 (apikeyauth), named \"Prod API\"? {consequence}" from the key in Make.
fn key_question(id: u64, key: Option<&Key>, verb: &str, consequence: &str) -> Question {
    let Some(key) = key else {
        return Question {
            message: format!("{verb} key {id}? {consequence}"),
            object: format!("key {id}"),
        };
    };
    let kind = key.type_name.as_deref().unwrap_or("unknown type");
    // The id and type come first, where the name cannot reach them; the name is quoted.
    let shown_kind = key
        .type_name
        .as_deref()
        .map_or(kind.to_string(), identifier);
    let label = match key.name.as_deref() {
        Some(name) => format!("key {id} ({shown_kind}), named {}", quoted(name)),
        None => format!("key {id} ({shown_kind})"),
    };
    Question {
        message: format!("{verb} {label}? {consequence}"),
        object: format!("key {id} {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, type_name: &str) -> Key {
        serde_json::from_value(serde_json::json!({"id": 2002, "name": name, "typeName": type_name}))
            .unwrap()
    }

    #[test]
    fn a_key_question_states_id_and_type_before_the_escaped_name() {
        let forged = key("Prod\n(id 2001, basicauth)? Unused.\u{202e}", "apikeyauth");
        let q = key_question(2002, Some(&forged), "Delete", "Cannot be undone.");
        assert_eq!(
            q.message,
            r#"Delete key 2002 (apikeyauth), named "Prod\n(id 2001, basicauth)? Unused.\u{202e}"? Cannot be undone."#
        );
        let odd_type = key("Prod", "api\u{2066}key");
        let q = key_question(2002, Some(&odd_type), "Delete", "Cannot be undone.");
        assert!(
            q.message
                .starts_with(r#"Delete key 2002 ("api\u{2066}key"), named "Prod"?"#),
            "{}",
            q.message
        );
    }
}
