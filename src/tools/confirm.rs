//! The gate destructive tools pass: ask the person where the settings and the client allow,
//! and turn their answer into "go ahead" or a finished result that changed nothing.

use std::future::Future;

use super::{Reply, ToolError};
use crate::person::{ConfirmOutcome, Decision, Person, Question, Turn};

/// `Ok(confirmation)`: go ahead (`Some` when the person was asked and agreed).
/// `Err(reply)`: return this as the tool's result (a question, or nothing changed).
pub(crate) type Passage<T> = Result<Option<ConfirmOutcome>, Reply<T>>;

/// Asks the person (through `question`, which reads the object from Make) whether the
/// destructive call in `turn` may go ahead. `kept` builds the tool's result for a
/// person who did not agree, from the outcome and a message saying nothing changed.
pub(crate) async fn gate<T, F, Fut>(
    person: &Person,
    turn: &Turn,
    question: F,
    kept: impl FnOnce(ConfirmOutcome, String) -> T,
) -> Result<Passage<T>, ToolError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Question, ToolError>>,
{
    Ok(match person.confirm(turn, question).await? {
        Decision::Proceed(asked) => {
            if let Some(asked) = &asked {
                crate::server::audit::note_confirmed(&asked.action);
            }
            Ok(asked.map(|a| ConfirmOutcome::new(a, true)))
        }
        Decision::Ask(ask) => Err(Reply::Ask(ask)),
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
            Err(Reply::Done(kept(
                ConfirmOutcome::new(asked, false),
                message,
            )))
        }
    })
}
