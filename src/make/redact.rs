//! The one place where secret-looking fields are dropped from what Make returns.
//!
//! The models pass Make's unknown fields through to tool results ([`Extra`]), so that new
//! fields reach the model without a release. Make documents that it never returns secrets,
//! but if it ever did (a key's `parameters`, a connection's `data`, an OAuth token), they
//! would land in the chat. Every model's pass-through map, and every free-form value such
//! as a connection's `metadata`, is therefore filtered here on deserialization, at any depth.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Field names dropped wherever they appear (compared case-insensitively, ignoring `_`
/// and `-`): what Make calls a connection's data and a key's secret parameters, and the
/// usual names of bare secrets.
const SECRET_NAMES: [&str; 8] = [
    "data",
    "parameters",
    "prefill",
    "authorization",
    "cookie",
    "signature",
    "certificate",
    "cert",
];

/// Parts that make any name secret (`accessToken`, `clientSecret`, `privateKey`; `tokenId`
/// too: over-dropping an id costs less than leaking a token).
const SECRET_PARTS: [&str; 6] = ["secret", "token", "password", "passwd", "private", "apikey"];

/// Endings that make a name secret (`authPass`, `userPwd`, `aesKey`, `accessKey`).
const SECRET_ENDINGS: [&str; 3] = ["pass", "pwd", "key"];

/// True for a field name that may hold a secret.
///
/// Runs for every field name in every Make answer, so the usual short ASCII name is folded
/// on the stack; longer or non-ASCII names take the general (Unicode) path.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let mut buf = [0u8; 64];
    let mut len = 0;
    for byte in name.bytes() {
        if matches!(byte, b'_' | b'-') {
            continue;
        }
        if !byte.is_ascii() || len == buf.len() {
            let folded: String = name
                .chars()
                .filter(|c| !matches!(c, '_' | '-'))
                .flat_map(char::to_lowercase)
                .collect();
            return is_secret_folded(folded.as_bytes());
        }
        buf[len] = byte.to_ascii_lowercase();
        len += 1;
    }
    is_secret_folded(&buf[..len])
}

/// The name rules, on a name already lower-cased and without `_` and `-`.
fn is_secret_folded(folded: &[u8]) -> bool {
    let contains = |part: &str| folded.windows(part.len()).any(|w| w == part.as_bytes());
    SECRET_NAMES.iter().any(|n| n.as_bytes() == folded)
        || SECRET_PARTS.iter().any(|p| contains(p))
        || SECRET_ENDINGS
            .iter()
            .any(|e| folded.ends_with(e.as_bytes()))
}

/// Drops secret-named fields from `value`, in nested objects and arrays too.
pub(crate) fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => scrub_map(map),
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn scrub_map(map: &mut Map<String, Value>) {
    map.retain(|name, _| !is_secret_name(name));
    map.values_mut().for_each(scrub);
}

/// For `#[serde(deserialize_with)]` on free-form `Option<Value>` fields (`metadata`).
pub(crate) fn scrubbed<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    let mut value = Option::<Value>::deserialize(deserializer)?;
    if let Some(value) = &mut value {
        scrub(value);
    }
    Ok(value)
}

/// The fields Make returned that a model does not name, minus secret-looking ones.
/// Used as `#[serde(flatten)] extra: Extra` on every model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub(crate) struct Extra(Map<String, Value>);

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        scrub_map(&mut map);
        Ok(Self(map))
    }
}

impl JsonSchema for Extra {
    fn schema_name() -> Cow<'static, str> {
        <Map<String, Value>>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Map<String, Value>>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_recognised_in_any_spelling() {
        for name in [
            "data",
            "Parameters",
            "password",
            "authPass",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "accessToken",
            "refresh-token",
            "apiKey",
            "API_KEY",
            "privateKey",
            "aesKey",
            "key",
            "Authorization",
            "Zugangs_PASSWORD_ü",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        // Longer than the stack buffer: the general path still applies every rule.
        assert!(is_secret_name(&format!("{}_access-Token", "x".repeat(80))));
        assert!(!is_secret_name(&"x".repeat(80)));
        for name in [
            "id",
            "name",
            "accountName",
            "typeName",
            "scopes",
            "metadata",
            "user",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn nested_secrets_are_dropped_and_the_rest_kept() {
        let extra: Extra = serde_json::from_value(json!({
            "keep": 1,
            "data": {"apiKey": "s1"},
            "user": {"id": 5, "accessToken": "s2", "list": [{"password": "s3", "ok": true}]},
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&extra).unwrap(),
            json!({"keep": 1, "user": {"id": 5, "list": [{"ok": true}]}})
        );
    }
}
