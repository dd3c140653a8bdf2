//! The adversarial suite: attempts to walk a secret past the gateway, one
//! data file each, run through the real gateway (shipped packs) and the
//! recording mock upstream.
//!
//! `tests/adversarial/requests/*.case`: a request a client sends. Whatever
//! the gateway answers, no fragment of any secret may reach the upstream:
//! not in the raw bytes, not in any JSON string or key once decoded.
//!
//! `tests/adversarial/replies/*.case`: bytes the upstream answers (SSE or
//! JSON) to a clean request. No fragment of any secret may reach the
//! client: not in the raw bytes, not in any decoded string, not in the text
//! or tool arguments a client joins per block. Each reply is sent cut
//! three ways (one event per read, 7-byte reads, 1-byte reads).
//!
//! A case file is `# key: value` header lines, a `---` line, then the body
//! verbatim (a reply's SSE with `\n` line ends). Headers: `route:` (`METHOD
//! /path`), `expect:` (`refused STATUS`, `forwarded`, or for replies
//! `masked` / `error-event`), `content-type:` for replies (default
//! `text/event-stream`). Placeholders `{{NAME}}`, `{{NAME[a..b]}}` (a
//! slice, to split a secret across deltas) and `{{NAME|ENCODING}}` (see
//! `encode`: JSON escapes once or twice, percent, zero-width spaces,
//! fullwidth, base64) stand for the secrets below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rulegate_engine::RuleSet;
use rulegate_mock_upstream::{anthropic_responder, parse_sse, MockUpstream, Reply, Script};
use rulegate_proxy::{Config, Gateway, Upstream};
use tokio::net::{TcpListener, TcpStream};

const SECRETS: &[(&str, &str)] = &[
    (
        "ANTHROPIC_KEY",
        "sk-ant-api03-Bi10Q71hA1XcW9aTMX1C_CI3_dXRZv7qdYdk2r7xgHWPB6PRWJ1Gk8cgSCifdFzctEq8oB7GVvouNndNWYzjFnMpfS2ViAA",
    ),
    ("GITHUB_TOKEN", "ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh"),
    ("AWS_KEY", "AKIAHBRPOIGF3CBFNOBM"),
];

/// A secret counts as leaked when any run of this many of its characters
/// is seen.
const FRAGMENT: usize = 10;

fn shipped() -> RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES
        .get_or_init(rulegate_benches::shipped_rule_set)
        .clone()
}

struct Case {
    path: PathBuf,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Case {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("{}: no `{name}:` header", self.path.display()))
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

fn cases(dir: &str) -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("adversarial")
        .join(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no cases in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let (head, body) = text
                .split_once("\n---\n")
                .unwrap_or_else(|| panic!("{}: no `---` line", path.display()));
            let headers = head
                .lines()
                .filter_map(|line| line.strip_prefix("# "))
                .filter_map(|line| line.split_once(": "))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let body = substitute(body.strip_suffix('\n').unwrap_or(body));
            Case {
                path,
                headers,
                body: body.into_bytes(),
            }
        })
        .collect()
}

/// Replaces the secret placeholders.
fn substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("an unclosed placeholder") + start;
        let spec = &rest[start + 2..end];
        let (spec, encoding) = match spec.split_once('|') {
            Some((spec, encoding)) => (spec, encoding),
            None => (spec, ""),
        };
        let (name, range) = match spec.split_once('[') {
            Some((name, range)) => (name, Some(range.trim_end_matches(']'))),
            None => (spec, None),
        };
        let secret = SECRETS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("unknown secret {name}"))
            .1;
        let piece = match range.and_then(|r| r.split_once("..")) {
            Some((a, b)) => {
                let a: usize = if a.is_empty() { 0 } else { a.parse().unwrap() };
                let b: usize = if b.is_empty() {
                    secret.len()
                } else {
                    b.parse().unwrap()
                };
                &secret[a..b]
            }
            None => secret,
        };
        out.push_str(&encode(piece, encoding));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `piece` written in one of the encodings a case can ask for.
fn encode(piece: &str, encoding: &str) -> String {
    match encoding {
        "" => piece.to_owned(),
        // Every character as a JSON `\uXXXX` escape.
        "u" => piece
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect(),
        // The same, once more escaped: JSON text inside a JSON string.
        "uu" => piece
            .chars()
            .map(|c| format!("\\\\u{:04x}", c as u32))
            .collect(),
        // Every byte percent-encoded.
        "pct" => piece.bytes().map(|b| format!("%{b:02X}")).collect(),
        // A zero-width space after every character.
        "zw" => piece.chars().flat_map(|c| [c, '\u{200B}']).collect(),
        // Fullwidth forms.
        "fw" => piece
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
                other => other,
            })
            .collect(),
        "b64" => base64(piece.as_bytes()),
        other => panic!("unknown encoding {other}"),
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every fragment of a secret found in `text`, as `NAME: fragment`, in
/// plain text or in any encoding a case can write it in.
fn leaks(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (name, secret) in SECRETS {
        // A base64 leak shows as a run of the secret's own encoding.
        let encoded = base64(secret.as_bytes());
        if (0..encoded.len() - 16).any(|at| text.contains(&encoded[at..at + 16])) {
            found.push(format!("{name}: base64"));
            continue;
        }
        for start in 0..=secret.len() - FRAGMENT {
            let fragment = &secret[start..start + FRAGMENT];
            let mut forms = ["", "u", "uu", "pct", "zw", "fw"]
                .into_iter()
                .map(|encoding| encode(fragment, encoding));
            if forms.any(|form| text.contains(&form)) {
                found.push(format!("{name}: {fragment}"));
                break;
            }
        }
    }
    found
}

/// Every string and key of a JSON document, decoded.
fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(members) => {
            for (k, v) in members {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

struct Proxy {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn proxy(upstream: &MockUpstream) -> Proxy {
    let upstream: Upstream = upstream.url().parse().unwrap();
    let gateway = Arc::new(Gateway::new(shipped(), Config::new(upstream)).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(rulegate_proxy::serve(
        listener,
        gateway,
        std::future::pending(),
    ));
    Proxy { addr, task }
}

/// Sends raw request bytes' parts; returns the status and body.
async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Bytes) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("x-api-key", "test-key")
        .header("anthropic-version", "2023-06-01")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), sender.send_request(request))
        .await
        .expect("the gateway answers")
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

fn route(case: &Case) -> (String, String) {
    let (method, path) = case
        .header("route")
        .split_once(' ')
        .expect("route: METHOD /path");
    (method.to_owned(), path.to_owned())
}

#[tokio::test]
async fn no_request_case_gets_a_secret_upstream() {
    let mut failures = Vec::new();
    for case in cases("requests") {
        let upstream = MockUpstream::start(anthropic_responder(Script::text("ok")))
            .await
            .unwrap();
        let gateway = proxy(&upstream).await;
        let (method, path) = route(&case);
        let (status, reply) = send(gateway.addr, &method, &path, case.body.clone()).await;
        let received = upstream.requests();
        let mut seen = String::new();
        for request in &received {
            seen.push_str(&request.path_and_query);
            seen.push_str(&String::from_utf8_lossy(&request.body));
            if let Some(json) = request.json() {
                let mut strings = Vec::new();
                json_strings(&json, &mut strings);
                seen.push_str(&strings.join("\n"));
            }
        }
        let leaked = leaks(&seen);
        if !leaked.is_empty() {
            failures.push(format!("{}: leaked upstream: {leaked:?}", case.name()));
        }
        let expect = case.header("expect");
        let reply = String::from_utf8_lossy(&reply);
        match expect.split_once(' ') {
            Some(("refused", code)) => {
                if status.as_str() != code || !received.is_empty() {
                    failures.push(format!(
                        "{}: expected refused {code} with nothing forwarded, got {status} and {} forwarded: {reply}",
                        case.name(),
                        received.len()
                    ));
                }
            }
            _ if expect == "forwarded" => {
                if received.len() != 1 {
                    failures.push(format!(
                        "{}: expected it forwarded (masked), got {status}: {reply}",
                        case.name()
                    ));
                }
            }
            _ => panic!("{}: unknown expect {expect}", case.name()),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// What a client reads from a streamed reply: every decoded string of
/// every event, and the text and tool arguments it joins per block.
fn client_view(bytes: &[u8]) -> (String, Vec<String>) {
    let mut seen = String::from_utf8_lossy(bytes).into_owned();
    let mut joined: BTreeMap<(u64, &str), String> = BTreeMap::new();
    let mut names = Vec::new();
    for (name, data) in parse_sse(bytes) {
        names.push(name);
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&data) else {
            continue;
        };
        let mut strings = Vec::new();
        json_strings(&value, &mut strings);
        seen.push('\n');
        seen.push_str(&strings.join("\n"));
        let index = value["index"].as_u64().unwrap_or(u64::MAX);
        for (field, kind) in [
            ("text", "text"),
            ("partial_json", "json"),
            ("thinking", "thinking"),
        ] {
            if let Some(piece) = value["delta"][field].as_str() {
                joined.entry((index, kind)).or_default().push_str(piece);
            }
        }
        if let Some(piece) = value["completion"].as_str() {
            joined
                .entry((u64::MAX, "completion"))
                .or_default()
                .push_str(piece);
        }
    }
    for text in joined.values() {
        seen.push('\n');
        seen.push_str(text);
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            let mut strings = Vec::new();
            json_strings(&value, &mut strings);
            seen.push_str(&strings.join("\n"));
        }
    }
    (seen, names)
}

#[tokio::test]
async fn no_reply_case_gets_a_secret_to_the_client() {
    let mut failures = Vec::new();
    for case in cases("replies") {
        let content_type = case
            .headers
            .get("content-type")
            .map_or("text/event-stream", String::as_str)
            .to_owned();
        for frame in [usize::MAX, 7, 1] {
            let body = case.body.clone();
            let media = content_type.clone();
            let responder = Arc::new(move |_: &rulegate_mock_upstream::Recorded| {
                let mut reply = Reply::sse(&body, frame, Duration::ZERO);
                if let Reply::Chunks { headers, .. } = &mut reply {
                    headers[0].1 = media.clone();
                }
                reply
            });
            let upstream = MockUpstream::start(responder).await.unwrap();
            let gateway = proxy(&upstream).await;
            let (method, path) = route(&case);
            let clean = br#"{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
            let (status, reply) = send(gateway.addr, &method, &path, clean.to_vec()).await;
            let (seen, names) = client_view(&reply);
            let leaked = leaks(&seen);
            let label = format!("{} (reads of {frame})", case.name());
            if !leaked.is_empty() {
                failures.push(format!("{label}: leaked to the client: {leaked:?}"));
            }
            let ok = match case.header("expect") {
                "masked" => {
                    status == StatusCode::OK
                        && !names.iter().any(|n| n == "error")
                        && seen.contains("[redacted:")
                }
                "error-event" => {
                    status == StatusCode::OK && names.last().is_some_and(|n| n == "error")
                }
                "refused 502" => status == StatusCode::BAD_GATEWAY,
                other => panic!("{label}: unknown expect {other}"),
            };
            if !ok {
                failures.push(format!(
                    "{label}: expected {}, got {status}: {}",
                    case.header("expect"),
                    String::from_utf8_lossy(&reply)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
