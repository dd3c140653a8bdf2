//! The fault suite: a hostile or broken client, a broken or slow upstream,
//! and many streams at once, each on loopback, bounded in time, each
//! asserting that nothing leaks and that the client gets a clear answer.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rulegate_engine::RuleSet;
use rulegate_mock_upstream::{
    anthropic_responder, assembled_text, parse_sse, Block, MockUpstream, Recorded, Reply, Script,
};
use rulegate_proxy::{Config, Gateway, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const GITHUB_TOKEN: &str = "ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh";

fn shipped() -> RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES
        .get_or_init(rulegate_benches::shipped_rule_set)
        .clone()
}

struct Proxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn proxy(upstream: &str, configure: impl FnOnce(&mut Config)) -> Proxy {
    let upstream: Upstream = upstream.parse().unwrap();
    let mut config = Config::new(upstream);
    configure(&mut config);
    let gateway = Arc::new(Gateway::new(shipped(), config).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(rulegate_proxy::serve(listener, gateway, async {
        let _ = stopped.await;
    }));
    Proxy {
        addr,
        stop: Some(stop),
        task,
    }
}

fn streamed_request() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "stream": true,
        "messages": [{"role": "user", "content": "hi"}],
    }))
    .unwrap()
}

fn post(body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("x-api-key", "test-key")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// One request on a fresh connection; the whole reply, or the error that
/// ended it.
async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> (StatusCode, Bytes) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

fn last_event(body: &[u8]) -> (String, String) {
    parse_sse(body).pop().expect("at least one event")
}

/// Waits until the server closes `stream` (read returns 0 or an error);
/// the time it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!("the connection was still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

/// A one-connection upstream that answers every request with `reply`
/// bytes, then closes (or, with `hold`, keeps the socket open).
async fn raw_upstream(reply: Vec<u8>, hold: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(&reply).await;
                if hold {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

fn chunked_sse_head() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        .to_vec()
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

// ---------------------------------------------------------------- clients

#[tokio::test]
async fn slowloris_headers_are_cut_off_at_the_header_read_timeout() {
    let upstream = MockUpstream::start(anthropic_responder(Script::text("ok")))
        .await
        .unwrap();
    let gateway = proxy(&upstream.url(), |c| {
        c.header_read_timeout = Duration::from_millis(400);
    })
    .await;
    let stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for byte in b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // The gateway closes its side: the read ends (EOF or reset), however
    // long the client would go on trickling.
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(closed.is_ok(), "a trickled head was never cut off");
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn idle_connections_are_closed_but_busy_ones_are_not() {
    let upstream = MockUpstream::start(anthropic_responder(Script {
        blocks: vec![Block::Text("slow answer".into())],
        delta_size: 2,
        frame_size: usize::MAX,
        delay: Duration::from_millis(60),
        ping_every: 0,
    }))
    .await
    .unwrap();
    let gateway = proxy(&upstream.url(), |c| {
        c.idle_timeout = Duration::from_millis(300);
        c.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut idle = TcpStream::connect(gateway.addr).await.unwrap();
    let took = closed_within(&mut idle, Duration::from_secs(3)).await;
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
    // A stream that lasts longer than both timeouts is not cut.
    let (status, body) = send(gateway.addr, post(streamed_request())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assembled_text(&body), ["slow answer"]);
    assert_eq!(last_event(&body).0, "message_stop");
}

#[tokio::test]
async fn over_the_connection_cap_the_gateway_stops_accepting() {
    let upstream = MockUpstream::start(anthropic_responder(Script::text("ok")))
        .await
        .unwrap();
    let gateway = proxy(&upstream.url(), |c| {
        c.max_connections = 2;
        c.idle_timeout = Duration::from_secs(30);
    })
    .await;
    let first = TcpStream::connect(gateway.addr).await.unwrap();
    let _second = TcpStream::connect(gateway.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The third connection is queued by the kernel, not served.
    let third = tokio::spawn(send(gateway.addr, post(streamed_request())));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!third.is_finished(), "served over the cap");
    drop(first);
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assembled_text(&body), ["ok"]);
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let upstream = MockUpstream::start(anthropic_responder(Script::text("ok")))
        .await
        .unwrap();
    let gateway = proxy(&upstream.url(), |c| c.max_header_bytes = 8192).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let head = format!(
        "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_and_nothing_is_forwarded() {
    let upstream = MockUpstream::start(anthropic_responder(Script::text("ok")))
        .await
        .unwrap();
    let gateway = proxy(&upstream.url(), |c| {
        c.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let head = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"messages\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut reply))
        .await
        .expect("an answer")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("did not arrive within 0.3 s"), "{reply}");
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn over_the_inspection_budget_a_request_waits_then_gets_503() {
    let upstream = MockUpstream::start(anthropic_responder(Script::text("ok")))
        .await
        .unwrap();
    let gateway = proxy(&upstream.url(), |c| {
        // Room for one 64 KiB body (each costs 4x its size).
        c.inspection_budget_bytes = 300 * 1024;
        c.inspection_queue_timeout = Duration::from_millis(300);
    })
    .await;
    // The first request declares 64 KiB and sends a part: its share of the
    // budget is held while it is read.
    let mut holder = TcpStream::connect(gateway.addr).await.unwrap();
    let head = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n{";
    holder.write_all(head.as_bytes()).await.unwrap();
    // Time for the gateway to read the head and reserve (generous: CI
    // runs the suites side by side on two cores).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let body = vec![b' '; 40 * 1024];
    let started = Instant::now();
    let (status, reply) = send(gateway.addr, post(body)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let error: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(error["error"]["type"], "overloaded_error");
    drop(holder);
    // Once the budget is free again, a request goes through.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = send(gateway.addr, post(streamed_request())).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_retry_after_header_comes_with_the_503() {
    let upstream = MockUpstream::start(anthropic_responder(Script::text("ok")))
        .await
        .unwrap();
    let gateway = proxy(&upstream.url(), |c| {
        c.inspection_budget_bytes = 100 * 1024;
        c.inspection_queue_timeout = Duration::from_millis(100);
    })
    .await;
    let mut holder = TcpStream::connect(gateway.addr).await.unwrap();
    holder
        .write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let mut reply = vec![0u8; 4096];
    let n = stream.read(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]).to_ascii_lowercase();
    assert!(reply.starts_with("http/1.1 503"), "{reply}");
    assert!(reply.contains("retry-after: 1\r\n"), "{reply}");
}

// ---------------------------------------------------------------- upstream

#[tokio::test]
async fn an_upstream_reset_mid_stream_ends_with_an_error_event() {
    let mut reply = chunked_sse_head();
    reply.extend(chunk(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\n"));
    reply.extend(chunk(b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"));
    let partial = format!(
        "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"token {}\"}}}}\n\n",
        &GITHUB_TOKEN[..20]
    );
    reply.extend(chunk(partial.as_bytes()));
    // No last chunk: the socket closes mid-body.
    let upstream = raw_upstream(reply, false).await;
    let gateway = proxy(&upstream, |_| {}).await;
    let (status, body) = send(gateway.addr, post(streamed_request())).await;
    assert_eq!(status, StatusCode::OK);
    let (name, data) = last_event(&body);
    assert_eq!(name, "error", "{}", String::from_utf8_lossy(&body));
    assert!(data.contains("the upstream stream broke off"), "{data}");
    // The held half of the token never went out.
    assert!(!String::from_utf8_lossy(&body).contains(&GITHUB_TOKEN[..12]));
}

#[tokio::test]
async fn garbage_sse_ends_with_an_error_event() {
    let mut reply = chunked_sse_head();
    reply.extend(chunk(
        b"event: content_block_delta\ndata: \x01\x02 not json at all\n\n",
    ));
    reply.extend(chunk(b""));
    let upstream = raw_upstream(reply, false).await;
    let gateway = proxy(&upstream, |_| {}).await;
    let (status, body) = send(gateway.addr, post(streamed_request())).await;
    assert_eq!(status, StatusCode::OK);
    let (name, data) = last_event(&body);
    assert_eq!(name, "error");
    assert!(data.contains("could not be inspected"), "{data}");
}

#[tokio::test]
async fn an_endless_event_ends_with_an_error_event() {
    let mut reply = chunked_sse_head();
    reply.extend(chunk(b"event: content_block_delta\ndata: "));
    let filler = vec![b'x'; 1 << 20];
    for _ in 0..17 {
        reply.extend(chunk(&filler));
    }
    reply.extend(chunk(b""));
    let upstream = raw_upstream(reply, false).await;
    let gateway = proxy(&upstream, |_| {}).await;
    let (status, body) = send(gateway.addr, post(streamed_request())).await;
    assert_eq!(status, StatusCode::OK);
    let (name, data) = last_event(&body);
    assert_eq!(name, "error");
    assert!(data.contains("larger than 16 MiB"), "{data}");
    assert!(body.len() < 4096, "the event was passed on");
}

#[tokio::test]
async fn a_silent_stream_is_cut_at_the_stream_time_cap() {
    let mut reply = chunked_sse_head();
    reply.extend(chunk(b"event: ping\ndata: {\"type\":\"ping\"}\n\n"));
    let upstream = raw_upstream(reply, true).await;
    let gateway = proxy(&upstream, |c| {
        c.max_stream_duration = Some(Duration::from_millis(300));
    })
    .await;
    let started = Instant::now();
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(5),
        send(gateway.addr, post(streamed_request())),
    )
    .await
    .expect("the cap ends the stream");
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(250));
    let (name, data) = last_event(&body);
    assert_eq!(name, "error");
    assert!(
        data.contains("ran longer than the gateway allows"),
        "{data}"
    );
}

#[tokio::test]
async fn a_stream_over_the_byte_cap_ends_with_an_error_event() {
    let text = "word ".repeat(4000);
    let upstream = MockUpstream::start(anthropic_responder(Script {
        blocks: vec![Block::Text(text)],
        delta_size: 100,
        frame_size: usize::MAX,
        ..Script::default()
    }))
    .await
    .unwrap();
    let gateway = proxy(&upstream.url(), |c| c.max_stream_bytes = 10_000).await;
    let (status, body) = send(gateway.addr, post(streamed_request())).await;
    assert_eq!(status, StatusCode::OK);
    let (name, data) = last_event(&body);
    assert_eq!(name, "error");
    assert!(data.contains("longer than the gateway allows"), "{data}");
}

#[tokio::test]
async fn shutdown_drains_then_ends_running_streams_with_an_error_event() {
    let mut reply = chunked_sse_head();
    reply.extend(chunk(b"event: ping\ndata: {\"type\":\"ping\"}\n\n"));
    let upstream = raw_upstream(reply, true).await;
    let mut gateway = proxy(&upstream, |c| {
        c.drain_timeout = Duration::from_millis(300);
    })
    .await;
    let stream = tokio::spawn(send(gateway.addr, post(streamed_request())));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let _ = gateway.stop.take().unwrap().send(());
    let (status, body) = tokio::time::timeout(Duration::from_secs(5), stream)
        .await
        .expect("the drain deadline ends the stream")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(status, StatusCode::OK);
    let (name, data) = last_event(&body);
    assert_eq!(name, "error");
    assert!(data.contains("shutting down"), "{data}");
    tokio::time::timeout(Duration::from_secs(5), &mut gateway.task)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}

// ---------------------------------------------------------------- load

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_streams_each_get_their_own_masked_text() {
    const STREAMS: usize = 1000;
    let responder = Arc::new(|request: &Recorded| {
        let body = request.json().unwrap_or_default();
        let n = body["messages"][0]["content"]
            .as_str()
            .unwrap_or("0")
            .to_owned();
        let text =
            format!("stream {n} mails ops{n}@northwind-mail.com and holds {GITHUB_TOKEN} end {n}");
        let script = Script {
            blocks: vec![Block::Text(text)],
            delta_size: 7,
            frame_size: usize::MAX,
            delay: Duration::from_millis(2),
            ping_every: 3,
        };
        let sse = rulegate_mock_upstream::anthropic_sse(&script);
        Reply::sse(&sse, usize::MAX, script.delay)
    });
    let upstream = MockUpstream::start(responder).await.unwrap();
    let gateway = proxy(&upstream.url(), |_| {}).await;
    let addr = gateway.addr;
    let mut tasks = Vec::new();
    for n in 0..STREAMS {
        tasks.push(tokio::spawn(async move {
            let body = serde_json::to_vec(&serde_json::json!({
                "model": "m", "max_tokens": 9, "stream": true,
                "messages": [{"role": "user", "content": n.to_string()}],
            }))
            .unwrap();
            let (status, reply) = send(addr, post(body)).await;
            (n, status, reply)
        }));
    }
    let deadline = Duration::from_secs(120);
    for task in tasks {
        let (n, status, reply) = tokio::time::timeout(deadline, task)
            .await
            .expect("every stream ends")
            .unwrap();
        assert_eq!(status, StatusCode::OK, "stream {n}");
        assert_eq!(
            assembled_text(&reply),
            [format!(
                "stream {n} mails [redacted:email] and holds [redacted:github-token] end {n}"
            )],
            "stream {n}"
        );
        assert_eq!(last_event(&reply).0, "message_stop", "stream {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_holds_back_the_upstream_not_the_gateway() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const TOTAL: usize = 32 << 20;
    // An upstream that writes a 32 MiB stream as fast as it is taken, and
    // counts what it got rid of.
    let written = Arc::new(AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let counter = written.clone();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 4096];
        let _ = socket.read(&mut head).await;
        socket.write_all(&chunked_sse_head()).await.unwrap();
        socket
            .write_all(&chunk(b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"))
            .await
            .unwrap();
        let delta = format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n",
            "word ".repeat(200)
        );
        let frame = chunk(delta.repeat(60).as_bytes());
        while counter.load(Ordering::Relaxed) < TOTAL {
            if socket.write_all(&frame).await.is_err() {
                return;
            }
            counter.fetch_add(frame.len(), Ordering::Relaxed);
        }
        let _ = socket.write_all(&chunk(b"")).await;
    });
    let gateway = proxy(&upstream, |_| {}).await;
    let mut client = TcpStream::connect(gateway.addr).await.unwrap();
    let body = streamed_request();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(&body).await.unwrap();
    // The client reads nothing for a second: the gateway may hold a few
    // frames and the sockets' buffers, not the stream.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = written.load(Ordering::Relaxed);
    assert!(
        held < 16 << 20,
        "the upstream got rid of {held} bytes to a client that read none"
    );
    // Then it reads everything.
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let done = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
            if received > TOTAL {
                break;
            }
        }
    })
    .await;
    assert!(done.is_ok(), "the stream did not finish");
    assert!(received > TOTAL * 9 / 10, "received {received}");
}
