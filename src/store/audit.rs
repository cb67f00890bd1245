//! The audit trail: one row per change (or refused or declined change) a person made in
//! Make through this server. Rows name the person, the client, the tool, the object's type
//! and id and the outcome: ids only, never a data value or a secret. The server only
//! appends ([`Store::append_audit`]); rows leave only by retention ([`Store::prune_audit`]).

use serde::Serialize;

use super::error::db;
use super::{Store, StoreError, random_id};

/// What became of an audited call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// Make made the change.
    Done,
    /// Refused before anything was sent to Make (a bad argument, a hidden tool).
    Refused,
    /// Make answered with an error, or the call broke off (see `make_code`, `detail`).
    Failed,
    /// The person declined (or dismissed) the confirmation: nothing changed.
    Declined,
    /// The person confirmed the change (its own outcome follows in another row).
    Confirmed,
    /// A retried delete whose outcome is only probable (the retry found nothing).
    Probable,
}

impl AuditOutcome {
    /// Every outcome, in the order above.
    pub const ALL: [AuditOutcome; 6] = [
        Self::Done,
        Self::Refused,
        Self::Failed,
        Self::Declined,
        Self::Confirmed,
        Self::Probable,
    ];

    /// The stored word: `done`, `refused`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Declined => "declined",
            Self::Confirmed => "confirmed",
            Self::Probable => "probable",
        }
    }
}

impl std::fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored outcome this build does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown audit outcome {0:?}")]
pub struct UnknownOutcome(pub String);

impl std::str::FromStr for AuditOutcome {
    type Err = UnknownOutcome;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == text)
            .ok_or_else(|| UnknownOutcome(text.to_string()))
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// The Make user id (team mode), or the static token's label.
    pub person: String,
    /// The MCP client the person signed in with (team mode only).
    pub client_id: Option<String>,
    pub tool: String,
    /// `connection`, `key`, `credential-request`, ...
    pub object_type: Option<String>,
    /// The object's id (never its data).
    pub object_id: Option<String>,
    pub outcome: AuditOutcome,
    /// Make's error code (`SC403`, `IM005`) or HTTP status, when the call failed at Make.
    pub make_code: Option<String>,
    /// A short note without data values or secrets (e.g. which argument was refused).
    pub detail: Option<String>,
}

/// Which rows [`Store::audit`] returns: all filters given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// At or after these unix seconds.
    pub since: Option<i64>,
    pub person: Option<String>,
    pub tool: Option<String>,
    pub object_id: Option<String>,
    /// At most this many rows (newest first); `None`: all.
    pub limit: Option<u32>,
}

/// at, person, client_id, tool, object_type, object_id, outcome, make_code, detail.
type AuditRow = (
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Appends `entry` to the audit trail.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (id, at, person, client_id, tool, object_type, object_id, \
             outcome, make_code, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(random_id())
        .bind(entry.at)
        .bind(&entry.person)
        .bind(entry.client_id.as_deref())
        .bind(&entry.tool)
        .bind(entry.object_type.as_deref())
        .bind(entry.object_id.as_deref())
        .bind(entry.outcome.as_str())
        .bind(entry.make_code.as_deref())
        .bind(entry.detail.as_deref())
        .execute(&self.pool)
        .await
        .map_err(db("appending to the audit trail"))?;
        Ok(())
    }

    /// The rows `filter` matches, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT at, person, client_id, tool, object_type, object_id, outcome, make_code, \
             detail FROM audit WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = |column: &str, op: &str| {
            n += 1;
            format!(" AND {column} {op} ${n}")
        };
        if filter.since.is_some() {
            sql += &next("at", ">=");
        }
        let texts: Vec<&str> = [
            ("person", &filter.person),
            ("tool", &filter.tool),
            ("object_id", &filter.object_id),
        ]
        .into_iter()
        .filter_map(|(column, value)| {
            let value = value.as_deref()?;
            sql += &next(column, "=");
            Some(value)
        })
        .collect();
        sql += " ORDER BY at DESC, id DESC";
        if filter.limit.is_some() {
            n += 1;
            sql += &format!(" LIMIT ${n}");
        }
        let mut query = sqlx::query_as::<_, AuditRow>(&sql);
        if let Some(since) = filter.since {
            query = query.bind(since);
        }
        for text in texts {
            query = query.bind(text);
        }
        if let Some(limit) = filter.limit {
            query = query.bind(i64::from(limit));
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the audit trail"))?;
        rows.into_iter().map(entry).collect()
    }

    /// Deletes the rows older than `older_than` (unix seconds); returns how many went.
    pub async fn prune_audit(&self, older_than: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM audit WHERE at < $1")
            .bind(older_than)
            .execute(&self.pool)
            .await
            .map_err(db("pruning the audit trail"))?
            .rows_affected())
    }
}

fn entry(row: AuditRow) -> Result<AuditEntry, StoreError> {
    let (at, person, client_id, tool, object_type, object_id, outcome, make_code, detail) = row;
    let outcome = outcome
        .parse()
        .map_err(|e: UnknownOutcome| StoreError::Corrupt {
            what: "audit outcome",
            detail: e.to_string(),
        })?;
    Ok(AuditEntry {
        at,
        person,
        client_id,
        tool,
        object_type,
        object_id,
        outcome,
        make_code,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::stores;
    use super::*;

    fn row(at: i64, person: &str, tool: &str, object: &str, outcome: AuditOutcome) -> AuditEntry {
        AuditEntry {
            at,
            person: person.into(),
            client_id: Some("client-1".into()),
            tool: tool.into(),
            object_type: Some("key".into()),
            object_id: Some(object.into()),
            outcome,
            make_code: (outcome == AuditOutcome::Failed).then(|| "SC403".into()),
            detail: None,
        }
    }

    #[tokio::test]
    async fn rows_come_back_newest_first_and_filtered() {
        for store in stores().await {
            let rows = [
                row(100, "ada", "keys_create", "7", AuditOutcome::Done),
                row(200, "grace", "keys_delete", "7", AuditOutcome::Declined),
                row(300, "ada", "keys_delete", "7", AuditOutcome::Probable),
                row(400, "ada", "connections_delete", "9", AuditOutcome::Failed),
            ];
            for r in &rows {
                store.append_audit(r).await.unwrap();
            }
            let all = store.audit(&AuditFilter::default()).await.unwrap();
            let newest_first: Vec<_> = rows.iter().rev().cloned().collect();
            assert_eq!(all, newest_first, "{}", store.engine());

            let of = |filter: AuditFilter| {
                let store = &store;
                async move {
                    store
                        .audit(&filter)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|e| e.at)
                        .collect::<Vec<_>>()
                }
            };
            let person = |p: &str| Some(p.to_string());
            assert_eq!(
                of(AuditFilter {
                    since: Some(200),
                    ..Default::default()
                })
                .await,
                [400, 300, 200]
            );
            assert_eq!(
                of(AuditFilter {
                    person: person("ada"),
                    ..Default::default()
                })
                .await,
                [400, 300, 100]
            );
            assert_eq!(
                of(AuditFilter {
                    tool: person("keys_delete"),
                    ..Default::default()
                })
                .await,
                [300, 200]
            );
            assert_eq!(
                of(AuditFilter {
                    object_id: person("9"),
                    ..Default::default()
                })
                .await,
                [400]
            );
            assert_eq!(
                of(AuditFilter {
                    since: Some(150),
                    person: person("ada"),
                    tool: person("keys_delete"),
                    object_id: person("7"),
                    limit: None,
                })
                .await,
                [300]
            );
            assert_eq!(
                of(AuditFilter {
                    limit: Some(2),
                    ..Default::default()
                })
                .await,
                [400, 300]
            );
        }
    }

    #[tokio::test]
    async fn pruning_removes_only_rows_older_than_the_cutoff() {
        for store in stores().await {
            for at in [10, 20, 30] {
                store
                    .append_audit(&row(at, "ada", "keys_create", "1", AuditOutcome::Done))
                    .await
                    .unwrap();
            }
            assert_eq!(store.prune_audit(20).await.unwrap(), 1);
            let left: Vec<_> = store
                .audit(&AuditFilter::default())
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.at)
                .collect();
            assert_eq!(left, [30, 20]);
            // Expiry pruning leaves the audit trail alone.
            store.prune(i64::MAX).await.unwrap();
            assert_eq!(store.audit(&AuditFilter::default()).await.unwrap().len(), 2);
        }
    }

    #[test]
    fn outcomes_read_back_as_written() {
        for outcome in AuditOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<AuditOutcome>().unwrap(), outcome);
        }
        assert!("maybe".parse::<AuditOutcome>().is_err());
    }
}
