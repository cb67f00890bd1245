//! Which MCP clients may ask for tokens: pre-registered ones (a JSON file in the
//! configuration), dynamically registered ones ([`super::register`]), and clients whose
//! `client_id` is the https URL of their metadata document (Client ID Metadata Documents),
//! fetched here with a size cap, a time limit, no redirects, and never from a loopback or
//! private address (outside the sandbox), so a client id cannot make the server probe the
//! network it runs in.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::store::{ClientKind, ClientRecord, Store, StoreError};

/// Largest metadata document read.
const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
/// Longest wait for a metadata document.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A fetched metadata document is fetched again after this long.
const DOCUMENT_TTL_SECS: i64 = 24 * 3600;
/// Most redirect URIs a client may register.
pub(crate) const MAX_REDIRECT_URIS: usize = 10;

/// A client from the configuration file (`--oauth-clients-file`): a JSON array.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preregistered {
    pub client_id: String,
    /// A confidential client's secret; without it the client is public (PKCE only).
    #[serde(default)]
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub client_name: Option<String>,
}

impl Preregistered {
    /// Reads and checks the clients file.
    pub(crate) fn load(path: &Path) -> Result<Vec<Self>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the clients file {}: {e}", path.display()))?;
        let clients: Vec<Self> = serde_json::from_str(&text).map_err(|e| {
            format!(
                "the clients file {} is not a JSON array of clients ({{\"client_id\", \"redirect_uris\", optional \"client_secret\" and \"client_name\"}}): {e}",
                path.display()
            )
        })?;
        for client in &clients {
            if client.client_id.trim().is_empty() {
                return Err(format!(
                    "a client in {} has an empty client_id",
                    path.display()
                ));
            }
            check_redirect_uris(&client.redirect_uris)
                .map_err(|e| format!("client {:?} in {}: {e}", client.client_id, path.display()))?;
        }
        Ok(clients)
    }
}

/// Checks redirect URIs as registration accepts them: 1 to [`MAX_REDIRECT_URIS`] absolute
/// URIs without a fragment; `https`, `http` only on loopback (native apps), or a private-use
/// scheme such as `cursor://` (native apps, RFC 8252); never `javascript:`, `data:` or
/// `file:`.
pub(crate) fn check_redirect_uris(uris: &[String]) -> Result<(), String> {
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "redirect_uris must hold 1 to {MAX_REDIRECT_URIS} URIs"
        ));
    }
    for uri in uris {
        let url = Url::parse(uri).map_err(|_| format!("{uri:?} is not an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(format!("{uri:?} has a fragment"));
        }
        match url.scheme() {
            "https" => {}
            "http" if crate::make::is_loopback_url(&url) => {}
            "http" => {
                return Err(format!(
                    "{uri:?} uses plain http on a host other than loopback"
                ));
            }
            "javascript" | "data" | "file" | "vbscript" | "blob" => {
                return Err(format!("{uri:?} has a forbidden scheme"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Finds clients: in the database, or by fetching their metadata document.
#[derive(Clone)]
pub(crate) struct Clients {
    store: Store,
    preregistered: Vec<Preregistered>,
    allow_private: bool,
}

impl Clients {
    pub(crate) fn new(
        store: Store,
        preregistered: Vec<Preregistered>,
        allow_private: bool,
    ) -> Result<Self, String> {
        Ok(Self {
            store,
            preregistered,
            allow_private,
        })
    }

    /// Writes the configured clients to the database.
    pub(crate) async fn store_preregistered(&self) -> Result<(), StoreError> {
        for client in &self.preregistered {
            self.store
                .put_client(&ClientRecord {
                    client_id: client.client_id.clone(),
                    secret_hash: client.client_secret.as_deref().map(super::secrets::hash),
                    redirect_uris: client.redirect_uris.clone(),
                    name: client.client_name.clone(),
                    kind: ClientKind::Preregistered,
                    metadata: serde_json::Value::Null,
                    created_at: super::now(),
                })
                .await?;
        }
        Ok(())
    }

    /// The client called `client_id`: registered, or (for an https `client_id`) described by
    /// its metadata document. `Err` carries a sentence for the error page.
    pub(crate) async fn find(&self, client_id: &str) -> Result<ClientRecord, String> {
        let known = self
            .store
            .client(client_id)
            .await
            .map_err(|e| format!("the client registry is unavailable: {e}"))?;
        let is_document = client_id.starts_with("https://")
            || (self.allow_private && client_id.starts_with("http://"));
        match known {
            Some(client)
                if client.kind != ClientKind::MetadataDocument
                    || super::now() - client.created_at < DOCUMENT_TTL_SECS =>
            {
                Ok(client)
            }
            _ if is_document => {
                let client = self.fetch_document(client_id).await?;
                self.store
                    .put_client(&client)
                    .await
                    .map_err(|e| format!("the client registry is unavailable: {e}"))?;
                Ok(client)
            }
            _ => Err("This application is not registered with this server. Ask its maker to support dynamic client registration or a client metadata document, or ask the server's operator to register it.".into()),
        }
    }

    /// Fetches and checks a Client ID Metadata Document.
    async fn fetch_document(&self, client_id: &str) -> Result<ClientRecord, String> {
        let url = Url::parse(client_id).map_err(|_| "the client_id is not a URL".to_string())?;
        let host = url
            .host_str()
            .ok_or("the client_id URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve the client's host {host}: {e}"))?
            .collect();
        let Some(first) = addrs.first().copied() else {
            return Err(format!("the client's host {host} has no address"));
        };
        if !self.allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(format!(
                "the client's metadata document is on a private or loopback address ({host}); it must be on the public internet"
            ));
        }
        // Pinned to the address just checked, so a second DNS answer cannot point elsewhere.
        let http = crate::make::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .resolve(&host, first)
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot fetch the client's metadata document: {e}"))?;
        let mut response = http
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot fetch the client's metadata document: {}",
                    e.without_url()
                )
            })?;
        if !response.status().is_success() {
            return Err(format!(
                "the client's metadata document answered {}",
                response.status()
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            format!(
                "cannot read the client's metadata document: {}",
                e.without_url()
            )
        })? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "the client's metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
        }
        #[derive(Deserialize)]
        struct Document {
            client_id: String,
            redirect_uris: Vec<String>,
            #[serde(default)]
            client_name: Option<String>,
            #[serde(default)]
            token_endpoint_auth_method: Option<String>,
        }
        let document: Document = serde_json::from_slice(&body)
            .map_err(|e| format!("the client's metadata document is not valid: {e}"))?;
        if document.client_id != client_id {
            return Err("the client's metadata document names another client_id".into());
        }
        if document
            .token_endpoint_auth_method
            .as_deref()
            .is_some_and(|m| m != "none")
        {
            return Err("a client metadata document may only describe a public client (token_endpoint_auth_method none)".into());
        }
        check_redirect_uris(&document.redirect_uris)?;
        let metadata: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        Ok(ClientRecord {
            client_id: client_id.to_string(),
            secret_hash: None,
            redirect_uris: document.redirect_uris,
            name: document.client_name.map(|n| crate::make::clip(&n, 100)),
            kind: ClientKind::MetadataDocument,
            metadata,
            created_at: super::now(),
        })
    }
}

/// True for an address on the public internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64/10 (CGNAT)
                || v4.octets()[0] >= 224)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first & 0xff00) == 0xff00) // multicast
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_fetched() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn redirect_uris_are_checked() {
        let ok =
            |u: &[&str]| check_redirect_uris(&u.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(ok(&["https://app.example.com/cb"]).is_ok());
        assert!(ok(&["http://127.0.0.1:33418/callback"]).is_ok());
        assert!(ok(&["cursor://anysphere.cursor-mcp/oauth/callback"]).is_ok());
        assert!(ok(&[]).is_err());
        assert!(ok(&["http://app.example.com/cb"]).is_err());
        assert!(ok(&["javascript:alert(1)"]).is_err());
        assert!(ok(&["https://app.example.com/cb#x"]).is_err());
        assert!(ok(&["/relative"]).is_err());
    }
}
