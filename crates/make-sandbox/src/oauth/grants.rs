//! The authorization server's state: one-time form tickets, authorization codes, grants and
//! their tokens, and the token endpoint's call counts.
//!
//! A grant is one person's approval of the client for some scopes. Exchanging its code
//! issues an access token and a refresh token; each refresh issues a new pair and retires
//! the refresh token used (rotation), so a refresh token works once. Revoking any of a
//! grant's tokens ends the grant and all its tokens. Replaying a code ends the grant it
//! issued (RFC 6749 §4.1.2). Make documents neither refresh-token lifetime nor rotation; the
//! sandbox rotates because that is the stricter behaviour for a client to survive.
//!
//! Expired entries are dropped whenever the state is touched, so nothing grows without bound.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::seed::SeedPerson;

use super::pkce;

/// How long a login or consent form stays usable.
pub(crate) const TICKET_LIFETIME: Duration = Duration::from_secs(600);
/// How long an authorization code may be exchanged.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// A validated authorization request, carried from the login form to the code.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// Requested scopes, in the order asked, without duplicates.
    pub(crate) scopes: Vec<String>,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: String,
}

/// What a one-time form ticket stands for: a request waiting for its login, or for the
/// signed-in person's consent.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub(crate) request: AuthRequest,
    pub(crate) person: Option<&'static SeedPerson>,
    expires: Instant,
}

struct Code {
    request: AuthRequest,
    person: &'static SeedPerson,
    expires: Instant,
    /// The grant its exchange created; a replay ends it.
    used_by: Option<u64>,
}

struct Grant {
    client_id: String,
    person: &'static SeedPerson,
    scopes: Vec<String>,
}

struct AccessToken {
    grant: u64,
    scopes: Arc<BTreeSet<String>>,
    expires: Instant,
}

/// A live access token's owner and scopes.
#[derive(Debug, Clone)]
pub(crate) struct TokenOwner {
    pub(crate) person: &'static SeedPerson,
    /// All granted scopes, `openid` included.
    pub(crate) scopes: Arc<BTreeSet<String>>,
}

/// What the token endpoint answers on success.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: u64,
    /// Space-separated, as in the response's `scope`.
    pub(crate) scope: String,
}

/// Why a code or refresh token was refused; all are `invalid_grant` on the wire, with
/// these descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GrantError {
    #[error("The authorization code is unknown or expired.")]
    UnknownCode,
    #[error("The authorization code was already used; the grant it issued is revoked.")]
    CodeReplayed,
    #[error("The authorization code was issued to another client.")]
    WrongClient,
    #[error("redirect_uri does not match the authorization request.")]
    WrongRedirect,
    #[error("code_verifier does not match the code_challenge.")]
    PkceFailed,
    #[error("The refresh token is unknown, used or revoked.")]
    UnknownRefresh,
    #[error("The requested scope exceeds the grant.")]
    ScopeExceeded,
}

/// The state; the caller holds it under a mutex.
#[derive(Default)]
pub(crate) struct Grants {
    tickets: HashMap<String, Ticket>,
    codes: HashMap<String, Code>,
    grants: HashMap<u64, Grant>,
    access: HashMap<String, AccessToken>,
    /// The current refresh token of each grant.
    refresh: HashMap<String, u64>,
    next_grant: u64,
    /// Token-endpoint calls per grant type, failed ones included.
    pub(crate) code_exchanges: usize,
    pub(crate) refreshes: usize,
}

/// 256 random bits as 64 hex characters: tickets, codes and tokens.
fn secret() -> String {
    format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

impl Grants {
    /// Drops expired tickets, codes and access tokens.
    fn prune(&mut self, now: Instant) {
        self.tickets.retain(|_, t| t.expires > now);
        self.codes.retain(|_, c| c.expires > now);
        self.access.retain(|_, a| a.expires > now);
    }

    /// A new one-time ticket for the next form.
    pub(crate) fn ticket(
        &mut self,
        request: AuthRequest,
        person: Option<&'static SeedPerson>,
    ) -> String {
        let now = Instant::now();
        self.prune(now);
        let id = secret();
        let ticket = Ticket {
            request,
            person,
            expires: now + TICKET_LIFETIME,
        };
        self.tickets.insert(id.clone(), ticket);
        id
    }

    /// Takes a ticket (it works once); `None` when unknown, used or expired.
    pub(crate) fn take_ticket(&mut self, id: &str) -> Option<Ticket> {
        self.prune(Instant::now());
        self.tickets.remove(id)
    }

    /// A code for an approved request.
    pub(crate) fn code(&mut self, request: AuthRequest, person: &'static SeedPerson) -> String {
        let now = Instant::now();
        self.prune(now);
        let id = secret();
        let code = Code {
            request,
            person,
            expires: now + CODE_LIFETIME,
            used_by: None,
        };
        self.codes.insert(id.clone(), code);
        id
    }

    /// Exchanges a code: it works once, for the client, redirect URI and PKCE challenge it
    /// was issued for. Any attempt with a known code uses it up.
    pub(crate) fn exchange_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier: &str,
        lifetime: Duration,
    ) -> Result<Issued, GrantError> {
        let now = Instant::now();
        self.prune(now);
        let entry = self.codes.get_mut(code).ok_or(GrantError::UnknownCode)?;
        if let Some(grant) = entry.used_by {
            self.revoke_grant(grant);
            return Err(GrantError::CodeReplayed);
        }
        // Used from now on, whatever follows; a grant id is filled in on success.
        entry.used_by = Some(u64::MAX);
        let (request, person) = (entry.request.clone(), entry.person);
        if request.client_id != client_id {
            return Err(GrantError::WrongClient);
        }
        if request.redirect_uri != redirect_uri {
            return Err(GrantError::WrongRedirect);
        }
        if !pkce::verify(verifier, &request.code_challenge) {
            return Err(GrantError::PkceFailed);
        }
        self.next_grant += 1;
        let grant = self.next_grant;
        self.grants.insert(
            grant,
            Grant {
                client_id: request.client_id,
                person,
                scopes: request.scopes.clone(),
            },
        );
        if let Some(entry) = self.codes.get_mut(code) {
            entry.used_by = Some(grant);
        }
        Ok(self.issue(grant, request.scopes, lifetime, now))
    }

    /// Refreshes: the token works once and is replaced; `scope`, when given, must lie
    /// within the grant and narrows the new access token.
    pub(crate) fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        scope: Option<Vec<String>>,
        lifetime: Duration,
    ) -> Result<Issued, GrantError> {
        let now = Instant::now();
        self.prune(now);
        let grant_id = *self
            .refresh
            .get(refresh_token)
            .ok_or(GrantError::UnknownRefresh)?;
        let grant = self
            .grants
            .get(&grant_id)
            .ok_or(GrantError::UnknownRefresh)?;
        if grant.client_id != client_id {
            return Err(GrantError::UnknownRefresh);
        }
        let scopes = match scope {
            Some(asked) if asked.iter().any(|s| !grant.scopes.contains(s)) => {
                return Err(GrantError::ScopeExceeded);
            }
            Some(asked) => asked,
            None => grant.scopes.clone(),
        };
        self.refresh.remove(refresh_token);
        Ok(self.issue(grant_id, scopes, lifetime, now))
    }

    fn issue(
        &mut self,
        grant: u64,
        scopes: Vec<String>,
        lifetime: Duration,
        now: Instant,
    ) -> Issued {
        let access_token = secret();
        let refresh_token = secret();
        let scope = scopes.join(" ");
        self.access.insert(
            access_token.clone(),
            AccessToken {
                grant,
                scopes: Arc::new(scopes.into_iter().collect()),
                expires: now + lifetime,
            },
        );
        self.refresh.insert(refresh_token.clone(), grant);
        Issued {
            access_token,
            refresh_token,
            expires_in: lifetime.as_secs().max(1),
            scope,
        }
    }

    /// The owner of a live access token.
    pub(crate) fn access_owner(&mut self, token: &str) -> Option<TokenOwner> {
        self.prune(Instant::now());
        let access = self.access.get(token)?;
        let grant = self.grants.get(&access.grant)?;
        Some(TokenOwner {
            person: grant.person,
            scopes: access.scopes.clone(),
        })
    }

    /// Revokes the grant an access or refresh token of `client_id` belongs to; whether
    /// there was one.
    pub(crate) fn revoke(&mut self, token: &str, client_id: &str) -> bool {
        let grant = self
            .access
            .get(token)
            .map(|a| a.grant)
            .or_else(|| self.refresh.get(token).copied());
        match grant {
            Some(g)
                if self
                    .grants
                    .get(&g)
                    .is_some_and(|g| g.client_id == client_id) =>
            {
                self.revoke_grant(g);
                true
            }
            _ => false,
        }
    }

    fn revoke_grant(&mut self, grant: u64) {
        self.grants.remove(&grant);
        self.access.retain(|_, a| a.grant != grant);
        self.refresh.retain(|_, g| *g != grant);
    }
}
