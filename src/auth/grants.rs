//! Each person's Make grant, fresh for every call: refreshed shortly before it expires, by
//! one replica at a time (a lease in the database), while the others wait for the new one.
//! A grant Make no longer honours is deleted, and the person's MCP tokens answer 401, so
//! their client signs them in again.

use std::time::Duration;

use super::AuthServer;
use super::upstream::UpstreamError;
use crate::metrics::RefreshOutcome;
use crate::store::{MakeGrant, PersonId};

/// A grant is refreshed when it has less than this left.
const REFRESH_MARGIN_SECS: i64 = 120;
/// How long one replica may hold the refresh of a grant.
const REFRESH_LEASE: Duration = Duration::from_secs(30);
/// How often a replica that lost the lease looks for the new grant, and for how long.
const LEASE_POLL: Duration = Duration::from_millis(200);
const LEASE_WAIT: Duration = Duration::from_secs(20);

/// Why no usable grant could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GrantError {
    /// There is no grant, or Make refused to refresh it: the person must sign in again.
    #[error("the Make grant is gone or Make no longer honours it: sign in again")]
    SignInAgain,
    /// The database or Make is unavailable: try again later.
    #[error("{0}")]
    Unavailable(String),
}

impl AuthServer {
    /// The person's grant with at least [`REFRESH_MARGIN_SECS`] left, refreshed if needed.
    pub(crate) async fn fresh_grant(&self, person: &PersonId) -> Result<MakeGrant, GrantError> {
        let store = &self.inner.store;
        let deadline = tokio::time::Instant::now() + LEASE_WAIT;
        loop {
            let Some((grant, _version)) = store.grant(person).await.map_err(unavailable)? else {
                return Err(GrantError::SignInAgain);
            };
            if grant.expires_at - super::now() > REFRESH_MARGIN_SECS {
                return Ok(grant);
            }
            if let Some(lease) = store
                .try_lock_refresh(person, REFRESH_LEASE)
                .await
                .map_err(unavailable)?
            {
                return self.refresh_holding(person, lease).await;
            }
            // Another replica (or task) is refreshing this grant: wait for its result.
            if tokio::time::Instant::now() >= deadline {
                return if grant.expires_at > super::now() {
                    Ok(grant)
                } else {
                    Err(GrantError::Unavailable(
                        "the Make grant's refresh is taking too long; try again shortly".into(),
                    ))
                };
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// Refreshes the grant while holding its lease.
    async fn refresh_holding(
        &self,
        person: &PersonId,
        lease: crate::store::RefreshLease,
    ) -> Result<MakeGrant, GrantError> {
        let store = &self.inner.store;
        // Read again under the lease: another replica may have refreshed it just before.
        let current = match store.grant(person).await {
            Ok(Some((grant, _))) => grant,
            Ok(None) => {
                let _ = store.release_refresh(lease).await;
                return Err(GrantError::SignInAgain);
            }
            Err(e) => {
                let _ = store.release_refresh(lease).await;
                return Err(unavailable(e));
            }
        };
        if current.expires_at - super::now() > REFRESH_MARGIN_SECS {
            let _ = store.release_refresh(lease).await;
            return Ok(current);
        }
        let Some(refresh_token) = current.refresh_token.clone() else {
            let _ = store.release_refresh(lease).await;
            return if current.expires_at > super::now() {
                Ok(current)
            } else {
                Err(GrantError::SignInAgain)
            };
        };
        let refreshed = self.inner.upstream.refresh(&refresh_token).await;
        if let Some(metrics) = self.inner.make.metrics() {
            metrics.grant_refresh(match &refreshed {
                Ok(_) => RefreshOutcome::Ok,
                Err(UpstreamError::Refused { .. }) => RefreshOutcome::Refused,
                Err(UpstreamError::Unavailable(_)) => RefreshOutcome::Failed,
            });
        }
        match refreshed {
            Ok(tokens) => {
                let grant = MakeGrant {
                    access_token: tokens.access_token,
                    // Make may keep the refresh token; then the old one stays valid.
                    refresh_token: tokens.refresh_token.or(Some(refresh_token)),
                    expires_at: super::now() + tokens.expires_in.unwrap_or(3600) as i64,
                    scopes: tokens
                        .scope
                        .map(|s| s.split_ascii_whitespace().map(String::from).collect())
                        .unwrap_or(current.scopes),
                    api_base: current.api_base,
                };
                store
                    .finish_refresh(lease, &grant)
                    .await
                    .map_err(unavailable)?;
                tracing::info!("refreshed a Make grant");
                Ok(grant)
            }
            Err(UpstreamError::Refused { error, .. }) => {
                tracing::warn!(%error, "Make refused to refresh a grant; the person must sign in again");
                let _ = store.delete_grant(person).await;
                let _ = store.release_refresh(lease).await;
                Err(GrantError::SignInAgain)
            }
            Err(e @ UpstreamError::Unavailable(_)) => {
                let _ = store.release_refresh(lease).await;
                if current.expires_at > super::now() {
                    Ok(current)
                } else {
                    Err(GrantError::Unavailable(e.to_string()))
                }
            }
        }
    }
}

fn unavailable(e: crate::store::StoreError) -> GrantError {
    tracing::error!(error = %e, "the database is unavailable");
    GrantError::Unavailable("the server's database is unavailable; try again shortly".into())
}
