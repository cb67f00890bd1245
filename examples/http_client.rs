//! A small MCP client for the `http` transport, used by `scripts/scale-out.sh`: it lists the
//! tools, creates a key and reads it back (two dependent calls), in one protocol era, and
//! prints what happened.
//!
//! Usage: `http_client URL legacy|modern` (bearer token from `MCP_AUTH_TOKEN`, if set).
//! `legacy` is a 2025-11-25 client (initialize; stateless when the server is), `modern` a
//! 2026-07-28 client (`server/discover`, no session). Exit code 0 when every step worked.

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // rmcp's HTTP client builds reqwest clients of its own: give them the TLS provider.
    make_credentials_mcp::make::install_crypto_provider();
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3901/mcp".into());
    let era = args.next().unwrap_or_else(|| "modern".into());
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.clone());
    if let Ok(token) = std::env::var("MCP_AUTH_TOKEN") {
        config = config.auth_header(token);
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    let client = match era.as_str() {
        "legacy" => ().serve(transport).await?,
        "modern" => {
            ().serve_with_lifecycle(
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await?
        }
        other => anyhow::bail!("era must be legacy or modern, got {other}"),
    };
    let version = client
        .peer_info()
        .map(|i| i.protocol_version.to_string())
        .unwrap_or_default();
    println!("{era}: connected to {url}, protocol {version}");
    let tools = client.list_all_tools().await?;
    println!("{era}: tools/list -> {} tools", tools.len());
    // Two dependent calls: create a key, then read it back. Behind a round-robin proxy they
    // land on different replicas, which must share nothing but the Make API behind them.
    let create = serde_json::json!({
        "teamId": 1, "name": format!("scale-out {era}"), "typeName": "basicauth",
        "parameters": {"authUser": "demo", "authPass": "demo"}
    });
    let created = call(&client, "keys_create", create).await?;
    println!("{era}: tools/call keys_create -> {}", summary(&created));
    let key_id = created
        .structured_content
        .as_ref()
        .and_then(|s| s["key"]["id"].as_u64())
        .ok_or_else(|| anyhow::anyhow!("keys_create returned no key id"))?;
    let read = call(&client, "keys_get", serde_json::json!({ "keyId": key_id })).await?;
    println!("{era}: tools/call keys_get {key_id} -> {}", summary(&read));
    if created.is_error == Some(true) || read.is_error == Some(true) {
        anyhow::bail!("a tool call failed");
    }
    client.cancel().await?;
    Ok(())
}

async fn call(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &str,
    args: serde_json::Value,
) -> anyhow::Result<rmcp::model::CallToolResult> {
    let args = args.as_object().cloned().unwrap_or_default();
    Ok(client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await?)
}

/// `isError=…` and the first line of the text, cut short.
fn summary(result: &rmcp::model::CallToolResult) -> String {
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| {
            t.text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(100)
                .collect::<String>()
        })
        .unwrap_or_default();
    format!("isError={} ({text})", result.is_error.unwrap_or(false))
}
