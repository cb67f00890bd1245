//! `GET /organizations`: the organizations the caller belongs to, in Make's shape. Every
//! seeded person and the key belong to organization 1; its `zone` is the sandbox's own
//! host, so a client can match it against the API URL it uses, as with a real zone.

use axum::extract::State;
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

use super::AppState;
use super::state::ORGANIZATION_ID;

/// The seeded organization's name.
pub(crate) const ORGANIZATION_NAME: &str = "Sandbox Organization";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/organizations", get(list))
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let zone = state.origin.trim_start_matches("http://");
    Json(json!({
        "organizations": [{
            "id": ORGANIZATION_ID,
            "name": ORGANIZATION_NAME,
            "countryId": 1,
            "timezoneId": 113,
            "zone": zone,
            "serviceName": "default",
            "isPaused": false,
            "externalId": null,
        }],
        "pg": {"sortBy": "name", "limit": 10000, "sortDir": "asc", "offset": 0},
    }))
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
}
