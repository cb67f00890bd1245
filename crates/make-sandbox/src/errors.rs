//! Make-shaped error bodies.
//!
//! Make answers every failure with `{"message","code","detail"?,"suberrors"?}` and an HTTP
//! status that callers branch on (make-api.md §1.6). Handlers return [`ApiError`] so the
//! status/code pairing is decided in one place and clients see exactly what Make sends.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

/// One Make API error: HTTP status plus the JSON body fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) detail: Option<String>,
    pub(crate) suberrors: Vec<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
            suberrors: Vec::new(),
        }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn with_suberror(mut self, message: impl Into<String>) -> Self {
        self.suberrors.push(message.into());
        self
    }

    /// 401 `IM015`, as Make answers a missing or unknown token.
    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "IM015", "User is not logged in.")
    }

    /// 403 `SC403`: the object or team belongs to an organization the token cannot see.
    pub(crate) fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "SC403", "Permission denied").with_detail("Access denied.")
    }

    /// 404 `SC404` for an unknown id (or an unknown path).
    pub(crate) fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, "SC404", format!("{what} not found"))
            .with_detail(format!("{what} with id '{id}' does not exist."))
    }

    /// 400 `IM005`: the request body or query is malformed or fails validation.
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "IM005", message)
    }

    /// 400 `SC400`: a semantically invalid value such as an unknown type or scope.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "SC400", message)
    }

    /// 400 `IM004`: a destructive call without `confirmed=true`.
    pub(crate) fn confirmation_required(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "IM004",
            "Confirmation required. Repeat the request with confirmed=true.",
        )
        .with_detail(detail)
    }

    /// 424 `SC424`: the third-party check behind a connection failed.
    pub(crate) fn failed_dependency(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FAILED_DEPENDENCY, "SC424", message)
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("message".into(), json!(self.message));
        body.insert("code".into(), json!(self.code));
        if let Some(detail) = &self.detail {
            body.insert("detail".into(), json!(detail));
        }
        if !self.suberrors.is_empty() {
            let subs: Vec<Value> = self
                .suberrors
                .iter()
                .map(|m| json!({ "message": m }))
                .collect();
            body.insert("suberrors".into(), Value::Array(subs));
        }
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// Fallback for unknown `/api/v2` paths (paths are case-sensitive, `/Connections` is a 404).
pub(crate) async fn api_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "SC404", "Not Found")
        .with_detail("The requested API endpoint does not exist.")
}

/// A known path with the wrong method, in Make's error shape instead of an empty 405.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "SC405",
        "Method Not Allowed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_omits_empty_optional_fields() {
        let body = ApiError::unauthorized().body();
        assert_eq!(
            body,
            json!({"message": "User is not logged in.", "code": "IM015"})
        );
    }

    #[test]
    fn body_carries_detail_and_suberrors() {
        let body = ApiError::bad_request("Invalid scope")
            .with_detail("d")
            .with_suberror("s")
            .body();
        assert_eq!(
            body,
            json!({"message": "Invalid scope", "code": "SC400", "detail": "d", "suberrors": [{"message": "s"}]})
        );
    }
}
