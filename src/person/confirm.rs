//! Confirmation of destructive steps by the person.
//!
//! `--confirm auto` asks where the client can be asked and proceeds where it cannot;
//! `always` refuses where it cannot ask; `never` does not ask. The question names the
//! object as read from Make first. Declining, cancelling or not answering changes nothing,
//! and the tool then says so in a normal (not error) result, so the model does not retry.

use std::future::Future;
use std::time::Duration;

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitationSchema, InputRequest, InputRequests,
    InputRequiredResult,
};
use rmcp::service::ElicitationError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::channel::{Channel, Mode};
use super::ledger::{LedgerError, Nonce};
use super::sealed::{Payload, StateError};
use super::turn::Turn;
use super::{ConfirmMode, Person};

/// The input-request key of a confirmation in an input-required result.
pub(crate) const CONFIRM_INPUT: &str = "confirm";

/// How long a live client may take to answer the question.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// The form the person answers: one tick box.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct Confirmation {
    /// Tick to go ahead. Leave it unticked (or decline) to keep everything as it is.
    pub(crate) confirm: bool,
}
rmcp::elicit_safe!(Confirmation);

/// The question for one destructive call, built from the object as Make has it now.
pub(crate) struct Question {
    /// What the person reads, e.g. "Delete connection 'Slack prod' (id 1002, slack3)? ...".
    pub(crate) message: String,
    /// The object's identity; a retry whose object differs is refused.
    pub(crate) object: String,
}

/// How the person was asked and what they answered.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Asked {
    /// `elicitation` (asked directly) or `input_required` (asked in a round trip).
    pub(crate) via: String,
    /// `accept`, `decline`, `cancel` or `no_answer`.
    pub(crate) action: String,
}

/// What a destructive tool reports about its confirmation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfirmOutcome {
    /// `elicitation` (asked directly) or `input_required` (asked in a round trip).
    pub(crate) via: String,
    /// What the person chose: `accept`, `decline`, `cancel` or `no_answer`.
    pub(crate) action: String,
    /// Whether the change went ahead.
    pub(crate) proceeded: bool,
}

impl ConfirmOutcome {
    pub(crate) fn new(asked: Asked, proceeded: bool) -> Self {
        Self {
            via: asked.via,
            action: asked.action,
            proceeded,
        }
    }
}

/// What the tool does next.
pub(crate) enum Decision {
    /// Go ahead; `Some` when the person was asked and agreed.
    Proceed(Option<Asked>),
    /// Return this input-required result (first round of a 2026-07-28 call).
    Ask(InputRequiredResult),
    /// The person did not agree: change nothing and say so.
    Declined(Asked),
}

/// Why a confirmation could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error(
        "This server requires the person's confirmation (--confirm always), but this client cannot be asked (it declared no elicitation support, or it talks stateless HTTP). Nothing was changed. Make the change in Make itself, or ask the operator to allow it."
    )]
    Impossible,
    #[error(
        "The confirmation state sent with this retry was refused: {0}. Nothing was changed. Call the tool again without requestState to ask the person afresh."
    )]
    State(StateError),
    #[error(
        "The confirmation could not be recorded as used ({0}), so it was not used. Nothing was changed. Try again in a few minutes, or ask the operator."
    )]
    Ledger(LedgerError),
}

impl Person {
    /// Decides whether the destructive call in `turn` may go ahead, asking the person when
    /// the settings and the client allow. `question` reads the object from Make; it is
    /// only called when the person will be asked (or a retry must be checked).
    pub(crate) async fn confirm<F, Fut, E>(&self, turn: &Turn, question: F) -> Result<Decision, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Question, E>>,
        E: From<ConfirmError>,
    {
        let mode = self.settings.confirm;
        if mode == ConfirmMode::Never {
            return Ok(Decision::Proceed(None));
        }
        match Channel::of(&turn.ctx, Mode::Form) {
            Channel::None if mode == ConfirmMode::Always => Err(ConfirmError::Impossible.into()),
            Channel::None => Ok(Decision::Proceed(None)),
            Channel::Live(peer) => {
                let question = question().await?;
                let answer = peer
                    .elicit_with_timeout::<Confirmation>(question.message, Some(ANSWER_TIMEOUT))
                    .await;
                Ok(live_decision(answer))
            }
            Channel::RoundTrip => match &turn.state {
                None => {
                    let question = question().await?;
                    Ok(Decision::Ask(self.ask(turn, question)))
                }
                Some(state) => {
                    let (issued, nonce) = match self.sealer.open(turn, state) {
                        Ok(Payload::Confirm { object, nonce }) => (object, nonce),
                        Ok(_) => return Err(ConfirmError::State(StateError::Mismatch).into()),
                        Err(e) => return Err(ConfirmError::State(e).into()),
                    };
                    // Spent before anything else, whatever the person answered: a state
                    // goes through once, on this replica or any other sharing the ledger.
                    let nonce =
                        Nonce::parse(&nonce).ok_or(ConfirmError::State(StateError::Malformed))?;
                    match self.ledger.spend(&nonce).await {
                        Ok(true) => {}
                        Ok(false) => {
                            return Err(ConfirmError::State(StateError::AlreadyUsed).into());
                        }
                        Err(e) => return Err(ConfirmError::Ledger(e).into()),
                    }
                    let now = question().await?.object;
                    if issued != now {
                        let e = StateError::OtherObject { issued, now };
                        return Err(ConfirmError::State(e).into());
                    }
                    Ok(round_trip_decision(turn))
                }
            },
        }
    }

    fn ask(&self, turn: &Turn, question: Question) -> InputRequiredResult {
        let schema = ElicitationSchema::from_type::<Confirmation>()
            .expect("a one-boolean form is a valid elicitation schema");
        let request = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: question.message,
            requested_schema: schema,
        });
        let mut requests = InputRequests::new();
        requests.insert(
            CONFIRM_INPUT.to_string(),
            InputRequest::Elicitation(request),
        );
        let payload = Payload::Confirm {
            object: question.object,
            nonce: Nonce::random().hex(),
        };
        InputRequiredResult::new(Some(requests), Some(self.sealer.seal(turn, &payload)))
    }
}

fn live_decision(answer: Result<Option<Confirmation>, ElicitationError>) -> Decision {
    let asked = |action: &str| Asked {
        via: "elicitation".into(),
        action: action.into(),
    };
    match answer {
        Ok(Some(Confirmation { confirm: true })) => Decision::Proceed(Some(asked("accept"))),
        // Accepted without ticking the box: not a yes.
        Ok(_) => Decision::Declined(asked("accept")),
        Err(ElicitationError::UserDeclined) => Decision::Declined(asked("decline")),
        Err(ElicitationError::UserCancelled) => Decision::Declined(asked("cancel")),
        Err(e) => {
            tracing::info!(error = %crate::logging::quote(&e), "the client did not answer the confirmation");
            Decision::Declined(asked("no_answer"))
        }
    }
}

fn round_trip_decision(turn: &Turn) -> Decision {
    let action = turn.answered(CONFIRM_INPUT);
    let ticked = turn
        .response(CONFIRM_INPUT)
        .and_then(|r| r.pointer("/content/confirm"))
        .and_then(|c| c.as_bool())
        == Some(true);
    let accepted = action == "accept";
    let asked = Asked {
        via: "input_required".into(),
        action,
    };
    if accepted && ticked {
        Decision::Proceed(Some(asked))
    } else {
        Decision::Declined(asked)
    }
}
