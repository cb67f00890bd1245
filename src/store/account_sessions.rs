//! Sessions of the account page: which person a browser signed in as, until when. A session
//! is found by the SHA-256 of its id (the id itself is only in the browser's cookie), so any
//! replica finds it and a copy of the database opens none.

use std::time::Duration;

use super::error::db;
use super::{PersonId, Store, StoreError, ttl_secs};

impl Store {
    /// Starts a session for `person` under `id_hash` (the hash of its id), for `ttl`.
    pub async fn put_account_session(
        &self,
        id_hash: &str,
        person: &PersonId,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(
            "INSERT INTO account_sessions (id_hash, person, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(person.as_str())
        .bind(now)
        .bind(now.saturating_add(ttl_secs(ttl)))
        .execute(&self.pool)
        .await
        .map_err(db("storing an account session"))?;
        Ok(())
    }

    /// The person of the unexpired session under `id_hash`.
    pub async fn account_session(&self, id_hash: &str) -> Result<Option<PersonId>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT person FROM account_sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an account session"))?;
        Ok(row.map(|(person,)| PersonId(person)))
    }

    /// Ends the session under `id_hash`; `true` when there was one.
    pub async fn delete_account_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM account_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db("ending an account session"))?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Replicas, stores};
    use super::super::{hash_secret, random_id};
    use super::*;

    const TTL: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_session_is_found_by_its_hash_until_it_expires_or_ends() {
        for store in stores().await {
            let ada = store.upsert_person(&random_id(), None, None).await.unwrap();
            let (one, two) = (hash_secret(&random_id()), hash_secret(&random_id()));
            assert_eq!(store.account_session(&one).await.unwrap(), None);
            store.put_account_session(&one, &ada, TTL).await.unwrap();
            store.put_account_session(&two, &ada, TTL).await.unwrap();
            assert_eq!(
                store.account_session(&one).await.unwrap(),
                Some(ada.clone())
            );
            assert!(store.delete_account_session(&one).await.unwrap());
            assert!(!store.delete_account_session(&one).await.unwrap());
            assert_eq!(store.account_session(&one).await.unwrap(), None);
            assert_eq!(
                store.account_session(&two).await.unwrap(),
                Some(ada.clone())
            );
            store.advance(3599);
            assert_eq!(store.account_session(&two).await.unwrap(), Some(ada));
            store.advance(1);
            assert_eq!(store.account_session(&two).await.unwrap(), None);
            // Pruning removes the expired row.
            assert!(store.prune(store.now()).await.unwrap() >= 1);
            let left: Vec<(String,)> = sqlx::query_as("SELECT id_hash FROM account_sessions")
                .fetch_all(&store.pool)
                .await
                .unwrap();
            assert!(left.iter().all(|(h,)| *h != two), "{}", store.engine());
        }
    }

    #[tokio::test]
    async fn a_session_started_on_one_replica_is_found_and_ended_on_the_other() {
        for replicas in Replicas::all().await {
            let ada = replicas
                .one
                .upsert_person(&random_id(), None, None)
                .await
                .unwrap();
            let id = hash_secret(&random_id());
            replicas
                .one
                .put_account_session(&id, &ada, TTL)
                .await
                .unwrap();
            assert_eq!(replicas.two.account_session(&id).await.unwrap(), Some(ada));
            assert!(replicas.two.delete_account_session(&id).await.unwrap());
            assert_eq!(replicas.one.account_session(&id).await.unwrap(), None);
        }
    }
}
