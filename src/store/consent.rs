//! Consent: which scopes a person allowed a client. The person is asked again for scopes
//! beyond these. Withdrawing consent also revokes every token the client holds for the
//! person.

use super::error::db;
use super::{PersonId, Store, StoreError, from_json_list, to_json_list};

impl Store {
    /// The scopes `person` allowed `client_id`, if they consented.
    pub async fn consent(
        &self,
        person: &PersonId,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT scopes FROM consents WHERE person = $1 AND client_id = $2")
                .bind(person.as_str())
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a consent"))?;
        row.map(|(scopes,)| from_json_list("consent's scopes", &scopes))
            .transpose()
    }

    /// Records that `person` allowed `client_id` these `scopes` (replacing what they
    /// allowed before), now.
    pub async fn put_consent(
        &self,
        person: &PersonId,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (person, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (person, client_id) DO UPDATE \
             SET scopes = excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(person.as_str())
        .bind(client_id)
        .bind(to_json_list(scopes))
        .bind(self.now())
        .execute(&self.pool)
        .await
        .map_err(db("storing a consent"))?;
        Ok(())
    }

    /// Withdraws the consent of `person` for `client_id` and revokes all the token
    /// families of that person and client, in one transaction. `true` when there was a
    /// consent.
    pub async fn revoke_consent(
        &self,
        person: &PersonId,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let failed = || db("revoking a consent");
        let mut tx = self.pool.begin().await.map_err(failed())?;
        let deleted = sqlx::query("DELETE FROM consents WHERE person = $1 AND client_id = $2")
            .bind(person.as_str())
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(failed())?;
        sqlx::query(
            "UPDATE token_families SET revoked_at = $1 \
             WHERE person = $2 AND client_id = $3 AND revoked_at IS NULL",
        )
        .bind(self.now())
        .bind(person.as_str())
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(failed())?;
        tx.commit().await.map_err(failed())?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Every consent of `person`: client id, scopes, and when it was given (unix seconds),
    /// by client id.
    pub async fn consents(
        &self,
        person: &PersonId,
    ) -> Result<Vec<(String, Vec<String>, i64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT client_id, scopes, granted_at FROM consents WHERE person = $1 \
             ORDER BY client_id",
        )
        .bind(person.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading consents"))?;
        rows.into_iter()
            .map(|(client, scopes, at)| {
                Ok((client, from_json_list("consent's scopes", &scopes)?, at))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::stores;
    use super::super::{TokenGrant, hash_secret, random_id};

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn consent_is_remembered_per_person_and_client_and_replaced() {
        for store in stores().await {
            let ada = store.upsert_person(&random_id(), None, None).await.unwrap();
            let bob = store.upsert_person(&random_id(), None, None).await.unwrap();
            assert_eq!(store.consent(&ada, "a").await.unwrap(), None);
            store
                .put_consent(&ada, "b", &scopes(&["keys:read"]))
                .await
                .unwrap();
            store
                .put_consent(&ada, "a", &scopes(&["connections:read"]))
                .await
                .unwrap();
            store.advance(10);
            store
                .put_consent(&ada, "a", &scopes(&["connections:read", "keys:write"]))
                .await
                .unwrap();
            assert_eq!(
                store.consent(&ada, "a").await.unwrap(),
                Some(scopes(&["connections:read", "keys:write"]))
            );
            assert_eq!(store.consent(&bob, "a").await.unwrap(), None);
            let now = store.now();
            assert_eq!(
                store.consents(&ada).await.unwrap(),
                vec![
                    (
                        "a".to_string(),
                        scopes(&["connections:read", "keys:write"]),
                        now
                    ),
                    ("b".to_string(), scopes(&["keys:read"]), now - 10),
                ]
            );
            assert!(store.consents(&bob).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn revoking_consent_revokes_that_clients_tokens_for_that_person_only() {
        for store in stores().await {
            let ada = store.upsert_person(&random_id(), None, None).await.unwrap();
            let bob = store.upsert_person(&random_id(), None, None).await.unwrap();
            let until = store.now() + 3600;
            let mut tokens = Vec::new();
            for (person, client) in [(&ada, "a"), (&ada, "a"), (&ada, "b"), (&bob, "a")] {
                store
                    .put_consent(person, client, &scopes(&["x"]))
                    .await
                    .unwrap();
                let grant = TokenGrant {
                    person: person.clone(),
                    client_id: client.into(),
                    scopes: scopes(&["x"]),
                    resource: "https://mcp.example/mcp".into(),
                    family: random_id(),
                };
                let (access, refresh) = (hash_secret(&random_id()), hash_secret(&random_id()));
                store
                    .put_access_token(&access, &grant, until)
                    .await
                    .unwrap();
                store
                    .put_refresh_token(&refresh, &grant, until)
                    .await
                    .unwrap();
                tokens.push((access, refresh));
            }
            assert!(store.revoke_consent(&ada, "a").await.unwrap());
            assert!(!store.revoke_consent(&ada, "a").await.unwrap());
            assert_eq!(store.consent(&ada, "a").await.unwrap(), None);
            let live = |i: usize| {
                let (store, access) = (store.store.clone(), tokens[i].0.clone());
                async move { store.access_token(&access).await.unwrap().is_some() }
            };
            assert_eq!(
                [live(0).await, live(1).await, live(2).await, live(3).await],
                [false, false, true, true]
            );
            let rotation = store
                .rotate_refresh_token(&tokens[1].1, &hash_secret(&random_id()), until)
                .await
                .unwrap();
            assert_eq!(rotation, crate::store::Rotation::Unknown);
        }
    }
}
