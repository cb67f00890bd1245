//! People: one per Make user, identified to the rest of the server by a [`PersonId`] this
//! store draws (so that the Make user id need not travel in tokens and payloads).

use serde::{Deserialize, Serialize};

use super::error::db;
use super::{Store, StoreError, random_id};

/// A person's id in this store: 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonId(pub String);

impl PersonId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PersonId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub id: PersonId,
    /// Make's `sub` for this person.
    pub make_user_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The Make organization the person's calls count against, when known.
    pub organization_id: Option<u64>,
    /// The requests a minute that organization's plan allows, when Make said.
    pub organization_api_limit: Option<u32>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// make_user_id, name, email, organization_id, organization_api_limit, created_at,
/// updated_at.
type PersonRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
);

impl Store {
    /// The person of Make user `make_user_id`, created on first sign-in; a later sign-in
    /// updates the name and email it brings (a `None` keeps the stored one). Replicas
    /// signing one new person in at once get the same id.
    pub async fn upsert_person(
        &self,
        make_user_id: &str,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<PersonId, StoreError> {
        let (id,): (String,) = sqlx::query_as(
            "INSERT INTO people (id, make_user_id, name, email, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (make_user_id) DO UPDATE SET \
             name = COALESCE(excluded.name, people.name), \
             email = COALESCE(excluded.email, people.email), \
             updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(random_id())
        .bind(make_user_id)
        .bind(name)
        .bind(email)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await
        .map_err(db("storing a person"))?;
        Ok(PersonId(id))
    }

    /// The person stored under `id`.
    pub async fn person(&self, id: &PersonId) -> Result<Option<PersonRecord>, StoreError> {
        let row: Option<PersonRow> = sqlx::query_as(
            "SELECT make_user_id, name, email, organization_id, organization_api_limit, \
             created_at, updated_at FROM people WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a person"))?;
        Ok(row.map(
            |(make_user_id, name, email, organization_id, api_limit, created_at, updated_at)| {
                PersonRecord {
                    id: id.clone(),
                    make_user_id,
                    name,
                    email,
                    organization_id: organization_id.and_then(|o| u64::try_from(o).ok()),
                    organization_api_limit: api_limit.and_then(|l| u32::try_from(l).ok()),
                    created_at,
                    updated_at,
                }
            },
        ))
    }

    /// Records the Make organization `id`'s calls count against and the requests a minute
    /// its plan allows (both learned at sign-in). When Make did not say the limit this time
    /// (`None`), the one stored for the same organization is kept; for another organization
    /// it is cleared.
    pub async fn set_person_organization(
        &self,
        id: &PersonId,
        organization_id: u64,
        api_limit: Option<u32>,
    ) -> Result<(), StoreError> {
        let organization = i64::try_from(organization_id).map_err(|_| StoreError::Corrupt {
            what: "an organization id",
            detail: format!("{organization_id} is out of range"),
        })?;
        // Every SET expression reads the row as it was, on SQLite and Postgres alike.
        sqlx::query(
            "UPDATE people SET organization_api_limit = CASE WHEN organization_id = $1 \
             THEN COALESCE($2, organization_api_limit) ELSE $3 END, organization_id = $4 \
             WHERE id = $5",
        )
        .bind(organization)
        .bind(api_limit.map(i64::from))
        .bind(api_limit.map(i64::from))
        .bind(organization)
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .map_err(db("storing a person's organization"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Replicas, stores};
    use super::*;

    #[tokio::test]
    async fn a_person_is_created_once_and_updated_by_later_sign_ins() {
        for store in stores().await {
            let sub = random_id();
            let id = store.upsert_person(&sub, Some("Ada"), None).await.unwrap();
            let first = store.person(&id).await.unwrap().unwrap();
            assert_eq!(
                (first.name.as_deref(), first.email.as_deref()),
                (Some("Ada"), None)
            );
            store.advance(5);
            let again = store
                .upsert_person(&sub, None, Some("ada@example.com"))
                .await
                .unwrap();
            assert_eq!(again, id);
            let later = store.person(&id).await.unwrap().unwrap();
            assert_eq!(later.make_user_id, sub);
            assert_eq!(later.name.as_deref(), Some("Ada"));
            assert_eq!(later.email.as_deref(), Some("ada@example.com"));
            assert_eq!(later.created_at, first.created_at);
            assert_eq!(later.organization_id, None, "unknown until learned");
            store
                .set_person_organization(&id, 4_000_000_001, Some(240))
                .await
                .unwrap();
            let known = store.person(&id).await.unwrap().unwrap();
            assert_eq!(known.organization_id, Some(4_000_000_001));
            assert_eq!(known.organization_api_limit, Some(240));
            // A sign-in whose limit look-up failed keeps the limit of the same organization,
            // and clears it when the organization changed.
            store
                .set_person_organization(&id, 4_000_000_001, None)
                .await
                .unwrap();
            let kept = store.person(&id).await.unwrap().unwrap();
            assert_eq!(kept.organization_api_limit, Some(240));
            store.set_person_organization(&id, 7, None).await.unwrap();
            let moved = store.person(&id).await.unwrap().unwrap();
            assert_eq!(
                (moved.organization_id, moved.organization_api_limit),
                (Some(7), None)
            );
            store
                .set_person_organization(&id, 4_000_000_001, Some(240))
                .await
                .unwrap();
            store.upsert_person(&sub, None, None).await.unwrap();
            assert_eq!(
                store.person(&id).await.unwrap().unwrap().organization_id,
                Some(4_000_000_001),
                "a later sign-in keeps it until it learns another"
            );
            assert_eq!(later.updated_at, first.created_at + 5);
            let other = store.upsert_person(&random_id(), None, None).await.unwrap();
            assert_ne!(other, id);
            assert_eq!(
                store.person(&PersonId("nobody".into())).await.unwrap(),
                None
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_signing_in_one_new_person_at_once_agree_on_the_id() {
        for replicas in Replicas::all().await {
            let sub = random_id();
            let ids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = std::sync::Arc::clone(&ids);
            replicas
                .race(move |store| {
                    let (sub, seen) = (sub.clone(), std::sync::Arc::clone(&seen));
                    async move {
                        let id = store.upsert_person(&sub, None, None).await.unwrap();
                        seen.lock().unwrap().push(id);
                        true
                    }
                })
                .await;
            let ids = ids.lock().unwrap();
            assert_eq!(ids.len(), 4);
            assert!(ids.iter().all(|id| *id == ids[0]));
        }
    }
}
