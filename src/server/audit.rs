//! Writing the audit trail ([`crate::store::AuditEntry`]) from one place: the server's
//! `call_tool`. Only tools that change something in Make (those not annotated read-only)
//! are audited, with what the call came to: refused before sending (a bad argument, a tool
//! hidden from the caller), failed (at Make, with its error code), declined or confirmed by
//! the person, done, or probably done (a retried delete).
//!
//! What the call came to is read from its result (`confirmation`, `certain`, the object's
//! id) and, for an error, from the [`ToolError`] itself, which notes its kind in a
//! task-local while it is turned into the result ([`note_error`]). Rows hold ids only:
//! arguments other than the object's id are never read, and an id that does not look like
//! one is left out.
//!
//! Writing never fails a call: it runs in a spawned task, and a database error is logged.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, JsonObject};
use serde_json::Value;

use crate::make::MakeError;
use crate::store::{AuditEntry, AuditOutcome, Store};
use crate::tools::ToolError;

/// The static token's person when `--auth-token-label` is not given.
pub const DEFAULT_TOKEN_LABEL: &str = "token";

/// Writes audit rows to the database: for a signed-in person as their Make user id, and for
/// a call without one (the static token) as the token's label.
#[derive(Clone)]
pub struct Auditor {
    store: Store,
    token_label: String,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("token_label", &self.token_label)
            .finish_non_exhaustive()
    }
}

impl Auditor {
    /// Audits to `store`; calls without a signed-in person are `token_label`'s.
    pub fn new(store: Store, token_label: impl Into<String>) -> Self {
        Self {
            store,
            token_label: token_label.into(),
        }
    }

    /// The person calls without a signed-in person are recorded as.
    pub(crate) fn token_label(&self) -> &str {
        &self.token_label
    }

    /// Appends `entries` in a spawned task, in order; a failure is logged, never returned.
    pub(crate) fn write(&self, entries: Vec<AuditEntry>) {
        if entries.is_empty() {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            for entry in entries {
                if let Err(e) = store.append_audit(&entry).await {
                    tracing::warn!(error = %e, tool = %entry.tool, "could not write the audit trail");
                }
            }
        });
    }
}

/// Whether `tool` changes something in Make: a registered tool not annotated read-only.
pub(crate) fn changes_make(tool: &str) -> bool {
    static CHANGING: OnceLock<BTreeSet<String>> = OnceLock::new();
    CHANGING
        .get_or_init(|| {
            crate::tools::registry()
                .list_all()
                .into_iter()
                .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true))
                .map(|t| t.name.to_string())
                .collect()
        })
        .contains(tool)
}

/// What a call noted about itself on the way: the person's confirmation, and for a failed
/// call, what it came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Noted {
    /// The person confirmed the change (their answer's action, e.g. `accept`): recorded even
    /// when the change then fails, so the trail shows both.
    pub(crate) confirmed: Option<String>,
    /// What a failed tool noted while turning into its result.
    pub(crate) error: Option<Note>,
}

/// What a failed tool noted about itself while turning into its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Note {
    /// Refused before anything was sent (`detail` names the argument or the reason).
    Refused { detail: String },
    /// Failed at Make or on the way there.
    Failed {
        make_code: Option<String>,
        detail: String,
    },
}

tokio::task_local! {
    static NOTED: RefCell<Noted>;
}

/// Notes `error`'s kind for the audit of the call it ends (a no-op outside an audited call).
pub(crate) fn note_error(error: &ToolError) {
    let note = match error {
        ToolError::Invalid { field, .. } => Note::Refused {
            detail: format!("invalid argument {}", clip(field, 64)),
        },
        ToolError::LinkState(_) => Note::Refused {
            detail: "requestState refused".into(),
        },
        ToolError::TooManyWaits { .. } => Note::Refused {
            detail: "too many waits".into(),
        },
        ToolError::Confirm(_) => Note::Failed {
            make_code: None,
            detail: "the confirmation could not be asked".into(),
        },
        ToolError::Make { error, done } => {
            let (make_code, detail) = make_failure(error);
            let detail = match done {
                Some(_) => format!("{detail} after a first step was done"),
                None => detail,
            };
            Note::Failed { make_code, detail }
        }
    };
    let _ = NOTED.try_with(|cell| cell.borrow_mut().error = Some(note));
}

/// Notes a refusal that is no [`ToolError`] (arguments that do not deserialize), with a
/// fixed `detail` (never the arguments' text).
pub(crate) fn note_refusal(detail: &'static str) {
    let note = Note::Refused {
        detail: detail.into(),
    };
    let _ = NOTED.try_with(|cell| cell.borrow_mut().error = Some(note));
}

/// Notes that the person confirmed the change the call is about to make, with their
/// answer's `action` (a no-op outside an audited call).
pub(crate) fn note_confirmed(action: &str) {
    let _ = NOTED.try_with(|cell| cell.borrow_mut().confirmed = Some(action_detail(action)));
}

/// Runs `call` with room for what it notes ([`Noted`]), and returns its output with it.
pub(crate) async fn noting<T>(call: impl Future<Output = T>) -> (T, Noted) {
    NOTED
        .scope(RefCell::new(Noted::default()), async {
            let output = call.await;
            (output, NOTED.with(|cell| cell.take()))
        })
        .await
}

/// The audit detail for a person's answer: `answer: accept`; an action that is not a plain
/// word is left out.
fn action_detail(action: &str) -> String {
    if !action.is_empty() && action.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        format!("answer: {action}")
    } else {
        "answer given".into()
    }
}

/// Make's error code (or HTTP status) and a short description of `error`.
fn make_failure(error: &MakeError) -> (Option<String>, String) {
    match error {
        MakeError::Api(api) => (
            Some(api.code.clone().unwrap_or_else(|| api.status.to_string())),
            format!("Make answered HTTP {}", api.status),
        ),
        MakeError::NotConfigured(_) => (None, "no Make key or zone".into()),
        MakeError::Timeout { .. } => (None, "Make did not answer in time".into()),
        MakeError::Connect(_) => (None, "Make could not be reached".into()),
        MakeError::Decode { .. } => (None, "Make's answer could not be read".into()),
        MakeError::Redirect { .. } => (None, "Make's API redirected".into()),
        MakeError::TooLarge { .. } => (None, "Make's answer was too large".into()),
        MakeError::Transport { .. } => (None, "the request to Make failed".into()),
        MakeError::RateLimited { .. } => (
            None,
            "held back by the organization's Make request budget".into(),
        ),
    }
}

/// How a call ended, as `call_tool` saw it.
pub(crate) enum Ending<'a> {
    /// The tool ran (or rmcp refused it) and this is its response.
    Answered(&'a Result<CallToolResponse, ErrorData>),
    /// The client cancelled the call.
    Cancelled,
    /// The server's shutdown cut the call.
    Cut,
}

/// The object a call is about: its type and id, taken from the arguments before the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Object {
    kind: Option<&'static str>,
    id: Option<String>,
}

/// Argument (and result) fields naming the object, with its type, most specific first.
const ID_FIELDS: [(&str, &str); 4] = [
    ("credentialId", "credential"),
    ("keyId", "key"),
    ("connectionId", "connection"),
    ("requestId", "credential-request"),
];

/// Result fields holding a created object, with its type.
const OBJECT_FIELDS: [(&str, &str); 3] = [
    ("key", "key"),
    ("connection", "connection"),
    ("request", "credential-request"),
];

impl Object {
    /// The object `arguments` name, if any (by the first of [`ID_FIELDS`] present).
    pub(crate) fn in_arguments(arguments: Option<&JsonObject>) -> Self {
        arguments
            .and_then(|args| {
                ID_FIELDS.iter().find_map(|(field, kind)| {
                    args.get(*field).map(|value| Object {
                        kind: Some(kind),
                        id: id_of(value),
                    })
                })
            })
            .unwrap_or_default()
    }

    /// This object, or when the arguments named none, the one `result` names (a create's).
    fn or_in_result(self, result: &CallToolResult) -> Self {
        if self.kind.is_some() {
            return self;
        }
        let Some(Value::Object(out)) = &result.structured_content else {
            return self;
        };
        let by_id = ID_FIELDS.iter().find_map(|(field, kind)| {
            out.get(*field).map(|value| Object {
                kind: Some(kind),
                id: id_of(value),
            })
        });
        let by_object = || {
            OBJECT_FIELDS.iter().find_map(|(field, kind)| {
                out.get(*field)
                    .and_then(|object| object.get("id"))
                    .map(|value| Object {
                        kind: Some(kind),
                        id: id_of(value),
                    })
            })
        };
        by_id.or_else(by_object).unwrap_or(self)
    }
}

/// `value` as an id: a number, or a short string of letters, digits, `-` and `_`. Anything
/// else (which could be data) is not kept.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s)
            if !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

/// Who made a call: the person and the client.
pub(crate) struct Who {
    pub(crate) person: String,
    pub(crate) client_id: Option<String>,
}

/// The rows for a call of the audited `tool` that ended as `ending`; `visible` says whether
/// the caller could see the tool, `noted` is what the call noted on the way. A change the
/// person confirmed that then failed (or was cut) gets the confirmation's row before its
/// own. An input-required answer (a question still open) gives none: the retry carrying the
/// answer is audited.
pub(crate) fn entries(
    who: Who,
    tool: &str,
    object: Object,
    visible: bool,
    ending: Ending<'_>,
    noted: Noted,
) -> Vec<AuditEntry> {
    let now = crate::auth::now();
    let row =
        |object: &Object, outcome, make_code: Option<String>, detail: Option<String>| AuditEntry {
            at: now,
            person: who.person.clone(),
            client_id: who.client_id.clone(),
            tool: tool.to_string(),
            object_type: object.kind.map(str::to_string),
            object_id: object.id.clone(),
            outcome,
            make_code,
            detail,
        };
    let confirmed = || {
        noted
            .confirmed
            .clone()
            .map(|action| row(&object, AuditOutcome::Confirmed, None, Some(action)))
    };
    let failed = |detail: &str| {
        confirmed()
            .into_iter()
            .chain([row(
                &object,
                AuditOutcome::Failed,
                None,
                Some(detail.into()),
            )])
            .collect()
    };
    let response = match ending {
        Ending::Cancelled => {
            return failed("cancelled by the client; may or may not have happened");
        }
        Ending::Cut => return failed("cut by shutdown; may or may not have happened"),
        // A change the person confirmed happened or was under way; its result could not be
        // returned (rmcp's refusal comes before any tool runs, so it notes no confirmation).
        Ending::Answered(Err(_)) if noted.confirmed.is_some() => {
            return failed("confirmed, but the result could not be returned; may have happened");
        }
        Ending::Answered(Err(_)) => {
            let detail = if visible {
                "arguments refused"
            } else {
                "tool hidden from this caller"
            };
            return vec![row(
                &object,
                AuditOutcome::Refused,
                None,
                Some(detail.into()),
            )];
        }
        Ending::Answered(Ok(response)) => response,
    };
    let CallToolResponse::Complete(result) = response else {
        return Vec::new();
    };
    if result.is_error == Some(true) {
        let ending = match noted.error.clone() {
            Some(Note::Refused { detail }) => {
                row(&object, AuditOutcome::Refused, None, Some(detail))
            }
            Some(Note::Failed { make_code, detail }) => {
                row(&object, AuditOutcome::Failed, make_code, Some(detail))
            }
            None => row(&object, AuditOutcome::Failed, None, None),
        };
        return confirmed().into_iter().chain([ending]).collect();
    }
    let object = object.or_in_result(result);
    let out = match &result.structured_content {
        Some(Value::Object(out)) => Some(out),
        _ => None,
    };
    let mut rows = Vec::new();
    if let Some(confirmation) = out.and_then(|o| o.get("confirmation")) {
        let action = confirmation
            .get("action")
            .and_then(Value::as_str)
            .map(action_detail);
        if confirmation.get("proceeded") == Some(&Value::Bool(false)) {
            return vec![row(&object, AuditOutcome::Declined, None, action)];
        }
        rows.push(row(&object, AuditOutcome::Confirmed, None, action));
    }
    let probable = out.and_then(|o| o.get("certain")) == Some(&Value::Bool(false));
    rows.push(if probable {
        row(
            &object,
            AuditOutcome::Probable,
            None,
            Some("retried delete found nothing".into()),
        )
    } else {
        row(&object, AuditOutcome::Done, None, None)
    });
    rows
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn who() -> Who {
        Who {
            person: "1001".into(),
            client_id: Some("c".into()),
        }
    }

    fn done(value: Value) -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResponse::Complete(CallToolResult::structured(
            value,
        )))
    }

    fn outcomes(rows: &[AuditEntry]) -> Vec<AuditOutcome> {
        rows.iter().map(|r| r.outcome).collect()
    }

    #[test]
    fn only_tools_that_change_make_are_audited() {
        assert!(changes_make("keys_create"));
        assert!(changes_make("connections_delete"));
        assert!(changes_make("credential-requests_extend-connection"));
        assert!(!changes_make("keys_list"));
        assert!(!changes_make("credential-requests_wait-for-authorization"));
        assert!(!changes_make("no_such_tool"));
    }

    #[test]
    fn ids_are_kept_and_anything_else_is_not() {
        let args = json!({"keyId": 5, "parameters": {"key": "s3cret"}});
        let object = Object::in_arguments(args.as_object());
        assert_eq!(object.kind, Some("key"));
        assert_eq!(object.id.as_deref(), Some("5"));
        let args = json!({"credentialId": "not an id: s3cret value"});
        let object = Object::in_arguments(args.as_object());
        assert_eq!(object.kind, Some("credential"));
        assert_eq!(object.id, None);
    }

    #[test]
    fn a_create_names_the_object_it_made() {
        let answer = done(json!({"key": {"id": 42, "name": "n"}}));
        let rows = entries(
            who(),
            "keys_create",
            Object::default(),
            true,
            Ending::Answered(&answer),
            Noted::default(),
        );
        assert_eq!(outcomes(&rows), [AuditOutcome::Done]);
        assert_eq!(rows[0].object_id.as_deref(), Some("42"));
        assert_eq!(rows[0].object_type.as_deref(), Some("key"));
    }

    #[test]
    fn confirmations_declines_and_probable_deletes_are_told_apart() {
        let object = Object::in_arguments(json!({"keyId": 7}).as_object());
        let run = |value| {
            let answer = done(value);
            outcomes(&entries(
                who(),
                "keys_delete",
                object.clone(),
                true,
                Ending::Answered(&answer),
                Noted::default(),
            ))
        };
        assert_eq!(
            run(json!({"keyId": 7, "deleted": false, "certain": true,
                "confirmation": {"via": "elicitation", "action": "decline", "proceeded": false}})),
            [AuditOutcome::Declined]
        );
        assert_eq!(
            run(json!({"keyId": 7, "deleted": true, "certain": true,
                "confirmation": {"via": "elicitation", "action": "accept", "proceeded": true}})),
            [AuditOutcome::Confirmed, AuditOutcome::Done]
        );
        assert_eq!(
            run(json!({"keyId": 7, "deleted": true, "certain": false})),
            [AuditOutcome::Probable]
        );
    }

    #[test]
    fn errors_are_refusals_or_failures_as_noted() {
        let error: Result<CallToolResponse, ErrorData> =
            Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                rmcp::model::ContentBlock::text("x"),
            ])));
        let rows = entries(
            who(),
            "keys_delete",
            Object::default(),
            true,
            Ending::Answered(&error),
            Noted {
                confirmed: None,
                error: Some(Note::Failed {
                    make_code: Some("SC403".into()),
                    detail: "Make answered HTTP 403".into(),
                }),
            },
        );
        assert_eq!(outcomes(&rows), [AuditOutcome::Failed]);
        assert_eq!(rows[0].make_code.as_deref(), Some("SC403"));
        let refused: Result<CallToolResponse, ErrorData> =
            Err(ErrorData::invalid_params("bad", None));
        let rows = entries(
            who(),
            "keys_delete",
            Object::default(),
            false,
            Ending::Answered(&refused),
            Noted::default(),
        );
        assert_eq!(outcomes(&rows), [AuditOutcome::Refused]);
        assert_eq!(
            rows[0].detail.as_deref(),
            Some("tool hidden from this caller")
        );
    }

    #[tokio::test]
    async fn a_tool_error_notes_its_kind_inside_an_audited_call_only() {
        note_error(&ToolError::invalid("name", "too long"));
        let ((), noted) =
            noting(async { note_error(&ToolError::invalid("name", "too long")) }).await;
        assert_eq!(
            noted.error,
            Some(Note::Refused {
                detail: "invalid argument name".into()
            })
        );
    }

    #[tokio::test]
    async fn a_confirmed_change_that_fails_keeps_its_confirmation() {
        let ((), noted) = noting(async {
            note_confirmed("accept");
            note_error(&ToolError::Make {
                error: Box::new(MakeError::Connect("refused".into())),
                done: None,
            });
        })
        .await;
        let error: Result<CallToolResponse, ErrorData> =
            Ok(CallToolResponse::Complete(CallToolResult::error(vec![
                rmcp::model::ContentBlock::text("x"),
            ])));
        let object = Object::in_arguments(json!({"connectionId": 9}).as_object());
        let rows = entries(
            who(),
            "connections_delete",
            object.clone(),
            true,
            Ending::Answered(&error),
            noted.clone(),
        );
        assert_eq!(
            outcomes(&rows),
            [AuditOutcome::Confirmed, AuditOutcome::Failed]
        );
        assert_eq!(rows[0].detail.as_deref(), Some("answer: accept"));
        assert_eq!(rows[1].object_id.as_deref(), Some("9"));
        let rows = entries(
            who(),
            "connections_delete",
            object.clone(),
            true,
            Ending::Cut,
            noted.clone(),
        );
        assert_eq!(
            outcomes(&rows),
            [AuditOutcome::Confirmed, AuditOutcome::Failed]
        );
        let unreturned: Result<CallToolResponse, ErrorData> =
            Err(ErrorData::internal_error("cannot encode", None));
        let rows = entries(
            who(),
            "connections_delete",
            object,
            true,
            Ending::Answered(&unreturned),
            noted,
        );
        assert_eq!(
            outcomes(&rows),
            [AuditOutcome::Confirmed, AuditOutcome::Failed]
        );
    }
}
