//! A sealed confirmation goes through at most once, and a credential-delete confirmation
//! holds only for the connection it was asked about: a 2026-07-28 client that replays a
//! `requestState` it already used is refused, on the replica that saw it or on another
//! replica sharing the state key and `--confirmations-dir`, and nothing changes in Make.
//! Against the Make API sandbox: in process for the single server, the real binary (two
//! processes, one sandbox) for replicas.
#![cfg(feature = "sandbox")]

mod common;

use common::http::{BIN, spawn_and_read_log, transport};
use common::person::{self, Era, TestPerson, Wire, World};
use common::{params, structured, text};
use make_sandbox::Sandbox;
use make_sandbox::seed::{APIKEY_KEY_ID, PENDING_CREDENTIAL_ID, PENDING_REQUEST_ID};
use reqwest::Method;
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, InputResponses};
use rmcp::service::RunningService;
use serde_json::{Value, json};

/// `openssl rand -base64 32`, shared by the replicas.
const STATE_KEY: &str = "q8Vf1kqH1Jm0xgM4nB0s3yqk3rWl5y9QeZ2tP7oXb1c=";

type Client = RunningService<RoleClient, TestPerson>;

/// `keys_update` replacing the API key's secret with `secret`.
fn key_update(secret: &str) -> Value {
    json!({"keyId": APIKEY_KEY_ID, "parameters": {"key": secret, "placement": "header", "name": "X-API-Key"}})
}

/// The first round of `tool`: the sealed state of the question it asks.
async fn ask(client: &Client, tool: &str, args: Value) -> String {
    match client.call_tool_once(params(tool, args)).await.unwrap() {
        CallToolResponse::InputRequired(ask) => ask.request_state.expect("a sealed state"),
        other => panic!("{tool}: expected input_required, got {other:?}"),
    }
}

/// The retry of `tool` with `state` and the person's yes: the finished result.
async fn answer_yes(client: &Client, tool: &str, args: Value, state: &str) -> CallToolResult {
    let yes: InputResponses = serde_json::from_value(
        json!({"confirm": {"action": "accept", "content": {"confirm": true}}}),
    )
    .unwrap();
    let mut p: CallToolRequestParams = params(tool, args);
    p.request_state = Some(state.to_string());
    p.input_responses = Some(yes);
    match client.call_tool_once(p).await.unwrap() {
        CallToolResponse::Complete(result) => result,
        other => panic!("{tool}: expected a result, got {other:?}"),
    }
}

/// The refusal's text; fails unless the result is an error.
fn refused(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "{}", text(result));
    text(result)
}

fn key_patches(sandbox: &Sandbox) -> u64 {
    sandbox
        .requests_seen()
        .count(&Method::PATCH, &format!("/keys/{APIKEY_KEY_ID}"))
}

/// The first reproduction: confirm a change of the key to A, later to B, then
/// replay the first state. The replay is refused and Make sees no third change, so the
/// key keeps B.
#[tokio::test]
async fn a_replayed_key_update_is_refused_and_the_key_keeps_the_later_secret() {
    let world = World::start(Wire::Pipe, Era::Modern, TestPerson::agreeing()).await;
    let tool = "keys_update";
    let state_a = ask(&world.client, tool, key_update("secret-a")).await;
    let done = answer_yes(&world.client, tool, key_update("secret-a"), &state_a).await;
    assert_eq!(
        structured(&done)["confirmation"]["proceeded"],
        true,
        "{}",
        text(&done)
    );
    let state_b = ask(&world.client, tool, key_update("secret-b")).await;
    let done = answer_yes(&world.client, tool, key_update("secret-b"), &state_b).await;
    assert_eq!(
        structured(&done)["confirmation"]["proceeded"],
        true,
        "{}",
        text(&done)
    );
    assert_eq!(key_patches(&world.sandbox), 2);

    let replay = answer_yes(&world.client, tool, key_update("secret-a"), &state_a).await;
    let why = refused(&replay);
    assert!(why.contains("already used"), "{why}");
    assert!(why.contains("without requestState"), "{why}");
    assert_eq!(key_patches(&world.sandbox), 2, "the replay changed the key");
    // A declined answer spends the state too: answering it again cannot turn it into a yes.
    let state_c = ask(&world.client, tool, key_update("secret-c")).await;
    let mut no = params(tool, key_update("secret-c"));
    no.request_state = Some(state_c.clone());
    no.input_responses =
        Some(serde_json::from_value(json!({"confirm": {"action": "decline"}})).unwrap());
    let CallToolResponse::Complete(kept) = world.client.call_tool_once(no).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        structured(&kept)["confirmation"]["proceeded"],
        false,
        "{}",
        text(&kept)
    );
    let why = refused(&answer_yes(&world.client, tool, key_update("secret-c"), &state_c).await);
    assert!(why.contains("already used"), "{why}");
    assert_eq!(key_patches(&world.sandbox), 2);
    world.stop().await;
}

/// The id of the connection `PENDING_CREDENTIAL_ID` created, if any, as Make has it.
async fn remote_id(world: &World) -> Option<u64> {
    let (status, detail) = world
        .make_get(&format!(
            "/credential-requests/requests/{PENDING_REQUEST_ID}/detail"
        ))
        .await;
    assert_eq!(status, 200, "{detail}");
    detail["requestDetail"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == PENDING_CREDENTIAL_ID)
        .unwrap()["remoteId"]
        .as_u64()
}

/// Behind the server's back: deletes the pending credential's connection and has the person
/// authorize it again, so that it points at a new connection.
async fn reauthorize(world: &World) {
    world
        .make_post(&format!(
            "/credential-requests/credentials/{PENDING_CREDENTIAL_ID}/delete-remote"
        ))
        .await;
    world
        .authorize(PENDING_REQUEST_ID, PENDING_CREDENTIAL_ID)
        .await;
}

async fn connection_exists(world: &World, id: u64) -> bool {
    world.make_get(&format!("/connections/{id}")).await.0 == 200
}

/// The second reproduction: confirm a credential-delete, the person authorizes the
/// credential again (a new connection), the state is replayed: refused, and the new
/// connection survives. Then the binding: a question asked about one connection, answered
/// after the credential was deleted and authorized again behind the server's back, is
/// refused as concerning another object.
#[tokio::test]
async fn a_credential_delete_holds_once_and_only_for_the_connection_it_named() {
    let world = World::start(Wire::Pipe, Era::Modern, TestPerson::agreeing()).await;
    let tool = "credential-requests_credential-delete";
    let args = json!({"credentialId": PENDING_CREDENTIAL_ID, "requestId": PENDING_REQUEST_ID});
    world
        .authorize(PENDING_REQUEST_ID, PENDING_CREDENTIAL_ID)
        .await;
    let first = remote_id(&world).await.expect("authorized");

    let state = ask(&world.client, tool, args.clone()).await;
    let done = answer_yes(&world.client, tool, args.clone(), &state).await;
    assert_eq!(structured(&done)["deleted"], true, "{}", text(&done));
    assert!(!connection_exists(&world, first).await);
    world
        .authorize(PENDING_REQUEST_ID, PENDING_CREDENTIAL_ID)
        .await;
    let second = remote_id(&world).await.expect("authorized again");
    assert_ne!(second, first);

    let why = refused(&answer_yes(&world.client, tool, args.clone(), &state).await);
    assert!(why.contains("already used"), "{why}");
    assert!(
        connection_exists(&world, second).await,
        "the new connection was deleted"
    );

    // The question names the connection it is about.
    let state = ask(&world.client, tool, args.clone()).await;
    reauthorize(&world).await;
    let third = remote_id(&world).await.expect("authorized a third time");
    assert_ne!(third, second);
    let why = refused(&answer_yes(&world.client, tool, args.clone(), &state).await);
    assert!(
        why.contains(&format!(
            "issued for credential {PENDING_CREDENTIAL_ID} (connection {second})"
        )),
        "{why}"
    );
    assert!(why.contains(&format!("(connection {third})")), "{why}");
    assert!(
        connection_exists(&world, third).await,
        "the newest connection was deleted"
    );
    world.stop().await;
}

/// The question of a credential-delete given its request names the connection's id and type.
#[tokio::test]
async fn a_credential_delete_question_names_the_connection() {
    let world = World::start(Wire::Pipe, Era::Legacy, TestPerson::agreeing()).await;
    world
        .authorize(PENDING_REQUEST_ID, PENDING_CREDENTIAL_ID)
        .await;
    let id = remote_id(&world).await.unwrap();
    let args = json!({"credentialId": PENDING_CREDENTIAL_ID, "requestId": PENDING_REQUEST_ID});
    let out = world
        .call_ok("credential-requests_credential-delete", args)
        .await;
    assert_eq!(out["deleted"], true, "{out}");
    let asked = world.person.elicitations();
    let rmcp::model::ElicitRequestParams::FormElicitationParams { message, .. } = &asked[0] else {
        panic!("{asked:?}")
    };
    assert!(
        message.starts_with(&format!(
            "Delete connection {id} (google), which credential {PENDING_CREDENTIAL_ID} created"
        )),
        "{message}"
    );
    // A credential that is not in the request is refused before anything is asked.
    let wrong = json!({"credentialId": "0000000000000000", "requestId": PENDING_REQUEST_ID});
    let result = world
        .call("credential-requests_credential-delete", wrong)
        .await;
    let why = refused(&result);
    assert!(why.contains("is not a credential of request"), "{why}");
    assert_eq!(world.person.elicitations().len(), 1);
    world.stop().await;
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "mcm-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary serving HTTP on `sandbox` with the shared state key and `extra` arguments:
/// the child, its log up to listening, and a 2026-07-28 client whose person can be asked.
async fn replica(
    sandbox: &Sandbox,
    extra: &[&str],
) -> (tokio::process::Child, Vec<String>, Client) {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("MAKE_API_URL", sandbox.api_base_url())
        .env("MAKE_API_KEY", sandbox.api_key())
        .env("MCP_STATE_KEY", STATE_KEY)
        .env("HOME", std::env::temp_dir().join("mcm-no-home"))
        .env_remove("MCP_AUTH_TOKEN")
        .env_remove("MCP_CONFIRMATIONS_DIR")
        .env_remove("RUST_LOG");
    let (child, _lines, log, url) = spawn_and_read_log(&mut command, "url").await;
    let client = person::connect(TestPerson::agreeing(), transport(url, None), Era::Modern).await;
    (child, log, client)
}

/// Two replicas (two processes sharing the state key and one `--confirmations-dir`, one
/// Make): a confirmation used on the first is refused on the second. Without the shared
/// directory the server warns at start-up that a replay is possible once per replica.
#[tokio::test]
async fn replicas_sharing_a_confirmations_dir_refuse_a_state_used_on_another() {
    let sandbox = Sandbox::start().await.unwrap();
    let dir = TempDir::new("confirmations");
    let dir_arg = dir.0.to_str().unwrap();
    let (_one, log, first) = replica(&sandbox, &["--confirmations-dir", dir_arg]).await;
    assert!(
        !log.iter().any(|l| l.contains("--confirmations-dir")),
        "{log:?}"
    );
    let (_two, _, second) = replica(&sandbox, &["--confirmations-dir", dir_arg]).await;
    let tool = "keys_update";

    let state = ask(&first, tool, key_update("secret-a")).await;
    let done = answer_yes(&first, tool, key_update("secret-a"), &state).await;
    assert_eq!(
        structured(&done)["confirmation"]["proceeded"],
        true,
        "{}",
        text(&done)
    );
    assert_eq!(key_patches(&sandbox), 1);
    let why = refused(&answer_yes(&second, tool, key_update("secret-a"), &state).await);
    assert!(why.contains("already used"), "{why}");
    let why = refused(&answer_yes(&first, tool, key_update("secret-a"), &state).await);
    assert!(why.contains("already used"), "{why}");
    assert_eq!(key_patches(&sandbox), 1, "a replica replayed the change");

    // A state issued by one replica and answered on the other goes through once.
    let state = ask(&second, tool, key_update("secret-b")).await;
    let done = answer_yes(&first, tool, key_update("secret-b"), &state).await;
    assert_eq!(
        structured(&done)["confirmation"]["proceeded"],
        true,
        "{}",
        text(&done)
    );
    refused(&answer_yes(&second, tool, key_update("secret-b"), &state).await);
    assert_eq!(key_patches(&sandbox), 2);

    let (_alone, log, _) = replica(&sandbox, &[]).await;
    assert!(
        log.iter().any(|l| l.contains("WARN")
            && l.contains("--confirmations-dir")
            && l.contains("once per replica")),
        "{log:?}"
    );
    let _ = first.cancel().await;
    let _ = second.cancel().await;
}

/// A credential-request delete asked while the request had created one connection is
/// refused once that connection was replaced by another (same count, new id).
#[tokio::test]
async fn a_request_delete_holds_only_for_the_connections_it_counted() {
    let world = World::start(Wire::Pipe, Era::Modern, TestPerson::agreeing()).await;
    let tool = "credential-requests_delete";
    let args = json!({"requestId": PENDING_REQUEST_ID});
    world
        .authorize(PENDING_REQUEST_ID, PENDING_CREDENTIAL_ID)
        .await;
    let first = remote_id(&world).await.unwrap();
    let state = ask(&world.client, tool, args.clone()).await;
    reauthorize(&world).await;
    let second = remote_id(&world).await.unwrap();
    assert_ne!(second, first);
    let why = refused(&answer_yes(&world.client, tool, args, &state).await);
    assert!(why.contains(&format!("connections [{first}]")), "{why}");
    assert!(why.contains(&format!("connections [{second}]")), "{why}");
    assert!(connection_exists(&world, second).await);
    world.stop().await;
}

/// A confirmations directory that cannot be created stops the server at start-up with the
/// path and the reason, rather than falling back to one replica's memory.
#[tokio::test]
async fn an_unusable_confirmations_dir_stops_the_server() {
    let file = TempDir::new("not-a-dir");
    std::fs::write(&file.0, "a file").unwrap();
    let inside = file.0.join("confirmations");
    let out = common::http::run_binary(
        &[
            "--no-cli-login",
            "--confirmations-dir",
            inside.to_str().unwrap(),
            "tools",
        ],
        None,
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("confirmations directory") && stderr.contains("not-a-dir"),
        "{stderr}"
    );
    std::fs::remove_file(&file.0).unwrap();
}
