//! The sandbox's in-memory store: teams, connections, keys, credential requests and their
//! credentials, plus id generation and the access rules every handler shares.
//!
//! One `Mutex<Store>` guards everything; handlers never hold it across an `.await`, so a
//! plain std mutex is enough and state changes are atomic per request.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value};

use super::caller::Caller;
use super::errors::ApiError;

/// The token's user and organization (the sandbox has exactly one user).
pub(crate) const USER_ID: u64 = 1;
pub(crate) const USER_NAME: &str = "Sandbox User";
pub(crate) const USER_EMAIL: &str = "sandbox.user@example.com";
pub(crate) const ORGANIZATION_ID: u64 = 1;

pub(crate) struct Team {
    pub(crate) id: u64,
    pub(crate) organization_id: u64,
    pub(crate) name: &'static str,
}

/// How `POST /connections/{id}/test` behaves for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// `{"verified":true}`
    Ok,
    /// `{"verified":false}` (e.g. a revoked API key)
    Invalid,
    /// 424 "Connection action crashed"
    Broken,
}

pub(crate) struct Connection {
    pub(crate) id: u64,
    /// The user's label (response `name`).
    pub(crate) name: String,
    /// The connection type (response `accountName`).
    pub(crate) type_name: String,
    pub(crate) team_id: u64,
    pub(crate) scopes: Vec<String>,
    pub(crate) data: Map<String, Value>,
    pub(crate) scenario_usages: Vec<(u64, String)>,
    pub(crate) health: Health,
    pub(crate) metadata: Value,
    pub(crate) uid: Value,
    pub(crate) expire: Option<u64>,
}

pub(crate) struct Key {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) team_id: u64,
    /// Secret parameters: stored, validated, never returned.
    pub(crate) parameters: Map<String, Value>,
}

pub(crate) struct CredRequest {
    pub(crate) id: String,
    /// Creation order, for the default `pg[sortBy]`-less listing.
    pub(crate) seq: u64,
    pub(crate) team_id: u64,
    pub(crate) user_id: u64,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) app_names: Vec<String>,
    pub(crate) credential_ids: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Component {
    /// A connection.
    Account,
    /// A key.
    Keychain,
}

impl Component {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Component::Account => "account",
            Component::Keychain => "keychain",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CredState {
    Pending,
    Authorized,
    Declined,
}

impl CredState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CredState::Pending => "pending",
            CredState::Authorized => "authorized",
            CredState::Declined => "declined",
        }
    }
}

pub(crate) struct Credential {
    pub(crate) id: String,
    pub(crate) request_id: String,
    pub(crate) component: Component,
    /// The connection or key type (credential `name`, e.g. `google`, `apikeyauth`).
    pub(crate) type_name: String,
    /// `oauth`/`basic` for connections, `key` for keys.
    pub(crate) auth_type: &'static str,
    pub(crate) label: String,
    pub(crate) description: Option<String>,
    pub(crate) scope: Vec<String>,
    pub(crate) remote_id: Option<u64>,
    pub(crate) remote_scope: Vec<String>,
    pub(crate) state: CredState,
    pub(crate) decline_reason: Option<String>,
    pub(crate) app_name: Option<String>,
    pub(crate) app_modules: Vec<String>,
    pub(crate) app_version: Option<u32>,
    pub(crate) name_override: Option<String>,
    pub(crate) prefill: Option<Value>,
    /// For an extend request: the existing connection whose scopes grow.
    pub(crate) extends: Option<u64>,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
}

pub(crate) struct Store {
    pub(crate) teams: Vec<Team>,
    pub(crate) connections: BTreeMap<u64, Connection>,
    pub(crate) keys: BTreeMap<u64, Key>,
    pub(crate) requests: BTreeMap<String, CredRequest>,
    pub(crate) credentials: BTreeMap<String, Credential>,
    next_connection_id: u64,
    next_key_id: u64,
    next_seq: u64,
    rng: StdRng,
}

impl Store {
    /// An empty store; `seed` seeds the id generator.
    pub(crate) fn new(seed: u64) -> Self {
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
    pub(crate) fn random_u64(&mut self) -> u64 {
        self.rng.random()
    }

    /// A 32-hex-character id, the shape of credential request and credential ids.
    pub(crate) fn hex_id(&mut self) -> String {
        format!("{:032x}", self.rng.random::<u128>())
    }

    /// A UUIDv4 token, so clients pick `Authorization: Token` (make-api.md §1.2).
    pub(crate) fn uuid_v4(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    pub(crate) fn next_connection_id(&mut self) -> u64 {
        self.next_connection_id += 1;
        self.next_connection_id - 1
    }

    pub(crate) fn next_key_id(&mut self) -> u64 {
        self.next_key_id += 1;
        self.next_key_id - 1
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    /// The team, if the request's caller may use it (the key: its organization's teams; a
    /// person: their own, see [`Caller`]); otherwise 403 (unknown teams too, so the
    /// sandbox, like Make, does not reveal which team ids exist). Every object lookup below
    /// goes through here.
    pub(crate) fn accessible_team(&self, team_id: u64) -> Result<&Team, ApiError> {
        let caller = Caller::current();
        self.teams
            .iter()
            .find(|t| t.id == team_id && caller.sees_team(t.id, t.organization_id))
            .ok_or_else(ApiError::forbidden)
    }

    pub(crate) fn organization_of(&self, team_id: u64) -> u64 {
        self.teams
            .iter()
            .find(|t| t.id == team_id)
            .map_or(ORGANIZATION_ID, |t| t.organization_id)
    }

    pub(crate) fn connection(&self, id: u64) -> Result<&Connection, ApiError> {
        let c = self
            .connections
            .get(&id)
            .ok_or_else(|| ApiError::not_found("Connection", id))?;
        self.accessible_team(c.team_id)?;
        Ok(c)
    }

    pub(crate) fn connection_mut(&mut self, id: u64) -> Result<&mut Connection, ApiError> {
        self.connection(id)?;
        self.connections
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("Connection", id))
    }

    pub(crate) fn key(&self, id: u64) -> Result<&Key, ApiError> {
        let k = self
            .keys
            .get(&id)
            .ok_or_else(|| ApiError::not_found("Key", id))?;
        self.accessible_team(k.team_id)?;
        Ok(k)
    }

    pub(crate) fn key_mut(&mut self, id: u64) -> Result<&mut Key, ApiError> {
        self.key(id)?;
        self.keys
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("Key", id))
    }

    pub(crate) fn request(&self, id: &str) -> Result<&CredRequest, ApiError> {
        let r = self
            .requests
            .get(id)
            .ok_or_else(|| ApiError::not_found("Credential request", id))?;
        self.accessible_team(r.team_id)?;
        Ok(r)
    }

    pub(crate) fn credential(&self, id: &str) -> Result<&Credential, ApiError> {
        let c = self
            .credentials
            .get(id)
            .ok_or_else(|| ApiError::not_found("Credential", id))?;
        self.request(&c.request_id)?;
        Ok(c)
    }

    /// The credentials of a request, in request order.
    pub(crate) fn credentials_of(&self, req: &CredRequest) -> Vec<&Credential> {
        req.credential_ids
            .iter()
            .filter_map(|id| self.credentials.get(id))
            .collect()
    }

    /// Request status derived from its credentials' states.
    pub(crate) fn request_status(&self, req: &CredRequest) -> &'static str {
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
