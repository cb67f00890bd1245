//! Credential-request tools: list, get, delete, decline or delete a credential, and the
//! three ways to ask a person for credentials (by app module, by type, by extra scopes).

use rmcp::handler::server::wrapper::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ToolError;
use super::args::{Id, OpaqueId, Parameters, StringOrNumber, check_strings, check_text};
use crate::make::MakeError;
use crate::make::credential_requests::{
    CreatedRequest, Credential, CredentialRequest, Page, RequestFilter,
};
use crate::server::MakeServer;

mod public_uri;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArgs {
    /// Team whose requests to list. Optional when the server has a default team (MAKE_TEAM).
    team_id: Option<Id>,
    /// Only requests created by this user (numeric id).
    user_id: Option<Id>,
    /// Only requests for this Make provider (string or number).
    make_provider_id: Option<StringOrNumber>,
    /// Only requests in this status: pending, authorized, partially_authorized, declined, ...
    status: Option<String>,
    /// Only requests with this name.
    name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestIdArgs {
    /// Credential request id: a string such as "a07e16f2ad134bf49cf83a00aa95c0a5" (not a numeric connection id).
    request_id: OpaqueId,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeclineArgs {
    /// Credential id: a string from the request's `credentials[].id` (not a connection id).
    credential_id: OpaqueId,
    /// Why it is declined (shown in Make; at most 1000 characters).
    reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialIdArgs {
    /// Credential id: a string from the request's `credentials[].id` (not a connection id).
    credential_id: OpaqueId,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppCredential {
    /// App name, e.g. "google-sheets" or "slack"; custom apps as "app#<name>".
    app_name: String,
    /// Module ids of the app that will use the credential (e.g. ["ActionSendDataBasicAuth"]), or ["*"] for all. Give this and/or appEndpoints. Never guess ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    app_modules: Option<Vec<String>>,
    /// Endpoint ids of the app, or ["*"] for all. Give this and/or appModules.
    #[serde(skip_serializing_if = "Option::is_none")]
    app_endpoints: Option<Vec<String>>,
    /// Major app version; the latest when omitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    app_version: Option<Id>,
    /// Label for the connection or key that will be created.
    #[serde(skip_serializing_if = "Option::is_none")]
    name_override: Option<String>,
    /// Note shown to the person next to this credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateArgs {
    /// Team the credentials will belong to. Optional when the server has a default team (MAKE_TEAM).
    team_id: Option<Id>,
    /// Title shown to the person.
    name: Option<String>,
    /// Explanation shown to the person (at most 240 characters).
    description: Option<String>,
    /// 1-64 credentials to request, one per app.
    credentials: Vec<AppCredential>,
}

/// Values to fill in for the person on Make's page.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prefill {
    /// Fixed values the person cannot change, e.g. {"baseUrl": "https://api.example.com"} (strings, numbers or booleans).
    #[serde(skip_serializing_if = "Option::is_none")]
    hard: Option<Map<String, Value>>,
    /// Suggested values the person can edit (strings, numbers or booleans).
    #[serde(skip_serializing_if = "Option::is_none")]
    soft: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectionCredential {
    /// Connection type, e.g. "google", "slack3", "airtable2".
    #[serde(rename = "type")]
    kind: String,
    /// Note shown to the person next to this connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// OAuth scopes the connection must grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Vec<String>>,
    /// Values to fill in for the person. Some providers fail authorization with prefill; use only when needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    prefill: Option<Prefill>,
    /// Label for the connection that will be created.
    #[serde(skip_serializing_if = "Option::is_none")]
    name_override: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyCredential {
    /// Key type, e.g. "apikeyauth", "basicauth".
    #[serde(rename = "type")]
    kind: String,
    /// Note shown to the person next to this key.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Values to fill in for the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    prefill: Option<Prefill>,
    /// Label for the key that will be created.
    #[serde(skip_serializing_if = "Option::is_none")]
    name_override: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateByCredentialsArgs {
    /// Team the credentials will belong to. Optional when the server has a default team (MAKE_TEAM).
    team_id: Option<Id>,
    /// Title shown to the person (Make's default: "Request for credentials").
    name: Option<String>,
    /// Explanation shown to the person (at most 240 characters).
    description: Option<String>,
    /// Connections to request (at most 32). Give connections and/or keys.
    connections: Option<Vec<ConnectionCredential>>,
    /// Keys to request (at most 32). Give connections and/or keys.
    keys: Option<Vec<KeyCredential>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtendArgs {
    /// Numeric id of the OAuth connection to extend.
    connection_id: Id,
    /// OAuth scopes the connection must have (at least one). Only the ones it lacks are requested.
    scopes: Vec<String>,
}

/// `{requests: [...], pg: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput {
    /// Matching credential requests.
    requests: Vec<CredentialRequest>,
    /// Paging: when `pg.total` is larger than the number of rows, the list was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pg: Option<Page>,
}

/// `{request: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub struct RequestOutput {
    /// The request with its `credentials` and their states.
    request: CredentialRequest,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOutput {
    /// The request that was deleted.
    request_id: String,
    /// Always true on success.
    deleted: bool,
}

/// `{credential: {...}}`
#[derive(Debug, Serialize, JsonSchema)]
pub struct CredentialOutput {
    /// The credential in its new state.
    credential: Credential,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedOutput {
    /// The new request (status `pending` until the person acts).
    request: CredentialRequest,
    /// The requested credentials, when Make lists them.
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<Vec<Credential>>,
    /// The link to give the person: they authorize (and enter any secrets) there.
    #[serde(skip_serializing_if = "Option::is_none")]
    public_uri: Option<String>,
    /// What to tell the person and what to do next.
    message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtendOutput {
    /// The connection to extend.
    connection_id: u64,
    /// True when the connection already had every requested scope: nothing was requested.
    already_satisfied: bool,
    /// The scopes asked for.
    requested_scopes: Vec<String>,
    /// The scopes the connection lacked, which the request asks the person to grant.
    new_scopes: Vec<String>,
    /// The extension request (absent when already satisfied).
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<CredentialRequest>,
    /// The link where the person grants the new scopes (absent when already satisfied).
    #[serde(skip_serializing_if = "Option::is_none")]
    public_uri: Option<String>,
    /// What happened and what to do next.
    message: String,
}

#[tool_router(router = credential_requests_router, vis = "pub(crate)")]
impl MakeServer {
    #[tool(
        name = "credential-requests_list",
        title = "List credential requests",
        description = "List a team's credential requests (links where a person authorizes connections or keys), optionally filtered by user, Make provider, status (pending, authorized, partially_authorized, declined, ...) or name. Make does not notify when a request is authorized: poll this or credential-requests_get. Read-only.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn credential_requests_list(
        &self,
        Parameters(args): Parameters<ListArgs>,
    ) -> Result<Json<ListOutput>, ToolError> {
        let team = self.team(args.team_id)?;
        let filter = RequestFilter {
            user_id: args.user_id.map(|u| u.0),
            make_provider_id: args.make_provider_id.map(|p| p.0),
            status: non_blank(args.status),
            name: non_blank(args.name),
        };
        let (requests, pg) = self.make().list_credential_requests(team, &filter).await?;
        Ok(Json(ListOutput { requests, pg }))
    }

    #[tool(
        name = "credential-requests_get",
        title = "Get credential request details",
        description = "Get a credential request with its credentials: each one's state (pending, authorized, declined), type, scopes and `remoteId` (the id of the connection or key created once authorized). Use it to follow a request after giving the person its link. The request id is a string, not a connection id. Read-only.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn credential_requests_get(
        &self,
        Parameters(args): Parameters<RequestIdArgs>,
    ) -> Result<Json<RequestOutput>, ToolError> {
        let request = self
            .make()
            .credential_request_detail(args.request_id.as_str())
            .await?;
        Ok(Json(RequestOutput { request }))
    }

    #[tool(
        name = "credential-requests_delete",
        title = "Delete credential request",
        description = "Permanently delete a credential request AND every connection and key it created: scenarios using them lose access. Cannot be undone. Confirm with the person first, saying how many credentials will go (see credential-requests_get). The request id is a string, not a connection id.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn credential_requests_delete(
        &self,
        Parameters(args): Parameters<RequestIdArgs>,
    ) -> Result<Json<DeleteOutput>, ToolError> {
        self.make()
            .delete_credential_request(args.request_id.as_str())
            .await?;
        Ok(Json(DeleteOutput {
            request_id: args.request_id.0,
            deleted: true,
        }))
    }

    #[tool(
        name = "credential-requests_credential-decline",
        title = "Decline credential",
        description = "Decline one credential of a request (the person will not be asked for it), with an optional reason. Declining again only updates the reason. The credential id is a string from credential-requests_get.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn credential_requests_credential_decline(
        &self,
        Parameters(args): Parameters<DeclineArgs>,
    ) -> Result<Json<CredentialOutput>, ToolError> {
        let reason = non_blank(args.reason);
        if let Some(reason) = &reason {
            check_text("reason", reason, 1000)?;
        }
        let credential = self
            .make()
            .decline_credential(args.credential_id.as_str(), reason.as_deref())
            .await?;
        Ok(Json(CredentialOutput { credential }))
    }

    #[tool(
        name = "credential-requests_credential-delete",
        title = "Delete credential",
        description = "Delete the connection or key that an authorized credential created (revoking its tokens) and reset the credential to pending, so the person can authorize it again. Scenarios using that connection or key lose access. The credential id is a string from credential-requests_get.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn credential_requests_credential_delete(
        &self,
        Parameters(args): Parameters<CredentialIdArgs>,
    ) -> Result<Json<CredentialOutput>, ToolError> {
        let credential = self
            .make()
            .delete_remote_credential(args.credential_id.as_str())
            .await?;
        Ok(Json(CredentialOutput { credential }))
    }

    #[tool(
        name = "credential-requests_create",
        title = "Create credential request",
        description = "Ask a person to authorize the connections or keys that specific app modules need. Each call creates a new request. For each app give `appName` and `appModules` and/or `appEndpoints` (module ids from Make, or [\"*\"]; never guess them; a module missing from `appVersion` gives a misleading \"module does not exist\"). Returns `publicUri`: give that link to the person at once (they authorize and type any secrets on Make's page, never in chat), then follow progress with credential-requests_get; do not wait in a loop. For a known connection or key type, or generic API-call modules that declare no scopes, use credential-requests_create-by-credentials.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn credential_requests_create(
        &self,
        Parameters(args): Parameters<CreateArgs>,
    ) -> Result<Json<CreatedOutput>, ToolError> {
        let team_id = self.team(args.team_id)?;
        check_request_texts(&args.name, &args.description)?;
        check_app_credentials(&args.credentials)?;
        let mut body = json!({ "teamId": team_id, "credentials": args.credentials });
        add_texts(&mut body, args.name, args.description);
        let created = self
            .make()
            .credential_request_action("create", body)
            .await?;
        Ok(Json(self.created_output(created)))
    }

    #[tool(
        name = "credential-requests_create-by-credentials",
        title = "Create credential request by connection/key types",
        description = "Ask a person to authorize connections (by type, with OAuth `scope`) and/or keys (by type) for a team. This is the way to get credentials without secrets in the chat. Each call creates a new request. Give at least one of `connections` or `keys` (at most 32 each). Returns `publicUri`: give that link to the person at once, then follow progress with credential-requests_get (each credential's `remoteId` becomes the new connection or key id). Reuse existing connections (connections_list) before asking for new ones; to add scopes to an existing connection use credential-requests_extend-connection.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn credential_requests_create_by_credentials(
        &self,
        Parameters(args): Parameters<CreateByCredentialsArgs>,
    ) -> Result<Json<CreatedOutput>, ToolError> {
        let team_id = self.team(args.team_id)?;
        check_request_texts(&args.name, &args.description)?;
        let connections = args.connections.unwrap_or_default();
        let keys = args.keys.unwrap_or_default();
        check_typed_credentials(&connections, &keys)?;
        let mut body = json!({ "teamId": team_id });
        if !connections.is_empty() {
            body["connections"] = json!(connections);
        }
        if !keys.is_empty() {
            body["keys"] = json!(keys);
        }
        add_texts(&mut body, args.name, args.description);
        let created = self
            .make()
            .credential_request_action("create-by-credentials", body)
            .await?;
        Ok(Json(self.created_output(created)))
    }

    #[tool(
        name = "credential-requests_extend-connection",
        title = "Extend connection OAuth scopes",
        description = "Ask the person to grant an existing OAuth connection more scopes. Reads the connection first: when it already has every requested scope, nothing is created and `alreadySatisfied` is true (the requirement is met). Otherwise a request for the missing scopes only is created: give its `publicUri` to the person, who must consent there. Take scope strings from the app's modules or the connection's type, never guess them.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn credential_requests_extend_connection(
        &self,
        Parameters(args): Parameters<ExtendArgs>,
    ) -> Result<Json<ExtendOutput>, ToolError> {
        let connection_id = args.connection_id.0;
        check_strings("scopes", &args.scopes, 100)?;
        let requested = dedup(args.scopes);
        let new_scopes = self.scopes_missing_from(connection_id, &requested).await?;
        if new_scopes.is_empty() {
            return Ok(Json(ExtendOutput {
                connection_id,
                already_satisfied: true,
                message: format!(
                    "Connection {connection_id} already has every requested scope; no request was created and nothing needs the person's consent."
                ),
                requested_scopes: requested,
                new_scopes,
                request: None,
                public_uri: None,
            }));
        }
        let body = json!({ "connectionId": connection_id, "scopes": new_scopes });
        let created = self
            .make()
            .credential_request_action("extend", body)
            .await?;
        let out = self.created_output(created);
        Ok(Json(ExtendOutput {
            connection_id,
            already_satisfied: false,
            requested_scopes: requested,
            new_scopes,
            request: Some(out.request),
            public_uri: out.public_uri,
            message: out.message,
        }))
    }
}

impl MakeServer {
    /// The requested scopes the connection does not have yet. When the connection cannot be
    /// read for a reason other than its absence (e.g. the key lacks connections:read), every
    /// requested scope is taken as missing and Make decides.
    async fn scopes_missing_from(
        &self,
        connection_id: u64,
        requested: &[String],
    ) -> Result<Vec<String>, ToolError> {
        match self.make().get_connection(connection_id).await {
            Ok(connection) => {
                let granted: Vec<String> = connection
                    .scopes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                Ok(requested
                    .iter()
                    .filter(|s| !granted.contains(s))
                    .cloned()
                    .collect())
            }
            Err(e @ (MakeError::NotConfigured(_) | MakeError::Cancelled)) => Err(e.into()),
            Err(MakeError::Api(api)) if matches!(api.status, 401 | 404) => {
                Err(MakeError::Api(api).into())
            }
            Err(e) => {
                tracing::warn!(connection_id, error = %e, "could not read the connection's scopes; extending with every requested scope");
                Ok(requested.to_vec())
            }
        }
    }

    fn created_output(&self, created: CreatedRequest) -> CreatedOutput {
        let vetted = public_uri::vet(created.public_uri, self.make().base_url());
        let message = match (&vetted.uri, &vetted.problem) {
            (Some(uri), _) => format!(
                "Credential request {} created. Give the person this link to authorize: {uri} . Then follow its status with credential-requests_get (it stays pending until they act).",
                created.request.id
            ),
            (None, Some(problem)) => format!(
                "Credential request {} created, but its link was withheld: {problem}. Check the request in Make.",
                created.request.id
            ),
            (None, None) => format!(
                "Credential request {} created, but Make returned no link. Check the request in Make.",
                created.request.id
            ),
        };
        CreatedOutput {
            request: created.request,
            credentials: created.credentials,
            public_uri: vetted.uri,
            message,
        }
    }
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn dedup(values: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn add_texts(body: &mut Value, name: Option<String>, description: Option<String>) {
    if let Some(name) = non_blank(name) {
        body["name"] = Value::String(name);
    }
    if let Some(description) = non_blank(description) {
        body["description"] = Value::String(description);
    }
}

fn check_request_texts(
    name: &Option<String>,
    description: &Option<String>,
) -> Result<(), ToolError> {
    if let Some(name) = name.as_deref().filter(|n| !n.trim().is_empty()) {
        check_text("name", name, 128)?;
    }
    if let Some(description) = description.as_deref().filter(|d| !d.trim().is_empty()) {
        check_text("description", description, 240)?;
    }
    Ok(())
}

fn check_app_credentials(credentials: &[AppCredential]) -> Result<(), ToolError> {
    if credentials.is_empty() || credentials.len() > 64 {
        return Err(ToolError::invalid(
            "credentials",
            format!("must list 1 to 64 credentials, got {}", credentials.len()),
        ));
    }
    for (i, c) in credentials.iter().enumerate() {
        let field = |name: &str| format!("credentials[{i}].{name}");
        check_text(&field("appName"), &c.app_name, 128)?;
        if c.app_modules.is_none() && c.app_endpoints.is_none() {
            return Err(ToolError::invalid(
                &field("appModules"),
                "or appEndpoints must be given (module ids, or [\"*\"] for all)",
            ));
        }
        if let Some(modules) = &c.app_modules {
            check_strings(&field("appModules"), modules, 500)?;
        }
        if let Some(endpoints) = &c.app_endpoints {
            check_strings(&field("appEndpoints"), endpoints, 500)?;
        }
    }
    Ok(())
}

fn check_typed_credentials(
    connections: &[ConnectionCredential],
    keys: &[KeyCredential],
) -> Result<(), ToolError> {
    if connections.is_empty() && keys.is_empty() {
        return Err(ToolError::invalid(
            "connections",
            "or `keys` must list at least one credential to request",
        ));
    }
    for (field, len) in [("connections", connections.len()), ("keys", keys.len())] {
        if len > 32 {
            return Err(ToolError::invalid(
                field,
                format!("must list at most 32 items, got {len}"),
            ));
        }
    }
    for (i, c) in connections.iter().enumerate() {
        check_text(&format!("connections[{i}].type"), &c.kind, 128)?;
        if let Some(scope) = &c.scope {
            check_strings(&format!("connections[{i}].scope"), scope, 100)?;
        }
        check_prefill(&format!("connections[{i}].prefill"), c.prefill.as_ref())?;
    }
    for (i, k) in keys.iter().enumerate() {
        check_text(&format!("keys[{i}].type"), &k.kind, 128)?;
        check_prefill(&format!("keys[{i}].prefill"), k.prefill.as_ref())?;
    }
    Ok(())
}

/// Prefill values must be scalars: Make fills form fields with them.
fn check_prefill(field: &str, prefill: Option<&Prefill>) -> Result<(), ToolError> {
    let Some(prefill) = prefill else {
        return Ok(());
    };
    for (part, map) in [("hard", &prefill.hard), ("soft", &prefill.soft)] {
        for (key, value) in map.iter().flat_map(|m| m.iter()) {
            if value.is_object() || value.is_array() || value.is_null() {
                return Err(ToolError::invalid(
                    &format!("{field}.{part}.{key}"),
                    "must be a string, number or boolean",
                ));
            }
        }
    }
    Ok(())
}
