//! Argument types shared by the tools, and the extractor that validates them.
//!
//! Validation lives in the types: an [`Id`] is a positive integer that fits JavaScript's safe
//! range, an [`OpaqueId`] only holds letters, digits, `-` and `_` (so `../../users` can never
//! reach a URL path). [`Parameters`] reports the failing field by name, and rmcp turns the
//! failure into an `isError` result, before any request is sent.

use std::borrow::Cow;

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{DeserializeOwned, Error as _, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::ToolError;
use super::limits::MAX_ECHO_CHARS;
use crate::make::clip;

/// Largest id accepted: JavaScript's `Number.MAX_SAFE_INTEGER`, the largest Make can use.
pub(crate) const MAX_ID: u64 = 9_007_199_254_740_991;

/// The text rmcp looks for to turn an argument failure into an `isError` result.
const RMCP_ARGUMENT_ERROR_PREFIX: &str = "failed to deserialize parameters:";

/// Tool arguments, deserialized with the path of any failing field kept for the message.
///
/// Named `Parameters` on purpose: rmcp's `#[tool]` macro derives the input schema from the
/// argument whose type is called `Parameters`.
pub(crate) struct Parameters<T>(pub(crate) T);

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        parse_arguments(serde_json::Value::Object(arguments))
            .map(Parameters)
            .map_err(|message| {
                // Becomes a tool result without passing through a `ToolError`: noted here.
                crate::server::audit::note_refusal("arguments refused");
                rmcp::ErrorData::invalid_params(
                    format!("{RMCP_ARGUMENT_ERROR_PREFIX} {message}"),
                    None,
                )
            })
    }
}

/// Deserializes tool arguments; the error names the field (`credentials[0].appName`) and the problem.
pub(crate) fn parse_arguments<T: DeserializeOwned>(
    arguments: serde_json::Value,
) -> Result<T, String> {
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        // Both can quote the caller's input (a map key, a string of the wrong type): clipped.
        let path = clip(&e.path().to_string(), 200);
        let inner = clip(&e.into_inner().to_string(), 500);
        let place = if path == "." || path.is_empty() {
            String::new()
        } else {
            format!("invalid argument `{path}`: ")
        };
        format!("{place}{inner}. Nothing was sent to Make; correct the arguments and call again.")
    })
}

/// The team a call works in: the call's `teamId`, else `default` (the server's `MAKE_TEAM`).
pub(crate) fn team(given: Option<Id>, default: Option<u64>) -> Result<u64, ToolError> {
    given.map(|id| id.0).or(default).ok_or_else(|| {
        ToolError::invalid(
            "teamId",
            "is required: pass the numeric teamId (this server has no default team; an operator can set MAKE_TEAM)",
        )
    })
}

/// A numeric Make id (connection, key, team, user): a positive integer up to [`MAX_ID`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub(crate) struct Id(pub(crate) u64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdVisitor)
    }
}

/// Accepts JSON integers in range; names the problem for anything else. (A visitor, rather
/// than mapping errors, keeps serde's own "missing field `x`" message intact.)
struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = Id;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a positive integer id (a JSON number, not a string)")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Id, E> {
        if (1..=MAX_ID).contains(&v) {
            Ok(Id(v))
        } else {
            Err(E::custom(out_of_range(v)))
        }
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Id, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(out_of_range(v))),
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Id, E> {
        Err(E::custom(out_of_range(v)))
    }
}

fn out_of_range(v: impl std::fmt::Display) -> String {
    format!("expected a positive integer id between 1 and {MAX_ID}, got {v}")
}

impl JsonSchema for Id {
    fn schema_name() -> Cow<'static, str> {
        "Id".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 1, "maximum": MAX_ID })
    }
}

/// A credential-request or credential id: 1–128 letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct OpaqueId(pub(crate) String);

impl OpaqueId {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for OpaqueId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OpaqueIdVisitor)
    }
}

/// Accepts 1-128 letters, digits, `-` or `_`; anything else could escape its URL path segment.
struct OpaqueIdVisitor;

impl Visitor<'_> for OpaqueIdVisitor {
    type Value = OpaqueId;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "a string id such as \"a07e16f2ad134bf49cf83a00aa95c0a5\""
        )
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<OpaqueId, E> {
        let valid_chars = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if text.is_empty() || text.len() > 128 || !valid_chars {
            return Err(E::custom(format!(
                "expected a string id of 1 to 128 letters, digits, '-' or '_', got {:?}",
                clip(text, MAX_ECHO_CHARS)
            )));
        }
        Ok(OpaqueId(text.to_string()))
    }
}

impl JsonSchema for OpaqueId {
    fn schema_name() -> Cow<'static, str> {
        "OpaqueId".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "pattern": "^[A-Za-z0-9_-]+$"
        })
    }
}

/// An id Make sends as a string or a number (`makeProviderId`); advertised as a string so
/// the schema stays one type, and accepted either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StringOrNumber(pub(crate) String);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Ok(Self(s)),
            serde_json::Value::Number(n) => Ok(Self(n.to_string())),
            other => Err(D::Error::custom(format!(
                "expected a non-empty string or a number, got {}",
                clip(&other.to_string(), MAX_ECHO_CHARS)
            ))),
        }
    }
}

impl JsonSchema for StringOrNumber {
    fn schema_name() -> Cow<'static, str> {
        "StringOrNumber".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": 1 })
    }
}

/// An app version: a major version number (as number or string) or `"latest"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppVersion(pub(crate) String);

impl<'de> Deserialize<'de> for AppVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(D::Error::custom(format!(
                    "expected a version number or \"latest\", got {}",
                    clip(&other.to_string(), MAX_ECHO_CHARS)
                )));
            }
        };
        let number = !text.is_empty()
            && text.len() <= 6
            && text.bytes().all(|b| b.is_ascii_digit())
            && !text.starts_with('0');
        if text == "latest" || number {
            Ok(Self(text))
        } else {
            Err(D::Error::custom(format!(
                "expected a positive major version number or \"latest\", got {:?}",
                clip(&text, MAX_ECHO_CHARS)
            )))
        }
    }
}

impl JsonSchema for AppVersion {
    fn schema_name() -> Cow<'static, str> {
        "AppVersion".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^(latest|[1-9][0-9]*)$" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Args {
        connection_id: Id,
        #[allow(dead_code)]
        request_id: Option<OpaqueId>,
    }

    fn err(v: serde_json::Value) -> String {
        parse_arguments::<Args>(v).unwrap_err()
    }

    #[test]
    fn ids_are_validated_with_the_field_named() {
        assert_eq!(
            parse_arguments::<Args>(json!({"connectionId": 7}))
                .unwrap()
                .connection_id,
            Id(7)
        );
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("7"),
            json!(1e300),
            json!(9_007_199_254_740_992u64),
        ] {
            let e = err(json!({ "connectionId": bad }));
            assert!(e.contains("invalid argument `connectionId`"), "{e}");
            assert!(e.contains("Nothing was sent"), "{e}");
        }
        assert!(err(json!({})).contains("missing field `connectionId`"));
        assert!(err(json!({"connectionId": 1, "bogus": 1})).contains("unknown field `bogus`"));
    }

    #[test]
    fn opaque_ids_reject_path_characters() {
        let ok =
            parse_arguments::<Args>(json!({"connectionId": 1, "requestId": "a07e16f2ad13_4-x"}));
        assert!(ok.is_ok());
        for bad in ["../../users", "", "a/b", "a b", "a%2F", &"x".repeat(129)] {
            let e = err(json!({"connectionId": 1, "requestId": bad}));
            assert!(e.contains("invalid argument `requestId`"), "{e}");
        }
        assert!(err(json!({"connectionId": 1, "requestId": 5})).contains("requestId"));
    }

    #[test]
    fn huge_inputs_are_not_echoed_whole() {
        let huge = "x/".repeat(100_000);
        let e = err(json!({"connectionId": 1, "requestId": huge}));
        assert!(e.len() < 1000, "{}", e.len());
        let e = err(json!({"connectionId": huge}));
        assert!(e.len() < 1000, "{}", e.len());
    }

    #[test]
    fn string_or_number_accepts_both() {
        let v: StringOrNumber = serde_json::from_value(json!(12)).unwrap();
        assert_eq!(v.0, "12");
        let v: StringOrNumber = serde_json::from_value(json!("ab")).unwrap();
        assert_eq!(v.0, "ab");
        assert!(serde_json::from_value::<StringOrNumber>(json!(true)).is_err());
    }
}
