//! Credential requests: typed models and the `/credential-requests` endpoints.
//!
//! A credential request asks a person to authorize connections or keys on Make's own page
//! (`publicUri`), so secrets never pass through the chat. Request and credential ids are
//! opaque strings (32 hex characters), never numeric connection ids.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::opaque;
use super::redact::Extra;
use super::{ApiRequest, Deletion, MakeClient, MakeError};

/// A credential request (list rows, and with `credentials` and `user` from the detail endpoint).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialRequest {
    /// Request id: an opaque string such as `a07e16f2ad134bf49cf83a00aa95c0a5`.
    pub(crate) id: String,
    /// Name shown to the person who authorizes.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Description shown to the person who authorizes.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// `pending`, `authorized`, `partially_authorized`, `declined`, ... (open set).
    #[serde(default)]
    pub(crate) status: Option<String>,
    /// Team the created credentials will belong to.
    #[serde(default)]
    pub(crate) team_id: Option<u64>,
    /// Organization of the team.
    #[serde(default)]
    pub(crate) organization_id: Option<u64>,
    /// User who created the request.
    #[serde(default)]
    pub(crate) user_id: Option<u64>,
    /// Make provider (string or number), if the request was made for one.
    #[serde(default, deserialize_with = "opaque::text")]
    #[schemars(with = "Option<String>")]
    pub(crate) make_provider_id: Option<Value>,
    /// External provider id, if any.
    #[serde(default, deserialize_with = "opaque::text")]
    #[schemars(with = "Option<String>")]
    pub(crate) external_provider_id: Option<Value>,
    /// Apps the request covers.
    #[serde(default)]
    pub(crate) app_names: Option<Vec<String>>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub(crate) created_at: Option<String>,
    /// Last update time (ISO 8601).
    #[serde(default)]
    pub(crate) updated_at: Option<String>,
    /// When the authorization link stops working (ISO 8601).
    #[serde(default)]
    pub(crate) expires_at: Option<String>,
    /// The credentials requested, with their states (detail only).
    #[serde(default)]
    pub(crate) credentials: Option<Vec<Credential>>,
    /// Any further fields Make returns (e.g. `makeProvider`, `user`), passed through unchanged.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// One requested connection (`component: account`) or key (`component: keychain`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Credential {
    /// Credential id: an opaque string, used by credential-decline and credential-delete.
    pub(crate) id: String,
    /// Id of the request it belongs to.
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    /// `account` (a connection) or `keychain` (a key).
    #[serde(default)]
    pub(crate) component: Option<String>,
    /// Authentication kind, e.g. `oauth`.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// Connection or key type, e.g. `google`, `apikeyauth`.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Human label.
    #[serde(default)]
    pub(crate) label: Option<String>,
    /// Description shown to the person.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// `pending`, `authorized`, `declined`, `reauthorizing`, ...
    #[serde(default)]
    pub(crate) state: Option<String>,
    /// Requested scopes.
    #[serde(default)]
    pub(crate) scope: Option<Vec<String>>,
    /// Id of the connection or key created once authorized (null until then).
    #[serde(default, deserialize_with = "opaque::id")]
    #[schemars(with = "Option<u64>")]
    pub(crate) remote_id: Option<Value>,
    /// Reason given when declined.
    #[serde(default)]
    pub(crate) decline_reason: Option<String>,
    /// App the credential was requested for.
    #[serde(default)]
    pub(crate) app_name: Option<String>,
    /// Prefilled form values: read so that they never pass through to tool output (they can
    /// hold secrets the person should only see on Make's page).
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    #[expect(
        dead_code,
        reason = "only deserialized, to keep prefill values out of `extra`"
    )]
    pub(crate) prefill: Option<Value>,
    /// Any further fields Make returns, passed through without secret-looking ones.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// Make's paging block on list responses.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page {
    /// Total number of matching requests; more than returned means the list was cut.
    #[serde(default)]
    pub(crate) total: Option<u64>,
    /// Offset of the first row.
    #[serde(default)]
    pub(crate) offset: Option<u64>,
    /// Page size.
    #[serde(default)]
    pub(crate) limit: Option<u64>,
    /// Any further fields Make returns (`sortBy`, `sortDir`).
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// What the create, create-by-credentials and extend actions answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedRequest {
    pub(crate) request: CredentialRequest,
    #[serde(default)]
    pub(crate) credentials: Option<Vec<Credential>>,
    #[serde(default)]
    pub(crate) public_uri: Option<String>,
}

/// Body of `POST /credential-requests/actions/create`: credentials by the app modules or
/// endpoints that will use them.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewAppRequest {
    pub(crate) team_id: u64,
    /// Shown to the person (absent: Make's default).
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) credentials: Vec<RequestedApp>,
}

/// One app's credential in a [`NewAppRequest`].
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestedApp {
    pub(crate) app_name: String,
    pub(crate) app_modules: Option<Vec<String>>,
    pub(crate) app_endpoints: Option<Vec<String>>,
    pub(crate) app_version: Option<u64>,
    pub(crate) name_override: Option<String>,
    pub(crate) description: Option<String>,
}

/// Body of `POST /credential-requests/actions/create-by-credentials`: connections and keys
/// by type. An empty list is left out.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTypedRequest {
    pub team_id: u64,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<RequestedConnection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<RequestedKey>,
}

/// A connection by type, with the OAuth `scope` (singular, unlike extend's `scopes`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestedConnection {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) description: Option<String>,
    pub(crate) scope: Option<Vec<String>>,
    pub(crate) prefill: Option<Prefill>,
    pub(crate) name_override: Option<String>,
}

/// A key by type.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestedKey {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    pub prefill: Option<Prefill>,
    pub name_override: Option<String>,
}

/// Values Make fills in for the person: `hard` ones are fixed, `soft` ones editable.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
pub struct Prefill {
    pub(crate) hard: Option<Map<String, Value>>,
    pub(crate) soft: Option<Map<String, Value>>,
}

/// Body of `POST /credential-requests/actions/extend`: more OAuth scopes for an existing
/// connection (its id goes in the body, not the path).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExtendRequest {
    pub(crate) connection_id: u64,
    pub(crate) scopes: Vec<String>,
}

/// Filters of the request list (all optional besides the team).
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestFilter {
    pub(crate) user_id: Option<u64>,
    pub(crate) make_provider_id: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) name: Option<String>,
    /// `pg[offset]`: rows to skip.
    pub(crate) offset: Option<u64>,
    /// `pg[limit]`: rows per page.
    pub(crate) limit: Option<u64>,
}

#[derive(Deserialize)]
struct RequestsEnvelope {
    requests: Vec<CredentialRequest>,
    #[serde(default)]
    pg: Option<Page>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailEnvelope {
    request_detail: CredentialRequest,
}

#[derive(Deserialize)]
struct CredentialEnvelope {
    credential: Credential,
}

const BASE: &str = "credential-requests";

impl MakeClient {
    /// `GET /credential-requests/requests?teamId=&cols[]=*` plus the filters and paging given.
    pub(crate) async fn list_credential_requests(
        &self,
        team_id: u64,
        filter: &RequestFilter,
    ) -> Result<(Vec<CredentialRequest>, Option<Page>), MakeError> {
        let mut request = ApiRequest::get(&[BASE, "requests"])
            .query("teamId", team_id)
            .all_columns();
        if let Some(user) = filter.user_id {
            request = request.query("userId", user);
        }
        let optional = [
            ("makeProviderId", &filter.make_provider_id),
            ("status", &filter.status),
            ("name", &filter.name),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                request = request.query(key, value);
            }
        }
        if let Some(offset) = filter.offset {
            request = request.query("pg[offset]", offset);
        }
        if let Some(limit) = filter.limit {
            request = request.query("pg[limit]", limit);
        }
        let envelope = self.send::<RequestsEnvelope>(&request).await?;
        Ok((envelope.requests, envelope.pg))
    }

    /// `GET /credential-requests/requests/{id}/detail`: the request with its credentials.
    pub(crate) async fn credential_request_detail(
        &self,
        id: &str,
    ) -> Result<CredentialRequest, MakeError> {
        let request = ApiRequest::get(&[BASE, "requests", id, "detail"]);
        Ok(self.send::<DetailEnvelope>(&request).await?.request_detail)
    }

    /// `DELETE /credential-requests/requests/{id}?confirmed=true`. Also deletes every
    /// connection and key the request created.
    pub(crate) async fn delete_credential_request(&self, id: &str) -> Result<Deletion, MakeError> {
        let request = ApiRequest::delete(&[BASE, "requests", id]).query("confirmed", true);
        self.delete(&request).await
    }

    /// `POST /credential-requests/credentials/{id}/decline`, with `{"reason"}` only when given.
    pub(crate) async fn decline_credential(
        &self,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Credential, MakeError> {
        let mut request = ApiRequest::post(&[BASE, "credentials", id, "decline"]);
        if let Some(reason) = reason {
            request = request.json(json!({ "reason": reason }));
        }
        Ok(self.send::<CredentialEnvelope>(&request).await?.credential)
    }

    /// `POST /credential-requests/credentials/{id}/delete-remote`: deletes the connection or
    /// key the credential created and resets it to `pending`.
    pub(crate) async fn delete_remote_credential(&self, id: &str) -> Result<Credential, MakeError> {
        let request = ApiRequest::post(&[BASE, "credentials", id, "delete-remote"]);
        Ok(self.send::<CredentialEnvelope>(&request).await?.credential)
    }

    /// `POST /credential-requests/actions/create`.
    pub(crate) async fn create_app_request(
        &self,
        new: &NewAppRequest,
    ) -> Result<CreatedRequest, MakeError> {
        self.action("create", json!(new)).await
    }

    /// `POST /credential-requests/actions/create-by-credentials`.
    pub async fn create_typed_request(
        &self,
        new: &NewTypedRequest,
    ) -> Result<CreatedRequest, MakeError> {
        self.action("create-by-credentials", json!(new)).await
    }

    /// `POST /credential-requests/actions/extend`.
    pub(crate) async fn extend_connection(
        &self,
        extend: &ExtendRequest,
    ) -> Result<CreatedRequest, MakeError> {
        self.action("extend", json!(extend)).await
    }

    async fn action(&self, action: &str, body: Value) -> Result<CreatedRequest, MakeError> {
        let request = ApiRequest::post(&[BASE, "actions", action]).json(body);
        self.send::<CreatedRequest>(&request).await
    }
}
