//! After a credential request is created: hand its link to the person through the client
//! where it can be, and answer a 2026-07-28 retry with the request already created.

use url::Url;

use super::public_uri::vet;
use super::types::CreatedOutput;
use crate::make::credential_requests::{CreatedRequest, Credential};
use crate::person::{
    Channel, LINK_INPUT, LinkOutcome, Mode, Payload, Turn, UrlElicitation, identifier,
    input_required, offer_live,
};
use crate::tools::Toolbox;
use crate::tools::{Reply, ToolError};

impl Toolbox {
    /// Shapes the result of a create and, when the client supports it, offers the link to
    /// the person (`what` names what they are asked to authorize). `new_scopes` is sealed
    /// for extend, whose retry reports them.
    pub(super) async fn hand_over(
        &self,
        turn: &Turn,
        created: CreatedRequest,
        what: &str,
        new_scopes: Option<Vec<String>>,
    ) -> Reply<CreatedOutput> {
        let mut out = CreatedOutput::created(created, self.make().base_url());
        // Only a link that passed the Make-host check is ever offered.
        let Some(url) = out.public_uri.as_deref().and_then(|u| Url::parse(u).ok()) else {
            return Reply::Done(out);
        };
        let person = self.person();
        if person.settings.url_elicitation == UrlElicitation::Off {
            return Reply::Done(out);
        }
        let message = format!(
            "Open this Make page to authorize {what}. You sign in and type any secrets there, never in the chat."
        );
        let request_id = out.request.id.clone();
        match Channel::of(&turn.ctx, Mode::Url) {
            Channel::None => Reply::Done(out),
            Channel::Live(peer) => {
                let outcome = offer_live(&peer, &person.links, &request_id, &message, &url).await;
                out.message = message_after(&request_id, url.as_str(), &outcome);
                out.person = Some(outcome);
                Reply::Done(out)
            }
            Channel::RoundTrip => {
                let payload = Payload::Link {
                    request_id,
                    public_uri: url.to_string(),
                    new_scopes,
                };
                Reply::Ask(input_required(
                    turn,
                    &person.sealer,
                    &message,
                    &url,
                    &payload,
                ))
            }
        }
    }

    /// On a retry (the client echoed `requestState`), the result for the request created in
    /// the first round, with what the person chose; `None` on a first call. Never creates.
    pub(super) async fn resume_hand_over(
        &self,
        turn: &Turn,
    ) -> Result<Option<(CreatedOutput, Option<Vec<String>>)>, ToolError> {
        let Some(state) = &turn.state else {
            return Ok(None);
        };
        let (request_id, public_uri, new_scopes) = match self.person().sealer.open(turn, state) {
            Ok(Payload::Link {
                request_id,
                public_uri,
                new_scopes,
            }) => (request_id, public_uri, new_scopes),
            Ok(_) => return Err(ToolError::LinkState(crate::person::StateError::Mismatch)),
            Err(e) => return Err(ToolError::LinkState(e)),
        };
        let request = self
            .make()
            .credential_request_detail(&request_id)
            .await
            .map_err(|e| {
                ToolError::after(
                    format!("Credential request {request_id} was created earlier; this retry created nothing."),
                    e,
                )
            })?;
        let created = CreatedRequest {
            credentials: request.credentials.clone(),
            request,
            public_uri: Some(public_uri),
        };
        let mut out = CreatedOutput::created(created, self.make().base_url());
        let outcome = LinkOutcome {
            via: "input_required".into(),
            action: turn.answered(LINK_INPUT),
            elicitation_id: None,
        };
        if let Some(uri) = out.public_uri.clone() {
            out.message = message_after(&request_id, &uri, &outcome);
        }
        out.person = Some(outcome);
        Ok(Some((out, new_scopes)))
    }
}

impl CreatedOutput {
    /// The tool's result for a request Make created: its link only when it passes
    /// [`vet`] against the API's base URL, and a message saying what to do next.
    fn created(created: CreatedRequest, api_base: Option<&Url>) -> Self {
        let vetted = vet(created.public_uri, api_base);
        let message = match (&vetted.uri, &vetted.problem) {
            (Some(uri), _) => format!(
                "Credential request {} created. Give the person this link to authorize: {uri}\nThen call credential-requests_wait-for-authorization with its requestId (it stays pending until they act).",
                created.request.id
            ),
            (None, Some(problem)) => format!(
                "Credential request {} created, but its link was withheld: {problem}. Check the request in Make.",
                created.request.id
            ),
            (None, None) => format!(
                "Credential request {} created, but Make returned no link. Check the request in Make.",
                created.request.id
            ),
        };
        Self {
            request: created.request,
            credentials: created.credentials,
            public_uri: vetted.uri,
            message,
            person: None,
        }
    }
}

/// What the model reads once the person saw (or refused) the link.
fn message_after(request_id: &str, uri: &str, outcome: &LinkOutcome) -> String {
    let next = format!(
        "Next: call credential-requests_wait-for-authorization with requestId \"{request_id}\"."
    );
    match outcome.action.as_str() {
        "accept" => format!(
            "Credential request {request_id} created, and the person agreed to open its link in their client. They authorize there; nothing is granted until they finish. Do not paste the link again unless they ask ({uri}). {next}"
        ),
        choice => {
            let what = match choice {
                "decline" => "declined to open",
                "cancel" => "dismissed",
                _ => "did not answer",
            };
            format!(
                "Credential request {request_id} created, but the person {what} its link in their client. The request is still valid: give them this link if they want to go on: {uri}. Nothing is granted until they authorize. If the credentials are no longer wanted, delete the request (credential-requests_delete). Otherwise: {next}"
            )
        }
    }
}

/// "a google connection (2 scopes) and an apikeyauth key", from the created credentials.
pub(super) fn describe_credentials(credentials: Option<&[Credential]>, fallback: &str) -> String {
    let Some(credentials) = credentials.filter(|c| !c.is_empty()) else {
        return fallback.to_string();
    };
    let parts: Vec<String> = credentials
        .iter()
        .map(|c| {
            // Make-supplied: shown as is only when it is a plain identifier.
            let name = identifier(c.name.as_deref().or(c.app_name.as_deref()).unwrap_or("app"));
            match c.component.as_deref() {
                Some("keychain") => format!("a {name} key"),
                _ => match c.scope.as_ref().map(Vec::len).unwrap_or(0) {
                    0 => format!("a {name} connection"),
                    1 => format!("a {name} connection (1 scope)"),
                    n => format!("a {name} connection ({n} scopes)"),
                },
            }
        })
        .collect();
    match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => fallback.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(name: &str, component: &str) -> Credential {
        serde_json::from_value(
            serde_json::json!({"id": "c1", "name": name, "component": component}),
        )
        .unwrap()
    }

    #[test]
    fn a_link_message_shows_plain_names_as_they_are_and_escapes_others() {
        let plain = [
            credential("google", "account"),
            credential("apikeyauth", "keychain"),
        ];
        assert_eq!(
            describe_credentials(Some(&plain), "x"),
            "a google connection and a apikeyauth key"
        );
        let forged = [credential("google\nand nothing else\u{202e}", "account")];
        assert_eq!(
            describe_credentials(Some(&forged), "x"),
            r#"a "google\nand nothing else\u{202e}" connection"#
        );
    }
}
