//! Reading an SSE stream back as a client would: the test-side oracle for
//! what the proxy delivered.
//!
//! Follows the WHATWG event-stream rules that matter here: lines end in
//! `\n`, `\r\n` or `\r`; a blank line dispatches the event if it has data;
//! `data:` lines join with `\n`; one space after the colon is dropped;
//! comments and other fields are ignored; an event not ended by a blank line
//! is incomplete and dropped, so a truncated stream shows as missing events.

/// (event name, data) pairs; the name defaults to "message".
pub fn parse_sse(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut events = Vec::new();
    let mut name: Option<String> = None;
    let mut data: Option<String> = None;
    for line in complete_lines(&text) {
        if line.is_empty() {
            if let Some(data) = data.take() {
                let name = name.take().unwrap_or_else(|| "message".to_owned());
                events.push((name, data));
            }
            name = None;
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => name = Some(value.to_owned()),
            "data" => match &mut data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
    events
}

/// The text of each content block, by index: its `text_delta` texts
/// concatenated. Blocks of other kinds (and indexes never seen) give "".
pub fn assembled_text(bytes: &[u8]) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for (_, data) in parse_sse(bytes) {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&data) else {
            continue;
        };
        let Some(index) = event["index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
        else {
            continue;
        };
        if blocks.len() <= index {
            blocks.resize(index + 1, String::new());
        }
        let delta = &event["delta"];
        if event["type"] == "content_block_delta" && delta["type"] == "text_delta" {
            blocks[index].push_str(delta["text"].as_str().unwrap_or_default());
        }
    }
    blocks
}

/// Lines that have their terminator; the unterminated tail is left out.
fn complete_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                i += 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            _ => {
                i += 1;
                continue;
            }
        }
        start = i;
    }
    lines
}
