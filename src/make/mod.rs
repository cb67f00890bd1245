//! The shared Make API v2 client: one pooled HTTP client ([`client`]), typed errors
//! ([`error`]) and one file per domain with its models and endpoints.

pub mod apps;
pub mod authorization;
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

pub(crate) use client::jittered;
pub use client::{
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECS, Deletion, MakeClient,
    RetryPolicy,
};
pub use error::{ApiError, MakeError, Missing, clip};
pub use http::{client_builder, install_crypto_provider};
pub use request::{ApiRequest, Replay};
pub use response::{MAX_RESPONSE_BYTES, MAX_RESPONSE_MIB};
