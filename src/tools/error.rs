//! The error every tool returns. It becomes an `isError` result whose text carries Make's
//! status, code, message, detail and sub-errors, plus a hint of what to do next.

use rmcp::model::{ContentBlock, IntoContents};

use crate::make::{ApiError, MakeError, Missing, Replay, clip};
use crate::person::{ConfirmError, StateError};

/// Why a tool call failed. Nothing here ever holds the Make key.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// An argument is wrong; nothing was sent to Make.
    #[error(
        "Invalid argument `{field}`: {problem}. Nothing was sent to Make; correct the arguments and call again."
    )]
    Invalid { field: String, problem: String },
    /// Make (or the way to it) failed.
    #[error("{}", describe_make_error(.error, .done.as_deref()))]
    Make {
        /// Boxed: `MakeError` is large, and every tool's `Result` carries this type.
        error: Box<MakeError>,
        /// What already happened before the failure, for multi-step tools.
        done: Option<String>,
    },
    /// The person's confirmation could not be had, or a retry's confirmation state was
    /// refused; nothing was changed.
    #[error(transparent)]
    Confirm(#[from] ConfirmError),
    /// A retry of a credential-request create carried a state that was refused.
    #[error(
        "The requestState sent with this retry was refused: {0}. This call created nothing. To start over, call the tool again without requestState (that creates a new request); to follow a request already created, use credential-requests_get."
    )]
    LinkState(StateError),
    /// Too many waits are in progress; this one did not start and nothing was sent to Make.
    #[error(
        "Too many waits are in progress on this server (at most {max} at once), so this wait did not start; nothing was sent to Make.\nHint: try again in a few seconds, or call credential-requests_get with the requestId to see the request's state now."
    )]
    TooManyWaits { max: usize },
}

impl ToolError {
    /// Both parts are clipped: they can quote the caller's input (a map key, a value).
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: clip(field, 200),
            problem: clip(&problem.into(), 1000),
        }
    }

    /// A Make failure after some steps already took effect (e.g. renamed, then set-data failed).
    pub fn after(done: impl Into<String>, error: MakeError) -> Self {
        Self::Make {
            error: Box::new(error),
            done: Some(done.into()),
        }
    }
}

impl From<MakeError> for ToolError {
    fn from(error: MakeError) -> Self {
        Self::Make {
            error: Box::new(error),
            done: None,
        }
    }
}

impl IntoContents for ToolError {
    /// The error's text; its kind is noted for the audit trail on the way.
    fn into_contents(self) -> Vec<ContentBlock> {
        crate::server::audit::note_error(&self);
        vec![ContentBlock::text(self.to_string())]
    }
}

fn describe_make_error(error: &MakeError, done: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(done) = done {
        text.push_str(done);
        text.push_str(" Then: ");
    }
    match error {
        MakeError::Api(api) => text.push_str(&format!("Make API error {api}.")),
        other => {
            text.push_str(&capitalized(&other.to_string()));
            text.push('.');
        }
    }
    text.push_str("\nHint: ");
    text.push_str(&hint(error));
    text
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the model (or the person) can do about `error`.
pub(crate) fn hint(error: &MakeError) -> String {
    match error {
        MakeError::NotConfigured(Missing::ApiKey) => "this server has no Make API key. Set MAKE_API_KEY in the server's environment (a Make API token from your Make profile, API access tab, with the connections, keys and credential-requests scopes), or log in once with the Make CLI (`make-cli login`), then restart the server. Try it without an account with --sandbox.".into(),
        MakeError::NotConfigured(Missing::Zone) => "this server does not know your Make zone. Set MAKE_ZONE to the host your organization uses (e.g. eu1.make.com, us2.make.com), then restart the server.".into(),
        MakeError::Api(api) => api_hint(api).into(),
        MakeError::Timeout { replay, .. } => match replay {
            Replay::Safe => "Make did not answer in time. This call is safe to repeat: try again shortly.".into(),
            Replay::Unsafe => format!("Make did not answer in time, so {UNKNOWN_OUTCOME}"),
        },
        MakeError::Connect(_) => "the server could not reach Make. Check MAKE_ZONE/MAKE_API_URL and the network, then try again.".into(),
        MakeError::Decode { .. } => "Make answered in an unexpected shape; the operation may have succeeded. Check with a list or get call.".into(),
        MakeError::Redirect { .. } => "Make's API does not redirect API calls, so the redirect was not followed and nothing was sent to its target. The server's MAKE_ZONE or MAKE_API_URL probably points at the wrong host (a web page, a proxy or an old address): fix it and restart the server.".into(),
        MakeError::TooLarge { replay, .. } => match replay {
            Replay::Safe => "ask for less: filter the list (connections_list `type`, credential-requests_list `status` or `name`) or get single objects by id.".into(),
            Replay::Unsafe => format!("the call itself may have succeeded at Make, so {UNKNOWN_OUTCOME}"),
        },
        MakeError::RateLimited { retry_after_secs, why, .. } => {
            let whose = match why {
                crate::make::budget::Held::Share { .. } => "The organization's budget is shared fairly among its people: your share frees up as your own requests of the last minute age out.",
                crate::make::budget::Held::Organization { .. } => "Make limits each organization's API requests per minute, and this server keeps your organization within it.",
                crate::make::budget::Held::Paused => "Make refused a request for your organization with 429 (something else may be using its limit too).",
            };
            format!("wait {retry_after_secs} seconds, then call again (repeating this call is safe; calling sooner gets the same answer). {whose} Meanwhile, do something that needs no Make call, or tell the person why you are waiting.")
        }
        MakeError::Transport { replay, .. } => match replay {
            Replay::Safe => "the request failed on the way to Make (network, proxy or TLS). This call is safe to repeat: try again; if it keeps failing, check the network.".into(),
            Replay::Unsafe => format!("the request failed on the way to Make, so {UNKNOWN_OUTCOME}"),
        },
    }
}

/// The end of a hint for a call that changes something and whose outcome is unknown.
const UNKNOWN_OUTCOME: &str = "this call may or may not have taken effect. Check with a list or get call before calling it again, so nothing is done twice.";

fn api_hint(api: &ApiError) -> &'static str {
    match api.status {
        400 => {
            "Make rejected the input. Fix the fields Make names above and call again; take connection types, scopes and parameter names from existing objects or from Make, never guess them."
        }
        401 => {
            "the Make API key is missing, wrong, expired or revoked. The server's MAKE_API_KEY must be fixed; retrying will not help."
        }
        403 => {
            "access denied. Either the key lacks the scope this call needs (e.g. connections:read/write, keys:read/write, credential-requests:read/write), the object belongs to a team the key cannot access, or MAKE_ZONE does not match the organization's zone (wrong zones fail team-scoped calls with 403)."
        }
        404 => {
            "no such object. Check the id: list to find it. Connection, key and team ids are numbers; credential-request and credential ids are strings such as a07e16f2ad134bf49cf83a00aa95c0a5."
        }
        409 => {
            "the object is in a state that does not allow this; get it to see its current state."
        }
        413 => "the payload is too large for Make; send less data.",
        424 => {
            "Make could not complete the call with the connected service (it crashed or timed out). Verify the connection, or re-authorize it through a credential request."
        }
        429 => {
            "Make's per-minute request limit for the organization was reached (retries already waited). Wait about a minute before calling again."
        }
        500..=599 => {
            "Make is having trouble. Reads can be retried shortly. A create or action may or may not have taken effect: list or get before trying again."
        }
        _ => "see Make's message above.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_carry_status_code_message_and_hint() {
        let api = ApiError {
            status: 403,
            code: Some("SC403".into()),
            message: "Permission denied".into(),
            detail: Some("Access denied.".into()),
            suberrors: vec!["team 5".into()],
            attempts: 1,
        };
        let text = ToolError::from(MakeError::Api(Box::new(api))).to_string();
        assert!(
            text.starts_with(
                "Make API error HTTP 403 [SC403]: Permission denied (Access denied.); team 5."
            ),
            "{text}"
        );
        assert!(text.contains("MAKE_ZONE"), "{text}");
    }

    #[test]
    fn partial_success_is_reported_before_the_failure() {
        let timeout = MakeError::Timeout {
            attempts: 1,
            seconds: 40,
            replay: Replay::Unsafe,
        };
        let e = ToolError::after("Renamed the connection to \"X\".", timeout);
        let text = e.to_string();
        assert!(text.starts_with("Renamed the connection to \"X\". Then: The Make API did not answer within 40 seconds."), "{text}");
    }

    #[test]
    fn missing_key_explains_configuration() {
        let text = ToolError::from(MakeError::NotConfigured(Missing::ApiKey)).to_string();
        assert!(
            text.contains("MAKE_API_KEY") && text.contains("--sandbox"),
            "{text}"
        );
    }
}
