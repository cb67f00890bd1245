//! Which way, if any, this call can reach the person.

use rmcp::RoleServer;
use rmcp::model::{ClientCapabilities, ProtocolVersion};
use rmcp::service::{Peer, RequestContext};

/// The kind of elicitation a step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A small form (a yes/no confirmation).
    Form,
    /// Open a link (the credential request's authorization page).
    Url,
}

/// How to ask the person during this call.
pub(crate) enum Channel {
    /// 2025-11-25 with a live connection: send `elicitation/create` and wait for the answer.
    Live(Peer<RoleServer>),
    /// 2026-07-28: return an input-required result; the client retries with the answer.
    RoundTrip,
    /// The client cannot be asked (no capability, or stateless 2025-11-25 HTTP).
    None,
}

impl Channel {
    /// The channel for `mode` in the call `ctx` belongs to.
    pub(crate) fn of(ctx: &RequestContext<RoleServer>, mode: Mode) -> Self {
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if modern {
            return match ctx.client_capabilities() {
                Some(caps) if declares(&caps, mode) => Self::RoundTrip,
                _ => Self::None,
            };
        }
        // rmcp answers from the initialize handshake; a stateless HTTP request has none,
        // and server-to-client requests could not reach that client anyway.
        let modes = ctx.peer.supported_elicitation_modes();
        let wanted = match mode {
            Mode::Form => rmcp::service::ElicitationMode::Form,
            Mode::Url => rmcp::service::ElicitationMode::Url,
        };
        if modes.contains(&wanted) {
            Self::Live(ctx.peer.clone())
        } else {
            Self::None
        }
    }
}

/// Whether the capabilities declare `mode` (an `elicitation` object naming neither mode
/// means form, for compatibility with clients older than URL mode).
fn declares(caps: &ClientCapabilities, mode: Mode) -> bool {
    let Some(e) = &caps.elicitation else {
        return false;
    };
    match mode {
        Mode::Form => e.form.is_some() || (e.form.is_none() && e.url.is_none()),
        Mode::Url => e.url.is_some(),
    }
}
