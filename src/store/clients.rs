//! MCP clients: registered dynamically (RFC 7591), known by a Client ID Metadata Document,
//! or preregistered by the operator. A client's secret is kept only as a hash.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::db;
use super::{Store, StoreError, from_json_list, to_json_list};

/// How a client came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Dynamic client registration (RFC 7591).
    Dynamic,
    /// A Client ID Metadata Document: the client id is the document's https URL.
    MetadataDocument,
    /// Configured by the operator.
    Preregistered,
}

impl ClientKind {
    fn as_str(self) -> &'static str {
        match self {
            ClientKind::Dynamic => "dynamic",
            ClientKind::MetadataDocument => "metadata_document",
            ClientKind::Preregistered => "preregistered",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "dynamic" => ClientKind::Dynamic,
            "metadata_document" => ClientKind::MetadataDocument,
            "preregistered" => ClientKind::Preregistered,
            other => {
                return Err(StoreError::Corrupt {
                    what: "client kind",
                    detail: format!("unknown kind {other:?}"),
                });
            }
        })
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    pub client_id: String,
    /// The hash of the client's secret ([`super::hash_secret`]); `None` for public clients.
    pub secret_hash: Option<String>,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    pub name: Option<String>,
    pub kind: ClientKind,
    /// The registration or metadata document as received (no secrets).
    pub metadata: Value,
    /// Unix seconds.
    pub created_at: i64,
}

type ClientRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    i64,
);

impl Store {
    /// Stores `client`, replacing what was stored under its id (its first `created_at`
    /// is kept).
    pub async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients \
             (client_id, secret_hash, redirect_uris, name, kind, metadata, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, \
             redirect_uris = excluded.redirect_uris, name = excluded.name, \
             kind = excluded.kind, metadata = excluded.metadata",
        )
        .bind(&client.client_id)
        .bind(&client.secret_hash)
        .bind(to_json_list(&client.redirect_uris))
        .bind(&client.name)
        .bind(client.kind.as_str())
        .bind(client.metadata.to_string())
        .bind(client.created_at)
        .execute(&self.pool)
        .await
        .map_err(db("storing a client"))?;
        Ok(())
    }

    /// The client registered under `client_id`.
    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row: Option<ClientRow> = sqlx::query_as(
            "SELECT client_id, secret_hash, redirect_uris, name, kind, metadata, created_at \
             FROM clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a client"))?;
        let Some((client_id, secret_hash, uris, name, kind, metadata, created_at)) = row else {
            return Ok(None);
        };
        Ok(Some(ClientRecord {
            client_id,
            secret_hash,
            redirect_uris: from_json_list("client's redirect URIs", &uris)?,
            name,
            kind: ClientKind::parse(&kind)?,
            metadata: serde_json::from_str(&metadata).map_err(|e| StoreError::Corrupt {
                what: "client's metadata",
                detail: e.to_string(),
            })?,
            created_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::stores;
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_client_reads_back_and_an_upsert_replaces_it_but_keeps_its_creation_time() {
        for store in stores().await {
            let mut client = ClientRecord {
                client_id: "https://client.example/meta.json".into(),
                secret_hash: None,
                redirect_uris: vec!["http://127.0.0.1:3000/cb".into()],
                name: Some("Client".into()),
                kind: ClientKind::MetadataDocument,
                metadata: json!({"client_name": "Client"}),
                created_at: 100,
            };
            assert_eq!(store.client(&client.client_id).await.unwrap(), None);
            store.put_client(&client).await.unwrap();
            assert_eq!(
                store.client(&client.client_id).await.unwrap(),
                Some(client.clone())
            );
            client.secret_hash = Some(super::super::hash_secret("s"));
            client.kind = ClientKind::Dynamic;
            client
                .redirect_uris
                .push("https://client.example/cb".into());
            client.name = None;
            client.created_at = 200;
            store.put_client(&client).await.unwrap();
            let stored = store.client(&client.client_id).await.unwrap().unwrap();
            assert_eq!(stored.created_at, 100);
            assert_eq!(
                stored,
                ClientRecord {
                    created_at: 100,
                    ..client
                }
            );
        }
    }
}
