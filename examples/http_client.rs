//! A small MCP client for the `http` transport, used by `scripts/scale-out.sh`: it lists the
//! tools and calls `keys_list` twice, in one protocol era, and prints what happened.
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
    for n in 1..=2 {
        let args = serde_json::json!({"teamId": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let result = client
            .call_tool(CallToolRequestParams::new("keys_list").with_arguments(args))
            .await?;
        let first_line = result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.lines().next().unwrap_or("").to_string())
            .unwrap_or_default();
        println!(
            "{era}: tools/call keys_list #{n} -> isError={} ({first_line})",
            result.is_error.unwrap_or(false)
        );
    }
    client.cancel().await?;
    Ok(())
}
