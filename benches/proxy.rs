//! The proxy overhead harness: the same mock upstream on loopback, reached
//! directly and through the gateway (shipped packs), by the same HTTP/1.1
//! keep-alive client.
//!
//! Measures, per mode, the median and p99 of
//! - time to first byte (request sent → first body byte) and total time of a
//!   streamed reply of 300 text deltas;
//! - the round trip of a 1 MiB Claude-Code-shaped request (inspected and
//!   forwarded by the gateway), and the inspection alone, in-process.
//!
//! `cargo bench -p rulegate-benches --bench proxy` (env `ITERATIONS`,
//! default 500). Servers run on their own 2-worker runtime; the client on
//! its own thread, as separate processes would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rulegate_mock_upstream::{anthropic_responder, Block, MockUpstream, Script};
use rulegate_proxy::{Config, Gateway};
use tokio::net::{TcpListener, TcpStream};

const STREAM_DELTAS: usize = 300;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and expects a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let iterations: usize = std::env::var("ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 5 } else { 500 });

    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let text: String = (0..STREAM_DELTAS)
        .map(|i| format!("word{:03} ", i % 1000))
        .collect();
    let script = Script {
        blocks: vec![Block::Text(text)],
        delta_size: 8,
        frame_size: usize::MAX,
        delay: Duration::ZERO,
        ping_every: 0,
    };
    let (mock, proxy_addr) = servers.block_on(async {
        let mock = MockUpstream::start(anthropic_responder(script))
            .await
            .expect("mock upstream");
        let config = Config::new(mock.url().parse().expect("mock URL"));
        let gateway = Gateway::new(rulegate_benches::shipped_rule_set(), config).expect("gateway");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(rulegate_proxy::serve(
            listener,
            Arc::new(gateway),
            std::future::pending(),
        ));
        (mock, addr)
    });
    let direct_addr = mock.addr();

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let stream_body = Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "stream": true,
            "messages": [{"role": "user", "content": "Write three sentences."}],
        }))
        .expect("json"),
    );
    let mut big = rulegate_benches::claude_code_request(11, 1 << 20);
    // The same request, not streamed, so the round trip ends with a short
    // JSON reply and measures the request path.
    let needle = br#""stream":true"#;
    if let Some(at) = big.windows(needle.len()).position(|w| w == needle) {
        big.splice(at..at + needle.len(), br#""stream":false"#.iter().copied());
    }
    let big = Bytes::from(big);

    println!(
        "proxy overhead: {iterations} iterations per figure; streamed reply of {STREAM_DELTAS} deltas; request of {:.2} MiB",
        big.len() as f64 / (1 << 20) as f64
    );
    println!("{:<44} {:>12} {:>12}", "", "median", "p99");
    client.block_on(async {
        for (label, addr) in [("direct", direct_addr), ("through the proxy", proxy_addr)] {
            let mut sender = connect(addr).await;
            let mut ttfb = Vec::new();
            let mut total = Vec::new();
            for i in 0..iterations + iterations / 10 {
                let (first, all) = timed(&mut sender, &stream_body).await;
                if i >= iterations / 10 {
                    ttfb.push(first);
                    total.push(all);
                }
            }
            report(&format!("stream, time to first byte, {label}"), &mut ttfb);
            report(&format!("stream, total, {label}"), &mut total);
        }
        for (label, addr) in [("direct", direct_addr), ("through the proxy", proxy_addr)] {
            let mut sender = connect(addr).await;
            let mut round = Vec::new();
            for i in 0..iterations / 5 + 2 {
                let (_, all) = timed(&mut sender, &big).await;
                if i >= 2 {
                    round.push(all);
                }
            }
            report(&format!("1 MiB request, round trip, {label}"), &mut round);
        }
    });
    let rules = rulegate_benches::shipped_rule_set();
    let mut inspect = Vec::new();
    for _ in 0..iterations / 5 + 1 {
        let started = Instant::now();
        let inspection =
            rulegate_proxy::messages::inspect_request(&rules, &big).expect("valid request");
        inspect.push(started.elapsed());
        assert!(
            matches!(
                inspection.outcome,
                rulegate_proxy::messages::Outcome::Unchanged
            ),
            "the generated request holds no secret"
        );
    }
    report("1 MiB request, inspection alone", &mut inspect);
    drop(mock);
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// Sends one request; returns (time to first body byte, total time).
async fn timed(sender: &mut SendRequest<Full<Bytes>>, body: &Bytes) -> (Duration, Duration) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("x-api-key", "bench")
        .header("anthropic-version", "2023-06-01")
        .body(Full::new(body.clone()))
        .expect("request");
    sender.ready().await.expect("connection ready");
    let started = Instant::now();
    let response = sender.send_request(request).await.expect("response");
    assert!(
        response.status().is_success(),
        "status {}",
        response.status()
    );
    let mut body = response.into_body();
    let mut first = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("body frame");
        if first.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
            first = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    (first.unwrap_or(total), total)
}

fn report(label: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<44} {:>9.1} µs {:>9.1} µs",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
}
