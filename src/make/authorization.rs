//! `GET /users/me/current-authorization` (make-api.md §4.1): what the key may do.

use serde::Deserialize;

use super::{ApiRequest, MakeClient, MakeError};

/// How the key authenticated and the scopes it holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Authorization {
    /// `token` for a Make API token; other values are unconfirmed.
    #[serde(default)]
    pub(crate) auth_used: Option<String>,
    /// E.g. `connections:read`, `keys:write`.
    pub(crate) scope: Vec<String>,
}

#[derive(Deserialize)]
struct Envelope {
    authorization: Authorization,
}

impl MakeClient {
    /// The key's authorization, as Make reports it.
    pub(crate) async fn current_authorization(&self) -> Result<Authorization, MakeError> {
        let request = ApiRequest::get(&["users", "me", "current-authorization"]);
        Ok(self.send::<Envelope>(&request).await?.authorization)
    }
}
