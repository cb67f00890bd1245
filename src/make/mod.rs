//! The shared Make API v2 client: its settings (`settings`: key, timeouts, retries) and
//! base URL (`base_url`: zones, API URLs, Make hosts), one pooled HTTP client
//! (`client`), typed errors (`error`) and one file per domain with its models and
//! endpoints.

pub mod apps;
pub mod authorization;
mod base_url;
mod client;
pub mod connections;
pub mod credential_requests;
mod error;
mod http;
pub mod key_types;
pub mod keys;
pub mod opaque;
pub mod redact;
mod request;
mod response;
mod settings;

pub use base_url::{
    API_PATH, UrlError, is_loopback_url, is_make_host, parse_api_url, shown, zone_base_url,
};
pub(crate) use client::jittered;
pub use client::{Deletion, MakeClient};
pub use error::{ApiError, MakeError, Missing, clip};
pub use http::{client_builder, install_crypto_provider};
pub use request::{ApiRequest, Replay};
pub use response::{MAX_RESPONSE_BYTES, MAX_RESPONSE_MIB};
pub use settings::{
    ApiKey, ClientSettings, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECS,
    RetryPolicy,
};
