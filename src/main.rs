//! Entry point: parse the command line, set up logging on stderr, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use make_credentials_mcp::cli::{Cli, Command};
use make_credentials_mcp::make::MakeClient;
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport;

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("make-credentials-mcp: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Refuse unsafe HTTP settings before anything else happens.
    let http_options = match &cli.command {
        Some(Command::Http(args)) => Some(args.options()?),
        _ => None,
    };
    let config = cli.make.config()?;
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
    let server = MakeServer::new(client, config.default_team);
    match cli.command.unwrap_or(Command::Stdio) {
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
async fn call(server: MakeServer, tool: &str, arguments: &str) -> anyhow::Result<ExitCode> {
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

/// Logs go to stderr only: in stdio mode stdout is the protocol.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("make_credentials_mcp=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
