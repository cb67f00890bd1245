//! The pre-check of credential-requests_extend-connection: Make fails an extension that asks
//! for no new scope, so only the scopes the connection lacks are requested, and none at all
//! when it has them all.

use crate::make::{MakeClient, MakeError};
use crate::tools::ToolError;

/// The requested scopes the connection does not have yet. Make's connection may come
/// without its `scopes` list; then `/scoped` says whether all of them are there. When the
/// connection cannot be read for a reason other than its absence (e.g. the key lacks
/// connections:read), every requested scope is taken as missing and Make decides.
pub(super) async fn scopes_missing_from(
    make: &MakeClient,
    connection_id: u64,
    requested: &[String],
) -> Result<Vec<String>, ToolError> {
    let granted = match make.get_connection(connection_id).await {
        Ok(connection) => connection.scopes,
        Err(e @ MakeError::NotConfigured(_)) => return Err(e.into()),
        Err(MakeError::Api(api)) if matches!(api.status, 401 | 404) => {
            return Err(MakeError::Api(api).into());
        }
        Err(e) => {
            tracing::warn!(connection_id, error = %crate::logging::quote(&e), "could not read the connection's scopes; extending with every requested scope");
            return Ok(requested.to_vec());
        }
    };
    if let Some(granted) = granted {
        let granted: Vec<String> = granted.into_iter().map(|s| s.id).collect();
        return Ok(requested
            .iter()
            .filter(|s| !granted.contains(s))
            .cloned()
            .collect());
    }
    match make.connection_has_scopes(connection_id, requested).await {
        Ok(true) => Ok(Vec::new()),
        Ok(false) => Ok(requested.to_vec()),
        Err(e) => {
            tracing::warn!(connection_id, error = %crate::logging::quote(&e), "could not check the connection's scopes; extending with every requested scope");
            Ok(requested.to_vec())
        }
    }
}
