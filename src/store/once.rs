//! Single-use records: pending upstream authorizations (keyed by the `state` sent to Make),
//! consent tickets, authorization codes. A record is taken at most once and never after it
//! expires; of replicas racing to take one, one gets it (`DELETE ... RETURNING`). Only the
//! SHA-256 of the key is stored, so the database alone cannot redeem a record.

use std::time::Duration;

use serde_json::Value;

use super::error::db;
use super::{Store, StoreError, hash_secret, ttl_secs};

impl Store {
    /// Stores `payload` under `kind` and `key` for `ttl`. An expired record under the same
    /// key is replaced; a live one is kept and [`StoreError::Duplicate`] returned.
    pub async fn put_once(
        &self,
        kind: &str,
        key: &str,
        payload: &Value,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let stored = sqlx::query(
            "INSERT INTO once_records (kind, key_hash, payload, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, key_hash) DO UPDATE \
             SET payload = excluded.payload, expires_at = excluded.expires_at \
             WHERE once_records.expires_at <= $5",
        )
        .bind(kind)
        .bind(hash_secret(key))
        .bind(payload.to_string())
        .bind(now.saturating_add(ttl_secs(ttl)))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db("storing a single-use record"))?;
        if stored.rows_affected() == 0 {
            return Err(StoreError::Duplicate { kind: kind.into() });
        }
        Ok(())
    }

    /// Takes the record under `kind` and `key`: its payload the first time, `None` after
    /// that, for an unknown key, and once it has expired (an expired record is deleted too).
    pub async fn take_once(&self, kind: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let taken: Option<(String, i64)> = sqlx::query_as(
            "DELETE FROM once_records WHERE kind = $1 AND key_hash = $2 \
             RETURNING payload, expires_at",
        )
        .bind(kind)
        .bind(hash_secret(key))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("taking a single-use record"))?;
        match taken {
            Some((payload, expires_at)) if expires_at > self.now() => {
                serde_json::from_str(&payload)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        what: "single-use record",
                        detail: e.to_string(),
                    })
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Replicas, stores};
    use super::*;
    use serde_json::json;

    const TTL: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_record_is_taken_once_and_only_under_its_kind_and_key() {
        for store in stores().await {
            let key = super::super::random_id();
            store
                .put_once("code", &key, &json!({"a": 1}), TTL)
                .await
                .unwrap();
            assert_eq!(store.take_once("state", &key).await.unwrap(), None);
            assert_eq!(store.take_once("code", "other").await.unwrap(), None);
            assert_eq!(
                store.take_once("code", &key).await.unwrap(),
                Some(json!({"a": 1}))
            );
            assert_eq!(store.take_once("code", &key).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn an_expired_record_is_never_taken_and_its_key_can_be_used_again() {
        for store in stores().await {
            let key = super::super::random_id();
            store.put_once("code", &key, &json!(1), TTL).await.unwrap();
            let error = store
                .put_once("code", &key, &json!(2), TTL)
                .await
                .unwrap_err();
            assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");
            store.advance(60);
            assert_eq!(store.take_once("code", &key).await.unwrap(), None);
            store.put_once("code", &key, &json!(3), TTL).await.unwrap();
            store.advance(60);
            store.put_once("code", &key, &json!(4), TTL).await.unwrap();
            assert_eq!(store.take_once("code", &key).await.unwrap(), Some(json!(4)));
        }
    }

    #[tokio::test]
    async fn the_key_is_stored_only_as_its_hash() {
        for store in stores().await {
            let key = super::super::random_id();
            store
                .put_once("ticket", &key, &json!({}), TTL)
                .await
                .unwrap();
            let stored: Vec<(String,)> =
                sqlx::query_as("SELECT key_hash FROM once_records WHERE kind = 'ticket'")
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
            assert!(stored.iter().any(|(h,)| *h == hash_secret(&key)));
            assert!(stored.iter().all(|(h,)| *h != key));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_replicas_racing_to_take_a_record_exactly_one_gets_it() {
        for replicas in Replicas::all().await {
            for _ in 0..10 {
                let key = super::super::random_id();
                replicas
                    .one
                    .put_once("state", &key, &json!("x"), TTL)
                    .await
                    .unwrap();
                let wins = replicas
                    .race(move |store| {
                        let key = key.clone();
                        async move { store.take_once("state", &key).await.unwrap().is_some() }
                    })
                    .await;
                assert_eq!(wins, 1);
            }
        }
    }
}
