//! The person in the loop, end to end against the Make API sandbox, with rmcp's client in
//! both protocol eras over the stdio code path (an in-memory pipe) and Streamable HTTP
//! (stateless and with sessions): the credential request's link handed over by URL
//! elicitation or an input-required round trip (accepted, declined, cancelled), the
//! completion notice, the wait with progress while a second actor uses the consent page,
//! confirmation of every destructive tool in every `--confirm` mode, questions whose Make
//! names cannot change what they ask, and sealed state that is refused when tampered with,
//! expired or replayed for another call or object.
#![cfg(feature = "sandbox")]

mod common;

use std::time::Duration;

use common::person::{self, ALL, Era, TestPerson, Wire, World, can_ask, eventually};
use common::{params, structured, text};
use make_credentials_mcp::person::{ConfirmMode, PersonSettings, UrlElicitation};
use make_sandbox::seed::{
    APIKEY_KEY_ID, BASICAUTH_KEY_ID, CRASHING_CONNECTION_ID, GOOGLE_CONNECTION_ID,
    HTTP_CONNECTION_ID, PENDING_CREDENTIAL_ID, PENDING_REQUEST_ID, SLACK_CONNECTION_ID,
};
use rmcp::model::{CallToolResponse, ElicitRequestParams, ElicitationAction};
use serde_json::{Value, json};

const GOOGLE_DRIVE: &str = "https://www.googleapis.com/auth/drive";

/// A request for a Google connection and an API key.
fn google_and_key() -> Value {
    json!({
        "name": "Drive sync",
        "connections": [{"type": "google", "scope": [GOOGLE_DRIVE]}],
        "keys": [{"type": "apikeyauth"}]
    })
}

fn request_of(out: &Value) -> (String, Vec<(String, String)>) {
    let id = out["request"]["id"].as_str().unwrap().to_string();
    let creds = out["credentials"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_string(),
                        c["component"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (id, creds)
}

async fn link_flow(wire: Wire, era: Era, answer: ElicitationAction, expected: &str) {
    let world = World::start(
        wire,
        era,
        TestPerson::answering(answer, ElicitationAction::Accept),
    )
    .await;
    let before = world.request_count().await;
    let out = world
        .call_ok(
            "credential-requests_create-by-credentials",
            google_and_key(),
        )
        .await;
    let ctx = format!("{wire:?}/{era:?}");
    assert_eq!(
        world.request_count().await,
        before + 1,
        "{ctx}: exactly one request created"
    );
    let uri = out["publicUri"]
        .as_str()
        .expect("publicUri always stays in the result");
    assert!(uri.starts_with(&world.sandbox.origin()), "{ctx}: {uri}");
    let elicited = world.person.elicitations();
    if !can_ask(wire, era) {
        assert!(elicited.is_empty(), "{ctx}: no way to ask, nothing sent");
        assert!(out.get("person").is_none(), "{ctx}: {out}");
        assert!(out["message"].as_str().unwrap().contains(uri), "{ctx}");
        return world.stop().await;
    }
    assert_eq!(elicited.len(), 1, "{ctx}: one link elicitation");
    let ElicitRequestParams::UrlElicitationParams { url, message, .. } = &elicited[0] else {
        panic!("{ctx}: expected URL mode, got {:?}", elicited[0]);
    };
    assert_eq!(url, uri, "{ctx}");
    assert!(
        message.contains("google connection") && message.contains("apikeyauth key"),
        "{ctx}: {message}"
    );
    let via = if era == Era::Modern {
        "input_required"
    } else {
        "elicitation"
    };
    assert_eq!(out["person"]["via"], via, "{ctx}");
    assert_eq!(out["person"]["action"], expected, "{ctx}");
    let message = out["message"].as_str().unwrap();
    if expected == "accept" {
        assert!(
            message.contains("wait-for-authorization"),
            "{ctx}: {message}"
        );
    } else {
        assert!(
            message.contains(uri),
            "{ctx}: the link is repeated after a {expected}: {message}"
        );
    }
    // The person authorizes the connection and declines the key; the wait sees it done,
    // and a live client hears that its elicitation is complete.
    let (id, creds) = request_of(&out);
    for (cid, component) in &creds {
        if component == "keychain" {
            world.decline(&id, cid).await;
        } else {
            world.authorize(&id, cid).await;
        }
    }
    let done = world
        .call_ok(
            "credential-requests_wait-for-authorization",
            json!({"requestId": id, "timeoutSeconds": 5}),
        )
        .await;
    assert_eq!(done["done"], true, "{ctx}: {done}");
    if era == Era::Legacy {
        let eid = out["person"]["elicitationId"].as_str().unwrap().to_string();
        assert!(
            eventually(|| world.person.completed().contains(&eid)).await,
            "{ctx}: elicitation/complete for {eid}, got {:?}",
            world.person.completed()
        );
    }
    world.stop().await;
}

#[tokio::test]
async fn the_link_is_handed_over_and_accepted_in_every_wire_and_era() {
    for (wire, era) in ALL {
        link_flow(wire, era, ElicitationAction::Accept, "accept").await;
    }
}

#[tokio::test]
async fn a_declined_or_cancelled_link_still_ends_in_the_normal_result() {
    for (wire, era) in ALL {
        link_flow(wire, era, ElicitationAction::Decline, "decline").await;
        link_flow(wire, era, ElicitationAction::Cancel, "cancel").await;
    }
}

#[tokio::test]
async fn extend_hands_over_the_link_for_the_missing_scopes() {
    for (wire, era) in [(Wire::Pipe, Era::Legacy), (Wire::Sessions, Era::Modern)] {
        let world = World::start(wire, era, TestPerson::agreeing()).await;
        let args = json!({"connectionId": GOOGLE_CONNECTION_ID, "scopes": [GOOGLE_DRIVE, "https://www.googleapis.com/auth/userinfo.email"]});
        let out = world
            .call_ok("credential-requests_extend-connection", args)
            .await;
        assert_eq!(out["alreadySatisfied"], false);
        assert_eq!(out["newScopes"], json!([GOOGLE_DRIVE]));
        assert_eq!(out["person"]["action"], "accept", "{wire:?}/{era:?}: {out}");
        let ElicitRequestParams::UrlElicitationParams { message, .. } =
            &world.person.elicitations()[0]
        else {
            panic!("URL mode")
        };
        assert!(
            message.contains(&format!(
                "1 more scope for connection {GOOGLE_CONNECTION_ID}"
            )),
            "{message}"
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn url_elicitation_off_keeps_the_link_in_the_result_only() {
    let settings = PersonSettings {
        url_elicitation: UrlElicitation::Off,
        ..PersonSettings::default()
    };
    for era in [Era::Legacy, Era::Modern] {
        let world = World::with(Wire::Pipe, era, TestPerson::agreeing(), settings.clone()).await;
        let out = world
            .call_ok(
                "credential-requests_create-by-credentials",
                google_and_key(),
            )
            .await;
        assert!(world.person.elicitations().is_empty());
        assert!(out.get("person").is_none() && out["publicUri"].is_string());
        world.stop().await;
    }
}

#[tokio::test]
async fn the_round_trip_retry_creates_nothing_twice_and_refuses_foreign_state() {
    for wire in [Wire::Pipe, Wire::Stateless, Wire::Sessions] {
        let world = World::start(wire, Era::Modern, TestPerson::agreeing()).await;
        let before = world.request_count().await;
        let first = world
            .call_once(params(
                "credential-requests_create-by-credentials",
                google_and_key(),
            ))
            .await;
        let CallToolResponse::InputRequired(ask) = first else {
            panic!("{wire:?}: expected input_required, got {first:?}")
        };
        assert_eq!(world.request_count().await, before + 1);
        let state = ask.request_state.clone().expect("sealed state");
        let answer = json!({"authorize": {"action": "accept"}});
        let retry = |args: Value, state: String| {
            let mut p = params("credential-requests_create-by-credentials", args);
            p.request_state = Some(state);
            p.input_responses = serde_json::from_value(answer.clone()).unwrap();
            p
        };
        let mut ids = Vec::new();
        for _ in 0..2 {
            let CallToolResponse::Complete(done) = world
                .call_once(retry(google_and_key(), state.clone()))
                .await
            else {
                panic!("complete")
            };
            let out = structured(&done);
            assert_eq!(out["person"]["action"], "accept");
            assert!(out["publicUri"].is_string());
            ids.push(out["request"]["id"].as_str().unwrap().to_string());
        }
        assert_eq!(
            ids[0], ids[1],
            "{wire:?}: the retry returns the request already created"
        );
        assert_eq!(
            world.request_count().await,
            before + 1,
            "{wire:?}: no second create"
        );

        // Other arguments, a tampered state and another tool's state: refused, nothing created.
        let mut other = google_and_key();
        other["name"] = json!("Something else");
        let mut tampered = state.clone();
        tampered.insert(tampered.len() / 2, 'x');
        for (args, state) in [(other, state.clone()), (google_and_key(), tampered)] {
            let CallToolResponse::Complete(refused) = world.call_once(retry(args, state)).await
            else {
                panic!("complete")
            };
            assert_eq!(refused.is_error, Some(true), "{wire:?}");
            assert!(text(&refused).contains("was refused"), "{}", text(&refused));
        }
        let mut p = params(
            "credential-requests_create",
            json!({"credentials": [{"appName": "google", "appModules": ["*"]}]}),
        );
        p.request_state = Some(state);
        let CallToolResponse::Complete(refused) = world.call_once(p).await else {
            panic!()
        };
        assert_eq!(refused.is_error, Some(true));
        assert_eq!(
            world.request_count().await,
            before + 1,
            "{wire:?}: refusals create nothing"
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn the_wait_reports_progress_while_the_person_acts_on_the_consent_page() {
    for (wire, era) in [
        (Wire::Pipe, Era::Legacy),
        (Wire::Pipe, Era::Modern),
        (Wire::Sessions, Era::Legacy),
        (Wire::Stateless, Era::Modern),
        (Wire::Stateless, Era::Legacy),
    ] {
        let world = World::start(wire, era, TestPerson::unreachable()).await;
        let out = world
            .call_ok(
                "credential-requests_create-by-credentials",
                google_and_key(),
            )
            .await;
        let (id, creds) = request_of(&out);
        let wait = world.call_with_progress(
            "credential-requests_wait-for-authorization",
            json!({"requestId": id, "timeoutSeconds": 30}),
        );
        let second_actor = async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            world.authorize(&id, &creds[0].0).await;
            // The wait polls every 1-5 s: decline only once it has reported the first step,
            // so that the partial state is seen however the polls fall.
            for _ in 0..400 {
                if world.person.progress().iter().any(|p| p.progress == 1.0) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            world.decline(&id, &creds[1].0).await;
        };
        let (result, ()) = tokio::join!(wait, second_actor);
        let out = structured(&result);
        let ctx = format!("{wire:?}/{era:?}");
        assert_eq!(out["done"], true, "{ctx}: {out}");
        assert_eq!(out["timedOut"], false);
        assert_eq!(
            out["summary"], "2 of 2 done: google authorized, apikeyauth declined",
            "{ctx}"
        );
        assert!(
            out["credentials"][0]["remoteId"].is_number(),
            "{ctx}: {out}"
        );
        assert_eq!(out["request"]["status"], "partially_authorized", "{ctx}");
        let progress = world.person.progress();
        let steps: Vec<f64> = progress.iter().map(|p| p.progress).collect();
        assert!(
            steps.contains(&0.0) && steps.contains(&1.0) && steps.contains(&2.0),
            "{ctx}: {steps:?}"
        );
        assert!(progress.iter().all(|p| p.total == Some(2.0)));
        let middle = progress.iter().find(|p| p.progress == 1.0).unwrap();
        assert_eq!(
            middle.message.as_deref(),
            Some("1 of 2 done: google authorized; waiting for apikeyauth"),
            "{ctx}"
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn a_wait_that_times_out_is_a_normal_result() {
    let world = World::start(Wire::Pipe, Era::Legacy, TestPerson::unreachable()).await;
    let out = world
        .call_ok(
            "credential-requests_wait-for-authorization",
            json!({"requestId": PENDING_REQUEST_ID, "timeoutSeconds": 1}),
        )
        .await;
    assert_eq!(out["done"], false);
    assert_eq!(out["timedOut"], true);
    assert_eq!(out["summary"], "0 of 1 done: waiting for google");
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("credential-requests_wait-for-authorization again")
    );
    let bad = world
        .call(
            "credential-requests_wait-for-authorization",
            json!({"requestId": PENDING_REQUEST_ID, "timeoutSeconds": 601}),
        )
        .await;
    assert_eq!(bad.is_error, Some(true));
    let missing = world
        .call(
            "credential-requests_wait-for-authorization",
            json!({"requestId": "ffffffffffffffffffffffffffffffff"}),
        )
        .await;
    assert_eq!(missing.is_error, Some(true), "a 404 ends the wait at once");
    assert!(text(&missing).contains("404"), "{}", text(&missing));
    world.stop().await;
}

#[tokio::test]
async fn a_cancelled_wait_stops() {
    let world = World::start(Wire::Pipe, Era::Legacy, TestPerson::unreachable()).await;
    let wait = world.call(
        "credential-requests_wait-for-authorization",
        json!({"requestId": PENDING_REQUEST_ID, "timeoutSeconds": 60}),
    );
    // Dropping the call sends notifications/cancelled.
    let cancelled = tokio::time::timeout(Duration::from_millis(1500), wait).await;
    assert!(cancelled.is_err(), "still waiting after 1.5 s");
    // The server is free at once for the next call.
    let out = world
        .call_ok(
            "credential-requests_get",
            json!({"requestId": PENDING_REQUEST_ID}),
        )
        .await;
    assert_eq!(out["request"]["id"], PENDING_REQUEST_ID);
    world.stop().await;
}

/// Person settings with the `--confirm` mode `mode`.
fn confirm(mode: ConfirmMode) -> PersonSettings {
    PersonSettings {
        confirm: mode,
        ..PersonSettings::default()
    }
}

async fn request_exists(world: &World, id: &str) -> bool {
    let detail = format!("/credential-requests/requests/{id}/detail");
    world.make_get(&detail).await.0 == 200
}

async fn connection_exists(world: &World, id: u64) -> bool {
    world.make_get(&format!("/connections/{id}")).await.0 == 200
}

#[tokio::test]
async fn deletes_are_confirmed_where_the_client_can_be_asked() {
    for (wire, era) in ALL {
        let ctx = format!("{wire:?}/{era:?}");
        // Declined: nothing changes, and the result says so plainly.
        let world = World::start(
            wire,
            era,
            TestPerson::answering(ElicitationAction::Accept, ElicitationAction::Decline),
        )
        .await;
        let out = world
            .call_ok(
                "connections_delete",
                json!({"connectionId": SLACK_CONNECTION_ID}),
            )
            .await;
        if can_ask(wire, era) {
            assert_eq!(out["deleted"], false, "{ctx}: {out}");
            assert_eq!(out["confirmation"]["action"], "decline", "{ctx}");
            assert!(
                out["message"]
                    .as_str()
                    .unwrap()
                    .contains("nothing was changed"),
                "{ctx}"
            );
            assert!(
                connection_exists(&world, SLACK_CONNECTION_ID).await,
                "{ctx}"
            );
            let ElicitRequestParams::FormElicitationParams { message, .. } =
                &world.person.elicitations()[0]
            else {
                panic!("{ctx}: form")
            };
            assert_eq!(
                message,
                &format!(
                    "Delete connection {SLACK_CONNECTION_ID} (slack3), named \"Slack (Acme workspace)\"? Scenarios using it will stop working. This cannot be undone."
                )
            );
        } else {
            // `auto` proceeds where the client cannot be asked.
            assert_eq!(out["deleted"], true, "{ctx}: {out}");
            assert!(out.get("confirmation").is_none());
        }
        world.stop().await;

        // Accepted with the box ticked: deleted.
        let world = World::start(wire, era, TestPerson::agreeing()).await;
        let out = world
            .call_ok(
                "connections_delete",
                json!({"connectionId": SLACK_CONNECTION_ID}),
            )
            .await;
        assert_eq!(out["deleted"], true, "{ctx}: {out}");
        assert!(
            !connection_exists(&world, SLACK_CONNECTION_ID).await,
            "{ctx}"
        );
        if can_ask(wire, era) {
            assert_eq!(out["confirmation"]["proceeded"], true, "{ctx}");
        }
        world.stop().await;
    }
}

#[tokio::test]
async fn every_destructive_tool_asks_and_a_decline_changes_nothing() {
    let declines = || TestPerson::answering(ElicitationAction::Accept, ElicitationAction::Cancel);
    for era in [Era::Legacy, Era::Modern] {
        let world = World::start(Wire::Pipe, era, declines()).await;
        let calls = [
            ("keys_delete", json!({"keyId": APIKEY_KEY_ID})),
            (
                "keys_update",
                json!({"keyId": APIKEY_KEY_ID, "parameters": {"key": "new", "placement": "header", "name": "X-API-Key"}}),
            ),
            (
                "connections_update",
                json!({"connectionId": HTTP_CONNECTION_ID, "data": {"authUser": "u", "authPass": "p"}}),
            ),
            (
                "credential-requests_delete",
                json!({"requestId": PENDING_REQUEST_ID}),
            ),
            (
                "credential-requests_credential-delete",
                json!({"credentialId": PENDING_CREDENTIAL_ID}),
            ),
        ];
        for (tool, args) in calls {
            let result = world.call(tool, args).await;
            let out = structured(&result);
            assert_eq!(
                out["confirmation"]["action"], "cancel",
                "{era:?} {tool}: {out}"
            );
            assert_eq!(out["confirmation"]["proceeded"], false, "{tool}");
        }
        let questions: Vec<String> = world
            .person
            .elicitations()
            .into_iter()
            .map(|e| match e {
                ElicitRequestParams::FormElicitationParams { message, .. } => message,
                other => panic!("form expected, got {other:?}"),
            })
            .collect();
        assert_eq!(questions.len(), 5, "{questions:?}");
        let begins = [
            format!("Delete key {APIKEY_KEY_ID} (apikeyauth), named \"Weather API key\"?"),
            format!(
                "Replace the secret parameters of key {APIKEY_KEY_ID} (apikeyauth), named \"Weather API key\"?"
            ),
            format!("Replace all stored data of connection {HTTP_CONNECTION_ID} (http), named "),
        ];
        for (question, start) in questions.iter().zip(&begins) {
            assert!(question.starts_with(start.as_str()), "{question}");
        }
        let holds = [
            "and the 0 connections and 0 keys it created".to_string(),
            format!("credential {PENDING_CREDENTIAL_ID}"),
        ];
        for (question, part) in questions[3..].iter().zip(&holds) {
            assert!(question.contains(part.as_str()), "{question}");
        }
        assert_eq!(
            world.make_get(&format!("/keys/{APIKEY_KEY_ID}")).await.0,
            200,
            "nothing deleted"
        );
        assert!(request_exists(&world, PENDING_REQUEST_ID).await);
        world.stop().await;
    }
}

#[tokio::test]
async fn confirm_always_refuses_where_it_cannot_ask_and_never_does_not_ask() {
    let always = confirm(ConfirmMode::Always);
    for (wire, era, person) in [
        (Wire::Pipe, Era::Legacy, TestPerson::unreachable()),
        (Wire::Pipe, Era::Modern, TestPerson::unreachable()),
        (Wire::Stateless, Era::Legacy, TestPerson::agreeing()),
    ] {
        let world = World::with(wire, era, person, always.clone()).await;
        let result = world
            .call("keys_delete", json!({"keyId": BASICAUTH_KEY_ID}))
            .await;
        assert_eq!(result.is_error, Some(true), "{wire:?}/{era:?}");
        assert!(
            text(&result).contains("--confirm always"),
            "{}",
            text(&result)
        );
        assert_eq!(
            world.make_get(&format!("/keys/{BASICAUTH_KEY_ID}")).await.0,
            200,
            "nothing deleted"
        );
        world.stop().await;
    }
    // `always` with a client that can be asked: asked, then deleted.
    let world = World::with(Wire::Sessions, Era::Legacy, TestPerson::agreeing(), always).await;
    let out = world
        .call_ok("keys_delete", json!({"keyId": BASICAUTH_KEY_ID}))
        .await;
    assert_eq!(out["deleted"], true);
    world.stop().await;

    let never = confirm(ConfirmMode::Never);
    for era in [Era::Legacy, Era::Modern] {
        let world = World::with(Wire::Pipe, era, TestPerson::agreeing(), never.clone()).await;
        let out = world
            .call_ok("keys_delete", json!({"keyId": BASICAUTH_KEY_ID}))
            .await;
        assert_eq!(out["deleted"], true);
        assert!(world.person.elicitations().is_empty(), "never asks");
        world.stop().await;
    }
}

#[tokio::test]
async fn an_unticked_confirmation_is_not_a_yes() {
    for era in [Era::Legacy, Era::Modern] {
        let mut person = TestPerson::agreeing();
        person.tick = false;
        let world = World::start(Wire::Pipe, era, person).await;
        let out = world
            .call_ok("keys_delete", json!({"keyId": BASICAUTH_KEY_ID}))
            .await;
        assert_eq!(out["deleted"], false, "{era:?}: {out}");
        assert_eq!(
            world.make_get(&format!("/keys/{BASICAUTH_KEY_ID}")).await.0,
            200
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn confirmation_states_are_refused_when_tampered_expired_or_replayed() {
    let settings = PersonSettings {
        state_ttl: Duration::from_secs(1),
        ..PersonSettings::default()
    };
    let world = World::with(Wire::Pipe, Era::Modern, TestPerson::agreeing(), settings).await;
    let ask = |tool: &str, args: Value| {
        let p = params(tool, args);
        async {
            match world.call_once(p).await {
                CallToolResponse::InputRequired(ask) => ask.request_state.unwrap(),
                other => panic!("expected input_required, got {other:?}"),
            }
        }
    };
    let yes: rmcp::model::InputResponses = serde_json::from_value(
        json!({"confirm": {"action": "accept", "content": {"confirm": true}}}),
    )
    .unwrap();
    let retry = |tool: &str, args: Value, state: String| {
        let mut p = params(tool, args);
        p.request_state = Some(state);
        p.input_responses = Some(yes.clone());
        p
    };
    // Answers yes to a question asked with `state`, for `tool` and `args`: the refusal's text.
    let replay = async |tool: &str, args: Value, state: String| match world
        .call_once(retry(tool, args, state))
        .await
    {
        CallToolResponse::Complete(r) => {
            assert_eq!(r.is_error, Some(true), "{}", text(&r));
            text(&r)
        }
        other => panic!("{other:?}"),
    };
    let slack = json!({"connectionId": SLACK_CONNECTION_ID});
    // Replayed for another connection (other arguments).
    let state = ask("connections_delete", slack.clone()).await;
    let crashing = json!({"connectionId": CRASHING_CONNECTION_ID});
    let why = replay("connections_delete", crashing, state.clone()).await;
    assert!(why.contains("another tool or other arguments"), "{why}");
    // Replayed for another tool.
    let other_tool = json!({"keyId": SLACK_CONNECTION_ID});
    let why = replay("keys_delete", other_tool, state.clone()).await;
    assert!(why.contains("was refused"), "{why}");
    // Tampered.
    // Change one character in the middle (the last one may carry only padding bits).
    let mut tampered: Vec<char> = state.chars().collect();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    replay("connections_delete", slack.clone(), tampered).await;
    // Expired.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let why = replay("connections_delete", slack, state).await;
    assert!(why.contains("expired"), "{why}");
    for id in [SLACK_CONNECTION_ID, CRASHING_CONNECTION_ID] {
        assert!(connection_exists(&world, id).await, "nothing deleted");
    }
    // Another object: the request's credentials changed between question and answer.
    let args = json!({"requestId": PENDING_REQUEST_ID});
    let state = ask("credential-requests_delete", args.clone()).await;
    world
        .authorize(PENDING_REQUEST_ID, PENDING_CREDENTIAL_ID)
        .await;
    let why = replay("credential-requests_delete", args.clone(), state).await;
    assert!(why.contains("but the call now concerns"), "{why}");
    assert!(request_exists(&world, PENDING_REQUEST_ID).await);
    // A fresh question about the object as it is now goes through.
    let state = ask("credential-requests_delete", args.clone()).await;
    let CallToolResponse::Complete(done) = world
        .call_once(retry("credential-requests_delete", args, state))
        .await
    else {
        panic!()
    };
    assert_eq!(structured(&done)["deleted"], true);
    world.stop().await;
}

/// The real binary over stdio with `--sandbox`, in both eras: the link reaches the person,
/// the consent page authorizes, the wait sees it, and a 2025-11-25 client hears it is done.
#[tokio::test]
async fn the_binary_over_stdio_hands_over_the_link_and_waits() {
    for era in [Era::Legacy, Era::Modern] {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_make-credentials-mcp"));
        cmd.arg("--sandbox")
            .arg("--no-cli-login")
            .env("HOME", std::env::temp_dir().join("mcm-no-home"))
            .stderr(std::process::Stdio::null());
        let transport = rmcp::transport::TokioChildProcess::new(cmd).unwrap();
        let person = TestPerson::agreeing();
        let client = person::connect(person.clone(), transport, era).await;
        let args = json!({"connections": [{"type": "google", "scope": [GOOGLE_DRIVE]}]});
        let out = structured(
            &client
                .call_tool(params("credential-requests_create-by-credentials", args))
                .await
                .unwrap(),
        );
        assert_eq!(out["person"]["action"], "accept", "{era:?}: {out}");
        let uri = out["publicUri"].as_str().unwrap();
        let origin = uri.split("/credential-requests/").next().unwrap();
        let (id, creds) = request_of(&out);
        let form = make_credentials_mcp::make::client_builder()
            .build()
            .unwrap()
            .post(format!(
                "{origin}/credential-requests/{id}/credentials/{}/authorize",
                creds[0].0
            ))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert!(form.status().is_success(), "{}", form.status());
        let wait = params(
            "credential-requests_wait-for-authorization",
            json!({"requestId": id, "timeoutSeconds": 10}),
        );
        let done = structured(&client.call_tool(wait).await.unwrap());
        assert_eq!(done["done"], true, "{done}");
        assert!(done["credentials"][0]["remoteId"].is_number());
        if era == Era::Legacy {
            let eid = out["person"]["elicitationId"].as_str().unwrap().to_string();
            assert!(eventually(|| person.completed().contains(&eid)).await);
        }
        let _ = client.cancel().await;
    }
}

/// A key that may change but not read (no :read scopes) still gets its deletes confirmed:
/// the question names the bare id instead of failing on the read.
#[tokio::test]
async fn a_write_only_key_is_asked_about_the_bare_id() {
    let options = make_sandbox::SandboxOptions {
        scopes: "connections:write,keys:write,credential-requests:write"
            .parse()
            .unwrap(),
        ..Default::default()
    };
    for era in [Era::Legacy, Era::Modern] {
        let world = World::on(
            Wire::Pipe,
            era,
            TestPerson::agreeing(),
            PersonSettings::default(),
            options.clone(),
        )
        .await;
        for (tool, args) in [
            (
                "connections_delete",
                json!({"connectionId": SLACK_CONNECTION_ID}),
            ),
            ("keys_delete", json!({"keyId": BASICAUTH_KEY_ID})),
            (
                "credential-requests_delete",
                json!({"requestId": PENDING_REQUEST_ID}),
            ),
        ] {
            let out = world.call_ok(tool, args).await;
            assert_eq!(out["deleted"], true, "{era:?} {tool}: {out}");
            assert_eq!(out["confirmation"]["proceeded"], true);
        }
        let questions: Vec<String> = world
            .person
            .elicitations()
            .into_iter()
            .filter_map(|e| match e {
                ElicitRequestParams::FormElicitationParams { message, .. } => Some(message),
                _ => None,
            })
            .collect();
        let begins = [
            format!("Delete connection {SLACK_CONNECTION_ID}?"),
            format!("Delete key {BASICAUTH_KEY_ID}?"),
            format!("Delete credential request {PENDING_REQUEST_ID} and every"),
        ];
        assert_eq!(questions.len(), begins.len(), "{questions:?}");
        for (question, start) in questions.iter().zip(&begins) {
            assert!(question.starts_with(start.as_str()), "{questions:?}");
        }
        world.stop().await;
    }
}

/// Whether `c` is a character a question must never carry raw: a control character, a line
/// or paragraph separator, or a bidirectional formatting character.
fn raw_control_or_bidi(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A connection renamed (renames are not confirmed) so that its name carries a newline,
/// a forged id and type and a right-to-left override: its delete question still states the
/// real id and type before the name, and shows the name's characters as visible escapes.
#[tokio::test]
async fn a_name_cannot_change_what_a_question_asks() {
    for era in [Era::Legacy, Era::Modern] {
        let person = TestPerson::answering(ElicitationAction::Accept, ElicitationAction::Decline);
        let world = World::start(Wire::Pipe, era, person).await;
        let forged = "Old\n(id 1003, http)? It is unused and safe to remove.\u{202e}\u{2066}x";
        world
            .call_ok(
                "connections_update",
                json!({"connectionId": SLACK_CONNECTION_ID, "name": forged}),
            )
            .await;
        let out = world
            .call_ok(
                "connections_delete",
                json!({"connectionId": SLACK_CONNECTION_ID}),
            )
            .await;
        assert_eq!(out["deleted"], false, "{era:?}: {out}");
        let ElicitRequestParams::FormElicitationParams { message, .. } =
            &world.person.elicitations()[0]
        else {
            panic!("{era:?}: form")
        };
        assert!(
            message.starts_with(&format!(
                "Delete connection {SLACK_CONNECTION_ID} (slack3), named \"Old\\n(id 1003, http)?"
            )),
            "{era:?}: {message}"
        );
        assert!(message.contains(r"\u{202e}\u{2066}x"), "{era:?}: {message}");
        assert!(
            !message.chars().any(raw_control_or_bidi),
            "{era:?}: {message:?}"
        );
        assert!(connection_exists(&world, SLACK_CONNECTION_ID).await);
        world.stop().await;
    }
}

/// One call per destructive tool that reaches its destructive step; a destructive tool
/// missing here fails [`every_tool_annotated_destructive_goes_through_the_gate`].
fn destructive_call(tool: &str) -> Option<Value> {
    Some(match tool {
        "connections_delete" => json!({"connectionId": SLACK_CONNECTION_ID}),
        "connections_update" => {
            json!({"connectionId": HTTP_CONNECTION_ID, "data": {"authUser": "u", "authPass": "p"}})
        }
        "keys_delete" => json!({"keyId": BASICAUTH_KEY_ID}),
        "keys_update" => {
            json!({"keyId": APIKEY_KEY_ID, "parameters": {"key": "new", "placement": "header", "name": "X-API-Key"}})
        }
        "credential-requests_delete" => json!({"requestId": PENDING_REQUEST_ID}),
        "credential-requests_credential-delete" => {
            json!({"credentialId": PENDING_CREDENTIAL_ID})
        }
        "credential-requests_credential-decline" => {
            json!({"credentialId": PENDING_CREDENTIAL_ID, "reason": "not now"})
        }
        _ => return None,
    })
}

/// The tools the server annotates `destructiveHint: true`, as a client reads them (an
/// absent hint counts as destructive, the spec's default).
async fn destructive_tools(world: &World) -> Vec<String> {
    let tools = world.client.list_all_tools().await.expect("tools/list");
    tools
        .into_iter()
        .filter(|t| {
            t.annotations
                .as_ref()
                .and_then(|a| a.destructive_hint)
                .unwrap_or(true)
        })
        .map(|t| t.name.to_string())
        .collect()
}

/// Every tool the registry annotates destructive, under `--confirm always` with a client
/// that cannot be asked, is refused before it writes anything to Make; with a client that
/// can be asked, the person is asked once per tool.
#[tokio::test]
async fn every_tool_annotated_destructive_goes_through_the_gate() {
    let always = confirm(ConfirmMode::Always);
    let world = World::with(
        Wire::Pipe,
        Era::Legacy,
        TestPerson::unreachable(),
        always.clone(),
    )
    .await;
    let tools = destructive_tools(&world).await;
    assert!(tools.len() >= 7, "{tools:?}");
    for tool in &tools {
        let args = destructive_call(tool).unwrap_or_else(|| {
            panic!("{tool} is annotated destructive: give it a call in destructive_call")
        });
        world.sandbox.reset_requests_seen();
        let result = world.call(tool, args).await;
        assert_eq!(result.is_error, Some(true), "{tool}: {}", text(&result));
        assert!(
            text(&result).contains("--confirm always"),
            "{tool}: {}",
            text(&result)
        );
        let writes: Vec<String> = world
            .sandbox
            .requests_seen()
            .iter()
            .filter(|(method, _, _)| *method != "GET")
            .map(|(method, path, n)| format!("{method} {path} x{n}"))
            .collect();
        assert!(writes.is_empty(), "{tool} wrote to Make: {writes:?}");
    }
    world.stop().await;

    // A client that can be asked is asked, once per destructive tool.
    let person = TestPerson::answering(ElicitationAction::Accept, ElicitationAction::Decline);
    let world = World::with(Wire::Pipe, Era::Legacy, person, always).await;
    for tool in &tools {
        let out = world.call_ok(tool, destructive_call(tool).unwrap()).await;
        assert_eq!(out["confirmation"]["action"], "decline", "{tool}: {out}");
        assert_eq!(out["confirmation"]["proceeded"], false, "{tool}: {out}");
    }
    assert_eq!(world.person.elicitations().len(), tools.len());
    world.stop().await;
}

/// The state of the seeded pending credential, as Make has it.
async fn pending_credential_state(world: &World) -> Value {
    let detail = format!("/credential-requests/requests/{PENDING_REQUEST_ID}/detail");
    let (_, body) = world.make_get(&detail).await;
    body["requestDetail"]["credentials"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"] == PENDING_CREDENTIAL_ID)
        .map(|c| c["state"].clone())
        .unwrap_or(Value::Null)
}

/// `--confirm always` covers credential-decline: refused where the person cannot be asked,
/// with nothing sent to Make; declined once the person agrees.
#[tokio::test]
async fn a_decline_under_confirm_always_needs_the_person() {
    let always = confirm(ConfirmMode::Always);
    let args = json!({"credentialId": PENDING_CREDENTIAL_ID, "reason": "not now"});
    for era in [Era::Legacy, Era::Modern] {
        // Cannot be asked: refused, and nothing at all reaches Make.
        let world = World::with(Wire::Pipe, era, TestPerson::unreachable(), always.clone()).await;
        world.sandbox.reset_requests_seen();
        let result = world
            .call("credential-requests_credential-decline", args.clone())
            .await;
        assert_eq!(result.is_error, Some(true), "{era:?}: {}", text(&result));
        assert!(
            text(&result).contains("--confirm always"),
            "{}",
            text(&result)
        );
        assert_eq!(world.sandbox.requests_seen().total(), 0, "{era:?}");
        assert_eq!(pending_credential_state(&world).await, "pending", "{era:?}");
        world.stop().await;

        // Asked and accepted: declined.
        let world = World::with(Wire::Pipe, era, TestPerson::agreeing(), always.clone()).await;
        let out = world
            .call_ok("credential-requests_credential-decline", args.clone())
            .await;
        assert_eq!(out["credential"]["state"], "declined", "{era:?}: {out}");
        assert_eq!(out["confirmation"]["proceeded"], true, "{era:?}: {out}");
        let ElicitRequestParams::FormElicitationParams { message, .. } =
            &world.person.elicitations()[0]
        else {
            panic!("{era:?}: form")
        };
        assert!(
            message.starts_with(&format!("Decline credential {PENDING_CREDENTIAL_ID}")),
            "{message}"
        );
        assert_eq!(
            pending_credential_state(&world).await,
            "declined",
            "{era:?}"
        );
        world.stop().await;
    }
}
