//! Keys (Make's keychain): typed model and the `/keys` endpoints.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::redact::Extra;
use super::{ApiRequest, Deletion, MakeClient, MakeError};

/// A Make key. Make never returns the secret parameters.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Key {
    /// Numeric key id.
    pub(crate) id: u64,
    /// The key's label.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Key type, e.g. `basicauth`, `apikeyauth`, `aes-key`.
    #[serde(default)]
    pub(crate) type_name: Option<String>,
    /// Team that owns the key.
    #[serde(default)]
    pub(crate) team_id: Option<u64>,
    /// Package of the key type, when it comes from a custom app.
    #[serde(default)]
    pub(crate) package_name: Option<String>,
    /// Theme colour (hex).
    #[serde(default)]
    pub(crate) theme: Option<String>,
    /// Any further fields Make returns, passed through without secret-looking ones.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// What to create.
#[derive(Debug, Clone)]
pub(crate) struct NewKey {
    pub(crate) team_id: u64,
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) parameters: Map<String, Value>,
}

#[derive(Deserialize)]
struct KeysEnvelope {
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct KeyEnvelope {
    key: Key,
}

impl MakeClient {
    /// `GET /keys?teamId=&cols[]=*`.
    pub(crate) async fn list_keys(&self, team_id: u64) -> Result<Vec<Key>, MakeError> {
        let request = ApiRequest::get(&["keys"])
            .query("teamId", team_id)
            .all_columns();
        Ok(self.send::<KeysEnvelope>(&request).await?.keys)
    }

    /// `GET /keys/{id}?cols[]=*`.
    pub(crate) async fn get_key(&self, id: u64) -> Result<Key, MakeError> {
        let request = ApiRequest::get(&["keys", &id.to_string()]).all_columns();
        Ok(self.send::<KeyEnvelope>(&request).await?.key)
    }

    /// `POST /keys` with `teamId` in the body (unlike connections).
    pub(crate) async fn create_key(&self, new: NewKey) -> Result<Key, MakeError> {
        let request = ApiRequest::post(&["keys"]).json(json!({
            "teamId": new.team_id,
            "name": new.name,
            "typeName": new.type_name,
            "parameters": new.parameters,
        }));
        Ok(self.send::<KeyEnvelope>(&request).await?.key)
    }

    /// `PATCH /keys/{id}` with only the fields given.
    pub(crate) async fn update_key(
        &self,
        id: u64,
        name: Option<&str>,
        parameters: Option<&Map<String, Value>>,
    ) -> Result<Key, MakeError> {
        let mut body = Map::new();
        if let Some(name) = name {
            body.insert("name".into(), name.into());
        }
        if let Some(parameters) = parameters {
            body.insert("parameters".into(), Value::Object(parameters.clone()));
        }
        let request = ApiRequest::patch(&["keys", &id.to_string()]).json(Value::Object(body));
        Ok(self.send::<KeyEnvelope>(&request).await?.key)
    }

    /// `DELETE /keys/{id}?confirmed=true` (without it Make always refuses).
    pub(crate) async fn delete_key(&self, id: u64) -> Result<Deletion, MakeError> {
        let request = ApiRequest::delete(&["keys", &id.to_string()]).query("confirmed", true);
        self.delete(&request).await
    }
}
