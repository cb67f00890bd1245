//! The tools a running server shows: the registry minus the operator's selection (removed
//! once, at build), minus what the scope check hides when its answer arrives.
//!
//! The check answers after `initialize` (it never delays it), so the visible router is
//! swapped once it does: a new `Arc` of the selected router with the lacking tools
//! disabled, not a rebuilt registry. `tools/list` waits a little for a pending check;
//! live clients that listed tools before the answer get `notifications/tools/list_changed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::ProtocolVersion;
use rmcp::service::{Peer, RequestContext};
use tokio::sync::watch;

use crate::selection::check::{self, Outcome, Skip};
use crate::selection::scopes::{self, Lacking};
use crate::selection::{HiddenBy, Selection, SelectionError};
use crate::tools::Toolbox;

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
    tools: Arc<ToolRouter<Toolbox>>,
    /// A scope check is running; its answer may hide tools.
    pending: bool,
    /// What the scope check hid.
    lacking: Vec<Lacking>,
}

pub(crate) struct LiveTools {
    /// The registry minus the selection; the scope check disables routes on a copy of it.
    selected: Arc<ToolRouter<Toolbox>>,
    /// Every registered tool the selection hid.
    hidden: BTreeMap<String, HiddenBy>,
    visible: watch::Sender<Visible>,
    /// Live clients that listed tools while the check was pending; `None` once settled,
    /// so no client is added after the notifications went out.
    listeners: Mutex<Option<Vec<Peer<RoleServer>>>>,
}

impl LiveTools {
    /// Applies `selection` to the registry, once.
    pub(crate) fn new(
        mut registry: ToolRouter<Toolbox>,
        selection: &Selection,
    ) -> Result<Self, SelectionError> {
        let hidden = selection.apply(&mut registry)?;
        let selected = Arc::new(registry);
        Ok(Self {
            selected: selected.clone(),
            hidden,
            visible: watch::Sender::new(Visible {
                tools: selected,
                pending: false,
                lacking: Vec::new(),
            }),
            listeners: Mutex::new(None),
        })
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
        self.visible.borrow().tools.clone()
    }

    /// Why `tool` is hidden, `None` when it is visible or not registered at all.
    pub(crate) fn hidden(&self, tool: &str) -> Option<Hidden> {
        if let Some(by) = self.hidden.get(tool) {
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
                let names: Vec<String> = self
                    .selected
                    .list_all()
                    .into_iter()
                    .map(|t| t.name.to_string())
                    .collect();
                scopes::lacking(names.iter().map(String::as_str), &granted)
            }
            Outcome::Skipped(skip) => {
                check::log_skip(&skip);
                Vec::new()
            }
        };
        let tools = if lacking.is_empty() {
            self.selected.clone()
        } else {
            tracing::info!(
                hidden = lacking.len(),
                visible = self.selected.list_all().len() - lacking.len(),
                "the Make key lacks scopes: hiding {}",
                scopes::describe(&lacking)
            );
            let mut reduced = ToolRouter::clone(&self.selected);
            for l in &lacking {
                reduced.disable_route(l.tool.clone());
            }
            Arc::new(reduced)
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
