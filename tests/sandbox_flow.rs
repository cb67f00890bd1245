//! The whole credential workflow against the built-in sandbox, through the MCP tools and the
//! sandbox's consent page (plain HTML form posts, as a browser without JavaScript sends them).
#![cfg(feature = "sandbox")]

mod common;

use clap::Parser;
use common::structured;
use make_credentials_mcp::cli::Cli;
use make_credentials_mcp::startup::{self, Purpose, Started};
use make_credentials_mcp::transport::in_process;
use make_sandbox::seed::{CRASHING_CONNECTION_ID, FOREIGN_TEAM, GOOGLE_CONNECTION_ID};
use rmcp::RoleClient;
use rmcp::model::CallToolResult;
use rmcp::service::RunningService;
use serde_json::{Value, json};

const DRIVE: &str = "https://www.googleapis.com/auth/drive.readonly";
const SHEETS: &str = "https://www.googleapis.com/auth/spreadsheets";

struct Flow {
    client: RunningService<RoleClient, ()>,
    origin: String,
    _started: Started,
    browser: reqwest::Client,
}

impl Flow {
    async fn start() -> Self {
        let cli =
            Cli::try_parse_from(["make-credentials-mcp", "--sandbox", "--no-cli-login"]).unwrap();
        let person = cli.person.settings().unwrap();
        let started = startup::start(&cli.make, person, &cli.tools, Purpose::Serve)
            .await
            .unwrap();
        let origin = started.sandbox.as_ref().unwrap().origin();
        let server = started.server.clone();
        let client = in_process::connect(server, ()).await.unwrap();
        Self {
            client,
            origin,
            _started: started,
            browser: make_credentials_mcp::make::client_builder()
                .build()
                .unwrap(),
        }
    }

    async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        common::call(&self.client, tool, args).await
    }

    async fn ok(&self, tool: &str, args: Value) -> Value {
        structured(&self.call(tool, args).await)
    }

    /// Opens the consent page like a browser and returns its HTML.
    async fn open(&self, public_uri: &str) -> String {
        assert!(
            public_uri.starts_with(&self.origin),
            "{public_uri} is served by the sandbox"
        );
        let page = self.browser.get(public_uri).send().await.unwrap();
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    }

    /// Submits a credential's Authorize or Decline form with `fields` (a form post,
    /// answered 303 → page). A key's Authorize form carries the key type's parameters.
    async fn press(
        &self,
        request_id: &str,
        credential_id: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> String {
        let url = format!(
            "{}/credential-requests/{request_id}/credentials/{credential_id}/{action}",
            self.origin
        );
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .browser
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the 303 leads back to the page");
        response.text().await.unwrap()
    }
}

#[tokio::test]
async fn request_authorize_extend_and_delete_through_the_tools_and_the_consent_page() {
    let f = Flow::start().await;

    // 1. Ask for a Google connection with Drive access; no teamId: the sandbox's team 1.
    let created = f
        .ok(
            "credential-requests_create-by-credentials",
            json!({
            "name": "CRM sync", "description": "Drive access for the CRM sync scenario",
            "connections": [{"type": "google", "scope": [DRIVE], "nameOverride": "CRM Google"}]}),
        )
        .await;
    let request_id = created["request"]["id"].as_str().unwrap().to_string();
    let credential_id = created["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let link = created["publicUri"].as_str().unwrap().to_string();

    // 2. The person opens the link and sees what is asked.
    let page = f.open(&link).await;
    assert!(
        page.contains("CRM sync") && page.contains("google") && page.contains(DRIVE),
        "{page}"
    );
    assert!(
        page.contains("<form method=\"post\""),
        "plain forms, no JavaScript needed"
    );

    // 3. They authorize; the request and credential move to authorized and a connection exists.
    f.press(&request_id, &credential_id, "authorize", &[]).await;
    let detail = f
        .ok("credential-requests_get", json!({"requestId": request_id}))
        .await;
    assert_eq!(detail["request"]["status"], "authorized");
    let credential = &detail["request"]["credentials"][0];
    assert_eq!(credential["state"], "authorized");
    let connection_id = credential["remoteId"]
        .as_u64()
        .expect("remoteId is the new connection id");

    let list = f.ok("connections_list", json!({"type": ["google"]})).await;
    let row = list["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == connection_id)
        .expect("listed");
    assert_eq!(row["name"], "CRM Google");
    assert_eq!(row["accountName"], "google");

    // 4. A scenario needs Sheets too: extend; only the missing scope is requested.
    let extend = f
        .ok(
            "credential-requests_extend-connection",
            json!({"connectionId": connection_id, "scopes": [DRIVE, SHEETS]}),
        )
        .await;
    assert_eq!(extend["alreadySatisfied"], false);
    assert_eq!(extend["newScopes"], json!([SHEETS]));
    let extend_id = extend["request"]["id"].as_str().unwrap().to_string();
    let extend_detail = f
        .ok("credential-requests_get", json!({"requestId": extend_id}))
        .await;
    let extend_credential = extend_detail["request"]["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        f.open(extend["publicUri"].as_str().unwrap())
            .await
            .contains(SHEETS)
    );
    f.press(&extend_id, &extend_credential, "authorize", &[])
        .await;

    let connection = f
        .ok("connections_get", json!({"connectionId": connection_id}))
        .await;
    let scopes: Vec<&str> = connection["connection"]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        scopes.contains(&DRIVE) && scopes.contains(&SHEETS),
        "{scopes:?}"
    );

    // 5. Asking again is already satisfied: no request, no call Make would refuse.
    let again = f
        .ok(
            "credential-requests_extend-connection",
            json!({"connectionId": connection_id, "scopes": [SHEETS]}),
        )
        .await;
    assert_eq!(again["alreadySatisfied"], true);

    // 6. Deleting the request deletes the connection it created.
    f.ok(
        "credential-requests_delete",
        json!({"requestId": request_id}),
    )
    .await;
    let gone = f
        .call("connections_get", json!({"connectionId": connection_id}))
        .await;
    assert_eq!(gone.is_error, Some(true));
    let text = gone.content[0].as_text().unwrap().text.clone();
    assert!(text.contains("HTTP 404"), "{text}");
}

#[tokio::test]
async fn a_declined_and_an_authorized_credential_make_a_partially_authorized_request() {
    let f = Flow::start().await;
    let created = f
        .ok("credential-requests_create-by-credentials", json!({
            "connections": [{"type": "slack3"}], "keys": [{"type": "apikeyauth", "nameOverride": "CRM key"}]}))
        .await;
    let request_id = created["request"]["id"].as_str().unwrap().to_string();
    let creds = created["credentials"].as_array().unwrap();
    let slack = creds.iter().find(|c| c["component"] == "account").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = creds.iter().find(|c| c["component"] == "keychain").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The key's secret is typed on the page, never in the chat; placement and name keep
    // the key type's defaults.
    let page = f.open(created["publicUri"].as_str().unwrap()).await;
    assert!(page.contains("type=\"password\"") && page.contains("name=\"placement\""));
    f.press(&request_id, &key, "authorize", &[("key", "crm-secret")])
        .await;
    let page = f
        .press(
            &request_id,
            &slack,
            "decline",
            &[("reason", "we use Teams")],
        )
        .await;
    assert!(page.contains("we use Teams"), "the page shows the reason");

    let detail = f
        .ok("credential-requests_get", json!({"requestId": request_id}))
        .await;
    assert_eq!(detail["request"]["status"], "partially_authorized");
    let key_id = detail["request"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "keychain")
        .unwrap()["remoteId"]
        .as_u64()
        .unwrap();
    let keys = f.ok("keys_list", json!({})).await;
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == key_id && k["name"] == "CRM key")
    );

    // The key's credential can be deleted remotely: the key goes, the credential is pending again.
    let reset = f
        .ok(
            "credential-requests_credential-delete",
            json!({"credentialId": key}),
        )
        .await;
    assert_eq!(reset["credential"]["state"], "pending");
    assert!(f.call("keys_get", json!({"keyId": key_id})).await.is_error == Some(true));
}

#[tokio::test]
async fn the_sandbox_answers_like_make_for_errors_the_tools_surface() {
    let f = Flow::start().await;
    // Another organization's team: 403 with the zone hint.
    let text = f
        .call("keys_list", json!({"teamId": FOREIGN_TEAM}))
        .await
        .content[0]
        .as_text()
        .unwrap()
        .text
        .clone();
    assert!(
        text.contains("HTTP 403") && text.contains("SC403"),
        "{text}"
    );
    // Verify: a broken connection is "not valid", not an error.
    let verify = f
        .ok(
            "connections_verify",
            json!({"connectionId": CRASHING_CONNECTION_ID}),
        )
        .await;
    assert_eq!(verify["verified"], false);
    assert!(verify["reason"].as_str().unwrap().contains("424"));
    // set-data without every editable parameter is refused before Make clears anything.
    let refused = f
        .call(
            "connections_update",
            json!({"connectionId": GOOGLE_CONNECTION_ID, "data": {"clientId": "x"}}),
        )
        .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        refused.content[0]
            .as_text()
            .unwrap()
            .text
            .contains("clientSecret")
    );
}
