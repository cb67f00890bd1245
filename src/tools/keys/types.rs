//! Inputs and outputs of the key tools, with Make's property names.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::make::key_types::KeyType;
use crate::make::keys::Key;
use crate::person::ConfirmOutcome;
use crate::tools::args::Id;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ListArgs {
    /// Team whose keys to list. Default: MAKE_TEAM.
    pub(super) team_id: Option<Id>,
}

/// No inputs (any argument is refused). Its schema says `properties: {}`, which some
/// clients need even for a tool without inputs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

impl JsonSchema for NoArgs {
    fn schema_name() -> Cow<'static, str> {
        "NoArgs".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object", "properties": {}, "additionalProperties": false })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct KeyIdArgs {
    /// Key id (from keys_list).
    pub(super) key_id: Id,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateArgs {
    /// Team to create the key in. Default: MAKE_TEAM.
    pub(super) team_id: Option<Id>,
    /// Label for the key.
    #[schemars(length(min = 1, max = 128))]
    pub(super) name: String,
    /// Key type from keys_list-types, e.g. basicauth, apikeyauth, aes-key.
    pub(super) type_name: String,
    /// The type's secret parameters, named exactly as keys_list-types lists them (basicauth: authUser and authPass, not user/pass). Never logged.
    pub(super) parameters: Map<String, Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UpdateArgs {
    /// Key id (from keys_list).
    pub(super) key_id: Id,
    /// New label.
    #[schemars(length(min = 1, max = 128))]
    pub(super) name: Option<String>,
    /// New secret parameters, named as keys_list-types lists them for the key's type; give the full set.
    pub(super) parameters: Option<Map<String, Value>>,
}

/// `{keys: [...]}`
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct KeysOutput {
    /// The team's keys (secrets are never returned).
    pub(super) keys: Vec<Key>,
}

/// `{key: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct KeyOutput {
    /// The key (secrets are never returned).
    pub(super) key: Key,
}

/// `{key: {...}}`, with the person's answer when they were asked.
#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UpdateOutput {
    /// The key after the update (absent when the person did not confirm; secrets are never returned).
    pub(super) key: Option<Key>,
    /// Present when the person was asked to confirm replacing the parameters.
    pub(super) confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was changed: why, and what to do.
    pub(super) message: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteOutput {
    /// The key concerned.
    pub(super) key_id: u64,
    /// True when the key was deleted; false when the person did not confirm.
    pub(super) deleted: bool,
    /// False when `deleted` is only probable: an attempt's outcome was unknown and a retry found no such key (see `message`).
    pub(super) certain: bool,
    /// Present when the person was asked to confirm.
    pub(super) confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was deleted, or the deletion is not certain: why, and what to do.
    pub(super) message: Option<String>,
}

/// `{keysTypes: [...]}`
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyTypesOutput {
    /// Every key type with the parameters it takes (names, labels, input kinds, whether required, options, defaults).
    pub(super) keys_types: Vec<KeyType>,
}
