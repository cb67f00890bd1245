//! `GET /organizations`: the organizations the caller belongs to, in Make's shape. Every
//! seeded person and the key belong to organization 1; its `zone` is the sandbox's own
//! host, so a client can match it against the API URL it uses, as with a real zone.
//! `GET /organizations/{id}` gives one with its `license.apiLimit`: the requests a minute
//! the sandbox enforces ([`SandboxOptions::rate_limit`](super::SandboxOptions::rate_limit)),
//! or Make's smallest plan's 60 when it enforces none.

use axum::extract::{Path, State};
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

use super::AppState;
use super::errors::ApiError;
use super::input::numeric_id;
use super::state::ORGANIZATION_ID;

/// The `apiLimit` reported when the sandbox enforces no limit: Make's Core plan's.
pub(crate) const DEFAULT_API_LIMIT: u32 = 60;

/// The seeded organization's name.
pub(crate) const ORGANIZATION_NAME: &str = "Sandbox Organization";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/organizations", get(list))
        .route("/organizations/{organizationId}", get(get_one))
}

/// The seeded organization as Make lists it.
fn organization(state: &AppState) -> Value {
    json!({
        "id": ORGANIZATION_ID,
        "name": ORGANIZATION_NAME,
        "countryId": 1,
        "timezoneId": 113,
        "zone": state.origin.trim_start_matches("http://"),
        "serviceName": "default",
        "isPaused": false,
        "externalId": null,
    })
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "organizations": [organization(&state)],
        "pg": {"sortBy": "name", "limit": 10000, "sortDir": "asc", "offset": 0},
    }))
}

async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if numeric_id(&id, "Organization")? != ORGANIZATION_ID {
        return Err(ApiError::not_found("Organization", id));
    }
    let mut organization = organization(&state);
    organization["license"] = json!({
        "apiLimit": state.rate_limit.per_minute().unwrap_or(DEFAULT_API_LIMIT),
    });
    Ok(Json(json!({ "organization": organization })))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::Sandbox;

    use crate::tests::key_get as get;

    #[tokio::test]
    async fn organizations_lists_the_callers_organization_in_its_zone() {
        let sb = Sandbox::start().await.unwrap();
        let answer: Value = get(&sb, "/organizations").await.json().await.unwrap();
        let zone = sb.origin().trim_start_matches("http://").to_owned();
        assert_eq!(answer["organizations"][0]["id"], 1);
        assert_eq!(answer["organizations"][0]["zone"], zone.as_str());
        assert_eq!(answer["organizations"].as_array().unwrap().len(), 1);
        assert!(answer["pg"].is_object());
    }

    #[tokio::test]
    async fn one_organization_reports_the_limit_the_sandbox_enforces() {
        let sb = Sandbox::start().await.unwrap();
        let answer: Value = get(&sb, "/organizations/1").await.json().await.unwrap();
        assert_eq!(answer["organization"]["id"], 1);
        assert_eq!(answer["organization"]["license"]["apiLimit"], 60);
        assert_eq!(get(&sb, "/organizations/2").await.status(), 404);
        let limited = Sandbox::start_with(crate::SandboxOptions {
            rate_limit: Some(240),
            ..Default::default()
        })
        .await
        .unwrap();
        let answer: Value = get(&limited, "/organizations/1")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["organization"]["license"]["apiLimit"], 240);
    }
}
