//! Inputs and outputs of the credential-request tools, with Make's property names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::paging::{MAX_LIMIT, MAX_OFFSET};
use crate::make::credential_requests::{self as make, Credential, CredentialRequest, Page};
use crate::person::{ConfirmOutcome, LinkOutcome};
use crate::tools::args::{Id, OpaqueId, StringOrNumber};
use crate::tools::limits::{
    MAX_APP_CREDENTIALS, MAX_APP_MODULES, MAX_ITEM_CHARS, MAX_LIST_ITEMS, MAX_TYPED_CREDENTIALS,
};

/// Longest `name` filter of credential-requests_list (names are at most 128 characters).
pub(super) const MAX_NAME_CHARS: usize = 128;
/// Longest `status` filter (Make's statuses are short words).
pub(super) const MAX_STATUS_CHARS: usize = 64;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ListArgs {
    /// Team whose requests to list. Default: MAKE_TEAM.
    pub(super) team_id: Option<Id>,
    /// Only requests created by this user (numeric id).
    pub(super) user_id: Option<Id>,
    /// Only requests for this Make provider (string or number).
    pub(super) make_provider_id: Option<StringOrNumber>,
    /// Only requests in this status: pending, authorized, partially_authorized, declined, ...
    #[schemars(length(max = MAX_STATUS_CHARS))]
    pub(super) status: Option<String>,
    /// Only requests with this name.
    #[schemars(length(max = MAX_NAME_CHARS))]
    pub(super) name: Option<String>,
    /// Rows to skip: the `nextOffset` of the previous page (default 0).
    #[schemars(range(max = MAX_OFFSET))]
    pub(super) offset: Option<u64>,
    /// Rows per page, 1-10000 (Make's default: 100).
    #[schemars(range(min = 1, max = MAX_LIMIT))]
    pub(super) limit: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RequestIdArgs {
    /// Credential request id (a string, not a connection id).
    pub(super) request_id: OpaqueId,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DeclineArgs {
    /// Credential id: a string from the request's `credentials[].id` (not a connection id).
    pub(super) credential_id: OpaqueId,
    /// Why it is declined (shown in Make).
    #[schemars(length(min = 1, max = 240))]
    pub(super) reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CredentialIdArgs {
    /// Credential id: a string from the request's `credentials[].id` (not a connection id).
    pub(super) credential_id: OpaqueId,
    /// Id of the request the credential belongs to; give it, so the person is asked about the exact connection or key (their answer holds for that one only).
    pub(super) request_id: Option<OpaqueId>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AppCredential {
    /// App name, e.g. "google-sheets" or "slack"; custom apps as "app#<name>".
    pub(super) app_name: String,
    /// Module ids (e.g. ["ActionSendDataBasicAuth"]) or ["*"] for all; give this and/or appEndpoints. Never guess ids.
    #[schemars(length(min = 1, max = MAX_APP_MODULES), inner(length(min = 1, max = MAX_ITEM_CHARS)))]
    pub(super) app_modules: Option<Vec<String>>,
    /// Endpoint ids of the app, or ["*"] for all. Give this and/or appModules.
    #[schemars(length(min = 1, max = MAX_APP_MODULES), inner(length(min = 1, max = MAX_ITEM_CHARS)))]
    pub(super) app_endpoints: Option<Vec<String>>,
    /// Major app version; the latest when omitted.
    pub(super) app_version: Option<Id>,
    /// Label for the connection or key that will be created.
    pub(super) name_override: Option<String>,
    /// Note shown to the person next to this credential.
    pub(super) description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateArgs {
    /// Team the credentials will belong to. Default: MAKE_TEAM.
    pub(super) team_id: Option<Id>,
    /// Title shown to the person.
    pub(super) name: Option<String>,
    /// Explanation shown to the person.
    #[schemars(length(min = 1, max = 240))]
    pub(super) description: Option<String>,
    /// 1-64 credentials to request, one per app.
    #[schemars(length(min = 1, max = MAX_APP_CREDENTIALS))]
    pub(super) credentials: Vec<AppCredential>,
}

/// Values to fill in for the person on Make's page.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Prefill {
    /// Fixed values the person cannot change (scalar values).
    pub(super) hard: Option<Map<String, Value>>,
    /// Suggested values the person can edit (scalar values).
    pub(super) soft: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ConnectionCredential {
    /// Connection type, e.g. "google", "slack3", "airtable2".
    #[serde(rename = "type")]
    pub(super) kind: String,
    /// Note shown to the person next to this connection.
    pub(super) description: Option<String>,
    /// OAuth scopes the connection must grant.
    #[schemars(length(min = 1, max = MAX_LIST_ITEMS), inner(length(min = 1, max = MAX_ITEM_CHARS)))]
    pub(super) scope: Option<Vec<String>>,
    /// Values to fill in for the person. Some providers fail authorization with prefill; use only when needed.
    pub(super) prefill: Option<Prefill>,
    /// Label for the connection that will be created.
    pub(super) name_override: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct KeyCredential {
    /// Key type, e.g. "apikeyauth", "basicauth".
    #[serde(rename = "type")]
    pub(super) kind: String,
    /// Note shown to the person next to this key.
    pub(super) description: Option<String>,
    /// Values to fill in for the person.
    pub(super) prefill: Option<Prefill>,
    /// Label for the key that will be created.
    pub(super) name_override: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateByCredentialsArgs {
    /// Team the credentials will belong to. Default: MAKE_TEAM.
    pub(super) team_id: Option<Id>,
    /// Title shown to the person (Make's default: "Request for credentials").
    pub(super) name: Option<String>,
    /// Explanation shown to the person.
    #[schemars(length(min = 1, max = 240))]
    pub(super) description: Option<String>,
    /// Connections to request. Give connections and/or keys.
    #[schemars(length(max = MAX_TYPED_CREDENTIALS))]
    pub(super) connections: Option<Vec<ConnectionCredential>>,
    /// Keys to request. Give connections and/or keys.
    #[schemars(length(max = MAX_TYPED_CREDENTIALS))]
    pub(super) keys: Option<Vec<KeyCredential>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ExtendArgs {
    /// Numeric id of the OAuth connection to extend.
    pub(super) connection_id: Id,
    /// OAuth scopes the connection must have; only the ones it lacks are requested.
    #[schemars(length(min = 1, max = MAX_LIST_ITEMS), inner(length(min = 1, max = MAX_ITEM_CHARS)))]
    pub(super) scopes: Vec<String>,
}

impl From<AppCredential> for make::RequestedApp {
    fn from(c: AppCredential) -> Self {
        Self {
            app_name: c.app_name,
            app_modules: c.app_modules,
            app_endpoints: c.app_endpoints,
            app_version: c.app_version.map(|v| v.0),
            name_override: c.name_override,
            description: c.description,
        }
    }
}

impl From<Prefill> for make::Prefill {
    fn from(p: Prefill) -> Self {
        Self {
            hard: p.hard,
            soft: p.soft,
        }
    }
}

impl From<ConnectionCredential> for make::RequestedConnection {
    fn from(c: ConnectionCredential) -> Self {
        Self {
            kind: c.kind,
            description: c.description,
            scope: c.scope,
            prefill: c.prefill.map(Into::into),
            name_override: c.name_override,
        }
    }
}

impl From<KeyCredential> for make::RequestedKey {
    fn from(k: KeyCredential) -> Self {
        Self {
            kind: k.kind,
            description: k.description,
            prefill: k.prefill.map(Into::into),
            name_override: k.name_override,
        }
    }
}

/// `{requests: [...], pg: {...}}`, and where the next page starts when there is one.
#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListOutput {
    /// Matching credential requests (one page).
    pub(super) requests: Vec<CredentialRequest>,
    /// Make's paging: `offset` of the first row, page `limit`, `total` matching rows.
    pub(super) pg: Option<Page>,
    /// True when more rows match than this page holds (absent otherwise).
    pub(super) more: Option<bool>,
    /// Present with `more`: the `offset` to call again with for the next page.
    pub(super) next_offset: Option<u64>,
    /// Present with `more`: which rows these are and how to get the rest.
    pub(super) message: Option<String>,
}

/// `{request: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RequestOutput {
    /// The request with its `credentials` and their states.
    pub(super) request: CredentialRequest,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteOutput {
    /// The request concerned.
    pub(super) request_id: String,
    /// True when the request was deleted; false when the person did not confirm.
    pub(super) deleted: bool,
    /// False when `deleted` is only probable: an attempt's outcome was unknown and a retry found no such request (see `message`).
    pub(super) certain: bool,
    /// Present when the person was asked to confirm.
    pub(super) confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was deleted, or the deletion is not certain: why, and what to do.
    pub(super) message: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialDeleteOutput {
    /// The credential concerned.
    pub(super) credential_id: String,
    /// True when its connection or key was deleted; false when the person did not confirm.
    pub(super) deleted: bool,
    /// The credential in its new state (reset to pending), when deleted.
    pub(super) credential: Option<Credential>,
    /// Present when the person was asked to confirm.
    pub(super) confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was deleted: why, and what to do.
    pub(super) message: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeclineOutput {
    /// The credential concerned.
    pub(super) credential_id: String,
    /// True when it was declined; false when the person did not confirm.
    pub(super) declined: bool,
    /// The credential in its new state, when declined.
    pub(super) credential: Option<Credential>,
    /// Present when the person was asked to confirm.
    pub(super) confirmation: Option<ConfirmOutcome>,
    /// Present when nothing was declined: why, and what to do.
    pub(super) message: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatedOutput {
    /// The new request (status `pending` until the person acts).
    pub(super) request: CredentialRequest,
    /// The requested credentials, when Make lists them.
    pub(super) credentials: Option<Vec<Credential>>,
    /// The link to give the person: they authorize (and enter any secrets) there.
    pub(super) public_uri: Option<String>,
    /// What to tell the person and what to do next.
    pub(super) message: String,
    /// Present when the client showed the link to the person: how, and what they chose.
    pub(super) person: Option<LinkOutcome>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExtendOutput {
    /// The connection to extend.
    pub(super) connection_id: u64,
    /// True when the connection already had every requested scope: nothing was requested.
    pub(super) already_satisfied: bool,
    /// The scopes asked for.
    pub(super) requested_scopes: Vec<String>,
    /// The scopes the connection lacked, which the request asks the person to grant.
    pub(super) new_scopes: Vec<String>,
    /// The extension request (absent when already satisfied).
    pub(super) request: Option<CredentialRequest>,
    /// The link where the person grants the new scopes (absent when already satisfied).
    pub(super) public_uri: Option<String>,
    /// What happened and what to do next.
    pub(super) message: String,
    /// Present when the client showed the link to the person: how, and what they chose.
    pub(super) person: Option<LinkOutcome>,
}

impl ExtendOutput {
    /// The result once a request for `new_scopes` exists.
    pub(super) fn extended(
        connection_id: u64,
        requested_scopes: Vec<String>,
        new_scopes: Vec<String>,
        out: CreatedOutput,
    ) -> Self {
        Self {
            connection_id,
            already_satisfied: false,
            requested_scopes,
            new_scopes,
            request: Some(out.request),
            public_uri: out.public_uri,
            message: out.message,
            person: out.person,
        }
    }
}
