//! The shared Make API v2 client: one pooled HTTP client ([`client`]), typed errors
//! ([`error`]) and one file per domain with its models and endpoints.

pub mod apps;
mod client;
pub mod connections;
pub mod credential_requests;
mod error;
pub mod keys;

pub use client::{ApiRequest, MakeClient, Replay, RetryPolicy};
pub use error::{ApiError, MakeError, Missing};
