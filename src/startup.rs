//! Turns the command line into a running [`MakeServer`]: configuration, the shared Make
//! client, and with `--sandbox` the in-process Make API it talks to.

use std::time::Duration;

use crate::cli::{MakeArgs, ToolArgs};
use crate::make::MakeClient;
use crate::make::{ApiKey, parse_api_url};
use crate::person::PersonSettings;
use crate::sandbox::seed::{DEFAULT_TEAM as SANDBOX_TEAM, OWN_TEAMS as SANDBOX_TEAMS};
use crate::sandbox::{DEFAULT_TIMEOUT_HOLD, FaultPlan, KeyScopes, Sandbox, SandboxOptions};
use crate::server::{MakeServer, ServerSettings};

/// A server ready to serve, and the sandbox it depends on (kept alive alongside it).
pub struct Started {
    pub server: MakeServer,
    pub sandbox: Option<Sandbox>,
}

/// What the server is started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// stdio or HTTP: MCP clients connect, and the scope check runs (unless turned off).
    Serve,
    /// `tools` or `call`: one answer on the command line. No scope check: it would cost a
    /// Make request per command, and a call without the scope gets Make's own 403.
    Command,
}

/// Builds the server from `args`; with `--sandbox`, starts the sandbox first and points the
/// client at it, whatever key or zone is configured. Fails on a bad tool selection.
pub async fn start(
    args: &MakeArgs,
    person: PersonSettings,
    tools: &ToolArgs,
    purpose: Purpose,
) -> anyhow::Result<Started> {
    if !args.sandbox && args.sandbox_faults.as_ref().is_some_and(|f| !f.is_empty()) {
        anyhow::bail!(
            "--sandbox-faults (MCP_SANDBOX_FAULTS) only applies with --sandbox or the sandbox subcommand; a real Make API cannot be made to fail"
        );
    }
    if !args.sandbox
        && args
            .sandbox_scopes
            .as_ref()
            .is_some_and(|s| *s != KeyScopes::default())
    {
        anyhow::bail!(
            "--sandbox-scopes (MCP_SANDBOX_SCOPES) only applies with --sandbox or the sandbox subcommand; a real Make key's scopes are set in Make"
        );
    }
    let mut config = if args.sandbox {
        args.sandbox_config()?
    } else {
        args.config()?
    };
    let sandbox = if args.sandbox {
        // A timeout fault must outlast the client's own timeout, or it is only a slow 504.
        let hold = DEFAULT_TIMEOUT_HOLD.max(args.timeout() + Duration::from_secs(10));
        let faults = args
            .sandbox_faults
            .clone()
            .unwrap_or_default()
            .timeout_hold(hold);
        if !faults.is_empty() {
            tracing::warn!(%faults, "the sandbox's API fails on purpose");
        }
        let scopes = args.sandbox_scopes.clone().unwrap_or_default();
        if scopes != KeyScopes::default() {
            tracing::info!(%scopes, "the sandbox's key holds only some scopes");
        }
        let sandbox = Sandbox::start_with(SandboxOptions {
            faults,
            scopes,
            ..SandboxOptions::default()
        })
        .await?;
        config.client.base_url = Some(parse_api_url(&sandbox.api_base_url())?);
        config.client.api_key = ApiKey::new(sandbox.api_key());
        config.default_team = match config.default_team {
            Some(team) if SANDBOX_TEAMS.contains(&team) => Some(team),
            // A real organization's `MAKE_TEAM` means nothing in the sandbox.
            Some(team) => {
                tracing::warn!(
                    team,
                    sandbox_teams = ?SANDBOX_TEAMS,
                    using = SANDBOX_TEAM,
                    "MAKE_TEAM is not a sandbox team; using the sandbox's default team"
                );
                Some(SANDBOX_TEAM)
            }
            None => Some(SANDBOX_TEAM),
        };
        tracing::info!(api = %sandbox.api_base_url(), "using the Make API sandbox: no real Make account is touched");
        Some(sandbox)
    } else {
        None
    };
    let client = MakeClient::new(&config.client)?;
    let selection = tools.selection();
    let settings = ServerSettings {
        default_team: config.default_team,
        person,
        selection: selection.clone(),
    };
    let server = MakeServer::build(client.clone(), settings)?;
    tracing::info!(
        api = client
            .base_url()
            .map(|u| u.as_str())
            .unwrap_or("(no zone configured)"),
        key_configured = client.has_key(),
        default_team = config.default_team,
        toolsets = %selection.toolsets_label(),
        // Known at start only when a selection was checked against the registry.
        tools = server.selected_tool_count(),
        read_only = selection.read_only,
        "make-credentials-mcp starting"
    );
    if purpose == Purpose::Serve {
        server.start_scope_check(!tools.no_scope_check);
    }
    Ok(Started { server, sandbox })
}

/// Runs the sandbox alone until Ctrl-C, printing how to point the server at it.
pub async fn serve_sandbox_only(
    port: u16,
    faults: FaultPlan,
    scopes: KeyScopes,
) -> anyhow::Result<()> {
    if !faults.is_empty() {
        eprintln!("The API fails on purpose: {faults} (each API request independently).");
    }
    if scopes != KeyScopes::default() {
        eprintln!("The key holds only these scopes: {scopes} (other endpoints answer 403).");
    }
    let sandbox = Sandbox::start_with(SandboxOptions {
        port,
        faults,
        scopes,
        ..SandboxOptions::default()
    })
    .await?;
    eprintln!(
        "Make API sandbox running (Ctrl-C to stop). In another terminal:\n\n  export MAKE_API_URL={}\n  export MAKE_API_KEY={}\n  export MAKE_TEAM={SANDBOX_TEAM}\n\nthen e.g. `make-credentials-mcp call connections_list` and open any publicUri in a browser.",
        sandbox.api_base_url(),
        sandbox.api_key()
    );
    tokio::signal::ctrl_c().await?;
    drop(sandbox);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn make_args(args: &[&str]) -> MakeArgs {
        Cli::try_parse_from(args).unwrap().make
    }

    async fn start_command(args: &MakeArgs) -> anyhow::Result<Started> {
        start(
            args,
            PersonSettings::default(),
            &ToolArgs::default(),
            Purpose::Command,
        )
        .await
    }

    #[tokio::test]
    async fn sandbox_faults_need_the_sandbox_and_reach_its_api() {
        let args = make_args(&["m", "--no-cli-login", "--sandbox-faults", "500=1"]);
        let err = start_command(&args)
            .await
            .err()
            .expect("refused without --sandbox");
        assert!(
            err.to_string().contains("only applies with --sandbox"),
            "{err}"
        );

        let args = make_args(&["m", "--sandbox", "--sandbox-faults", "500=1"]);
        let started = start_command(&args).await.unwrap();
        let sandbox = started.sandbox.expect("sandbox running");
        let status = crate::make::client_builder()
            .build()
            .unwrap()
            .get(format!("{}/users/me", sandbox.api_base_url()))
            .header("Authorization", format!("Token {}", sandbox.api_key()))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 500);
    }

    #[tokio::test]
    async fn sandbox_scopes_need_the_sandbox_and_limit_its_key() {
        let args = make_args(&["m", "--no-cli-login", "--sandbox-scopes", "keys:read"]);
        let err = start_command(&args)
            .await
            .err()
            .expect("refused without --sandbox");
        assert!(
            err.to_string()
                .starts_with("--sandbox-scopes (MCP_SANDBOX_SCOPES) only applies with --sandbox"),
            "{err}"
        );

        let args = make_args(&["m", "--sandbox", "--sandbox-scopes", "keys:read"]);
        let started = start_command(&args).await.unwrap();
        let sandbox = started.sandbox.expect("sandbox running");
        let get = |path: &str| {
            crate::make::client_builder()
                .build()
                .unwrap()
                .get(format!("{}{path}", sandbox.api_base_url()))
                .header("Authorization", format!("Token {}", sandbox.api_key()))
                .send()
        };
        let auth: serde_json::Value = get("/users/me/current-authorization")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            auth,
            serde_json::json!({"authorization": {"authUsed": "token", "scope": ["keys:read"]}})
        );
        assert_eq!(get("/keys?teamId=1").await.unwrap().status(), 200);
        let denied = get("/connections?teamId=1").await.unwrap();
        assert_eq!(denied.status(), 403);
        let body: serde_json::Value = denied.json().await.unwrap();
        assert_eq!(body["code"], "SC403");
        assert_eq!(body["message"], "Permission denied");
    }
}
