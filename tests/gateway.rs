//! The gateway end to end: a real client, the gateway in-process on
//! 127.0.0.1:0, and the recording mock upstream, with the shipped packs.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rulegate_engine::RuleSet;
use rulegate_mock_upstream::{
    anthropic_responder, anthropic_sse, assembled_text, Block, MockUpstream, Recorded, Reply,
    Script,
};
use rulegate_proxy::{Config, Gateway, Upstream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const ANTHROPIC_KEY: &str = "sk-ant-api03-Bi10Q71hA1XcW9aTMX1C_CI3_dXRZv7qdYdk2r7xgHWPB6PRWJ1Gk8cgSCifdFzctEq8oB7GVvouNndNWYzjFnMpfS2ViAA";
const GITHUB_TOKEN: &str = "ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh";

fn shipped() -> RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES
        .get_or_init(rulegate_benches::shipped_rule_set)
        .clone()
}

/// A running gateway; dropping it stops it.
struct Proxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Proxy {
    async fn start(upstream: &str, configure: impl FnOnce(&mut Config)) -> Proxy {
        Proxy::start_with(shipped(), upstream, configure).await
    }

    async fn start_with(
        rules: RuleSet,
        upstream: &str,
        configure: impl FnOnce(&mut Config),
    ) -> Proxy {
        let upstream: Upstream = upstream.parse().expect("upstream URL");
        let mut config = Config::new(upstream);
        configure(&mut config);
        let gateway = Arc::new(Gateway::new(rules, config).expect("gateway"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(rulegate_proxy::serve(listener, gateway, async {
            let _ = stopped.await;
        }));
        Proxy {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts graceful shutdown and waits until the server has stopped.
    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Received {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Sends one request on a fresh HTTP/1.1 connection and reads the whole
/// reply.
async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Received {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Received {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A one-line conversation, streamed or not.
async fn say_hi(addr: SocketAddr, stream: bool) -> Received {
    send(
        addr,
        post(
            "/v1/messages",
            messages_body(serde_json::json!("hi"), stream),
        ),
    )
    .await
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .uri(path)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn post(path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("x-api-key", "test-key")
        .header("anthropic-version", "2023-06-01")
        .body(Full::new(body.into()))
        .unwrap()
}

fn messages_body(content: serde_json::Value, stream: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": content}],
    }))
    .unwrap()
}

fn error_of(reply: &Received) -> (String, String) {
    let value: serde_json::Value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", reply.body));
    assert_eq!(value["type"], "error", "{value}");
    (
        value["error"]["type"].as_str().unwrap().to_owned(),
        value["error"]["message"].as_str().unwrap().to_owned(),
    )
}

async fn mock(script: Script) -> MockUpstream {
    MockUpstream::start(anthropic_responder(script))
        .await
        .unwrap()
}

fn script(blocks: Vec<Block>, delta_size: usize, frame_size: usize) -> Script {
    Script {
        blocks,
        delta_size,
        frame_size,
        ping_every: 4,
        ..Script::default()
    }
}

/// The SSE a client receives for a streamed request.
async fn stream_through(script: Script) -> (Vec<u8>, Vec<Recorded>) {
    let upstream = mock(script).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let reply = say_hi(proxy.addr, true).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "text/event-stream");
    (reply.body.to_vec(), upstream.requests())
}

// ---------------------------------------------------------------- streams

#[tokio::test]
async fn an_email_split_across_deltas_is_redacted() {
    let blocks = vec![Block::Text(
        "Sure: write to jane.doe@northwind-mail.com and cc ops@acme.io.".into(),
    )];
    let (body, _) = stream_through(script(blocks, 3, usize::MAX)).await;
    assert_eq!(
        assembled_text(&body),
        ["Sure: write to [redacted:email] and cc [redacted:email]."]
    );
    insta::assert_snapshot!(String::from_utf8(body).unwrap());
}

#[tokio::test]
async fn a_key_split_across_tcp_reads_is_redacted() {
    // One delta holds the whole key; the upstream writes 5 bytes at a time,
    // so the gateway reads the event (and the key) in many pieces.
    let text = format!("Found it: ANTHROPIC_API_KEY={ANTHROPIC_KEY} in .env");
    let (body, _) = stream_through(script(vec![Block::Text(text)], 4096, 5)).await;
    assert_eq!(
        assembled_text(&body),
        ["Found it: ANTHROPIC_API_KEY=[redacted:anthropic-api-key] in .env"]
    );
    assert!(!String::from_utf8_lossy(&body).contains("sk-ant-api03"));
    insta::assert_snapshot!(String::from_utf8(body).unwrap());
}

#[tokio::test]
async fn several_blocks_tool_use_pings_and_usage_pass_in_order() {
    let blocks = vec![
        Block::Thinking {
            thinking: "The user wants the token ghp_ from the log.".into(),
            signature: "EqQBCkYIBxgCKkDsig==".into(),
        },
        Block::Text(format!("The token is {GITHUB_TOKEN}.")),
        Block::ToolUse {
            id: "toolu_01A".into(),
            name: "Bash".into(),
            input_json: r#"{"command": "git log -1 --format=%ae"}"#.into(),
        },
        Block::Text("Done, nothing else.".into()),
    ];
    let original = anthropic_sse(&script(blocks.clone(), 6, 11));
    let (body, _) = stream_through(script(blocks, 6, 11)).await;
    let texts = assembled_text(&body);
    // Blocks 0 (thinking) and 2 (tool_use) have no text.
    assert_eq!(
        texts,
        [
            "",
            "The token is [redacted:github-token].",
            "",
            "Done, nothing else."
        ]
    );
    // Every event that carries no text or arguments passes through, in
    // order; the arguments are regrouped (a string waits for its scanner)
    // and join to the same JSON.
    let names = |bytes: &[u8]| -> Vec<(String, String)> {
        rulegate_mock_upstream::parse_sse(bytes)
            .into_iter()
            .filter(|(_, data)| {
                !data.contains("\"text_delta\"") && !data.contains("\"input_json_delta\"")
            })
            .collect()
    };
    assert_eq!(names(&body), names(&original));
    let arguments = |bytes: &[u8]| -> String {
        rulegate_mock_upstream::parse_sse(bytes)
            .into_iter()
            .filter_map(|(_, data)| {
                let value: serde_json::Value = serde_json::from_str(&data).ok()?;
                Some(value["delta"]["partial_json"].as_str()?.to_owned())
            })
            .collect()
    };
    assert_eq!(
        arguments(&body),
        r#"{"command": "git log -1 --format=%ae"}"#
    );
    insta::assert_snapshot!(String::from_utf8(body).unwrap());
}

#[tokio::test]
async fn a_clean_stream_reaches_the_client_unchanged() {
    let blocks = vec![Block::Text("Nothing secret here, just prose.".into())];
    let script = script(blocks, 5, 7);
    let original = anthropic_sse(&script);
    let (body, _) = stream_through(script).await;
    // Text may be regrouped into fewer deltas (a word is held until it can
    // no longer start an email), but the assembled text and every other
    // event are the original's.
    assert_eq!(assembled_text(&body), assembled_text(&original));
    let others = |bytes: &[u8]| -> Vec<(String, String)> {
        rulegate_mock_upstream::parse_sse(bytes)
            .into_iter()
            .filter(|(_, data)| !data.contains("\"text_delta\""))
            .collect()
    };
    assert_eq!(others(&body), others(&original));

    // Deltas that end where no match can be pending pass byte-identical.
    let blocks = vec![Block::Text("Nothing secret here, just prose. ".into())];
    let mut script = crate::script(blocks, 1, 7);
    script.delta_size = usize::MAX;
    let original = anthropic_sse(&script);
    let (body, _) = stream_through(script).await;
    assert_eq!(
        String::from_utf8(body).unwrap(),
        String::from_utf8(original).unwrap()
    );
}

#[tokio::test]
async fn a_response_side_reject_ends_the_stream_with_an_error_event() {
    let rules = rulegate_lang::check_sources([(
        "r.rules".to_owned(),
        b"rule codename {\n  match /Project Nightjar/\n  response reject \"codename\"\n}\n"
            .to_vec(),
    )])
    .compile()
    .unwrap();
    let upstream = mock(script(
        vec![Block::Text(
            "It is Project Nightjar, launching soon.".into(),
        )],
        4,
        9,
    ))
    .await;
    let proxy = Proxy::start_with(rules, &upstream.url(), |_| {}).await;
    let reply = say_hi(proxy.addr, true).await;
    let events = rulegate_mock_upstream::parse_sse(&reply.body);
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error");
    assert!(data.contains("rule `codename`"), "{data}");
    assert!(!String::from_utf8_lossy(&reply.body).contains("Nightjar"));
    assert!(events.iter().all(|(name, _)| name != "message_stop"));
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_drops_the_upstream_request() {
    let mut script = script(vec![Block::Text("word ".repeat(400))], 5, usize::MAX);
    script.delay = Duration::from_millis(5);
    let upstream = mock(script).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(post(
            "/v1/messages",
            messages_body(serde_json::json!("hi"), true),
        ))
        .await
        .unwrap();
    let mut body = response.into_body();
    // Read a little of the stream, then hang up.
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    drop(sender);
    connection.abort();
    assert!(
        upstream.wait_aborted(1, Duration::from_secs(10)).await,
        "the upstream stream was not dropped"
    );
}

#[tokio::test]
async fn graceful_shutdown_lets_a_running_stream_finish() {
    let mut script = script(vec![Block::Text("slow ".repeat(60))], 5, usize::MAX);
    script.delay = Duration::from_millis(10);
    let expected = anthropic_sse(&script);
    let upstream = mock(script).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let addr = proxy.addr;
    let client = tokio::spawn(async move { say_hi(addr, true).await });
    // Let the stream start, then ask the gateway to stop.
    while upstream.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.shutdown().await;
    let reply = client.await.unwrap();
    assert_eq!(reply.body, expected);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

// ---------------------------------------------------------------- requests

#[tokio::test]
async fn a_secret_the_user_typed_is_rejected_and_nothing_goes_upstream() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let body = messages_body(
        serde_json::json!(format!("use {GITHUB_TOKEN} to push")),
        false,
    );
    let reply = send(proxy.addr, post("/v1/messages", body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let (kind, message) = error_of(&reply);
    assert_eq!(kind, "invalid_request_error");
    assert!(message.contains("github-token"), "{message}");
    assert!(message.contains("messages[0].content"), "{message}");
    assert!(!message.contains(GITHUB_TOKEN));
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn count_tokens_is_inspected_too() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let body = messages_body(serde_json::json!(format!("key {ANTHROPIC_KEY}")), false);
    let reply = send(proxy.addr, post("/v1/messages/count_tokens", body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_secret_in_a_tool_result_is_masked_in_place() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let original = format!(
        r#"{{"model":"m","max_tokens":5,"messages":[{{"role":"user","content":"read .env"}},{{"role":"assistant","content":[{{"type":"tool_use","id":"toolu_1","name":"Read","input":{{"file_path":"/app/.env"}}}}]}},{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_1","content":"GITHUB_TOKEN={GITHUB_TOKEN}\nDEBUG=1"}}]}}]}}"#
    );
    let reply = send(proxy.addr, post("/v1/messages", original.clone())).await;
    assert_eq!(reply.status, StatusCode::OK);
    let forwarded = upstream.requests().pop().unwrap();
    let forwarded = String::from_utf8(forwarded.body.to_vec()).unwrap();
    assert_eq!(
        forwarded,
        original.replace(GITHUB_TOKEN, "[redacted:github-token]"),
        "only the masked string may differ"
    );
}

#[tokio::test]
async fn a_claude_code_request_without_secrets_is_forwarded_byte_identical() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let body = rulegate_benches::claude_code_request(7, 200 * 1024);
    let reply = send(proxy.addr, post("/v1/messages?beta=true", body.clone())).await;
    assert_eq!(reply.status, StatusCode::OK);
    let forwarded = upstream.requests().pop().unwrap();
    assert_eq!(forwarded.path_and_query, "/v1/messages?beta=true");
    assert!(forwarded.body == body, "the forwarded body differs");
    assert_eq!(
        forwarded.header("content-length"),
        Some(body.len().to_string().as_str())
    );
}

#[tokio::test]
async fn images_and_thinking_blocks_are_not_touched() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": format!("iVBOR{GITHUB_TOKEN}")}},
                {"type": "text", "text": "what is in the picture?"},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": format!("the picture shows {GITHUB_TOKEN}"), "signature": "sig"},
                {"type": "redacted_thinking", "data": format!("{ANTHROPIC_KEY}")},
                {"type": "text", "text": "A token."},
            ]},
            {"role": "user", "content": "thanks"},
        ],
    }))
    .unwrap();
    let reply = send(proxy.addr, post("/v1/messages", body.clone())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(upstream.requests().pop().unwrap().body == body);
}

#[tokio::test]
async fn each_scope_gets_its_own_action() {
    let rules = rulegate_lang::check_sources([(
        "scopes.rules".to_owned(),
        br#"rule marker {
  match /MARK[0-9]/
  request mask "<system>" in system
  request mask "<user>" in user
  request mask "<assistant>" in assistant
  request mask "<tool_result>" in tool_result
  request mask "<tool_input>" in tool_input
}
"#
        .to_vec(),
    )])
    .compile()
    .unwrap();
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start_with(rules, &upstream.url(), |_| {}).await;
    let body = serde_json::to_vec(&serde_json::json!({
        "system": "s MARK1",
        "messages": [
            {"role": "user", "content": "u MARK2"},
            {"role": "assistant", "content": [{"type": "text", "text": "a MARK3"}, {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "i MARK4"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r MARK5"}]},
            {"role": "system", "content": "late MARK6"},
        ],
    }))
    .unwrap();
    let reply = send(proxy.addr, post("/v1/messages", body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let forwarded = upstream.requests().pop().unwrap().json().unwrap();
    assert_eq!(forwarded["system"], "s <system>");
    assert_eq!(forwarded["messages"][0]["content"], "u <user>");
    assert_eq!(
        forwarded["messages"][1]["content"][0]["text"],
        "a <assistant>"
    );
    assert_eq!(
        forwarded["messages"][1]["content"][1]["input"]["command"],
        "i <tool_input>"
    );
    assert_eq!(
        forwarded["messages"][2]["content"][0]["content"],
        "r <tool_result>"
    );
    assert_eq!(forwarded["messages"][3]["content"], "late <system>");
}

#[tokio::test]
async fn a_non_streaming_reply_is_masked_in_place() {
    let upstream = mock(script(
        vec![Block::Text(format!("Your token: {GITHUB_TOKEN}"))],
        8,
        usize::MAX,
    ))
    .await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let reply = send(
        proxy.addr,
        post(
            "/v1/messages",
            messages_body(serde_json::json!("hi"), false),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let value: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(
        value["content"][0]["text"],
        "Your token: [redacted:github-token]"
    );
    assert_eq!(
        reply.headers["content-length"],
        reply.body.len().to_string()
    );
}

// ---------------------------------------------------------------- relay

#[tokio::test]
async fn headers_and_query_are_forwarded_and_hop_by_hop_ones_are_not() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages?beta=true")
        .header("host", "proxy.local:8080")
        .header("x-api-key", "sk-test-not-a-real-key")
        .header("authorization", "Bearer oauth-token")
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14",
        )
        .header("content-type", "application/json")
        .header("x-custom-trace", "abc123")
        .header("user-agent", "claude-cli/2.0.0 (external, cli)")
        .header("accept-encoding", "gzip, br")
        .header("connection", "keep-alive, x-drop-me")
        .header("x-drop-me", "1")
        .header("te", "trailers")
        .header("keep-alive", "timeout=5")
        .body(Full::new(Bytes::from(messages_body(
            serde_json::json!("hi"),
            false,
        ))))
        .unwrap();
    let reply = send(proxy.addr, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    let got = upstream.requests().pop().unwrap();
    assert_eq!(got.path_and_query, "/v1/messages?beta=true");
    for (name, value) in [
        ("x-api-key", "sk-test-not-a-real-key"),
        ("authorization", "Bearer oauth-token"),
        ("anthropic-version", "2023-06-01"),
        (
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14",
        ),
        ("content-type", "application/json"),
        ("x-custom-trace", "abc123"),
        ("user-agent", "claude-cli/2.0.0 (external, cli)"),
    ] {
        assert_eq!(got.header(name), Some(value), "{name}");
    }
    for gone in ["accept-encoding", "x-drop-me", "te", "keep-alive"] {
        assert_eq!(got.header(gone), None, "{gone} was forwarded");
    }
    assert_eq!(
        got.header("host"),
        Some(upstream.addr().to_string().as_str())
    );
}

#[tokio::test]
async fn other_routes_are_relayed_as_they_are() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let head = Request::builder()
        .method(Method::HEAD)
        .uri("/")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(proxy.addr, head).await.status, StatusCode::OK);
    let models = Request::builder()
        .uri("/v1/models?limit=5")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let reply = send(proxy.addr, models).await;
    assert_eq!(reply.status, StatusCode::OK);
    // A relayed route: even a body that is not JSON goes through.
    let cancel = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages/batches/msgbatch_01/cancel")
        .body(Full::new(Bytes::from_static(b"not json")))
        .unwrap();
    send(proxy.addr, cancel).await;
    let seen: Vec<(Method, String)> = upstream
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path_and_query))
        .collect();
    assert_eq!(
        seen,
        [
            (Method::HEAD, "/".to_owned()),
            (Method::GET, "/v1/models?limit=5".to_owned()),
            (
                Method::POST,
                "/v1/messages/batches/msgbatch_01/cancel".to_owned()
            ),
        ]
    );
    assert_eq!(upstream.requests()[2].body, Bytes::from_static(b"not json"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused_in_the_api_shape() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |config| {
        config.relayed = vec!["GET /v1/organizations/**".parse().unwrap()];
    })
    .await;
    let reply = send(proxy.addr, get("/v1/messages")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers["allow"], "POST");
    let (kind, message) = error_of(&reply);
    assert_eq!(kind, "invalid_request_error");
    assert!(
        message.contains("`GET /v1/messages` is not allowed"),
        "{message}"
    );
    let reply = send(proxy.addr, get("/v1/experimental")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let (kind, message) = error_of(&reply);
    assert_eq!(kind, "not_found_error");
    assert!(
        message.contains("`GET /v1/experimental` is not a route the gateway inspects or relays"),
        "{message}"
    );
    let reply = send(
        proxy.addr,
        post(
            "/v1/messages/",
            messages_body(serde_json::json!("hi"), false),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(error_of(&reply).1.contains("not in canonical form"));
    // The operator's relayed route reaches the upstream (which has no such
    // route: its 404 comes back as it is).
    let reply = send(proxy.addr, get("/v1/organizations/org_1/users")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(error_of(&reply).1.contains("mock-upstream"));
    let paths: Vec<String> = upstream
        .requests()
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(paths, ["/v1/organizations/org_1/users"]);
}

#[tokio::test]
async fn healthz_answers_locally() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let reply = send(
        proxy.addr,
        Request::builder()
            .uri("/healthz")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, Bytes::from_static(b"{\"status\":\"ok\"}"));
    assert!(upstream.requests().is_empty());
}

/// One sample of a Prometheus text exposition: name, labels, value.
type Sample = (String, std::collections::BTreeMap<String, String>, f64);

/// Parses the text exposition strictly enough that a malformed line fails.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("closed labels")),
            None => (series, ""),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name: {line}"
        );
        let mut map = std::collections::BTreeMap::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").expect("label=\"");
            let end = after.find('"').expect("closing quote");
            map.insert(key.to_string(), after[..end].to_string());
            rest = after[end + 1..].trim_start_matches(',');
        }
        samples.push((name.to_string(), map, value));
    }
    samples
}

fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn metrics_and_readiness_are_served_locally() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    assert_eq!(say_hi(proxy.addr, false).await.status, StatusCode::OK);
    assert_eq!(say_hi(proxy.addr, true).await.status, StatusCode::OK);
    // A secret in a tool result: masked and forwarded.
    let masked = messages_body(
        serde_json::json!([{"type": "tool_result", "tool_use_id": "toolu_1", "content": format!("token {GITHUB_TOKEN}")}]),
        false,
    );
    assert_eq!(
        send(proxy.addr, post("/v1/messages", masked)).await.status,
        StatusCode::OK
    );
    let unknown = send(proxy.addr, post("/v1/nothing-here", "{}")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let ready = send(proxy.addr, get("/readyz")).await;
    assert_eq!(ready.status, StatusCode::OK);
    let ready: serde_json::Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["generation"], 1);
    assert!(ready["rules"].as_u64().unwrap() > 50);

    let scraped = send(proxy.addr, get("/metrics")).await;
    assert_eq!(scraped.status, StatusCode::OK);
    assert!(scraped.headers[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(scraped.body.to_vec()).unwrap();
    let samples = parse_exposition(&text);
    let requests = "rulegate_requests_total";
    assert_eq!(
        sample(
            &samples,
            requests,
            &[("class", "inspected"), ("status", "200")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &samples,
            requests,
            &[("class", "refused"), ("status", "404")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &samples,
            requests,
            &[("route", "readyz"), ("class", "local")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &samples,
            "rulegate_guardrail_checks_total",
            &[
                ("phase", "request"),
                ("action", "mask"),
                ("rule", "github-token"),
                ("scope", "tool_result")
            ]
        ),
        1.0,
        "{text}"
    );
    assert!(
        sample(
            &samples,
            "rulegate_inspected_bytes_total",
            &[("phase", "request")]
        ) > 100.0
    );
    assert_eq!(
        sample(&samples, "rulegate_inspection_duration_seconds_count", &[]),
        3.0
    );
    assert_eq!(
        sample(
            &samples,
            "rulegate_added_time_to_first_byte_seconds_bucket",
            &[("le", "+Inf")]
        ),
        3.0
    );
    assert_eq!(sample(&samples, "rulegate_active_streams", &[]), 0.0);
    assert_eq!(sample(&samples, "rulegate_ruleset_generation", &[]), 1.0);
    assert_eq!(
        sample(&samples, "rulegate_ruleset_reload_failures_total", &[]),
        0.0
    );
    // Never relayed upstream.
    assert!(upstream
        .requests()
        .iter()
        .all(|r| r.path() != "/metrics" && r.path() != "/readyz"));
    // No matched text, no path: only fixed names in the labels.
    assert!(!text.contains("ghp_") && !text.contains("nothing-here"));
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn malformed_json_is_refused_and_not_forwarded() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let reply = send(
        proxy.addr,
        post(
            "/v1/messages",
            r#"{"messages": [{"role": "user", "content": "hi"}"#,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&reply).0, "invalid_request_error");
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_without_being_read() {
    let upstream = mock(Script::default()).await;
    let proxy = Proxy::start(&upstream.url(), |config| config.max_body_bytes = 1000).await;
    let reply = send(
        proxy.addr,
        post(
            "/v1/messages",
            messages_body(serde_json::json!("x".repeat(2000)), false),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(&reply).0, "request_too_large");

    // Declared far larger than what is sent: answered from the header
    // alone, before any body byte arrives.
    let stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let (body_tx, body) = http_body_util::channel::Channel::<Bytes>::new(1);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .header("content-length", "1000000000")
        .body(body)
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .expect("413 arrives without the body")
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    drop(body_tx);

    // Chunked, no length: cut off once the limit is passed.
    let chunks: Vec<Bytes> = (0..10).map(|_| Bytes::from(vec![b' '; 500])).collect();
    let stream = TcpStream::connect(proxy.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes>::new(16);
    for chunk in chunks {
        tx.send_data(chunk).await.unwrap();
    }
    drop(tx);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/messages")
        .body(body)
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn an_unreachable_upstream_gets_502() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let proxy = Proxy::start(&format!("http://127.0.0.1:{port}"), |_| {}).await;
    let reply = say_hi(proxy.addr, true).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(error_of(&reply).0, "api_error");
}

#[tokio::test]
async fn a_silent_upstream_gets_504() {
    let upstream = MockUpstream::start(Arc::new(|_: &Recorded| Reply::Hang))
        .await
        .unwrap();
    let proxy = Proxy::start(&upstream.url(), |config| {
        config.upstream_timeout = Duration::from_millis(300);
    })
    .await;
    let reply = say_hi(proxy.addr, true).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(error_of(&reply).0, "api_error");
}

#[tokio::test]
async fn a_compressed_reply_on_an_inspected_route_is_refused() {
    let upstream = MockUpstream::start(Arc::new(|_: &Recorded| Reply::Chunks {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/event-stream".into()),
            ("content-encoding".into(), "gzip".into()),
        ],
        frames: vec![Bytes::from_static(b"\x1f\x8b\x08\x00")],
        delay: Duration::ZERO,
    }))
    .await
    .unwrap();
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let reply = say_hi(proxy.addr, true).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn upstream_errors_are_passed_through() {
    let upstream = MockUpstream::start(Arc::new(|_: &Recorded| {
        Reply::json_text(
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
    }))
    .await
    .unwrap();
    let proxy = Proxy::start(&upstream.url(), |_| {}).await;
    let reply = say_hi(proxy.addr, true).await;
    assert_eq!(reply.status.as_u16(), 529);
    assert_eq!(error_of(&reply).0, "overloaded_error");
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn the_tls_upstream_path_works_with_a_trusted_certificate_only() {
    let blocks = vec![Block::Text(format!("token {GITHUB_TOKEN} here"))];
    let upstream = MockUpstream::start_tls(anthropic_responder(script(blocks, 4, 9)))
        .await
        .unwrap();
    let pem = upstream.certificate_pem().unwrap();
    let roots = rulegate_proxy::config::read_pem_certificates(pem.as_bytes()).unwrap();
    let proxy = Proxy::start(&upstream.url(), |config| config.extra_roots = roots).await;
    let reply = say_hi(proxy.addr, true).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        assembled_text(&reply.body),
        ["token [redacted:github-token] here"]
    );
    // ALPN picked HTTP/2 with the mock, which offers it.
    assert_eq!(upstream.requests()[0].version, http::Version::HTTP_2);

    // The same upstream without trusting its certificate: 502.
    let untrusting = Proxy::start(&upstream.url(), |_| {}).await;
    let reply = say_hi(untrusting.addr, true).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
}

/// The listener speaks TLS with a certificate from PEM files: a real TLS
/// client gets its answer; a plain-HTTP client gets none.
#[tokio::test]
async fn the_listener_serves_https_from_pem_files() {
    let upstream = mock(Script::default()).await;
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("rulegate-listener-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let tls = rulegate_proxy::tls::ListenerTls::load(&cert, &key).unwrap();
    let proxy = Proxy::start(&upstream.url(), |config| {
        config.listener_tls = Some(Arc::new(tls));
    })
    .await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(generated.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = connector.connect(name, tcp).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = post(
        "/v1/messages",
        messages_body(serde_json::json!("hi"), false),
    );
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.requests().len(), 1);

    // Plain HTTP to a TLS listener: the handshake fails, nothing is served.
    let plain = tokio::time::timeout(Duration::from_secs(5), async {
        let stream = TcpStream::connect(proxy.addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        sender.send_request(post("/v1/messages", "{}")).await
    })
    .await
    .expect("the TLS listener closes a plain connection");
    assert!(plain.is_err());
    assert_eq!(upstream.requests().len(), 1);
}

/// A minimal HTTP CONNECT proxy that records each tunnel's target.
async fn connect_proxy() -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head
                    .strip_prefix("CONNECT ")
                    .and_then(|rest| rest.split(' ').next())
                    .unwrap_or_default()
                    .to_owned();
                record.lock().unwrap().push(target.clone());
                let Ok(mut upstream) = TcpStream::connect(target.as_str()).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, seen)
}

/// With an egress proxy, the upstream is reached through a CONNECT tunnel
/// and TLS runs inside it, to the upstream's own name.
#[tokio::test]
async fn the_upstream_is_reached_through_the_egress_proxy() {
    let blocks = vec![Block::Text(format!("token {GITHUB_TOKEN} here"))];
    let upstream = MockUpstream::start_tls(anthropic_responder(script(blocks, 4, 9)))
        .await
        .unwrap();
    let pem = upstream.certificate_pem().unwrap();
    let roots = rulegate_proxy::config::read_pem_certificates(pem.as_bytes()).unwrap();
    let (egress, tunnels) = connect_proxy().await;
    let proxy = Proxy::start(&upstream.url(), |config| {
        config.extra_roots = roots;
        config.egress_proxy = Some(rulegate_proxy::egress::EgressProxy {
            uri: format!("http://{egress}").parse().unwrap(),
            auth: None,
        });
    })
    .await;
    let reply = say_hi(proxy.addr, true).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        assembled_text(&reply.body),
        ["token [redacted:github-token] here"]
    );
    let port = upstream.url().rsplit(':').next().unwrap().to_owned();
    assert_eq!(*tunnels.lock().unwrap(), [format!("localhost:{port}")]);
}

/// Worker threads serving the shipped rules, and a client whose streamed
/// reply (a GitHub token twenty times, a delta every 5 ms) has begun: the
/// upstream has the request.
async fn slow_stream_under_way() -> (
    MockUpstream,
    rulegate_proxy::Workers,
    tokio::task::JoinHandle<Received>,
) {
    let mut script = script(
        vec![Block::Text(format!("slow {GITHUB_TOKEN} ").repeat(20))],
        7,
        usize::MAX,
    );
    script.delay = Duration::from_millis(5);
    let upstream = mock(script).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config::new(upstream.url().parse().unwrap());
    let workers = rulegate_proxy::Workers::start(listener, 2, shipped(), config).unwrap();
    let addr = workers.address();
    let client = tokio::spawn(async move { say_hi(addr, true).await });
    while upstream.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (upstream, workers, client)
}

#[tokio::test]
async fn worker_threads_serve_and_stop_gracefully() {
    let (_upstream, workers, client) = slow_stream_under_way().await;
    let addr = workers.address();
    workers.stop();
    let joined = tokio::task::spawn_blocking(move || workers.join());
    let reply = client.await.unwrap();
    joined.await.unwrap().unwrap();
    assert_eq!(
        assembled_text(&reply.body),
        ["slow [redacted:github-token] ".repeat(20)]
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after stop"
    );
}

/// A reload while a reply streams: the stream finishes with the rules it
/// started with, and the next request gets the new ones.
#[tokio::test]
async fn a_stream_in_flight_keeps_its_rules_across_a_reload() {
    let (_upstream, workers, client) = slow_stream_under_way().await;
    let addr = workers.address();
    let renamed = rulegate_lang::check_sources(vec![(
        "new.rules".to_owned(),
        b"rule github {\n  match /ghp_[A-Za-z0-9]{36}/\n  response mask \"[new]\"\n}\n".to_vec(),
    )])
    .compile()
    .unwrap();
    assert_eq!(workers.reload(renamed, std::collections::HashMap::new()), 2);
    let reply = client.await.unwrap();
    assert_eq!(
        assembled_text(&reply.body),
        ["slow [redacted:github-token] ".repeat(20)],
        "the stream changed rules mid-way"
    );
    let after = say_hi(addr, true).await;
    assert_eq!(assembled_text(&after.body), ["slow [new] ".repeat(20)]);
    workers.stop();
    tokio::task::spawn_blocking(move || workers.join())
        .await
        .unwrap()
        .unwrap();
}
