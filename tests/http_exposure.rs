//! Allowing a non-loopback `Host` or `Origin` exposes the server (the reverse-proxy setup:
//! loopback listener, public name), so it needs a token like a public listen address does;
//! loopback names stay allowed without one.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::*;
use make_credentials_mcp::transport::http::{
    self, BearerToken, HttpOptions, SecurityError, security,
};

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[test]
fn the_library_refuses_public_names_without_a_token() {
    let lo: SocketAddr = "127.0.0.1:3901".parse().unwrap();
    let token = BearerToken::new(TOKEN).unwrap();
    let host = strings(&["mcp.example.com"]);
    let origin = strings(&["https://app.example.com:443"]);
    assert_eq!(
        security::check_exposure(lo, &host, &[], None),
        Err(SecurityError::ExposedWithoutToken {
            flag: "--allowed-host",
            value: "mcp.example.com".into()
        })
    );
    assert!(matches!(
        security::check_exposure(lo, &[], &origin, None),
        Err(SecurityError::ExposedWithoutToken {
            flag: "--allowed-origin",
            ..
        })
    ));
    assert!(security::check_exposure(lo, &host, &origin, Some(&token)).is_ok());
    let loopback = strings(&[
        "localhost",
        "localhost:3901",
        "127.0.0.1",
        "[::1]:3901",
        "::1",
    ]);
    let loopback_pages = strings(&["http://localhost:*", "http://127.0.0.1:6274"]);
    assert!(security::check_exposure(lo, &loopback, &loopback_pages, None).is_ok());
}

#[tokio::test]
async fn serve_on_refuses_public_names_without_a_token() {
    for options in [
        HttpOptions {
            allowed_hosts: strings(&["mcp.example.com"]),
            ..HttpOptions::default()
        },
        HttpOptions {
            allowed_origins: strings(&["https://app.example.com:443"]),
            ..HttpOptions::default()
        },
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            http::serve_on(
                listener,
                server_without_key(),
                options,
                std::future::pending(),
            ),
        )
        .await
        .expect("refused at once, not served");
        assert!(
            matches!(
                result,
                Err(http::HttpError::Security(
                    SecurityError::ExposedWithoutToken { .. }
                ))
            ),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn binary_exits_2_for_a_public_allowed_host_without_token() {
    let out = run_binary(
        &[
            "--no-cli-login",
            "http",
            "--listen",
            "127.0.0.1:0",
            "--allowed-host",
            "mcp.example.com",
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing --allowed-host mcp.example.com without an auth token"),
        "{stderr}"
    );
    assert!(stderr.contains("MCP_AUTH_TOKEN"), "{stderr}");
}

#[tokio::test]
async fn binary_exits_2_for_a_public_allowed_origin_without_token() {
    let out = run_binary(
        &[
            "--no-cli-login",
            "http",
            "--listen",
            "127.0.0.1:0",
            "--allowed-origin",
            "https://app.example.com:443",
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing --allowed-origin https://app.example.com:443"),
        "{stderr}"
    );
}

/// The same flags with a token, or with loopback names only, start the server.
#[cfg(unix)]
#[tokio::test]
async fn binary_serves_loopback_names_without_token_and_public_names_with_one() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let cases: [(&[&str], Option<&str>); 2] = [
        (
            &[
                "--allowed-host",
                "localhost:3901",
                "--allowed-origin",
                "http://localhost:*",
            ],
            None,
        ),
        (&["--allowed-host", "mcp.example.com"], Some(TOKEN)),
    ];
    for (flags, token) in cases {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
            .args(flags)
            .env_remove("MAKE_API_KEY")
            .env_remove("MCP_AUTH_TOKEN")
            .env("RUST_LOG", "make_credentials_mcp=info")
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(token) = token {
            command.env("MCP_AUTH_TOKEN", token);
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let serving = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("serving MCP over HTTP") {
                    return true;
                }
            }
            false
        })
        .await
        .expect("starts in time");
        assert!(serving, "{flags:?} did not start");
        child.kill().await.unwrap();
    }
}

/// A reverse proxy on the same host forwards a loopback `Host`, which the allow-list takes:
/// without a token, a request that carries a proxy's headers is refused, and says to set one.
#[tokio::test]
async fn a_tokenless_binary_refuses_requests_that_came_through_a_proxy() {
    let (child, _lines, _log, url) = spawn_tokenless_http(&[], None).await;
    let direct = send_initialize(&url).await;
    assert_eq!(direct.status(), 200, "a direct request is served");
    for (name, value) in [
        ("Forwarded", "for=203.0.113.7;proto=https"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Host", "mcp.example.com"),
        ("X-Forwarded-Proto", "https"),
        ("Via", "1.1 nginx"),
        ("X-Real-IP", "203.0.113.7"),
    ] {
        let response = post(&url, initialize_body())
            .await
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains("through a proxy") && text.contains("MCP_AUTH_TOKEN"),
            "{name}: {text}"
        );
    }
    drop(child);
}

/// With a token, a proxied request that presents it is served.
#[tokio::test]
async fn a_binary_with_a_token_serves_proxied_requests_that_present_it() {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(["--no-cli-login", "http", "--listen", "127.0.0.1:0"])
        .env_remove("MAKE_API_KEY")
        .env_remove("RUST_LOG")
        .env("MCP_AUTH_TOKEN", TOKEN);
    let (child, _lines, _log, url) = spawn_and_read_log(&mut command, "url").await;
    let response = post(&url, initialize_body())
        .await
        .header("X-Forwarded-For", "203.0.113.7")
        .header("Via", "1.1 nginx")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(child);
}
