//! The proxy overhead harness: the same mock upstream on loopback, reached
//! directly and through the gateway (shipped packs), by the same HTTP/1.1
//! keep-alive client.
//!
//! Figures, each as median and p99, direct, through a bare TCP relay (the
//! floor any extra hop costs) and through the gateway:
//! - a paced streamed reply (300 text deltas, 1 ms apart, as a model sends
//!   them): time to first byte (request sent → first body byte) and total;
//! - a burst streamed reply (the same 300 deltas written back to back):
//!   time to first byte and total, i.e. how fast the gateway passes a
//!   stream that is all there;
//! - a 1 MiB Claude-Code-shaped request, inspected and forwarded: round
//!   trip; and its inspection alone, in-process.
//!
//! `cargo bench -p rulegate-benches --bench proxy` (env `ITERATIONS`,
//! default 200; the paced stream runs a fifth of them). The mock, the gateway
//! (on its own threads, as the binary runs it) and the client each run on
//! their own runtime, as separate processes would. `BENCH_DIRECT` and `BENCH_PROXY` (host:port) instead measure the
//! `mock-upstream` and `proxy` binaries started by hand.

#[path = "bench_client.rs"]
mod bench_client;
use bench_client::{connect, timed};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rulegate_mock_upstream::{anthropic_responder, Block, MockUpstream, Script};
use rulegate_proxy::adapter::anthropic::Anthropic;
use rulegate_proxy::adapter::ApiAdapter;
use rulegate_proxy::{Config, Workers};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

const STREAM_DELTAS: usize = 300;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and expects a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let iterations: usize = std::env::var("ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 5 } else { 200 });
    let mock_runtime = runtime(1);
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    let streamed = streamed_request();
    let big = {
        // Not streamed, so the round trip ends with a short JSON reply and
        // measures the request path.
        let mut body = rulegate_benches::claude_code_request(11, 1 << 20);
        let needle = br#""stream":true"#;
        if let Some(at) = body.windows(needle.len()).position(|w| w == needle) {
            body.splice(at..at + needle.len(), br#""stream":false"#.iter().copied());
        }
        Bytes::from(body)
    };
    println!(
        "proxy overhead: {iterations} iterations per figure; {STREAM_DELTAS} deltas per stream; request of {:.2} MiB",
        big.len() as f64 / (1 << 20) as f64
    );
    println!("{:<52} {:>12} {:>12}", "", "median", "p99");

    if let (Ok(direct), Ok(proxy)) = (std::env::var("BENCH_DIRECT"), std::env::var("BENCH_PROXY")) {
        let direct: SocketAddr = direct.parse().expect("BENCH_DIRECT host:port");
        let proxy: SocketAddr = proxy.parse().expect("BENCH_PROXY host:port");
        let targets = [("direct", direct), ("through the proxy", proxy)];
        client.block_on(async {
            stream_figures("external", &targets, &streamed, iterations).await;
            request_figures(&targets, &big, iterations).await;
        });
        return;
    }

    let paced = Servers::start(&mock_runtime, script(Duration::from_millis(1)));
    let burst = Servers::start(&mock_runtime, script(Duration::ZERO));
    client.block_on(async {
        let paced_targets = paced.targets();
        stream_figures("paced", &paced_targets, &streamed, (iterations / 5).max(2)).await;
        let burst_targets = burst.targets();
        stream_figures("burst", &burst_targets, &streamed, iterations).await;
        request_figures(&burst_targets, &big, iterations).await;
    });

    let rules = rulegate_benches::shipped_rule_set();
    let mut inspect = Vec::new();
    for _ in 0..iterations / 5 + 1 {
        let started = Instant::now();
        let inspection = Anthropic
            .inspect_request("messages", &rules.clone().into(), &big)
            .expect("valid request");
        inspect.push(started.elapsed());
        assert!(
            matches!(
                inspection.outcome,
                rulegate_proxy::adapter::Outcome::Unchanged
            ),
            "the generated request holds no secret"
        );
    }
    report("1 MiB request, inspection alone", &mut inspect);
    mock_runtime.block_on(async move {
        drop(paced);
        drop(burst);
    });
}

fn script(delay: Duration) -> Script {
    let text: String = (0..STREAM_DELTAS)
        .map(|i| format!("word{:03} ", i % 1000))
        .collect();
    Script {
        blocks: vec![Block::Text(text)],
        delta_size: 8,
        frame_size: usize::MAX,
        delay,
        ping_every: 0,
    }
}

fn streamed_request() -> Bytes {
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "stream": true,
            "messages": [{"role": "user", "content": "Write three sentences."}],
        }))
        .expect("json"),
    )
}

/// A mock and a gateway in front of it; dropping them stops both.
struct Servers {
    _mock: MockUpstream,
    _gateway: Workers,
    relay: SocketAddr,
    direct: SocketAddr,
    proxy: SocketAddr,
}

impl Servers {
    fn start(mock_runtime: &Runtime, script: Script) -> Servers {
        let mock = mock_runtime.block_on(async {
            MockUpstream::start(anthropic_responder(script))
                .await
                .expect("mock upstream")
        });
        let config = Config::new(mock.url().parse().expect("mock URL"));
        // As the binary serves: one single-threaded runtime per core.
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let gateway = Workers::start(
            listener,
            workers,
            rulegate_benches::shipped_rule_set(),
            config,
        )
        .expect("gateway");
        Servers {
            direct: mock.addr(),
            relay: start_tcp_relay(mock.addr()),
            proxy: gateway.address(),
            _mock: mock,
            _gateway: gateway,
        }
    }
}

impl Servers {
    fn targets(&self) -> [(&'static str, SocketAddr); 3] {
        [
            ("direct", self.direct),
            ("through a bare TCP relay", self.relay),
            ("through the proxy", self.proxy),
        ]
    }
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Measures every target in turn, one request each per round, so drift on
/// the machine affects them alike.
async fn stream_figures(
    kind: &str,
    targets: &[(&str, SocketAddr)],
    body: &Bytes,
    iterations: usize,
) {
    let mut senders = Vec::new();
    for (_, addr) in targets {
        senders.push(connect(*addr).await);
    }
    let mut ttfb = vec![Vec::new(); targets.len()];
    let mut total = vec![Vec::new(); targets.len()];
    let warm_up = (iterations / 10).max(1);
    for round in 0..iterations + warm_up {
        for (index, sender) in senders.iter_mut().enumerate() {
            let (first, all) = timed(sender, body).await;
            if round >= warm_up {
                ttfb[index].push(first);
                total[index].push(all);
            }
        }
    }
    for (index, (label, _)) in targets.iter().enumerate() {
        report(
            &format!("{kind} stream, time to first byte, {label}"),
            &mut ttfb[index],
        );
        report(&format!("{kind} stream, total, {label}"), &mut total[index]);
    }
}

async fn request_figures(targets: &[(&str, SocketAddr)], body: &Bytes, iterations: usize) {
    let mut senders = Vec::new();
    for (_, addr) in targets {
        senders.push(connect(*addr).await);
    }
    let mut round_trips = vec![Vec::new(); targets.len()];
    for round in 0..iterations / 5 + 2 {
        for (index, sender) in senders.iter_mut().enumerate() {
            let (_, all) = timed(sender, body).await;
            if round >= 2 {
                round_trips[index].push(all);
            }
        }
    }
    for (index, (label, _)) in targets.iter().enumerate() {
        report(
            &format!("1 MiB request, round trip, {label}"),
            &mut round_trips[index],
        );
    }
}

/// A bare TCP relay (copy both ways, nothing parsed) on its own thread: the
/// floor any gateway pays for the extra loopback hop.
fn start_tcp_relay(upstream: SocketAddr) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
    listener.set_nonblocking(true).expect("nonblocking");
    let address = listener.local_addr().expect("relay addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("relay runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("relay listener");
            while let Ok((mut client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
    });
    address
}

fn report(label: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let format = |d: Duration| {
        if d >= Duration::from_millis(10) {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        } else {
            format!("{:.1} µs", d.as_secs_f64() * 1e6)
        }
    };
    println!(
        "{label:<52} {:>12} {:>12}",
        format(at(0.5)),
        format(at(0.99))
    );
}
