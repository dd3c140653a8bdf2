//! The mock as a client sees it: over real sockets, plain and TLS.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rulegate_mock_upstream::{
    anthropic_responder, anthropic_sse, Block, MockUpstream, Reply, Script,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn request(method: Method, url: &str, body: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header("x-api-key", "sk-test")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// Status and whole body.
async fn send(mock: &MockUpstream, method: Method, path: &str, body: &str) -> (StatusCode, Bytes) {
    let url = format!("{}{path}", mock.url());
    let response = client().request(request(method, &url, body)).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn a_request_is_recorded_with_headers_body_and_query() {
    let mock = MockUpstream::start(anthropic_responder(Script::text("Hi there")))
        .await
        .unwrap();
    let body = r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, reply) = send(&mock, Method::POST, "/v1/messages?beta=true", body).await;
    assert_eq!(status, StatusCode::OK);
    let reply = String::from_utf8(reply.to_vec()).unwrap();
    assert!(reply.starts_with(r#"{"id":"msg_01MockUpstream","type":"message","role":"assistant""#));
    let message: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(message["content"][0]["text"], "Hi there");
    assert_eq!(message["stop_reason"], "end_turn");

    let recorded = mock.requests();
    assert_eq!(recorded.len(), 1);
    let recorded = &recorded[0];
    assert_eq!(recorded.method, Method::POST);
    assert_eq!(recorded.path_and_query, "/v1/messages?beta=true");
    assert_eq!(recorded.path(), "/v1/messages");
    assert_eq!(recorded.header("x-api-key"), Some("sk-test"));
    assert_eq!(recorded.body, body.as_bytes());
    assert_eq!(recorded.version, Version::HTTP_11);
    assert_eq!(mock.aborted_streams(), 0);
}

#[tokio::test]
async fn a_stream_arrives_in_the_scripted_frames() {
    let script = Script {
        delta_size: 2,
        frame_size: 7,
        delay: Duration::from_millis(1),
        ..Script::text("héllo 🦀")
    };
    let mock = MockUpstream::start(anthropic_responder(script.clone()))
        .await
        .unwrap();
    let url = format!("{}/v1/messages", mock.url());
    let response = client()
        .request(request(Method::POST, &url, r#"{"stream":true}"#))
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        frames.push(frame.unwrap().into_data().unwrap());
    }
    let expected = anthropic_sse(&script);
    assert_eq!(frames.concat(), expected);
    assert!(frames.iter().all(|f| f.len() <= 7));
    assert_eq!(frames.len(), expected.len().div_ceil(7));
    assert_eq!(mock.aborted_streams(), 0);
}

#[tokio::test]
async fn routes_answer_like_the_api() {
    let mock = MockUpstream::start(anthropic_responder(Script::default()))
        .await
        .unwrap();
    assert_eq!(send(&mock, Method::HEAD, "/", "").await.0, StatusCode::OK);
    assert_eq!(
        send(&mock, Method::GET, "/", "").await,
        (StatusCode::OK, Bytes::new())
    );
    let (status, models) = send(&mock, Method::GET, "/v1/models", "").await;
    assert_eq!(status, StatusCode::OK);
    let models: serde_json::Value = serde_json::from_slice(&models).unwrap();
    assert_eq!(models["data"][0]["id"], "claude-mock-1");
    let (status, count) = send(&mock, Method::POST, "/v1/messages/count_tokens", "{}").await;
    assert_eq!(
        (status, count),
        (StatusCode::OK, Bytes::from(r#"{"input_tokens":1}"#))
    );
    let (status, error) = send(&mock, Method::GET, "/v2/nothing", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error.starts_with(br#"{"type":"error","error":{"type":"not_found_error","message":"#));
    assert_eq!(mock.requests().len(), 5);
    assert_eq!(mock.aborted_streams(), 0);
}

#[tokio::test]
async fn a_tool_result_is_answered_with_the_text_blocks_only() {
    let script = Script {
        blocks: vec![
            Block::Text("Reading it.".into()),
            Block::ToolUse {
                id: "toolu_1".into(),
                name: "Bash".into(),
                input_json: r#"{"command":"cat .env"}"#.into(),
            },
        ],
        ..Script::default()
    };
    let mock = MockUpstream::start(anthropic_responder(script.clone()))
        .await
        .unwrap();
    let first = r#"{"stream":true,"messages":[{"role":"user","content":"show .env"}]}"#;
    let (_, reply) = send(&mock, Method::POST, "/v1/messages", first).await;
    assert_eq!(reply, anthropic_sse(&script));
    assert!(String::from_utf8_lossy(&reply).contains(r#""stop_reason":"tool_use""#));

    // The tool's output comes back: only the text, and the turn ends.
    let second = r#"{"stream":true,"messages":[{"role":"user","content":"show .env"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"A=1"}]}]}"#;
    let (_, reply) = send(&mock, Method::POST, "/v1/messages", second).await;
    let after = script.after_tool_result();
    assert_eq!(reply, anthropic_sse(&after));
    assert!(matches!(&after.blocks[..], [Block::Text(t)] if t == "Reading it."));
    assert!(String::from_utf8_lossy(&reply).contains(r#""stop_reason":"end_turn""#));
    let (_, message) = send(
        &mock,
        Method::POST,
        "/v1/messages",
        &second.replace(r#""stream":true,"#, ""),
    )
    .await;
    let message: serde_json::Value = serde_json::from_slice(&message).unwrap();
    assert_eq!(message["content"].as_array().unwrap().len(), 1);
    assert_eq!(message["stop_reason"], "end_turn");

    // A tool_result earlier in the conversation does not count.
    let third = second.replace(r#"]}]}"#, r#"]},{"role":"user","content":"again"}]}"#);
    let (_, reply) = send(&mock, Method::POST, "/v1/messages", &third).await;
    assert_eq!(reply, anthropic_sse(&script));
}

#[tokio::test]
async fn an_invalid_reply_header_becomes_a_500() {
    let responder = Arc::new(|_: &rulegate_mock_upstream::Recorded| Reply::Chunks {
        status: 200,
        headers: vec![("bad header".into(), "x".into())],
        frames: vec![Bytes::from("ok")],
        delay: Duration::ZERO,
    });
    let mock = MockUpstream::start(responder).await.unwrap();
    let (status, body) = send(&mock, Method::GET, "/", "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.starts_with(b"mock-upstream: invalid reply header"));
}

async fn tls_get(mock: &MockUpstream, http2: bool) -> (Version, StatusCode) {
    let pem = mock.certificate_pem().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only();
    let connector = if http2 {
        builder.enable_http1().enable_http2().build()
    } else {
        builder.enable_http1().build()
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let url = format!("{}/v1/models", mock.url());
    let response = client
        .request(request(Method::GET, &url, ""))
        .await
        .unwrap();
    let (version, status) = (response.version(), response.status());
    response.into_body().collect().await.unwrap();
    (version, status)
}

#[tokio::test]
async fn tls_serves_h2_and_http1_to_a_client_trusting_its_certificate() {
    let mock = MockUpstream::start_tls(anthropic_responder(Script::default()))
        .await
        .unwrap();
    assert!(mock.url().starts_with("https://localhost:"));
    assert_eq!(
        tls_get(&mock, true).await,
        (Version::HTTP_2, StatusCode::OK)
    );
    assert_eq!(
        tls_get(&mock, false).await,
        (Version::HTTP_11, StatusCode::OK)
    );
    let versions: Vec<Version> = mock.requests().iter().map(|r| r.version).collect();
    assert_eq!(versions, [Version::HTTP_2, Version::HTTP_11]);
    assert_eq!(mock.aborted_streams(), 0);
}

#[tokio::test]
async fn a_client_leaving_mid_stream_counts_as_aborted() {
    let script = Script {
        frame_size: 16,
        delay: Duration::from_millis(5),
        ..Script::text(&"long text ".repeat(50))
    };
    let mock = MockUpstream::start(anthropic_responder(script))
        .await
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    let body = r#"{"stream":true}"#;
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // The first 16-byte frame; later ones are split by chunk-size lines.
    let first_frame = b"event: message_s";
    let mut received = Vec::new();
    let read_first_frame = async {
        while !received
            .windows(first_frame.len())
            .any(|w| w == first_frame)
        {
            let mut buf = [0; 1024];
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the stream began");
            received.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read_first_frame)
        .await
        .expect("the first frame");
    drop(tcp);
    assert!(mock.wait_aborted(1, Duration::from_secs(5)).await);
    assert_eq!(mock.aborted_streams(), 1);
}

#[tokio::test]
async fn a_hanging_reply_never_answers_but_is_recorded() {
    let mock = MockUpstream::start(Arc::new(|_: &_| Reply::Hang))
        .await
        .unwrap();
    let url = format!("{}/v1/messages", mock.url());
    let pending = client().request(request(Method::POST, &url, "{}"));
    let outcome = tokio::time::timeout(Duration::from_millis(200), pending).await;
    assert!(outcome.is_err(), "expected no answer");
    assert_eq!(mock.requests().len(), 1);
}
