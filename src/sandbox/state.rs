//! The sandbox's in-memory store: teams, connections, keys, credential requests and their
//! credentials, plus id generation and the access rules every handler shares.
//!
//! One `Mutex<Store>` guards everything; handlers never hold it across an `.await`, so a
//! plain std mutex is enough and state changes are atomic per request.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value};

use super::errors::ApiError;

/// The token's user and organization (the sandbox has exactly one user).
pub const USER_ID: u64 = 1;
pub const USER_NAME: &str = "Sandbox User";
pub const USER_EMAIL: &str = "sandbox.user@example.com";
pub const ORGANIZATION_ID: u64 = 1;

pub struct Team {
    pub id: u64,
    pub organization_id: u64,
    pub name: &'static str,
}

/// How `POST /connections/{id}/test` behaves for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// `{"verified":true}`
    Ok,
    /// `{"verified":false}` (e.g. a revoked API key)
    Invalid,
    /// 424 "Connection action crashed"
    Broken,
}

pub struct Connection {
    pub id: u64,
    /// The user's label (response `name`).
    pub name: String,
    /// The connection type (response `accountName`).
    pub type_name: String,
    pub team_id: u64,
    pub scopes: Vec<String>,
    pub data: Map<String, Value>,
    pub scenario_usages: Vec<(u64, String)>,
    pub health: Health,
    pub metadata: Value,
    pub uid: Value,
    pub expire: Option<u64>,
}

pub struct Key {
    pub id: u64,
    pub name: String,
    pub type_name: String,
    pub team_id: u64,
    /// Secret parameters: stored, validated, never returned.
    pub parameters: Map<String, Value>,
}

pub struct CredRequest {
    pub id: String,
    /// Creation order, for the default `pg[sortBy]`-less listing.
    pub seq: u64,
    pub team_id: u64,
    pub user_id: u64,
    pub name: String,
    pub description: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
    pub expires_at: u64,
    pub app_names: Vec<String>,
    pub credential_ids: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// A connection.
    Account,
    /// A key.
    Keychain,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Account => "account",
            Component::Keychain => "keychain",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredState {
    Pending,
    Authorized,
    Declined,
}

impl CredState {
    pub fn as_str(self) -> &'static str {
        match self {
            CredState::Pending => "pending",
            CredState::Authorized => "authorized",
            CredState::Declined => "declined",
        }
    }
}

pub struct Credential {
    pub id: String,
    pub request_id: String,
    pub component: Component,
    /// The connection or key type (credential `name`, e.g. `google`, `apikeyauth`).
    pub type_name: String,
    /// `oauth`/`basic` for connections, `key` for keys.
    pub auth_type: &'static str,
    pub label: String,
    pub description: Option<String>,
    pub scope: Vec<String>,
    pub remote_id: Option<u64>,
    pub remote_scope: Vec<String>,
    pub state: CredState,
    pub decline_reason: Option<String>,
    pub app_name: Option<String>,
    pub app_modules: Vec<String>,
    pub app_version: Option<u32>,
    pub name_override: Option<String>,
    pub prefill: Option<Value>,
    /// For an extend request: the existing connection whose scopes grow.
    pub extends: Option<u64>,
    pub created_at: u64,
    pub updated_at: u64,
}

pub struct Store {
    pub teams: Vec<Team>,
    pub connections: BTreeMap<u64, Connection>,
    pub keys: BTreeMap<u64, Key>,
    pub requests: BTreeMap<String, CredRequest>,
    pub credentials: BTreeMap<String, Credential>,
    next_connection_id: u64,
    next_key_id: u64,
    next_seq: u64,
    rng: StdRng,
}

impl Store {
    /// An empty store; `seed` seeds the id generator.
    pub fn new(seed: u64) -> Self {
        Store {
            teams: Vec::new(),
            connections: BTreeMap::new(),
            keys: BTreeMap::new(),
            requests: BTreeMap::new(),
            credentials: BTreeMap::new(),
            next_connection_id: 5001,
            next_key_id: 6001,
            next_seq: 1,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Random bits for opaque ids (not for anything secret beyond the sandbox's own key).
    pub fn random_u64(&mut self) -> u64 {
        self.rng.random()
    }

    /// A 32-hex-character id, the shape of credential request and credential ids.
    pub fn hex_id(&mut self) -> String {
        format!("{:032x}", self.rng.random::<u128>())
    }

    /// A UUIDv4 token, so clients pick `Authorization: Token` (make-api.md §1.2).
    pub fn uuid_v4(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    pub fn next_connection_id(&mut self) -> u64 {
        self.next_connection_id += 1;
        self.next_connection_id - 1
    }

    pub fn next_key_id(&mut self) -> u64 {
        self.next_key_id += 1;
        self.next_key_id - 1
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    /// The team, if the token's organization owns it; otherwise 403 (unknown teams too, so
    /// the sandbox, like Make, does not reveal which team ids exist).
    pub fn accessible_team(&self, team_id: u64) -> Result<&Team, ApiError> {
        self.teams
            .iter()
            .find(|t| t.id == team_id && t.organization_id == ORGANIZATION_ID)
            .ok_or_else(ApiError::forbidden)
    }

    pub fn organization_of(&self, team_id: u64) -> u64 {
        self.teams
            .iter()
            .find(|t| t.id == team_id)
            .map_or(ORGANIZATION_ID, |t| t.organization_id)
    }

    pub fn connection(&self, id: u64) -> Result<&Connection, ApiError> {
        let c = self
            .connections
            .get(&id)
            .ok_or_else(|| ApiError::not_found("Connection", id))?;
        self.accessible_team(c.team_id)?;
        Ok(c)
    }

    pub fn connection_mut(&mut self, id: u64) -> Result<&mut Connection, ApiError> {
        self.connection(id)?;
        self.connections
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("Connection", id))
    }

    pub fn key(&self, id: u64) -> Result<&Key, ApiError> {
        let k = self
            .keys
            .get(&id)
            .ok_or_else(|| ApiError::not_found("Key", id))?;
        self.accessible_team(k.team_id)?;
        Ok(k)
    }

    pub fn key_mut(&mut self, id: u64) -> Result<&mut Key, ApiError> {
        self.key(id)?;
        self.keys
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("Key", id))
    }

    pub fn request(&self, id: &str) -> Result<&CredRequest, ApiError> {
        let r = self
            .requests
            .get(id)
            .ok_or_else(|| ApiError::not_found("Credential request", id))?;
        self.accessible_team(r.team_id)?;
        Ok(r)
    }

    pub fn credential(&self, id: &str) -> Result<&Credential, ApiError> {
        let c = self
            .credentials
            .get(id)
            .ok_or_else(|| ApiError::not_found("Credential", id))?;
        self.request(&c.request_id)?;
        Ok(c)
    }

    /// The credentials of a request, in request order.
    pub fn credentials_of(&self, req: &CredRequest) -> Vec<&Credential> {
        req.credential_ids
            .iter()
            .filter_map(|id| self.credentials.get(id))
            .collect()
    }

    /// Request status derived from its credentials' states.
    pub fn request_status(&self, req: &CredRequest) -> &'static str {
        let states: Vec<CredState> = self.credentials_of(req).iter().map(|c| c.state).collect();
        let authorized = states
            .iter()
            .filter(|s| **s == CredState::Authorized)
            .count();
        let declined = states.iter().filter(|s| **s == CredState::Declined).count();
        if states.is_empty() {
            "pending"
        } else if authorized == states.len() {
            "authorized"
        } else if declined == states.len() {
            "declined"
        } else if authorized > 0 {
            "partially_authorized"
        } else {
            "pending"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_make_shapes() {
        let mut s = Store::new(42);
        let hex = s.hex_id();
        assert_eq!(hex.len(), 32);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(hex, s.hex_id());
        let uuid = s.uuid_v4();
        let parts: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
    }
}
