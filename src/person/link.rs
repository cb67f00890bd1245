//! Handing a credential request's link to the person through the client.
//!
//! The tool result never waits for the person to finish authorizing: a live client is
//! asked to open the link and answers at once (accept only means they agreed to open it);
//! a 2026-07-28 client gets an input-required result and retries. Either way the link stays
//! in the result. When `credential-requests_wait-for-authorization` later sees the request
//! done, the live client gets `notifications/elicitation/complete` for the elicitation id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CustomNotification, ElicitRequest, ElicitRequestParams, ElicitationAction, InputRequest,
    InputRequests, InputRequiredResult, ServerNotification,
};
use rmcp::service::Peer;
use schemars::JsonSchema;
use serde::Serialize;
use url::Url;

use super::sealed::{Payload, Sealer};
use super::turn::Turn;

/// The input-request key of the link in an input-required result.
pub(crate) const LINK_INPUT: &str = "authorize";

/// How long a live client may take to show the link and report the person's choice.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// Links handed over and not yet reported complete; bounded so that abandoned requests
/// cannot grow it without end.
const MAX_PENDING: usize = 1024;

/// What happened when the link was offered to the person.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LinkOutcome {
    /// How the link reached the person: `elicitation` (the client opened a dialog) or `input_required` (the client was asked in a round trip).
    pub(crate) via: String,
    /// What the person chose: `accept` (agreed to open the link; authorizing is still to come), `decline`, `cancel` or `no_answer`.
    pub(crate) action: String,
    /// The elicitation id; `notifications/elicitation/complete` names it once the request is done.
    pub(crate) elicitation_id: Option<String>,
}

/// One link elicitation waiting for its completion notice: its id and the session to tell.
type Pending = (String, Peer<RoleServer>);

/// Elicitation ids (with the session to notify) by credential request id.
#[derive(Clone, Default)]
pub(crate) struct PendingLinks {
    inner: Arc<Mutex<HashMap<String, Vec<Pending>>>>,
}

impl PendingLinks {
    fn add(&self, request_id: &str, elicitation_id: &str, peer: Peer<RoleServer>) {
        let mut map = self.inner.lock().expect("pending links lock");
        if map.len() >= MAX_PENDING && !map.contains_key(request_id) {
            // Forget an arbitrary old entry: only its completion notice is lost.
            if let Some(key) = map.keys().next().cloned() {
                map.remove(&key);
            }
        }
        map.entry(request_id.to_string())
            .or_default()
            .push((elicitation_id.to_string(), peer));
    }

    /// Sends `notifications/elicitation/complete` for every link of `request_id` (once).
    pub(crate) async fn complete(&self, request_id: &str) -> usize {
        let pending = self
            .inner
            .lock()
            .expect("pending links lock")
            .remove(request_id)
            .unwrap_or_default();
        let mut sent = 0;
        for (elicitation_id, peer) in pending {
            let notice = CustomNotification::new(
                "notifications/elicitation/complete",
                Some(serde_json::json!({ "elicitationId": elicitation_id })),
            );
            match peer
                .send_notification(ServerNotification::CustomNotification(notice))
                .await
            {
                Ok(()) => sent += 1,
                Err(e) => {
                    tracing::debug!(error = %crate::logging::quote(&e), "could not send elicitation/complete")
                }
            }
        }
        sent
    }
}

/// A fresh elicitation id (random, 128 bits, hex).
pub(crate) fn new_elicitation_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asks a live client to open `url`; returns what the person chose.
pub(crate) async fn offer_live(
    peer: &Peer<RoleServer>,
    links: &PendingLinks,
    request_id: &str,
    message: &str,
    url: &Url,
) -> LinkOutcome {
    let id = new_elicitation_id();
    links.add(request_id, &id, peer.clone());
    let answer = peer
        .elicit_url_with_timeout(message, url.clone(), id.clone(), Some(ANSWER_TIMEOUT))
        .await;
    let action = match answer {
        Ok(action) => action_name(action).to_string(),
        Err(e) => {
            tracing::info!(error = %crate::logging::quote(&e), "the client did not answer the link elicitation");
            "no_answer".to_string()
        }
    };
    LinkOutcome {
        via: "elicitation".into(),
        action,
        elicitation_id: Some(id),
    }
}

/// The input-required result that asks a 2026-07-28 client to open `url`, with the state
/// that makes the retry return the request already created.
pub(crate) fn input_required(
    turn: &Turn,
    sealer: &Sealer,
    message: &str,
    url: &Url,
    payload: &Payload,
) -> InputRequiredResult {
    let request = ElicitRequest::new(ElicitRequestParams::UrlElicitationParams {
        meta: None,
        message: message.to_string(),
        url: url.to_string(),
        elicitation_id: new_elicitation_id(),
    });
    let mut requests = InputRequests::new();
    requests.insert(LINK_INPUT.to_string(), InputRequest::Elicitation(request));
    InputRequiredResult::new(Some(requests), Some(sealer.seal(turn, payload)))
}

pub(crate) fn action_name(action: ElicitationAction) -> &'static str {
    match action {
        ElicitationAction::Accept => "accept",
        ElicitationAction::Decline => "decline",
        _ => "cancel",
    }
}
