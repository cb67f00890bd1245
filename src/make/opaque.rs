//! Make fields whose JSON type varies (make-api.md §2: `uid`, `makeProviderId`, `remoteId`,
//! `metadata`, a key parameter's `options` and `default`), read into one type each, so every
//! output schema can say what a field holds: no `anyOf`, no type arrays, no "anything".
//!
//! Every reader scrubs secret-looking fields first (see [`super::redact`]).

use serde::Deserializer;
use serde_json::{Map, Value};

use super::redact::scrubbed;

/// An opaque id or value shown as text: a number becomes its decimal digits, an object or
/// array its JSON; null is absent. Schema: `string`.
pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Ok(scrubbed(deserializer)?.and_then(|value| match value {
        Value::Null => None,
        Value::String(_) => Some(value),
        other => Some(Value::String(other.to_string())),
    }))
}

/// A numeric id: a number, or a string of digits, becomes an integer. Anything else (null
/// until a credential is authorized) is absent. Schema: `integer`.
pub(crate) fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Ok(scrubbed(deserializer)?.and_then(|value| {
        let id = match &value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        if id.is_none() && !value.is_null() {
            tracing::warn!(value = %crate::logging::quote(value.to_string()), "an id from Make that is not a number was left out");
        }
        id.map(Value::from)
    }))
}

/// A free-form object; anything else is absent. Schema: `object`.
pub(crate) fn object<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    Ok(scrubbed(deserializer)?.filter(Value::is_object))
}

/// A list of objects (a select's options): a bare string `s` becomes
/// `{"label": s, "value": s}`, anything else is left out. Schema: `array` of `object`.
pub(crate) fn object_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    let Some(Value::Array(items)) = scrubbed(deserializer)? else {
        return Ok(None);
    };
    let items = items.into_iter().filter_map(|item| match item {
        Value::Object(_) => Some(item),
        Value::String(s) => Some(Value::Object(Map::from_iter([
            ("label".to_string(), Value::String(s.clone())),
            ("value".to_string(), Value::String(s)),
        ]))),
        _ => None,
    });
    Ok(Some(Value::Array(items.collect())))
}

/// Schema stand-in of [`object`]: a JSON object of any fields.
pub(crate) type Object = Map<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "text")]
        text: Option<Value>,
        #[serde(default, deserialize_with = "id")]
        id: Option<Value>,
        #[serde(default, deserialize_with = "object")]
        object: Option<Value>,
        #[serde(default, deserialize_with = "object_list")]
        list: Option<Value>,
    }

    fn probe(v: Value) -> Probe {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn each_field_gets_one_type() {
        let p = probe(
            json!({"text": 12345678901234567890u64, "id": "42", "object": {"type": "email"}, "list": ["hex", {"label": "B", "value": "b"}, 3]}),
        );
        assert_eq!(p.text, Some(json!("12345678901234567890")));
        assert_eq!(p.id, Some(json!(42)));
        assert_eq!(p.object, Some(json!({"type": "email"})));
        assert_eq!(
            p.list,
            Some(json!([{"label": "hex", "value": "hex"}, {"label": "B", "value": "b"}]))
        );
        let p = probe(json!({"text": null, "id": null, "object": "x", "list": {"a": 1}}));
        assert_eq!((p.text, p.id, p.object, p.list), (None, None, None, None));
        assert_eq!(probe(json!({"id": "abc", "text": true})).id, None);
        assert_eq!(probe(json!({"text": true})).text, Some(json!("true")));
    }
}
