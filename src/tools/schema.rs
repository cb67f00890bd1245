//! Makes generated JSON Schemas portable across MCP clients.
//!
//! schemars emits `$ref`/`$defs`, `type: [X, "null"]` for `Option`s, `anyOf` with a null
//! branch and numeric `format`s such as `uint64`. Several clients reject those (Claude Code
//! rejects a `$ref` root, Gemini rejects type arrays), so every tool's input and output schema
//! goes through [`portable`] once, when the registry is built. `tool-schemas/` is the reviewed
//! snapshot of the result (tests/tool_schemas.rs compares them).
//!
//! Output schemas then go through [`lean_output`]: models read the tool description, and a
//! client only validates results against the output schema, so descriptions there are
//! context spent twice.

use std::any::Any;
use std::sync::Arc;

use rmcp::handler::server::common::schema_for_input;
use rmcp::handler::server::tool::schema_for_output;
use schemars::JsonSchema;
use serde_json::{Map, Value};

/// A tool's input schema: `T`'s, made portable. Panics when `T`'s schema is not an object
/// (a programming error the first `tools/list` in any test shows).
pub(crate) fn input<T: JsonSchema + Any>() -> Arc<Map<String, Value>> {
    let generated = schema_for_input::<T>().unwrap_or_else(|e| {
        panic!(
            "invalid input schema for {}: {e}",
            std::any::type_name::<T>()
        )
    });
    Arc::new(portable(&generated))
}

/// A tool's output schema: `T`'s, made portable and lean.
pub(crate) fn output<T: JsonSchema + Any>() -> Arc<Map<String, Value>> {
    Arc::new(lean_output(&portable(&schema_for_output::<T>())))
}

/// A copy of `schema` with every `$ref` inlined, nulls folded away and `$defs` removed.
pub(crate) fn portable(schema: &Map<String, Value>) -> Map<String, Value> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut root = Value::Object(schema.clone());
    rewrite(&mut root, &defs, 0);
    let Value::Object(mut root) = root else {
        unreachable!("an object stays an object")
    };
    root.remove("$defs");
    root.remove("$schema");
    root
}

/// An output schema without descriptions, titles, the `minimum: 0` of unsigned integers and
/// `additionalProperties: true` (the default): the types and structure a client validates
/// against, nothing a model needs to read.
pub(crate) fn lean_output(schema: &Map<String, Value>) -> Map<String, Value> {
    let mut root = Value::Object(schema.clone());
    strip_prose(&mut root);
    let Value::Object(root) = root else {
        unreachable!("an object stays an object")
    };
    root
}

fn strip_prose(value: &mut Value) {
    let Value::Object(map) = value else { return };
    map.remove("description");
    map.remove("title");
    if map.get("minimum") == Some(&Value::from(0)) {
        map.remove("minimum");
    }
    if map.get("additionalProperties") == Some(&Value::Bool(true)) {
        map.remove("additionalProperties");
    }
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" => child
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
                .for_each(strip_prose),
            "items" | "additionalProperties" => strip_prose(child),
            _ => {}
        }
    }
}

/// Keywords that constrain a value (anything else, such as a description, accepts anything).
/// A node with none of them is what MCP Inspector `--strict` reports as untyped.
pub const CONSTRAINING: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "items",
    "required",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "minimum",
    "maximum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "maxProperties",
    "additionalProperties",
];

/// `additionalProperties` that constrains nothing (`{}` or only a description, what schemars
/// gives a `Value` map or a flattened pass-through) becomes the deliberate `true`.
fn free_form_extras(map: &mut Map<String, Value>) {
    let Some(Value::Object(extra)) = map.get("additionalProperties") else {
        return;
    };
    if !extra.keys().any(|k| CONSTRAINING.contains(&k.as_str())) {
        map.insert("additionalProperties".into(), Value::Bool(true));
    }
}

/// Guards against a self-referencing type inlining forever.
const MAX_DEPTH: usize = 32;

fn rewrite(value: &mut Value, defs: &Map<String, Value>, depth: usize) {
    if value == &Value::Bool(true) {
        *value = Value::Object(Map::new());
    }
    let Value::Object(map) = value else { return };
    if depth > MAX_DEPTH {
        return;
    }
    fold_null_branch(map);
    inline_ref(map, defs);
    fold_null_type(map);
    drop_noise(map);
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" => {
                for schema in child
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut())
                {
                    rewrite(schema, defs, depth + 1);
                }
            }
            "items" | "additionalProperties" | "not" | "contains" | "propertyNames" => {
                rewrite(child, defs, depth + 1)
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                for schema in child.as_array_mut().into_iter().flatten() {
                    rewrite(schema, defs, depth + 1);
                }
            }
            _ => {}
        }
    }
    free_form_extras(map);
}

/// `{"$ref":"#/$defs/X", "description": d}` → X's schema with `description: d`.
fn inline_ref(map: &mut Map<String, Value>, defs: &Map<String, Value>) {
    let Some(Value::String(reference)) = map.get("$ref") else {
        return;
    };
    let Some(Value::Object(target)) = reference
        .strip_prefix("#/$defs/")
        .and_then(|name| defs.get(name))
    else {
        return;
    };
    let mut inlined = target.clone();
    map.remove("$ref");
    inlined.extend(std::mem::take(map));
    *map = inlined;
    // The inlined schema may itself start with a $ref or nullable type.
    inline_ref(map, defs);
}

/// `"type": ["integer", "null"]` → `"type": "integer"` (absence already means "not given").
fn fold_null_type(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type") else {
        return;
    };
    let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    if let [only] = kept.as_slice() {
        map.insert("type".into(), only.clone());
    }
}

/// `"anyOf": [X, {"type":"null"}]` → X merged into this schema.
fn fold_null_branch(map: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = map.get(key) else {
            continue;
        };
        let is_null = |b: &Value| b.get("type") == Some(&Value::String("null".into()));
        if branches.len() != 2 || !branches.iter().any(is_null) {
            continue;
        }
        let Some(Value::Object(kept)) = branches.iter().find(|b| !is_null(b)).cloned() else {
            continue;
        };
        map.remove(key);
        for (k, v) in kept {
            map.entry(k).or_insert(v);
        }
    }
}

/// Drops `default: null`, `nullable` and numeric formats (`uint64`, `int32`, `double`), which
/// add nothing the `type` and bounds do not say and trip strict validators.
fn drop_noise(map: &mut Map<String, Value>) {
    if map.get("default") == Some(&Value::Null) {
        map.remove("default");
    }
    map.remove("nullable");
    let numeric_format = map.get("format").and_then(Value::as_str).is_some_and(|f| {
        f.starts_with("int") || f.starts_with("uint") || f == "double" || f == "float"
    });
    if numeric_format {
        map.remove("format");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: Value) -> Value {
        Value::Object(portable(v.as_object().unwrap()))
    }

    #[test]
    fn inlines_refs_and_folds_nulls() {
        let input = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "a": {"type": ["integer", "null"], "format": "uint64", "default": null},
                "b": {"anyOf": [{"$ref": "#/$defs/B"}, {"type": "null"}], "description": "b"},
                "c": {"type": "array", "items": {"$ref": "#/$defs/B"}},
                "d": true
            },
            "$defs": {"B": {"type": "object", "properties": {"x": {"type": "string"}}}}
        });
        let out = run(input);
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "a": {"type": "integer"},
                    "b": {"type": "object", "properties": {"x": {"type": "string"}}, "description": "b"},
                    "c": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}},
                    "d": {}
                }
            })
        );
    }

    #[test]
    fn property_names_that_look_like_keywords_are_left_alone() {
        let input = json!({"type":"object","properties":{"format":{"type":"string"},"default":{"type":"string"}}});
        assert_eq!(run(input.clone()), input);
    }
}
