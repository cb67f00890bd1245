//! App modules that need credentials: where module ids and scopes for credential requests come from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::redact::Extra;
use super::{ApiRequest, MakeClient, MakeError};

/// A module of an app, with the credential it needs.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct AppModule {
    /// Module id to pass in credential-requests_create `appModules` (may contain colons).
    pub(crate) id: String,
    /// Module name.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Human label, e.g. "Send a Message".
    #[serde(default)]
    pub(crate) label: Option<String>,
    /// The credential it needs: `account:<type>[,<type>...]` (a connection) or `keychain:<type>` (a key).
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// OAuth scopes the module needs.
    #[serde(default)]
    pub(crate) scope: Option<Vec<String>>,
    /// Whether the module is a webhook trigger.
    #[serde(default)]
    pub(crate) hook: Option<bool>,
    /// Any further fields Make returns, passed through without secret-looking ones.
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppModulesEnvelope {
    app_modules: Vec<AppModule>,
}

impl MakeClient {
    /// `GET /credential-requests/apps/{appName}/{version|latest}/modules-with-credentials`.
    pub(crate) async fn app_modules_with_credentials(
        &self,
        app: &str,
        version: &str,
    ) -> Result<Vec<AppModule>, MakeError> {
        let request = ApiRequest::get(&[
            "credential-requests",
            "apps",
            app,
            version,
            "modules-with-credentials",
        ]);
        Ok(self.send::<AppModulesEnvelope>(&request).await?.app_modules)
    }
}
