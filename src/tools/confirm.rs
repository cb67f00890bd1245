//! The gate destructive tools pass: what the person's answer means for the call.

use rmcp::model::InputRequiredResult;

use crate::person::{ConfirmOutcome, Decision};

/// What a destructive tool does after asking (or not asking) the person.
pub(crate) enum Gate {
    /// Go ahead; `Some` when the person was asked and agreed.
    Go(Option<ConfirmOutcome>),
    /// Return this input-required result and expect a retry.
    Ask(InputRequiredResult),
    /// Change nothing; report the outcome and this message.
    Kept(ConfirmOutcome, String),
}

impl From<Decision> for Gate {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Proceed(asked) => Self::Go(asked.map(|a| ConfirmOutcome::new(a, true))),
            Decision::Ask(ask) => Self::Ask(ask),
            Decision::Declined(asked) => {
                let why = match asked.action.as_str() {
                    "decline" => "The person declined",
                    "cancel" => "The person dismissed the question",
                    "accept" => "The person answered without ticking the confirmation",
                    _ => "The person did not answer",
                };
                let message = format!(
                    "{why}: nothing was changed. Do not call this again on your own; ask the person what they want."
                );
                Self::Kept(ConfirmOutcome::new(asked, false), message)
            }
        }
    }
}
