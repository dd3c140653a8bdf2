//! The gateway under abuse: figures the fault suite cannot time.
//!
//! - Head of line: a small request's latency (median, p99) through the
//!   gateway (two serving threads, as the binary runs on two cores), alone
//!   and while four clients keep sending 32 MiB hostile bodies (text built
//!   to keep partial matches alive: token prefixes, key fragments, digit
//!   groups) on connections of their own.
//! - Inspection cost: the worst time per MiB of inspecting such a body.
//! - Memory per stream: process RSS with 1,000 concurrent paced streams
//!   open through the gateway, minus the same 1,000 streams straight to
//!   the mock (client and mock cost the same in both), per stream; and RSS
//!   4.5 s after they ended (the gateway trims the allocator after a
//!   burst).
//!
//! `cargo bench -p rulegate-benches --bench abuse` (env `SMALL_REQUESTS`,
//! default 1000; `STREAMS`, default 1000). `cargo test --benches` runs a
//! quick pass.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rulegate_benches::Rng;
use rulegate_mock_upstream::{anthropic_responder, Block, MockUpstream, Reply, Script};
use rulegate_proxy::adapter::anthropic::Anthropic;
use rulegate_proxy::adapter::ApiAdapter;
use rulegate_proxy::{Config, Workers};
use tokio::net::TcpStream;

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let env = |name: &str, full: usize, short: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { short } else { full })
    };
    let small_requests = env("SMALL_REQUESTS", 1000, 20);
    let streams = env("STREAMS", 1000, 50);
    let hostile_mib = if quick { 1 } else { 32 };

    let hostile = hostile_body(hostile_mib << 20);
    inspection_cost(&hostile, hostile_mib);
    head_of_line(&hostile, small_requests, quick);
    memory_per_stream(streams);
}

/// A Messages body whose tool result is `size` bytes of text that keeps
/// the automaton's partial matches alive.
fn hostile_body(size: usize) -> Bytes {
    const FRAGMENTS: &[&str] = &[
        "ghp_",
        "gho_",
        "xoxb-",
        "xoxp-",
        "AKIA",
        "ASIA",
        "sk-ant-api03-",
        "sk-proj-",
        "glpat-",
        "AIza",
        "-----BEGIN ",
        "eyJhbGciOi",
        "Bearer ",
        "api_key=",
        "password: ",
        "secret=",
        "token ",
        "4111 1111 ",
        "GB82 WEST ",
        "AB 12 34 ",
        "user.name@",
        "${API_",
        "8Q~",
        ".atlasv1.",
        "npm_",
        "SG.",
        "xai-",
        "hf_",
    ];
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = Rng::new(12);
    let mut text = String::with_capacity(size + 64);
    if std::env::var_os("ABUSE_PLAIN").is_some() {
        // A control: as large, but nothing for the automaton to chew on.
        text.push_str(&"plain words ".repeat(size / 12));
    }
    while text.len() < size {
        text.push_str(rng.pick(FRAGMENTS));
        let run = 3 + rng.below(24);
        text.push_str(&rng.string_from(ALNUM, run));
        text.push(if rng.below(4) == 0 { '\n' } else { ' ' });
    }
    let body = serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": text},
            {"type": "text", "text": "what is in there?"},
        ]}],
    });
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

fn inspection_cost(hostile: &Bytes, mib: usize) {
    let rules = rulegate_benches::shipped_rule_set();
    let started = Instant::now();
    let inspection = Anthropic
        .inspect_request("messages", &rules.into(), hostile)
        .expect("valid JSON");
    let took = started.elapsed();
    let _ = inspection;
    println!(
        "inspection of a {mib} MiB hostile body: {:.2} s, {:.0} ms per MiB",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / mib as f64
    );
}

fn small_request() -> Bytes {
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "Say hi."}],
        }))
        .unwrap(),
    )
}

fn post(body: Bytes) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("x-api-key", "bench")
        .body(Full::new(body))
        .unwrap()
}

async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn head_of_line(hostile: &Bytes, count: usize, quick: bool) {
    let mock_runtime = runtime(2);
    // The mock answers large bodies without parsing them: what is measured
    // is the gateway, not serde_json in the mock.
    let scripted = anthropic_responder(Script::text("hi"));
    let responder: rulegate_mock_upstream::Responder = Arc::new(move |request| {
        if request.body.len() > 1 << 20 {
            Reply::json_text(
                200,
                r#"{"type":"message","content":[{"type":"text","text":"ok"}]}"#,
            )
        } else {
            scripted(request)
        }
    });
    let upstream = mock_runtime.block_on(async { MockUpstream::start(responder).await.unwrap() });
    let mut config = Config::new(upstream.url().parse().unwrap());
    config.max_body_bytes = hostile.len() as u64 + 1024;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let workers =
        Workers::start(listener, 2, rulegate_benches::shipped_rule_set(), config).expect("gateway");
    let addr = workers.address();
    let client = runtime(1);
    let attackers = runtime(1);

    let measure = |label: &str| {
        let mut times = client.block_on(async {
            let mut sender = connect(addr).await;
            let mut times = Vec::with_capacity(count);
            for _ in 0..count {
                let started = Instant::now();
                let response = sender.send_request(post(small_request())).await.unwrap();
                response.into_body().collect().await.unwrap();
                times.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            times
        });
        times.sort();
        println!(
            "small request, {label}: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
            times.last().unwrap().as_secs_f64() * 1000.0,
        );
    };
    measure("alone");

    let running = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..4 {
        let (running, sent, hostile) = (running.clone(), sent.clone(), hostile.clone());
        attackers.spawn(async move {
            let mut sender = connect(addr).await;
            while running.load(Ordering::Relaxed) {
                let response = sender.send_request(post(hostile.clone())).await.unwrap();
                response.into_body().collect().await.unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // Let the hostile bodies arrive and their inspections start.
    std::thread::sleep(Duration::from_millis(if quick { 200 } else { 1500 }));
    measure("with four clients sending hostile bodies");
    running.store(false, Ordering::Relaxed);
    println!(
        "  (hostile bodies inspected meanwhile: {})",
        sent.load(Ordering::Relaxed)
    );
    workers.stop();
    attackers.shutdown_timeout(Duration::from_millis(100));
    let _ = workers.join();
    mock_runtime.block_on(async move { drop(upstream) });
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Opens `count` paced streams to `addr`, waits until each has its first
/// bytes, reads RSS, then lets them finish.
fn open_streams(addr: SocketAddr, count: usize) -> (u64, Vec<u64>) {
    let client = runtime(1);
    let body = Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "model": "m", "max_tokens": 9, "stream": true,
            "messages": [{"role": "user", "content": "tell me a story"}],
        }))
        .unwrap(),
    );
    client.block_on(async {
        let started = Arc::new(tokio::sync::Barrier::new(count + 1));
        let mut tasks = Vec::new();
        for _ in 0..count {
            let (body, started) = (body.clone(), started.clone());
            tasks.push(tokio::spawn(async move {
                let mut sender = connect(addr).await;
                let response = sender.send_request(post(body)).await.unwrap();
                let mut body = response.into_body();
                let mut bytes = 0u64;
                let mut first = true;
                while let Some(frame) = body.frame().await {
                    bytes += frame.unwrap().data_ref().map_or(0, |d| d.len() as u64);
                    if std::mem::take(&mut first) {
                        started.wait().await;
                    }
                }
                bytes
            }));
        }
        started.wait().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss = rss_kib();
        let mut sizes = Vec::new();
        for task in tasks {
            sizes.push(task.await.unwrap());
        }
        (rss, sizes)
    })
}

fn memory_per_stream(count: usize) {
    let mock_runtime = runtime(1);
    // About 3 s per stream: 300 deltas, 10 ms apart.
    let text: String = (0..300).map(|i| format!("word{i:03} ")).collect();
    let upstream = mock_runtime.block_on(async {
        MockUpstream::start(anthropic_responder(Script {
            blocks: vec![Block::Text(text)],
            delta_size: 8,
            frame_size: usize::MAX,
            delay: Duration::from_millis(10),
            ping_every: 0,
        }))
        .await
        .unwrap()
    });
    let upstream_addr: SocketAddr = upstream
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let before = rss_kib();
    let (direct, _) = open_streams(upstream_addr, count);
    let after_direct = rss_kib();

    let mut config = Config::new(upstream.url().parse().unwrap());
    config.max_connections = count * 2;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let workers =
        Workers::start(listener, 2, rulegate_benches::shipped_rule_set(), config).expect("gateway");
    let (through, sizes) = open_streams(workers.address(), count);
    // The gateway looks every 2 s for a burst that ended and gives the
    // freed memory back.
    std::thread::sleep(Duration::from_millis(4500));
    let after = rss_kib();
    assert!(
        sizes.iter().all(|&s| s == sizes[0]),
        "every stream complete"
    );
    let per_stream = through.saturating_sub(direct.max(after_direct)) as f64 / count as f64;
    println!(
        "{count} concurrent streams: RSS {} MiB direct, {} MiB through the gateway: {:.0} KiB per stream (process RSS before {} MiB, after the burst {} MiB)",
        direct / 1024,
        through / 1024,
        per_stream,
        before / 1024,
        after / 1024,
    );
    workers.stop();
    let _ = workers.join();
    mock_runtime.block_on(async move { drop(upstream) });
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime")
}
