//! App tools: which modules of an app need which credentials (Make's 20th credential tool).

use crate::tools::Json;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolError;
use super::args::{AppVersion, Parameters};
use super::limits::check_identifier;
use crate::make::apps::AppModule;
use crate::tools::{Toolbox, schema};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ModulesArgs {
    /// App name, e.g. "slack" or "google-sheets"; custom apps as "app#<name>".
    app_name: String,
    /// Major app version such as "2", or "latest" (the default).
    app_version: Option<AppVersion>,
}

/// `{appModules: [...]}`
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ModulesOutput {
    /// The app's modules that need a connection or key.
    app_modules: Vec<AppModule>,
}

#[tool_router(router = apps_router, vis = "pub(crate)")]
impl Toolbox {
    #[tool(
        name = "credential-requests_list-app-modules-with-creds",
        input_schema = schema::input::<ModulesArgs>(),
        output_schema = schema::output::<ModulesOutput>(),
        title = "List app modules with credentials",
        description = "List an app's modules that need credentials: module id, the credential in `type` (`account:<connection types>` or `keychain:<key type>`) and OAuth `scope`. The source of module ids for credential-requests_create and of real scope strings: never guess them.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn credential_requests_list_app_modules(
        &self,
        Parameters(args): Parameters<ModulesArgs>,
    ) -> Result<Json<ModulesOutput>, ToolError> {
        check_identifier("appName", &args.app_name)?;
        let version = args
            .app_version
            .map_or_else(|| "latest".to_string(), |v| v.0);
        let app_modules = self
            .make()
            .app_modules_with_credentials(&args.app_name, &version)
            .await?;
        Ok(Json(ModulesOutput { app_modules }))
    }
}
