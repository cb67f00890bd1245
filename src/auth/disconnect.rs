//! Disconnecting a client from a person: what `POST /revoke` of a refresh token and the
//! account page's Revoke button both do. The consent ends and every token of that person
//! and client with it, in the database, so the next request on any replica is refused; when
//! no client is left with the person's consent, their Make grant is deleted and revoked at
//! Make, so no grant this server no longer needs stays alive there. Both are written to the
//! audit trail, under the person's Make user id and the client, as `account_revoke` (the
//! account page) or `oauth_revoke` (the client's own `POST /revoke`).

use super::AuthServer;
use crate::store::{AuditEntry, AuditOutcome, PersonId, StoreError};

/// Who asked for a disconnect: the audit trail's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    /// The Revoke button on the account page.
    AccountPage,
    /// The client's own `POST /revoke` of its refresh token.
    Client,
}

impl Via {
    fn audit_name(self) -> &'static str {
        match self {
            Via::AccountPage => "account_revoke",
            Via::Client => "oauth_revoke",
        }
    }
}

impl AuthServer {
    /// Ends the person's consent for `client_id` (and every token of theirs for it); with no
    /// client left, deletes their Make grant and revokes it at Make. `true` when there was a
    /// consent to end. Each step is audited as soon as it happened, so a later failure does
    /// not lose the row of one that did; of two disconnects at once, only the one that
    /// deleted the grant revokes it at Make.
    pub(super) async fn disconnect(
        &self,
        person: &PersonId,
        client_id: &str,
        via: Via,
    ) -> Result<bool, StoreError> {
        let store = &self.inner.store;
        let ended = store.revoke_consent(person, client_id).await?;
        // Only a client the person had allowed is named: the id comes from a form or a
        // token request, and one that ended nothing is not worth keeping.
        let client = ended.then_some(client_id);
        if ended {
            tracing::info!(client_id = %client_id, "a client disconnected: its consent ended");
            self.audit_disconnect(
                person,
                client,
                via,
                "client",
                AuditOutcome::Done,
                "consent ended",
            )
            .await;
        }
        if store.consents(person).await?.is_empty()
            && let Some((grant, _)) = store.grant(person).await?
            && store.delete_grant(person).await?
        {
            let token = grant.refresh_token.unwrap_or(grant.access_token);
            let (outcome, detail) = match self.inner.upstream.revoke(&token).await {
                Ok(()) => {
                    tracing::info!("no client is left: revoked the Make grant at Make");
                    (AuditOutcome::Done, "no client left: revoked at Make")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not revoke a Make grant at Make");
                    (
                        AuditOutcome::Failed,
                        "no client left: deleted here, Make refused the revocation",
                    )
                }
            };
            self.audit_disconnect(person, client, via, "make-grant", outcome, detail)
                .await;
        }
        Ok(ended)
    }

    /// Appends one row of a disconnect to the audit trail under the person's Make user id;
    /// a failure is logged, never returned (the step itself has happened).
    async fn audit_disconnect(
        &self,
        person: &PersonId,
        client_id: Option<&str>,
        via: Via,
        object_type: &'static str,
        outcome: AuditOutcome,
        detail: &'static str,
    ) {
        let store = &self.inner.store;
        let make_user_id = match store.person(person).await {
            Ok(Some(record)) => record.make_user_id,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not write the audit trail");
                return;
            }
        };
        let entry = AuditEntry {
            at: super::now(),
            person: make_user_id,
            client_id: client_id.map(str::to_string),
            tool: via.audit_name().into(),
            object_type: Some(object_type.into()),
            object_id: None,
            outcome,
            make_code: None,
            detail: Some(detail.into()),
        };
        if let Err(e) = store.append_audit(&entry).await {
            tracing::warn!(error = %e, "could not write the audit trail");
        }
    }
}
