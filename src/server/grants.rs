//! The tools a signed-in person sees: the selected tools minus those their Make grant's
//! scopes cannot serve, hidden the way the operator's scope check hides them (disabled
//! routes, so a call answers as for an unknown tool).
//!
//! Deriving a router copies the selected one, so reduced routers are kept per distinct
//! grant. Only the scopes some tool needs decide what is hidden (`openid` or a scope Make
//! adds later do not), so a grant is keyed by those: at most 2^7 keys, and the map is
//! capped below that anyway.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;

use crate::selection::scopes;
use crate::tools::Toolbox;

/// Most reduced routers kept; past it, one is dropped to make room.
const MAX_GRANTS: usize = 32;

/// A grant, as far as it decides which tools show: the granted scopes some tool needs.
type GrantKey = BTreeSet<&'static str>;

/// Reduced routers per grant.
pub(crate) struct GrantRouters {
    /// Every scope some tool needs.
    known: BTreeSet<&'static str>,
    cache: Mutex<HashMap<GrantKey, Arc<ToolRouter<Toolbox>>>>,
}

impl Default for GrantRouters {
    fn default() -> Self {
        Self {
            known: scopes::every_scope(),
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl GrantRouters {
    /// `selected` minus the tools `granted` cannot serve; `selected` itself when it can
    /// serve them all.
    pub(crate) fn for_grant(
        &self,
        selected: &Arc<ToolRouter<Toolbox>>,
        granted: &BTreeSet<String>,
    ) -> Arc<ToolRouter<Toolbox>> {
        let key: GrantKey = self
            .known
            .iter()
            .copied()
            .filter(|scope| granted.contains(*scope))
            .collect();
        if key.len() == self.known.len() {
            return Arc::clone(selected);
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(router) = cache.get(&key) {
            return Arc::clone(router);
        }
        let router = Arc::new(reduce(selected, granted));
        if cache.len() >= MAX_GRANTS
            && let Some(evicted) = cache.keys().next().cloned()
        {
            cache.remove(&evicted);
        }
        cache.insert(key, Arc::clone(&router));
        router
    }

    /// How many reduced routers are kept.
    #[cfg(test)]
    fn cached(&self) -> usize {
        self.cache.lock().unwrap().len()
    }
}

/// A copy of `selected` with the tools `granted` cannot serve disabled.
fn reduce(selected: &ToolRouter<Toolbox>, granted: &BTreeSet<String>) -> ToolRouter<Toolbox> {
    let names: Vec<String> = selected
        .list_all()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    let mut reduced = selected.clone();
    for lacking in scopes::lacking(names.iter().map(String::as_str), granted) {
        reduced.disable_route(lacking.tool);
    }
    reduced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(scopes: &[&str]) -> BTreeSet<String> {
        scopes.iter().map(|s| s.to_string()).collect()
    }

    fn names(router: &ToolRouter<Toolbox>) -> Vec<String> {
        router
            .list_all()
            .into_iter()
            .map(|t| t.name.into_owned())
            .collect()
    }

    #[test]
    fn a_grant_shows_only_the_tools_its_scopes_serve() {
        let selected = Arc::new(crate::tools::registry());
        let grants = GrantRouters::default();
        let shown = names(&grants.for_grant(&selected, &grant(&["connections:read", "openid"])));
        assert_eq!(
            shown,
            [
                "connections_get",
                "connections_get-editable-data-schema",
                "connections_list"
            ]
        );
        let router = grants.for_grant(&selected, &grant(&["connections:read"]));
        assert!(!router.has_route("keys_list") && selected.has_route("keys_list"));
        assert!(
            grants
                .for_grant(&selected, &grant(&[]))
                .list_all()
                .is_empty()
        );
    }

    #[test]
    fn a_full_grant_is_the_selection_itself_and_equal_grants_share_a_router() {
        let selected = Arc::new(crate::tools::registry());
        let grants = GrantRouters::default();
        let all: BTreeSet<String> = scopes::every_scope()
            .into_iter()
            .map(String::from)
            .collect();
        assert!(Arc::ptr_eq(&grants.for_grant(&selected, &all), &selected));
        let a = grants.for_grant(&selected, &grant(&["keys:read"]));
        let b = grants.for_grant(&selected, &grant(&["keys:read", "openid", "future:scope"]));
        assert!(
            Arc::ptr_eq(&a, &b),
            "scopes no tool needs made a new router"
        );
        assert_eq!(grants.cached(), 1);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let selected = Arc::new(crate::tools::registry());
        let grants = GrantRouters::default();
        let known: Vec<&str> = scopes::every_scope().into_iter().collect();
        // Every proper subset of the known scopes: 127 distinct grants.
        for mask in 0u32..(1 << known.len()) - 1 {
            let scopes: Vec<&str> = (0..known.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| known[i])
                .collect();
            let router = grants.for_grant(&selected, &grant(&scopes));
            assert!(router.list_all().len() < selected.list_all().len());
        }
        assert_eq!(grants.cached(), MAX_GRANTS);
    }
}
