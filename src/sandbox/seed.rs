//! Deterministic seed data, so that anyone starting `--sandbox` sees a realistic account:
//! two accessible teams and a foreign one, connections of several types (one used in a
//! scenario, one that fails verification, one whose verification crashes), keys, and a
//! pending credential request. Ids are fixed so docs and tests can name them.

use serde_json::{Map, Value, json};

use super::catalog::google_scope;
use super::state::{
    Component, Connection, CredRequest, CredState, Credential, Health, Key, Store, Team, USER_ID,
};

/// The pending request in team 1 and its one pending credential.
pub const PENDING_REQUEST_ID: &str = "a07e16f2ad134bf49cf83a00aa95c0a5";
pub const PENDING_CREDENTIAL_ID: &str = "5d3f0c9be2a14f6e8b7a1c2d3e4f5061";
/// A request in the foreign team (403 for the token).
pub const FOREIGN_REQUEST_ID: &str = "fe3c0c4a1b2d4e5f8a9b0c1d2e3f4a5b";
pub const FOREIGN_CREDENTIAL_ID: &str = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";

const DAY: u64 = 86_400;

fn data(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

struct Conn<'a> {
    id: u64,
    name: &'a str,
    type_name: &'a str,
    team_id: u64,
    scopes: Vec<String>,
    data: Map<String, Value>,
    health: Health,
}

fn add_connection(store: &mut Store, c: Conn<'_>) {
    store.connections.insert(
        c.id,
        Connection {
            id: c.id,
            name: c.name.into(),
            type_name: c.type_name.into(),
            team_id: c.team_id,
            scopes: c.scopes,
            data: c.data,
            scenario_usages: Vec::new(),
            health: c.health,
            metadata: Value::Null,
            uid: Value::Null,
            expire: None,
        },
    );
}

fn add_key(
    store: &mut Store,
    id: u64,
    name: &str,
    type_name: &str,
    team_id: u64,
    params: &[(&str, &str)],
) {
    store.keys.insert(
        id,
        Key {
            id,
            name: name.into(),
            type_name: type_name.into(),
            team_id,
            parameters: data(params),
        },
    );
}

pub fn seed(store: &mut Store, now: u64) {
    store.teams = vec![
        Team {
            id: 1,
            organization_id: 1,
            name: "Marketing",
        },
        Team {
            id: 2,
            organization_id: 1,
            name: "Operations",
        },
        Team {
            id: 3,
            organization_id: 2,
            name: "Another organization's team",
        },
    ];
    let none = Map::new;
    let conns = [
        Conn {
            id: 1001,
            name: "Google (sandbox.user@example.com)",
            type_name: "google",
            team_id: 1,
            scopes: vec![
                google_scope("userinfo.email"),
                google_scope("drive.readonly"),
            ],
            data: none(),
            health: Health::Ok,
        },
        Conn {
            id: 1002,
            name: "Slack (Acme workspace)",
            type_name: "slack3",
            team_id: 1,
            scopes: vec![
                "chat:write".into(),
                "channels:read".into(),
                "users:read".into(),
            ],
            data: none(),
            health: Health::Ok,
        },
        Conn {
            id: 1003,
            name: "HTTP basic auth (api.example.com)",
            type_name: "http",
            team_id: 1,
            scopes: vec![],
            data: data(&[("authUser", "api-user"), ("authPass", "sandbox-secret")]),
            health: Health::Ok,
        },
        Conn {
            id: 1004,
            name: "Airtable (marketing base)",
            type_name: "airtable2",
            team_id: 2,
            scopes: vec![],
            data: data(&[("apiKey", "patSandbox.0001")]),
            health: Health::Ok,
        },
        Conn {
            id: 1005,
            name: "Airtable (revoked token)",
            type_name: "airtable2",
            team_id: 2,
            scopes: vec![],
            data: data(&[("apiKey", "patRevoked.0002")]),
            health: Health::Invalid,
        },
        Conn {
            id: 1006,
            name: "Slack (crashing)",
            type_name: "slack3",
            team_id: 1,
            scopes: vec!["chat:write".into()],
            data: none(),
            health: Health::Broken,
        },
        Conn {
            id: 1901,
            name: "Google (other organization)",
            type_name: "google",
            team_id: 3,
            scopes: vec![google_scope("userinfo.email")],
            data: none(),
            health: Health::Ok,
        },
    ];
    for c in conns {
        add_connection(store, c);
    }
    if let Some(google) = store.connections.get_mut(&1001) {
        google.scenario_usages = vec![(3001, "Back up new Drive files".into())];
        google.metadata = json!({"type": "email", "value": "sandbox.user@example.com"});
        // Make's uids can exceed u64; the sandbox returns one as a string to keep clients lenient.
        google.uid = json!("225874569526501080000");
        google.expire = Some(now + 30 * DAY);
    }
    if let Some(slack) = store.connections.get_mut(&1002) {
        slack.uid = json!(7_340_112);
        slack.metadata = json!({"type": "text", "value": "Acme workspace"});
    }

    add_key(
        store,
        2001,
        "Staging API (basic auth)",
        "basicauth",
        1,
        &[("authUser", "staging"), ("authPass", "sandbox-secret")],
    );
    add_key(
        store,
        2002,
        "Weather API key",
        "apikeyauth",
        1,
        &[
            ("key", "sandbox-key"),
            ("placement", "header"),
            ("name", "X-API-Key"),
        ],
    );
    add_key(
        store,
        2003,
        "Webhook payload key",
        "aes-key",
        2,
        &[
            ("key", "00112233445566778899aabbccddeeff"),
            ("keyEncoding", "hex"),
        ],
    );
    add_key(
        store,
        2901,
        "Other organization's key",
        "basicauth",
        3,
        &[("authUser", "x"), ("authPass", "y")],
    );

    add_request(
        store,
        now,
        PENDING_REQUEST_ID,
        PENDING_CREDENTIAL_ID,
        1,
        "Google Sheets access for the weekly report",
    );
    add_request(
        store,
        now,
        FOREIGN_REQUEST_ID,
        FOREIGN_CREDENTIAL_ID,
        3,
        "Other organization's request",
    );
}

fn add_request(store: &mut Store, now: u64, id: &str, cred_id: &str, team_id: u64, name: &str) {
    let created = now - DAY;
    let seq = store.next_seq();
    store.requests.insert(
        id.into(),
        CredRequest {
            id: id.into(),
            seq,
            team_id,
            user_id: USER_ID,
            name: name.into(),
            description: Some(
                "Please connect the Google account that owns the report spreadsheet.".into(),
            ),
            created_at: created,
            updated_at: created,
            expires_at: created + 30 * DAY,
            app_names: vec!["google-sheets".into()],
            credential_ids: vec![cred_id.into()],
        },
    );
    store.credentials.insert(
        cred_id.into(),
        Credential {
            id: cred_id.into(),
            request_id: id.into(),
            component: Component::Account,
            type_name: "google".into(),
            auth_type: "oauth",
            label: "Google".into(),
            description: Some("Used to append rows to the report.".into()),
            scope: vec![google_scope("spreadsheets")],
            remote_id: None,
            remote_scope: Vec::new(),
            state: CredState::Pending,
            decline_reason: None,
            app_name: Some("google-sheets".into()),
            app_modules: vec!["addRow".into()],
            app_version: Some(2),
            name_override: None,
            prefill: None,
            extends: None,
            created_at: created,
            updated_at: created,
        },
    );
}
