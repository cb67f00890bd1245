//! `/credential-requests` endpoints (make-api.md §3.12–3.19, §4.4): list/get/detail/delete,
//! credential decline and delete-remote, the three `actions/*` creators, and the
//! modules-with-credentials catalogue. Create responses carry a `publicUri` that points at
//! the sandbox's own consent page.

use std::cmp::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::catalog::{self, App};
use super::connections::{MAX_NAME, connection_type, validate_scopes};
use super::credentials::{self, NewCredential, type_label};
use super::errors::ApiError;
use super::input::{Fields, Params, json_object, missing, optional_json_object, project};
use super::keys::key_type;
use super::render;
use super::state::{Component, CredRequest, Store};

type ApiResult = Result<Json<Value>, ApiError>;

const MAX_DESCRIPTION: usize = 240;
const DEFAULT_NAME: &str = "Request for credentials";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/credential-requests/requests", get(list))
        .route(
            "/credential-requests/requests/{id}",
            get(get_one).delete(delete),
        )
        .route("/credential-requests/requests/{id}/detail", get(detail))
        .route(
            "/credential-requests/credentials/{id}/decline",
            post(decline),
        )
        .route(
            "/credential-requests/credentials/{id}/delete-remote",
            post(delete_remote),
        )
        .route("/credential-requests/actions/create", post(create))
        .route(
            "/credential-requests/actions/create-by-credentials",
            post(create_by_credentials),
        )
        .route("/credential-requests/actions/extend", post(extend))
        .route(
            "/credential-requests/apps/{app}/{version}/modules-with-credentials",
            get(modules_with_credentials),
        )
}

fn sort_key(store: &Store, a: &CredRequest, b: &CredRequest, by: &str) -> Ordering {
    match by {
        "name" => a.name.cmp(&b.name),
        "createdAt" => a.created_at.cmp(&b.created_at).then(a.seq.cmp(&b.seq)),
        "status" => store.request_status(a).cmp(store.request_status(b)),
        _ => a.id.cmp(&b.id),
    }
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let team_id = p.require_u64("teamId")?;
    let user_id = p.u64("userId")?;
    let offset = p.u64("pg[offset]")?.unwrap_or(0);
    let limit = p.u64("pg[limit]")?.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid_input(
            "Invalid value in parameter 'pg[limit]'.",
        ));
    }
    let sort_by = p.get("pg[sortBy]").unwrap_or("id");
    if !["id", "name", "createdAt", "status"].contains(&sort_by) {
        return Err(ApiError::invalid_input(
            "Invalid value in parameter 'pg[sortBy]'.",
        ));
    }
    let sort_dir = p.get("pg[sortDir]").unwrap_or("asc");
    if !["asc", "desc"].contains(&sort_dir) {
        return Err(ApiError::invalid_input(
            "Invalid value in parameter 'pg[sortDir]'.",
        ));
    }
    let status = p.get("status");
    let name = p.get("name").map(str::to_lowercase);
    let provider = p.get("makeProviderId");
    let store = state.lock();
    store.accessible_team(team_id)?;
    let mut rows: Vec<&CredRequest> = store
        .requests
        .values()
        .filter(|r| r.team_id == team_id)
        .filter(|r| user_id.is_none_or(|u| u == r.user_id))
        .filter(|r| status.is_none_or(|s| s == store.request_status(r)))
        .filter(|r| {
            name.as_ref()
                .is_none_or(|n| r.name.to_lowercase().contains(n))
        })
        // Sandbox requests have no Make provider, so a provider filter matches nothing.
        .filter(|_| provider.is_none())
        .collect();
    rows.sort_by(|a, b| {
        let o = sort_key(&store, a, b, sort_by);
        if sort_dir == "desc" { o.reverse() } else { o }
    });
    let total = rows.len();
    let cols = p.cols();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|r| project(render::request(&store, r), cols.as_deref()))
        .collect();
    Ok(Json(json!({
        "requests": page,
        "pg": {"offset": offset, "limit": limit, "sortBy": sort_by, "sortDir": sort_dir, "total": total},
    })))
}

async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let store = state.lock();
    let r = store.request(&id)?;
    Ok(Json(
        json!({ "request": project(render::request(&store, r), p.cols().as_deref()) }),
    ))
}

async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let store = state.lock();
    let r = store.request(&id)?;
    Ok(Json(
        json!({ "requestDetail": render::request_detail(&store, r) }),
    ))
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    credentials::delete_request(&mut state.lock(), &id, p.confirmed())?;
    Ok(Json(json!({ "deleted": true })))
}

fn credential_response(store: &Store, id: &str, p: &Params) -> ApiResult {
    let c = store.credential(id)?;
    Ok(Json(
        json!({ "credential": project(render::credential(c), p.cols().as_deref()) }),
    ))
}

async fn decline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let body = optional_json_object(&body)?.unwrap_or_default();
    let reason = Fields(&body)
        .opt_str("reason", MAX_DESCRIPTION)?
        .filter(|r| !r.is_empty());
    let mut store = state.lock();
    credentials::decline(&mut store, &id, reason)?;
    credential_response(&store, &id, &p)
}

async fn delete_remote(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let mut store = state.lock();
    credentials::delete_remote(&mut store, &id)?;
    credential_response(&store, &id, &p)
}

/// `teamId`, `name` and `description` common to the `actions/*` creators.
fn request_header(
    store: &Store,
    body: &Map<String, Value>,
) -> Result<(u64, String, Option<String>), ApiError> {
    let f = Fields(body);
    let team_id = f.req_u64("teamId")?;
    store.accessible_team(team_id)?;
    let name = f
        .opt_str("name", MAX_NAME)?
        .filter(|n| !n.trim().is_empty());
    let description = f.opt_str("description", MAX_DESCRIPTION)?;
    Ok((
        team_id,
        name.unwrap_or_else(|| DEFAULT_NAME.into()),
        description,
    ))
}

fn count_check(key: &str, len: usize, min: usize, max: usize) -> Result<(), ApiError> {
    if len < min || len > max {
        return Err(
            ApiError::invalid_input(format!("Invalid value in parameter '{key}'."))
                .with_detail(format!("'{key}' must contain {min} to {max} items.")),
        );
    }
    Ok(())
}

fn app_version(app: &App, raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None | Some("latest") => Ok(app.latest()),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| app.versions.contains(n))
            .ok_or_else(|| ApiError::not_found("App version", format!("{}@{v}", app.name))),
    }
}

/// Turns one `actions/create` item into credentials, one per credential type it needs.
fn credentials_for_app_item(item: &Map<String, Value>) -> Result<Vec<NewCredential>, ApiError> {
    let f = Fields(item);
    let app_name = f.req_str("appName", 128)?;
    let app = catalog::app(&app_name)
        .ok_or_else(|| ApiError::bad_request(format!("App '{app_name}' does not exist.")))?;
    let version = match item.get("appVersion") {
        None | Some(Value::Null) => app.latest(),
        Some(Value::Number(n)) => app_version(app, Some(&n.to_string()))?,
        Some(Value::String(s)) => app_version(app, Some(s))?,
        Some(_) => return Err(super::input::wrong_type("appVersion", "a number")),
    };
    let modules = f.opt_str_array("appModules")?;
    let endpoints = f.opt_str_array("appEndpoints")?;
    if modules.is_none() && endpoints.is_none() {
        return Err(
            ApiError::invalid_input("Either 'appModules' or 'appEndpoints' is required.")
                .with_detail(format!(
                    "Credential for app '{app_name}' selects neither modules nor endpoints."
                )),
        );
    }
    // (kind, module ids, scopes) in first-seen order.
    let mut needs: Vec<(&str, Vec<String>, Vec<String>)> = Vec::new();
    let mut add = |kind: &'static str, module: Option<&str>, scope: &[&str]| {
        let pos = needs
            .iter()
            .position(|(k, _, _)| *k == kind)
            .unwrap_or_else(|| {
                needs.push((kind, Vec::new(), Vec::new()));
                needs.len() - 1
            });
        if let Some(m) = module {
            needs[pos].1.push(m.to_owned());
        }
        needs[pos].2.extend(scope.iter().map(|s| s.to_string()));
    };
    if let Some(modules) = &modules {
        count_check("appModules", modules.len(), 1, 1000)?;
        let all = modules.iter().any(|m| m == "*");
        for m in app
            .modules
            .iter()
            .filter(|m| all || modules.iter().any(|id| id == m.id))
        {
            add(m.kind, Some(m.id), m.scope);
        }
        if let Some(unknown) = modules
            .iter()
            .find(|id| *id != "*" && !app.modules.iter().any(|m| m.id == id.as_str()))
        {
            return Err(ApiError::bad_request(format!("Module '{unknown}' does not exist."))
                .with_detail(format!("App '{app_name}' version {version} has no module '{unknown}' that uses credentials.")));
        }
    }
    if let Some(endpoints) = &endpoints {
        count_check("appEndpoints", endpoints.len(), 1, 1000)?;
        add(app.endpoint_kind, None, &[]);
    }
    let description = f.opt_str("description", MAX_DESCRIPTION)?;
    let name_override = f.opt_str("nameOverride", MAX_NAME)?;
    needs
        .into_iter()
        .map(|(kind, modules, scope)| {
            let (component, type_name) = catalog::credential_for_kind(kind)
                .ok_or_else(|| ApiError::bad_request("Invalid module credential type"))?;
            let (component, auth) = match component {
                "account" => (Component::Account, connection_type(type_name)?.auth),
                _ => (Component::Keychain, key_type(type_name).map(|_| "key")?),
            };
            let mut c =
                NewCredential::new(component, type_name, auth, type_label(component, type_name));
            c.scope = scope;
            c.app_name = Some(app_name.clone());
            c.app_modules = modules;
            c.app_version = Some(version);
            c.description = description.clone();
            c.name_override = name_override.clone();
            Ok(c)
        })
        .collect()
}

async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let body = json_object(&body)?;
    let mut store = state.lock();
    let (team_id, name, description) = request_header(&store, &body)?;
    let items = Fields(&body)
        .opt_obj_array("credentials")?
        .ok_or_else(|| missing("credentials"))?;
    count_check("credentials", items.len(), 1, 64)?;
    let mut creds = Vec::new();
    for item in items {
        creds.extend(credentials_for_app_item(item)?);
    }
    let id = credentials::create_request(&mut store, team_id, name, description, creds);
    let request = render::request(&store, store.request(&id)?);
    Ok(Json(
        json!({ "request": request, "publicUri": state.public_uri(&id) }),
    ))
}

fn prefill(f: &Fields<'_>) -> Result<Option<Value>, ApiError> {
    let Some(p) = f.opt_object("prefill")? else {
        return Ok(None);
    };
    for part in ["hard", "soft"] {
        match p.get(part) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => {
                return Err(super::input::wrong_type(
                    &format!("prefill.{part}"),
                    "an object",
                ));
            }
        }
    }
    Ok(Some(Value::Object(p.clone())))
}

async fn create_by_credentials(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let body = json_object(&body)?;
    let mut store = state.lock();
    let (team_id, name, description) = request_header(&store, &body)?;
    let f = Fields(&body);
    let conns = f.opt_obj_array("connections")?.unwrap_or_default();
    let keys = f.opt_obj_array("keys")?.unwrap_or_default();
    count_check("connections", conns.len(), 0, 32)?;
    count_check("keys", keys.len(), 0, 32)?;
    if conns.is_empty() && keys.is_empty() {
        return Err(ApiError::invalid_input(
            "At least one connection or key is required.",
        ));
    }
    let mut creds = Vec::new();
    for item in conns {
        let f = Fields(item);
        let ct = connection_type(&f.req_str("type", 64)?)?;
        let scope = f.opt_str_array("scope")?.unwrap_or_default();
        validate_scopes(ct, &scope)?;
        let mut c = NewCredential::new(Component::Account, ct.name, ct.auth, ct.label);
        c.scope = scope;
        c.description = f.opt_str("description", MAX_DESCRIPTION)?;
        c.name_override = f.opt_str("nameOverride", MAX_NAME)?;
        c.prefill = prefill(&f)?;
        creds.push(c);
    }
    for item in keys {
        let f = Fields(item);
        let kt = key_type(&f.req_str("type", 64)?)?;
        let mut c = NewCredential::new(Component::Keychain, kt.name, "key", kt.label);
        c.description = f.opt_str("description", MAX_DESCRIPTION)?;
        c.name_override = f.opt_str("nameOverride", MAX_NAME)?;
        c.prefill = prefill(&f)?;
        creds.push(c);
    }
    let id = credentials::create_request(&mut store, team_id, name, description, creds);
    let req = store.request(&id)?;
    let credentials: Vec<Value> = store
        .credentials_of(req)
        .into_iter()
        .map(render::credential)
        .collect();
    Ok(Json(json!({
        "request": render::request(&store, req),
        "credentials": credentials,
        "publicUri": state.public_uri(&id),
    })))
}

async fn extend(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let body = json_object(&body)?;
    let f = Fields(&body);
    let conn_id = f.req_u64("connectionId")?;
    let scopes = f
        .opt_str_array("scopes")?
        .ok_or_else(|| missing("scopes"))?;
    count_check("scopes", scopes.len(), 1, 1000)?;
    let mut store = state.lock();
    let conn = store.connection(conn_id)?;
    let ct = connection_type(&conn.type_name)?;
    if ct.auth != "oauth" {
        return Err(
            ApiError::bad_request("Connection does not support scopes.").with_detail(format!(
                "Connection type '{}' is not an OAuth connection.",
                ct.name
            )),
        );
    }
    validate_scopes(ct, &scopes)?;
    if scopes.iter().all(|s| conn.scopes.contains(s)) {
        return Err(
            ApiError::bad_request("No new scopes requested.").with_detail(format!(
                "All requested scopes are already granted to connection {conn_id}."
            )),
        );
    }
    let mut c = NewCredential::new(Component::Account, ct.name, ct.auth, ct.label);
    c.scope = scopes;
    c.extends = Some(conn_id);
    c.remote_scope = conn.scopes.clone();
    c.name_override = Some(conn.name.clone());
    let (team_id, name) = (conn.team_id, format!("Extend connection '{}'", conn.name));
    let id = credentials::create_request(&mut store, team_id, name, None, vec![c]);
    let request = render::request(&store, store.request(&id)?);
    Ok(Json(
        json!({ "request": request, "publicUri": state.public_uri(&id) }),
    ))
}

async fn modules_with_credentials(Path((app_name, version)): Path<(String, String)>) -> ApiResult {
    let app = catalog::app(&app_name).ok_or_else(|| ApiError::not_found("App", &app_name))?;
    app_version(app, Some(&version))?;
    let modules: Vec<Value> = app
        .modules
        .iter()
        .map(|m| json!({"id": m.id, "name": m.id, "label": m.label, "type": m.kind, "scope": m.scope, "hook": m.hook}))
        .collect();
    Ok(Json(json!({ "appModules": modules })))
}
