//! Command line: subcommands and the configuration flags (each mirrors an environment variable).

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{CliLogin, Config, ConfigError, RawSettings};

const CONFIGURATION_HELP: &str = "\
Configuration (flags override environment variables):
  MAKE_API_KEY   Make API token (Profile > API access) with the connections, keys and
                 credential-requests scopes. UUID-shaped tokens are sent as `Token`, anything
                 else as an OAuth `Bearer` token.
  MAKE_ZONE      Your organization's zone host, e.g. eu1.make.com, eu2.make.com, us1.make.com,
                 us2.make.com (private instances: their host).
  MAKE_API_URL   Full API base URL instead of MAKE_ZONE (plain http only on loopback).
  MAKE_TEAM      Default team id, used when a call omits teamId.
When MAKE_API_KEY or MAKE_ZONE is not set, the Make CLI's saved login is used
($XDG_CONFIG_HOME/make-cli/config.json, else ~/.config/make-cli/config.json).
Without a key the server still starts and lists its tools; calls explain how to configure one.
Logs go to stderr (RUST_LOG=debug for more); stdout carries only the MCP protocol.";

/// MCP server for Make.com credentials: connections, keys and credential requests.
#[derive(Debug, Parser)]
#[command(name = "make-credentials-mcp", version, about, after_help = CONFIGURATION_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub make: MakeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdin/stdout (the default).
    Stdio,
    /// Print every tool definition (name, title, description, schemas, hints) as JSON.
    Tools,
    /// Run one tool through the MCP code path and print its result as JSON.
    /// Exits 1 when the tool reports an error, 2 when the call itself is refused.
    Call {
        /// Tool name, e.g. connections_list.
        tool: String,
        /// Arguments as a JSON object, e.g. '{"teamId": 1}'.
        #[arg(default_value = "{}")]
        arguments: String,
    },
    /// Run only the Make API sandbox on a loopback port, with its consent pages, until
    /// Ctrl-C; point other commands at it with the MAKE_API_URL and MAKE_API_KEY it prints.
    Sandbox {
        /// Loopback port to listen on.
        #[arg(long, default_value_t = 3902)]
        port: u16,
    },
}

/// Where and how to reach Make.
#[derive(Debug, Clone, Args)]
pub struct MakeArgs {
    /// Make zone host, e.g. eu1.make.com.
    #[arg(long, env = "MAKE_ZONE", global = true)]
    pub zone: Option<String>,
    /// Full Make API base URL (overrides --zone), e.g. https://eu1.make.com/api/v2.
    #[arg(long, env = "MAKE_API_URL", global = true)]
    pub api_url: Option<String>,
    /// Make API key. Prefer the environment variable: flags show in process lists.
    #[arg(long, env = "MAKE_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Default team id for calls that omit teamId.
    #[arg(long, env = "MAKE_TEAM", global = true)]
    pub team: Option<String>,
    /// Seconds to wait for a Make API response.
    #[arg(long, env = "MAKE_TIMEOUT", default_value_t = 40, global = true)]
    pub timeout: u64,
    /// Seconds to wait for a connection to Make.
    #[arg(
        long,
        env = "MAKE_CONNECT_TIMEOUT",
        default_value_t = 10,
        global = true
    )]
    pub connect_timeout: u64,
    /// Retries of a request Make refused with 429 or that failed before reaching it
    /// (reads also after 502/503/504 or a timeout; creates never after those).
    #[arg(long, env = "MAKE_RETRIES", default_value_t = 2, global = true)]
    pub retries: u32,
    /// Do not fall back to the Make CLI's saved login.
    #[arg(long, global = true)]
    pub no_cli_login: bool,
    /// Use a built-in simulation of the Make API on a loopback port instead of Make (no
    /// account needed; state lasts as long as the process). Default team: 1.
    #[arg(long, global = true)]
    pub sandbox: bool,
}

impl MakeArgs {
    /// Resolves these flags (and the Make CLI login, unless disabled) into a [`Config`].
    pub fn config(&self) -> Result<Config, ConfigError> {
        let raw = RawSettings {
            api_url: self.api_url.clone(),
            zone: self.zone.clone(),
            api_key: self.api_key.clone(),
            team: self.team.clone(),
            timeout_secs: Some(self.timeout),
            connect_timeout_secs: Some(self.connect_timeout),
            retries: Some(self.retries),
        };
        let needs_login = raw.api_key.is_none() || (raw.zone.is_none() && raw.api_url.is_none());
        let login = if needs_login && !self.no_cli_login {
            CliLogin::default_path().and_then(|p| CliLogin::load(&p))
        } else {
            None
        };
        Config::resolve(raw, login)
    }

    /// The configured timeout as a [`Duration`].
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}
