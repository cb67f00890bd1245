//! `/keys` endpoints: list, get, create, update, delete and types (make-api.md §3.7–3.11,
//! §4.3). Parameters are validated against the key type's parameter list, stored, and
//! never returned.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::catalog::{self, KeyType};
use super::connections::MAX_NAME;
use super::errors::ApiError;
use super::input::{Fields, Params, json_object, numeric_id, project, wrong_type};
use super::render;
use super::state::{Key, Store};

type ApiResult = Result<Json<Value>, ApiError>;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(list).post(create))
        .route("/keys/types", get(types))
        .route("/keys/{id}", get(get_one).patch(update).delete(delete))
}

/// Looks up a key type, or 400 "Invalid key type".
pub(crate) fn key_type(name: &str) -> Result<&'static KeyType, ApiError> {
    catalog::key_type(name).ok_or_else(|| {
        ApiError::bad_request("Invalid key type").with_detail(format!(
            "Key type '{name}' does not exist. Known types: {}.",
            catalog::KEY_TYPES
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn expected(kt: &KeyType) -> String {
    let names: Vec<&str> = kt.params.iter().map(|p| p.name).collect();
    format!(
        "Key type '{}' takes parameters: {}.",
        kt.name,
        names.join(", ")
    )
}

/// Longest parameter value accepted. Make's own limit is unconfirmed; this covers API keys,
/// tokens and hex/base64 key material while keeping a bound on what a request can store.
pub(crate) const MAX_PARAMETER_LEN: usize = 4096;

/// Merges `given` over `base`, applies defaults and checks names, types, lengths, options
/// and required values. Returns the full parameter set to store. The one validator for
/// key parameters: `keys_create`, `keys_update` and the consent page's key form all use it.
pub(crate) fn validate_parameters(
    kt: &KeyType,
    base: &Map<String, Value>,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut out = base.clone();
    for (k, v) in given {
        let Some(p) = kt.params.iter().find(|p| p.name == k) else {
            return Err(ApiError::invalid_input(format!("Invalid parameter '{k}'."))
                .with_detail(expected(kt)));
        };
        let Some(s) = v.as_str() else {
            return Err(wrong_type(&format!("parameters.{k}"), "a string"));
        };
        if s.chars().count() > MAX_PARAMETER_LEN {
            return Err(ApiError::invalid_input(format!(
                "Value exceeded maximum length of {MAX_PARAMETER_LEN} chars in parameter '{k}'."
            )));
        }
        if !p.options.is_empty() && !p.options.contains(&s) {
            return Err(
                ApiError::invalid_input(format!("Invalid value in parameter '{k}'."))
                    .with_detail(format!("Allowed values: {}.", p.options.join(", "))),
            );
        }
        out.insert(k.clone(), v.clone());
    }
    for p in kt.params {
        if let (None, Some(d)) = (out.get(p.name), p.default) {
            out.insert(p.name.into(), json!(d));
        }
        let empty = out
            .get(p.name)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if p.required && empty {
            return Err(ApiError::invalid_input(format!(
                "Missing value of required parameter '{}'.",
                p.name
            ))
            .with_detail(expected(kt)));
        }
    }
    Ok(out)
}

/// Inserts a key and returns its id (shared with credential authorization).
pub(crate) fn insert_key(
    store: &mut Store,
    kt: &KeyType,
    name: String,
    team_id: u64,
    parameters: Map<String, Value>,
) -> u64 {
    let id = store.next_key_id();
    store.keys.insert(
        id,
        Key {
            id,
            name,
            type_name: kt.name.into(),
            team_id,
            parameters,
        },
    );
    id
}

async fn list(State(state): State<AppState>, RawQuery(q): RawQuery) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let team_id = params.require_u64("teamId")?;
    let type_filter = params.get("typeName");
    let store = state.lock();
    store.accessible_team(team_id)?;
    let cols = params.cols();
    let keys: Vec<Value> = store
        .keys
        .values()
        .filter(|k| k.team_id == team_id && type_filter.is_none_or(|t| t == k.type_name))
        .map(|k| project(render::key(k), cols.as_deref()))
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

async fn types() -> Json<Value> {
    let types: Vec<Value> = catalog::KEY_TYPES
        .iter()
        .map(catalog::key_type_json)
        .collect();
    Json(json!({ "keysTypes": types }))
}

async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let store = state.lock();
    let k = store.key(numeric_id(&id, "Key")?)?;
    Ok(Json(
        json!({ "key": project(render::key(k), params.cols().as_deref()) }),
    ))
}

async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let body = json_object(&body)?;
    let f = Fields(&body);
    let team_id = f.req_u64("teamId")?;
    let name = f.req_str("name", MAX_NAME)?;
    let type_name = f.req_str("typeName", 64)?;
    let given = f
        .opt_object("parameters")?
        .ok_or_else(|| super::input::missing("parameters"))?;
    let mut store = state.lock();
    store.accessible_team(team_id)?;
    let kt = key_type(&type_name)?;
    let parameters = validate_parameters(kt, &Map::new(), given)?;
    let id = insert_key(&mut store, kt, name, team_id, parameters);
    Ok(Json(json!({ "key": render::key(store.key(id)?) })))
}

async fn update(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = numeric_id(&id, "Key")?;
    let body = json_object(&body)?;
    let f = Fields(&body);
    let name = f.opt_str("name", MAX_NAME)?;
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(super::input::missing("name"));
    }
    let given = f.opt_object("parameters")?;
    let mut store = state.lock();
    let key = store.key(id)?;
    let parameters = match given {
        Some(given) => Some(validate_parameters(
            key_type(&key.type_name)?,
            &key.parameters,
            given,
        )?),
        None => None,
    };
    let key = store.key_mut(id)?;
    if let Some(name) = name {
        key.name = name;
    }
    if let Some(parameters) = parameters {
        key.parameters = parameters;
    }
    Ok(Json(json!({ "key": render::key(store.key(id)?) })))
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = Params::parse(q.as_deref());
    let id = numeric_id(&id, "Key")?;
    let mut store = state.lock();
    store.key(id)?;
    if !params.confirmed() {
        return Err(ApiError::confirmation_required(
            "Deleting a key breaks every scenario that uses it.",
        ));
    }
    store.keys.remove(&id);
    Ok(Json(json!({ "key": id })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_get_defaults_and_checks() {
        let kt = catalog::key_type("apikeyauth").unwrap();
        let given: Map<String, Value> = serde_json::from_value(json!({"key": "k"})).unwrap();
        let out = validate_parameters(kt, &Map::new(), &given).unwrap();
        assert_eq!(out["placement"], "header");
        assert_eq!(out["name"], "X-API-Key");

        let basic = catalog::key_type("basicauth").unwrap();
        let wrong: Map<String, Value> =
            serde_json::from_value(json!({"user": "u", "pass": "p"})).unwrap();
        let err = validate_parameters(basic, &Map::new(), &wrong).unwrap_err();
        assert!(err.detail.unwrap().contains("authUser"));

        let bad_option: Map<String, Value> =
            serde_json::from_value(json!({"key": "k", "placement": "cookie"})).unwrap();
        assert!(validate_parameters(kt, &Map::new(), &bad_option).is_err());

        let too_long: Map<String, Value> =
            serde_json::from_value(json!({"key": "k".repeat(MAX_PARAMETER_LEN + 1)})).unwrap();
        let err = validate_parameters(kt, &Map::new(), &too_long).unwrap_err();
        assert!(err.message.contains("maximum length") && err.message.contains("'key'"));
    }
}
