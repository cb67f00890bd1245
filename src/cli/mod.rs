//! Command line: subcommands and the configuration flags (each mirrors an environment variable).

pub mod audit;
mod selection;
mod team;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};

#[cfg(feature = "sandbox")]
use make_sandbox::{FaultPlan, KeyScopes};

use crate::auth::settings::RawAuthSettings;
use crate::config::{CliLogin, Config, ConfigError, RawSettings, Secret};
use crate::logging::Verbosity;
use crate::make;
#[cfg(not(feature = "sandbox"))]
use crate::no_sandbox::{FaultPlan, KeyScopes, NO_SANDBOX};
use crate::person::{ConfirmMode, KeyError, PersonSettings, StateKey, UrlElicitation};
use crate::transport::http::{
    self, BearerToken, CheckedOptions, HttpOptions, MetricsExposure, SecurityError,
};
pub(crate) use selection::ToolArgs;
pub(crate) use team::{AuthMode, TeamArgs};

const CONFIGURATION_HELP: &str = "\
Configuration (flags override environment variables):
  MAKE_API_KEY   Make API token (Profile > API access) with the connections, keys and
                 credential-requests scopes. UUID-shaped tokens are sent as `Token`, anything
                 else as an OAuth `Bearer` token.
  MAKE_ZONE      Your organization's zone host, e.g. eu1.make.com, eu2.make.com, us1.make.com,
                 us2.make.com (private instances: their host).
  MAKE_API_URL   Full API base URL instead of MAKE_ZONE; a bare origin such as
                 https://eu1.make.com means its /api/v2 (plain http only on loopback).
  MAKE_TEAM      Default team id, used when a call omits teamId.
  MCP_STATE_KEY  Key that seals 2026-07-28 input-required state (or --state-key-file; no
                 flag, as flags show in process lists): at least 32 bytes, not one byte
                 repeated, and at least 43 characters when all printable (`openssl rand
                 -base64 32`). Replicas share one; without it each process draws its own.
  MCP_CONFIRMATIONS_DIR  See --confirmations-dir: replicas that share a state key share it.
  MCP_URL_ELICITATION, MCP_CONFIRM: see the Person in the loop flags above.
  MCP_TOOLSETS, MCP_TOOLS, MCP_EXCLUDE_TOOLS, MCP_READ_ONLY, MCP_NO_SCOPE_CHECK: see the Tool
                 selection flags above. Unknown names stop the server (exit 2).
When none of MAKE_API_KEY, MAKE_ZONE and MAKE_API_URL is set, the Make CLI's saved login
(key and zone together) is used ($XDG_CONFIG_HOME/make-cli/config.json, else
~/.config/make-cli/config.json).
Without a key the server still starts and lists its tools; calls explain how to configure one.
Logs go to stderr (RUST_LOG=debug for more); stdout carries only the MCP protocol.";

/// MCP server for Make.com credentials: connections, keys and credential requests.
#[derive(Debug, Parser)]
#[command(name = "make-credentials-mcp", version, about, after_help = CONFIGURATION_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub make: MakeArgs,
    #[command(flatten)]
    pub person: PersonArgs,
    #[command(flatten)]
    pub tools: ToolArgs,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

impl Cli {
    /// How much to log: `tools` and `call` print JSON for a shell user, so only warnings.
    pub fn verbosity(&self) -> Verbosity {
        match self.command {
            Some(Command::Tools | Command::Call { .. } | Command::Audit(_)) => Verbosity::Quiet,
            _ => Verbosity::Serving,
        }
    }

    /// Checks the command line once and says what to run: unsafe HTTP settings are refused
    /// first, then the person settings (neither matters to the sandbox alone).
    pub fn resolve(self) -> anyhow::Result<Run> {
        let Cli {
            make,
            person,
            tools,
            command,
        } = self;
        let setup = |make, tools| -> Result<Setup, KeyError> {
            Ok(Setup {
                make,
                person: person.settings()?,
                tools,
            })
        };
        Ok(match command.unwrap_or(Command::Stdio) {
            #[cfg(feature = "sandbox")]
            Command::Sandbox {
                port,
                faults,
                scopes,
                oauth_redirect_uris,
                oauth_token_lifetime,
                rate_limit,
                people,
            } => Run::Sandbox {
                port,
                faults: faults.or(make.sandbox_faults).unwrap_or_default(),
                scopes: scopes.or(make.sandbox_scopes).unwrap_or_default(),
                oauth_redirect_uris,
                oauth_token_lifetime: oauth_token_lifetime.map(Duration::from_secs),
                rate_limit,
                people,
            },
            #[cfg(not(feature = "sandbox"))]
            Command::Sandbox { .. } => anyhow::bail!(NO_SANDBOX),
            Command::Http(args) => {
                let options = args.options()?;
                let team = args.team_settings()?;
                let audit = Box::new(args.audit_settings());
                Run::Http(setup(make, tools)?, Box::new(options), team, audit)
            }
            Command::Audit(args) => Run::Audit(*args),
            Command::Stdio => Run::Stdio(setup(make, tools)?),
            Command::Tools => Run::Tools(setup(make, tools)?),
            Command::Call { tool, arguments } => Run::Call {
                setup: setup(make, tools)?,
                tool,
                arguments,
            },
        })
    }
}

/// What the server is built from: the Make settings, the person settings (checked) and
/// the tool selection.
#[derive(Debug)]
pub struct Setup {
    pub make: MakeArgs,
    pub person: PersonSettings,
    pub tools: ToolArgs,
}

/// A checked command line: what to run, with what.
#[derive(Debug)]
pub enum Run {
    /// The Make API sandbox alone.
    #[cfg(feature = "sandbox")]
    Sandbox {
        port: u16,
        faults: FaultPlan,
        scopes: KeyScopes,
        /// The OAuth client's redirect URIs.
        oauth_redirect_uris: Vec<String>,
        /// The OAuth access-token lifetime; `None`: the sandbox's default.
        oauth_token_lifetime: Option<Duration>,
        /// Make's request limit per organization and minute, when enforced.
        rate_limit: Option<u32>,
        /// Generated people who can sign in besides ada and grace.
        people: u32,
    },
    /// MCP over stdio.
    Stdio(Setup),
    /// MCP over HTTP, with options that passed the security check, and in team mode
    /// (`--auth oauth`) its settings, checked once the sandbox (if any) runs; and how it
    /// keeps its audit trail.
    Http(
        Setup,
        Box<CheckedOptions>,
        Option<Box<RawAuthSettings>>,
        Box<audit::AuditSettings>,
    ),
    /// Print the audit trail.
    Audit(audit::AuditQueryArgs),
    /// Print the tool definitions.
    Tools(Setup),
    /// Run one tool.
    Call {
        setup: Setup,
        tool: String,
        arguments: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve MCP over stdin/stdout (the default).
    Stdio,
    /// Serve MCP over Streamable HTTP at http://LISTEN/mcp (and GET /healthz).
    Http(Box<HttpArgs>),
    /// Print the selected tools' definitions (name, title, description, schemas, hints) as
    /// JSON. The scope check does not run here.
    Tools,
    /// Run one tool through the MCP code path and print its result as JSON.
    /// Exits 1 when the tool reports an error, 2 when the call itself is refused (also for
    /// a tool the selection hides). The scope check does not run here: Make answers 403.
    Call {
        /// Tool name, e.g. connections_list.
        tool: String,
        /// Arguments as a JSON object, e.g. '{"teamId": 1}'.
        #[arg(default_value = "{}")]
        arguments: String,
    },
    /// Print the audit trail from the database (newest first): who changed what in Make
    /// through the HTTP server, with what outcome. Exits 2 on a bad filter.
    Audit(Box<audit::AuditQueryArgs>),
    /// Run only the Make API sandbox on a loopback port, with its consent pages, until
    /// Ctrl-C; point other commands at it with the MAKE_API_URL and MAKE_API_KEY it prints.
    #[cfg(feature = "sandbox")]
    Sandbox {
        /// Loopback port to listen on.
        #[arg(long, default_value_t = make_sandbox::SUBCOMMAND_PORT)]
        port: u16,
        /// Make the API misbehave at random, to test a client's retries: a comma list of
        /// FAULT=PROBABILITY and latency=DURATION, e.g. 429=0.05,500=0.02,latency=200ms.
        /// Faults: 429, 429-retry-after, 500, 502, 503, 504, timeout, drop, truncate,
        /// nonjson, oversize, content-type, redirect. Default: --sandbox-faults.
        #[arg(long, value_name = "LIST", value_parser = parse_fault_plan)]
        faults: Option<FaultPlan>,
        /// Give the sandbox's key only these Make scopes, a comma list such as
        /// connections:read,keys:read; requests outside them get 403 SC403.
        /// Default: --sandbox-scopes, else all.
        #[arg(long, value_name = "LIST", value_parser = parse_key_scopes)]
        scopes: Option<KeyScopes>,
        /// Register this redirect URI (exact match) for the sandbox's OAuth client, e.g.
        /// the team server's callback; repeat for more. Without one, every OAuth
        /// authorize request gets an error page.
        #[arg(long = "oauth-redirect-uri", value_name = "URI", value_parser = parse_redirect_uri)]
        oauth_redirect_uris: Vec<String>,
        /// Lifetime of the sandbox's OAuth access tokens (default 3600, as Make's); a short
        /// one makes a client refresh soon.
        #[arg(long = "oauth-token-lifetime", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        oauth_token_lifetime: Option<u64>,
        /// Enforce Make's request limit: past N API requests per organization in any 60
        /// seconds, answer Make's 429 ("Requests limit for organization exceeded") with
        /// Retry-After. Default: no limit.
        #[arg(long = "rate-limit", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit: Option<u32>,
        /// Let N generated people sign in besides ada and grace, for load tests:
        /// person-1 ... person-N (password sandbox), each alone in a team of their own
        /// (team 100000+n). At most 10000.
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=i64::from(make_sandbox::seed::CROWD_MAX)))]
        people: u32,
    },
    /// A build without the sandbox: refused with a message that says so, whatever follows.
    #[cfg(not(feature = "sandbox"))]
    #[command(hide = true, disable_help_flag = true)]
    Sandbox {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        _ignored: Vec<String>,
    },
}

/// clap's parser for scope lists; its message lists the valid names (exit code 2).
fn parse_key_scopes(text: &str) -> Result<KeyScopes, String> {
    text.parse::<KeyScopes>().map_err(|e| e.to_string())
}

/// clap's parser for fault lists; its message lists the valid names (exit code 2).
/// clap's parser for redirect URIs: an absolute URL, kept as typed (matching is exact).
#[cfg(feature = "sandbox")]
fn parse_redirect_uri(text: &str) -> Result<String, String> {
    url::Url::parse(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("not an absolute URL: {e}"))
}

fn parse_fault_plan(text: &str) -> Result<FaultPlan, String> {
    text.parse::<FaultPlan>().map_err(|e| e.to_string())
}

const HTTP_HELP: &str = "\
Security: Host must be a loopback name (or --allowed-host); a browser Origin other than a
loopback page (or --allowed-origin) gets 403; with a token, requests without
`Authorization: Bearer <token>` get 401. Without a token the server only listens on loopback
and only allows loopback names and origins. The Make key is always the server's own
(MAKE_API_KEY); HTTP clients cannot supply one.
Limits: at --max-connections (or --max-connections-per-client for one address), the
connection idle the longest is closed to make room; when all are busy with requests, new
ones wait (or, past the per-client cap, get 503). An idle connection closes after
--idle-timeout seconds; a request gets --header-timeout seconds for its headers and
--body-timeout seconds for its body. With --sessions, a new session past
--max-sessions gets 503 with Retry-After. At most --max-waits
credential-requests_wait-for-authorization calls run at once (waits on one request share
one poll of Make); one past it is answered at once with an error saying to try again.
Responses (SSE streams too) are never timed out.";

/// Flags of the `http` subcommand.
#[derive(Debug, Clone, Args)]
#[command(after_help = HTTP_HELP)]
pub(crate) struct HttpArgs {
    /// Address to listen on. Anything but loopback requires an auth token.
    #[arg(long, default_value_t = http::DEFAULT_LISTEN)]
    pub(crate) listen: SocketAddr,
    /// Legacy MCP sessions (Mcp-Session-Id, SSE) for 2025-11-25 clients that need
    /// server-to-client requests. Sessions pin a client to one replica. Default: stateless JSON.
    #[arg(long)]
    pub(crate) sessions: bool,
    /// Another accepted Host header (e.g. the reverse proxy's public name, optionally
    /// with :port). Repeatable; loopback names are always accepted.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub(crate) allowed_hosts: Vec<String>,
    /// Another accepted browser Origin, with scheme and port or `:*`
    /// (e.g. https://app.example.com:443). Repeatable; loopback pages are always accepted.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub(crate) allowed_origins: Vec<String>,
    /// Bearer token clients must send. Prefer the environment variable or a file:
    /// flags show in process lists.
    #[arg(long, env = "MCP_AUTH_TOKEN", hide_env_values = true)]
    pub(crate) auth_token: Option<Secret>,
    /// File holding the bearer token (a trailing newline is ignored).
    #[arg(long, value_name = "PATH")]
    pub(crate) auth_token_file: Option<PathBuf>,
    /// How MCP clients authenticate: `token` (one static bearer token, acting with the
    /// operator's Make key) or `oauth` (team mode: each person signs in with Make and acts
    /// as themselves; see docs/team.md).
    #[arg(long, env = "MCP_AUTH", value_enum, default_value_t = AuthMode::Token)]
    pub(crate) auth: AuthMode,
    #[command(flatten)]
    pub(crate) team: TeamArgs,
    #[command(flatten)]
    pub(crate) audit: audit::AuditServeArgs,
    /// Largest accepted request body in bytes (413 above it).
    #[arg(long, default_value_t = http::DEFAULT_MAX_BODY_BYTES)]
    pub(crate) max_body_bytes: usize,
    /// Seconds shutdown waits for in-flight calls before ending them with a
    /// shutting-down error.
    #[arg(long, default_value_t = http::DEFAULT_SHUTDOWN_GRACE.as_secs())]
    pub(crate) shutdown_grace: u64,
    /// Most connections open at once. At the cap, the connection idle (or stuck in its
    /// headers) the longest is closed to make room; when every one is busy with a request,
    /// new ones wait to be accepted. Lowered at start when the open-file limit is smaller.
    #[arg(long, env = "MCP_MAX_CONNECTIONS", default_value_t = http::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub(crate) max_connections: usize,
    /// Most connections open from one client address; past it, that address's longest-idle
    /// connection makes room, or the new one gets 503 when all are busy. Behind a reverse
    /// proxy every client has the proxy's address: raise it to --max-connections there.
    #[arg(long, env = "MCP_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = http::DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub(crate) max_connections_per_client: usize,
    /// With --sessions: most live sessions; a new session past it gets 503 with Retry-After
    /// until one ends (DELETE, or 5 minutes without a message).
    #[arg(long, env = "MCP_MAX_SESSIONS", default_value_t = http::DEFAULT_MAX_SESSIONS,
        value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub(crate) max_sessions: usize,
    /// Seconds a client has to send a request's headers, from their first byte.
    #[arg(long, env = "MCP_HEADER_TIMEOUT", value_name = "SECS",
        default_value_t = http::DEFAULT_HEADER_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) header_timeout: u64,
    /// Seconds a connection stays open without a request (before its first one, and
    /// between one response and the next request).
    #[arg(long, env = "MCP_IDLE_TIMEOUT", value_name = "SECS",
        default_value_t = http::DEFAULT_IDLE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) idle_timeout: u64,
    /// Seconds a client has to send a request body (408 after it).
    #[arg(long, env = "MCP_BODY_TIMEOUT", value_name = "SECS",
        default_value_t = http::DEFAULT_BODY_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) body_timeout: u64,
    /// Serve GET /metrics (Prometheus text format) on this address, a listener of its own
    /// with no auth and nothing else: bind it where only the scraper can reach it. Instead,
    /// set MCP_METRICS_TOKEN (or --metrics-token-file) to serve /metrics on the MCP listener
    /// behind that bearer token. With neither, there is no /metrics.
    #[arg(long, env = "MCP_METRICS_LISTEN", value_name = "ADDR")]
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// File holding the bearer token that GET /metrics on the MCP listener requires (or set
    /// MCP_METRICS_TOKEN; there is no flag for the token itself, as flags show in process
    /// lists). A trailing newline is ignored.
    #[arg(long, value_name = "PATH")]
    pub(crate) metrics_token_file: Option<PathBuf>,
}

/// The environment variable that holds the metrics token.
const METRICS_TOKEN_ENV: &str = "MCP_METRICS_TOKEN";

impl HttpArgs {
    /// Resolves the token source and checks that the listen address and allowed names are
    /// safe without one.
    pub(crate) fn options(&self) -> Result<CheckedOptions, SecurityError> {
        self.options_with(std::env::var_os(METRICS_TOKEN_ENV))
    }

    /// [`Self::options`] with `metrics_env` as the value of `MCP_METRICS_TOKEN` (empty:
    /// unset).
    fn options_with(&self, metrics_env: Option<OsString>) -> Result<CheckedOptions, SecurityError> {
        let metrics = self.metrics(metrics_env)?;
        if self.auth == AuthMode::Oauth {
            return HttpOptions {
                auth_token: None,
                metrics,
                ..self.base_options()
            }
            .check();
        }
        let auth_token = match (&self.auth_token, &self.auth_token_file) {
            (Some(_), Some(_)) => return Err(SecurityError::TwoTokenSources),
            (Some(token), None) => Some(BearerToken::new(token.expose())?),
            (None, Some(path)) => Some(BearerToken::from_file(path)?),
            (None, None) => None,
        };
        HttpOptions {
            auth_token,
            metrics,
            ..self.base_options()
        }
        .check()
    }

    /// Where `/metrics` is served: its own listener, or the MCP listener behind a token
    /// from `MCP_METRICS_TOKEN` (`metrics_env`) or `--metrics-token-file`.
    fn metrics(
        &self,
        metrics_env: Option<OsString>,
    ) -> Result<Option<MetricsExposure>, SecurityError> {
        let env_token = metrics_env.filter(|v| !v.is_empty());
        let token = match (env_token, &self.metrics_token_file) {
            (Some(_), Some(_)) => return Err(SecurityError::TwoMetricsTokenSources),
            (Some(text), None) => Some(BearerToken::new(&text.to_string_lossy())?),
            (None, Some(path)) => Some(BearerToken::from_file(path)?),
            (None, None) => None,
        };
        match (self.metrics_listen, token) {
            (Some(_), Some(_)) => Err(SecurityError::MetricsTwoWays),
            (Some(addr), None) => Ok(Some(MetricsExposure::Listen(addr))),
            (None, Some(token)) => Ok(Some(MetricsExposure::Token(token))),
            (None, None) => Ok(None),
        }
    }

    /// Team mode's settings, unchecked (`None` with `--auth token`); refuses settings of
    /// one mode given in the other.
    pub(crate) fn team_settings(&self) -> anyhow::Result<Option<Box<RawAuthSettings>>> {
        match self.auth {
            AuthMode::Oauth => {
                if self.auth_token.is_some() || self.auth_token_file.is_some() {
                    anyhow::bail!(
                        "MCP_AUTH_TOKEN (--auth-token, --auth-token-file) does not apply with --auth oauth: each person signs in with Make instead; unset it"
                    );
                }
                Ok(Some(Box::new(self.team.raw())))
            }
            AuthMode::Token => {
                let given = self.team.given();
                if !given.is_empty() {
                    anyhow::bail!(
                        "team-mode settings apply only with --auth oauth (MCP_AUTH=oauth): {}",
                        given.join(", ")
                    );
                }
                Ok(None)
            }
        }
    }

    /// How the server keeps its audit trail: in team mode always (in its database), with
    /// `--auth token` only when `--database` (DATABASE_URL) is given.
    pub(crate) fn audit_settings(&self) -> audit::AuditSettings {
        audit::AuditSettings {
            database: match self.auth {
                AuthMode::Token => self.team.database.clone(),
                AuthMode::Oauth => None,
            },
            token_label: self.audit.auth_token_label.clone(),
            retention_days: self.audit.audit_retention_days,
        }
    }

    /// Everything but the token.
    fn base_options(&self) -> HttpOptions {
        HttpOptions {
            listen: self.listen,
            sessions: self.sessions,
            allowed_hosts: self.allowed_hosts.clone(),
            allowed_origins: self.allowed_origins.clone(),
            auth_token: None,
            oauth: None,
            max_body_bytes: self.max_body_bytes,
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            max_connections: self.max_connections,
            max_connections_per_client: self.max_connections_per_client,
            max_sessions: self.max_sessions,
            header_timeout: Duration::from_secs(self.header_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            metrics: None,
        }
    }
}

/// Where and how to reach Make.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Make settings")]
pub struct MakeArgs {
    /// Make zone host, e.g. eu1.make.com.
    #[arg(long, env = "MAKE_ZONE", global = true)]
    pub(crate) zone: Option<String>,
    /// Full Make API base URL (overrides --zone), e.g. https://eu1.make.com/api/v2; a bare
    /// origin (https://eu1.make.com) means its /api/v2.
    #[arg(long, env = "MAKE_API_URL", global = true)]
    pub(crate) api_url: Option<String>,
    /// Make API key. Prefer the environment variable: flags show in process lists.
    #[arg(long, env = "MAKE_API_KEY", hide_env_values = true, global = true)]
    pub(crate) api_key: Option<Secret>,
    /// Default team id for calls that omit teamId.
    #[arg(long, env = "MAKE_TEAM", global = true)]
    pub(crate) team: Option<String>,
    /// Seconds to wait for a Make API response.
    #[arg(long, env = "MAKE_TIMEOUT", default_value_t = make::DEFAULT_TIMEOUT_SECS, global = true)]
    pub(crate) timeout: u64,
    /// Seconds to wait for a connection to Make.
    #[arg(
        long,
        env = "MAKE_CONNECT_TIMEOUT",
        default_value_t = make::DEFAULT_CONNECT_TIMEOUT_SECS,
        global = true
    )]
    pub(crate) connect_timeout: u64,
    /// Retries of a request Make refused with 429 or that failed before reaching it (reads,
    /// renames and deletes also after 502/503/504 or a timeout; creates, set-data and
    /// actions never after those).
    #[arg(long, env = "MAKE_RETRIES", default_value_t = make::DEFAULT_RETRIES, global = true)]
    pub(crate) retries: u32,
    /// Most credential-requests_wait-for-authorization calls in progress at once (per
    /// process); one past it is answered at once with an error saying to try again shortly,
    /// and Make is not contacted. Waits on the same request share one poll of Make.
    #[arg(long, env = "MCP_MAX_WAITS", default_value_t = crate::tools::DEFAULT_MAX_WAITS,
        value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize), global = true)]
    pub(crate) max_waits: usize,
    /// Make API requests a minute per Make organization that this server (all its replicas
    /// together) sends; past a person's fair share or the organization's budget, a call
    /// waits briefly or is answered with when to try again, instead of Make's 429. 0 turns
    /// the limit off. Default in team mode: each organization's plan limit as Make reports
    /// it at sign-in (license.apiLimit), else 60 (Make's smallest plans); off otherwise. A
    /// value set here is kept, unless an organization's plan allows less.
    #[arg(long, env = "MAKE_RATE_LIMIT", value_name = "N", global = true)]
    pub(crate) make_rate_limit: Option<u32>,
    /// Longest wait, in seconds, for a free request slot inside a call before the call is
    /// answered with when to try again instead.
    #[arg(long, env = "MAKE_RATE_LIMIT_WAIT", value_name = "SECS",
        default_value_t = make::budget::DEFAULT_MAX_WAIT.as_secs(), global = true)]
    pub(crate) make_rate_limit_wait: u64,
    /// How many replicas serve behind one address: each keeps its share of every
    /// organization's budget (--make-rate-limit divided by this), without asking the
    /// others. Set it to the replica count.
    #[arg(long, env = "MCP_REPLICAS", value_name = "N", default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub(crate) replicas: u32,
    /// Do not fall back to the Make CLI's saved login.
    #[arg(long, global = true)]
    pub(crate) no_cli_login: bool,
    /// Use a built-in simulation of the Make API on a loopback port instead of Make (no
    /// account needed; state lasts as long as the process). Default team: 1.
    #[arg(long, global = true, hide = cfg!(not(feature = "sandbox")))]
    pub(crate) sandbox: bool,
    /// With --sandbox (or the sandbox subcommand): make the sandbox's API misbehave at
    /// random, e.g. 429=0.05,500=0.02,latency=200ms (see `sandbox --help`).
    #[arg(long, env = "MCP_SANDBOX_FAULTS", value_name = "LIST", value_parser = parse_fault_plan, global = true,
        hide = cfg!(not(feature = "sandbox")))]
    pub(crate) sandbox_faults: Option<FaultPlan>,
    /// With --sandbox (or the sandbox subcommand): give the sandbox's key only these Make
    /// scopes, e.g. connections:read,keys:read (default: all). The scope check then hides
    /// the other tools, and the sandbox answers 403 SC403 outside them, as Make does.
    #[arg(long, env = "MCP_SANDBOX_SCOPES", value_name = "LIST", value_parser = parse_key_scopes, global = true,
        hide = cfg!(not(feature = "sandbox")))]
    pub(crate) sandbox_scopes: Option<KeyScopes>,
}

impl MakeArgs {
    /// Resolves these flags (and the Make CLI login, unless disabled) into a [`Config`].
    pub(crate) fn config(&self) -> Result<Config, ConfigError> {
        let raw = self.raw();
        let needs_login = raw.api_key.is_none() && raw.zone.is_none() && raw.api_url.is_none();
        let login = if needs_login && !self.no_cli_login {
            CliLogin::default_path().and_then(|p| CliLogin::load(&p))
        } else {
            None
        };
        Config::resolve(raw, login)
    }

    /// The configuration for `--sandbox`: timeouts and team only; the real key, zone and
    /// Make CLI login are neither read nor validated (the sandbox supplies its own).
    pub(crate) fn sandbox_config(&self) -> Result<Config, ConfigError> {
        let raw = RawSettings {
            api_url: None,
            zone: None,
            api_key: None,
            ..self.raw()
        };
        Config::resolve(raw, None)
    }

    fn raw(&self) -> RawSettings {
        RawSettings {
            api_url: self.api_url.clone(),
            zone: self.zone.clone(),
            api_key: self.api_key.clone(),
            team: self.team.clone(),
            timeout_secs: Some(self.timeout),
            connect_timeout_secs: Some(self.connect_timeout),
            retries: Some(self.retries),
        }
    }

    /// This replica's Make request budget: in team mode (`team`) by default, otherwise
    /// only with `--make-rate-limit`. `None`: no budget at all. Fails when the limit
    /// cannot be divided among the replicas.
    pub(crate) fn budget_settings(
        &self,
        team: bool,
    ) -> anyhow::Result<Option<make::budget::BudgetSettings>> {
        let limit = match self.make_rate_limit {
            Some(0) if team => None,
            Some(0) => return Ok(None),
            Some(n) => Some(n),
            None if team => Some(make::budget::DEFAULT_PER_MINUTE),
            None => return Ok(None),
        };
        let per_window = match limit {
            Some(n) if n < self.replicas => anyhow::bail!(
                "--make-rate-limit {n} (MAKE_RATE_LIMIT) is less than one request a minute for each of the {} replicas (--replicas): raise it or set 0 to turn the limit off",
                self.replicas
            ),
            Some(n) => Some(n / self.replicas),
            None => None,
        };
        // A limit the operator set stands, unless an organization's plan allows less; the
        // default gives way to each organization's plan.
        let plan_limit = if self.make_rate_limit.is_some() {
            make::budget::PlanLimit::Lowers
        } else {
            make::budget::PlanLimit::Replaces
        };
        Ok(Some(make::budget::BudgetSettings {
            per_window,
            max_wait: Duration::from_secs(self.make_rate_limit_wait),
            hold_back: team,
            plan_limit,
            replicas: self.replicas,
        }))
    }

    /// The configured timeout as a [`Duration`] (the sandbox's timeout faults outlast it).
    #[cfg(feature = "sandbox")]
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

/// How the server reaches the person behind the client.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Person in the loop")]
pub struct PersonArgs {
    /// Hand a new credential request's link to the person through the client (URL
    /// elicitation, or the 2026-07-28 input-required flow) where the client supports it.
    #[arg(long, env = "MCP_URL_ELICITATION", value_enum, default_value_t = UrlElicitation::Auto, global = true)]
    pub(crate) url_elicitation: UrlElicitation,
    /// Ask the person before deletes and before replacing connection data or key
    /// parameters: auto (where the client can be asked), always (refuse where it cannot),
    /// never.
    #[arg(long, env = "MCP_CONFIRM", value_enum, default_value_t = ConfirmMode::Auto, global = true)]
    pub(crate) confirm: ConfirmMode,
    /// File holding the key that seals input-required state (or set MCP_STATE_KEY; there is
    /// no flag for the key itself, as flags show in process lists). Replicas behind a load
    /// balancer need the same key; without one each process draws a random key. The key
    /// must be at least 32 bytes, not one byte repeated, and, when it is all printable
    /// characters, at least 43 of them (`openssl rand -base64 32` makes one). A trailing
    /// newline is ignored.
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) state_key_file: Option<PathBuf>,
    /// Directory where used confirmations are recorded (created when missing), so that a
    /// confirmation goes through once across replicas: replicas that share a state key must
    /// share this directory (a volume every replica mounts). Without it each process
    /// remembers only the confirmations it saw.
    #[arg(
        long,
        env = "MCP_CONFIRMATIONS_DIR",
        value_name = "PATH",
        global = true
    )]
    pub(crate) confirmations_dir: Option<PathBuf>,
}

/// The environment variable that holds the state-sealing key.
const STATE_KEY_ENV: &str = "MCP_STATE_KEY";

impl PersonArgs {
    /// Resolves the flags and `MCP_STATE_KEY`, reading the key file if one is given.
    pub fn settings(&self) -> Result<PersonSettings, KeyError> {
        self.settings_with(std::env::var_os(STATE_KEY_ENV))
    }

    /// [`Self::settings`] with `env_key` as the value of `MCP_STATE_KEY` (empty: unset).
    fn settings_with(&self, env_key: Option<OsString>) -> Result<PersonSettings, KeyError> {
        let env_key = env_key.filter(|v| !v.is_empty());
        let state_key = match (env_key, &self.state_key_file) {
            (Some(_), Some(_)) => return Err(KeyError::TwoSources),
            (Some(text), None) => Some(StateKey::from_bytes(&text.into_encoded_bytes())?),
            (None, Some(path)) => Some(StateKey::from_file(path)?),
            (None, None) => None,
        };
        Ok(PersonSettings {
            url_elicitation: self.url_elicitation,
            confirm: self.confirm,
            state_key,
            confirmations_dir: self.confirmations_dir.clone(),
            ..PersonSettings::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl rand -base64 32`.
    const GOOD_STATE_KEY: &str = "q8Vf1kqH1Jm0xgM4nB0s3yqk3rWl5y9QeZ2tP7oXb1c=";

    #[test]
    fn the_confirmations_dir_reaches_the_person_settings_and_debug() {
        let cli = Cli::try_parse_from(["m", "http", "--confirmations-dir", "/srv/mcp-confirmed"])
            .unwrap();
        let settings = cli.person.settings_with(None).unwrap();
        assert_eq!(
            settings.confirmations_dir.as_deref(),
            Some(std::path::Path::new("/srv/mcp-confirmed"))
        );
        assert!(!settings.replicas_may_replay());
        // The path is not a secret: `Debug` shows it, so an operator can check it.
        assert!(format!("{cli:?}").contains("/srv/mcp-confirmed"));
        let with_key = cli
            .person
            .settings_with(Some(GOOD_STATE_KEY.into()))
            .unwrap();
        assert!(!with_key.replicas_may_replay());
        let alone = Cli::try_parse_from(["m"]).unwrap().person;
        assert!(
            alone
                .settings_with(None)
                .unwrap()
                .confirmations_dir
                .is_none()
        );
        assert!(
            alone
                .settings_with(Some(GOOD_STATE_KEY.into()))
                .unwrap()
                .replicas_may_replay()
        );
    }

    fn http_args(args: &[&str]) -> HttpArgs {
        match Cli::try_parse_from(args).unwrap().command {
            Some(Command::Http(http)) => *http,
            other => panic!("not http: {other:?}"),
        }
    }

    #[test]
    fn metrics_are_served_in_one_place_or_not_at_all() {
        let exposure = |args: &[&str], env: Option<&str>| {
            http_args(args)
                .options_with(env.map(OsString::from))
                .map(|o| o.options().metrics.clone())
        };
        assert!(exposure(&["m", "http"], None).unwrap().is_none());
        assert!(exposure(&["m", "http"], Some("")).unwrap().is_none());
        let listen = ["m", "http", "--metrics-listen", "127.0.0.1:9464"];
        assert!(matches!(
            exposure(&listen, None).unwrap(),
            Some(MetricsExposure::Listen(addr)) if addr.port() == 9464
        ));
        assert!(matches!(
            exposure(&["m", "http"], Some("scrape-token")).unwrap(),
            Some(MetricsExposure::Token(_))
        ));
        assert_eq!(
            exposure(&listen, Some("scrape-token")).unwrap_err(),
            SecurityError::MetricsTwoWays
        );
        let file = TempFile::new("metrics-token", "from-a-file\n");
        let from_file = [
            "m",
            "http",
            "--metrics-token-file",
            file.0.to_str().unwrap(),
        ];
        assert!(matches!(
            exposure(&from_file, None).unwrap(),
            Some(MetricsExposure::Token(token)) if token.matches(b"from-a-file")
        ));
        assert_eq!(
            exposure(&from_file, Some("scrape-token")).unwrap_err(),
            SecurityError::TwoMetricsTokenSources
        );
        // The token itself has no flag: flags show in process lists.
        let err = Cli::try_parse_from(["m", "http", "--metrics-token", "t"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn the_rate_limit_is_on_in_team_mode_and_divided_among_replicas() {
        let budget = |args: &[&str], team| {
            Cli::try_parse_from(args)
                .unwrap()
                .make
                .budget_settings(team)
        };
        let team = budget(&["m", "http"], true).unwrap().unwrap();
        assert_eq!(team.per_window, Some(60));
        assert!(team.hold_back);
        assert_eq!(team.max_wait, Duration::from_secs(5));
        assert_eq!(team.plan_limit, make::budget::PlanLimit::Replaces);
        assert!(budget(&["m", "http"], false).unwrap().is_none());
        let token = budget(&["m", "http", "--make-rate-limit", "120"], false)
            .unwrap()
            .unwrap();
        assert_eq!(token.per_window, Some(120));
        assert!(!token.hold_back);
        let split = budget(
            &["m", "http", "--make-rate-limit", "100", "--replicas", "3"],
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(split.per_window, Some(33));
        assert_eq!(split.replicas, 3);
        assert_eq!(split.plan_limit, make::budget::PlanLimit::Lowers);
        // 0 turns the limit off; team mode still counts requests per organization.
        let off = budget(&["m", "http", "--make-rate-limit", "0"], true)
            .unwrap()
            .unwrap();
        assert_eq!(off.per_window, None);
        assert!(
            budget(&["m", "http", "--make-rate-limit", "0"], false)
                .unwrap()
                .is_none()
        );
        let err = budget(
            &["m", "http", "--make-rate-limit", "2", "--replicas", "3"],
            true,
        )
        .unwrap_err();
        assert!(err.to_string().contains("--replicas"), "{err}");
        assert!(Cli::try_parse_from(["m", "http", "--replicas", "0"]).is_err());
    }

    #[test]
    fn the_state_key_has_no_flag() {
        for args in [
            &["m", "--state-key", GOOD_STATE_KEY][..],
            &["m", "http", "--state-key", GOOD_STATE_KEY],
            &["m", &format!("--state-key={GOOD_STATE_KEY}")],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{args:?}"
            );
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn the_state_key_from_the_environment_is_checked() {
        let person = Cli::try_parse_from(["m"]).unwrap().person;
        let from_env = |key: &str| person.settings_with(Some(key.into()));
        let refused = |key: &str| from_env(key).unwrap_err().to_string();
        assert!(refused(&"k".repeat(40)).contains("one byte repeated"));
        assert!(refused("a password of thirty-two letters").contains("at least 43"));
        assert!(refused("short").contains("at least 32 bytes"));
        assert!(from_env(GOOD_STATE_KEY).unwrap().state_key.is_some());
        assert!(from_env("").unwrap().state_key.is_none());
        assert!(person.settings_with(None).unwrap().state_key.is_none());
    }

    /// A file in the temporary directory holding `text`, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> Self {
            let path = std::env::temp_dir().join(format!("mcm-{name}-{}", std::process::id()));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn the_state_key_comes_from_one_source() {
        let file = TempFile::new("state-key-one-source", GOOD_STATE_KEY);
        let path = file.0.to_str().unwrap();
        let person = Cli::try_parse_from(["m", "--state-key-file", path])
            .unwrap()
            .person;
        assert!(person.settings_with(None).unwrap().state_key.is_some());
        assert!(matches!(
            person.settings_with(Some(GOOD_STATE_KEY.into())),
            Err(KeyError::TwoSources)
        ));
        let weak = TempFile::new("state-key-weak", &"0".repeat(64));
        let person = Cli::try_parse_from(["m", "--state-key-file", weak.0.to_str().unwrap()])
            .unwrap()
            .person;
        let err = person.settings_with(None).unwrap_err().to_string();
        assert!(err.contains("one byte repeated"), "{err}");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        const MAKE_KEY: &str = "0f8e2c1a-1234-4abc-9def-0123456789ab";
        const TOKEN: &str = "bearer-token-7d1e9f";
        let key_file = TempFile::new("state-key-debug", GOOD_STATE_KEY);
        let args = [
            "m",
            "--api-key",
            MAKE_KEY,
            "--zone",
            "eu1.make.com",
            "--state-key-file",
            key_file.0.to_str().unwrap(),
            "http",
            "--auth-token",
            TOKEN,
        ];
        let cli = Cli::try_parse_from(args).unwrap();
        let config = cli.make.config().unwrap();
        assert_eq!(
            config.client.api_key.as_ref().map(|k| k.expose()),
            Some(MAKE_KEY)
        );
        let shown = [
            format!("{cli:?}"),
            format!("{cli:#?}"),
            format!("{:?}", cli.make.raw()),
            format!("{config:?}"),
            format!("{:?}", cli.resolve().unwrap()),
        ];
        for text in &shown {
            for secret in [MAKE_KEY, TOKEN, GOOD_STATE_KEY] {
                assert!(!text.contains(secret), "{secret} shown in {text}");
            }
        }
        assert!(shown[0].contains("[redacted]"), "{}", shown[0]);
    }

    #[test]
    fn the_wait_bound_is_a_positive_number_on_any_subcommand() {
        let make = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.make);
        assert_eq!(
            make(&["m"]).unwrap().max_waits,
            crate::tools::DEFAULT_MAX_WAITS
        );
        assert_eq!(
            make(&["m", "http", "--max-waits", "3"]).unwrap().max_waits,
            3
        );
        assert_eq!(make(&["m", "--max-waits", "7"]).unwrap().max_waits, 7);
        for bad in ["0", "-1", "many"] {
            let err = make(&["m", "http", "--max-waits", bad]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn fault_lists_parse_on_both_flags_and_bad_ones_are_usage_errors() {
        let cli =
            Cli::try_parse_from(["m", "sandbox", "--faults", "429=0.05,latency=200ms"]).unwrap();
        let Some(Command::Sandbox {
            port: make_sandbox::SUBCOMMAND_PORT,
            faults: Some(plan),
            scopes: None,
            ..
        }) = cli.command
        else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(plan.to_string(), "429=0.05,latency=200ms");

        let cli = Cli::try_parse_from(["m", "--sandbox", "--sandbox-faults", "drop=0.1"]).unwrap();
        assert_eq!(cli.make.sandbox_faults.unwrap().to_string(), "drop=0.1");

        for args in [
            ["m", "sandbox", "--faults", "418=1"],
            ["m", "--sandbox", "--sandbox-faults", "418=1"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(
                text.contains("unknown fault '418'; valid names: 429,")
                    && text.contains("redirect"),
                "{text}"
            );
        }
    }

    #[cfg(not(feature = "sandbox"))]
    #[test]
    fn a_build_without_the_sandbox_says_so_for_each_of_its_options() {
        for args in [
            ["m", "--sandbox-faults", "500=1"],
            ["m", "--sandbox-scopes", "keys:read"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(NO_SANDBOX), "{err}");
        }
        for args in [&["m", "sandbox"][..], &["m", "sandbox", "--port", "1"]] {
            let err = Cli::try_parse_from(args).unwrap().resolve().unwrap_err();
            assert_eq!(err.to_string(), NO_SANDBOX);
        }
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn the_sandbox_takes_oauth_redirect_uris_and_a_token_lifetime() {
        let cli = Cli::try_parse_from([
            "m",
            "sandbox",
            "--oauth-redirect-uri",
            "http://127.0.0.1:8080/oauth/callback",
            "--oauth-redirect-uri",
            "http://localhost:8080/cb",
            "--oauth-token-lifetime",
            "5",
        ])
        .unwrap();
        let Run::Sandbox {
            oauth_redirect_uris,
            oauth_token_lifetime,
            ..
        } = cli.resolve().unwrap()
        else {
            panic!("not the sandbox")
        };
        assert_eq!(
            oauth_redirect_uris,
            [
                "http://127.0.0.1:8080/oauth/callback",
                "http://localhost:8080/cb"
            ]
        );
        assert_eq!(oauth_token_lifetime, Some(Duration::from_secs(5)));
        let Run::Sandbox {
            oauth_redirect_uris,
            oauth_token_lifetime: None,
            ..
        } = Cli::try_parse_from(["m", "sandbox"])
            .unwrap()
            .resolve()
            .unwrap()
        else {
            panic!("a default lifetime")
        };
        assert!(oauth_redirect_uris.is_empty());
        for args in [
            ["m", "sandbox", "--oauth-redirect-uri", "/relative/cb"],
            ["m", "sandbox", "--oauth-token-lifetime", "0"],
            ["m", "sandbox", "--oauth-token-lifetime", "soon"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn scope_lists_parse_on_both_flags_and_bad_ones_are_usage_errors() {
        let cli = Cli::try_parse_from(["m", "sandbox", "--scopes", "keys:read"]).unwrap();
        let Some(Command::Sandbox {
            scopes: Some(scopes),
            ..
        }) = cli.command
        else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(scopes.to_string(), "keys:read");
        let cli = Cli::try_parse_from(["m", "--sandbox", "--sandbox-scopes", "apps:read"]).unwrap();
        assert_eq!(cli.make.sandbox_scopes.unwrap().to_string(), "apps:read");
        for args in [
            ["m", "sandbox", "--scopes", "keys:all"],
            ["m", "--sandbox", "--sandbox-scopes", "keys:all"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(
                text.contains("unknown scope 'keys:all'; valid scopes: apps:read,"),
                "{text}"
            );
        }
    }
}
