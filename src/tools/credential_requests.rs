//! Credential-request tools: list, get, delete, decline or delete a credential, and the
//! three ways to ask a person for credentials (by app module, by type, by extra scopes).

use crate::tools::Json;
use rmcp::{tool, tool_router};

use super::args::Parameters;
use super::confirm::gate;
use super::limits::{MAX_LIST_ITEMS, check_strings, check_text};
use super::{Reply, ToolError, deletion};
use crate::make::MakeClient;
use crate::make::credential_requests::{
    ExtendRequest, NewAppRequest, NewTypedRequest, RequestFilter,
};
use crate::person::Turn;
use crate::person::{Question, identifier, quoted};
use crate::tools::{Toolbox, schema};

mod checks;
mod extend;
mod handover;
mod paging;
mod public_uri;
mod types;
pub(super) mod wait;

use checks::{
    check_app_credentials, check_list_filters, check_paging, check_request_texts,
    check_typed_credentials, dedup, non_blank,
};
use handover::describe_credentials;
use types::*;

#[tool_router(router = credential_requests_router, vis = "pub(crate)")]
impl Toolbox {
    #[tool(
        name = "credential-requests_list",
        input_schema = schema::input::<ListArgs>(),
        output_schema = schema::output::<ListOutput>(),
        title = "List credential requests",
        description = "List a team's credential requests, optionally by user, Make provider, status (pending, authorized, partially_authorized, declined, ...) or name. One page per call (100 rows unless `limit`): when `more` is true, call again with `offset` set to `nextOffset`.",
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
        let (status, name) = (non_blank(args.status), non_blank(args.name));
        check_list_filters(&status, &name)?;
        check_paging(args.offset, args.limit)?;
        let filter = RequestFilter {
            user_id: args.user_id.map(|u| u.0),
            make_provider_id: args.make_provider_id.map(|p| p.0),
            status,
            name,
            offset: args.offset,
            limit: args.limit,
        };
        let (requests, pg) = self.make().list_credential_requests(team, &filter).await?;
        let next = paging::next_page(requests.len(), pg.as_ref(), args.offset);
        Ok(Json(ListOutput {
            requests,
            pg,
            more: next.as_ref().map(|_| true),
            next_offset: next.as_ref().map(|n| n.0),
            message: next.map(|n| n.1),
        }))
    }

    #[tool(
        name = "credential-requests_get",
        input_schema = schema::input::<RequestIdArgs>(),
        output_schema = schema::output::<RequestOutput>(),
        title = "Get credential request details",
        description = "Get a credential request and its credentials: state (pending, authorized, declined), type, scopes and `remoteId` (the connection or key created once authorized). The id is a string, not a connection id. To wait for the person, use credential-requests_wait-for-authorization.",
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
        input_schema = schema::input::<RequestIdArgs>(),
        title = "Delete credential request",
        description = "Permanently delete a credential request AND every connection and key it created; scenarios using them lose access. Cannot be undone. Asks the person to confirm when the client can; otherwise confirm with them first, saying how many credentials go. The request id is a string.",
        output_schema = schema::output::<DeleteOutput>(),
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
        turn: Turn,
    ) -> Result<Reply<DeleteOutput>, ToolError> {
        let id = args.request_id.0;
        let question = || delete_request_question(self.make(), &id);
        let confirmation = match gate(self.person(), &turn, question, |outcome, message| {
            DeleteOutput {
                request_id: id.clone(),
                deleted: false,
                certain: true,
                confirmation: Some(outcome),
                message: Some(message),
            }
        })
        .await?
        {
            Ok(confirmation) => confirmation,
            Err(reply) => return Ok(reply),
        };
        let deletion = self.make().delete_credential_request(&id).await?;
        let (certain, message) = deletion::describe(&deletion, &format!("credential request {id}"));
        Ok(Reply::Done(DeleteOutput {
            request_id: id,
            deleted: true,
            certain,
            confirmation,
            message,
        }))
    }

    #[tool(
        name = "credential-requests_credential-decline",
        input_schema = schema::input::<DeclineArgs>(),
        output_schema = schema::output::<DeclineOutput>(),
        title = "Decline credential",
        description = "Decline one credential of a request (the person is not asked for it), with an optional reason; declining again updates the reason. Asks the person to confirm when the client can. The credential id is a string from credential-requests_get.",
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
        turn: Turn,
    ) -> Result<Reply<DeclineOutput>, ToolError> {
        let reason = non_blank(args.reason);
        if let Some(reason) = &reason {
            check_text("reason", reason, 240)?;
        }
        let id = args.credential_id.0;
        // Make has no endpoint to read one credential: the question names its id (first,
        // before the model's reason, which is quoted).
        let question = || async {
            let because = match &reason {
                Some(reason) => format!(", giving the reason {}", quoted(reason)),
                None => String::new(),
            };
            Ok::<_, ToolError>(Question {
                message: format!(
                    "Decline credential {id}{because}? The person will no longer be asked to authorize it in this request."
                ),
                object: format!("credential {id}"),
            })
        };
        let confirmation = match gate(self.person(), &turn, question, |outcome, message| {
            DeclineOutput {
                credential_id: id.clone(),
                declined: false,
                credential: None,
                confirmation: Some(outcome),
                message: Some(message),
            }
        })
        .await?
        {
            Ok(confirmation) => confirmation,
            Err(reply) => return Ok(reply),
        };
        let credential = self
            .make()
            .decline_credential(&id, reason.as_deref())
            .await?;
        Ok(Reply::Done(DeclineOutput {
            credential_id: id,
            declined: true,
            credential: Some(credential),
            confirmation,
            message: None,
        }))
    }

    #[tool(
        name = "credential-requests_credential-delete",
        input_schema = schema::input::<CredentialIdArgs>(),
        title = "Delete credential",
        description = "Delete the connection or key an authorized credential created (revoking its tokens) and reset the credential to pending, to be authorized again. Scenarios using it lose access. The credential id is a string from credential-requests_get; also pass that request's requestId, so that the person is asked about the exact connection or key.",
        output_schema = schema::output::<CredentialDeleteOutput>(),
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
        turn: Turn,
    ) -> Result<Reply<CredentialDeleteOutput>, ToolError> {
        let id = args.credential_id.0;
        let request_id = args.request_id.map(|r| r.0);
        let question = || credential_delete_question(self.make(), &id, request_id.as_deref());
        let confirmation = match gate(self.person(), &turn, question, |outcome, message| {
            CredentialDeleteOutput {
                credential_id: id.clone(),
                deleted: false,
                credential: None,
                confirmation: Some(outcome),
                message: Some(message),
            }
        })
        .await?
        {
            Ok(confirmation) => confirmation,
            Err(reply) => return Ok(reply),
        };
        let credential = self.make().delete_remote_credential(&id).await?;
        Ok(Reply::Done(CredentialDeleteOutput {
            credential_id: id,
            deleted: true,
            credential: Some(credential),
            confirmation,
            message: None,
        }))
    }

    #[tool(
        name = "credential-requests_create",
        input_schema = schema::input::<CreateArgs>(),
        title = "Create credential request",
        description = "Ask a person to authorize the connections or keys app modules need; each call creates a new request. Per app give `appName` and `appModules` and/or `appEndpoints` (ids from credential-requests_list-app-modules-with-creds or [\"*\"], never guessed; a module missing from `appVersion` gives a misleading \"module does not exist\"). Hand over `publicUri` unless `person.action` says the client did, then call credential-requests_wait-for-authorization. For known connection or key types, use credential-requests_create-by-credentials.",
        output_schema = schema::output::<CreatedOutput>(),
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
        turn: Turn,
    ) -> Result<Reply<CreatedOutput>, ToolError> {
        if let Some((out, _)) = self.resume_hand_over(&turn).await? {
            return Ok(Reply::Done(out));
        }
        let team_id = self.team(args.team_id)?;
        check_request_texts(&args.name, &args.description)?;
        check_app_credentials(&args.credentials)?;
        let new = NewAppRequest {
            team_id,
            name: non_blank(args.name),
            description: non_blank(args.description),
            credentials: args.credentials.into_iter().map(Into::into).collect(),
        };
        let created = self.make().create_app_request(&new).await?;
        let what =
            describe_credentials(created.credentials.as_deref(), "the requested credentials");
        Ok(self.hand_over(&turn, created, &what, None).await)
    }

    #[tool(
        name = "credential-requests_create-by-credentials",
        input_schema = schema::input::<CreateByCredentialsArgs>(),
        title = "Create credential request by connection/key types",
        description = "Ask a person to authorize connections (by type, with OAuth `scope`) and/or keys (by type): credentials without secrets in chat; each call creates a new request. Reuse connections (connections_list) first; to add scopes to one, use credential-requests_extend-connection. Hand over `publicUri` unless `person.action` says the client did, then call credential-requests_wait-for-authorization; each credential's `remoteId` becomes the new connection or key id.",
        output_schema = schema::output::<CreatedOutput>(),
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
        turn: Turn,
    ) -> Result<Reply<CreatedOutput>, ToolError> {
        if let Some((out, _)) = self.resume_hand_over(&turn).await? {
            return Ok(Reply::Done(out));
        }
        let team_id = self.team(args.team_id)?;
        check_request_texts(&args.name, &args.description)?;
        let connections = args.connections.unwrap_or_default();
        let keys = args.keys.unwrap_or_default();
        check_typed_credentials(&connections, &keys)?;
        let new = NewTypedRequest {
            team_id,
            name: non_blank(args.name),
            description: non_blank(args.description),
            connections: connections.into_iter().map(Into::into).collect(),
            keys: keys.into_iter().map(Into::into).collect(),
        };
        let created = self.make().create_typed_request(&new).await?;
        let what =
            describe_credentials(created.credentials.as_deref(), "the requested credentials");
        Ok(self.hand_over(&turn, created, &what, None).await)
    }

    #[tool(
        name = "credential-requests_extend-connection",
        input_schema = schema::input::<ExtendArgs>(),
        title = "Extend connection OAuth scopes",
        description = "Ask the person to grant an existing OAuth connection more scopes. When it has them all, nothing is created and `alreadySatisfied` is true (the requirement is met); otherwise a request for the missing scopes only is created. Hand over `publicUri` unless `person.action` says the client did, then call credential-requests_wait-for-authorization. Take scopes from credential-requests_list-app-modules-with-creds, never guess them.",
        output_schema = schema::output::<ExtendOutput>(),
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
        turn: Turn,
    ) -> Result<Reply<ExtendOutput>, ToolError> {
        let connection_id = args.connection_id.0;
        check_strings("scopes", &args.scopes, MAX_LIST_ITEMS)?;
        let requested = dedup(args.scopes);
        if let Some((out, new_scopes)) = self.resume_hand_over(&turn).await? {
            let new_scopes = new_scopes.unwrap_or_default();
            let out = ExtendOutput::extended(connection_id, requested, new_scopes, out);
            return Ok(Reply::Done(out));
        }
        let new_scopes =
            extend::scopes_missing_from(self.make(), connection_id, &requested).await?;
        if new_scopes.is_empty() {
            return Ok(Reply::Done(ExtendOutput {
                connection_id,
                already_satisfied: true,
                message: format!(
                    "Connection {connection_id} already has every requested scope; no request was created and nothing needs the person's consent."
                ),
                requested_scopes: requested,
                new_scopes,
                request: None,
                public_uri: None,
                person: None,
            }));
        }
        let extend = ExtendRequest {
            connection_id,
            scopes: new_scopes.clone(),
        };
        let created = self.make().extend_connection(&extend).await?;
        let what = match new_scopes.len() {
            1 => format!("1 more scope for connection {connection_id}"),
            n => format!("{n} more scopes for connection {connection_id}"),
        };
        let reply = self
            .hand_over(&turn, created, &what, Some(new_scopes.clone()))
            .await;
        Ok(match reply {
            Reply::Done(out) => Reply::Done(ExtendOutput::extended(
                connection_id,
                requested,
                new_scopes,
                out,
            )),
            Reply::Ask(ask) => Reply::Ask(ask),
        })
    }
}

/// "Delete credential request 0a1b..., named \"X\", and the 1 connection and 0 keys it created?"
/// The question for deleting what credential `id` created. Make cannot read one credential
/// alone: with the id of its request, the credential is read from the request's detail, and
/// the question and the object name the connection or key it created (`remoteId`), so a
/// confirmation given for one connection never deletes another (after the person authorized
/// the credential again, say). Without a request id, or with a key that cannot read requests,
/// the question names the credential only.
async fn credential_delete_question(
    make: &MakeClient,
    id: &str,
    request_id: Option<&str>,
) -> Result<Question, ToolError> {
    let bare = || Question {
        message: format!(
            "Delete the connection or key that credential {id} created (revoking its tokens), and reset the credential to pending? Scenarios using it lose access."
        ),
        object: format!("credential {id}"),
    };
    let Some(request_id) = request_id else {
        return Ok(bare());
    };
    let request = match make.credential_request_detail(request_id).await {
        Ok(request) => request,
        Err(e) if e.is_forbidden() => return Ok(bare()),
        Err(e) => return Err(e.into()),
    };
    let Some(credential) = request.credentials.iter().flatten().find(|c| c.id == id) else {
        return Err(ToolError::invalid(
            "credentialId",
            format!(
                "is not a credential of request {request_id}; take both ids from credential-requests_get"
            ),
        ));
    };
    let what = match credential.component.as_deref() {
        Some("account") => "connection",
        Some("keychain") => "key",
        _ => "connection or key",
    };
    let kind = credential
        .name
        .as_deref()
        .map(|t| format!(" ({})", identifier(t)))
        .unwrap_or_default();
    Ok(
        match credential.remote_id.as_ref().and_then(|r| r.as_u64()) {
            Some(remote) => Question {
                message: format!(
                    "Delete {what} {remote}{kind}, which credential {id} created (revoking its tokens), and reset the credential to pending? Scenarios using it lose access."
                ),
                object: format!("credential {id} ({what} {remote})"),
            },
            None => Question {
                message: format!(
                    "Delete the {what} that credential {id} created (Make shows none yet), and reset the credential to pending?"
                ),
                object: format!("credential {id} (nothing created)"),
            },
        },
    )
}

async fn delete_request_question(make: &MakeClient, id: &str) -> Result<Question, ToolError> {
    let request = match make.credential_request_detail(id).await {
        Ok(request) => request,
        // A key without credential-requests:read is asked about the bare id.
        Err(e) if e.is_forbidden() => {
            return Ok(Question {
                message: format!(
                    "Delete credential request {id} and every connection and key it created? Scenarios using them lose access. This cannot be undone."
                ),
                object: format!("credential request {id}"),
            });
        }
        Err(e) => return Err(e.into()),
    };
    // The ids of what the request created: the object names them, so that a confirmation
    // does not carry over to connections or keys authorized after the question.
    let created = |component: &str| -> Vec<String> {
        request
            .credentials
            .iter()
            .flatten()
            .filter(|c| c.component.as_deref() == Some(component))
            .filter_map(|c| c.remote_id.as_ref().filter(|r| !r.is_null()))
            .map(|r| r.to_string())
            .collect()
    };
    let (connection_ids, key_ids) = (created("account"), created("keychain"));
    let (connections, keys) = (connection_ids.len(), key_ids.len());
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    // The id comes first, where the name cannot reach it; the name is quoted.
    let named = match request.name.as_deref() {
        Some(name) => format!(", named {},", quoted(name)),
        None => String::new(),
    };
    Ok(Question {
        message: format!(
            "Delete credential request {id}{named} and the {} and {} it created? Scenarios using them lose access. This cannot be undone.",
            plural(connections, "connection", "connections"),
            plural(keys, "key", "keys"),
        ),
        object: format!(
            "credential request {id} (connections [{}], keys [{}])",
            connection_ids.join(", "),
            key_ids.join(", ")
        ),
    })
}
