//! Deterministic seed data, so that anyone starting `--sandbox` sees a realistic account:
//! two accessible teams and a foreign one, connections of several types (one used in a
//! scenario, one that fails verification, one whose verification crashes), keys, and a
//! pending credential request. Ids are fixed so docs and tests can name them: the constants
//! here are the one statement of them (docs/sandbox.md's seed-data table is checked against
//! them by `tests/sandbox_seed_docs.rs`).

use serde_json::{Map, Value, json};

use super::catalog::google_scope;
use super::state::{
    Component, Connection, CredRequest, CredState, Credential, Health, Key, ORGANIZATION_ID, Store,
    Team, USER_ID,
};

/// A seeded team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedTeam {
    pub id: u64,
    pub(crate) organization_id: u64,
    pub name: &'static str,
}

/// Every seeded team: the key's organization (1) owns teams 1 and 2; team 3 is another
/// organization's and answers 403.
pub const TEAMS: [SeedTeam; 3] = [
    SeedTeam {
        id: 1,
        organization_id: ORGANIZATION_ID,
        name: "Marketing",
    },
    SeedTeam {
        id: 2,
        organization_id: ORGANIZATION_ID,
        name: "Operations",
    },
    SeedTeam {
        id: FOREIGN_TEAM,
        organization_id: 2,
        name: "Another organization's team",
    },
];

/// The teams the sandbox's key may use.
pub const OWN_TEAMS: [u64; 2] = [TEAMS[0].id, TEAMS[1].id];
/// Another organization's team: everything in it answers 403.
pub const FOREIGN_TEAM: u64 = 3;
/// The team the sandbox's tools use when a call omits `teamId`.
pub const DEFAULT_TEAM: u64 = OWN_TEAMS[0];

/// A person who can sign in on the sandbox's OAuth login page (`/oauth/v2/authorize`).
///
/// An access token issued to a person acts as that person: `/users/me` answers them and
/// only their teams are visible; every other team answers 403 `SC403`, as Make does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedPerson {
    /// The Make user id (the OIDC `sub`, as a string).
    pub user_id: u64,
    /// What the login form takes.
    pub username: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    /// The teams the person belongs to (all in organization 1).
    pub team_ids: &'static [u64],
}

/// Ada: a member of team 1 only.
pub const ADA: SeedPerson = SeedPerson {
    user_id: 11,
    username: "ada",
    name: "Ada Lovelace",
    email: "ada@example.com",
    team_ids: &[OWN_TEAMS[0]],
};

/// Grace: a member of team 2 only.
pub const GRACE: SeedPerson = SeedPerson {
    user_id: 12,
    username: "grace",
    name: "Grace Hopper",
    email: "grace@example.com",
    team_ids: &[OWN_TEAMS[1]],
};

/// Everyone who can sign in.
pub const PEOPLE: [SeedPerson; 2] = [ADA, GRACE];

/// Every seeded person's password (a sandbox has nothing to protect).
pub const PEOPLE_PASSWORD: &str = "sandbox";

/// The most generated people a sandbox can have ([`crate::SandboxOptions::crowd`]).
pub const CROWD_MAX: u32 = 10_000;
/// Generated person `n` is Make user `CROWD_USER_BASE + n`...
pub const CROWD_USER_BASE: u64 = 100_000;
/// ...and the only member of team `CROWD_TEAM_BASE + n` (organization 1), so that an answer
/// given to the wrong person shows: every other person's team answers 403.
pub const CROWD_TEAM_BASE: u64 = 100_000;

/// Generated person `n` (1 ≤ n ≤ [`CROWD_MAX`]): login `person-n`, the same password as
/// everyone. Generated once, on first use, and kept for the process's life (a sandbox's
/// people are `'static`, like the seeded ones).
pub(crate) fn crowd_person(n: u32) -> Option<&'static SeedPerson> {
    static CROWD: std::sync::OnceLock<Vec<SeedPerson>> = std::sync::OnceLock::new();
    let index = usize::try_from(n.checked_sub(1)?).ok()?;
    CROWD
        .get_or_init(|| {
            (1..=u64::from(CROWD_MAX))
                .map(|n| {
                    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
                    SeedPerson {
                        user_id: CROWD_USER_BASE + n,
                        username: leak(format!("person-{n}")),
                        name: leak(format!("Person {n}")),
                        email: leak(format!("person-{n}@example.com")),
                        team_ids: Box::leak(Box::new([CROWD_TEAM_BASE + n])),
                    }
                })
                .collect()
        })
        .get(index)
}

/// The teams of the first `crowd` generated people.
pub(crate) fn crowd_teams(crowd: u32) -> impl Iterator<Item = Team> {
    (1..=u64::from(crowd.min(CROWD_MAX))).map(|n| Team {
        id: CROWD_TEAM_BASE + n,
        organization_id: ORGANIZATION_ID,
        name: "A generated person's team",
    })
}

/// The person with this login name: a seeded one, or one of the first `crowd` generated
/// people.
pub(crate) fn person(username: &str, crowd: u32) -> Option<&'static SeedPerson> {
    if let Some(p) = PEOPLE.iter().find(|p| p.username == username) {
        return Some(p);
    }
    let n: u32 = username.strip_prefix("person-")?.parse().ok()?;
    if n == 0 || n > crowd || username != format!("person-{n}") {
        return None;
    }
    crowd_person(n)
}

/// A seeded connection or key: what `GET /connections` or `GET /keys` lists about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedItem {
    pub id: u64,
    pub name: &'static str,
    pub type_name: &'static str,
    pub team_id: u64,
}

/// Google, OAuth, used in scenario [`SCENARIO_ID`].
pub const GOOGLE_CONNECTION_ID: u64 = 1001;
pub const SLACK_CONNECTION_ID: u64 = 1002;
/// HTTP basic auth.
pub const HTTP_CONNECTION_ID: u64 = 1003;
pub const AIRTABLE_CONNECTION_ID: u64 = 1004;
/// Its verification says the token is invalid.
pub const REVOKED_CONNECTION_ID: u64 = 1005;
/// Its verification fails with 424.
pub const CRASHING_CONNECTION_ID: u64 = 1006;
/// In [`FOREIGN_TEAM`].
pub const FOREIGN_CONNECTION_ID: u64 = 1901;
/// The scenario that uses [`GOOGLE_CONNECTION_ID`].
pub const SCENARIO_ID: u64 = 3001;

pub const BASICAUTH_KEY_ID: u64 = 2001;
pub const APIKEY_KEY_ID: u64 = 2002;
pub const AES_KEY_ID: u64 = 2003;
/// In [`FOREIGN_TEAM`].
pub const FOREIGN_KEY_ID: u64 = 2901;

/// Every seeded connection.
pub const CONNECTIONS: [SeedItem; 7] = [
    SeedItem {
        id: GOOGLE_CONNECTION_ID,
        name: "Google (sandbox.user@example.com)",
        type_name: "google",
        team_id: 1,
    },
    SeedItem {
        id: SLACK_CONNECTION_ID,
        name: "Slack (Acme workspace)",
        type_name: "slack3",
        team_id: 1,
    },
    SeedItem {
        id: HTTP_CONNECTION_ID,
        name: "HTTP basic auth (api.example.com)",
        type_name: "http",
        team_id: 1,
    },
    SeedItem {
        id: AIRTABLE_CONNECTION_ID,
        name: "Airtable (marketing base)",
        type_name: "airtable2",
        team_id: 2,
    },
    SeedItem {
        id: REVOKED_CONNECTION_ID,
        name: "Airtable (revoked token)",
        type_name: "airtable2",
        team_id: 2,
    },
    SeedItem {
        id: CRASHING_CONNECTION_ID,
        name: "Slack (crashing)",
        type_name: "slack3",
        team_id: 1,
    },
    SeedItem {
        id: FOREIGN_CONNECTION_ID,
        name: "Google (other organization)",
        type_name: "google",
        team_id: FOREIGN_TEAM,
    },
];

/// Every seeded key.
pub const KEYS: [SeedItem; 4] = [
    SeedItem {
        id: BASICAUTH_KEY_ID,
        name: "Staging API (basic auth)",
        type_name: "basicauth",
        team_id: 1,
    },
    SeedItem {
        id: APIKEY_KEY_ID,
        name: "Weather API key",
        type_name: "apikeyauth",
        team_id: 1,
    },
    SeedItem {
        id: AES_KEY_ID,
        name: "Webhook payload key",
        type_name: "aes-key",
        team_id: 2,
    },
    SeedItem {
        id: FOREIGN_KEY_ID,
        name: "Other organization's key",
        type_name: "basicauth",
        team_id: FOREIGN_TEAM,
    },
];

/// The pending request in team 1 and its one pending credential.
pub const PENDING_REQUEST_ID: &str = "a07e16f2ad134bf49cf83a00aa95c0a5";
pub const PENDING_CREDENTIAL_ID: &str = "5d3f0c9be2a14f6e8b7a1c2d3e4f5061";
/// A request in the foreign team (403 for the token).
pub const FOREIGN_REQUEST_ID: &str = "fe3c0c4a1b2d4e5f8a9b0c1d2e3f4a5b";
pub const FOREIGN_CREDENTIAL_ID: &str = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";

/// A seeded credential request with its one pending Google credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRequest {
    pub id: &'static str,
    pub credential_id: &'static str,
    pub team_id: u64,
    pub name: &'static str,
}

/// Every seeded credential request.
pub const REQUESTS: [SeedRequest; 2] = [
    SeedRequest {
        id: PENDING_REQUEST_ID,
        credential_id: PENDING_CREDENTIAL_ID,
        team_id: DEFAULT_TEAM,
        name: "Google Sheets access for the weekly report",
    },
    SeedRequest {
        id: FOREIGN_REQUEST_ID,
        credential_id: FOREIGN_CREDENTIAL_ID,
        team_id: FOREIGN_TEAM,
        name: "Other organization's request",
    },
];

/// The seeded item with this id (ids are unique across [`CONNECTIONS`] and [`KEYS`]).
fn item(id: u64) -> SeedItem {
    *CONNECTIONS
        .iter()
        .chain(&KEYS)
        .find(|i| i.id == id)
        .expect("a seeded id")
}

const DAY: u64 = 86_400;

fn data(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

struct Conn {
    id: u64,
    scopes: Vec<String>,
    data: Map<String, Value>,
    health: Health,
}

fn add_connection(store: &mut Store, c: Conn) {
    let seeded = item(c.id);
    store.connections.insert(
        c.id,
        Connection {
            id: c.id,
            name: seeded.name.into(),
            type_name: seeded.type_name.into(),
            team_id: seeded.team_id,
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

fn add_key(store: &mut Store, id: u64, params: &[(&str, &str)]) {
    let seeded = item(id);
    store.keys.insert(
        id,
        Key {
            id,
            name: seeded.name.into(),
            type_name: seeded.type_name.into(),
            team_id: seeded.team_id,
            parameters: data(params),
        },
    );
}

pub(super) fn seed(store: &mut Store, now: u64) {
    store.teams = TEAMS
        .iter()
        .map(|t| Team {
            id: t.id,
            organization_id: t.organization_id,
            name: t.name,
        })
        .collect();
    let none = Map::new;
    let conns = [
        Conn {
            id: GOOGLE_CONNECTION_ID,
            scopes: vec![
                google_scope("userinfo.email"),
                google_scope("drive.readonly"),
            ],
            data: none(),
            health: Health::Ok,
        },
        Conn {
            id: SLACK_CONNECTION_ID,
            scopes: vec![
                "chat:write".into(),
                "channels:read".into(),
                "users:read".into(),
            ],
            data: none(),
            health: Health::Ok,
        },
        Conn {
            id: HTTP_CONNECTION_ID,
            scopes: vec![],
            data: data(&[("authUser", "api-user"), ("authPass", "sandbox-secret")]),
            health: Health::Ok,
        },
        Conn {
            id: AIRTABLE_CONNECTION_ID,
            scopes: vec![],
            data: data(&[("apiKey", "patSandbox.0001")]),
            health: Health::Ok,
        },
        Conn {
            id: REVOKED_CONNECTION_ID,
            scopes: vec![],
            data: data(&[("apiKey", "patRevoked.0002")]),
            health: Health::Invalid,
        },
        Conn {
            id: CRASHING_CONNECTION_ID,
            scopes: vec!["chat:write".into()],
            data: none(),
            health: Health::Broken,
        },
        Conn {
            id: FOREIGN_CONNECTION_ID,
            scopes: vec![google_scope("userinfo.email")],
            data: none(),
            health: Health::Ok,
        },
    ];
    for c in conns {
        add_connection(store, c);
    }
    if let Some(google) = store.connections.get_mut(&GOOGLE_CONNECTION_ID) {
        google.scenario_usages = vec![(SCENARIO_ID, "Back up new Drive files".into())];
        google.metadata = json!({"type": "email", "value": "sandbox.user@example.com"});
        // Make's uids can exceed u64; the sandbox returns one as a string to keep clients lenient.
        google.uid = json!("225874569526501080000");
        google.expire = Some(now + 30 * DAY);
    }
    if let Some(slack) = store.connections.get_mut(&SLACK_CONNECTION_ID) {
        slack.uid = json!(7_340_112);
        slack.metadata = json!({"type": "text", "value": "Acme workspace"});
    }

    add_key(
        store,
        BASICAUTH_KEY_ID,
        &[("authUser", "staging"), ("authPass", "sandbox-secret")],
    );
    add_key(
        store,
        APIKEY_KEY_ID,
        &[
            ("key", "sandbox-key"),
            ("placement", "header"),
            ("name", "X-API-Key"),
        ],
    );
    add_key(
        store,
        AES_KEY_ID,
        &[
            ("key", "00112233445566778899aabbccddeeff"),
            ("keyEncoding", "hex"),
        ],
    );
    add_key(
        store,
        FOREIGN_KEY_ID,
        &[("authUser", "x"), ("authPass", "y")],
    );

    for r in &REQUESTS {
        add_request(store, now, r);
    }
}

fn add_request(store: &mut Store, now: u64, r: &SeedRequest) {
    let (id, cred_id, team_id, name) = (r.id, r.credential_id, r.team_id, r.name);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_holds_exactly_the_stated_seed() {
        let mut store = Store::new(1);
        seed(&mut store, 100 * DAY);
        let teams: Vec<SeedTeam> = store
            .teams
            .iter()
            .map(|t| SeedTeam {
                id: t.id,
                organization_id: t.organization_id,
                name: t.name,
            })
            .collect();
        assert_eq!(teams, TEAMS);
        let stated = |items: &[SeedItem]| items.iter().map(|i| i.id).collect::<Vec<_>>();
        assert_eq!(
            store.connections.keys().copied().collect::<Vec<_>>(),
            stated(&CONNECTIONS)
        );
        assert_eq!(
            store.keys.keys().copied().collect::<Vec<_>>(),
            stated(&KEYS)
        );
        assert_eq!(store.requests.len(), REQUESTS.len());
        for r in REQUESTS {
            let stored = &store.requests[r.id];
            assert_eq!(
                (
                    stored.team_id,
                    stored.name.as_str(),
                    &stored.credential_ids[..]
                ),
                (r.team_id, r.name, &[r.credential_id.to_string()][..])
            );
        }
        assert!(
            TEAMS
                .iter()
                .all(|t| OWN_TEAMS.contains(&t.id) == (t.organization_id == ORGANIZATION_ID))
        );
    }
}
