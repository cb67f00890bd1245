//! A bounded loopback load test: many MCP clients over Streamable HTTP against one server
//! on the Make API sandbox with injected upstream faults, used by `scripts/load.sh` (and CI).
//!
//! Usage: `load BIN [CLIENTS] [SECONDS] [FAULTS]` (defaults: 64 clients, 30 s,
//! `500=0.025,503=0.025`, i.e. 5 % of Make API requests fail; `none` for no faults). It starts
//! `BIN --sandbox --sandbox-faults FAULTS http --listen 127.0.0.1:PORT` itself; half the
//! clients speak 2025-11-25, half 2026-07-28. Each client checks that every result belongs to
//! its own call (the id it asked for comes back), that every error is an injected one, and a
//! poller checks `/healthz` throughout while another samples the server's resident memory.
//! Prints calls per second, p50/p99 latency and peak RSS; exits 1 when anything was lost or
//! cross-wired, an error was not injected, `/healthz` failed, or memory kept growing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// What every client counts.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    injected: AtomicU64,
    unexpected: AtomicU64,
    lost: AtomicU64,
    crossed: AtomicU64,
    health_failures: AtomicU64,
}

/// Tells whether a structured result answers the call it came back for.
type Owns = Box<dyn Fn(&Value) -> bool + Send>;

/// One call a client makes, and how to tell that its answer is its own.
fn pick(n: u64) -> (&'static str, Value, Owns) {
    match n % 4 {
        0 => {
            let id = [1001u64, 1002, 1003, 1006][(n / 4 % 4) as usize];
            (
                "connections_get",
                json!({"connectionId": id}),
                Box::new(move |s: &Value| s["connection"]["id"] == id),
            )
        }
        1 => {
            let id = [2001u64, 2002][(n / 4 % 2) as usize];
            (
                "keys_get",
                json!({"keyId": id}),
                Box::new(move |s: &Value| s["key"]["id"] == id),
            )
        }
        2 => (
            "credential-requests_get",
            json!({"requestId": "a07e16f2ad134bf49cf83a00aa95c0a5"}),
            Box::new(|s: &Value| s["request"]["id"] == "a07e16f2ad134bf49cf83a00aa95c0a5"),
        ),
        _ => {
            let team = 1 + n / 4 % 2;
            (
                "keys_list",
                json!({"teamId": team}),
                Box::new(move |s: &Value| {
                    s["keys"]
                        .as_array()
                        .is_some_and(|keys| keys.iter().all(|k| k["teamId"] == team))
                }),
            )
        }
    }
}

/// Errors the injected faults explain (after the client's own retries).
fn injected(text: &str) -> bool {
    ["HTTP 500", "HTTP 502", "HTTP 503", "HTTP 504", "HTTP 429"]
        .iter()
        .any(|s| text.contains(s))
}

async fn connect(url: &str, modern: bool) -> anyhow::Result<RunningService<RoleClient, ()>> {
    let transport = StreamableHttpClientTransport::from_uri(url.to_string());
    Ok(if modern {
        ().serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await?
    } else {
        ().serve(transport).await?
    })
}

async fn client(
    index: u64,
    url: String,
    until: Instant,
    tally: Arc<Tally>,
    latencies: Arc<Mutex<Vec<u32>>>,
) -> anyhow::Result<()> {
    let client = connect(&url, index % 2 == 1).await?;
    let mut mine = Vec::new();
    let mut n = index;
    while Instant::now() < until {
        let (tool, args, check) = pick(n);
        n += 7;
        let Value::Object(args) = args else {
            unreachable!()
        };
        let started = Instant::now();
        let call = client.call_tool(CallToolRequestParams::new(tool).with_arguments(args));
        match tokio::time::timeout(Duration::from_secs(30), call).await {
            Ok(Ok(result)) => {
                mine.push(started.elapsed().as_micros() as u32);
                let text: String = result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect();
                if result.is_error == Some(true) {
                    let counter = if injected(&text) {
                        &tally.injected
                    } else {
                        &tally.unexpected
                    };
                    if !injected(&text) {
                        eprintln!("unexpected error from {tool}: {text}");
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                } else if result.structured_content.as_ref().is_some_and(&check) {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("cross-wired answer to {tool}: {text}");
                    tally.crossed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Err(e)) => {
                eprintln!("lost {tool}: {e}");
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                eprintln!("lost {tool}: no answer in 30 s");
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    latencies.lock().await.extend(mine);
    let _ = client.cancel().await;
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // rmcp's HTTP client builds reqwest clients of its own: give them the TLS provider.
    make_credentials_mcp::make::install_crypto_provider();
    let mut args = std::env::args().skip(1);
    let bin = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: load BIN [CLIENTS] [SECONDS] [FAULTS]"))?;
    let clients: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(30);
    let faults = args.next().unwrap_or_else(|| "500=0.025,503=0.025".into());
    let port = free_port();
    let mut command = tokio::process::Command::new(&bin);
    command.args(["--sandbox", "--no-cli-login"]);
    if faults != "none" {
        command.args(["--sandbox-faults", &faults]);
    }
    let mut server = command
        .args(["http", "--listen", &format!("127.0.0.1:{port}")])
        .env("MAKE_RETRIES", "0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = server.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let http = make_credentials_mcp::make::client_builder()
        .build()
        .unwrap();
    let mut ready = false;
    for _ in 0..200 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::ensure!(ready, "the server did not become healthy");
    println!(
        "load: {clients} clients for {seconds} s against {base}/mcp, faults {faults}, server pid {pid}"
    );

    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let health = {
        let (tally, http, base) = (tally.clone(), http.clone(), base.clone());
        tokio::spawn(async move {
            while Instant::now() < until {
                let ok = tokio::time::timeout(
                    Duration::from_secs(2),
                    http.get(format!("{base}/healthz")).send(),
                )
                .await
                .is_ok_and(|r| r.is_ok_and(|r| r.status().is_success()));
                if !ok {
                    tally.health_failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let memory = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < until {
            samples.extend(rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        samples
    });
    let mut tasks = Vec::new();
    for i in 0..clients {
        tasks.push(tokio::spawn(client(
            i,
            format!("{base}/mcp"),
            until,
            tally.clone(),
            latencies.clone(),
        )));
    }
    let mut failed_clients = 0;
    for task in tasks {
        if !matches!(task.await, Ok(Ok(()))) {
            failed_clients += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    health.await?;
    let samples = memory.await?;
    let _ = server.kill().await;

    let mut lat = latencies.lock().await.clone();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let calls = lat.len() as u64;
    let third = samples.len() / 3;
    let early = samples
        .iter()
        .take(third.max(1))
        .max()
        .copied()
        .unwrap_or(0);
    let late = samples.iter().skip(2 * third).max().copied().unwrap_or(0);
    let peak = samples.iter().max().copied().unwrap_or(0);
    let t = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "calls: {calls} in {elapsed:.1} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms",
        calls as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
    println!(
        "results: {} ok, {} injected errors, {} unexpected errors, {} lost, {} cross-wired; {} clients failed to run; /healthz failures: {}",
        t(&tally.ok),
        t(&tally.injected),
        t(&tally.unexpected),
        t(&tally.lost),
        t(&tally.crossed),
        failed_clients,
        t(&tally.health_failures)
    );
    println!(
        "server RSS: first third max {} KiB, last third max {} KiB, peak {} KiB",
        early, late, peak
    );
    let grew = late > early + early / 4 + 4096;
    let problems = [
        (t(&tally.lost) > 0, "lost responses"),
        (t(&tally.crossed) > 0, "cross-wired responses"),
        (t(&tally.unexpected) > 0, "errors that were not injected"),
        (t(&tally.health_failures) > 0, "/healthz failures"),
        (failed_clients > 0, "clients that could not run"),
        (grew, "memory kept growing"),
        (t(&tally.ok) == 0, "no successful call"),
    ];
    let failed: Vec<&str> = problems
        .iter()
        .filter(|(bad, _)| *bad)
        .map(|(_, what)| *what)
        .collect();
    if failed.is_empty() {
        println!("load: PASS");
        Ok(())
    } else {
        println!("load: FAIL ({})", failed.join(", "));
        std::process::exit(1);
    }
}
