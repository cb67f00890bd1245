//! The pooled HTTP client under [`super::MakeClient`], built on the first Make call rather
//! than at start-up: `tools`, `--version` and the MCP handshake never pay for TLS.
//!
//! TLS is rustls with the ring provider. The system trust store is read once, from the
//! distribution's CA bundle file, instead of the bundle plus every file of `/etc/ssl/certs`
//! (what `rustls-platform-verifier` does on Linux). `SSL_CERT_FILE`/`SSL_CERT_DIR` are
//! honoured as before. A plain-`http` base URL (the sandbox, a loopback test double) loads no
//! certificates at all.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use url::Url;

/// CA bundle files of the common Linux distributions and BSDs, as Go's crypto/x509 lists them.
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Makes ring the process's rustls provider, once. Our own client names its provider, but
/// any other reqwest client in the process (rmcp's HTTP client, a test's) asks rustls for the
/// process default, and there is none when more than one provider is compiled in (as in the
/// test build, where a dev-dependency brings aws-lc). Called by every networking entry
/// point of the library; later calls do nothing.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only when another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client builder for anything besides the Make client (tests, examples, probes):
/// the process's rustls provider is installed first, without which reqwest cannot build.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A client for another endpoint than the Make API (Make's OAuth provider, a client's
/// metadata document), built like the Make client: rustls over ring with the system's
/// roots for `https`, no redirects followed, no proxy for a loopback URL.
pub(crate) fn outbound_client(url: &Url, timeout: Duration) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    build(&Recipe::for_base(Some(url), timeout, timeout))
}

/// What the client is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recipe {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    /// The base URL is loopback: never use a proxy from the environment.
    pub(crate) no_proxy: bool,
    /// The base URL is `https`: load the trust store.
    pub(crate) tls: bool,
}

impl Recipe {
    pub(crate) fn for_base(
        base: Option<&Url>,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Self {
        Self {
            connect_timeout,
            timeout,
            no_proxy: base.is_some_and(super::is_loopback_url),
            // Unknown base (not configured yet): keep TLS ready, calls fail before it is used.
            tls: base.is_none_or(|b| b.scheme() == "https"),
        }
    }
}

/// The client, built once on first use and shared by every clone.
#[derive(Clone)]
pub(super) struct LazyHttp {
    cell: Arc<OnceCell<reqwest::Client>>,
    recipe: Arc<Recipe>,
}

impl LazyHttp {
    pub(crate) fn new(recipe: Recipe) -> Self {
        Self {
            cell: Arc::new(OnceCell::new()),
            recipe: Arc::new(recipe),
        }
    }

    /// This pool when it suits `base` (the same proxy and TLS choices), else a new one
    /// built for `base` with the same timeouts. A pool built for a Make zone must not carry
    /// loopback traffic (it would honour a proxy from the environment), and one built for
    /// plain-`http` loopback has no trust store for a zone.
    pub(crate) fn for_base(&self, base: Option<&Url>) -> Self {
        let recipe = Recipe::for_base(base, self.recipe.connect_timeout, self.recipe.timeout);
        if recipe == *self.recipe {
            self.clone()
        } else {
            Self::new(recipe)
        }
    }

    /// Whether `self` and `other` are one pool.
    #[cfg(test)]
    pub(crate) fn same_pool(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }

    /// The client; the first call builds it on a blocking thread (file reads, parsing).
    pub(crate) async fn get(&self) -> Result<&reqwest::Client, String> {
        self.cell
            .get_or_try_init(|| {
                let recipe = Arc::clone(&self.recipe);
                async move {
                    tokio::task::spawn_blocking(move || build(&recipe))
                        .await
                        .map_err(|e| format!("building the HTTP client failed: {e}"))?
                }
            })
            .await
    }
}

fn build(recipe: &Recipe) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("make-credentials-mcp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(recipe.connect_timeout)
        .timeout(recipe.timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(tls_config(recipe.tls)?);
    if recipe.no_proxy {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| format!("the HTTP client cannot start: {e}"))
}

/// rustls over ring with the system's roots (none for a plain-`http` base).
fn tls_config(load_roots: bool) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if load_roots {
        let (added, _ignored) = roots.add_parsable_certificates(system_roots());
        if added == 0 {
            return Err("no CA certificates found on this system (set SSL_CERT_FILE)".into());
        }
        tracing::debug!(roots = added, "loaded the system's CA certificates");
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The system's CA certificates, read once: `SSL_CERT_FILE` when set (a bundle, as OpenSSL
/// reads it; `SSL_CERT_DIR` is then not read as well), else `SSL_CERT_DIR`, else the first
/// distribution bundle found, else whatever `rustls-native-certs` finds.
fn system_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let file = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let dir_set = std::env::var_os("SSL_CERT_DIR").is_some();
    let bundle = CA_BUNDLES.iter().map(Path::new).find(|p| p.is_file());
    let found = match (&file, dir_set, bundle) {
        (Some(file), _, _) => rustls_native_certs::load_certs_from_paths(Some(file), None),
        (None, false, Some(bundle)) => {
            rustls_native_certs::load_certs_from_paths(Some(bundle), None)
        }
        _ => rustls_native_certs::load_native_certs(),
    };
    for error in &found.errors {
        tracing::warn!(%error, "could not read a CA certificate");
    }
    found.certs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_needs_no_roots() {
        let config = tls_config(false).unwrap();
        assert!(config.alpn_protocols.is_empty());
        let base: Url = "http://127.0.0.1:9/api/v2".parse().unwrap();
        let recipe = Recipe::for_base(Some(&base), Duration::from_secs(1), Duration::from_secs(2));
        assert!(!recipe.tls && recipe.no_proxy);
        let zone: Url = "https://eu1.make.com/api/v2".parse().unwrap();
        let recipe = Recipe::for_base(Some(&zone), Duration::from_secs(1), Duration::from_secs(2));
        assert!(recipe.tls && !recipe.no_proxy);
    }

    #[test]
    fn this_system_has_roots() {
        // CI and every supported system ship a CA bundle; the server needs one for Make.
        assert!(!system_roots().is_empty());
        build(&Recipe::for_base(
            None,
            Duration::from_secs(1),
            Duration::from_secs(2),
        ))
        .unwrap();
    }
}
