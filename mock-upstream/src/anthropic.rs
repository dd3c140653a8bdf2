//! The Anthropic Messages API as a script: the exact SSE bytes and message
//! JSON the real API sends for a list of content blocks.
//!
//! Invariant: everything here is a function of the `Script` alone (fixed id,
//! model and input token count), so a test can compare what its client got
//! with `anthropic_sse(&script)` byte for byte. JSON is written with
//! `format!` because serde_json's map (without `preserve_order`) would sort
//! the keys; string values still go through serde_json for escaping.

use std::sync::Arc;
use std::time::Duration;

use crate::{Recorded, Reply, Responder};

/// One content block of the scripted answer.
#[derive(Clone, Debug)]
pub enum Block {
    Text(String),
    /// `input_json` is streamed as `partial_json` pieces and must be valid
    /// JSON for the non-streaming reply (empty counts as `{}`).
    ToolUse {
        id: String,
        name: String,
        input_json: String,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
}

/// What the scripted model answers, and how the stream is cut.
#[derive(Clone, Debug)]
pub struct Script {
    pub blocks: Vec<Block>,
    /// Bytes of text per text_delta / thinking_delta / partial_json, cut on a
    /// char boundary, at least one char.
    pub delta_size: usize,
    /// Bytes per body frame; `usize::MAX` = one frame per event.
    pub frame_size: usize,
    /// Slept between frames (not before the first).
    pub delay: Duration,
    /// A `ping` after every N deltas; 0 = only the one after message_start.
    pub ping_every: usize,
}

impl Script {
    /// One text block, the other fields as in `Default`.
    pub fn text(text: &str) -> Script {
        Script {
            blocks: vec![Block::Text(text.to_owned())],
            ..Script::default()
        }
    }

    /// The script for the turn after a tool ran: only the `Text` blocks
    /// (so `stop_reason` is `end_turn`), the cutting unchanged. What
    /// [`anthropic_responder`] answers to a request whose last message
    /// carries a `tool_result` block.
    pub fn after_tool_result(&self) -> Script {
        Script {
            blocks: self
                .blocks
                .iter()
                .filter(|block| matches!(block, Block::Text(_)))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}

/// Whether the last message of a Messages API request body has a
/// `tool_result` block in its content (the client ran a tool and reports).
fn reports_a_tool_result(body: &serde_json::Value) -> bool {
    body["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|block| block["type"] == "tool_result"))
}

impl Default for Script {
    fn default() -> Script {
        Script {
            blocks: vec![Block::Text("Hello from the mock upstream.".to_owned())],
            delta_size: 8,
            frame_size: usize::MAX,
            delay: Duration::ZERO,
            ping_every: 0,
        }
    }
}

const MESSAGE_ID: &str = "msg_01MockUpstream";
const MODEL: &str = "claude-mock-1";
const INPUT_TOKENS: usize = 25;

/// The exact SSE bytes the real API sends for this script.
pub fn anthropic_sse(script: &Script) -> Vec<u8> {
    let mut out = String::new();
    let mut event = |name: &str, data: &str| {
        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    };
    let start = message_json("", "null", &usage(INPUT_TOKENS, 1));
    event(
        "message_start",
        &format!(r#"{{"type":"message_start","message":{start}}}"#),
    );
    event("ping", r#"{"type":"ping"}"#);
    let mut deltas = 0;
    for (index, block) in script.blocks.iter().enumerate() {
        let (start, pieces) = match block {
            Block::Text(text) => (
                r#"{"type":"text","text":""}"#.to_owned(),
                cut(text, script.delta_size)
                    .map(|piece| format!(r#"{{"type":"text_delta","text":{}}}"#, q(piece)))
                    .collect::<Vec<_>>(),
            ),
            Block::ToolUse {
                id,
                name,
                input_json,
            } => (
                format!(
                    r#"{{"type":"tool_use","id":{},"name":{},"input":{{}}}}"#,
                    q(id),
                    q(name)
                ),
                cut(input_json, script.delta_size)
                    .map(|p| format!(r#"{{"type":"input_json_delta","partial_json":{}}}"#, q(p)))
                    .collect(),
            ),
            Block::Thinking {
                thinking,
                signature,
            } => {
                let mut pieces: Vec<String> = cut(thinking, script.delta_size)
                    .map(|p| format!(r#"{{"type":"thinking_delta","thinking":{}}}"#, q(p)))
                    .collect();
                pieces.push(format!(
                    r#"{{"type":"signature_delta","signature":{}}}"#,
                    q(signature)
                ));
                (
                    r#"{"type":"thinking","thinking":"","signature":""}"#.to_owned(),
                    pieces,
                )
            }
        };
        event(
            "content_block_start",
            &format!(r#"{{"type":"content_block_start","index":{index},"content_block":{start}}}"#),
        );
        for delta in pieces {
            event(
                "content_block_delta",
                &format!(r#"{{"type":"content_block_delta","index":{index},"delta":{delta}}}"#),
            );
            deltas += 1;
            if script.ping_every > 0 && deltas % script.ping_every == 0 {
                event("ping", r#"{"type":"ping"}"#);
            }
        }
        event(
            "content_block_stop",
            &format!(r#"{{"type":"content_block_stop","index":{index}}}"#),
        );
    }
    event(
        "message_delta",
        &format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":{},"stop_sequence":null}},"usage":{{"output_tokens":{}}}}}"#,
            q(stop_reason(script)),
            output_tokens(script)
        ),
    );
    event("message_stop", r#"{"type":"message_stop"}"#);
    out.into_bytes()
}

/// The non-streaming Message JSON with the same blocks.
fn message(script: &Script) -> String {
    let content: Vec<String> = script
        .blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => format!(r#"{{"type":"text","text":{}}}"#, q(text)),
            Block::ToolUse {
                id,
                name,
                input_json,
            } => {
                let valid = serde_json::from_str::<serde_json::Value>(input_json).is_ok();
                let input = if valid { input_json.as_str() } else { "{}" };
                format!(
                    r#"{{"type":"tool_use","id":{},"name":{},"input":{input}}}"#,
                    q(id),
                    q(name)
                )
            }
            Block::Thinking {
                thinking,
                signature,
            } => format!(
                r#"{{"type":"thinking","thinking":{},"signature":{}}}"#,
                q(thinking),
                q(signature)
            ),
        })
        .collect();
    let usage = usage(INPUT_TOKENS, output_tokens(script));
    message_json(&content.join(","), &q(stop_reason(script)), &usage)
}

fn message_json(content: &str, stop_reason: &str, usage: &str) -> String {
    format!(
        r#"{{"id":{},"type":"message","role":"assistant","model":{},"content":[{content}],"stop_reason":{stop_reason},"stop_sequence":null,"usage":{usage}}}"#,
        q(MESSAGE_ID),
        q(MODEL)
    )
}

fn usage(input: usize, output: usize) -> String {
    format!(r#"{{"input_tokens":{input},"output_tokens":{output}}}"#)
}

fn stop_reason(script: &Script) -> &'static str {
    let tool = script
        .blocks
        .iter()
        .any(|b| matches!(b, Block::ToolUse { .. }));
    if tool {
        "tool_use"
    } else {
        "end_turn"
    }
}

/// A rough 4-bytes-a-token count, at least 1, as a stand-in for the tokenizer.
fn output_tokens(script: &Script) -> usize {
    let bytes: usize = script
        .blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => text.len(),
            Block::ToolUse { input_json, .. } => input_json.len(),
            Block::Thinking { thinking, .. } => thinking.len(),
        })
        .sum();
    (bytes / 4).max(1)
}

/// A JSON string literal.
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// `text` in pieces of at most `size` bytes on char boundaries, but never
/// less than one char; nothing for empty text.
fn cut(text: &str, size: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?.len_utf8();
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end.max(first));
        rest = tail;
        Some(piece)
    })
}

fn error(status: u16, kind: &str, message: &str) -> Reply {
    let body = format!(
        r#"{{"type":"error","error":{{"type":{},"message":{}}}}}"#,
        q(kind),
        q(message)
    );
    Reply::json_text(status, body)
}

/// Answers like the Anthropic API, from `script`: `HEAD`/`GET /` → 200
/// empty; `GET /v1/models` → a one-model list; `POST
/// /v1/messages/count_tokens` → `{"input_tokens":N}` (N ≈ body bytes / 4);
/// `POST /v1/messages` → [`anthropic_sse`] cut per the script when the body
/// has `"stream": true`, else the Message JSON; a body that is not JSON →
/// 400 `invalid_request_error`; anything else → 404 `not_found_error`.
///
/// A tool loop in two turns: when the request's last message carries a
/// `tool_result` block, the answer is [`Script::after_tool_result`] (the
/// Text blocks only, `end_turn`); otherwise it is every block of the script
/// (with a `ToolUse` block, `stop_reason` is `tool_use`).
pub fn anthropic_responder(script: Script) -> Responder {
    let after_tool = script.after_tool_result();
    Arc::new(move |request: &Recorded| {
        let path = request.path();
        match (request.method.as_str(), path) {
            ("HEAD" | "GET", "/") => Reply::empty(200),
            ("GET", "/v1/models") => Reply::json_text(
                200,
                format!(
                    r#"{{"data":[{{"type":"model","id":{m},"display_name":"Claude Mock 1","created_at":"2025-01-01T00:00:00Z"}}],"has_more":false,"first_id":{m},"last_id":{m}}}"#,
                    m = q(MODEL)
                ),
            ),
            ("POST", "/v1/messages/count_tokens") => Reply::json_text(
                200,
                format!(r#"{{"input_tokens":{}}}"#, (request.body.len() / 4).max(1)),
            ),
            ("POST", "/v1/messages") => match request.json() {
                Some(body) => {
                    let script = if reports_a_tool_result(&body) {
                        &after_tool
                    } else {
                        &script
                    };
                    if body["stream"] == true {
                        Reply::sse(&anthropic_sse(script), script.frame_size, script.delay)
                    } else {
                        Reply::json_text(200, message(script))
                    }
                }
                None => error(
                    400,
                    "invalid_request_error",
                    "request body is not valid JSON",
                ),
            },
            (method, _) => error(
                404,
                "not_found_error",
                &format!("mock-upstream: no route for {method} {path}"),
            ),
        }
    })
}
