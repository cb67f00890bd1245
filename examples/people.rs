//! A benchmark (not a test): many people act through one server at a realistic rate, in team
//! mode (each signs in with Make, the sandbox playing Make) or in the static-token mode (the
//! same number of clients on one token), and what the server costs is measured.
//!
//! Usage: `people BIN team|static [PEOPLE] [SECONDS] [EVERY_SECS]` (defaults: 1000 people,
//! 60 s, one call per person every 10 s). It starts `BIN sandbox --people PEOPLE` and the
//! server (`BIN http`, team mode on a SQLite file, or on the database `PEOPLE_DATABASE_URL`
//! names, e.g. a `scripts/postgres.sh` one) itself, as separate processes, so the
//! server's memory and CPU are its own. Every person uses a connection of their own (a
//! `reqwest` client each), signs in through the whole browser flow (the server's
//! `/authorize`, the sandbox's login and consent, the server's consent page, `/token`), then
//! calls `connections_list` for their own team (team `100000 + n`, which only they can see)
//! at random offsets. An answer that is lost (transport error, non-200) or that is not theirs
//! (an error result: another person's grant would get Make's 403) is counted and printed.
//!
//! Prints: sign-in time, the server's resident memory before and after the people are
//! connected (per person), CPU seconds per call, end-to-end latency p50/p99 through the
//! server, and the same request sent straight to the sandbox at the same rate (the Make
//! call alone); the difference is the server's added latency.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Semaphore};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Resident memory (KiB) and CPU time (seconds) of process `pid`.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command name: state is field 0, utime 11, stime 12 (clock ticks, 100 a second).
    (rss, (ticks(11) + ticks(12)) / 100.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The value of the hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} in the page: {page}"));
    let rest = &page[at..];
    let value = &rest[rest.find("value=\"").expect("a value") + 7..];
    value[..value.find('"').unwrap()].to_string()
}

/// Submits `page`'s form to `url` as the browser would: its hidden ticket and `fields`.
async fn submit(
    http: &reqwest::Client,
    url: String,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let ticket = hidden(page, "ticket");
    let mut form = vec![("ticket", ticket.as_str())];
    form.extend_from_slice(fields);
    http.post(url)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect: {}", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

fn client() -> reqwest::Client {
    make_credentials_mcp::make::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

struct Sandbox {
    api: String,
    key: String,
    issuer: String,
    client_id: String,
    client_secret: String,
}

/// Starts the sandbox and reads what it prints.
fn start_sandbox(bin: &str, port: u16, people: u32, server: &str) -> (Killed, Sandbox) {
    let log = std::env::temp_dir().join(format!("people-bench-sandbox-{port}.log"));
    let child = Command::new(bin)
        .args(["sandbox", "--port", &port.to_string(), "--people"])
        .arg(people.to_string())
        .args(["--oauth-redirect-uri", &format!("{server}/oauth/callback")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let child = Killed(child);
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let printed = |name: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(&format!("export {name}=")))
                .map(String::from)
        };
        if let Some(client_secret) = printed("MAKE_OAUTH_CLIENT_SECRET") {
            return (
                child,
                Sandbox {
                    api: printed("MAKE_API_URL").unwrap(),
                    key: printed("MAKE_API_KEY").unwrap(),
                    issuer: printed("MAKE_OAUTH_ISSUER").unwrap(),
                    client_id: printed("MAKE_OAUTH_CLIENT_ID").unwrap(),
                    client_secret,
                },
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the sandbox did not start");
}

/// Signs person `n` in through the whole browser flow; their access token.
async fn sign_in(http: &reqwest::Client, server: &str, client_id: &str, n: u32) -> String {
    let verifier = format!("verifier-{n}-{}", rand::random::<u64>()).repeat(2);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let start = http
        .get(format!("{server}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    let to_make = location(&start);
    let sandbox = to_make[..to_make.find("/oauth/").unwrap()].to_string();
    let login = http
        .get(&to_make)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let username = format!("person-{n}");
    let login_form = [("username", username.as_str()), ("password", "sandbox")];
    let consent = submit(
        http,
        format!("{sandbox}/oauth/v2/login"),
        &login,
        &login_form,
    )
    .await
    .text()
    .await
    .unwrap();
    let approve = [("decision", "approve")];
    let back = submit(
        http,
        format!("{sandbox}/oauth/v2/consent"),
        &consent,
        &approve,
    )
    .await;
    let page = http.get(location(&back)).send().await.unwrap();
    let page = page.text().await.unwrap();
    let allowed = submit(
        http,
        format!("{server}/consent"),
        &page,
        &[("decision", "allow")],
    )
    .await;
    let to_client = url::Url::parse(&location(&allowed)).unwrap();
    let code = to_client
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {to_client}"));
    let tokens: Value = http
        .post(format!("{server}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_string()
}

#[derive(Default)]
struct Tally {
    through_server: Vec<f64>,
    direct: Vec<f64>,
    lost: u64,
    crossed: u64,
}

#[tokio::main]
async fn main() {
    make_credentials_mcp::make::install_crypto_provider();
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .expect("usage: people BIN team|static [PEOPLE] [SECONDS] [EVERY]");
    let team = args.get(2).map(String::as_str) == Some("team");
    let people: u32 = args.get(3).map_or(1000, |v| v.parse().unwrap());
    let seconds: u64 = args.get(4).map_or(60, |v| v.parse().unwrap());
    let every: f64 = args.get(5).map_or(10.0, |v| v.parse().unwrap());

    let (server_port, sandbox_port) = (free_port(), free_port());
    let server = format!("http://127.0.0.1:{server_port}");
    let (_sandbox, sb) = start_sandbox(bin, sandbox_port, people, &server);
    let work = std::env::temp_dir().join(format!("people-bench-{server_port}"));
    std::fs::create_dir_all(&work).unwrap();
    let static_token = format!("{:032x}", rand::random::<u128>());
    let mut command = Command::new(bin);
    command
        .env_remove("MAKE_API_KEY")
        .env_remove("MCP_AUTH_TOKEN")
        .env("MAKE_API_URL", &sb.api)
        .env("RUST_LOG", "warn")
        .args(["--no-cli-login", "http", "--listen"])
        .arg(format!("127.0.0.1:{server_port}"))
        .args([
            "--max-connections-per-client",
            "4096",
            "--max-sessions",
            "4096",
        ]);
    if team {
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        command
            .env("MCP_AUTH", "oauth")
            .env("MCP_PUBLIC_URL", &server)
            .env(
                "DATABASE_URL",
                std::env::var("PEOPLE_DATABASE_URL")
                    .unwrap_or_else(|_| format!("sqlite://{}/team.db?mode=rwc", work.display())),
            )
            .env("MCP_ENCRYPTION_KEY", key)
            .env("MAKE_OAUTH_ISSUER", &sb.issuer)
            .env("MAKE_OAUTH_CLIENT_ID", &sb.client_id)
            .env("MAKE_OAUTH_CLIENT_SECRET", &sb.client_secret)
            // Every generated person is in the sandbox's one organization: a plan's limit
            // would hold them back, which is not what this measures.
            .env("MAKE_RATE_LIMIT", "0");
    } else {
        command
            .env("MAKE_API_KEY", &sb.key)
            .env("MCP_AUTH_TOKEN", &static_token);
    }
    let child = Killed(
        command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.join("server.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let probe = client();
    let ready = Instant::now();
    while probe.get(format!("{server}/healthz")).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (rss_start, _) = usage(pid);

    // Everyone signs in (team mode), 32 at a time, each on a connection of their own.
    let clients: Vec<reqwest::Client> = (0..people).map(|_| client()).collect();
    let signing = Instant::now();
    let tokens: Vec<String> = if team {
        let registered: Value = probe
            .post(format!("{server}/register"))
            .json(
                &json!({"redirect_uris": [REDIRECT], "client_name": "people benchmark",
                "token_endpoint_auth_method": "none"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let client_id = Arc::new(registered["client_id"].as_str().unwrap().to_string());
        let gate = Arc::new(Semaphore::new(32));
        let mut tasks = Vec::new();
        for (i, http) in clients.iter().enumerate() {
            let (http, server, client_id, gate) = (
                http.clone(),
                server.clone(),
                client_id.clone(),
                gate.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                sign_in(&http, &server, &client_id, i as u32 + 1).await
            }));
        }
        let mut tokens = Vec::new();
        for task in tasks {
            tokens.push(task.await.unwrap());
        }
        tokens
    } else {
        vec![static_token.clone(); people as usize]
    };
    let signed_in = signing.elapsed();

    // The calls: each person every EVERY seconds from a random offset, plus the same
    // request straight to the sandbox at the same rate (the Make call alone).
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (_, cpu_before) = usage(pid);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (i, (http, token)) in clients.iter().zip(tokens).enumerate() {
        let (http, server, tally) = (http.clone(), server.clone(), tally.clone());
        let direct = format!("{}/connections?teamId=1", sb.api);
        let key = format!("Token {}", sb.key);
        let team_id = if team { 100_001 + i as u64 } else { 1 };
        tasks.push(tokio::spawn(async move {
            let offset = rand::random_range(0.0..every);
            tokio::time::sleep(Duration::from_secs_f64(offset)).await;
            let mut calls = 0u64;
            while Instant::now() < end {
                let body = json!({"jsonrpc": "2.0", "id": calls, "method": "tools/call",
                    "params": {"name": "connections_list", "arguments": {"teamId": team_id}}});
                let sent = Instant::now();
                let answer = http
                    .post(format!("{server}/mcp"))
                    .bearer_auth(&token)
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-protocol-version", "2025-11-25")
                    .json(&body)
                    .send()
                    .await;
                let answer: Option<Value> = match answer {
                    Ok(r) if r.status().is_success() => r.json().await.ok(),
                    _ => None,
                };
                let took = sent.elapsed().as_secs_f64() * 1000.0;
                let sent = Instant::now();
                let direct_ok = http
                    .get(&direct)
                    .header("authorization", &key)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                let direct_took = sent.elapsed().as_secs_f64() * 1000.0;
                let mut t = tally.lock().await;
                match answer {
                    None => t.lost += 1,
                    Some(a)
                        if a["id"] != calls
                            || a["result"]["isError"] == true
                            || !a["result"]["structuredContent"]["connections"].is_array() =>
                    {
                        t.crossed += 1
                    }
                    Some(_) => t.through_server.push(took),
                }
                if direct_ok {
                    t.direct.push(direct_took);
                }
                drop(t);
                calls += 1;
                tokio::time::sleep(Duration::from_secs_f64(every)).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (rss_end, cpu_after) = usage(pid);
    let mut t = tally.lock().await;
    t.through_server.sort_by(f64::total_cmp);
    t.direct.sort_by(f64::total_cmp);
    let calls = t.through_server.len() as u64 + t.crossed + t.lost;
    let mode = match (team, std::env::var("PEOPLE_DATABASE_URL")) {
        (true, Ok(url)) if url.starts_with("postgres") => "team (OAuth, Postgres)",
        (true, _) => "team (OAuth, SQLite)",
        (false, _) => "static token",
    };
    println!("mode: {mode}; {people} people, {seconds} s, one call each every {every} s");
    if team {
        println!("sign-in of everyone: {:.1} s", signed_in.as_secs_f64());
    }
    println!(
        "server memory: {:.1} MiB at start, {:.1} MiB with everyone connected: {:.1} KiB per person",
        rss_start as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        (rss_end.saturating_sub(rss_start)) as f64 / f64::from(people)
    );
    println!(
        "calls: {calls} ({:.1}/s); CPU per call: {:.3} ms",
        calls as f64 / seconds as f64,
        (cpu_after - cpu_before) * 1000.0 / calls.max(1) as f64
    );
    let (p50, p99) = (
        percentile(&t.through_server, 0.5),
        percentile(&t.through_server, 0.99),
    );
    let (d50, d99) = (percentile(&t.direct, 0.5), percentile(&t.direct, 0.99));
    println!("through the server: p50 {p50:.2} ms, p99 {p99:.2} ms");
    println!("straight to the sandbox: p50 {d50:.2} ms, p99 {d99:.2} ms");
    println!(
        "added by the server: p50 {:.2} ms, p99 {:.2} ms",
        p50 - d50,
        p99 - d99
    );
    println!("lost: {}, not the caller's own: {}", t.lost, t.crossed);
    let _ = std::fs::remove_dir_all(&work);
    if t.lost + t.crossed > 0 {
        std::process::exit(1);
    }
}
