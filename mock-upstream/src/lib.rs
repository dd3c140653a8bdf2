//! A recording mock of the Anthropic Messages API for the proxy's
//! integration tests, its overhead bench and the real-client end-to-end runs
//! (the Python SDK, Claude Code).
//!
//! A real hyper server on 127.0.0.1, port 0 (never a fixed port, never the
//! internet). Every request is recorded; a [`Responder`] decides each
//! [`Reply`], whose body is written as exactly the frames given (one hyper
//! frame, i.e. one HTTP/1.1 chunk, each, flushed one by one), so tests choose
//! where an SSE stream is cut. [`anthropic_responder`] answers like the real
//! API from a [`Script`]; [`anthropic_sse`] gives the exact bytes it streams,
//! and [`parse_sse`] / [`assembled_text`] read a stream back as a client would.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use rulegate_mock_upstream::{anthropic_responder, MockUpstream, Script};
//! let mock = MockUpstream::start(anthropic_responder(Script::text("Hello"))).await?;
//! // ... point the proxy at mock.url(), send a request ...
//! assert_eq!(mock.requests().len(), 1);
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod anthropic;
mod server;
mod sse;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use anthropic::{anthropic_responder, anthropic_sse, Block, Script};
pub use server::MockUpstream;
pub use sse::{assembled_text, parse_sse};

/// What the mock received, one per request, in arrival order.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: http::Method,
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Recorded {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(&self.path_and_query, |(path, _)| path)
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The body parsed as JSON (None if it is not JSON).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// How the mock answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, headers, and a body written as the given frames (each frame
    /// one hyper body frame, i.e. one chunk of chunked transfer encoding,
    /// flushed before the next), with `delay` slept between frames. An
    /// invalid header name or value turns the reply into a 500 naming it.
    Chunks {
        status: u16,
        headers: Vec<(String, String)>,
        frames: Vec<Bytes>,
        delay: Duration,
    },
    /// Never answers, to test the proxy's upstream timeout.
    Hang,
}

impl Reply {
    /// A JSON reply (content-type application/json) sent in one frame.
    /// serde_json sorts object keys; use [`Reply::json_text`] where the
    /// field order matters.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::json_text(status, body.to_string())
    }

    /// A JSON reply from already serialized text, sent in one frame.
    pub fn json_text(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply::Chunks {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            frames: vec![body.into()],
            delay: Duration::ZERO,
        }
    }

    /// A reply with no body.
    pub fn empty(status: u16) -> Reply {
        Reply::Chunks {
            status,
            headers: Vec::new(),
            frames: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// A `text/event-stream` reply: `bytes` cut into frames of `frame_size`
    /// bytes (the last may be shorter; 0 counts as 1), with `delay` between
    /// each. `usize::MAX` means one frame per event: a cut after every blank
    /// line ("\n\n").
    pub fn sse(bytes: &[u8], frame_size: usize, delay: Duration) -> Reply {
        let frames = if frame_size == usize::MAX {
            let mut frames = Vec::new();
            let mut rest = bytes;
            while let Some(end) = rest.windows(2).position(|w| w == b"\n\n") {
                frames.push(Bytes::copy_from_slice(&rest[..end + 2]));
                rest = &rest[end + 2..];
            }
            if !rest.is_empty() {
                frames.push(Bytes::copy_from_slice(rest));
            }
            frames
        } else {
            bytes
                .chunks(frame_size.max(1))
                .map(Bytes::copy_from_slice)
                .collect()
        };
        Reply::Chunks {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/event-stream".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            frames,
            delay,
        }
    }
}

/// Decides the reply to each recorded request.
pub type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;
