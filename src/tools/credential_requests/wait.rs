//! `credential-requests_wait-for-authorization`: follow one request until the person has
//! acted on every credential, reporting progress on the way.
//!
//! Make sends no notice when a request is authorized, so the request detail is polled:
//! about every second at first, backing off to about five, with jitter; a 429 slows it
//! further. Waits on the same request (with the same Make credential) share one poll loop
//! ([`poller`]), so N waiters cost one Make request per interval; each waiter keeps its own
//! deadline and progress reports. At most [`Waits`]'s bound run at once: one past it is
//! answered at once, without contacting Make. A timeout is a normal result
//! (`done: false`). The client's cancel (or its going away) drops the call and its
//! subscription; the poll stops when its last waiter has gone.

mod poller;

use std::time::Duration;

use crate::tools::Json;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::make::MakeClient;
use crate::make::credential_requests::{Credential, CredentialRequest};
use crate::person::Turn;
use crate::tools::ToolError;
use crate::tools::args::{OpaqueId, Parameters};
use crate::tools::{Toolbox, schema};
use poller::{Polls, Seen};

const DEFAULT_TIMEOUT_SECS: u64 = 50;
const MAX_TIMEOUT_SECS: u64 = 600;
/// Progress is reported at least this often, even when nothing changed.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Default bound on the waits in progress at once (`--max-waits`): a quarter of the HTTP
/// server's default connection cap, so waits held for their whole timeout leave most
/// connections to other calls and clients.
pub(crate) const DEFAULT_MAX_WAITS: usize = 64;

/// The waits of one process: their shared polls and the bound on how many run at once.
///
/// The bound is per process. Once calls carry a person's identity, it becomes one bound
/// per person (keyed like the polls, by credential), so that one person's waits cannot
/// take every slot.
pub(crate) struct Waits {
    polls: Polls,
    slots: Semaphore,
    max: usize,
}

impl Waits {
    /// At most `max` waits at once (at least one).
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            polls: Polls::default(),
            slots: Semaphore::new(max),
            max,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WaitArgs {
    /// Credential request id (a string) from a create or extend call.
    request_id: OpaqueId,
    /// Longest wait in seconds (default 50); keep it under the client's request timeout.
    #[schemars(range(min = 1, max = 600))]
    timeout_seconds: Option<u64>,
}

/// One credential as the wait sees it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialState {
    /// Credential id.
    id: String,
    /// `account` (a connection) or `keychain` (a key).
    component: Option<String>,
    /// Connection or key type, e.g. `google`, `apikeyauth`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// `pending`, `authorized`, `declined`, ...
    state: String,
    /// OAuth scopes requested.
    scopes: Option<Vec<String>>,
    /// Id of the connection or key created once authorized.
    #[schemars(with = "Option<u64>")]
    remote_id: Option<serde_json::Value>,
    /// Why the person declined, when they gave a reason.
    decline_reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WaitOutput {
    /// True when no credential is pending any more (each one authorized or declined).
    done: bool,
    /// True when the wait ended because `timeoutSeconds` passed first.
    timed_out: bool,
    /// The request and its status (its credentials are listed below).
    request: CredentialRequest,
    /// Each credential with its state, type, scopes and `remoteId`.
    credentials: Vec<CredentialState>,
    /// One line, e.g. "1 of 2 done: google authorized; waiting for apikeyauth".
    summary: String,
    /// What to do next.
    message: String,
}

#[tool_router(router = wait_router, vis = "pub(crate)")]
impl Toolbox {
    #[tool(
        name = "credential-requests_wait-for-authorization",
        input_schema = schema::input::<WaitArgs>(),
        output_schema = schema::output::<WaitOutput>(),
        title = "Wait for authorization",
        description = "Wait until the person has authorized or declined every credential of a request (polls Make, reports progress). Returns `done`, each credential's state and `remoteId` (the new connection or key id). A timeout is normal (`done: false`): call again, or ask the person whether they need the link again.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn credential_requests_wait_for_authorization(
        &self,
        Parameters(args): Parameters<WaitArgs>,
        turn: Turn,
    ) -> Result<Json<WaitOutput>, ToolError> {
        let secs = args.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECS);
        if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
            return Err(ToolError::invalid(
                "timeoutSeconds",
                format!("must be 1-{MAX_TIMEOUT_SECS} (got {secs})"),
            ));
        }
        let waits = self.waits();
        let Ok(_slot) = waits.slots.try_acquire() else {
            tracing::debug!(max_waits = waits.max, "a wait past the bound was refused");
            return Err(ToolError::TooManyWaits { max: waits.max });
        };
        let progress = Progress::new(&turn);
        let out = wait_for(
            &waits.polls,
            self.make(),
            args.request_id.as_str(),
            Duration::from_secs(secs),
            progress,
        )
        .await?;
        if out.done {
            self.person().links.complete(&out.request.id).await;
        }
        Ok(Json(out))
    }
}

/// Follows the shared poll of request `id` until every credential is settled or `timeout`
/// passes; then answers with the latest detail. A wait that has seen no answer yet at its
/// deadline waits for the poll in flight (bounded by the Make client's timeout): a
/// transient error then ends it as an error, since it never saw the request.
async fn wait_for(
    polls: &Polls,
    make: &MakeClient,
    id: &str,
    timeout: Duration,
    mut progress: Progress,
) -> Result<WaitOutput, ToolError> {
    let deadline = Instant::now() + timeout;
    let mut receiver = polls.subscribe(make, id);
    let mut last: Option<Snapshot> = None;
    loop {
        let seen = receiver.borrow_and_update().clone();
        if let Some(failure) = &seen.failure
            && failure.lasting
        {
            return Err(failure.error.clone().into());
        }
        if let Some(request) = &seen.request {
            let snapshot = Snapshot::of(CredentialRequest::clone(request));
            progress.report(&snapshot).await;
            if snapshot.done() {
                return Ok(snapshot.into_output(false));
            }
            last = Some(snapshot);
        }
        // One clock reading decides whether the deadline passed and what to wait for.
        let now = Instant::now();
        let until = if now >= deadline {
            if let Some(snapshot) = last.take() {
                return Ok(snapshot.into_output(true));
            }
            if let Some(failure) = seen.failure {
                return Err(failure.error.into());
            }
            None
        } else {
            Some(deadline)
        };
        match progress.next(&mut receiver, until, last.as_ref()).await {
            Next::Answer | Next::Deadline => {}
            // The poll ended without a lasting failure being seen (its task stopped): a
            // new subscription starts another.
            Next::Gone => receiver = polls.subscribe(make, id),
        }
    }
}

/// The request at one poll.
struct Snapshot {
    request: CredentialRequest,
    credentials: Vec<CredentialState>,
}

impl Snapshot {
    fn of(mut request: CredentialRequest) -> Self {
        let credentials = request
            .credentials
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(CredentialState::from)
            .collect();
        Self {
            request,
            credentials,
        }
    }

    fn settled(&self) -> usize {
        self.credentials.iter().filter(|c| !c.is_pending()).count()
    }

    fn done(&self) -> bool {
        self.settled() == self.credentials.len()
    }

    /// What changes between polls: the request's status and each credential's state.
    fn fingerprint(&self) -> String {
        let mut f = self.request.status.clone().unwrap_or_default();
        for c in &self.credentials {
            f.push('|');
            f.push_str(&c.state);
        }
        f
    }

    fn summary(&self) -> String {
        let total = self.credentials.len();
        let done = self.settled();
        let mut settled = Vec::new();
        let mut waiting = Vec::new();
        for c in &self.credentials {
            let name = c.kind.as_deref().unwrap_or(&c.id);
            if c.is_pending() {
                waiting.push(name.to_string());
            } else {
                settled.push(format!("{name} {}", c.state));
            }
        }
        let mut text = format!("{done} of {total} done");
        if !settled.is_empty() {
            text.push_str(": ");
            text.push_str(&settled.join(", "));
        }
        if !waiting.is_empty() {
            text.push_str(if settled.is_empty() { ": " } else { "; " });
            text.push_str("waiting for ");
            text.push_str(&waiting.join(", "));
        }
        text
    }

    fn into_output(self, timed_out: bool) -> WaitOutput {
        let done = self.done();
        let summary = self.summary();
        let id = &self.request.id;
        let message = if done {
            format!(
                "The person has acted on every credential of request {id}. Use each authorized credential's remoteId (the new connection or key id); ask the person about declined ones."
            )
        } else {
            format!(
                "Still waiting for the person on request {id}. Call credential-requests_wait-for-authorization again to keep waiting, or ask the person whether they have the link and need more time."
            )
        };
        WaitOutput {
            done,
            timed_out: timed_out && !done,
            request: self.request,
            credentials: self.credentials,
            summary,
            message,
        }
    }
}

impl CredentialState {
    fn is_pending(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "reauthorizing")
    }
}

impl From<Credential> for CredentialState {
    fn from(c: Credential) -> Self {
        Self {
            id: c.id,
            component: c.component,
            kind: c.name,
            state: c.state.unwrap_or_else(|| "pending".to_string()),
            scopes: c.scope,
            remote_id: c.remote_id.filter(|v| !v.is_null()),
            decline_reason: c.decline_reason,
        }
    }
}

/// Progress notifications, when the client sent a progress token.
struct Progress {
    target: Option<(ProgressToken, rmcp::service::Peer<rmcp::RoleServer>)>,
    last_fingerprint: Option<String>,
    last_sent: Instant,
}

impl Progress {
    fn new(turn: &Turn) -> Self {
        Self {
            target: turn
                .ctx
                .meta
                .get_progress_token()
                .map(|token| (token, turn.ctx.peer.clone())),
            last_fingerprint: None,
            last_sent: Instant::now(),
        }
    }

    /// Reports `snapshot` when it differs from the last report.
    async fn report(&mut self, snapshot: &Snapshot) {
        let fingerprint = snapshot.fingerprint();
        if self.last_fingerprint.as_ref() != Some(&fingerprint) {
            self.send(snapshot).await;
            self.last_fingerprint = Some(fingerprint);
        }
    }

    async fn send(&mut self, snapshot: &Snapshot) {
        let Some((token, peer)) = &self.target else {
            return;
        };
        let param = ProgressNotificationParam::new(token.clone(), snapshot.settled() as f64)
            .with_total(snapshot.credentials.len() as f64)
            .with_message(snapshot.summary());
        if let Err(e) = peer.notify_progress(param).await {
            tracing::debug!(error = %crate::logging::quote(&e), "could not send a progress notification");
        }
        self.last_sent = Instant::now();
    }

    /// Waits for the poll's next answer, or for `until` when given, repeating the last
    /// report whenever [`HEARTBEAT`] passes silently.
    async fn next(
        &mut self,
        receiver: &mut watch::Receiver<Seen>,
        until: Option<Instant>,
        last: Option<&Snapshot>,
    ) -> Next {
        loop {
            let beat = self.target.as_ref().map(|_| self.last_sent + HEARTBEAT);
            tokio::select! {
                biased;
                changed = receiver.changed() => {
                    return if changed.is_ok() { Next::Answer } else { Next::Gone };
                }
                () = sleep_until(until) => return Next::Deadline,
                () = sleep_until(beat) => match last {
                    Some(snapshot) => self.send(snapshot).await,
                    None => self.last_sent = Instant::now(),
                },
            }
        }
    }
}

/// What ended a waiter's pause.
enum Next {
    /// The poll published an answer.
    Answer,
    /// The wait's deadline passed.
    Deadline,
    /// The poll is gone.
    Gone,
}

/// Sleeps until `until`, or forever when `None`.
async fn sleep_until(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::poller::{is_throttled, is_transient};
    use super::*;
    use crate::make::{MakeError, jittered};

    fn credential(name: &str, state: &str) -> Credential {
        serde_json::from_value(
            serde_json::json!({"id": format!("c-{name}"), "name": name, "state": state}),
        )
        .unwrap()
    }

    fn snapshot(creds: Vec<Credential>) -> Snapshot {
        let mut request: CredentialRequest =
            serde_json::from_value(serde_json::json!({"id": "r1", "status": "pending"})).unwrap();
        request.credentials = Some(creds);
        Snapshot::of(request)
    }

    #[test]
    fn summary_names_settled_and_waiting_credentials() {
        let s = snapshot(vec![
            credential("google", "authorized"),
            credential("apikeyauth", "pending"),
        ]);
        assert_eq!(
            s.summary(),
            "1 of 2 done: google authorized; waiting for apikeyauth"
        );
        assert!(!s.done());
        let s = snapshot(vec![
            credential("google", "authorized"),
            credential("apikeyauth", "declined"),
        ]);
        assert_eq!(
            s.summary(),
            "2 of 2 done: google authorized, apikeyauth declined"
        );
        assert!(s.done());
        let s = snapshot(vec![credential("google", "pending")]);
        assert_eq!(s.summary(), "0 of 1 done: waiting for google");
    }

    /// A Make whose request detail always answers `status` (with a pending request when
    /// 200). The poller's tests use it too.
    pub(super) async fn make_answering(status: u16) -> wiremock::MockServer {
        use wiremock::{Mock, ResponseTemplate, matchers::any};
        let server = wiremock::MockServer::start().await;
        let body = serde_json::json!({"requestDetail": {"id": "r1", "status": "pending",
            "credentials": [{"id": "c1", "name": "google", "state": "pending"}]}});
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        server
    }

    /// A client of `server` with Make key `key` and no retries, so each poll is one request.
    pub(super) fn client_for(server: &wiremock::MockServer, key: &str) -> MakeClient {
        let settings = crate::make::ClientSettings {
            base_url: Some(format!("{}/api/v2", server.uri()).parse().unwrap()),
            api_key: crate::make::ApiKey::new(key),
            retry: crate::make::RetryPolicy {
                max_retries: 0,
                ..Default::default()
            },
            ..Default::default()
        };
        MakeClient::new(&settings).unwrap()
    }

    pub(super) const KEY: &str = "5c4e2a1b-0d3f-4a6b-8c9d-112233445566";

    fn silent() -> Progress {
        Progress {
            target: None,
            last_fingerprint: None,
            last_sent: Instant::now(),
        }
    }

    #[tokio::test]
    async fn a_deadline_passed_before_any_answer_is_an_error_not_a_panic() {
        let server = make_answering(503).await;
        let make = client_for(&server, KEY);
        let Err(error) = wait_for(&Polls::default(), &make, "r1", Duration::ZERO, silent()).await
        else {
            panic!("a wait that never saw the request has nothing to report");
        };
        assert!(format!("{error:?}").contains("503"), "{error:?}");
    }

    #[tokio::test]
    async fn a_deadline_passed_with_the_request_pending_is_a_timeout() {
        let server = make_answering(200).await;
        let make = client_for(&server, KEY);
        let out = wait_for(&Polls::default(), &make, "r1", Duration::ZERO, silent())
            .await
            .unwrap();
        assert!(out.timed_out && !out.done, "{out:?}");
        assert_eq!(out.summary, "0 of 1 done: waiting for google");
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for _ in 0..200 {
            let d = jittered(Duration::from_secs(5));
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(6),
                "{d:?}"
            );
        }
    }

    #[test]
    fn only_throttling_and_outages_are_transient() {
        let api = |status| {
            MakeError::Api(Box::new(crate::make::ApiError {
                status,
                code: None,
                message: String::new(),
                detail: None,
                suberrors: vec![],
                attempts: 1,
            }))
        };
        assert!(is_transient(&api(429)) && is_throttled(&api(429)));
        assert!(is_transient(&api(503)));
        assert!(!is_transient(&api(404)) && !is_transient(&api(403)));
    }
}
