//! Request parsing shared by the API handlers.
//!
//! Make's query strings repeat keys (`type[]=a&type[]=b`, `google[]=<scope>`, `cols[]=*`,
//! `pg[limit]=5`), which axum's `Query` extractor cannot represent, so the raw query is
//! decoded with `url::form_urlencoded`. Bodies are read as bytes and parsed here so that bad
//! JSON yields Make's error shape rather than axum's plain-text rejection.

use axum::body::Bytes;
use serde_json::{Map, Value};

use super::errors::ApiError;

/// The decoded query string, in order, with repeated keys kept.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Params { pairs }
    }

    /// First value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key, e.g. `all("type[]")`.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `confirmed=true` (literal, as Make sends booleans).
    pub(crate) fn confirmed(&self) -> bool {
        self.get("confirmed") == Some("true")
    }

    /// An optional integer parameter; a non-integer value is a 400.
    pub(crate) fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::invalid_input(format!("Invalid value in parameter '{key}'."))
            }),
        }
    }

    /// A required integer parameter such as `teamId`.
    pub(crate) fn require_u64(&self, key: &str) -> Result<u64, ApiError> {
        self.u64(key)?.ok_or_else(|| missing(key))
    }

    /// The requested column set: `None` means every column (`cols[]=*` or no `cols[]`).
    pub(crate) fn cols(&self) -> Option<Vec<String>> {
        let cols = self.all("cols[]");
        if cols.is_empty() || cols.contains(&"*") {
            None
        } else {
            Some(cols.into_iter().map(str::to_owned).collect())
        }
    }
}

/// Keeps only the requested columns of an object, as Make does for `cols[]=id&cols[]=name`.
pub(crate) fn project(value: Value, cols: Option<&[String]>) -> Value {
    match (value, cols) {
        (Value::Object(map), Some(cols)) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| cols.iter().any(|c| c == k))
                .collect(),
        ),
        (value, _) => value,
    }
}

/// A numeric path id (connections, keys); anything else is an unknown object, 404.
pub(crate) fn numeric_id(raw: &str, what: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what, raw))
}

/// Whether a data value is a scalar Make accepts in connection data.
pub(crate) fn is_scalar(v: &Value) -> bool {
    matches!(
        v,
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
    )
}

pub(crate) fn missing(key: &str) -> ApiError {
    ApiError::invalid_input(format!("Missing value of required parameter '{key}'."))
}

pub(crate) fn wrong_type(key: &str, expected: &str) -> ApiError {
    ApiError::invalid_input(format!("Invalid value in parameter '{key}'."))
        .with_detail(format!("Parameter '{key}' must be {expected}."))
}

/// Parses a body that must be a JSON object.
pub(crate) fn json_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    optional_json_object(body)?
        .ok_or_else(|| ApiError::invalid_input("Request body must be a JSON object."))
}

/// Parses a body that may be absent (empty) or a JSON object.
pub(crate) fn optional_json_object(body: &Bytes) -> Result<Option<Map<String, Value>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::invalid_input("Common data must be a collection.")),
        Err(e) => {
            Err(ApiError::invalid_input("Invalid JSON in request body.").with_detail(e.to_string()))
        }
    }
}

/// Typed field access on a JSON object body, with Make-style validation messages.
pub(crate) struct Fields<'a>(pub(crate) &'a Map<String, Value>);

impl<'a> Fields<'a> {
    pub(crate) fn opt_str(&self, key: &str, max_len: usize) -> Result<Option<String>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                if s.chars().count() > max_len {
                    Err(ApiError::invalid_input(format!(
                        "Value exceeded maximum length of {max_len} chars in parameter '{key}'."
                    )))
                } else {
                    Ok(Some(s.clone()))
                }
            }
            Some(_) => Err(wrong_type(key, "a string")),
        }
    }

    /// A required, non-empty string of at most `max_len` characters.
    pub(crate) fn req_str(&self, key: &str, max_len: usize) -> Result<String, ApiError> {
        match self.opt_str(key, max_len)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(missing(key)),
        }
    }

    pub(crate) fn opt_u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| wrong_type(key, "a positive integer")),
        }
    }

    pub(crate) fn req_u64(&self, key: &str) -> Result<u64, ApiError> {
        self.opt_u64(key)?.ok_or_else(|| missing(key))
    }

    /// An optional array of strings.
    pub(crate) fn opt_str_array(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| wrong_type(key, "an array of strings")),
            Some(_) => Err(wrong_type(key, "an array of strings")),
        }
    }

    /// An optional array of objects.
    pub(crate) fn opt_obj_array(
        &self,
        key: &str,
    ) -> Result<Option<Vec<&'a Map<String, Value>>>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(Value::as_object)
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| wrong_type(key, "an array of objects")),
            Some(_) => Err(wrong_type(key, "an array of objects")),
        }
    }

    pub(crate) fn opt_object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(wrong_type(key, "an object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_and_bracketed_keys_survive_decoding() {
        let p = Params::parse(Some(
            "teamId=1&type%5B%5D=google&type%5B%5D=slack3&google%5B%5D=https%3A%2F%2Fx%2Fy&pg%5Blimit%5D=5&cols[]=*",
        ));
        assert_eq!(p.get("teamId"), Some("1"));
        assert_eq!(p.all("type[]"), vec!["google", "slack3"]);
        assert_eq!(p.all("google[]"), vec!["https://x/y"]);
        assert_eq!(p.get("pg[limit]"), Some("5"));
        assert_eq!(p.cols(), None);
    }

    #[test]
    fn projection_keeps_only_requested_columns() {
        let v = project(
            json!({"id": 1, "name": "a", "x": 2}),
            Some(&["id".to_owned()]),
        );
        assert_eq!(v, json!({"id": 1}));
    }

    #[test]
    fn bodies_are_validated() {
        assert!(
            optional_json_object(&Bytes::from_static(b""))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            json_object(&Bytes::from_static(b"[1]")).unwrap_err().code,
            "IM005"
        );
        let map = json_object(&Bytes::from_static(br#"{"name": 5}"#)).unwrap();
        assert!(Fields(&map).opt_str("name", 10).is_err());
    }
}
