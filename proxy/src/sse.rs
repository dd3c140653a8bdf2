//! Server-sent events: an incremental parser and the redactor that runs the
//! response rules over a streamed Messages API reply.
//!
//! Invariants:
//! - [`SseParser`] yields the same events however the byte stream is cut
//!   (a `\r\n` split across reads included), each with its exact raw bytes.
//! - [`SseRedactor`] passes every event it does not rewrite through
//!   byte-for-byte and in order. It rewrites only `text_delta` events (to
//!   carry the text the block's scanner released; an event that releases
//!   nothing is dropped) and adds one `text_delta` with a block's held tail
//!   just before that block's `content_block_stop`. So the text a client
//!   assembles for a block is exactly the block's text with the rules
//!   applied, whatever the deltas and reads were.
//! - After a rejection, or an event it cannot read, it emits one Anthropic
//!   `event: error` and nothing more: it fails closed.

use std::collections::BTreeMap;

use rulegate_engine::{Disposition, Rejection, RuleSet, Scanner, Scope, Side};

use crate::json::{self, Edit, Value};

/// One event as received: its raw bytes (blank line included) and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub raw: Vec<u8>,
    /// The `event:` field, if any (the SSE default name is `message`).
    pub name: Option<String>,
    /// The `data:` lines joined with `\n`; `None` when there were none.
    pub data: Option<Vec<u8>>,
}

/// Splits a byte stream into events, across reads.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Where the next unparsed line starts in `buf`.
    line_start: usize,
    name: Option<String>,
    data: Option<Vec<u8>>,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the bytes so far hold one.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            let rest = &self.buf[self.line_start..];
            let end = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
            let terminator = if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    // A `\r` last in the buffer may be half of `\r\n`.
                    None => return None,
                    Some(b'\n') => 2,
                    Some(_) => 1,
                }
            } else {
                1
            };
            let line = self.line_start..self.line_start + end;
            self.line_start += end + terminator;
            if line.is_empty() {
                let raw: Vec<u8> = self.buf.drain(..self.line_start).collect();
                self.line_start = 0;
                return Some(Event {
                    raw,
                    name: self.name.take(),
                    data: self.data.take(),
                });
            }
            self.field(line);
        }
    }

    fn field(&mut self, line: std::ops::Range<usize>) {
        let line = &self.buf[line];
        if line[0] == b':' {
            return; // a comment
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &line[..0]),
        };
        match field {
            b"event" => self.name = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => match &mut self.data {
                Some(data) => {
                    data.push(b'\n');
                    data.extend_from_slice(value);
                }
                None => self.data = Some(value.to_vec()),
            },
            _ => {}
        }
    }

    /// Bytes of an event the stream ended inside of.
    pub fn unterminated(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes buffered for the event being received.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// A rule that fired in a streamed reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFinding {
    pub rule: String,
    pub disposition: Disposition,
    /// The content block's index.
    pub block: u64,
}

/// Real events are a few hundred bytes; an upstream that never ends one is
/// cut off rather than buffered without bound.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Applies the response rules to a streamed Messages API reply.
pub struct SseRedactor {
    rules: RuleSet,
    parser: SseParser,
    /// One scanner per open text block, by the block's `index`.
    scanners: BTreeMap<u64, Scanner>,
    findings: Vec<StreamFinding>,
    /// Set once the stream was ended with an error event.
    failed: Option<String>,
    released: Vec<u8>,
}

impl SseRedactor {
    pub fn new(rules: RuleSet) -> SseRedactor {
        SseRedactor {
            rules,
            parser: SseParser::new(),
            scanners: BTreeMap::new(),
            findings: Vec::new(),
            failed: None,
            released: Vec::new(),
        }
    }

    /// Feeds bytes from upstream and appends what the client may get now.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
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

    /// The upstream stream ended: flush whatever blocks are still open. An
    /// unterminated last event is dropped, as an SSE client would drop it.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.failed.is_some() {
            return;
        }
        let open: Vec<u64> = self.scanners.keys().copied().collect();
        for index in open {
            if !self.close_block(index, out) {
                return;
            }
        }
    }

    /// Whether the stream was ended with an error event (no more output).
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    pub fn findings(&self) -> &[StreamFinding] {
        &self.findings
    }

    fn event(&mut self, event: Event, out: &mut Vec<u8>) {
        let name = event.name.as_deref().unwrap_or("message");
        match name {
            "content_block_start" => self.block_start(event, out),
            "content_block_delta" => self.block_delta(event, out),
            "content_block_stop" => {
                let index = event.data.as_deref().and_then(|data| {
                    let value = json::parse(data).ok()?;
                    index_of(&value)
                });
                match index {
                    Some(index) => {
                        if self.close_block(index, out) {
                            out.extend_from_slice(&event.raw);
                        }
                    }
                    None => self.fail("a content_block_stop event without an index", out),
                }
            }
            _ => out.extend_from_slice(&event.raw),
        }
    }

    fn block_start(&mut self, event: Event, out: &mut Vec<u8>) {
        let Some(data) = event.data.as_deref() else {
            out.extend_from_slice(&event.raw);
            return;
        };
        let Ok(value) = json::parse(data) else {
            return self.fail("an unreadable content_block_start event", out);
        };
        let Some(index) = index_of(&value) else {
            return self.fail("a content_block_start event without an index", out);
        };
        let block = value.get("content_block");
        if !block.is_some_and(|b| b.get("type").is_some_and(|t| t.is_str("text"))) {
            out.extend_from_slice(&event.raw);
            return;
        }
        let scanner = self.rules.scanner(Side::Response, Scope::Assistant);
        self.scanners.insert(index, scanner);
        // The API starts text blocks empty; text carried here anyway goes
        // through the scanner like a first delta.
        let initial = block
            .and_then(|b| b.get("text"))
            .and_then(Value::as_string)
            .filter(|t| t.span.len() > 2);
        match initial {
            None => out.extend_from_slice(&event.raw),
            Some(text) => {
                let mut edits = [Edit {
                    span: text.span.clone(),
                    replacement: "\"\"".to_owned(),
                }];
                let text = text.text().into_owned();
                write_event("content_block_start", &json::splice(data, &mut edits), out);
                if let Some(released) = self.scan(index, text.as_bytes(), false, out) {
                    write_text_delta(index, &released, out);
                }
            }
        }
    }

    fn block_delta(&mut self, event: Event, out: &mut Vec<u8>) {
        let Some(data) = event.data.as_deref() else {
            out.extend_from_slice(&event.raw);
            return;
        };
        let Ok(value) = json::parse(data) else {
            return self.fail("an unreadable content_block_delta event", out);
        };
        let delta = value.get("delta");
        if !delta.is_some_and(|d| d.get("type").is_some_and(|t| t.is_str("text_delta"))) {
            out.extend_from_slice(&event.raw);
            return;
        }
        let (Some(index), Some(text)) = (
            index_of(&value),
            delta.and_then(|d| d.get("text")).and_then(Value::as_string),
        ) else {
            return self.fail("a text_delta event without an index or text", out);
        };
        if !self.scanners.contains_key(&index) {
            // A delta for a block whose start we did not see as text.
            let scanner = self.rules.scanner(Side::Response, Scope::Assistant);
            self.scanners.insert(index, scanner);
        }
        let Some(released) = self.scan(index, text.text().as_bytes(), false, out) else {
            return;
        };
        if released.is_empty() {
            return;
        }
        let mut edits = [Edit {
            span: text.span.clone(),
            replacement: json::encode_string(&released),
        }];
        write_event("content_block_delta", &json::splice(data, &mut edits), out);
    }

    /// Flushes block `index`'s held text as a last delta; false if the
    /// stream failed instead.
    fn close_block(&mut self, index: u64, out: &mut Vec<u8>) -> bool {
        if !self.scanners.contains_key(&index) {
            return true;
        }
        let Some(tail) = self.scan(index, &[], true, out) else {
            return false;
        };
        self.scanners.remove(&index);
        if !tail.is_empty() {
            write_text_delta(index, &tail, out);
        }
        true
    }

    /// Runs block `index`'s scanner; `None` when it rejected (the error
    /// event is already written).
    fn scan(&mut self, index: u64, text: &[u8], end: bool, out: &mut Vec<u8>) -> Option<String> {
        let scanner = self.scanners.get_mut(&index)?;
        self.released.clear();
        let result = if end {
            scanner.finish(&mut self.released)
        } else {
            scanner.push(text, &mut self.released)
        };
        for finding in scanner.take_findings() {
            self.findings.push(StreamFinding {
                rule: self.rules.rule(finding.rule).name.clone(),
                disposition: finding.disposition,
                block: index,
            });
        }
        match result {
            Ok(()) => Some(String::from_utf8_lossy(&self.released).into_owned()),
            Err(rejection) => {
                self.reject(&rejection, out);
                None
            }
        }
    }

    fn reject(&mut self, rejection: &Rejection, out: &mut Vec<u8>) {
        let message = format!(
            "rulegate: the response was stopped by rule `{}`: {}",
            rejection.rule_name, rejection.message
        );
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
            r#"{{"type":"error","error":{{"type":"invalid_request_error","message":{}}}}}"#,
            json::encode_string(&message)
        );
        write_event("error", data.as_bytes(), out);
        self.scanners.clear();
        self.failed = Some(message);
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

/// Writes one event; data holding newlines becomes several `data:` lines.
fn write_event(name: &str, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    for line in data.split(|&b| b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rules(source: &str) -> RuleSet {
        let loaded =
            rulegate_lang::check_sources([("t.rules".to_owned(), source.as_bytes().to_vec())]);
        let mut diagnostics = Vec::new();
        rulegate_lang::render_human(&loaded, &mut diagnostics, false).unwrap();
        loaded
            .compile()
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&diagnostics)))
    }

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

    fn redact(rules: &RuleSet, bytes: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut redactor = SseRedactor::new(rules.clone());
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
    fn parser_handles_every_line_ending_and_multiline_data() {
        let mut parser = SseParser::new();
        parser.push(b": comment\r\nevent: a\rdata: 1\ndata:2\r\n\r\nretry: 5\nid: x\n\ndata\n\n");
        let first = parser.next_event().unwrap();
        assert_eq!(first.name.as_deref(), Some("a"));
        assert_eq!(first.data.as_deref(), Some(&b"1\n2"[..]));
        assert_eq!(first.raw, b": comment\r\nevent: a\rdata: 1\ndata:2\r\n\r\n");
        let second = parser.next_event().unwrap();
        assert_eq!((second.name, second.data), (None, None));
        let third = parser.next_event().unwrap();
        assert_eq!(third.data.as_deref(), Some(&b""[..]));
        assert!(parser.next_event().is_none());
    }

    #[test]
    fn a_trailing_cr_waits_for_the_next_read() {
        let mut parser = SseParser::new();
        parser.push(b"data: x\r");
        assert!(parser.next_event().is_none());
        parser.push(b"\n\r");
        assert!(parser.next_event().is_none());
        parser.push(b"\n");
        let event = parser.next_event().unwrap();
        assert_eq!(event.raw, b"data: x\r\n\r\n");
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
        // The tool_use block's partial JSON is not a text delta: untouched.
        assert!(String::from_utf8_lossy(&out).contains(r#"x@y.com"#));
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
            data.starts_with(r#"{"type":"error","error":{"type":"invalid_request_error""#),
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
        let mut redactor = SseRedactor::new(set);
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
                    rulegate_engine::Verdict::Masked(m) => m,
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
