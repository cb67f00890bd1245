//! Each person's Make grant (the tokens this server holds as Make's OAuth client), sealed.
//!
//! The grant is serialized and sealed with the [`Keyring`](super::Keyring); the associated
//! data is the person's id and the grant's id (drawn anew by every [`Store::put_grant`]),
//! so a ciphertext copied to another row does not open. The database never holds a token
//! in clear.
//!
//! Refreshing: Make's refresh token is used by one replica at a time.
//! [`Store::try_lock_refresh`] takes a lease with one conditional `UPDATE` (exactly one
//! caller wins while the lease lasts); [`Store::finish_refresh`] stores the refreshed grant
//! and releases the lease, but only while the lease is still the caller's, so a replica
//! whose lease ran out and was taken over does not overwrite the newer grant.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::db;
use super::keyring::OpenError;
use super::{PersonId, Store, StoreError, random_id, ttl_secs};

/// A person's grant from Make. `Debug` shows no token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakeGrant {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires, unix seconds.
    pub expires_at: i64,
    pub scopes: Vec<String>,
    /// The person's zone API, e.g. `https://eu1.make.com/api/v2`.
    pub api_base: String,
}

impl std::fmt::Debug for MakeGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MakeGrant")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// What a person is shown of their grant: no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSummary {
    pub scopes: Vec<String>,
    /// When Make's access token expires, unix seconds.
    pub expires_at: i64,
    /// When the grant was last stored (a sign-in or a refresh), unix seconds.
    pub renewed_at: i64,
    /// The person's zone API.
    pub api_base: String,
}

/// A stored grant's version: it grows with every store of the grant (put or refresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantVersion(pub i64);

/// The right to refresh one person's grant, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLease {
    person: PersonId,
    /// Random; identifies this lease in the row.
    owner: String,
    /// The grant the lease was taken on.
    grant_id: String,
    version: GrantVersion,
    until: i64,
}

impl RefreshLease {
    pub fn person(&self) -> &PersonId {
        &self.person
    }

    /// The version of the grant when the lease was taken.
    pub fn version(&self) -> GrantVersion {
        self.version
    }

    /// When the lease runs out, unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.until
    }
}

/// The associated data of a person's sealed grant.
fn aad(person: &PersonId, grant_id: &str) -> Vec<u8> {
    format!("make-credentials-mcp make grant\n{person}\n{grant_id}").into_bytes()
}

impl Store {
    /// Stores `grant` as the person's grant (a new authorization), replacing any earlier
    /// one and ending any refresh lease on it.
    pub async fn put_grant(
        &self,
        person: &PersonId,
        grant: &MakeGrant,
    ) -> Result<GrantVersion, StoreError> {
        let grant_id = random_id();
        let sealed = self.seal(person, &grant_id, grant)?;
        let (version,): (i64,) = sqlx::query_as(
            "INSERT INTO make_grants \
             (person, grant_id, version, key_id, sealed, lease_owner, lease_until, updated_at) \
             VALUES ($1, $2, 1, $3, $4, NULL, 0, $5) \
             ON CONFLICT (person) DO UPDATE SET grant_id = excluded.grant_id, \
             version = make_grants.version + 1, key_id = excluded.key_id, \
             sealed = excluded.sealed, lease_owner = NULL, lease_until = 0, \
             updated_at = excluded.updated_at \
             RETURNING version",
        )
        .bind(person.as_str())
        .bind(&grant_id)
        .bind(&sealed.key_id)
        .bind(&sealed.text)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await
        .map_err(db("storing a Make grant"))?;
        Ok(GrantVersion(version))
    }

    /// The person's grant and its version, opened.
    pub async fn grant(
        &self,
        person: &PersonId,
    ) -> Result<Option<(MakeGrant, GrantVersion)>, StoreError> {
        Ok(self
            .grant_row(person)
            .await?
            .map(|(grant, version, _)| (grant, version)))
    }

    /// What the person may be shown of their grant (no token), with when it was last
    /// stored.
    pub async fn grant_summary(
        &self,
        person: &PersonId,
    ) -> Result<Option<GrantSummary>, StoreError> {
        Ok(self
            .grant_row(person)
            .await?
            .map(|(grant, _, renewed_at)| GrantSummary {
                scopes: grant.scopes,
                expires_at: grant.expires_at,
                renewed_at,
                api_base: grant.api_base,
            }))
    }

    /// The person's grant, opened, its version and when it was last stored.
    async fn grant_row(
        &self,
        person: &PersonId,
    ) -> Result<Option<(MakeGrant, GrantVersion, i64)>, StoreError> {
        let keyring = self.keyring()?;
        let row: Option<(String, i64, String, String, i64)> = sqlx::query_as(
            "SELECT grant_id, version, key_id, sealed, updated_at FROM make_grants \
             WHERE person = $1",
        )
        .bind(person.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a Make grant"))?;
        let Some((grant_id, version, key_id, sealed, updated_at)) = row else {
            return Ok(None);
        };
        let plain = keyring
            .open(&key_id, &aad(person, &grant_id), &sealed)
            .map_err(|e| match e {
                OpenError::UnknownKey => StoreError::UnknownKey {
                    person: person.to_string(),
                    key_id,
                },
                OpenError::Failed => StoreError::Unsealable {
                    person: person.to_string(),
                },
            })?;
        let grant = serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt {
            what: "Make grant",
            detail: "the opened grant is not a grant".into(),
        })?;
        Ok(Some((grant, GrantVersion(version), updated_at)))
    }

    /// Takes the refresh lease on the person's grant for `lease`: `None` when another
    /// caller holds an unexpired lease, or the person has no grant. Of callers racing on
    /// one grant, exactly one gets the lease.
    pub async fn try_lock_refresh(
        &self,
        person: &PersonId,
        lease: Duration,
    ) -> Result<Option<RefreshLease>, StoreError> {
        let now = self.now();
        let owner = random_id();
        let until = now.saturating_add(ttl_secs(lease));
        let row: Option<(String, i64)> = sqlx::query_as(
            "UPDATE make_grants SET lease_owner = $1, lease_until = $2 \
             WHERE person = $3 AND (lease_owner IS NULL OR lease_until <= $4) \
             RETURNING grant_id, version",
        )
        .bind(&owner)
        .bind(until)
        .bind(person.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("locking a Make grant for refresh"))?;
        Ok(row.map(|(grant_id, version)| RefreshLease {
            person: person.clone(),
            owner,
            grant_id,
            version: GrantVersion(version),
            until,
        }))
    }

    /// Stores the refreshed `grant` and releases the lease, if the lease is still the
    /// caller's (even past its expiry, as long as nobody took it over) and the grant was
    /// not replaced meanwhile: then the new version. `None` when the lease was lost; the
    /// stored grant is then left as it is.
    pub async fn finish_refresh(
        &self,
        lease: RefreshLease,
        grant: &MakeGrant,
    ) -> Result<Option<GrantVersion>, StoreError> {
        let sealed = self.seal(&lease.person, &lease.grant_id, grant)?;
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE make_grants SET key_id = $1, sealed = $2, version = version + 1, \
             lease_owner = NULL, lease_until = 0, updated_at = $3 \
             WHERE person = $4 AND grant_id = $5 AND lease_owner = $6 \
             RETURNING version",
        )
        .bind(&sealed.key_id)
        .bind(&sealed.text)
        .bind(self.now())
        .bind(lease.person.as_str())
        .bind(&lease.grant_id)
        .bind(&lease.owner)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("storing a refreshed Make grant"))?;
        Ok(row.map(|(version,)| GrantVersion(version)))
    }

    /// Releases the lease without changing the grant (the refresh failed); nothing happens
    /// when the lease is no longer the caller's.
    pub async fn release_refresh(&self, lease: RefreshLease) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE make_grants SET lease_owner = NULL, lease_until = 0 \
             WHERE person = $1 AND lease_owner = $2",
        )
        .bind(lease.person.as_str())
        .bind(&lease.owner)
        .execute(&self.pool)
        .await
        .map_err(db("releasing a Make grant's refresh lease"))?;
        Ok(())
    }

    /// Deletes the person's grant; `true` when there was one.
    pub async fn delete_grant(&self, person: &PersonId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM make_grants WHERE person = $1")
            .bind(person.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("deleting a Make grant"))?;
        Ok(done.rows_affected() > 0)
    }

    fn seal(
        &self,
        person: &PersonId,
        grant_id: &str,
        grant: &MakeGrant,
    ) -> Result<super::keyring::Sealed, StoreError> {
        let keyring = self.keyring()?;
        let plain = serde_json::to_vec(grant).expect("a grant serializes");
        Ok(keyring.seal(&aad(person, grant_id), &plain))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Replicas, stores};
    use super::super::{Keyring, hash_secret};
    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    fn grant(n: u32) -> MakeGrant {
        MakeGrant {
            access_token: format!("make-access-token-{n}-{}", random_id()),
            refresh_token: Some(format!("make-refresh-token-{n}-{}", random_id())),
            expires_at: 1_000 + i64::from(n),
            scopes: vec!["connections:read".into(), "openid".into()],
            api_base: "https://eu1.make.com/api/v2".into(),
        }
    }

    async fn person(store: &Store) -> PersonId {
        store.upsert_person(&random_id(), None, None).await.unwrap()
    }

    #[tokio::test]
    async fn a_grant_reads_back_and_each_store_bumps_its_version() {
        for store in stores().await {
            let ada = person(&store).await;
            assert_eq!(store.grant(&ada).await.unwrap(), None);
            let first = grant(1);
            let v1 = store.put_grant(&ada, &first).await.unwrap();
            assert_eq!(store.grant(&ada).await.unwrap(), Some((first, v1)));
            let second = grant(2);
            let v2 = store.put_grant(&ada, &second).await.unwrap();
            assert!(v2 > v1);
            assert_eq!(store.grant(&ada).await.unwrap(), Some((second, v2)));
            // The summary tells when it was last stored, by a sign-in or a refresh.
            store.advance(40);
            let lease = store.try_lock_refresh(&ada, LEASE).await.unwrap().unwrap();
            let refreshed = grant(3);
            store
                .finish_refresh(lease, &refreshed)
                .await
                .unwrap()
                .unwrap();
            let summary = store.grant_summary(&ada).await.unwrap().unwrap();
            assert_eq!(
                summary,
                GrantSummary {
                    scopes: refreshed.scopes.clone(),
                    expires_at: refreshed.expires_at,
                    renewed_at: store.now(),
                    api_base: refreshed.api_base.clone(),
                }
            );
            assert!(store.delete_grant(&ada).await.unwrap());
            assert_eq!(store.grant_summary(&ada).await.unwrap(), None);
            assert!(!store.delete_grant(&ada).await.unwrap());
            assert_eq!(store.grant(&ada).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn the_debug_text_of_a_grant_holds_no_token() {
        let g = grant(1);
        let text = format!("{g:?}");
        assert!(!text.contains(&g.access_token), "{text}");
        assert!(
            !text.contains(g.refresh_token.as_deref().unwrap()),
            "{text}"
        );
        assert!(text.contains("eu1.make.com"), "{text}");
    }

    #[tokio::test]
    async fn the_sqlite_file_never_holds_a_token_in_clear() {
        let store = stores().await.into_iter().next().unwrap();
        let ada = person(&store).await;
        let g = grant(7);
        store.put_grant(&ada, &g).await.unwrap();
        let lease = store.try_lock_refresh(&ada, LEASE).await.unwrap().unwrap();
        let refreshed = grant(8);
        store
            .finish_refresh(lease, &refreshed)
            .await
            .unwrap()
            .unwrap();
        // Checkpoint the write-ahead log too, then read every file of the database.
        sqlx::query("PRAGMA wal_checkpoint(FULL)")
            .execute(&store.pool)
            .await
            .unwrap();
        let file = store.sqlite_file().unwrap();
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let mut path = file.clone().into_os_string();
            path.push(suffix);
            bytes.extend(std::fs::read(&path).unwrap_or_default());
        }
        assert!(bytes.len() > 4096, "the database file was read");
        let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        // The search itself works: the person's id is in clear.
        assert!(contains(ada.as_str()));
        for token in [
            &g.access_token,
            g.refresh_token.as_ref().unwrap(),
            &refreshed.access_token,
            refreshed.refresh_token.as_ref().unwrap(),
        ] {
            assert!(!contains(token), "a token is in the database in clear");
            assert!(!contains(&hash_secret(token)));
        }
    }

    #[tokio::test]
    async fn a_ciphertext_moved_to_another_person_does_not_open() {
        for store in stores().await {
            let (ada, bob) = (person(&store).await, person(&store).await);
            store.put_grant(&ada, &grant(1)).await.unwrap();
            store.put_grant(&bob, &grant(2)).await.unwrap();
            sqlx::query(
                "UPDATE make_grants SET \
                 sealed = (SELECT sealed FROM make_grants WHERE person = $1), \
                 grant_id = (SELECT grant_id FROM make_grants WHERE person = $1) \
                 WHERE person = $2",
            )
            .bind(ada.as_str())
            .bind(bob.as_str())
            .execute(&store.pool)
            .await
            .unwrap();
            let error = store.grant(&bob).await.unwrap_err();
            assert!(matches!(error, StoreError::Unsealable { .. }), "{error}");
            assert!(store.grant(&ada).await.unwrap().is_some());
        }
    }

    #[tokio::test]
    async fn grants_sealed_with_an_old_key_open_after_rotation_and_are_resealed_with_the_new() {
        for test in stores().await {
            let old = "old:q8Vf1kqH1Jm0xgM4nB0s3yqk3rWl5y9QeZ2tP7oXb1c=";
            let new = "new:9f2c1a7be04d3c58a6e1f0b2d4c6e8a0135792468ace0bdf1357924680ace0bd";
            let before = test
                .store
                .clone()
                .with_keyring(Keyring::parse(old).unwrap());
            let ada = person(&before).await;
            let g = grant(1);
            before.put_grant(&ada, &g).await.unwrap();
            let after = test
                .store
                .clone()
                .with_keyring(Keyring::parse(&format!("{old},{new}")).unwrap());
            assert_eq!(after.grant(&ada).await.unwrap().unwrap().0, g);
            let lease = after.try_lock_refresh(&ada, LEASE).await.unwrap().unwrap();
            let refreshed = grant(2);
            after
                .finish_refresh(lease, &refreshed)
                .await
                .unwrap()
                .unwrap();
            let new_only = test
                .store
                .clone()
                .with_keyring(Keyring::parse(new).unwrap());
            assert_eq!(new_only.grant(&ada).await.unwrap().unwrap().0, refreshed);
            let error = before.grant(&ada).await.unwrap_err();
            assert!(
                matches!(error, StoreError::UnknownKey { ref key_id, .. } if key_id == "new"),
                "{error}"
            );
            let no_keyring = Store {
                keyring: None,
                ..test.store.clone()
            };
            assert!(matches!(
                no_keyring.grant(&ada).await,
                Err(StoreError::NoKeyring)
            ));
        }
    }

    #[tokio::test]
    async fn a_lease_excludes_others_until_it_expires_and_a_lost_lease_stores_nothing() {
        for store in stores().await {
            let ada = person(&store).await;
            assert_eq!(store.try_lock_refresh(&ada, LEASE).await.unwrap(), None);
            let v1 = store.put_grant(&ada, &grant(1)).await.unwrap();
            let first = store.try_lock_refresh(&ada, LEASE).await.unwrap().unwrap();
            assert_eq!(first.version(), v1);
            assert_eq!(store.try_lock_refresh(&ada, LEASE).await.unwrap(), None);
            // Past its expiry another caller takes over, and the first can no longer store.
            store.advance(30);
            let second = store.try_lock_refresh(&ada, LEASE).await.unwrap().unwrap();
            assert_eq!(store.finish_refresh(first, &grant(2)).await.unwrap(), None);
            assert_eq!(store.grant(&ada).await.unwrap().unwrap().1, v1);
            let refreshed = grant(3);
            let v2 = store
                .finish_refresh(second, &refreshed)
                .await
                .unwrap()
                .unwrap();
            assert!(v2 > v1);
            assert_eq!(store.grant(&ada).await.unwrap(), Some((refreshed, v2)));
            // Released, the lease can be taken at once; a new authorization ends a lease.
            let third = store.try_lock_refresh(&ada, LEASE).await.unwrap().unwrap();
            store.release_refresh(third).await.unwrap();
            let fourth = store.try_lock_refresh(&ada, LEASE).await.unwrap().unwrap();
            let reauthorized = grant(4);
            let v3 = store.put_grant(&ada, &reauthorized).await.unwrap();
            assert_eq!(store.finish_refresh(fourth, &grant(5)).await.unwrap(), None);
            assert_eq!(store.grant(&ada).await.unwrap(), Some((reauthorized, v3)));
            assert!(store.try_lock_refresh(&ada, LEASE).await.unwrap().is_some());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_replicas_racing_for_the_refresh_lease_exactly_one_wins() {
        for replicas in Replicas::all().await {
            for _ in 0..10 {
                let ada = person(&replicas.one).await;
                replicas.one.put_grant(&ada, &grant(1)).await.unwrap();
                let wins = replicas
                    .race(move |store| {
                        let ada = ada.clone();
                        async move { store.try_lock_refresh(&ada, LEASE).await.unwrap().is_some() }
                    })
                    .await;
                assert_eq!(wins, 1);
            }
        }
    }
}
