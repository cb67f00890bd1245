//! Entry point: parse the command line, set up logging on stderr, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use make_credentials_mcp::cli::{Cli, Command};
use make_credentials_mcp::logging::{self, Verbosity};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::startup::{self, Purpose, Started};
use make_credentials_mcp::transport;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // `tools` and `call` print JSON for a shell user: only warnings by default.
    logging::init(match cli.command {
        Some(Command::Tools | Command::Call { .. }) => Verbosity::Quiet,
        _ => Verbosity::Serving,
    });
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("make-credentials-mcp: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Stdio);
    if let Command::Sandbox {
        port,
        faults,
        scopes,
    } = command
    {
        let faults = faults.or(cli.make.sandbox_faults).unwrap_or_default();
        let scopes = scopes.or(cli.make.sandbox_scopes).unwrap_or_default();
        startup::serve_sandbox_only(port, faults, scopes).await?;
        return Ok(ExitCode::SUCCESS);
    }
    // Refuse unsafe HTTP settings before anything else happens.
    let http_options = match &command {
        Command::Http(args) => Some(args.options()?),
        _ => None,
    };
    let person = cli.person.settings()?;
    let purpose = match command {
        Command::Stdio | Command::Http(_) => Purpose::Serve,
        _ => Purpose::Command,
    };
    // `_sandbox` keeps the in-process Make API alive while the server runs.
    let Started {
        server,
        sandbox: _sandbox,
    } = startup::start(&cli.make, person, &cli.tools, purpose).await?;
    match command {
        Command::Sandbox { .. } => unreachable!("handled above"),
        Command::Stdio => transport::stdio::serve(server).await?,
        Command::Http(_) => {
            let options = http_options.expect("resolved above for the http command");
            transport::http::serve(server, options).await?
        }
        Command::Tools => {
            println!(
                "{}",
                serde_json::to_string_pretty(&server.tool_definitions())?
            );
        }
        Command::Call { tool, arguments } => return call(server, &tool, &arguments).await,
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
