//! Turns the command line into a running [`MakeServer`]: configuration, the shared Make
//! client, and with `--sandbox` the in-process Make API it talks to.

use crate::cli::MakeArgs;
use crate::config::{ApiKey, parse_api_url};
use crate::make::MakeClient;
use crate::person::PersonSettings;
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::server::MakeServer;

/// The team the sandbox's tools use when a call omits `teamId`.
pub const SANDBOX_TEAM: u64 = 1;

/// The sandbox's own teams; a real organization's `MAKE_TEAM` means nothing there.
const SANDBOX_TEAMS: [u64; 2] = [1, 2];

/// A server ready to serve, and the sandbox it depends on (kept alive alongside it).
pub struct Started {
    pub server: MakeServer,
    pub sandbox: Option<Sandbox>,
}

/// Builds the server from `args`; with `--sandbox`, starts the sandbox first and points the
/// client at it, whatever key or zone is configured.
pub async fn start(args: &MakeArgs, person: PersonSettings) -> anyhow::Result<Started> {
    let mut config = if args.sandbox {
        args.sandbox_config()?
    } else {
        args.config()?
    };
    let sandbox = if args.sandbox {
        let sandbox = Sandbox::start_with(SandboxOptions::default()).await?;
        config.client.base_url = Some(parse_api_url(&sandbox.api_base_url())?);
        config.client.api_key = ApiKey::new(sandbox.api_key());
        config.default_team = match config.default_team {
            Some(team) if SANDBOX_TEAMS.contains(&team) => Some(team),
            Some(team) => {
                tracing::warn!(
                    team,
                    "MAKE_TEAM is not a sandbox team (1 or 2); using team 1"
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
    tracing::info!(
        api = client
            .base_url()
            .map(|u| u.as_str())
            .unwrap_or("(no zone configured)"),
        key_configured = client.has_key(),
        default_team = config.default_team,
        "make-credentials-mcp starting"
    );
    Ok(Started {
        server: MakeServer::with_person(client, config.default_team, person),
        sandbox,
    })
}

/// Runs the sandbox alone until Ctrl-C, printing how to point the server at it.
pub async fn serve_sandbox_only(port: u16) -> anyhow::Result<()> {
    let sandbox = Sandbox::start_with(SandboxOptions {
        port,
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
