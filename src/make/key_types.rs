//! Key types (`GET /keys/types`): which parameters each kind of key takes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::opaque;
use super::redact::Extra;
use super::{ApiRequest, MakeClient, MakeError};

/// A kind of key (`basicauth`, `apikeyauth`, `aes-key`, ...) and the parameters it takes.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyType {
    /// The type's name: the `typeName` of keys_create and of existing keys.
    pub(crate) name: String,
    /// Human name, e.g. "HTTP Basic Auth".
    #[serde(default)]
    pub(crate) label: Option<String>,
    /// The parameters a key of this type takes: their names are the keys of keys_create `parameters`.
    #[serde(default)]
    pub(crate) parameters: Vec<KeyTypeParameter>,
    /// The kind of component (`key`).
    #[serde(default)]
    pub(crate) component_type: Option<String>,
    /// Any further fields Make returns, passed through without secret-looking ones.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// One parameter of a key type.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct KeyTypeParameter {
    /// The parameter's name, exactly as keys_create `parameters` must spell it (e.g. `authUser`).
    pub(crate) name: String,
    /// Human label, e.g. "Username".
    #[serde(default)]
    pub(crate) label: Option<String>,
    /// Input kind: `text`, `password`, `select`, `cert`, ...
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// True when a key of this type needs a value for it (absent: Make does not say).
    #[serde(default)]
    pub(crate) required: Option<bool>,
    /// For a `select`: the allowed values (items such as `{"label": "Header", "value": "header"}`).
    #[serde(default, deserialize_with = "opaque::object_list")]
    #[schemars(with = "Option<Vec<opaque::Object>>")]
    pub(crate) options: Option<Value>,
    /// The value used when the parameter is left out.
    #[serde(default, deserialize_with = "opaque::text")]
    #[schemars(with = "Option<String>")]
    pub(crate) default: Option<Value>,
    /// Any further fields Make returns, passed through without secret-looking ones.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

impl KeyTypeParameter {
    /// Required and without a default: a create that leaves it out cannot succeed.
    pub(crate) fn must_be_given(&self) -> bool {
        self.required == Some(true) && self.default.as_ref().is_none_or(Value::is_null)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyTypesEnvelope {
    keys_types: Vec<KeyType>,
}

impl MakeClient {
    /// `GET /keys/types`, retried per the client's policy; with `once`, a single attempt
    /// (for a check that is skipped when Make cannot answer at once).
    pub(crate) async fn list_key_types(&self, once: bool) -> Result<Vec<KeyType>, MakeError> {
        let mut request = ApiRequest::get(&["keys", "types"]);
        if once {
            request = request.without_retries();
        }
        Ok(self.send::<KeyTypesEnvelope>(&request).await?.keys_types)
    }
}
