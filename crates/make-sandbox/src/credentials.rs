//! Credential-request state transitions shared by the API and the consent page: creating a
//! request, authorizing (which creates the connection or key, or grows an extended
//! connection's scopes), declining, deleting the remote object, and deleting a request
//! with its cascade (make-api.md §1.8, §3.14–3.19).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::catalog::{self, KeyType};
use super::connections::{dedup, insert_connection};
use super::errors::ApiError;
use super::keys::{insert_key, validate_parameters};
use super::state::{Component, CredRequest, CredState, Credential, Store, USER_ID};
use super::time;

const DAY: u64 = 86_400;

/// What a new credential asks for; ids and timestamps are filled in by [`create_request`].
pub(crate) struct NewCredential {
    pub(crate) component: Component,
    pub(crate) type_name: String,
    pub(crate) auth_type: &'static str,
    pub(crate) label: String,
    pub(crate) description: Option<String>,
    pub(crate) scope: Vec<String>,
    pub(crate) app_name: Option<String>,
    pub(crate) app_modules: Vec<String>,
    pub(crate) app_version: Option<u32>,
    pub(crate) name_override: Option<String>,
    pub(crate) prefill: Option<Value>,
    pub(crate) extends: Option<u64>,
    pub(crate) remote_scope: Vec<String>,
}

impl NewCredential {
    pub(crate) fn new(
        component: Component,
        type_name: &str,
        auth_type: &'static str,
        label: &str,
    ) -> Self {
        NewCredential {
            component,
            type_name: type_name.into(),
            auth_type,
            label: label.into(),
            description: None,
            scope: Vec::new(),
            app_name: None,
            app_modules: Vec::new(),
            app_version: None,
            name_override: None,
            prefill: None,
            extends: None,
            remote_scope: Vec::new(),
        }
    }
}

/// Stores a new pending request with its credentials and returns the request id.
pub(crate) fn create_request(
    store: &mut Store,
    team_id: u64,
    name: String,
    description: Option<String>,
    creds: Vec<NewCredential>,
) -> String {
    let now = time::now();
    let id = store.hex_id();
    let mut app_names: Vec<String> = creds.iter().filter_map(|c| c.app_name.clone()).collect();
    dedup(&mut app_names);
    let mut credential_ids = Vec::new();
    for mut c in creds {
        let cid = store.hex_id();
        dedup(&mut c.scope);
        store.credentials.insert(
            cid.clone(),
            Credential {
                id: cid.clone(),
                request_id: id.clone(),
                component: c.component,
                type_name: c.type_name,
                auth_type: c.auth_type,
                label: c.label,
                description: c.description,
                scope: c.scope,
                remote_id: None,
                remote_scope: c.remote_scope,
                state: CredState::Pending,
                decline_reason: None,
                app_name: c.app_name,
                app_modules: c.app_modules,
                app_version: c.app_version,
                name_override: c.name_override,
                prefill: c.prefill,
                extends: c.extends,
                created_at: now,
                updated_at: now,
            },
        );
        credential_ids.push(cid);
    }
    let seq = store.next_seq();
    store.requests.insert(
        id.clone(),
        CredRequest {
            id: id.clone(),
            seq,
            team_id,
            user_id: USER_ID,
            name,
            description,
            created_at: now,
            updated_at: now,
            expires_at: now + 30 * DAY,
            app_names,
            credential_ids,
        },
    );
    id
}

/// Connection prefill values (`hard` over `soft`) restricted to the allowed parameter names.
fn prefilled(prefill: Option<&Value>, allowed: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for part in ["soft", "hard"] {
        if let Some(Value::Object(m)) = prefill.and_then(|p| p.get(part)) {
            for (k, v) in m {
                if allowed.contains(&k.as_str()) && super::input::is_scalar(v) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out
}

fn touch(store: &mut Store, cred_id: &str) {
    let now = time::now();
    let Some(c) = store.credentials.get_mut(cred_id) else {
        return;
    };
    c.updated_at = now;
    let request_id = c.request_id.clone();
    if let Some(r) = store.requests.get_mut(&request_id) {
        r.updated_at = now;
    }
}

/// One part (`hard` or `soft`) of a key credential's prefill, as text, for the key type's
/// parameters only. Key parameters are strings, so a number or boolean is written as text
/// and `null` counts as no value.
pub(crate) fn key_prefill(
    prefill: Option<&Value>,
    part: &str,
    kt: &KeyType,
) -> BTreeMap<&'static str, String> {
    let Some(Value::Object(m)) = prefill.and_then(|p| p.get(part)) else {
        return BTreeMap::new();
    };
    kt.params
        .iter()
        .filter_map(|p| {
            let text = match m.get(p.name)? {
                Value::String(s) => s.clone(),
                v @ (Value::Number(_) | Value::Bool(_)) => v.to_string(),
                _ => return None,
            };
            Some((p.name, text))
        })
        .collect()
}

/// The key parameters a consent-page post asks for, before validation: what the person
/// entered, then hard and soft prefill for whatever they left out.
///
/// Browsers post every input, empty ones too, so an empty value means "not given" and the
/// prefill or the type's default applies. A hard-prefilled parameter is fixed: a different
/// posted value is refused rather than silently replaced, so a tampered or stale form is
/// noticed. A repeated name is refused because which value wins would be a guess.
fn key_form_parameters(
    kt: &KeyType,
    prefill: Option<&Value>,
    entered: &[(String, String)],
) -> Result<Map<String, Value>, ApiError> {
    let hard = key_prefill(prefill, "hard", kt);
    let soft = key_prefill(prefill, "soft", kt);
    let mut given = Map::new();
    for (name, value) in entered.iter().filter(|(_, v)| !v.is_empty()) {
        if given.contains_key(name) {
            return Err(ApiError::invalid_input(format!(
                "Parameter '{name}' was given more than once."
            )));
        }
        if hard.get(name.as_str()).is_some_and(|fixed| fixed != value) {
            return Err(ApiError::invalid_input(format!(
                "Parameter '{name}' is fixed by the request and cannot be changed."
            )));
        }
        given.insert(name.clone(), json!(value));
    }
    for (name, value) in hard.into_iter().chain(soft) {
        given.entry(name).or_insert_with(|| json!(value));
    }
    Ok(given)
}

/// The end user consents: creates the connection/key (or grows the extended connection).
/// Authorizing an already authorized credential changes nothing.
///
/// `entered` is the consent page's posted form, in order. A key is created only from
/// parameters that pass [`validate_parameters`] (the same check as `keys_create`), so an
/// empty or invalid form leaves the credential as it was. Connections take no fields: the
/// sandbox has no provider to sign in to, and basic-auth data gets placeholders.
pub(crate) fn authorize(
    store: &mut Store,
    cred_id: &str,
    entered: &[(String, String)],
) -> Result<(), ApiError> {
    let c = store.credential(cred_id)?;
    if c.state == CredState::Authorized {
        return Ok(());
    }
    let team_id = store.request(&c.request_id)?.team_id;
    let (component, type_name, scope) = (c.component, c.type_name.clone(), c.scope.clone());
    let (extends, name_override, prefill) = (c.extends, c.name_override.clone(), c.prefill.clone());
    let (remote_id, remote_scope) = match (extends, component) {
        (Some(conn_id), _) => {
            let conn = store.connection_mut(conn_id)?;
            conn.scopes.extend(scope);
            dedup(&mut conn.scopes);
            (conn_id, conn.scopes.clone())
        }
        (None, Component::Account) => {
            let ct = super::connections::connection_type(&type_name)?;
            let mut data = prefilled(prefill.as_ref(), ct.params);
            for r in ct.required {
                data.entry(r.to_string())
                    .or_insert_with(|| json!(format!("entered-on-consent-page-{r}")));
            }
            let label = name_override.unwrap_or_else(|| format!("My {} connection", ct.label));
            let id = insert_connection(store, ct, label, team_id, scope, data);
            (id, store.connection(id)?.scopes.clone())
        }
        (None, Component::Keychain) => {
            let kt = super::keys::key_type(&type_name)?;
            let given = key_form_parameters(kt, prefill.as_ref(), entered)?;
            let params = validate_parameters(kt, &Map::new(), &given)?;
            let label = name_override.unwrap_or_else(|| format!("My {} key", kt.label));
            (insert_key(store, kt, label, team_id, params), Vec::new())
        }
    };
    if let Some(c) = store.credentials.get_mut(cred_id) {
        c.state = CredState::Authorized;
        c.remote_id = Some(remote_id);
        c.remote_scope = remote_scope;
        c.decline_reason = None;
    }
    touch(store, cred_id);
    Ok(())
}

/// Declines a credential; declining again only updates the reason.
pub(crate) fn decline(
    store: &mut Store,
    cred_id: &str,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let c = store.credential(cred_id)?;
    if c.state == CredState::Authorized {
        return Err(ApiError::invalid_input("Credential is already authorized.")
            .with_detail("Delete the created connection or key first (delete-remote)."));
    }
    if let Some(c) = store.credentials.get_mut(cred_id) {
        c.state = CredState::Declined;
        if reason.is_some() {
            c.decline_reason = reason;
        }
    }
    touch(store, cred_id);
    Ok(())
}

/// Deletes the connection or key a credential created and resets it to `pending`.
/// For an extend credential the pre-existing connection is kept.
pub(crate) fn delete_remote(store: &mut Store, cred_id: &str) -> Result<(), ApiError> {
    let c = store.credential(cred_id)?;
    let Some(remote_id) = c.remote_id else {
        return Err(
            ApiError::invalid_input("Credential has no remote object to delete.")
                .with_detail("The credential has not been authorized."),
        );
    };
    if c.extends.is_none() {
        match c.component {
            Component::Account => store.connections.remove(&remote_id).map(|_| ()),
            Component::Keychain => store.keys.remove(&remote_id).map(|_| ()),
        };
    }
    if let Some(c) = store.credentials.get_mut(cred_id) {
        c.state = CredState::Pending;
        c.remote_id = None;
        c.remote_scope = Vec::new();
    }
    touch(store, cred_id);
    Ok(())
}

/// Deletes a request and every connection/key it created. Without `confirmed`, a request
/// that created anything is kept and Make's confirmation error returned.
pub(crate) fn delete_request(
    store: &mut Store,
    request_id: &str,
    confirmed: bool,
) -> Result<(), ApiError> {
    let req = store.request(request_id)?;
    let created: Vec<(Component, u64)> = store
        .credentials_of(req)
        .iter()
        .filter(|c| c.extends.is_none())
        .filter_map(|c| c.remote_id.map(|id| (c.component, id)))
        .collect();
    if !created.is_empty() && !confirmed {
        return Err(ApiError::confirmation_required(format!(
            "The request created {} connection(s)/key(s); deleting it deletes them too.",
            created.len()
        )));
    }
    for (component, id) in created {
        match component {
            Component::Account => store.connections.remove(&id).map(|_| ()),
            Component::Keychain => store.keys.remove(&id).map(|_| ()),
        };
    }
    if let Some(req) = store.requests.remove(request_id) {
        for cid in req.credential_ids {
            store.credentials.remove(&cid);
        }
    }
    Ok(())
}

/// Label shown for a credential of this component/type.
pub(crate) fn type_label(component: Component, type_name: &str) -> &'static str {
    match component {
        Component::Account => catalog::connection_type(type_name).map_or("Connection", |t| t.label),
        Component::Keychain => catalog::key_type(type_name).map_or("Key", |t| t.label),
    }
}
