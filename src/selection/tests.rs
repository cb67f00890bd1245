use std::collections::BTreeMap;

use super::*;

fn registry() -> Vec<Tool> {
    crate::tools::registry().list_all()
}

fn selection(toolsets: &[Toolset], tools: &[&str], exclude: &[&str], read_only: bool) -> Selection {
    Selection {
        toolsets: (!toolsets.is_empty()).then(|| toolsets.to_vec()),
        tools: (!tools.is_empty()).then(|| tools.iter().map(|t| t.to_string()).collect()),
        exclude_tools: exclude.iter().map(|t| t.to_string()).collect(),
        read_only,
    }
}

/// The visible names under `s`.
fn shown(s: &Selection) -> Vec<String> {
    let mut router = crate::tools::registry();
    s.apply(&mut router).unwrap();
    router
        .list_all()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

fn hidden(s: &Selection) -> BTreeMap<String, HiddenBy> {
    s.hidden(&registry()).unwrap()
}

#[test]
fn the_default_shows_every_tool() {
    assert!(hidden(&Selection::default()).is_empty());
    assert_eq!(shown(&Selection::default()).len(), registry().len());
}

#[test]
fn toolsets_follow_the_name_prefix() {
    assert_eq!(Toolset::of_tool("keys_list"), Some(Toolset::Keys));
    assert_eq!(
        Toolset::of_tool("credential-requests_list-app-modules-with-creds"),
        Some(Toolset::CredentialRequests)
    );
    assert_eq!(
        Toolset::of_tool("credential-requests_wait-for-authorization"),
        Some(Toolset::CredentialRequests)
    );
    assert_eq!(
        Toolset::of_tool("connections_get"),
        Some(Toolset::Connections)
    );
    assert_eq!(Toolset::of_tool("keys"), None);
    assert_eq!(Toolset::of_tool("apps_list"), None);
    assert_eq!(" keys ".parse::<Toolset>(), Ok(Toolset::Keys));
    assert_eq!(
        "secrets".parse::<Toolset>().unwrap_err(),
        "unknown toolset 'secrets'; valid toolsets: connections, keys, credential-requests"
    );
}

#[test]
fn toolsets_alone() {
    let s = selection(&[Toolset::Keys], &[], &[], false);
    assert_eq!(
        shown(&s),
        [
            "keys_create",
            "keys_delete",
            "keys_get",
            "keys_list",
            "keys_list-types",
            "keys_update"
        ]
    );
    assert_eq!(hidden(&s)["connections_list"], HiddenBy::Toolsets);
    let s = selection(
        &[Toolset::CredentialRequests, Toolset::Connections],
        &[],
        &[],
        false,
    );
    let names = shown(&s);
    assert_eq!(names.len(), 17);
    assert!(names.contains(&"credential-requests_list-app-modules-with-creds".to_string()));
    assert!(names.contains(&"credential-requests_wait-for-authorization".to_string()));
    assert!(!names.iter().any(|n| n.starts_with("keys_")));
}

#[test]
fn tools_alone_narrow_to_exactly_those_names() {
    let s = selection(&[], &["keys_list", "connections_get"], &[], false);
    assert_eq!(shown(&s), ["connections_get", "keys_list"]);
    assert_eq!(hidden(&s)["keys_get"], HiddenBy::Tools);
}

#[test]
fn exclude_tools_alone() {
    let s = selection(&[], &[], &["keys_delete", "connections_delete"], false);
    let names = shown(&s);
    assert_eq!(names.len(), registry().len() - 2);
    assert!(!names.contains(&"keys_delete".to_string()));
    assert_eq!(hidden(&s)["connections_delete"], HiddenBy::ExcludeTools);
}

#[test]
fn read_only_alone_keeps_the_read_only_annotated_tools() {
    let s = selection(&[], &[], &[], true);
    assert_eq!(
        shown(&s),
        [
            "connections_get",
            "connections_get-editable-data-schema",
            "connections_list",
            "credential-requests_get",
            "credential-requests_list",
            "credential-requests_list-app-modules-with-creds",
            "credential-requests_wait-for-authorization",
            "keys_get",
            "keys_list",
            "keys_list-types",
        ]
    );
    // verify only checks, but it makes Make call a third party: not annotated read-only.
    assert_eq!(hidden(&s)["connections_verify"], HiddenBy::ReadOnly);
}

#[test]
fn combined_steps_apply_in_order_and_the_first_names_the_reason() {
    let s = selection(
        &[Toolset::Keys, Toolset::Connections],
        &[
            "keys_list",
            "keys_create",
            "keys_get",
            "connections_list",
            "credential-requests_get",
        ],
        &["keys_get"],
        true,
    );
    assert_eq!(shown(&s), ["connections_list", "keys_list"]);
    let h = hidden(&s);
    assert_eq!(h["credential-requests_get"], HiddenBy::Toolsets);
    assert_eq!(h["credential-requests_list"], HiddenBy::Toolsets);
    assert_eq!(h["keys_update"], HiddenBy::Tools);
    assert_eq!(h["keys_get"], HiddenBy::ExcludeTools);
    assert_eq!(h["keys_create"], HiddenBy::ReadOnly);
    assert_eq!(h.len(), registry().len() - 2);
}

#[test]
fn unknown_names_are_errors_that_list_the_valid_ones() {
    for (s, setting) in [
        (
            selection(&[], &["keys_list", "keys_lst"], &[], false),
            "--tools (MCP_TOOLS)",
        ),
        (
            selection(&[], &[], &["keys_lst"], false),
            "--exclude-tools (MCP_EXCLUDE_TOOLS)",
        ),
    ] {
        let err = s.hidden(&registry()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "unknown tool 'keys_lst' in {setting}; valid tool names: connections_create, connections_delete,"
            )),
            "{text}"
        );
        assert!(
            text.ends_with("keys_list, keys_list-types, keys_update"),
            "{text}"
        );
    }
}

#[test]
fn a_selection_that_leaves_nothing_is_an_error() {
    let s = selection(&[Toolset::Keys], &["connections_list"], &[], false);
    assert_eq!(
        s.hidden(&registry()).unwrap_err().to_string(),
        "the tool selection leaves no tools (every tool is hidden by --toolsets (MCP_TOOLSETS) or --tools (MCP_TOOLS))"
    );
    let s = selection(&[], &["keys_create"], &[], true);
    assert!(matches!(
        s.hidden(&registry()),
        Err(SelectionError::Empty { .. })
    ));
}

#[test]
fn apply_removes_routes_so_calls_find_nothing() {
    let mut router = crate::tools::registry();
    let hidden = selection(&[], &[], &[], true).apply(&mut router).unwrap();
    for name in hidden.keys() {
        assert!(!router.has_route(name), "{name}");
        assert!(router.get(name).is_none(), "{name}");
    }
    assert!(router.has_route("keys_list"));
}

#[test]
fn toolsets_label_for_the_log() {
    assert_eq!(Selection::default().toolsets_label(), "all");
    let s = selection(
        &[Toolset::Keys, Toolset::CredentialRequests],
        &[],
        &[],
        false,
    );
    assert_eq!(s.toolsets_label(), "keys,credential-requests");
}
