//! The tools a running server shows: the registry minus the operator's selection (removed
//! once, when the registry is built), minus what the scope check hides when its answer
//! arrives.
//!
//! The registry generates every tool's schemas from the Rust types (see
//! [`crate::tools::schema`]), which is most of what building a server costs, so it is built
//! on first need (the first `tools/list` or call, or a scope check's answer that hides
//! tools), never before `initialize` is answered. Only a selection other than the default builds it at once: the
//! selection is checked against it, so that a bad one stops the server before it serves.
//!
//! The check answers after `initialize` (it never delays it), so the visible router is
//! swapped once it does: a new `Arc` of the selected router with the lacking tools
//! disabled, not a rebuilt registry. `tools/list` waits a little for a pending check;
//! live clients that listed tools before the answer get `notifications/tools/list_changed`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::ProtocolVersion;
use rmcp::service::{Peer, RequestContext};
use tokio::sync::watch;

use super::grants::GrantRouters;
use crate::selection::check::{self, Outcome, Skip};
use crate::selection::scopes::{self, Lacking};
use crate::selection::{HiddenBy, Selection, SelectionError};
use crate::tools::{self, Toolbox};

/// Why a registered tool is not visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hidden {
    /// A selection setting hid it.
    Selection(HiddenBy),
    /// The key lacks these scopes.
    Scopes(Vec<&'static str>),
}

/// What `tools/list` shows now.
pub(crate) struct Visible {
    /// `None`: the selected router, unchanged by a scope check.
    tools: Option<Arc<ToolRouter<Toolbox>>>,
    /// A scope check is running; its answer may hide tools.
    pending: bool,
    /// What the scope check hid.
    lacking: Vec<Lacking>,
}

pub(crate) struct LiveTools {
    selection: Selection,
    /// Built on first need.
    selected: OnceLock<Selected>,
    visible: watch::Sender<Visible>,
    /// Live clients that listed tools while the check was pending; `None` once settled,
    /// so no client is added after the notifications went out.
    listeners: Mutex<Option<Vec<Peer<RoleServer>>>>,
    /// What signed-in people see, per grant.
    grants: GrantRouters,
}

/// The registry with the selection applied.
struct Selected {
    /// The registry minus the selection; the scope check disables routes on a copy of it.
    router: Arc<ToolRouter<Toolbox>>,
    /// Every registered tool the selection hid.
    hidden: BTreeMap<String, HiddenBy>,
}

impl Selected {
    fn build(selection: &Selection) -> Result<Self, SelectionError> {
        let mut registry = tools::registry();
        let hidden = selection.apply(&mut registry)?;
        Ok(Self {
            router: Arc::new(registry),
            hidden,
        })
    }
}

impl LiveTools {
    /// Tools for `selection`; checks a selection other than the default against the
    /// registry at once (see the module docs).
    pub(crate) fn new(selection: Selection) -> Result<Self, SelectionError> {
        let selected = OnceLock::new();
        if selection != Selection::default() {
            let _ = selected.set(Selected::build(&selection)?);
        }
        Ok(Self {
            selection,
            selected,
            visible: watch::Sender::new(Visible {
                tools: None,
                pending: false,
                lacking: Vec::new(),
            }),
            listeners: Mutex::new(None),
            grants: GrantRouters::default(),
        })
    }

    /// The registry minus the selection, built now if it was not yet.
    fn selected(&self) -> &Selected {
        self.selected.get_or_init(|| {
            Selected::build(&self.selection)
                .expect("a selection that passed LiveTools::new applies to the registry")
        })
    }

    /// How many tools the selection leaves, once the registry is built (`None` before).
    pub(crate) fn selected_count(&self) -> Option<usize> {
        self.selected.get().map(|s| s.router.list_all().len())
    }

    /// Resolves each time the scope check changes what is visible (for 2026-07-28
    /// `subscriptions/listen`); `true` when it hid tools.
    pub(crate) async fn changed(receiver: &mut watch::Receiver<Visible>) -> Option<bool> {
        receiver.changed().await.ok()?;
        Some(!receiver.borrow().lacking.is_empty())
    }

    /// A receiver of visibility changes, for [`LiveTools::changed`].
    pub(crate) fn watch(&self) -> watch::Receiver<Visible> {
        self.visible.subscribe()
    }

    /// The router calls go through now (hidden tools answer "tool not found").
    pub(crate) fn current(&self) -> Arc<ToolRouter<Toolbox>> {
        let reduced = self.visible.borrow().tools.clone();
        reduced.unwrap_or_else(|| self.selected().router.clone())
    }

    /// The router a signed-in person's calls go through: the selection minus the tools
    /// their grant's `scopes` cannot serve. The operator key's scope check plays no part:
    /// the person's calls never use that key.
    pub(crate) fn for_grant(&self, scopes: &BTreeSet<String>) -> Arc<ToolRouter<Toolbox>> {
        self.grants.for_grant(&self.selected().router, scopes)
    }

    /// Why `tool` is hidden, `None` when it is visible or not registered at all.
    pub(crate) fn hidden(&self, tool: &str) -> Option<Hidden> {
        if let Some(by) = self.selected().hidden.get(tool) {
            return Some(Hidden::Selection(*by));
        }
        let visible = self.visible.borrow();
        let lacking = visible.lacking.iter().find(|l| l.tool == tool)?;
        Some(Hidden::Scopes(lacking.missing.clone()))
    }

    /// Whether a scope check is running.
    pub(crate) fn check_pending(&self) -> bool {
        self.visible.borrow().pending
    }

    /// Marks a scope check as running: from now on `tools/list` waits for it.
    pub(crate) fn begin_check(&self) {
        *self.lock_listeners() = Some(Vec::new());
        self.visible.send_modify(|v| v.pending = true);
    }

    /// The router to list, after waiting up to [`check::LIST_WAIT`] for a pending check.
    /// A live client that gets its list before the answer is remembered, to be told when
    /// the list changes.
    pub(crate) async fn for_listing(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Arc<ToolRouter<Toolbox>> {
        let mut rx = self.visible.subscribe();
        let settled = tokio::time::timeout(check::LIST_WAIT, rx.wait_for(|v| !v.pending)).await;
        if !matches!(settled, Ok(Ok(_))) && is_live(context) {
            // Registered before reading the list: an answer in between at worst sends a
            // needless notification, never misses one.
            if let Some(listeners) = self.lock_listeners().as_mut() {
                listeners.push(context.peer.clone());
            }
        }
        self.current()
    }

    /// Takes the check's answer: hides the tools the key cannot use, logs what and why,
    /// and tells live clients that already listed tools.
    pub(crate) async fn settle(&self, outcome: Outcome) {
        let lacking = match outcome {
            Outcome::Granted(granted) => {
                // Not built yet: the default selection, which shows every registered tool.
                let names: Vec<String> = match self.selected.get() {
                    Some(selected) => selected
                        .router
                        .list_all()
                        .into_iter()
                        .map(|t| t.name.to_string())
                        .collect(),
                    None => scopes::every_tool().map(String::from).collect(),
                };
                scopes::lacking(names.iter().map(String::as_str), &granted)
            }
            Outcome::Skipped(skip) => {
                check::log_skip(&skip);
                Vec::new()
            }
        };
        let tools = if lacking.is_empty() {
            None
        } else {
            let selected = &self.selected().router;
            tracing::info!(
                hidden = lacking.len(),
                visible = selected.list_all().len() - lacking.len(),
                "the Make key lacks scopes: hiding {}",
                scopes::describe(&lacking)
            );
            let mut reduced = ToolRouter::clone(selected);
            for l in &lacking {
                reduced.disable_route(l.tool.clone());
            }
            Some(Arc::new(reduced))
        };
        let changed = !lacking.is_empty();
        self.visible.send_replace(Visible {
            tools,
            pending: false,
            lacking,
        });
        let listeners = self.lock_listeners().take().unwrap_or_default();
        if !changed {
            return;
        }
        for peer in listeners.iter().filter(|p| !p.is_transport_closed()) {
            if let Err(e) = peer.notify_tool_list_changed().await {
                tracing::debug!(error = %e, "could not send notifications/tools/list_changed");
            }
        }
    }

    /// Settles at once without asking Make.
    pub(crate) async fn skip(&self, skip: Skip) {
        self.settle(Outcome::Skipped(skip)).await;
    }

    fn lock_listeners(&self) -> std::sync::MutexGuard<'_, Option<Vec<Peer<RoleServer>>>> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A 2025-11-25 client on a connection that outlives the request (stdio, HTTP sessions):
/// only those can receive a notification later. A stateless HTTP request has no
/// `initialize` on record, and 2026-07-28 clients are always stateless.
fn is_live(context: &RequestContext<RoleServer>) -> bool {
    let modern = context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    !modern && context.peer.peer_info().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_selection_builds_the_registry_on_first_need_only() {
        let live = LiveTools::new(Selection::default()).unwrap();
        assert_eq!(live.selected_count(), None, "built before it was needed");
        let listed = live.current().list_all().len();
        assert!(listed > 0);
        assert_eq!(live.selected_count(), Some(listed));
    }

    #[test]
    fn another_selection_is_checked_against_the_registry_at_once() {
        let read_only = Selection {
            read_only: true,
            ..Selection::default()
        };
        let live = LiveTools::new(read_only).unwrap();
        let count = live.selected_count().expect("built at once");
        assert!(count > 0);
        assert_eq!(live.current().list_all().len(), count);

        let unknown = Selection {
            tools: Some(vec!["no_such_tool".into()]),
            ..Selection::default()
        };
        assert!(LiveTools::new(unknown).is_err());
    }
}
