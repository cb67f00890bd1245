//! `/connections` endpoints: list, get, create, rename, set-data, test, scoped, delete and
//! editable-data-schema (make-api.md §3.1–3.6, §4.2).
//!
//! The create body uses the *other* naming (`accountName` = label, `accountType` = type) and
//! carries data fields at top level; set-data replaces all editable data. Both traps are
//! reproduced so clients are tested against them.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::catalog::{self, ConnectionType};
use super::errors::ApiError;
use super::input::{Fields, Params, is_scalar, json_object, numeric_id, project, wrong_type};
use super::render;
use super::state::{Connection, Health, Store};

type ApiResult = Result<Json<Value>, ApiError>;

/// Label length limit (Make: ≤128 chars).
pub(crate) const MAX_NAME: usize = 128;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections", get(list).post(create))
        .route(
            "/connections/{id}",
            get(get_one).patch(rename).delete(delete),
        )
        .route("/connections/{id}/set-data", post(set_data))
        .route("/connections/{id}/test", post(test))
        .route("/connections/{id}/scoped", post(scoped))
        .route(
            "/connections/{id}/editable-data-schema",
            get(editable_schema),
        )
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let team_id = params.require_u64("teamId")?;
    let store = state.lock();
    store.accessible_team(team_id)?;
    let types = params.all("type[]");
    let mut rows: Vec<&Connection> = store
        .connections
        .values()
        .filter(|c| c.team_id == team_id)
        .filter(|c| types.is_empty() || types.contains(&c.type_name.as_str()))
        .collect();
    rows.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    let cols = params.cols();
    let out: Vec<Value> = rows
        .into_iter()
        .map(|c| {
            // The per-type scope filter annotates `scoped`; it does not drop rows.
            let wanted = params.all(&format!("{}[]", c.type_name));
            let scoped = wanted.iter().all(|s| c.scopes.iter().any(|have| have == s));
            project(
                render::connection(&store, c, false, scoped),
                cols.as_deref(),
            )
        })
        .collect();
    Ok(Json(json!({ "connections": out })))
}

async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let store = state.lock();
    let c = store.connection(numeric_id(&id, "Connection")?)?;
    let v = render::connection(&store, c, true, true);
    Ok(Json(
        json!({ "connection": project(v, params.cols().as_deref()) }),
    ))
}

/// Checks requested scopes the way Make can before asking the provider: each must be
/// well-formed for the connection type's provider (see `scopes.rs`; real Make leaves
/// whether a scope exists to the provider, so the sandbox does not check a list either).
pub(crate) fn validate_scopes(ct: &ConnectionType, scopes: &[String]) -> Result<(), ApiError> {
    match scopes.iter().find(|s| !ct.accepts_scope(s)) {
        Some(s) => {
            Err(ApiError::bad_request("Invalid scope").with_detail(ct.scope_error_detail(s)))
        }
        None => Ok(()),
    }
}

/// Looks up a connection type, or Make's 400 "Invalid connection type".
pub(crate) fn connection_type(name: &str) -> Result<&'static ConnectionType, ApiError> {
    catalog::connection_type(name).ok_or_else(|| {
        ApiError::bad_request("Invalid connection type")
            .with_detail(format!("Connection type '{name}' does not exist."))
    })
}

/// Inserts a new connection and returns its id (shared with credential authorization).
pub(crate) fn insert_connection(
    store: &mut Store,
    ct: &ConnectionType,
    name: String,
    team_id: u64,
    scopes: Vec<String>,
    data: Map<String, Value>,
) -> u64 {
    let mut scopes = if scopes.is_empty() && ct.auth == "oauth" {
        ct.default_scopes.iter().map(|s| s.to_string()).collect()
    } else {
        scopes
    };
    dedup(&mut scopes);
    let id = store.next_connection_id();
    let uid = if ct.auth == "oauth" {
        json!(store.random_u64() >> 12)
    } else {
        Value::Null
    };
    store.connections.insert(
        id,
        Connection {
            id,
            name,
            type_name: ct.name.into(),
            team_id,
            scopes,
            data,
            scenario_usages: Vec::new(),
            health: Health::Ok,
            metadata: Value::Null,
            uid,
            expire: None,
        },
    );
    id
}

/// Removes duplicates, keeping first occurrences in order.
pub(crate) fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|s| seen.insert(s.clone()));
}

async fn create(State(state): State<AppState>, RawQuery(q): RawQuery, body: Bytes) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let team_id = params.require_u64("teamId")?;
    state.lock().accessible_team(team_id)?;
    let body = json_object(&body)?;
    let fields = Fields(&body);
    for (wrong, right) in [
        ("name", "accountName"),
        ("scope", "scopes"),
        ("data", "top-level fields"),
    ] {
        if body.contains_key(wrong) {
            return Err(ApiError::invalid_input(format!("Unknown parameter '{wrong}'."))
                .with_detail(format!(
                    "The create body takes '{right}' instead of '{wrong}' (label = accountName, type = accountType)."
                )));
        }
    }
    let label = fields.req_str("accountName", MAX_NAME)?;
    let type_name = fields.req_str("accountType", 64)?;
    let ct = connection_type(&type_name)?;
    let scopes = fields.opt_str_array("scopes")?.unwrap_or_default();
    validate_scopes(ct, &scopes)?;
    let mut data = Map::new();
    for (k, v) in &body {
        if matches!(k.as_str(), "accountName" | "accountType" | "scopes") {
            continue;
        }
        if !ct.params.contains(&k.as_str()) {
            return Err(ApiError::invalid_input(format!("Invalid parameter '{k}'."))
                .with_suberror(format!("Unknown data parameter '{k}'."))
                .with_detail(format!(
                    "Connection type '{}' accepts: {}.",
                    ct.name,
                    if ct.params.is_empty() {
                        "no data parameters".into()
                    } else {
                        ct.params.join(", ")
                    }
                )));
        }
        if !is_scalar(v) {
            return Err(wrong_type(k, "a string, number or boolean"));
        }
        data.insert(k.clone(), v.clone());
    }
    for r in ct.required {
        if data
            .get(*r)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        {
            return Err(ApiError::invalid_input(format!(
                "Missing value of required parameter '{r}'."
            )));
        }
    }
    let mut store = state.lock();
    store.accessible_team(team_id)?;
    let id = insert_connection(&mut store, ct, label, team_id, scopes, data);
    let c = store.connection(id)?;
    Ok(Json(
        json!({ "connection": render::connection(&store, c, true, true) }),
    ))
}

async fn rename(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let id = numeric_id(&id, "Connection")?;
    state.lock().connection(id)?;
    let body = json_object(&body)?;
    let name = Fields(&body).req_str("name", MAX_NAME)?;
    let mut store = state.lock();
    store.connection_mut(id)?.name = name;
    let v = render::connection(&store, store.connection(id)?, true, true);
    Ok(Json(
        json!({ "connection": project(v, params.cols().as_deref()) }),
    ))
}

async fn set_data(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = numeric_id(&id, "Connection")?;
    let mut store = state.lock();
    let c = store.connection(id)?;
    let ct = catalog::connection_type(&c.type_name)
        .filter(|t| !t.editable.is_empty())
        .ok_or_else(|| ApiError::invalid_input("Cannot edit this connection."))?;
    let body = json_object(&body)?;
    for (k, v) in &body {
        if !ct.editable.contains(&k.as_str()) {
            return Err(
                ApiError::invalid_input(format!("Parameter '{k}' is not editable."))
                    .with_detail(format!("Editable parameters: {}.", ct.editable.join(", "))),
            );
        }
        if !is_scalar(v) {
            return Err(wrong_type(k, "a string, number or boolean"));
        }
    }
    // Make's documented behaviour: every editable parameter left out is set empty.
    let data: Map<String, Value> = ct
        .editable
        .iter()
        .map(|p| {
            (
                p.to_string(),
                body.get(*p).cloned().unwrap_or_else(|| json!("")),
            )
        })
        .collect();
    store.connection_mut(id)?.data = data;
    Ok(Json(json!({ "changed": true })))
}

async fn test(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let store = state.lock();
    let c = store.connection(numeric_id(&id, "Connection")?)?;
    match c.health {
        Health::Ok => Ok(Json(json!({ "verified": true }))),
        Health::Invalid => Ok(Json(json!({ "verified": false }))),
        Health::Broken => Err(ApiError::failed_dependency("Connection action crashed")
            .with_detail("The service behind this connection returned an unexpected response.")),
    }
}

async fn scoped(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = numeric_id(&id, "Connection")?;
    state.lock().connection(id)?;
    let body = json_object(&body)?;
    let wanted = Fields(&body)
        .opt_str_array("scope")?
        .ok_or_else(|| super::input::missing("scope"))?;
    let store = state.lock();
    let c = store.connection(id)?;
    let scoped = wanted.iter().all(|s| c.scopes.contains(s));
    Ok(Json(json!({ "connection": { "scoped": scoped } })))
}

async fn editable_schema(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let store = state.lock();
    let c = store.connection(numeric_id(&id, "Connection")?)?;
    let editable = catalog::connection_type(&c.type_name).map_or(&[][..], |t| t.editable);
    Ok(Json(json!({ "editableParameters": editable })))
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let id = numeric_id(&id, "Connection")?;
    let mut store = state.lock();
    let c = store.connection(id)?;
    if !c.scenario_usages.is_empty() && !params.confirmed() {
        return Err(ApiError::confirmation_required(format!(
            "The connection is used in {} scenario(s); deleting it breaks them.",
            c.scenario_usages.len()
        )));
    }
    store.connections.remove(&id);
    Ok(Json(json!({ "connection": id })))
}
