//! Store objects rendered with Make's response field names (make-api.md §2).
//!
//! Kept apart from the handlers because the API and the consent page render the same
//! objects, and so the naming trap (`name` = label, `accountName` = type) lives in one place.

use serde_json::{Value, json};

use super::catalog;
use super::state::{
    Connection, CredRequest, Credential, Key, ORGANIZATION_ID, Store, USER_EMAIL, USER_ID,
    USER_NAME,
};
use super::time::iso;

/// A connection. `scoped` is the per-row answer to a list's scope filter; get adds `scopes`.
pub(crate) fn connection(store: &Store, c: &Connection, with_scopes: bool, scoped: bool) -> Value {
    let ct = catalog::connection_type(&c.type_name);
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "accountName": c.type_name,
        "accountLabel": ct.map_or(c.type_name.as_str(), |t| t.label),
        "packageName": null,
        "expire": c.expire.map(iso),
        "metadata": c.metadata,
        "teamId": c.team_id,
        "theme": ct.map_or("#6e6e6e", |t| t.theme),
        "upgradeable": false,
        "scopesCnt": c.scopes.len(),
        "scoped": scoped,
        "accountType": ct.map_or("basic", |t| t.auth),
        "editable": ct.is_some_and(|t| !t.editable.is_empty()),
        "uid": c.uid,
        "connectedSystemId": null,
        "organizationId": store.organization_of(c.team_id),
    });
    if with_scopes {
        let scopes: Vec<Value> = c
            .scopes
            .iter()
            .map(|s| {
                let name = ct.and_then(|t| t.scope(s)).map(|d| d.name);
                json!({"id": s, "name": name, "account": c.type_name})
            })
            .collect();
        v["scopes"] = Value::Array(scopes);
        let usages: Vec<Value> = c
            .scenario_usages
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        v["scenarioUsages"] = Value::Array(usages);
    }
    v
}

/// A key: metadata only, never its parameters.
pub(crate) fn key(k: &Key) -> Value {
    let theme = catalog::key_type(&k.type_name).map_or("#007ee5", |t| t.theme);
    json!({
        "id": k.id,
        "name": k.name,
        "typeName": k.type_name,
        "teamId": k.team_id,
        "packageName": null,
        "theme": theme,
    })
}

/// A credential request (the `request` object; no credentials).
pub(crate) fn request(store: &Store, r: &CredRequest) -> Value {
    json!({
        "id": r.id,
        "organizationId": store.organization_of(r.team_id),
        "teamId": r.team_id,
        "userId": r.user_id,
        "name": r.name,
        "description": r.description,
        "externalProviderId": null,
        "makeProviderId": null,
        "createdAt": iso(r.created_at),
        "updatedAt": iso(r.updated_at),
        "expiresAt": iso(r.expires_at),
        "status": store.request_status(r),
        "shouldSendEmail": false,
        "emailSentAt": null,
        "appNames": r.app_names,
        "makeProvider": null,
    })
}

/// The `requestDetail` object: request fields plus `user` and `credentials`.
pub(crate) fn request_detail(store: &Store, r: &CredRequest) -> Value {
    let mut v = request(store, r);
    v["user"] = if r.user_id == USER_ID && store.organization_of(r.team_id) == ORGANIZATION_ID {
        user_ref()
    } else {
        json!({"id": r.user_id, "email": null, "name": null})
    };
    let creds: Vec<Value> = store
        .credentials_of(r)
        .into_iter()
        .map(credential)
        .collect();
    v["credentials"] = Value::Array(creds);
    v
}

pub(crate) fn credential(c: &Credential) -> Value {
    json!({
        "id": c.id,
        "requestId": c.request_id,
        "component": c.component.as_str(),
        "type": c.auth_type,
        "name": c.type_name,
        "label": c.label,
        "description": c.description,
        "scope": c.scope,
        "remoteId": c.remote_id,
        "remoteScope": c.remote_scope,
        "tokenId": null,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
        "state": c.state.as_str(),
        "declineReason": c.decline_reason,
        "appName": c.app_name,
        "appModules": c.app_modules,
        "appVersion": c.app_version,
        "nameOverride": c.name_override,
        "prefill": c.prefill,
    })
}

/// `{id, email, name}` of the token's user.
pub(crate) fn user_ref() -> Value {
    json!({"id": USER_ID, "email": USER_EMAIL, "name": USER_NAME})
}
