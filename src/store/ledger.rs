//! Spent confirmations in the database, so replicas on one database agree on which
//! confirmation went through ([`ConfirmationLedger`]): a spend inserts the nonce with
//! `INSERT ... ON CONFLICT DO NOTHING` and wins when it inserted the row.

use crate::person::ledger::{ConfirmationLedger, Nonce, Spending};

use super::error::db;
use super::{Store, ttl_secs};

impl ConfirmationLedger for Store {
    fn spend<'a>(&'a self, nonce: &'a Nonce) -> Spending<'a> {
        Box::pin(async move {
            let expires_at = self.now().saturating_add(ttl_secs(self.confirmation_keep));
            let done = sqlx::query(
                "INSERT INTO spent_confirmations (nonce, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (nonce) DO NOTHING",
            )
            .bind(nonce.hex())
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(db("recording a spent confirmation"))?;
            Ok(done.rows_affected() == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Replicas, stores};
    use super::*;

    #[tokio::test]
    async fn a_nonce_is_spent_once_and_forgotten_only_after_it_cannot_be_replayed() {
        for store in stores().await {
            let nonce = Nonce::random();
            assert!(store.spend(&nonce).await.unwrap());
            assert!(!store.spend(&nonce).await.unwrap());
            assert!(store.spend(&Nonce::random()).await.unwrap());
            // Kept for the state TTL plus slack: pruning before then keeps it.
            let keep = ttl_secs(store.confirmation_keep);
            store.prune(store.now() + keep - 1).await.unwrap();
            assert!(!store.spend(&nonce).await.unwrap());
            store.prune(store.now() + keep).await.unwrap();
            assert!(store.spend(&nonce).await.unwrap());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_replicas_racing_to_spend_one_nonce_exactly_one_wins() {
        for replicas in Replicas::all().await {
            for _ in 0..10 {
                let nonce = Nonce::random();
                let wins = replicas
                    .race(move |store| async move { store.spend(&nonce).await.unwrap() })
                    .await;
                assert_eq!(wins, 1);
            }
        }
    }
}
