//! What the gateway adds to a Claude Code turn, against a naive Node
//! gateway, when the client resends the conversation every turn.
//!
//! One mock upstream (a short streamed reply, written at once), reached
//! directly, through `naive-gateway.js` (reads the body, runs one GitHub
//! token regex over it, forwards, pipes the reply back), and through
//! rulegate (shipped packs, one serving thread per core as the binary runs)
//! with its outcome memory on (64 MiB) and off. The same HTTP/1.1
//! keep-alive client sends every target the same request in turn, so drift
//! on the machine affects them alike.
//!
//! Requests: a conversation starts from `claude_code_request` (about
//! 70 KB) and each turn resends the history plus the assistant's last
//! answer and a new user message (about 600 bytes a turn), as Claude Code
//! does, so requests are 70 to 85 KB, about 78 KB on average; the first request of each conversation (cold memory) is not
//! counted. Figure: time to first byte (request sent → first body byte),
//! median per target; "added" is a gateway's median minus direct's.
//!
//! Also: what a text costs scanned and what a look-up in the memory costs,
//! by length (where [`MIN_REMEMBERED_LEN`] comes from).
//!
//! `cargo bench -p rulegate-benches --bench conversation` (env
//! `CONVERSATIONS`, default 10, and `TURNS`, default 21; `INSPECTION_ONLY=N`
//! repeats the warm in-process inspection N times for a profiler). Skips the Node
//! gateway, saying so, when `node` is not on the PATH.
//!
//! [`MIN_REMEMBERED_LEN`]: rulegate_proxy::outcome_memory::MIN_REMEMBERED_LEN

#[path = "bench_client.rs"]
mod bench_client;
use bench_client::{connect, timed};

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rulegate_engine::{Scope, Side};
use rulegate_mock_upstream::{anthropic_responder, Block, MockUpstream, Script};
use rulegate_proxy::adapter::anthropic::Anthropic;
use rulegate_proxy::adapter::ApiAdapter;
use rulegate_proxy::{Config, Generation, OutcomeMemory, Workers};
use serde_json::{json, Value};

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and expects a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let conversations = env("CONVERSATIONS", if quick { 1 } else { 10 }).max(1);
    let turns = env("TURNS", if quick { 3 } else { 21 }).max(2);

    threshold_figures(quick);

    let conversation: Vec<Vec<Bytes>> = (0..conversations)
        .map(|c| conversation(c as u64, turns))
        .collect();
    inspection_figures(&conversation[0]);
    if let Some(rounds) = std::env::var_os("INSPECTION_ONLY") {
        // For a profiler: the warm inspection alone, many times (the
        // variable's value, else 200).
        let rounds: usize = rounds.to_str().and_then(|r| r.parse().ok()).unwrap_or(200);
        let remembering = Generation::new(rulegate_benches::shipped_rule_set(), 64 << 20);
        for _ in 0..rounds {
            for body in &conversation[0] {
                std::hint::black_box(
                    Anthropic
                        .inspect_request("messages", &remembering, body)
                        .ok(),
                );
            }
        }
        return;
    }

    let mock_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("mock runtime");
    let mock = mock_runtime.block_on(async {
        let script = Script {
            blocks: vec![Block::Text("Looking at the failing test now.".to_owned())],
            delta_size: 8,
            frame_size: usize::MAX,
            delay: Duration::ZERO,
            ping_every: 0,
        };
        MockUpstream::start(anthropic_responder(script))
            .await
            .expect("mock upstream")
    });
    let gateway = |memory_mib: u64| {
        let mut config = Config::new(mock.url().parse().expect("mock URL"));
        config.outcome_memory_bytes = memory_mib << 20;
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        Workers::start(
            listener,
            workers,
            rulegate_benches::shipped_rule_set(),
            config,
        )
        .expect("gateway")
    };
    let remembering = gateway(Config::DEFAULT_OUTCOME_MEMORY_MB);
    let scanning = gateway(0);
    let node = NodeGateway::start(&mock.url());

    let mut targets = vec![("direct", mock.addr())];
    if let Some(node) = &node {
        targets.push(("naive Node gateway", node.address));
    }
    targets.push(("rulegate, memory on", remembering.address()));
    targets.push(("rulegate, memory off", scanning.address()));

    let sizes: Vec<usize> = conversation.iter().flatten().map(Bytes::len).collect();
    println!(
        "conversation overhead: {conversations} conversations of {turns} turns (the first not counted); requests of {:.1} to {:.1} KB",
        *sizes.iter().min().unwrap_or(&0) as f64 / 1e3,
        *sizes.iter().max().unwrap_or(&0) as f64 / 1e3,
    );

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let ttfb = client.block_on(async {
        let mut senders = Vec::new();
        for (_, addr) in &targets {
            senders.push(connect(*addr).await);
        }
        let mut ttfb = vec![Vec::new(); targets.len()];
        for requests in &conversation {
            for (turn, body) in requests.iter().enumerate() {
                for (index, sender) in senders.iter_mut().enumerate() {
                    let (first, _) = timed(sender, body).await;
                    if turn > 0 {
                        ttfb[index].push(first);
                    }
                }
            }
        }
        ttfb
    });

    let medians: Vec<f64> = ttfb.into_iter().map(median_us).collect();
    println!(
        "{:<52} {:>12} {:>12}",
        "time to first byte", "median", "added"
    );
    for ((label, _), median) in targets.iter().zip(&medians) {
        println!(
            "{label:<52} {:>9.1} µs {:>9.1} µs",
            median,
            median - medians[0]
        );
    }
    let added = |label: &str| {
        targets
            .iter()
            .position(|(l, _)| *l == label)
            .map(|at| medians[at] - medians[0])
    };
    match (added("naive Node gateway"), added("rulegate, memory on")) {
        (Some(node), Some(rulegate)) => println!(
            "rulegate (memory on) adds {:.2}x what the naive Node gateway adds (memory off: {:.2}x)",
            rulegate / node,
            added("rulegate, memory off").unwrap_or(f64::NAN) / node
        ),
        _ => println!("no ratio: the Node gateway was skipped"),
    }

    for (label, gateway) in [("memory on", &remembering), ("memory off", &scanning)] {
        gateway_split(label, gateway.address());
    }

    drop(node);
    mock_runtime.block_on(async move {
        remembering.stop();
        scanning.stop();
        drop(mock);
    });
}

/// Where a gateway's own time went, from its `/metrics`: the mean time
/// before a request goes upstream and, of that, inspecting it (every
/// request, the cold first turns included).
fn gateway_split(label: &str, address: SocketAddr) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect for metrics");
    let _ =
        stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let mean = |family: &str| -> Option<f64> {
        let value = |suffix: &str| {
            text.lines()
                .find(|line| line.starts_with(&format!("{family}_{suffix}{{")))
                .and_then(|line| line.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        Some(value("sum")? / value("count")?)
    };
    match (
        mean("rulegate_added_time_to_first_byte_seconds"),
        mean("rulegate_inspection_duration_seconds"),
    ) {
        (Some(before), Some(inspecting)) => println!(
            "rulegate, {label}: {:.1} µs mean before upstream, of which {:.1} µs inspecting",
            before * 1e6,
            inspecting * 1e6
        ),
        _ => println!("rulegate, {label}: no figures from /metrics"),
    }
}

/// `naive-gateway.js` running under `node`, killed on drop.
struct NodeGateway {
    child: Child,
    address: SocketAddr,
}

impl NodeGateway {
    fn start(upstream: &str) -> Option<NodeGateway> {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("naive-gateway.js");
        let spawned = Command::new("node")
            .arg(&script)
            .arg(upstream)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                println!("skipping the naive Node gateway: cannot run `node` ({error})");
                return None;
            }
        };
        let mut line = String::new();
        let stdout = child.stdout.take()?;
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse::<u16>().ok());
        match (read, port) {
            (Ok(_), Some(port)) => Some(NodeGateway {
                child,
                address: SocketAddr::from(([127, 0, 0, 1], port)),
            }),
            _ => {
                println!("skipping the naive Node gateway: it did not start");
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }
}

impl Drop for NodeGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The requests of one conversation: turn 0 is the generated history,
/// each later turn adds the assistant's answer and a new user message.
fn conversation(seed: u64, turns: usize) -> Vec<Bytes> {
    let history = rulegate_benches::claude_code_request(100 + seed, 64 * 1024);
    let mut body: Value = serde_json::from_slice(&history).expect("generated JSON");
    let mut rng = rulegate_benches::Rng::new(seed);
    let mut requests = vec![Bytes::from(history)];
    for turn in 1..turns {
        let messages = body["messages"].as_array_mut().expect("messages");
        messages.push(json!({
            "role": "assistant",
            "content": [{"type": "text", "text": format!(
                "The failure in step {turn} comes from `parse_config` returning early; \
                 I changed the guard and the test passes now ({}).",
                rng.string_from(b"abcdefghijklmnopqrstuvwxyz ", 24)
            )}],
        }));
        messages.push(json!({
            "role": "user",
            "content": [{"type": "text", "text": format!(
                "Good. Now look at module_{turn}.rs as well: the same early return is in \
                 `load_rules`, and the error message should name the file that failed to \
                 parse, with its line and column, the way rustc prints them. Keep the \
                 public API unchanged and add a regression test named after the bug ({}).",
                rng.string_from(b"abcdefghijklmnopqrstuvwxyz ", 40)
            )}],
        }));
        requests.push(Bytes::from(serde_json::to_vec(&body).expect("json")));
    }
    requests
}

/// One conversation's requests inspected in-process, in turn, with the
/// memory and without: the part of the added time that is inspection.
fn inspection_figures(requests: &[Bytes]) {
    let rules = rulegate_benches::shipped_rule_set();
    let plain: Generation = rules.clone().into();
    let remembering = Generation::new(rules, Config::DEFAULT_OUTCOME_MEMORY_MB << 20);
    let mut on = Vec::new();
    let mut off = Vec::new();
    let mut parse = Vec::new();
    for (turn, body) in requests.iter().enumerate() {
        let started = Instant::now();
        let with = Anthropic.inspect_request("messages", &remembering, body);
        let took = started.elapsed();
        let started = Instant::now();
        let without = Anthropic.inspect_request("messages", &plain, body);
        let took_without = started.elapsed();
        let started = Instant::now();
        std::hint::black_box(
            rulegate_proxy::json::parse(body)
                .map(|d| d.tape_bytes())
                .ok(),
        );
        let took_parse = started.elapsed();
        assert_eq!(with, without, "the memory changes nothing");
        if turn > 0 {
            on.push(took);
            off.push(took_without);
            parse.push(took_parse);
        }
    }
    println!("{:<52} {:>12}", "inspection alone, one request", "median");
    println!(
        "{:<52} {:>9.1} µs",
        "memory on (warm but for the new turn)",
        median_us(on)
    );
    println!("{:<52} {:>9.1} µs", "memory off", median_us(off));
    println!(
        "{:<52} {:>9.1} µs",
        "of which strict JSON parse",
        median_us(parse)
    );
}

/// A text's scan against a look-up of it in the memory, by length: where
/// remembering starts to pay.
fn threshold_figures(quick: bool) {
    let rules = rulegate_benches::shipped_rule_set();
    let plain = rulegate_benches::shipped_rule_set_without_decoding();
    let memory = OutcomeMemory::new(64 << 20);
    let source = rulegate_benches::corpus(7, 64 * 1024);
    let rounds = if quick { 100 } else { 20_000 };
    println!(
        "{:<52} {:>12} {:>12} {:>12}",
        "clean text, per call (median of 5 runs)", "scan", "no decode", "look-up"
    );
    for len in [4, 8, 16, 32, 64, 128, 256, 1024, 4096] {
        // Cut on a character boundary.
        let mut end = len.min(source.len());
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        let text = &source[..end];
        let mut scan = Vec::new();
        let mut scan_plain = Vec::new();
        let mut look = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(rules.apply_all(Side::Request, Scope::ToolResult, text));
            }
            scan.push(started.elapsed() / rounds);
            let started = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(plain.apply_all(Side::Request, Scope::ToolResult, text));
            }
            scan_plain.push(started.elapsed() / rounds);
            let started = Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(memory.get(Side::Request, Scope::ToolResult, text));
            }
            look.push(started.elapsed() / rounds);
        }
        println!(
            "{:<52} {:>9.0} ns {:>9.0} ns {:>9.0} ns",
            format!("{len} bytes"),
            median_us(scan) * 1e3,
            median_us(scan_plain) * 1e3,
            median_us(look) * 1e3
        );
    }
}

fn median_us(mut samples: Vec<Duration>) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}
