//! Static tables the sandbox validates against: connection types (auth kind, scopes,
//! parameters), key types (§4.3 parameter lists) and, in `apps.rs`, a few apps with their
//! modules (§4.4).
//!
//! Make holds these server-side; a fixed table keeps the double deterministic while still
//! producing Make's real error cases ("Invalid connection type", "Invalid scope", missing
//! key parameters) and realistic scope strings for credential requests.

use serde_json::{Value, json};

use super::scopes::ScopeForm;

mod apps;

pub(crate) use apps::{App, app, credential_for_kind};

/// An OAuth scope the sandbox can describe on the consent page and in connection responses.
pub(crate) struct ScopeDef {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
}

/// A connection type (`accountName` in responses, `accountType` in the create body).
pub(crate) struct ConnectionType {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    /// Auth kind reported as the response `accountType`: `oauth` or `basic`.
    pub(crate) auth: &'static str,
    pub(crate) theme: &'static str,
    /// Scopes the sandbox can describe; not a limit (see [`ScopeForm`]).
    pub(crate) scopes: &'static [ScopeDef],
    /// The provider's scope form: any well-formed scope is accepted, as Make would pass it on.
    pub(crate) scope_form: ScopeForm,
    /// Scopes an OAuth connection gets when none are requested.
    pub(crate) default_scopes: &'static [&'static str],
    /// Data parameters accepted at create (and by set-data when editable).
    pub(crate) params: &'static [&'static str],
    pub(crate) required: &'static [&'static str],
    pub(crate) editable: &'static [&'static str],
}

impl ConnectionType {
    pub(crate) fn scope(&self, id: &str) -> Option<&'static ScopeDef> {
        self.scopes.iter().find(|s| s.id == id)
    }
}

const G: &str = "https://www.googleapis.com/auth/";

macro_rules! google_scopes {
    ($(($suffix:literal, $name:literal)),* $(,)?) => {
        &[$(ScopeDef { id: concat!("https://www.googleapis.com/auth/", $suffix), name: $name }),*]
    };
}

const SLACK_SCOPES: &[ScopeDef] = &[
    ScopeDef {
        id: "chat:write",
        name: "Send messages as the app.",
    },
    ScopeDef {
        id: "channels:read",
        name: "View basic information about public channels.",
    },
    ScopeDef {
        id: "channels:history",
        name: "View messages in public channels.",
    },
    ScopeDef {
        id: "groups:read",
        name: "View basic information about private channels.",
    },
    ScopeDef {
        id: "users:read",
        name: "View people in the workspace.",
    },
    ScopeDef {
        id: "files:write",
        name: "Upload, edit, and delete files.",
    },
    ScopeDef {
        id: "reactions:write",
        name: "Add and edit emoji reactions.",
    },
];

pub(crate) static CONNECTION_TYPES: &[ConnectionType] = &[
    ConnectionType {
        name: "google",
        label: "Google",
        auth: "oauth",
        theme: "#4285f4",
        scopes: google_scopes![
            ("userinfo.email", "View your email address."),
            ("userinfo.profile", "See your personal info."),
            ("drive", "Access to Google Drive."),
            (
                "drive.readonly",
                "See and download all your Google Drive files."
            ),
            (
                "spreadsheets",
                "See, edit, create, and delete all your Google Sheets spreadsheets."
            ),
            (
                "spreadsheets.readonly",
                "See all your Google Sheets spreadsheets."
            ),
            ("gmail.send", "Send email on your behalf."),
        ],
        scope_form: ScopeForm::UrlPrefix(G),
        default_scopes: &["https://www.googleapis.com/auth/userinfo.email"],
        params: &["clientId", "clientSecret"],
        required: &[],
        editable: &["clientId", "clientSecret"],
    },
    ConnectionType {
        name: "slack2",
        label: "Slack (legacy)",
        auth: "oauth",
        theme: "#4a154b",
        scopes: SLACK_SCOPES,
        scope_form: ScopeForm::Colon,
        default_scopes: &["users:read"],
        params: &[],
        required: &[],
        editable: &[],
    },
    ConnectionType {
        name: "slack3",
        label: "Slack",
        auth: "oauth",
        theme: "#4a154b",
        scopes: SLACK_SCOPES,
        scope_form: ScopeForm::Colon,
        default_scopes: &["users:read"],
        params: &[],
        required: &[],
        editable: &[],
    },
    ConnectionType {
        name: "airtable2",
        label: "Airtable",
        auth: "basic",
        theme: "#18bfff",
        scopes: &[],
        scope_form: ScopeForm::None,
        default_scopes: &[],
        params: &["apiKey"],
        required: &["apiKey"],
        editable: &["apiKey"],
    },
    ConnectionType {
        name: "http",
        label: "HTTP Basic Auth",
        auth: "basic",
        theme: "#008cff",
        scopes: &[],
        scope_form: ScopeForm::None,
        default_scopes: &[],
        params: &["authUser", "authPass"],
        required: &["authUser", "authPass"],
        editable: &["authUser", "authPass"],
    },
    ConnectionType {
        name: "openai-gpt-3",
        label: "OpenAI (ChatGPT, Whisper, DALL-E)",
        auth: "basic",
        theme: "#000000",
        scopes: &[],
        scope_form: ScopeForm::None,
        default_scopes: &[],
        params: &["apiKey", "organizationId"],
        required: &["apiKey"],
        editable: &["apiKey", "organizationId"],
    },
];

pub(crate) fn connection_type(name: &str) -> Option<&'static ConnectionType> {
    CONNECTION_TYPES.iter().find(|t| t.name == name)
}

/// A parameter of a key type, as `GET /keys/types` describes it.
pub(crate) struct KeyParam {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) required: bool,
    pub(crate) default: Option<&'static str>,
    pub(crate) options: &'static [&'static str],
}

pub(crate) struct KeyType {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) theme: &'static str,
    pub(crate) params: &'static [KeyParam],
}

const fn param(name: &'static str, label: &'static str, kind: &'static str) -> KeyParam {
    KeyParam {
        name,
        label,
        kind,
        required: true,
        default: None,
        options: &[],
    }
}

pub(crate) static KEY_TYPES: &[KeyType] = &[
    KeyType {
        name: "basicauth",
        label: "HTTP Basic Auth",
        theme: "#007ee5",
        params: &[
            param("authUser", "Username", "text"),
            param("authPass", "Password", "password"),
        ],
    },
    KeyType {
        name: "apikeyauth",
        label: "API Key Auth",
        theme: "#007ee5",
        params: &[
            param("key", "Key", "password"),
            KeyParam {
                name: "placement",
                label: "API Key placement",
                kind: "select",
                required: true,
                default: Some("header"),
                options: &["header", "query"],
            },
            KeyParam {
                name: "name",
                label: "API Key parameter name",
                kind: "text",
                required: true,
                default: Some("X-API-Key"),
                options: &[],
            },
        ],
    },
    KeyType {
        name: "aes-key",
        label: "Encryption key (AES)",
        theme: "#3c6ecc",
        params: &[
            param("key", "Key", "password"),
            KeyParam {
                name: "keyEncoding",
                label: "Key encoding",
                kind: "select",
                required: true,
                default: Some("hex"),
                options: &["base64", "hex", "plain"],
            },
        ],
    },
];

pub(crate) fn key_type(name: &str) -> Option<&'static KeyType> {
    KEY_TYPES.iter().find(|t| t.name == name)
}

/// The `keysTypes[]` item of `GET /keys/types`.
pub(crate) fn key_type_json(kt: &KeyType) -> Value {
    let params: Vec<Value> = kt
        .params
        .iter()
        .map(|p| {
            let mut v =
                json!({"name": p.name, "label": p.label, "type": p.kind, "required": p.required});
            if let Some(d) = p.default {
                v["default"] = json!(d);
            }
            if !p.options.is_empty() {
                let opts: Vec<Value> = p
                    .options
                    .iter()
                    .map(|o| json!({"label": o, "value": o}))
                    .collect();
                v["options"] = Value::Array(opts);
            }
            v
        })
        .collect();
    json!({"name": kt.name, "label": kt.label, "parameters": params, "componentType": "key", "theme": kt.theme})
}

/// A full Google scope id from its short suffix (used by the seed data).
pub(crate) fn google_scope(suffix: &str) -> String {
    format!("{G}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scopes_are_described() {
        for ct in CONNECTION_TYPES {
            for s in ct.default_scopes {
                assert!(ct.scope(s).is_some());
            }
        }
    }
}
