//! Who an API request acts for: the sandbox's API key, or a person through an OAuth access
//! token, and what each may see and do.
//!
//! The token check (`auth::require_token`) decides the caller and serves the rest of the
//! request inside [`Caller::serve`]. The team rule lives in `Store::accessible_team`, below
//! every handler and every helper they share with the consent page, so it reads the caller
//! of the request being served from a task-local ([`Caller::current`]) rather than from a
//! parameter threaded through each of them. Outside an API request (the consent page, a
//! public link) the caller is the key.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use super::key_scopes::KeyScopes;
use super::seed::SeedPerson;
use super::state::ORGANIZATION_ID;

tokio::task_local! {
    static CALLER: Caller;
}

/// The principal of one API request.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The sandbox's API key: every team of organization 1, the key's scopes.
    Key,
    /// A person through an OAuth access token: their own teams, the token's scopes.
    Person {
        person: &'static SeedPerson,
        /// The Make API scopes the token was granted (`openid` left out).
        scopes: Arc<BTreeSet<String>>,
    },
}

impl Caller {
    /// Runs `fut` (the rest of the request) as this caller.
    pub(crate) async fn serve<F: Future>(self, fut: F) -> F::Output {
        CALLER.scope(self, fut).await
    }

    /// The caller of the API request being served; the key outside one.
    pub(crate) fn current() -> Caller {
        CALLER.try_with(Caller::clone).unwrap_or(Caller::Key)
    }

    /// Whether a team of `organization_id` may be used: the key uses its organization's
    /// teams, a person only the teams they belong to.
    pub(crate) fn sees_team(&self, team_id: u64, organization_id: u64) -> bool {
        match self {
            Caller::Key => organization_id == ORGANIZATION_ID,
            Caller::Person { person, .. } => {
                organization_id == ORGANIZATION_ID && person.team_ids.contains(&team_id)
            }
        }
    }

    /// Whether the caller holds the Make scope `scope`.
    pub(crate) fn has_scope(&self, key_scopes: &KeyScopes, scope: &str) -> bool {
        match self {
            Caller::Key => key_scopes.contains(scope),
            Caller::Person { scopes, .. } => scopes.contains(scope),
        }
    }

    /// The scopes `GET /users/me/current-authorization` lists, sorted.
    pub(crate) fn scope_list(&self, key_scopes: &KeyScopes) -> Vec<String> {
        match self {
            Caller::Key => key_scopes.list().into_iter().map(str::to_owned).collect(),
            Caller::Person { scopes, .. } => scopes.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{ADA, FOREIGN_TEAM, GRACE};

    fn person(p: &'static SeedPerson, scopes: &[&str]) -> Caller {
        Caller::Person {
            person: p,
            scopes: Arc::new(scopes.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn people_see_their_own_teams_and_the_key_its_organization() {
        let ada = person(&ADA, &[]);
        let grace = person(&GRACE, &[]);
        assert!(ada.sees_team(1, ORGANIZATION_ID) && !ada.sees_team(2, ORGANIZATION_ID));
        assert!(grace.sees_team(2, ORGANIZATION_ID) && !grace.sees_team(1, ORGANIZATION_ID));
        assert!(Caller::Key.sees_team(1, ORGANIZATION_ID) && Caller::Key.sees_team(2, 1));
        for c in [ada, grace, Caller::Key] {
            assert!(!c.sees_team(FOREIGN_TEAM, 2));
        }
    }

    #[tokio::test]
    async fn the_current_caller_is_the_served_one_and_the_key_outside() {
        assert!(matches!(Caller::current(), Caller::Key));
        let seen = person(&ADA, &["keys:read"])
            .serve(async { Caller::current() })
            .await;
        let Caller::Person { person: who, .. } = &seen else {
            panic!("{seen:?}")
        };
        assert_eq!(who.username, "ada");
        let keys = KeyScopes::default();
        assert!(seen.has_scope(&keys, "keys:read") && !seen.has_scope(&keys, "keys:write"));
        assert!(Caller::Key.has_scope(&keys, "keys:write"));
        assert_eq!(seen.scope_list(&keys), ["keys:read"]);
    }
}
