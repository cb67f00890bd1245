//! The shared Make API v2 client: its settings (`settings`: key, timeouts, retries) and
//! base URL (`base_url`: zones, API URLs, Make hosts), one pooled HTTP client
//! (`client`), the per-organization request budget (`budget`), typed errors (`error`) and one file per domain with its models and
//! endpoints.

pub(crate) mod apps;
pub(crate) mod authorization;
mod base_url;
pub mod budget;
mod client;
pub(crate) mod connections;
pub mod credential_requests;
mod error;
mod http;
pub(crate) mod key_types;
pub(crate) mod keys;
pub(crate) mod opaque;
pub(crate) mod organizations;
pub(crate) mod redact;
mod request;
mod response;
mod settings;

pub use base_url::parse_api_url;
pub(crate) use base_url::{UrlError, is_loopback_url, is_make_host, zone_base_url};
pub(crate) use client::jittered;
pub use client::{Deletion, MakeClient};
pub(crate) use error::clip;
pub use error::{ApiError, MakeError, Missing};
pub(crate) use http::outbound_client;
pub use http::{client_builder, install_crypto_provider};
pub use request::{ApiRequest, Replay};
pub use response::MAX_RESPONSE_BYTES;
pub use settings::{ApiKey, ClientSettings, RetryPolicy};
pub(crate) use settings::{DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECS};
