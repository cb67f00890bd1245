//! Turns the command line into a running [`MakeServer`]: configuration, the shared Make
//! client, and with `--sandbox` the in-process Make API it talks to.

#[cfg(feature = "sandbox")]
use std::time::Duration;

#[cfg(feature = "sandbox")]
use make_sandbox::seed::{DEFAULT_TEAM as SANDBOX_TEAM, OWN_TEAMS as SANDBOX_TEAMS};
#[cfg(feature = "sandbox")]
use make_sandbox::{DEFAULT_TIMEOUT_HOLD, KeyScopes, Sandbox, SandboxOptions};

use crate::auth::AuthServer;
#[cfg(feature = "sandbox")]
use crate::auth::settings::SandboxDefaults;
use crate::auth::settings::{RawAuthSettings, Surroundings};
use crate::cli::audit::AuditSettings;
use crate::cli::{MakeArgs, ToolArgs};
use crate::config::Config;
use crate::make::MakeClient;
use crate::make::budget::{Budget, Organization, Spender};
#[cfg(feature = "sandbox")]
use crate::make::{ApiKey, parse_api_url};
#[cfg(not(feature = "sandbox"))]
use crate::no_sandbox::{NO_SANDBOX, Sandbox};
use crate::person::PersonSettings;
use crate::server::{Auditor, MakeServer, ServerSettings};
use crate::store::Store;
use crate::transport::http::CheckedOptions;

/// A server ready to serve, and the sandbox it depends on with `--sandbox` (kept alive
/// alongside it; always `None` in a build without the sandbox).
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
    build(args, person, tools, purpose, None).await
}

/// Builds the server for team mode (`http --auth oauth`): no operator key (each call
/// carries its person's credentials) and no operator scope check (each person's grant
/// decides what they see). With `--sandbox`, the sandbox's OAuth provider accepts
/// `callback` (`{public URL}/oauth/callback`) as its client's redirect URI.
pub async fn start_team(
    args: &MakeArgs,
    person: PersonSettings,
    tools: &ToolArgs,
    callback: &str,
) -> anyhow::Result<Started> {
    build(args, person, tools, Purpose::Serve, Some(callback)).await
}

async fn build(
    args: &MakeArgs,
    person: PersonSettings,
    tools: &ToolArgs,
    purpose: Purpose,
    team_callback: Option<&str>,
) -> anyhow::Result<Started> {
    let mut config = if args.sandbox {
        args.sandbox_config()?
    } else {
        args.config()?
    };
    let sandbox = start_sandbox(args, &mut config, team_callback).await?;
    if team_callback.is_some() {
        if config.client.api_key.is_some() && !args.sandbox {
            tracing::warn!(
                "MAKE_API_KEY is ignored with --auth oauth: each person acts with their own Make sign-in"
            );
        }
        config.client.api_key = None;
    }
    let mut client = MakeClient::new(&config.client)?;
    let team = team_callback.is_some();
    if let Some(budget) = args.budget_settings(team)? {
        tracing::info!(
            per_minute_per_organization = ?budget.per_window,
            replicas = args.replicas,
            max_wait_secs = budget.max_wait.as_secs(),
            "make request budget"
        );
        client = client.with_budget(Budget::new(budget));
        if !team {
            // One key, one person: the operator's requests share one budget.
            client = client.spending_as(Spender {
                organization: Organization::Unknown,
                person: "operator".into(),
                plan_limit: None,
            });
        }
    }
    let selection = tools.selection();
    let replicas_may_replay = person.replicas_may_replay();
    let settings = ServerSettings {
        default_team: config.default_team,
        person,
        selection: selection.clone(),
        max_waits: args.max_waits,
        metrics: crate::metrics::Metrics::new(),
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
        if replicas_may_replay {
            tracing::warn!(
                "a request-state key is set (replicas share it) but no --confirmations-dir (MCP_CONFIRMATIONS_DIR): replicas must share one confirmations directory, or a replayed confirmation can be used once per replica"
            );
        }
        if team_callback.is_none() {
            server.start_scope_check(!tools.no_scope_check);
        }
    }
    Ok(Started { server, sandbox })
}

/// With `--sandbox`: starts the sandbox and points `config` at it, whatever key, zone or team
/// is configured. Without it: refuses the sandbox's own options, which a real Make API
/// cannot honour.
#[cfg(feature = "sandbox")]
async fn start_sandbox(
    args: &MakeArgs,
    config: &mut Config,
    team_callback: Option<&str>,
) -> anyhow::Result<Option<Sandbox>> {
    if !args.sandbox {
        if args.sandbox_faults.as_ref().is_some_and(|f| !f.is_empty()) {
            anyhow::bail!(
                "--sandbox-faults (MCP_SANDBOX_FAULTS) only applies with --sandbox or the sandbox subcommand; a real Make API cannot be made to fail"
            );
        }
        if args
            .sandbox_scopes
            .as_ref()
            .is_some_and(|s| *s != KeyScopes::default())
        {
            anyhow::bail!(
                "--sandbox-scopes (MCP_SANDBOX_SCOPES) only applies with --sandbox or the sandbox subcommand; a real Make key's scopes are set in Make"
            );
        }
        return Ok(None);
    }
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
        oauth_redirect_uris: team_callback.map(String::from).into_iter().collect(),
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
    Ok(Some(sandbox))
}

/// A build without the sandbox refuses `--sandbox`. Its other options cannot be given: no
/// value parses.
#[cfg(not(feature = "sandbox"))]
async fn start_sandbox(
    args: &MakeArgs,
    _config: &mut Config,
    _team_callback: Option<&str>,
) -> anyhow::Result<Option<Sandbox>> {
    if args.sandbox {
        anyhow::bail!(NO_SANDBOX);
    }
    Ok(None)
}

/// Team mode's checked settings and authorization server, for a server built by
/// [`start_team`]: with `--sandbox`, the sandbox is Make's OAuth provider. Every problem
/// with the settings is one line of the error.
pub async fn team_mode(
    raw: RawAuthSettings,
    options: &CheckedOptions,
    started: &Started,
    audit: &AuditSettings,
) -> anyhow::Result<AuthServer> {
    let http = options.options();
    #[cfg(feature = "sandbox")]
    let sandbox = started.sandbox.as_ref().map(|s| SandboxDefaults {
        issuer: s
            .oauth_issuer()
            .parse()
            .expect("the sandbox's issuer is a URL"),
        client_id: s.oauth_client_id().to_string(),
        client_secret: crate::config::Secret::from(s.oauth_client_secret().to_string()),
    });
    #[cfg(not(feature = "sandbox"))]
    let sandbox = None;
    let make = started.server.make_client().clone();
    let settings = raw
        .resolve(Surroundings {
            listen: http.listen,
            allowed_hosts: &http.allowed_hosts,
            api_base: make.base_url().cloned(),
            sandbox,
        })
        .await?;
    let auth = AuthServer::new(settings, make)?;
    auth.register_preconfigured().await?;
    auth.start_pruning(audit.retention_secs());
    // The person is always a signed-in one here: the token label is never used.
    started
        .server
        .audit_to(Auditor::new(auth.store().clone(), &audit.token_label));
    tracing::info!(
        issuer = auth.issuer(),
        resource = auth.resource(),
        "team mode: people sign in with Make"
    );
    Ok(auth)
}

/// With `--auth token` and `--database`: audits calls that change Make to that database, as
/// the token's label, and prunes rows past the retention. Without a database: nothing.
pub async fn token_audit(server: &MakeServer, audit: &AuditSettings) -> anyhow::Result<()> {
    let Some(url) = &audit.database else {
        return Ok(());
    };
    let store = Store::open(url).await?;
    server.audit_to(Auditor::new(store.clone(), &audit.token_label));
    crate::auth::start_audit_pruning(store, audit.retention_secs());
    tracing::info!(person = %audit.token_label, retention_days = audit.retention_days, "audit trail: calls that change Make are recorded");
    Ok(())
}

/// Where Make sends people back in team mode: the public URL (default with `--sandbox`:
/// the listen address) plus `/oauth/callback`.
pub fn team_callback(raw: &RawAuthSettings, options: &CheckedOptions) -> String {
    let origin = raw
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", options.options().listen));
    format!("{}/oauth/callback", origin.trim_end_matches('/'))
}

/// Runs the sandbox alone until Ctrl-C, printing how to point the server at it: the API
/// URL and key, and the OAuth issuer and client for team mode.
#[cfg(feature = "sandbox")]
pub async fn serve_sandbox_only(options: SandboxOptions) -> anyhow::Result<()> {
    if !options.faults.is_empty() {
        eprintln!(
            "The API fails on purpose: {} (each API request independently).",
            options.faults
        );
    }
    if options.scopes != KeyScopes::default() {
        eprintln!(
            "The key holds only these scopes: {} (other endpoints answer 403).",
            options.scopes
        );
    }
    if let Some(limit) = options.rate_limit {
        eprintln!(
            "Make's request limit is enforced: {limit} API requests per organization a minute, then 429."
        );
    }
    let redirect_uris = options.oauth_redirect_uris.clone();
    let sandbox = Sandbox::start_with(options).await?;
    eprintln!(
        "Make API sandbox running (Ctrl-C to stop). In another terminal:\n\n  export MAKE_API_URL={}\n  export MAKE_API_KEY={}\n  export MAKE_TEAM={SANDBOX_TEAM}\n\nthen e.g. `make-credentials-mcp call connections_list` and open any publicUri in a browser.",
        sandbox.api_base_url(),
        sandbox.api_key()
    );
    let registered = if redirect_uris.is_empty() {
        "none (add --oauth-redirect-uri URI)".to_owned()
    } else {
        redirect_uris.join(" ")
    };
    let people: Vec<&str> = make_sandbox::seed::PEOPLE
        .iter()
        .map(|p| p.username)
        .collect();
    eprintln!(
        "\nOAuth, for team mode (`http --auth oauth`; sign in as {}, password {}; redirect URIs: {registered}):\n\n  export MAKE_OAUTH_ISSUER={}\n  export MAKE_OAUTH_CLIENT_ID={}\n  export MAKE_OAUTH_CLIENT_SECRET={}",
        people.join(" or "),
        make_sandbox::seed::PEOPLE_PASSWORD,
        sandbox.oauth_issuer(),
        sandbox.oauth_client_id(),
        sandbox.oauth_client_secret()
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

    #[cfg(not(feature = "sandbox"))]
    #[tokio::test]
    async fn a_build_without_the_sandbox_refuses_it() {
        let args = make_args(&["m", "--no-cli-login", "--sandbox"]);
        let err = start_command(&args)
            .await
            .err()
            .expect("refused without the sandbox feature");
        assert_eq!(err.to_string(), NO_SANDBOX);
    }

    #[cfg(feature = "sandbox")]
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

    #[cfg(feature = "sandbox")]
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
