//! The gateway benches' client: an HTTP/1.1 connection and one timed
//! Messages request over it (`#[path]`-included: benches are separate
//! crates).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// A keep-alive connection with Nagle off, its driver on the runtime.
pub async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// Sends one request; returns (time to first body byte, total time).
pub async fn timed(sender: &mut SendRequest<Full<Bytes>>, body: &Bytes) -> (Duration, Duration) {
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
