//! How a delete tool reports a deletion that is only probable.

use crate::make::Deletion;

/// `(certain, message)` for a delete's result; `what` names the object ("connection 5").
///
/// A retried DELETE that finds nothing (404) after a first try whose outcome is unknown
/// (a 5xx, a timeout) most likely deleted the object on that first try, but an id that
/// never existed ends the same way. Claiming certainty would hide a wrong id.
pub(super) fn describe(deletion: &Deletion, what: &str) -> (bool, Option<String>) {
    match deletion {
        Deletion::Confirmed => (true, None),
        Deletion::Probable { earlier } => (
            false,
            Some(format!(
                "Probably deleted: the first attempt's outcome is unknown ({earlier}), and the retry found no {what}. Either the first attempt deleted it, or it did not exist; list to check if it matters. Do not call this again."
            )),
        ),
    }
}
