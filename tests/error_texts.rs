//! Every kind of error and hint text the model reads, as insta snapshots
//! (`tests/snapshots/`), so that a change of wording shows up as a readable diff.
//!
//! After an intended change: `cargo insta review` (or `INSTA_UPDATE=always cargo test --test
//! error_texts`, then review the diff of `tests/snapshots/`).

mod common;

use common::{Harness, err, flaky_delete, ok};
use make_credentials_mcp::make::budget::Held;
use make_credentials_mcp::make::{ApiError, MakeError, Missing, Replay};
use make_credentials_mcp::person::{ConfirmError, StateError};
use make_credentials_mcp::server::CUT_BY_SHUTDOWN;
use make_credentials_mcp::tools::ToolError;
use serde_json::json;
use wiremock::ResponseTemplate;

/// Make's answer with `status`, with a Make error body (code, message, detail).
fn api(status: u16, code: &str, message: &str, attempts: u32) -> MakeError {
    MakeError::Api(Box::new(ApiError {
        status,
        code: Some(code.to_string()),
        message: message.to_string(),
        detail: Some(format!("{message} (detail)")),
        suberrors: Vec::new(),
        attempts,
    }))
}

/// One representative of every error a tool can end with, by name.
fn representative_errors() -> Vec<(&'static str, ToolError)> {
    let with_suberrors = ApiError::from_response(
        reqwest::StatusCode::BAD_REQUEST,
        br#"{"code":"IM005","message":"Invalid input","detail":"Validation failed","suberrors":[{"message":"name is required"},{"message":"data.apiKey must be a string"}]}"#,
    );
    vec![
        ("make_400", MakeError::Api(Box::new(with_suberrors)).into()),
        ("make_401", api(401, "SC401", "Unauthorized", 1).into()),
        ("make_403", api(403, "SC403", "Permission denied", 1).into()),
        (
            "make_404",
            api(404, "SC404", "Connection not found", 1).into(),
        ),
        ("make_409", api(409, "SC409", "Conflict", 1).into()),
        ("make_413", api(413, "SC413", "Payload too large", 1).into()),
        (
            "make_424",
            api(424, "IM007", "The connected service failed", 1).into(),
        ),
        ("make_429", api(429, "SC429", "Too many requests", 3).into()),
        ("make_500", api(500, "SC500", "Internal error", 3).into()),
        (
            "make_503",
            api(503, "SC503", "Service unavailable", 1).into(),
        ),
        (
            "make_418_without_a_hint",
            MakeError::Api(Box::new(ApiError::from_response(
                reqwest::StatusCode::IM_A_TEAPOT,
                b"not json",
            )))
            .into(),
        ),
        (
            "timeout_read",
            MakeError::Timeout {
                seconds: 40,
                replay: Replay::Safe,
                attempts: 3,
            }
            .into(),
        ),
        (
            "timeout_write",
            MakeError::Timeout {
                seconds: 40,
                replay: Replay::Unsafe,
                attempts: 1,
            }
            .into(),
        ),
        (
            "connect",
            MakeError::Connect("connection refused (after 3 attempts)".into()).into(),
        ),
        (
            "decode",
            MakeError::Decode {
                status: 200,
                reason: "missing field `connection` at line 1 column 2".into(),
            }
            .into(),
        ),
        (
            "redirect",
            MakeError::Redirect {
                status: 302,
                location: Some("https://www.make.com/en/login".into()),
            }
            .into(),
        ),
        (
            "redirect_without_location",
            MakeError::Redirect {
                status: 301,
                location: None,
            }
            .into(),
        ),
        (
            "too_large_read",
            MakeError::TooLarge {
                status: 200,
                replay: Replay::Safe,
            }
            .into(),
        ),
        (
            "too_large_write",
            MakeError::TooLarge {
                status: 200,
                replay: Replay::Unsafe,
            }
            .into(),
        ),
        (
            "transport_read",
            MakeError::Transport {
                reason: "connection reset by peer".into(),
                replay: Replay::Safe,
            }
            .into(),
        ),
        (
            "transport_write",
            MakeError::Transport {
                reason: "connection reset by peer".into(),
                replay: Replay::Unsafe,
            }
            .into(),
        ),
        (
            "budget_organization",
            MakeError::RateLimited {
                retry_after_secs: 12,
                why: Held::Organization { per_window: 60 },
                attempts: 0,
            }
            .into(),
        ),
        (
            "budget_share_alone",
            MakeError::RateLimited {
                retry_after_secs: 40,
                why: Held::Share {
                    share: 54,
                    per_window: 60,
                    people: 1,
                },
                attempts: 0,
            }
            .into(),
        ),
        (
            "budget_share",
            MakeError::RateLimited {
                retry_after_secs: 7,
                why: Held::Share {
                    share: 18,
                    per_window: 60,
                    people: 3,
                },
                attempts: 0,
            }
            .into(),
        ),
        (
            "budget_paused_after_429",
            MakeError::RateLimited {
                retry_after_secs: 30,
                why: Held::Paused,
                attempts: 1,
            }
            .into(),
        ),
        (
            "not_configured_key",
            MakeError::NotConfigured(Missing::ApiKey).into(),
        ),
        (
            "not_configured_zone",
            MakeError::NotConfigured(Missing::Zone).into(),
        ),
        (
            "after_a_step",
            ToolError::after(
                "Renamed the connection to \"Slack\".",
                api(400, "IM005", "Invalid data", 1),
            ),
        ),
        (
            "invalid_argument",
            ToolError::invalid("data", "must not be empty"),
        ),
        ("confirmation_impossible", ConfirmError::Impossible.into()),
        (
            "confirm_state_expired",
            ConfirmError::State(StateError::Expired).into(),
        ),
        (
            "confirm_state_mismatch",
            ConfirmError::State(StateError::Mismatch).into(),
        ),
        (
            "confirm_state_other_object",
            ConfirmError::State(StateError::OtherObject {
                issued: "connection 5".into(),
                now: "connection 6".into(),
            })
            .into(),
        ),
        (
            "link_state_malformed",
            ToolError::LinkState(StateError::Malformed),
        ),
        (
            "link_state_expired",
            ToolError::LinkState(StateError::Expired),
        ),
    ]
}

#[test]
fn tool_error_texts() {
    let rendered: Vec<String> = representative_errors()
        .into_iter()
        .map(|(name, error)| format!("## {name}\n{error}\n"))
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}

#[test]
fn cut_by_shutdown_text() {
    insta::assert_snapshot!(CUT_BY_SHUTDOWN);
}

/// An argument error as the model gets it: rmcp's prefix, then the field and the problem.
#[tokio::test]
async fn argument_error_text() {
    let h = Harness::new().await;
    let text = err(&h.call("connections_get", json!({"connectionId": 0})).await);
    insta::assert_snapshot!(text);
}

/// A delete whose first attempt's outcome is unknown (502) and whose retry found nothing.
#[tokio::test]
async fn probable_delete_result() {
    let h = flaky_delete(ResponseTemplate::new(502)).await;
    let out = ok(&h.call("keys_delete", json!({"keyId": 16})).await);
    insta::assert_json_snapshot!(out);
}
