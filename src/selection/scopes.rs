//! The Make token scopes each tool needs (make-api.md §1.3), and which tools a key's scopes
//! cannot serve.
//!
//! A tool whose scope the key lacks would fail every call with 403; hiding it keeps the
//! model from picking it. `:read` covers GET and `:write` covers POST, PATCH and DELETE, so
//! a tool needs every scope of every request it cannot do without. Requests a tool can do
//! without do not count: `credential-requests_extend-connection` reads the connection first
//! to drop scopes it already has, but goes ahead without that read.

use std::collections::BTreeSet;

pub(crate) const APPS_READ: &str = "apps:read";
pub(crate) const CONNECTIONS_READ: &str = "connections:read";
pub(crate) const CONNECTIONS_WRITE: &str = "connections:write";
pub(crate) const CREDENTIAL_REQUESTS_READ: &str = "credential-requests:read";
pub(crate) const CREDENTIAL_REQUESTS_WRITE: &str = "credential-requests:write";
pub(crate) const KEYS_READ: &str = "keys:read";
pub(crate) const KEYS_WRITE: &str = "keys:write";

/// One row per tool: its name and the scopes it needs (all of them). **A new tool needs a
/// row here**; `every_registered_tool_has_a_row` fails without one. A tool without a row is
/// never hidden by the scope check.
const REQUIRED_SCOPES: &[(&str, &[&str])] = &[
    ("connections_list", &[CONNECTIONS_READ]),
    ("connections_get", &[CONNECTIONS_READ]),
    ("connections_get-editable-data-schema", &[CONNECTIONS_READ]),
    ("connections_create", &[CONNECTIONS_WRITE]),
    // Reads the connection and its editable-data schema before replacing data.
    ("connections_update", &[CONNECTIONS_READ, CONNECTIONS_WRITE]),
    // POST /connections/{id}/test.
    ("connections_verify", &[CONNECTIONS_WRITE]),
    ("connections_delete", &[CONNECTIONS_WRITE]),
    ("keys_list", &[KEYS_READ]),
    ("keys_get", &[KEYS_READ]),
    ("keys_list-types", &[KEYS_READ]),
    ("keys_create", &[KEYS_WRITE]),
    ("keys_update", &[KEYS_WRITE]),
    ("keys_delete", &[KEYS_WRITE]),
    ("credential-requests_list", &[CREDENTIAL_REQUESTS_READ]),
    ("credential-requests_get", &[CREDENTIAL_REQUESTS_READ]),
    (
        "credential-requests_wait-for-authorization",
        &[CREDENTIAL_REQUESTS_READ],
    ),
    ("credential-requests_create", &[CREDENTIAL_REQUESTS_WRITE]),
    (
        "credential-requests_create-by-credentials",
        &[CREDENTIAL_REQUESTS_WRITE],
    ),
    (
        "credential-requests_extend-connection",
        &[CREDENTIAL_REQUESTS_WRITE],
    ),
    ("credential-requests_delete", &[CREDENTIAL_REQUESTS_WRITE]),
    (
        "credential-requests_credential-decline",
        &[CREDENTIAL_REQUESTS_WRITE],
    ),
    (
        "credential-requests_credential-delete",
        &[CREDENTIAL_REQUESTS_WRITE],
    ),
    // Make's SDK names apps:read for modules-with-credentials.
    (
        "credential-requests_list-app-modules-with-creds",
        &[APPS_READ],
    ),
];

/// Every registered tool's name: the table has exactly one row per registered tool (tested
/// below), so this answers without building the registry.
pub(crate) fn every_tool() -> impl Iterator<Item = &'static str> {
    REQUIRED_SCOPES.iter().map(|(name, _)| *name)
}

/// Every scope some tool needs, each once, sorted.
pub(crate) fn every_scope() -> BTreeSet<&'static str> {
    REQUIRED_SCOPES
        .iter()
        .flat_map(|(_, scopes)| scopes.iter().copied())
        .collect()
}

/// The scopes `tool` needs, or `None` for a tool without a row.
pub(crate) fn required_scopes(tool: &str) -> Option<&'static [&'static str]> {
    REQUIRED_SCOPES
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, scopes)| *scopes)
}

/// A tool the key's scopes cannot serve, with the scopes it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lacking {
    pub(crate) tool: String,
    pub(crate) missing: Vec<&'static str>,
}

/// The tools among `tools` that need a scope not in `granted`, in the given order.
pub(crate) fn lacking<'a>(
    tools: impl IntoIterator<Item = &'a str>,
    granted: &BTreeSet<String>,
) -> Vec<Lacking> {
    tools
        .into_iter()
        .filter_map(|tool| {
            let missing: Vec<&'static str> = required_scopes(tool)?
                .iter()
                .copied()
                .filter(|scope| !granted.contains(*scope))
                .collect();
            (!missing.is_empty()).then(|| Lacking {
                tool: tool.to_string(),
                missing,
            })
        })
        .collect()
}

/// "keys_create (keys:write), connections_update (connections:write)", for the log line.
pub(crate) fn describe(lacking: &[Lacking]) -> String {
    lacking
        .iter()
        .map(|l| format!("{} ({})", l.tool, l.missing.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::Toolset;

    fn names() -> Vec<String> {
        crate::tools::registry()
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    #[test]
    fn every_registered_tool_has_a_row_and_a_toolset_and_no_row_is_stale() {
        let names = names();
        for name in &names {
            assert!(
                required_scopes(name).is_some(),
                "{name} has no row in REQUIRED_SCOPES (src/selection/scopes.rs)"
            );
            assert!(
                Toolset::of_tool(name).is_some(),
                "{name} belongs to no toolset: its name must start with a toolset name and `_`"
            );
        }
        for (row, _) in REQUIRED_SCOPES {
            assert!(names.iter().any(|n| n == row), "stale row {row}");
        }
    }

    #[test]
    fn read_tools_need_read_scopes_and_write_tools_write_scopes() {
        for tool in crate::tools::registry().list_all() {
            let scopes = required_scopes(&tool.name).unwrap();
            let read_only = tool.annotations.unwrap().read_only_hint.unwrap();
            let writes = scopes.iter().any(|s| s.ends_with(":write"));
            assert_eq!(read_only, !writes, "{}: {scopes:?}", tool.name);
        }
    }

    #[test]
    fn lacking_names_each_missing_scope() {
        let granted: BTreeSet<String> = [CONNECTIONS_WRITE, KEYS_READ]
            .into_iter()
            .map(String::from)
            .collect();
        let found = lacking(
            [
                "connections_update",
                "connections_create",
                "keys_get",
                "keys_delete",
                "no_row",
            ],
            &granted,
        );
        assert_eq!(
            found,
            vec![
                Lacking {
                    tool: "connections_update".into(),
                    missing: vec![CONNECTIONS_READ]
                },
                Lacking {
                    tool: "keys_delete".into(),
                    missing: vec![KEYS_WRITE]
                },
            ]
        );
        assert_eq!(
            describe(&found),
            "connections_update (connections:read), keys_delete (keys:write)"
        );
    }

    #[test]
    fn every_scope_is_the_seven_api_scopes() {
        let all = [
            APPS_READ,
            CONNECTIONS_READ,
            CONNECTIONS_WRITE,
            CREDENTIAL_REQUESTS_READ,
            CREDENTIAL_REQUESTS_WRITE,
            KEYS_READ,
            KEYS_WRITE,
        ];
        assert_eq!(every_scope(), all.into_iter().collect());
    }

    #[test]
    fn the_table_follows_make_api_section_1_3() {
        assert_eq!(
            required_scopes("credential-requests_wait-for-authorization"),
            Some(&[CREDENTIAL_REQUESTS_READ][..])
        );
        assert_eq!(
            required_scopes("credential-requests_list-app-modules-with-creds"),
            Some(&[APPS_READ][..])
        );
        assert_eq!(
            required_scopes("credential-requests_extend-connection"),
            Some(&[CREDENTIAL_REQUESTS_WRITE][..])
        );
        assert_eq!(
            required_scopes("connections_update"),
            Some(&[CONNECTIONS_READ, CONNECTIONS_WRITE][..])
        );
        assert_eq!(
            required_scopes("connections_delete"),
            Some(&[CONNECTIONS_WRITE][..])
        );
        assert_eq!(required_scopes("nothing"), None);
    }
}
