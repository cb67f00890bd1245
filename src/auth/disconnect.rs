//! Disconnecting a client from a person: what `POST /revoke` of a refresh token and the
//! account page's Revoke button both do. The consent ends and every token of that person
//! and client with it, in the database, so the next request on any replica is refused; when
//! no client is left with the person's consent, their Make grant is deleted and revoked at
//! Make, so no grant this server no longer needs stays alive there.

use super::AuthServer;
use crate::store::{PersonId, StoreError};

impl AuthServer {
    /// Ends the person's consent for `client_id` (and every token of theirs for it); with no
    /// client left, deletes their Make grant and revokes it at Make. `true` when there was a
    /// consent to end.
    pub(super) async fn disconnect(
        &self,
        person: &PersonId,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let store = &self.inner.store;
        let ended = store.revoke_consent(person, client_id).await?;
        tracing::info!(client_id = %client_id, "a client disconnected: its consent ended");
        if !store.consents(person).await?.is_empty() {
            return Ok(ended);
        }
        if let Some((grant, _)) = store.grant(person).await? {
            store.delete_grant(person).await?;
            let token = grant.refresh_token.unwrap_or(grant.access_token);
            if let Err(e) = self.inner.upstream.revoke(&token).await {
                tracing::warn!(error = %e, "could not revoke a Make grant at Make");
            } else {
                tracing::info!("no client is left: revoked the Make grant at Make");
            }
        }
        Ok(ended)
    }
}
