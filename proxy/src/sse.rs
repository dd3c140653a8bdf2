//! Server-sent events: an incremental parser and the writer, shared by the
//! API adapters (which know what the events mean).
//!
//! Invariants:
//! - [`SseParser`] yields the same events however the byte stream is cut
//!   (a `\r\n` split across reads included), each with its exact raw bytes.
//! - It is linear in its input: a line is searched for its end once, however
//!   many reads it arrives in.

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
    /// Where the event being read starts in `buf`: what comes before was
    /// handed out, and is dropped at the next push (not per event, which
    /// would move the rest of a large read once per event).
    event_start: usize,
    /// Where the next unparsed line starts in `buf`.
    line_start: usize,
    /// No line ends in `buf[line_start..searched]`: where to look next.
    searched: usize,
    name: Option<String>,
    data: Option<Vec<u8>>,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.event_start > 0 {
            self.buf.drain(..self.event_start);
            self.line_start -= self.event_start;
            self.searched = self.searched.saturating_sub(self.event_start);
            self.event_start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the bytes so far hold one.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            let from = self.searched.max(self.line_start);
            let Some(found) = memchr::memchr2(b'\n', b'\r', &self.buf[from..]) else {
                self.searched = self.buf.len();
                return None;
            };
            let end = from - self.line_start + found;
            let rest = &self.buf[self.line_start..];
            let terminator = if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    // A `\r` last in the buffer may be half of `\r\n`.
                    None => {
                        self.searched = self.line_start + end;
                        return None;
                    }
                    Some(b'\n') => 2,
                    Some(_) => 1,
                }
            } else {
                1
            };
            let line = self.line_start..self.line_start + end;
            self.line_start += end + terminator;
            if line.is_empty() {
                let raw = self.buf[self.event_start..self.line_start].to_vec();
                self.event_start = self.line_start;
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
        &self.buf[self.event_start..]
    }

    /// Bytes buffered for the event being received.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.event_start
    }
}

/// Writes one event; data holding newlines becomes several `data:` lines.
pub fn write_event(name: &str, data: &[u8], out: &mut Vec<u8>) {
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
    use super::*;

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
    fn a_long_line_in_many_reads_and_many_events_in_one_read() {
        let mut parser = SseParser::new();
        parser.push(b"data: ");
        for _ in 0..1000 {
            parser.push(&[b'x'; 1024]);
            assert!(parser.next_event().is_none());
        }
        parser.push(b"\r");
        assert!(parser.next_event().is_none());
        parser.push(b"\n\nevent: a\n\nevent: b\n\nevent: c\n");
        assert_eq!(
            parser.next_event().unwrap().data.unwrap().len(),
            1024 * 1000
        );
        assert_eq!(parser.next_event().unwrap().name.as_deref(), Some("a"));
        assert_eq!(parser.pending(), b"event: b\n\nevent: c\n".len());
        assert_eq!(parser.next_event().unwrap().name.as_deref(), Some("b"));
        assert!(parser.next_event().is_none());
        assert_eq!(parser.unterminated(), b"event: c\n");
        parser.push(b"\n");
        let c = parser.next_event().unwrap();
        assert_eq!(c.raw, b"event: c\n\n");
    }
}
