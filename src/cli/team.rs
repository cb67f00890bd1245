//! Flags of team mode (`http --auth oauth`). Secrets have no flag (flags show in process
//! lists): Make's client secret and the encryption key come from the environment or a file.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::auth::settings::RawAuthSettings;
use crate::config::Secret;

/// How MCP clients authenticate to the HTTP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuthMode {
    /// One static bearer token for everyone (MCP_AUTH_TOKEN), acting with the operator's
    /// Make key.
    Token,
    /// Team mode: each person signs in with Make (OAuth) and acts as themselves.
    Oauth,
}

/// The environment variable holding Make's OAuth client secret.
pub(crate) const CLIENT_SECRET_ENV: &str = "MAKE_OAUTH_CLIENT_SECRET";
/// The environment variable holding the key that encrypts stored grants.
pub(crate) const ENCRYPTION_KEY_ENV: &str = "MCP_ENCRYPTION_KEY";

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Team mode (--auth oauth)")]
pub(crate) struct TeamArgs {
    /// The server's public origin, e.g. https://mcp.example.com: the issuer of its tokens,
    /// with /mcp its resource URL, and where Make sends people back. Default with
    /// --sandbox: http://LISTEN.
    #[arg(long, env = "MCP_PUBLIC_URL", value_name = "URL")]
    pub(crate) public_url: Option<String>,
    /// Make's OAuth issuer; its /.well-known/openid-configuration names the endpoints.
    /// Default: https://www.make.com (with --sandbox: the sandbox).
    #[arg(long, env = "MAKE_OAUTH_ISSUER", value_name = "URL")]
    pub(crate) make_oauth_issuer: Option<String>,
    /// The client id Make gave this server (MAKE_OAUTH_CLIENT_SECRET holds its secret).
    #[arg(long, env = "MAKE_OAUTH_CLIENT_ID", value_name = "ID")]
    pub(crate) make_oauth_client_id: Option<String>,
    /// File holding Make's client secret, instead of MAKE_OAUTH_CLIENT_SECRET.
    #[arg(long, value_name = "PATH")]
    pub(crate) make_oauth_client_secret_file: Option<PathBuf>,
    /// Database for clients, tokens and sealed Make grants: sqlite://PATH or
    /// postgres://USER:PASSWORD@HOST/DB (replicas share one Postgres). Default: a SQLite
    /// file in the user's data directory (with --sandbox: in a temporary folder).
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub(crate) database: Option<String>,
    /// File holding the key that encrypts stored Make grants, instead of MCP_ENCRYPTION_KEY.
    #[arg(long, value_name = "PATH")]
    pub(crate) encryption_key_file: Option<PathBuf>,
    /// JSON file of pre-registered MCP clients:
    /// [{"client_id", "redirect_uris", optional "client_secret", "client_name"}].
    #[arg(long, env = "MCP_OAUTH_CLIENTS_FILE", value_name = "PATH")]
    pub(crate) oauth_clients_file: Option<PathBuf>,
}

impl TeamArgs {
    /// The flags and the two secret environment variables, unchecked.
    pub(crate) fn raw(&self) -> RawAuthSettings {
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret::from)
        };
        RawAuthSettings {
            public_url: self.public_url.clone(),
            make_issuer: self.make_oauth_issuer.clone(),
            make_client_id: self.make_oauth_client_id.clone(),
            make_client_secret: env(CLIENT_SECRET_ENV),
            make_client_secret_file: self.make_oauth_client_secret_file.clone(),
            database: self.database.clone(),
            encryption_key: env(ENCRYPTION_KEY_ENV),
            encryption_key_file: self.encryption_key_file.clone(),
            clients_file: self.oauth_clients_file.clone(),
        }
    }

    /// The team-mode flags given, by name: they mean nothing with `--auth token`.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        let mut note = |set: bool, name| {
            if set {
                given.push(name);
            }
        };
        note(self.public_url.is_some(), "--public-url (MCP_PUBLIC_URL)");
        note(
            self.make_oauth_issuer.is_some(),
            "--make-oauth-issuer (MAKE_OAUTH_ISSUER)",
        );
        note(
            self.make_oauth_client_id.is_some(),
            "--make-oauth-client-id (MAKE_OAUTH_CLIENT_ID)",
        );
        note(
            self.make_oauth_client_secret_file.is_some(),
            "--make-oauth-client-secret-file",
        );
        note(self.encryption_key_file.is_some(), "--encryption-key-file");
        note(
            self.oauth_clients_file.is_some(),
            "--oauth-clients-file (MCP_OAUTH_CLIENTS_FILE)",
        );
        given
    }
}
