//! Connections: typed model and the `/connections` endpoints.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::opaque;
use super::redact::Extra;
use super::{ApiRequest, Deletion, MakeClient, MakeError, Replay};

/// A Make connection as Make returns it. Beware Make's naming: `name` is the label the
/// user gave it, `accountName` is the connection type (e.g. `google`), and `accountType`
/// is the kind of authentication (`oauth`, `basic`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection {
    /// Numeric connection id.
    pub(crate) id: u64,
    /// The label the user gave the connection.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The connection type, e.g. `google`, `slack3`, `airtable2`.
    #[serde(default)]
    pub(crate) account_name: Option<String>,
    /// Human name of the connection type, e.g. `Google`.
    #[serde(default)]
    pub(crate) account_label: Option<String>,
    /// Authentication kind: `oauth` or `basic`.
    #[serde(default)]
    pub(crate) account_type: Option<String>,
    /// Package of the connection type, when it comes from a custom app.
    #[serde(default)]
    pub(crate) package_name: Option<String>,
    /// When the connection's authorization expires (ISO 8601), if it does.
    #[serde(default)]
    pub(crate) expire: Option<String>,
    /// Extra account information, e.g. `{"type":"email","value":"a@b.c"}`.
    #[serde(default, deserialize_with = "opaque::object")]
    #[schemars(with = "Option<opaque::Object>")]
    pub(crate) metadata: Option<Value>,
    /// Team that owns the connection.
    #[serde(default)]
    pub(crate) team_id: Option<u64>,
    /// Organization that owns the connection.
    #[serde(default)]
    pub(crate) organization_id: Option<u64>,
    /// Theme colour of the connection type (hex).
    #[serde(default)]
    pub(crate) theme: Option<String>,
    /// Whether the connection can be upgraded to a newer type.
    #[serde(default)]
    pub(crate) upgradeable: Option<bool>,
    /// Whether the connection can be edited.
    #[serde(default)]
    pub(crate) editable: Option<bool>,
    /// Number of OAuth scopes granted.
    #[serde(default)]
    pub(crate) scopes_cnt: Option<u64>,
    /// With a scope filter in connections_list: whether the connection has all of them.
    #[serde(default)]
    pub(crate) scoped: Option<bool>,
    /// Opaque account id at the provider (may be a huge number, a string or null).
    #[serde(default, deserialize_with = "opaque::text")]
    #[schemars(with = "Option<String>")]
    pub(crate) uid: Option<Value>,
    /// Connected system id (UUID), if any.
    #[serde(default)]
    pub(crate) connected_system_id: Option<String>,
    /// Granted OAuth scopes (connections_get).
    #[serde(default)]
    pub(crate) scopes: Option<Vec<ConnectionScope>>,
    /// Any further fields Make returns, passed through without secret-looking ones.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// One OAuth scope granted to a connection.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ConnectionScope {
    /// Scope string, e.g. `https://www.googleapis.com/auth/drive`.
    pub(crate) id: String,
    /// Human description of the scope.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Connection type the scope belongs to.
    #[serde(default)]
    pub(crate) account: Option<String>,
    /// Any further fields Make returns.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// What to create: the label, the type, optional scopes and the type's data fields.
#[derive(Debug, Clone)]
pub(crate) struct NewConnection {
    pub(crate) team_id: u64,
    pub(crate) label: String,
    pub(crate) connection_type: String,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) data: Map<String, Value>,
}

#[derive(Deserialize)]
struct ConnectionsEnvelope {
    connections: Vec<Connection>,
}

#[derive(Deserialize)]
struct ConnectionEnvelope {
    connection: Connection,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditableSchemaEnvelope {
    editable_parameters: Vec<String>,
}

#[derive(Deserialize)]
struct ScopedEnvelope {
    connection: ScopedFlag,
}

#[derive(Deserialize)]
struct ScopedFlag {
    scoped: bool,
}

#[derive(Deserialize)]
struct VerifyEnvelope {
    verified: bool,
}

impl MakeClient {
    /// `GET /connections?teamId=&cols[]=*[&type[]=t…][&t[]=scope…]`.
    pub(crate) async fn list_connections(
        &self,
        team_id: u64,
        types: &[String],
        scopes: &BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<Connection>, MakeError> {
        let mut request = ApiRequest::get(&["connections"])
            .query("teamId", team_id)
            .all_columns();
        for t in types {
            request = request.query("type[]", t);
        }
        for (t, list) in scopes {
            for scope in list {
                request = request.query(format!("{t}[]"), scope);
            }
        }
        Ok(self
            .send::<ConnectionsEnvelope>(&request)
            .await?
            .connections)
    }

    /// `GET /connections/{id}?cols[]=*`.
    pub(crate) async fn get_connection(&self, id: u64) -> Result<Connection, MakeError> {
        let request = ApiRequest::get(&["connections", &id.to_string()]).all_columns();
        Ok(self.send::<ConnectionEnvelope>(&request).await?.connection)
    }

    /// `POST /connections?teamId=` with Make's create naming: `accountName` is the label,
    /// `accountType` the type, `scopes` the scopes, and the data fields at top level.
    pub(crate) async fn create_connection(
        &self,
        new: NewConnection,
    ) -> Result<Connection, MakeError> {
        let mut body = new.data;
        body.insert("accountName".into(), Value::String(new.label));
        body.insert("accountType".into(), Value::String(new.connection_type));
        if let Some(scopes) = new.scopes {
            body.insert("scopes".into(), scopes.into());
        }
        let request = ApiRequest::post(&["connections"])
            .query("teamId", new.team_id)
            .json(Value::Object(body));
        Ok(self.send::<ConnectionEnvelope>(&request).await?.connection)
    }

    /// `PATCH /connections/{id}` with `{"name": …}`.
    pub(crate) async fn rename_connection(
        &self,
        id: u64,
        name: &str,
    ) -> Result<Connection, MakeError> {
        let request = ApiRequest::patch(&["connections", &id.to_string()])
            .json(serde_json::json!({ "name": name }));
        Ok(self.send::<ConnectionEnvelope>(&request).await?.connection)
    }

    /// `GET /connections/{id}/editable-data-schema`: the parameter names set-data accepts.
    pub(crate) async fn connection_editable_parameters(
        &self,
        id: u64,
    ) -> Result<Vec<String>, MakeError> {
        let request = ApiRequest::get(&["connections", &id.to_string(), "editable-data-schema"]);
        Ok(self
            .send::<EditableSchemaEnvelope>(&request)
            .await?
            .editable_parameters)
    }

    /// `POST /connections/{id}/set-data` with the flat data object. Replaces ALL data.
    pub(crate) async fn set_connection_data(
        &self,
        id: u64,
        data: Map<String, Value>,
    ) -> Result<Value, MakeError> {
        let request = ApiRequest::post(&["connections", &id.to_string(), "set-data"])
            .json(Value::Object(data));
        self.send::<Value>(&request).await
    }

    /// `POST /connections/{id}/scoped` with `{"scope": [...]}`: whether the connection already
    /// has every one of `scopes`. A read, though Make makes it a POST.
    pub(crate) async fn connection_has_scopes(
        &self,
        id: u64,
        scopes: &[String],
    ) -> Result<bool, MakeError> {
        let request = ApiRequest::post(&["connections", &id.to_string(), "scoped"])
            .json(serde_json::json!({ "scope": scopes }))
            .replay(Replay::Safe);
        Ok(self
            .send::<ScopedEnvelope>(&request)
            .await?
            .connection
            .scoped)
    }

    /// `POST /connections/{id}/test` → whether Make could use the connection.
    pub(crate) async fn verify_connection(&self, id: u64) -> Result<bool, MakeError> {
        let request = ApiRequest::post(&["connections", &id.to_string(), "test"]);
        Ok(self.send::<VerifyEnvelope>(&request).await?.verified)
    }

    /// `DELETE /connections/{id}?confirmed=true` (any 2xx is success).
    pub(crate) async fn delete_connection(&self, id: u64) -> Result<Deletion, MakeError> {
        let request =
            ApiRequest::delete(&["connections", &id.to_string()]).query("confirmed", true);
        self.delete(&request).await
    }
}
