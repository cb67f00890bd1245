//! The tool definitions are product surface. The server generates them from the Rust types;
//! `tool-schemas/` holds the reviewed snapshot, one file per tool, which this test compares
//! with what the server serves (a line diff when they differ). The README's tool table is
//! generated from the snapshot, and every schema must be portable.
//!
//! `UPDATE_TOOL_SCHEMAS=1 cargo test --test tool_schemas` rewrites the files and the table
//! (never under `CI=true`, where the test only compares).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use make_credentials_mcp::make::ClientSettings;
use make_credentials_mcp::make::MakeClient;
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::tools::schema::CONSTRAINING;
use serde_json::Value;

const TABLE_START: &str =
    "<!-- tool-table:start (generated from tool-schemas/ by tests/tool_schemas.rs) -->";
const TABLE_END: &str = "<!-- tool-table:end -->";

/// The definitions the server serves (`tools/list`), every schema generated from the Rust
/// types.
fn tools() -> Vec<Value> {
    let server = MakeServer::new(MakeClient::new(&ClientSettings::default()).unwrap(), None);
    server
        .tool_definitions()
        .into_iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn may_update() -> bool {
    std::env::var_os("UPDATE_TOOL_SCHEMAS").is_some()
        && std::env::var("CI").map_or(true, |v| v != "true")
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// A unified diff (snapshot file → served definition) with three lines of context.
fn line_diff(have: &str, want: &str) -> String {
    similar::TextDiff::from_lines(have, want)
        .unified_diff()
        .context_radius(3)
        .header(
            "tool-schemas (reviewed)",
            "served (generated from the types)",
        )
        .to_string()
}

#[test]
fn the_snapshot_matches_the_served_definitions() {
    let dir = root().join("tool-schemas");
    let tools = tools();
    let names: BTreeSet<String> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let mut problems = Vec::new();
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let path = dir.join(format!("{name}.json"));
        let want = pretty(tool);
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            Ok(have) => {
                // The first differing file's diff is shown in full; the others are named.
                let diff = if problems.iter().any(|p: &String| p.contains("differs")) {
                    String::new()
                } else {
                    format!(":\n{}", line_diff(&have, &want))
                };
                problems.push(format!(
                    "{name}: tool-schemas/{name}.json differs from the served definition{diff}"
                ))
            }
            Err(_) => problems.push(format!("{name}: tool-schemas/{name}.json is missing")),
        }
        if may_update() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, want).unwrap();
        }
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = file.strip_suffix(".json") else {
            continue;
        };
        if !names.contains(stem) {
            problems.push(format!(
                "tool-schemas/{file} is stale: no tool has that name"
            ));
            if may_update() {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }
    assert!(
        problems.is_empty() || may_update(),
        "{}\nRerun with UPDATE_TOOL_SCHEMAS=1 (outside CI) and review the diff.",
        problems.join("\n")
    );
}

#[test]
fn there_are_makes_nineteen_credential_tools_its_app_modules_tool_two_reference_reads_and_the_wait_tool()
 {
    let names: Vec<String> = tools()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let expected = [
        "connections_create",
        "connections_delete",
        "connections_get",
        "connections_get-editable-data-schema",
        "connections_list",
        "connections_update",
        "connections_verify",
        "credential-requests_create",
        "credential-requests_create-by-credentials",
        "credential-requests_credential-decline",
        "credential-requests_credential-delete",
        "credential-requests_delete",
        "credential-requests_extend-connection",
        "credential-requests_get",
        "credential-requests_list",
        "credential-requests_list-app-modules-with-creds",
        "credential-requests_wait-for-authorization",
        "keys_create",
        "keys_delete",
        "keys_get",
        "keys_list",
        "keys_list-types",
        "keys_update",
    ];
    assert_eq!(names, expected);
}

#[test]
fn every_tool_has_a_title_description_and_all_four_hints() {
    for tool in tools() {
        let name = tool["name"].as_str().unwrap();
        assert!(name.len() <= 48, "{name} is longer than 48 characters");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{name}"
        );
        assert!(
            tool["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: title"
        );
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 40),
            "{name}: description"
        );
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(
                tool["annotations"][hint].is_boolean(),
                "{name}: {hint} must be set explicitly"
            );
        }
        assert!(tool["outputSchema"].is_object(), "{name}: outputSchema");
    }
}

#[test]
fn hints_follow_the_product_rules() {
    for tool in tools() {
        let name = tool["name"].as_str().unwrap();
        let hint = |h: &str| tool["annotations"][h].as_bool().unwrap();
        let read = name.contains("_list")
            || name.contains("_get")
            || name.ends_with("_wait-for-authorization");
        let creates = name.ends_with("create")
            || name.ends_with("create-by-credentials")
            || name.ends_with("extend-connection");
        let destructive = name.ends_with("delete")
            || name.ends_with("update")
            || name.ends_with("credential-decline");
        assert_eq!(hint("readOnlyHint"), read, "{name} readOnlyHint");
        assert_eq!(
            hint("destructiveHint"),
            destructive,
            "{name} destructiveHint"
        );
        assert_eq!(hint("idempotentHint"), !creates, "{name} idempotentHint");
        assert_eq!(
            hint("openWorldHint"),
            name == "connections_verify",
            "{name} openWorldHint"
        );
    }
}

/// Walks every schema node; `path` is for messages. Input properties must be described (the
/// model reads them); output schemas carry no prose (the tool description says it).
fn lint(schema: &Value, path: &str, input: bool, problems: &mut Vec<String>) {
    let Value::Object(map) = schema else {
        problems.push(format!("{path}: schema is not an object"));
        return;
    };
    for banned in ["$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf"] {
        if map.contains_key(banned) {
            problems.push(format!("{path}: has {banned}"));
        }
    }
    if map.get("type").is_some_and(Value::is_array) {
        problems.push(format!("{path}: type is an array"));
    }
    // A node with no constraining keyword accepts anything: say what it accepts.
    if !map.keys().any(|k| CONSTRAINING.contains(&k.as_str())) {
        problems.push(format!("{path}: constrains nothing (say what it accepts)"));
    }
    if !input && (map.contains_key("description") || map.contains_key("title")) {
        problems.push(format!("{path}: prose in an output schema"));
    }
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, prop) in props {
            let here = format!("{path}.{name}");
            if input && !prop.get("description").is_some_and(Value::is_string) {
                problems.push(format!("{here}: no description"));
            }
            lint(prop, &here, input, problems);
        }
    }
    match map.get("additionalProperties") {
        Some(child @ Value::Object(_)) => lint(
            child,
            &format!("{path}.additionalProperties"),
            input,
            problems,
        ),
        Some(Value::Bool(_)) | None => {}
        Some(other) => problems.push(format!("{path}.additionalProperties: {other}")),
    }
    if let Some(items) = map.get("items") {
        lint(items, &format!("{path}.items"), input, problems);
    }
}

#[test]
fn schemas_are_portable() {
    let mut problems = Vec::new();
    for tool in tools() {
        let name = tool["name"].as_str().unwrap().to_string();
        for key in ["inputSchema", "outputSchema"] {
            let schema = &tool[key];
            assert_eq!(
                schema["type"], "object",
                "{name} {key}: root must be an object"
            );
            assert!(
                schema["properties"].is_object(),
                "{name} {key}: root needs properties"
            );
            lint(
                schema,
                &format!("{name}.{key}"),
                key == "inputSchema",
                &mut problems,
            );
        }
    }
    assert!(
        problems.is_empty(),
        "unportable schemas:\n{}",
        problems.join("\n")
    );
}

/// Collects input-schema arrays without `maxItems` and maps of arrays without
/// `maxProperties`: every list a caller sends ends up in a URL or a body, so it is bounded.
fn unbounded(schema: &Value, path: &str, problems: &mut Vec<String>) {
    let Value::Object(map) = schema else { return };
    if map.get("type") == Some(&Value::from("array")) && !map.contains_key("maxItems") {
        problems.push(format!("{path}: array without maxItems"));
    }
    let array_values = map
        .get("additionalProperties")
        .is_some_and(|a| a["type"] == "array");
    if array_values && !map.contains_key("maxProperties") {
        problems.push(format!("{path}: map of lists without maxProperties"));
    }
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, prop) in props {
            unbounded(prop, &format!("{path}.{name}"), problems);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get(key) {
            unbounded(child, &format!("{path}.{key}"), problems);
        }
    }
}

#[test]
fn every_input_list_is_bounded() {
    let mut problems = Vec::new();
    for tool in tools() {
        let name = tool["name"].as_str().unwrap().to_string();
        unbounded(&tool["inputSchema"], &name, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "unbounded inputs:\n{}",
        problems.join("\n")
    );
}

fn tool_table(tools: &[Value]) -> String {
    let mut out = String::from(
        "| Tool | Title | Inputs (* required) | Read-only | Destructive | Idempotent | Open-world |\n|---|---|---|---|---|---|---|\n",
    );
    let yes = |b: &Value| if b.as_bool().unwrap() { "yes" } else { "no" };
    for tool in tools {
        let schema = &tool["inputSchema"];
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let inputs: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| {
                if required.contains(&k.as_str()) {
                    format!("`{k}`*")
                } else {
                    format!("`{k}`")
                }
            })
            .collect();
        let a = &tool["annotations"];
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            tool["name"].as_str().unwrap(),
            tool["title"].as_str().unwrap(),
            inputs.join(", "),
            yes(&a["readOnlyHint"]),
            yes(&a["destructiveHint"]),
            yes(&a["idempotentHint"]),
            yes(&a["openWorldHint"]),
        ));
    }
    out
}

fn snapshot_tools(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut tools: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect();
    // Sorted like tools/list (by name), not by file name ('-' sorts before '.').
    tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    tools
}

#[test]
fn readme_tool_table_is_generated_from_the_snapshot() {
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    // When updating, the snapshot may be rewritten concurrently: use the served definitions.
    let source = if may_update() {
        tools()
    } else {
        snapshot_tools(&root().join("tool-schemas"))
    };
    let table = tool_table(&source);
    let (Some(start), Some(end)) = (readme.find(TABLE_START), readme.find(TABLE_END)) else {
        panic!("README.md needs the markers {TABLE_START} and {TABLE_END}");
    };
    let current = &readme[start + TABLE_START.len()..end];
    let want = format!("\n{table}");
    if current != want && may_update() {
        let updated = format!("{}{TABLE_START}{want}{}", &readme[..start], &readme[end..]);
        std::fs::write(&readme_path, updated).unwrap();
        return;
    }
    assert_eq!(
        current, want,
        "README tool table is stale; rerun with UPDATE_TOOL_SCHEMAS=1"
    );
}
