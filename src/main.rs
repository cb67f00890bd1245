//! Entry point: parse the command line, set up logging on stderr, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use make_credentials_mcp::auth;
use make_credentials_mcp::cli::audit::{AuditQueryArgs, table};
use make_credentials_mcp::cli::{Cli, Run, Setup};
use make_credentials_mcp::logging;
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::startup::{self, Purpose, Started};
use make_credentials_mcp::store::Store;
use make_credentials_mcp::transport;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbosity());
    let outcome = cli
        .resolve()
        .and_then(|run| runtime()?.block_on(execute(run)));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("make-credentials-mcp: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One thread for every transport: a call spends its time waiting on Make, not on the CPU,
/// so worker threads would add synchronisation and memory without serving calls sooner.
/// Replicas, not threads, scale the HTTP server out (docs/http.md).
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn execute(run: Run) -> anyhow::Result<ExitCode> {
    // `_sandbox` keeps the in-process Make API (`--sandbox`) alive while the server runs.
    let start = |setup: Setup, purpose| async move {
        startup::start(&setup.make, setup.person, &setup.tools, purpose).await
    };
    match run {
        #[cfg(feature = "sandbox")]
        Run::Sandbox {
            port,
            faults,
            scopes,
            oauth_redirect_uris,
            oauth_token_lifetime,
            rate_limit,
            people,
        } => {
            let options = make_sandbox::SandboxOptions {
                port,
                faults,
                scopes,
                oauth_redirect_uris,
                oauth_access_token_lifetime: oauth_token_lifetime,
                rate_limit,
                crowd: people,
                ..make_sandbox::SandboxOptions::default()
            };
            startup::serve_sandbox_only(options).await?
        }
        Run::Stdio(setup) => {
            let Started {
                server,
                sandbox: _sandbox,
            } = start(setup, Purpose::Serve).await?;
            transport::stdio::serve(server).await?
        }
        Run::Http(setup, options, None, audit) => {
            let Started {
                server,
                sandbox: _sandbox,
            } = start(setup, Purpose::Serve).await?;
            startup::token_audit(&server, &audit).await?;
            transport::http::serve(server, *options).await?
        }
        Run::Http(setup, options, Some(team), audit) => {
            let callback = startup::team_callback(&team, &options);
            let started =
                startup::start_team(&setup.make, setup.person, &setup.tools, &callback).await?;
            let auth = startup::team_mode(*team, &options, &started, &audit).await?;
            let Started {
                server,
                sandbox: _sandbox,
            } = started;
            transport::http::serve(server, (*options).with_oauth(auth)).await?
        }
        Run::Audit(args) => return audit(&args).await,
        Run::Tools(setup) => {
            let Started {
                server,
                sandbox: _sandbox,
            } = start(setup, Purpose::Command).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&server.tool_definitions())?
            );
        }
        Run::Call {
            setup,
            tool,
            arguments,
        } => {
            let Started {
                server,
                sandbox: _sandbox,
            } = start(setup, Purpose::Command).await?;
            return call(server, &tool, &arguments).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the structured result (or the text) on stdout; a tool error goes to stderr, exit 1.
/// A hidden or unknown tool is refused before any call (exit 2, through `main`).
async fn call(server: MakeServer, tool: &str, arguments: &str) -> anyhow::Result<ExitCode> {
    transport::in_process::check_callable(&server, tool)?;
    let result = transport::in_process::call(server, tool, arguments).await?;
    let text = || -> String {
        result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if result.is_error == Some(true) {
        eprintln!("{}", text());
        return Ok(ExitCode::from(1));
    }
    match &result.structured_content {
        Some(value) => println!("{}", serde_json::to_string_pretty(value)?),
        None => println!("{}", text()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the audit trail the filters in `args` select: a table, or one JSON object a line.
async fn audit(args: &AuditQueryArgs) -> anyhow::Result<ExitCode> {
    let url = match &args.database {
        Some(url) => url.clone(),
        None => Store::default_sqlite_url()?,
    };
    let store = Store::open(&url).await?;
    let entries = store.audit(&args.filter(auth::now())).await?;
    if args.json {
        for entry in &entries {
            println!("{}", serde_json::to_string(entry)?);
        }
    } else {
        print!("{}", table(&entries));
    }
    Ok(ExitCode::SUCCESS)
}
