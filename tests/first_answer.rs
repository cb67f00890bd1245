//! `MakeServer::first_answer` resolves once a tool call has been answered, whatever its
//! outcome, and not before: start-up (src/startup.rs) gives its pages back then.

mod common;

use std::time::Duration;

use make_credentials_mcp::make::{ClientSettings, MakeClient};
use make_credentials_mcp::server::MakeServer;
use make_credentials_mcp::transport::in_process;
use rmcp::model::CallToolRequestParams;

#[tokio::test]
async fn resolves_after_the_first_answered_call_only() {
    let server = MakeServer::new(MakeClient::new(&ClientSettings::default()).unwrap(), None);
    let first_answer = server.first_answer();
    let client = in_process::connect(server.clone(), ()).await.unwrap();
    client.list_all_tools().await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(200), server.first_answer()).await;
    assert!(early.is_err(), "resolved before any tool call");
    // No key configured: the call is answered with an error result, which counts too.
    let result = client
        .call_tool(CallToolRequestParams::new("keys_list"))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true), "{}", common::text(&result));
    tokio::time::timeout(Duration::from_secs(5), first_answer)
        .await
        .expect("resolved after the call");
    tokio::time::timeout(Duration::from_secs(5), server.first_answer())
        .await
        .expect("and stays resolved");
    let _ = client.cancel().await;
}
