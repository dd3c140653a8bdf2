//! A streamed Messages (or Text Completions) reply, rewritten as it comes.
//!
//! Invariants:
//! - Every event's data is read with the strict JSON reader (a duplicate
//!   member ends the stream with an error event, as does data that is not
//!   JSON): the client never reads a member the gateway did not.
//! - Text streams through one scanner per content block: `text_delta`
//!   text, and the text a text block's start carries. Tool arguments
//!   (`input_json_delta`) stream through a [`ToolInputRewriter`] per block,
//!   so the `partial_json` a client joins is valid JSON equal to the
//!   block-mode masking of the final input. A legacy `completion` event's
//!   text streams through one scanner for the reply.
//! - Held text is flushed before the block's `content_block_stop` (the
//!   completion's before the event that carries its `stop_reason`).
//! - Signed thinking (`thinking_delta`) cannot be altered, but it can be
//!   held: each event waits, unaltered, until its block's scanner has
//!   released all of its text. A `reject` there ends the stream before the
//!   match reaches the client; a `mask` is logged as not carried out. Any
//!   other event (the `signature_delta` first) ends the held text as if
//!   the thinking ended there, so events keep their order.
//! - Every other event (`message_start` with pre-filled content, a
//!   server-tool result's block start, `citations_delta`, `message_delta`,
//!   unknown ones) is scanned whole, every string and key, and masked in
//!   place; it passes byte-for-byte when nothing fired.
//! - An event is what both its name and its data's `type` say; when they
//!   disagree the stream ends (clients dispatch on either).
//! - After a rejection, or an event it cannot read, one Anthropic
//!   `event: error` is written and nothing more: it fails closed.

use std::collections::BTreeMap;

use rulegate_engine::{Disposition, Finding, RuleSet, Scanner, Scope, Side};

use super::walk::Walk;
use crate::adapter::{Fired, FiredLog, StreamRewriter};
use crate::json::{self, Edit, Value};
use crate::sse::{write_event, Event, SseParser};
use crate::tool_json::{ToolInputRewriter, ToolJsonError};

/// Real events are a few hundred bytes; an upstream that never ends one is
/// cut off rather than buffered without bound.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The key of the legacy completion's text among the open blocks.
const COMPLETION: u64 = u64::MAX;

enum Open {
    Text(Scanner),
    Tool(Box<ToolInputRewriter>),
    /// Signed: scanned, output dropped; the events wait in `held`.
    Thinking(Thinking),
}

struct Thinking {
    scanner: Scanner,
    /// Bytes fed to and released by the scanner so far.
    fed: usize,
    released: usize,
    /// Raw events, each with the offset its text ends at.
    held: std::collections::VecDeque<(usize, Vec<u8>)>,
}

impl Thinking {
    fn new(rules: &RuleSet) -> Thinking {
        Thinking {
            scanner: rules.scanner(Side::Response, Scope::Assistant),
            fed: 0,
            released: 0,
            held: std::collections::VecDeque::new(),
        }
    }
}

pub struct MessagesStream {
    rules: RuleSet,
    parser: SseParser,
    open: BTreeMap<u64, Open>,
    fired: FiredLog,
    failed: Option<String>,
    released: Vec<u8>,
}

impl MessagesStream {
    pub fn new(rules: RuleSet) -> MessagesStream {
        MessagesStream {
            rules,
            parser: SseParser::new(),
            open: BTreeMap::new(),
            fired: FiredLog::default(),
            failed: None,
            released: Vec::new(),
        }
    }

    fn event(&mut self, event: Event, out: &mut Vec<u8>) {
        let Some(data) = event.data.as_deref() else {
            // No data, nothing to read (a comment or a bare `event:`).
            out.extend_from_slice(&event.raw);
            return;
        };
        let document = match json::parse(data) {
            Ok(document) => document,
            Err(error) => {
                let name = event.name.as_deref().unwrap_or("message");
                return self.fail(&format!("an unreadable `{name}` event: {error}"), out);
            }
        };
        let value = document.root();
        // Some clients dispatch on the event name, others on the data's
        // `type`: the two must name the same event, or a delta could pass
        // here as a ping and be read there as text.
        let kind = value
            .get("type")
            .and_then(Value::as_string)
            .map(|t| t.text().into_owned());
        let name = match (event.name.as_deref(), kind) {
            (Some(name), Some(kind)) if name != kind => {
                return self.fail("an event whose name and data `type` disagree", out);
            }
            (_, Some(kind)) => kind,
            (Some(name), None) => name.to_owned(),
            (None, None) => "message".to_owned(),
        };
        let thinking_delta = name == "content_block_delta"
            && value
                .get("delta")
                .and_then(|d| d.get("type"))
                .is_some_and(|t| t.is_str("thinking_delta"));
        let continuing = if thinking_delta {
            index_of(&value)
        } else {
            None
        };
        if !self.settle_thinking(continuing, out) {
            return;
        }
        match name.as_str() {
            "content_block_start" => self.block_start(&event, data, &value, out),
            "content_block_delta" => self.block_delta(&event, data, &value, out),
            "content_block_stop" => match index_of(&value) {
                Some(index) => {
                    if self.close(index, out) {
                        self.whole(&event, &name, data, &value, out);
                    }
                }
                None => self.fail("a content_block_stop event without an index", out),
            },
            "completion" => self.completion(data, &value, out),
            _ => self.whole(&event, &name, data, &value, out),
        }
    }

    /// Scans an event whole and passes it on, masked in place if needed.
    fn whole(
        &mut self,
        event: &Event,
        name: &str,
        data: &[u8],
        value: &Value<'_>,
        out: &mut Vec<u8>,
    ) {
        let rules = self.rules.clone();
        let mut walk = Walk::new(&rules, Side::Response);
        walk.event(value);
        self.pass(walk, Some(event), name, data, out);
    }

    /// Writes an event after a walk of it: its raw bytes when nothing
    /// changed (`raw`), else rewritten; or the error, if a rule rejected.
    fn pass(
        &mut self,
        walk: Walk<'_>,
        raw: Option<&Event>,
        name: &str,
        data: &[u8],
        out: &mut Vec<u8>,
    ) {
        let Walk {
            mut edits,
            fired,
            rejected,
            ..
        } = walk;
        self.fired.absorb(fired);
        if let Some(first) = rejected.first() {
            return self.reject(&first.rule, &first.message, out);
        }
        if let (true, Some(event)) = (edits.is_empty(), raw) {
            out.extend_from_slice(&event.raw);
        } else {
            write_event(name, &json::splice(data, &mut edits), out);
        }
    }

    fn block_start(&mut self, event: &Event, data: &[u8], value: &Value<'_>, out: &mut Vec<u8>) {
        let Some(index) = index_of(value) else {
            return self.fail("a content_block_start event without an index", out);
        };
        let block = value.get("content_block");
        let kind = block
            .and_then(|b| b.get("type"))
            .and_then(Value::as_string)
            .map(|t| t.text().into_owned())
            .unwrap_or_default();
        let rules = self.rules.clone();
        let mut walk = Walk::new(&rules, Side::Response);
        let mut initial = None;
        match kind.as_str() {
            "text" => {
                self.open.insert(
                    index,
                    Open::Text(rules.scanner(Side::Response, Scope::Assistant)),
                );
                // The API starts text blocks empty; text carried here anyway
                // goes through the scanner like a first delta.
                if let Some(text) = block.and_then(|b| b.get("text")).and_then(Value::as_string) {
                    walk.exclude(text.span());
                    if text.span().len() > 2 {
                        initial = Some((text.span(), text.text().into_owned()));
                    }
                }
            }
            "tool_use" | "server_tool_use" | "mcp_tool_use" => {
                let rewriter = ToolInputRewriter::new(&rules, Side::Response, Scope::ToolInput);
                self.open.insert(index, Open::Tool(Box::new(rewriter)));
            }
            "thinking" => {
                self.open
                    .insert(index, Open::Thinking(Thinking::new(&rules)));
            }
            _ => {}
        }
        walk.event(value);
        if let Some((span, _)) = &initial {
            walk.edits.push(Edit {
                span: span.clone(),
                replacement: "\"\"".to_owned(),
            });
        }
        self.pass(walk, Some(event), "content_block_start", data, out);
        if self.failed.is_some() {
            return;
        }
        if let Some((_, text)) = initial {
            if let Some(released) = self.scan_text(index, text.as_bytes(), false, out) {
                if !released.is_empty() {
                    write_text_delta(index, &released, out);
                }
            }
        }
    }

    fn block_delta(&mut self, event: &Event, data: &[u8], value: &Value<'_>, out: &mut Vec<u8>) {
        let delta = value.get("delta");
        let kind = delta
            .and_then(|d| d.get("type"))
            .and_then(Value::as_string)
            .map(|t| t.text().into_owned())
            .unwrap_or_default();
        let field = match kind.as_str() {
            "text_delta" => "text",
            "input_json_delta" => "partial_json",
            "thinking_delta" => "thinking",
            // Signatures are opaque; anything else is scanned whole.
            "signature_delta" => return out.extend_from_slice(&event.raw),
            _ => return self.whole(event, "content_block_delta", data, value, out),
        };
        let (Some(index), Some(text)) = (
            index_of(value),
            delta.and_then(|d| d.get(field)).and_then(Value::as_string),
        ) else {
            return self.fail(&format!("a {kind} event without an index or {field}"), out);
        };
        let rules = &self.rules;
        let open = self.open.entry(index).or_insert_with(|| {
            // A delta for a block whose start we did not see.
            match kind.as_str() {
                "text_delta" => Open::Text(rules.scanner(Side::Response, Scope::Assistant)),
                "input_json_delta" => Open::Tool(Box::new(ToolInputRewriter::new(
                    rules,
                    Side::Response,
                    Scope::ToolInput,
                ))),
                _ => Open::Thinking(Thinking::new(rules)),
            }
        });
        let fits = matches!(
            (&*open, kind.as_str()),
            (Open::Text(_), "text_delta")
                | (Open::Tool(_), "input_json_delta")
                | (Open::Thinking(_), "thinking_delta")
        );
        if !fits {
            return self.fail(&format!("a {kind} event in a block of another type"), out);
        }
        let released = match kind.as_str() {
            "text_delta" => self.scan_text(index, text.text().as_bytes(), false, out),
            "input_json_delta" => self.tool_push(index, &text.text(), false, out),
            _ => return self.hold_thinking(index, text.text().as_bytes(), &event.raw, out),
        };
        let Some(released) = released.filter(|r| !r.is_empty()) else {
            return;
        };
        let mut edits = [Edit {
            span: text.span(),
            replacement: json::encode_string(&released),
        }];
        write_event("content_block_delta", &json::splice(data, &mut edits), out);
    }

    /// A legacy Text Completions event: its `completion` text streams
    /// through one scanner; the event with a `stop_reason` flushes it.
    fn completion(&mut self, data: &[u8], value: &Value<'_>, out: &mut Vec<u8>) {
        let Some(text) = value.get("completion").and_then(Value::as_string) else {
            return self.fail("a completion event without its text", out);
        };
        let rules = self.rules.clone();
        self.open
            .entry(COMPLETION)
            .or_insert_with(|| Open::Text(rules.scanner(Side::Response, Scope::Assistant)));
        let Some(mut released) = self.scan_text(COMPLETION, text.text().as_bytes(), false, out)
        else {
            return;
        };
        let last = value
            .get("stop_reason")
            .is_some_and(|r| !matches!(r, Value::Null));
        if last {
            let Some(tail) = self.scan_text(COMPLETION, &[], true, out) else {
                return;
            };
            self.open.remove(&COMPLETION);
            released.push_str(&tail);
        } else if released.is_empty() {
            return;
        }
        let mut walk = Walk::new(&rules, Side::Response);
        walk.exclude(text.span());
        walk.event(value);
        // Always rewritten: the text is what the scanner released.
        walk.edits.push(Edit {
            span: text.span(),
            replacement: json::encode_string(&released),
        });
        self.pass(walk, None, "completion", data, out);
    }

    /// Flushes block `index`; false if the stream failed instead.
    fn close(&mut self, index: u64, out: &mut Vec<u8>) -> bool {
        match self.open.get(&index) {
            None => true,
            Some(Open::Text(_)) => {
                let Some(tail) = self.scan_text(index, &[], true, out) else {
                    return false;
                };
                self.open.remove(&index);
                if !tail.is_empty() {
                    if index == COMPLETION {
                        let data = format!(
                            r#"{{"type":"completion","completion":{},"stop_reason":null}}"#,
                            json::encode_string(&tail)
                        );
                        write_event("completion", data.as_bytes(), out);
                    } else {
                        write_text_delta(index, &tail, out);
                    }
                }
                true
            }
            Some(Open::Thinking(_)) => {
                let done = self.end_thinking(index, out);
                self.open.remove(&index);
                done
            }
            Some(Open::Tool(_)) => {
                let Some(tail) = self.tool_push(index, "", true, out) else {
                    return false;
                };
                self.open.remove(&index);
                if !tail.is_empty() {
                    let data = format!(
                        r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"input_json_delta","partial_json":{}}}}}"#,
                        json::encode_string(&tail)
                    );
                    write_event("content_block_delta", data.as_bytes(), out);
                }
                true
            }
        }
    }

    /// Runs block `index`'s scanner; `None` when the stream failed (the
    /// error event is written).
    fn scan_text(
        &mut self,
        index: u64,
        text: &[u8],
        end: bool,
        out: &mut Vec<u8>,
    ) -> Option<String> {
        let Some(Open::Text(scanner)) = self.open.get_mut(&index) else {
            return None;
        };
        self.released.clear();
        let result = if end {
            scanner.finish(&mut self.released)
        } else {
            scanner.push(text, &mut self.released)
        };
        let findings = scanner.take_findings();
        self.record(index, &findings, Scope::Assistant, false);
        match result {
            Ok(()) => Some(String::from_utf8_lossy(&self.released).into_owned()),
            Err(rejection) => {
                self.reject(&rejection.rule_name, &rejection.message, out);
                None
            }
        }
    }

    /// Feeds a thinking delta to its block's scanner and writes every held
    /// event whose text the scanner has released.
    fn hold_thinking(&mut self, index: u64, text: &[u8], raw: &[u8], out: &mut Vec<u8>) {
        let Some(Open::Thinking(thinking)) = self.open.get_mut(&index) else {
            return;
        };
        self.released.clear();
        let result = thinking.scanner.push(text, &mut self.released);
        thinking.fed += text.len();
        thinking.released += self.released.len();
        thinking.held.push_back((thinking.fed, raw.to_vec()));
        let findings = thinking.scanner.take_findings();
        let mut ready = Vec::new();
        while let Some((end, _)) = thinking.held.front() {
            if *end > thinking.released {
                break;
            }
            ready.extend(thinking.held.pop_front().map(|(_, raw)| raw));
        }
        self.record(index, &findings, Scope::Assistant, true);
        match result {
            Ok(()) => ready.iter().for_each(|raw| out.extend_from_slice(raw)),
            Err(rejection) => self.reject(&rejection.rule_name, &rejection.message, out),
        }
    }

    /// Ends a thinking block's text: decides what its scanner holds and
    /// writes the held events; false if the stream failed instead.
    fn end_thinking(&mut self, index: u64, out: &mut Vec<u8>) -> bool {
        let Some(Open::Thinking(thinking)) = self.open.get_mut(&index) else {
            return true;
        };
        self.released.clear();
        let result = thinking.scanner.finish(&mut self.released);
        let findings = thinking.scanner.take_findings();
        let held: Vec<Vec<u8>> = thinking.held.drain(..).map(|(_, raw)| raw).collect();
        self.record(index, &findings, Scope::Assistant, true);
        match result {
            Ok(()) => {
                held.iter().for_each(|raw| out.extend_from_slice(raw));
                true
            }
            Err(rejection) => {
                self.reject(&rejection.rule_name, &rejection.message, out);
                false
            }
        }
    }

    /// Before an event that is not more thinking: end the held thinking so
    /// the events keep their order; a later thinking delta starts afresh.
    fn settle_thinking(&mut self, except: Option<u64>, out: &mut Vec<u8>) -> bool {
        let waiting: Vec<u64> = self
            .open
            .iter()
            .filter(|(index, open)| {
                Some(**index) != except
                    && matches!(open, Open::Thinking(t) if !t.held.is_empty() || t.scanner.held() > 0)
            })
            .map(|(index, _)| *index)
            .collect();
        for index in waiting {
            if !self.end_thinking(index, out) {
                return false;
            }
            self.open
                .insert(index, Open::Thinking(Thinking::new(&self.rules)));
        }
        true
    }

    fn tool_push(
        &mut self,
        index: u64,
        text: &str,
        end: bool,
        out: &mut Vec<u8>,
    ) -> Option<String> {
        let Some(Open::Tool(rewriter)) = self.open.get_mut(&index) else {
            return None;
        };
        let mut released = String::new();
        let result = if end {
            rewriter.finish(&mut released)
        } else {
            rewriter.push(text, &mut released)
        };
        let findings = rewriter.take_findings();
        self.record(index, &findings, Scope::ToolInput, false);
        match result {
            Ok(()) => Some(released),
            Err(ToolJsonError::Rejected(rejection)) => {
                self.reject(&rejection.rule_name, &rejection.message, out);
                None
            }
            Err(error @ ToolJsonError::Invalid(_)) => {
                self.fail(&error.to_string(), out);
                None
            }
        }
    }

    fn record(&mut self, index: u64, findings: &[Finding], scope: Scope, signed: bool) {
        if findings.is_empty() {
            return;
        }
        let location = if index == COMPLETION {
            "completion".to_owned()
        } else {
            format!("content[{index}]")
        };
        // Signed text cannot be masked: such a mask is only logged.
        let swap = signed.then_some((Disposition::Mask, Disposition::Log));
        self.fired
            .record_all(&self.rules, findings, scope, swap, &location);
    }

    fn reject(&mut self, rule: &str, message: &str, out: &mut Vec<u8>) {
        let message = format!("rulegate: the response was stopped by rule `{rule}`: {message}");
        self.fail_with(message, out);
    }

    fn fail(&mut self, what: &str, out: &mut Vec<u8>) {
        self.fail_with(
            format!("rulegate: the upstream stream could not be inspected ({what})"),
            out,
        );
    }

    fn fail_with(&mut self, message: String, out: &mut Vec<u8>) {
        let data = format!(
            r#"{{"type":"error","error":{{"type":"api_error","message":{}}}}}"#,
            json::encode_string(&message)
        );
        write_event("error", data.as_bytes(), out);
        self.open.clear();
        self.failed = Some(message);
    }
}

impl StreamRewriter for MessagesStream {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.failed.is_some() {
            return;
        }
        self.parser.push(bytes);
        while let Some(event) = self.parser.next_event() {
            self.event(event, out);
            if self.failed.is_some() {
                return;
            }
        }
        if self.parser.pending() > MAX_EVENT_BYTES {
            self.fail("an event larger than 16 MiB", out);
        }
    }

    /// An unterminated last event is dropped, as an SSE client would drop
    /// it; blocks still open are flushed.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.failed.is_some() {
            return;
        }
        let open: Vec<u64> = self.open.keys().copied().collect();
        for index in open {
            if !self.close(index, out) {
                return;
            }
        }
    }

    fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn take_fired(&mut self) -> Vec<Fired> {
        self.fired.take()
    }

    fn abort(&mut self, why: &str, out: &mut Vec<u8>) {
        if self.failed.is_none() {
            self.fail_with(format!("rulegate: {why}"), out);
        }
    }
}

fn index_of(value: &Value<'_>) -> Option<u64> {
    match value.get("index")? {
        Value::Number(n) => n.parse().ok(),
        _ => None,
    }
}

fn write_text_delta(index: u64, text: &str, out: &mut Vec<u8>) {
    let data = format!(
        r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"text_delta","text":{}}}}}"#,
        json::encode_string(text)
    );
    write_event("content_block_delta", data.as_bytes(), out);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::adapter::StreamRewriter;
    use rulegate_engine::Verdict;

    use crate::test_rules as rules;

    const EMAIL_AND_KEY: &str = r#"
rule email {
  match /\b[a-z0-9.]{1,64}@[a-z0-9]{1,63}\.[a-z]{2,10}\b/
  response mask "[email]"
}
rule key {
  match /sk-[a-z0-9]{8}/
  response reject "a key"
}
"#;

    /// An Anthropic-shaped stream: one text block per entry, cut into
    /// deltas of `delta` chars, plus a tool_use block and pings.
    fn stream(blocks: &[&str], delta: usize, newline: &str) -> Vec<u8> {
        let mut events = vec![
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"m","content":[]}}"#.to_owned(),
            ),
            ("ping", r#"{"type": "ping"}"#.to_owned()),
        ];
        for (index, text) in blocks.iter().enumerate() {
            events.push((
                "content_block_start",
                format!(r#"{{"type":"content_block_start","index":{index},"content_block":{{"type":"text","text":""}}}}"#),
            ));
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(delta.max(1)) {
                let piece: String = piece.iter().collect();
                events.push((
                    "content_block_delta",
                    format!(
                        r#"{{"type":"content_block_delta","index":{index},"delta":{{"type":"text_delta","text":{}}}}}"#,
                        json::encode_string(&piece)
                    ),
                ));
                events.push(("ping", r#"{"type": "ping"}"#.to_owned()));
            }
            events.push((
                "content_block_stop",
                format!(r#"{{"type":"content_block_stop","index":{index}}}"#),
            ));
        }
        let tool = blocks.len();
        events.push((
            "content_block_start",
            format!(r#"{{"type":"content_block_start","index":{tool},"content_block":{{"type":"tool_use","id":"t","name":"n","input":{{}}}}}}"#),
        ));
        events.push((
            "content_block_delta",
            format!(r#"{{"type":"content_block_delta","index":{tool},"delta":{{"type":"input_json_delta","partial_json":"{{\"a\": \"x@y.com\"}}"}}}}"#),
        ));
        events.push((
            "content_block_stop",
            format!(r#"{{"type":"content_block_stop","index":{tool}}}"#),
        ));
        events.push(("message_stop", r#"{"type":"message_stop"}"#.to_owned()));
        let mut out = String::new();
        for (name, data) in events {
            out.push_str(&format!(
                "event: {name}{newline}data: {data}{newline}{newline}"
            ));
        }
        out.into_bytes()
    }

    /// What a client assembles: the text of each text block, plus every
    /// event name in order.
    fn assemble(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
        let mut parser = SseParser::new();
        parser.push(bytes);
        let mut texts: BTreeMap<u64, String> = BTreeMap::new();
        let mut names = Vec::new();
        while let Some(event) = parser.next_event() {
            let name = event.name.clone().unwrap_or_default();
            let data = event.data.unwrap_or_default();
            let value: serde_json::Value = serde_json::from_slice(&data).expect("valid JSON data");
            if name == "content_block_delta" && value["delta"]["type"] == "text_delta" {
                let index = value["index"].as_u64().unwrap();
                texts
                    .entry(index)
                    .or_default()
                    .push_str(value["delta"]["text"].as_str().unwrap());
            }
            names.push(name);
        }
        assert!(parser.unterminated().is_empty());
        (texts.into_values().collect(), names)
    }

    /// The `partial_json` a client joins, per tool block.
    fn tool_inputs(bytes: &[u8]) -> Vec<String> {
        let mut parser = SseParser::new();
        parser.push(bytes);
        let mut inputs: BTreeMap<u64, String> = BTreeMap::new();
        while let Some(event) = parser.next_event() {
            let value: serde_json::Value =
                serde_json::from_slice(&event.data.unwrap_or_default()).unwrap();
            if value["delta"]["type"] == "input_json_delta" {
                inputs
                    .entry(value["index"].as_u64().unwrap())
                    .or_default()
                    .push_str(value["delta"]["partial_json"].as_str().unwrap());
            }
        }
        inputs.into_values().collect()
    }

    fn events(bytes: &[u8]) -> Vec<Event> {
        let mut parser = SseParser::new();
        parser.push(bytes);
        let mut events = Vec::new();
        while let Some(event) = parser.next_event() {
            events.push(event);
        }
        events
    }

    fn sse(events: &[(&str, String)]) -> Vec<u8> {
        let mut out = String::new();
        for (name, data) in events {
            out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
        }
        out.into_bytes()
    }

    fn tool_stream(input: &str, piece: usize) -> Vec<u8> {
        let mut events = vec![(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}}"#.to_owned(),
        )];
        let chars: Vec<char> = input.chars().collect();
        for part in chars.chunks(piece.max(1)) {
            let part: String = part.iter().collect();
            events.push((
                "content_block_delta",
                format!(
                    r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"input_json_delta","partial_json":{}}}}}"#,
                    json::encode_string(&part)
                ),
            ));
        }
        events.push((
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#.to_owned(),
        ));
        sse(&events)
    }

    /// Block-mode masking of every string (keys too) of a JSON value.
    fn mask_value(set: &RuleSet, value: &serde_json::Value) -> serde_json::Value {
        let mask = |s: &str| match set.apply(Side::Response, Scope::ToolInput, s).verdict {
            Verdict::Masked(m) => m,
            _ => s.to_owned(),
        };
        match value {
            serde_json::Value::String(s) => serde_json::Value::String(mask(s)),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(|v| mask_value(set, v)).collect())
            }
            serde_json::Value::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (mask(k), mask_value(set, v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn a_duplicate_member_in_a_text_delta_ends_the_stream() {
        let set = rules(EMAIL_AND_KEY);
        let input = sse(&[(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi","text":"jo@ex.io"}}"#.to_owned(),
        )]);
        let out = String::from_utf8(redact(&set, &input, &[])).unwrap();
        assert!(out.starts_with("event: error\n"), "{out}");
        assert!(out.contains("duplicate object key"), "{out}");
        assert!(!out.contains("jo@ex.io"));
    }

    #[test]
    fn message_start_content_citations_and_server_tool_results_are_masked() {
        let set = rules(EMAIL_AND_KEY);
        let input = sse(&[
            ("message_start", r#"{"type":"message_start","message":{"id":"m","content":[{"type":"text","text":"pre jo@ex.io"}]}}"#.to_owned()),
            ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"web_search_tool_result","tool_use_id":"s","content":[{"type":"web_search_result","title":"mail a@b.io","url":"https://x.io","encrypted_content":"c@d.io"}]}}"#.to_owned()),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#.to_owned()),
            ("content_block_start", r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#.to_owned()),
            ("content_block_delta", r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"write e@f.io","document_index":0}}}"#.to_owned()),
            ("content_block_stop", r#"{"type":"content_block_stop","index":1}"#.to_owned()),
        ]);
        let out = String::from_utf8(redact(&set, &input, &[])).unwrap();
        for gone in ["jo@ex.io", "a@b.io", "e@f.io"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        // Encrypted by the API: passed as it is.
        assert!(out.contains("c@d.io"));
        assert_eq!(out.matches("[email]").count(), 3, "{out}");
        for event in events(out.as_bytes()) {
            serde_json::from_slice::<serde_json::Value>(&event.data.unwrap()).unwrap();
        }
    }

    #[test]
    fn signed_thinking_passes_unaltered_and_a_reject_in_it_ends_the_stream() {
        let set = rules(EMAIL_AND_KEY);
        let thinking = |text: &str| {
            sse(&[
                ("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#.to_owned()),
                ("content_block_delta", format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"thinking_delta","thinking":{}}}}}"#, json::encode_string(text))),
                ("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}"#.to_owned()),
                ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#.to_owned()),
            ])
        };
        let mailed = thinking("mail jo@ex.io now");
        let mut stream = MessagesStream::new(set.clone());
        let mut out = Vec::new();
        stream.push(&mailed, &mut out);
        stream.finish(&mut out);
        assert_eq!(out, mailed, "signed text is never altered");
        let fired = stream.take_fired();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].disposition, Disposition::Log);
        assert_eq!(fired[0].instead_of, Some(Disposition::Mask));
        let out = String::from_utf8(redact(&set, &thinking("key sk-abcd1234"), &[])).unwrap();
        assert!(out.contains("event: error"), "{out}");
        assert!(out.contains("rule `key`"), "{out}");
        assert!(!out.contains("signature_delta"), "{out}");
    }

    #[test]
    fn streamed_tool_arguments_cut_anywhere_are_masked_like_the_final_input() {
        let set = rules(EMAIL_AND_KEY);
        let input = r#"{"to": "jo@ex.io", "jane@mail.com": ["\u00e9", "x\"y@ab.co"], "n": 1}"#;
        let expected = mask_value(&set, &serde_json::from_str(input).unwrap());
        for piece in 1..input.len() {
            let out = redact(&set, &tool_stream(input, piece), &[]);
            let joined = tool_inputs(&out);
            let got: serde_json::Value = serde_json::from_str(&joined[0]).unwrap();
            assert_eq!(got, expected, "pieces of {piece}");
            assert!(!String::from_utf8_lossy(&out).contains("jo@ex"));
        }
        let broken = redact(&set, &tool_stream(r#"{"a": "\ud800"}"#, 3), &[]);
        assert!(String::from_utf8(broken).unwrap().contains("event: error"));
    }

    fn redact(rules: &RuleSet, bytes: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut redactor = MessagesStream::new(rules.clone());
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, bytes.len());
            redactor.push(&bytes[start..cut], &mut out);
            start = cut;
        }
        redactor.push(&bytes[start..], &mut out);
        redactor.finish(&mut out);
        out
    }

    #[test]
    fn an_email_split_across_deltas_is_masked_and_other_events_pass() {
        let set = rules(EMAIL_AND_KEY);
        let input = stream(
            &["write to jane.doe@example.com today", "second block"],
            3,
            "\n",
        );
        let out = redact(&set, &input, &[]);
        let (texts, names) = assemble(&out);
        assert_eq!(texts, ["write to [email] today", "second block"]);
        // The tool_use block's streamed arguments are masked too.
        assert!(!String::from_utf8_lossy(&out).contains("x@y.com"));
        assert_eq!(tool_inputs(&out), [r#"{"a": "[email]"}"#]);
        let (_, original_names) = assemble(&input);
        let without_deltas = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .filter(|n| *n != "content_block_delta")
                .cloned()
                .collect()
        };
        assert_eq!(without_deltas(&names), without_deltas(&original_names));
    }

    #[test]
    fn a_clean_stream_passes_through_byte_identical_with_whole_deltas() {
        // Deltas that hold no possible match start are released at once.
        let set = rules("rule key {\n  match /sk-[a-z0-9]{8}/\n  response mask \"[k]\"\n}\n");
        let input = stream(&["hello world, nothing here"], 4, "\n");
        assert_eq!(redact(&set, &input, &[7, 100, 101]), input);
    }

    #[test]
    fn a_reject_ends_the_stream_with_an_error_event() {
        let set = rules(EMAIL_AND_KEY);
        let input = stream(&["the key is sk-abcd1234 ok"], 2, "\r\n");
        let out = redact(&set, &input, &[50]);
        let mut parser = SseParser::new();
        parser.push(&out);
        let mut events = Vec::new();
        while let Some(event) = parser.next_event() {
            events.push(event);
        }
        assert!(parser.unterminated().is_empty());
        let last = events.pop().unwrap();
        assert_eq!(last.name.as_deref(), Some("error"));
        let data = String::from_utf8(last.data.unwrap()).unwrap();
        assert!(
            data.starts_with(r#"{"type":"error","error":{"type":"api_error""#),
            "{data}"
        );
        assert!(data.contains("rule `key`"));
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("sk-abcd1234"));
        assert!(!text.contains("message_stop"));
    }

    #[test]
    fn unreadable_text_deltas_fail_closed() {
        let set = rules(EMAIL_AND_KEY);
        let input = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a@b.co\n\n";
        let out = String::from_utf8(redact(&set, input, &[])).unwrap();
        assert!(out.starts_with("event: error\n"), "{out}");
    }

    #[test]
    fn text_carried_by_a_block_start_goes_through_the_scanner() {
        let set = rules(EMAIL_AND_KEY);
        let input = concat!(
            "event: content_block_start\n",
            r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":"mail jo@ex.io "}}"#,
            "\n\n",
            "event: content_block_stop\n",
            r#"data: {"type":"content_block_stop","index":0}"#,
            "\n\n",
        );
        let out = String::from_utf8(redact(&set, input.as_bytes(), &[])).unwrap();
        assert!(
            out.contains(r#""content_block":{"type":"text","text":""}"#),
            "{out}"
        );
        assert!(!out.contains("jo@ex.io"), "{out}");
        let (texts, _) = assemble(out.as_bytes());
        assert_eq!(texts, ["mail [email] "]);
    }

    #[test]
    fn an_endless_event_fails_closed_instead_of_growing() {
        let set = rules(EMAIL_AND_KEY);
        let mut redactor = MessagesStream::new(set);
        let mut out = Vec::new();
        let line = vec![b'x'; 1 << 20];
        redactor.push(b"data: ", &mut out);
        for _ in 0..17 {
            redactor.push(&line, &mut out);
        }
        assert!(redactor.failed().is_some());
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("event: error\n"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Tool arguments through SSE: however the JSON text is cut into
        /// `partial_json` pieces and the bytes into reads, the joined
        /// arguments equal the block-mode masking of the final input.
        #[test]
        fn any_cutting_of_tool_arguments_joins_to_the_block_result(
            pairs in prop::collection::vec(
                (
                    prop::sample::select(vec!["a", "jo@ex.io", "k\"", "é", "mail x.y@mail.com"]),
                    prop::collection::vec(
                        prop::sample::select(vec!["", " ", "jo@ex.io", "@", ".", "\n", "😀", "\\", "ab12@cd.io"]),
                        0..8,
                    ),
                ),
                0..5,
            ),
            piece in 1usize..12,
            cuts in prop::collection::vec(0usize..3000, 0..10),
            pretty in any::<bool>(),
        ) {
            let set = rules(EMAIL_AND_KEY);
            let value = serde_json::Value::Object(
                pairs.iter().map(|(k, parts)| ((*k).to_owned(), serde_json::Value::String(parts.concat()))).collect(),
            );
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }.unwrap();
            let mut cuts = cuts;
            cuts.sort_unstable();
            let out = redact(&set, &tool_stream(&text, piece), &cuts);
            let joined = tool_inputs(&out);
            let got: serde_json::Value = serde_json::from_str(&joined.concat()).unwrap();
            prop_assert_eq!(got, mask_value(&set, &value));
        }

        /// Chunk invariance through SSE: however the upstream bytes are cut,
        /// the client assembles the same masked text per block, equal to the
        /// block-mode result, with the same non-delta events in order.
        #[test]
        fn any_cutting_assembles_the_block_result(
            words in prop::collection::vec(
                prop::sample::select(vec!["a", " ", "jo@ex.io", "x.y@mail.com", "é", "sk-", "@", ".", "ab12cd34", "\n"]),
                0..40,
            ),
            split in 0usize..40,
            delta in 1usize..9,
            crlf in any::<bool>(),
            cuts in prop::collection::vec(0usize..4000, 0..12),
        ) {
            let set = rules("rule email {\n  match /\\b[a-z0-9.]{1,64}@[a-z0-9]{1,63}\\.[a-z]{2,10}\\b/\n  response mask \"[email]\"\n}\n");
            let text: String = words.concat();
            let split = text.char_indices().map(|(i, _)| i).nth(split).unwrap_or(text.len());
            let blocks = [&text[..split], &text[split..]];
            let input = stream(&blocks, delta, if crlf { "\r\n" } else { "\n" });
            let mut cuts = cuts;
            cuts.sort_unstable();
            let out = redact(&set, &input, &cuts);
            let (texts, names) = assemble(&out);
            let expected: Vec<String> = blocks
                .iter()
                .map(|b| match set.apply(Side::Response, Scope::Assistant, b).verdict {
                    Verdict::Masked(m) => m,
                    _ => b.to_string(),
                })
                .collect();
            // A block whose every delta released nothing is absent.
            let texts: Vec<String> = texts;
            let nonempty: Vec<String> = expected.iter().filter(|t| !t.is_empty()).cloned().collect();
            prop_assert_eq!(texts, nonempty);
            let (_, original) = assemble(&input);
            let keep = |n: &Vec<String>| n.iter().filter(|n| *n != "content_block_delta").cloned().collect::<Vec<_>>();
            prop_assert_eq!(keep(&names), keep(&original));
        }
    }
}
