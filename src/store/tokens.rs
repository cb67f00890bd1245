//! The server's own tokens, kept only as hashes ([`super::hash_secret`]).
//!
//! Every token belongs to a family: the tokens issued from one authorization and the refresh
//! tokens rotated from them. A family is revoked as a whole (a refresh token used twice,
//! consent withdrawn, a refresh token revoked), and a token is valid only while its family
//! is not revoked, so tokens added to a revoked family are dead too.
//!
//! Refresh tokens rotate: using one marks it used and issues its successor in one
//! transaction whose first statement is the conditional `UPDATE`, so of concurrent uses
//! exactly one rotates. Presenting a used one again is reuse (OAuth 2.1: a stolen token, or
//! the thief's copy already used): the whole family is revoked. A client that retries a
//! refresh whose answer it lost therefore loses the family, as the OAuth security BCP
//! accepts.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};

use super::error::db;
use super::{PersonId, Store, StoreError, from_json_list, to_json_list};

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGrant {
    pub person: PersonId,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The resource (RFC 8707) the token is for: this server's MCP URL.
    pub resource: String,
    /// The token family.
    pub family: String,
}

/// What became of a refresh token presented for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// It was valid: it is now used, and its successor carries this grant.
    Rotated(TokenGrant),
    /// It had been used already: its whole family is now revoked.
    Reused,
    /// Not a live refresh token: unknown, expired or revoked.
    Unknown,
}

/// The two token tables; the names are constants, never input.
#[derive(Clone, Copy)]
enum Table {
    Access,
    Refresh,
}

impl Table {
    fn insert_sql(self) -> &'static str {
        match self {
            Table::Access => {
                "INSERT INTO access_tokens \
                 (hash, person, client_id, scopes, resource, family, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            }
            Table::Refresh => {
                "INSERT INTO refresh_tokens \
                 (hash, person, client_id, scopes, resource, family, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            }
        }
    }
}

type GrantRow = (String, String, String, String, String);

fn grant_of(row: GrantRow) -> Result<TokenGrant, StoreError> {
    let (person, client_id, scopes, resource, family) = row;
    Ok(TokenGrant {
        person: PersonId(person),
        client_id,
        scopes: from_json_list("token's scopes", &scopes)?,
        resource,
        family,
    })
}

impl Store {
    /// Stores an access token by its hash, valid until `expires_at` (unix seconds).
    pub async fn put_access_token(
        &self,
        hash: &str,
        grant: &TokenGrant,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.put_token(Table::Access, hash, grant, expires_at).await
    }

    /// Stores a refresh token by its hash, valid until `expires_at` (unix seconds).
    pub async fn put_refresh_token(
        &self,
        hash: &str,
        grant: &TokenGrant,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.put_token(Table::Refresh, hash, grant, expires_at)
            .await
    }

    /// What the access token of `hash` grants; `None` when it is unknown, expired or
    /// revoked, or its family is revoked.
    pub async fn access_token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        let row: Option<GrantRow> = sqlx::query_as(
            "SELECT a.person, a.client_id, a.scopes, a.resource, a.family \
             FROM access_tokens a JOIN token_families f ON f.family = a.family \
             WHERE a.hash = $1 AND a.expires_at > $2 AND a.revoked_at IS NULL \
             AND f.revoked_at IS NULL AND f.person = a.person AND f.client_id = a.client_id",
        )
        .bind(hash)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an access token"))?;
        row.map(grant_of).transpose()
    }

    /// What the live refresh token of `hash` grants; `None` when it is unknown, used,
    /// expired or revoked, or its family is revoked.
    pub async fn refresh_token(&self, hash: &str) -> Result<Option<TokenGrant>, StoreError> {
        let row: Option<GrantRow> = sqlx::query_as(
            "SELECT r.person, r.client_id, r.scopes, r.resource, r.family \
             FROM refresh_tokens r JOIN token_families f ON f.family = r.family \
             WHERE r.hash = $1 AND r.expires_at > $2 AND r.revoked_at IS NULL \
             AND r.used_at IS NULL AND f.revoked_at IS NULL",
        )
        .bind(hash)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a refresh token"))?;
        row.map(grant_of).transpose()
    }

    /// Rotates the refresh token of `old_hash`: marks it used and stores `new_hash` with the
    /// same grant until `new_expires_at`, atomically. See [`Rotation`].
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires_at: i64,
    ) -> Result<Rotation, StoreError> {
        let now = self.now();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("rotating a refresh token"))?;
        let used: Option<GrantRow> = sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
             RETURNING person, client_id, scopes, resource, family",
        )
        .bind(now)
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("rotating a refresh token"))?;
        let Some(row) = used else {
            tx.rollback()
                .await
                .map_err(db("rotating a refresh token"))?;
            return self.rotation_refused(old_hash).await;
        };
        let grant = grant_of(row)?;
        let family_live: Option<(i64,)> = sqlx::query_as(
            "SELECT created_at FROM token_families \
             WHERE family = $1 AND revoked_at IS NULL AND person = $2 AND client_id = $3",
        )
        .bind(&grant.family)
        .bind(grant.person.as_str())
        .bind(&grant.client_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("rotating a refresh token"))?;
        if family_live.is_none() {
            // A token of a revoked family is dead: it is left as it was, so presenting it
            // again is not mistaken for reuse.
            tx.rollback()
                .await
                .map_err(db("rotating a refresh token"))?;
            return Ok(Rotation::Unknown);
        }
        insert_token(&mut tx, Table::Refresh, new_hash, &grant, new_expires_at)
            .await
            .map_err(db("rotating a refresh token"))?;
        tx.commit().await.map_err(db("rotating a refresh token"))?;
        Ok(Rotation::Rotated(grant))
    }

    /// Revokes the token of `hash`: an access token alone, a refresh token with its whole
    /// family. `true` when the hash was a token's.
    pub async fn revoke_token(&self, hash: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let access = sqlx::query(
            "UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE hash = $2",
        )
        .bind(now)
        .bind(hash)
        .execute(&self.pool)
        .await
        .map_err(db("revoking a token"))?;
        if access.rows_affected() > 0 {
            return Ok(true);
        }
        let refresh: Option<(String,)> = sqlx::query_as(
            "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE hash = $2 \
             RETURNING family",
        )
        .bind(now)
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("revoking a token"))?;
        match refresh {
            Some((family,)) => {
                self.revoke_family(&family).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Revokes every token of `family`, and any added to it later. `true` when the family
    /// was live.
    pub async fn revoke_family(&self, family: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE token_families SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
        )
        .bind(self.now())
        .bind(family)
        .execute(&self.pool)
        .await
        .map_err(db("revoking a token family"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_token(
        &self,
        table: Table,
        hash: &str,
        grant: &TokenGrant,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let failed = || db("storing a token");
        let mut tx = self.pool.begin().await.map_err(failed())?;
        sqlx::query(
            "INSERT INTO token_families (family, person, client_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (family) DO NOTHING",
        )
        .bind(&grant.family)
        .bind(grant.person.as_str())
        .bind(&grant.client_id)
        .bind(self.now())
        .execute(&mut *tx)
        .await
        .map_err(failed())?;
        insert_token(&mut tx, table, hash, grant, expires_at)
            .await
            .map_err(failed())?;
        tx.commit().await.map_err(failed())
    }

    /// The refresh token of `hash` did not rotate: reuse when it was used before (the
    /// family is revoked), else unknown.
    async fn rotation_refused(&self, hash: &str) -> Result<Rotation, StoreError> {
        let row: Option<(Option<i64>, String)> =
            sqlx::query_as("SELECT used_at, family FROM refresh_tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("rotating a refresh token"))?;
        match row {
            Some((Some(_), family)) => {
                self.revoke_family(&family).await?;
                Ok(Rotation::Reused)
            }
            _ => Ok(Rotation::Unknown),
        }
    }
}

async fn insert_token(
    tx: &mut Transaction<'_, Any>,
    table: Table,
    hash: &str,
    grant: &TokenGrant,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(table.insert_sql())
        .bind(hash)
        .bind(grant.person.as_str())
        .bind(&grant.client_id)
        .bind(to_json_list(&grant.scopes))
        .bind(&grant.resource)
        .bind(&grant.family)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Replicas, TestStore, stores};
    use super::super::{hash_secret, random_id};
    use super::*;

    const HOUR: i64 = 3600;

    async fn token_grant(store: &Store) -> TokenGrant {
        TokenGrant {
            person: store.upsert_person(&random_id(), None, None).await.unwrap(),
            client_id: "client-a".into(),
            scopes: vec!["connections:read".into()],
            resource: "https://mcp.example/mcp".into(),
            family: random_id(),
        }
    }

    fn fresh_hash() -> String {
        hash_secret(&random_id())
    }

    /// An access and a refresh token in one new family.
    async fn issue(store: &TestStore) -> (TokenGrant, String, String) {
        let grant = token_grant(store).await;
        let (access, refresh) = (fresh_hash(), fresh_hash());
        let now = store.now();
        store
            .put_access_token(&access, &grant, now + HOUR)
            .await
            .unwrap();
        store
            .put_refresh_token(&refresh, &grant, now + 30 * HOUR)
            .await
            .unwrap();
        (grant, access, refresh)
    }

    #[tokio::test]
    async fn an_access_token_is_valid_until_it_expires_or_is_revoked() {
        for store in stores().await {
            let (grant, access, _) = issue(&store).await;
            assert_eq!(
                store.access_token(&access).await.unwrap(),
                Some(grant.clone())
            );
            assert_eq!(store.access_token(&fresh_hash()).await.unwrap(), None);
            store.advance(HOUR - 1);
            assert!(store.access_token(&access).await.unwrap().is_some());
            store.advance(1);
            assert_eq!(store.access_token(&access).await.unwrap(), None);
            let other = fresh_hash();
            store
                .put_access_token(&other, &grant, store.now() + HOUR)
                .await
                .unwrap();
            assert!(store.revoke_token(&other).await.unwrap());
            assert_eq!(store.access_token(&other).await.unwrap(), None);
            assert!(!store.revoke_token(&fresh_hash()).await.unwrap());
        }
    }

    #[tokio::test]
    async fn a_refresh_token_rotates_once_and_its_reuse_revokes_the_family() {
        for store in stores().await {
            let (grant, access, first) = issue(&store).await;
            let second = fresh_hash();
            let until = store.now() + 30 * HOUR;
            assert_eq!(
                store
                    .rotate_refresh_token(&first, &second, until)
                    .await
                    .unwrap(),
                Rotation::Rotated(grant.clone())
            );
            let third = fresh_hash();
            assert_eq!(
                store
                    .rotate_refresh_token(&second, &third, until)
                    .await
                    .unwrap(),
                Rotation::Rotated(grant.clone())
            );
            // The first token again: reuse. Everything of the family is revoked, also the
            // live refresh token and tokens added afterwards.
            assert_eq!(
                store
                    .rotate_refresh_token(&first, &fresh_hash(), until)
                    .await
                    .unwrap(),
                Rotation::Reused
            );
            assert_eq!(store.access_token(&access).await.unwrap(), None);
            assert_eq!(
                store
                    .rotate_refresh_token(&third, &fresh_hash(), until)
                    .await
                    .unwrap(),
                Rotation::Unknown
            );
            let late = fresh_hash();
            store
                .put_access_token(&late, &grant, store.now() + HOUR)
                .await
                .unwrap();
            assert_eq!(store.access_token(&late).await.unwrap(), None);
            // Another family of the same person and client is untouched.
            let (_, other_access, _) = issue(&store).await;
            assert!(store.access_token(&other_access).await.unwrap().is_some());
        }
    }

    #[tokio::test]
    async fn unknown_expired_and_revoked_refresh_tokens_do_not_rotate() {
        for store in stores().await {
            let until = store.now() + 60 * HOUR;
            assert_eq!(
                store
                    .rotate_refresh_token(&fresh_hash(), &fresh_hash(), until)
                    .await
                    .unwrap(),
                Rotation::Unknown
            );
            let (_, access, refresh) = issue(&store).await;
            store.advance(30 * HOUR);
            assert_eq!(
                store
                    .rotate_refresh_token(&refresh, &fresh_hash(), until)
                    .await
                    .unwrap(),
                Rotation::Unknown
            );
            let (_, access2, refresh2) = issue(&store).await;
            assert!(store.revoke_token(&refresh2).await.unwrap());
            assert_eq!(store.access_token(&access2).await.unwrap(), None);
            assert_eq!(
                store
                    .rotate_refresh_token(&refresh2, &fresh_hash(), until)
                    .await
                    .unwrap(),
                Rotation::Unknown
            );
            assert_eq!(store.access_token(&access).await.unwrap(), None);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_replicas_racing_to_rotate_one_refresh_token_exactly_one_rotates() {
        for replicas in Replicas::all().await {
            for _ in 0..10 {
                let (_, _, refresh) = issue(&replicas.one).await;
                let until = replicas.one.now() + 30 * HOUR;
                let wins = replicas
                    .race(move |store| {
                        let refresh = refresh.clone();
                        async move {
                            let rotation = store
                                .rotate_refresh_token(&refresh, &fresh_hash(), until)
                                .await
                                .unwrap();
                            assert_ne!(rotation, Rotation::Unknown);
                            matches!(rotation, Rotation::Rotated(_))
                        }
                    })
                    .await;
                assert_eq!(wins, 1, "on {}", replicas.one.engine());
            }
        }
    }

    #[tokio::test]
    async fn pruning_deletes_expired_tokens_and_their_empty_families_only() {
        for store in stores().await {
            let (_, short, long) = issue(&store).await;
            store.advance(HOUR);
            let (_, live, _) = issue(&store).await;
            let pruned = store.prune(store.now()).await.unwrap();
            assert!(pruned >= 1, "{pruned}");
            let count = |sql: &'static str, hash: String| {
                let pool = store.pool.clone();
                async move {
                    let (n,): (i64,) = sqlx::query_as(sql)
                        .bind(hash)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    n
                }
            };
            assert_eq!(
                count("SELECT COUNT(*) FROM access_tokens WHERE hash = $1", short).await,
                0
            );
            assert_eq!(
                count(
                    "SELECT COUNT(*) FROM refresh_tokens WHERE hash = $1",
                    long.clone()
                )
                .await,
                1
            );
            assert!(store.access_token(&live).await.unwrap().is_some());
            store.advance(30 * HOUR);
            store.prune(store.now()).await.unwrap();
            assert_eq!(
                count("SELECT COUNT(*) FROM refresh_tokens WHERE hash = $1", long).await,
                0
            );
            let (families,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM token_families")
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert_eq!(families, 0);
        }
    }
}
