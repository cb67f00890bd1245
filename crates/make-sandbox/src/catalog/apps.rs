//! Apps and their modules that need credentials (make-api.md §4.4), for
//! `actions/create` and the modules-with-credentials catalogue. Kept apart from the
//! connection and key types because it is a different table with its own consumers.

/// An app module that needs a credential (`type` is `account:<t>[,<t>]` or `keychain:<t>`).
pub(crate) struct AppModule {
    pub(crate) id: &'static str,
    pub(crate) label: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) scope: &'static [&'static str],
    pub(crate) hook: bool,
}

pub(crate) struct App {
    pub(crate) name: &'static str,
    pub(crate) versions: &'static [u32],
    pub(crate) modules: &'static [AppModule],
    /// Credential kind requested for `appEndpoints` (endpoints declare no scopes).
    pub(crate) endpoint_kind: &'static str,
}

impl App {
    pub(crate) fn latest(&self) -> u32 {
        self.versions.iter().copied().max().unwrap_or(1)
    }
}

pub(crate) static APPS: &[App] = &[
    App {
        name: "google-sheets",
        versions: &[1, 2],
        endpoint_kind: "account:google",
        modules: &[
            AppModule {
                id: "watchRows",
                label: "Watch New Rows",
                kind: "account:google",
                scope: &["https://www.googleapis.com/auth/spreadsheets.readonly"],
                hook: false,
            },
            AppModule {
                id: "addRow",
                label: "Add a Row",
                kind: "account:google",
                scope: &["https://www.googleapis.com/auth/spreadsheets"],
                hook: false,
            },
            AppModule {
                id: "updateRow",
                label: "Update a Row",
                kind: "account:google",
                scope: &["https://www.googleapis.com/auth/spreadsheets"],
                hook: false,
            },
            AppModule {
                id: "listSheets",
                label: "List Sheets",
                kind: "account:google",
                scope: &[
                    "https://www.googleapis.com/auth/drive.readonly",
                    "https://www.googleapis.com/auth/spreadsheets.readonly",
                ],
                hook: false,
            },
            AppModule {
                id: "makeApiCall",
                label: "Make an API Call",
                kind: "account:google",
                scope: &[],
                hook: false,
            },
        ],
    },
    App {
        name: "slack",
        versions: &[3, 4],
        endpoint_kind: "account:slack2,slack3",
        modules: &[
            AppModule {
                id: "CreateMessage",
                label: "Send a Message",
                kind: "account:slack2,slack3",
                scope: &["chat:write"],
                hook: false,
            },
            AppModule {
                id: "ListChannels",
                label: "List Channels",
                kind: "account:slack2,slack3",
                scope: &["channels:read", "groups:read"],
                hook: false,
            },
            AppModule {
                id: "WatchPublicChannelMessages",
                label: "Watch Public Channel Messages",
                kind: "account:slack2,slack3",
                scope: &["channels:history"],
                hook: true,
            },
            AppModule {
                id: "UploadFile",
                label: "Upload a File",
                kind: "account:slack2,slack3",
                scope: &["files:write"],
                hook: false,
            },
        ],
    },
    App {
        name: "http",
        versions: &[3, 4],
        endpoint_kind: "keychain:basicauth",
        modules: &[
            AppModule {
                id: "ActionSendDataBasicAuth",
                label: "Make a Basic Auth request",
                kind: "keychain:basicauth",
                scope: &[],
                hook: false,
            },
            AppModule {
                id: "MakeRequest:authenticationType:apiKey",
                label: "Make a request (API key)",
                kind: "keychain:apikeyauth",
                scope: &[],
                hook: false,
            },
            AppModule {
                id: "MakeRequest:authenticationType:basicAuth",
                label: "Make a request (basic auth)",
                kind: "account:http",
                scope: &[],
                hook: false,
            },
        ],
    },
    App {
        name: "airtable",
        versions: &[3],
        endpoint_kind: "account:airtable2",
        modules: &[
            AppModule {
                id: "ActionCreateRecord",
                label: "Create a Record",
                kind: "account:airtable2",
                scope: &[],
                hook: false,
            },
            AppModule {
                id: "TriggerWatchRecords",
                label: "Watch Records",
                kind: "account:airtable2",
                scope: &[],
                hook: false,
            },
        ],
    },
];

pub(crate) fn app(name: &str) -> Option<&'static App> {
    APPS.iter().find(|a| a.name == name)
}

/// Splits a module `type` into the credential component and the preferred type.
///
/// `account:slack2,slack3` lists acceptable types oldest first; a new credential asks for
/// the newest (last) one. Returns `("account"|"keychain", type)`.
pub(crate) fn credential_for_kind(kind: &str) -> Option<(&'static str, &str)> {
    let (component, types) = kind.split_once(':')?;
    let component = match component {
        "account" => "account",
        "keychain" => "keychain",
        _ => return None,
    };
    types
        .split(',')
        .map(str::trim)
        .rfind(|t| !t.is_empty())
        .map(|t| (component, t))
}

#[cfg(test)]
mod tests {
    use super::super::{connection_type, key_type};
    use super::*;

    #[test]
    fn module_kinds_resolve_to_newest_type() {
        assert_eq!(
            credential_for_kind("account:slack2,slack3"),
            Some(("account", "slack3"))
        );
        assert_eq!(
            credential_for_kind("keychain:basicauth"),
            Some(("keychain", "basicauth"))
        );
        assert_eq!(credential_for_kind("bogus"), None);
    }

    #[test]
    fn every_module_scope_and_kind_is_known() {
        for app in APPS {
            for m in app.modules {
                let (component, t) = credential_for_kind(m.kind).unwrap();
                if component == "account" {
                    let ct = connection_type(t).unwrap();
                    for s in m.scope {
                        assert!(ct.scope(s).is_some(), "{s} unknown for {t}");
                    }
                } else {
                    assert!(key_type(t).is_some());
                }
            }
        }
    }
}
