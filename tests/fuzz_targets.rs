//! The gateway's fuzz targets, shared by the cargo-fuzz binaries in
//! `fuzz/` (nightly, coverage-guided) and by the stable replay test
//! (`tests/fuzz_corpus.rs`), which runs every seed and every past crash.
//!
//! Each target checks an invariant, not only that nothing panics:
//! - [`json`]: the strict reader accepts exactly what serde_json accepts,
//!   but for duplicate keys and out-of-range numbers (which it refuses and
//!   ignores), and every string span decodes to its text.
//! - [`sse`]: the rewritten stream is the same however the input is cut
//!   (chunk invariance through the whole SSE redactor).
//! - [`tool_json`]: the same for streamed tool arguments, and a clean
//!   output always parses as JSON when the input did, as strict JSON (no
//!   duplicate keys) when the input was strict.
//! - [`request`]: inspecting any body never panics, and a masked body is
//!   again strict JSON.
//! - [`views`]: the shipped packs' decoded views (percent, JSON escapes,
//!   unicode, base64) give a stream cut anywhere the block result: the
//!   same findings and the same output.

use std::sync::OnceLock;

use rulegate_engine::{RuleSet, Scope, Side};
use rulegate_proxy::adapter::anthropic::{Anthropic, MessagesStream};
use rulegate_proxy::adapter::{ApiAdapter, Outcome, StreamRewriter};
use rulegate_proxy::json;
use rulegate_proxy::tool_json::ToolInputRewriter;

/// The shipped packs.
pub fn shipped() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        rulegate_lang::load(&[rules])
            .expect("the shipped packs load")
            .compile()
            .expect("the shipped packs compile")
    })
}

/// Two cut points taken from the input itself, so the fuzzer steers them.
fn cuts(data: &[u8]) -> (usize, usize) {
    let seed = data
        .iter()
        .fold(0usize, |h, &b| h.wrapping_mul(31).wrapping_add(b as usize));
    let len = data.len().max(1);
    let a = seed % len;
    let b = (seed / len) % len;
    (a.min(b), a.max(b))
}

pub fn json(data: &[u8]) {
    let ours = json::parse(data);
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match (&ours, &theirs) {
        (Ok(_), Ok(_)) | (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => assert!(
            e.reason == "duplicate object key",
            "we refused what serde_json accepts: {e}"
        ),
        (Ok(_), Err(e)) => assert!(
            // We never evaluate numbers, and nest deeper than serde_json.
            e.to_string().contains("out of range") || e.to_string().contains("recursion limit"),
            "we accepted what serde_json refuses: {e}"
        ),
    }
    if let Ok(value) = ours {
        let text = std::str::from_utf8(data).expect("accepted input is UTF-8");
        check_spans(&value.root(), text);
    }
}

fn check_spans(value: &json::Value<'_>, text: &str) {
    match value {
        json::Value::String(s) => {
            let back: String = serde_json::from_str(&text[s.span()]).expect("a span is a literal");
            assert_eq!(back, s.text());
        }
        json::Value::Array(items) => items.iter().for_each(|v| check_spans(&v, text)),
        json::Value::Object(members) => {
            for (k, v) in members.iter() {
                check_spans(&json::Value::String(k), text);
                check_spans(&v, text);
            }
        }
        _ => {}
    }
}

fn redact(data: &[u8], cut: &[usize]) -> (Vec<u8>, Option<String>) {
    let mut stream = MessagesStream::new(shipped().clone());
    let mut out = Vec::new();
    let mut start = 0;
    for &at in cut {
        stream.push(&data[start..at], &mut out);
        start = at;
    }
    stream.push(&data[start..], &mut out);
    stream.finish(&mut out);
    (out, stream.failed().map(str::to_owned))
}

pub fn sse(data: &[u8]) {
    let (a, b) = cuts(data);
    let whole = redact(data, &[]);
    let cut = redact(data, &[a, b]);
    assert_eq!(whole, cut, "the output depends on where the input was cut");
}

pub fn views(data: &[u8]) {
    let set = shipped();
    let (a, b) = cuts(data);
    for (side, scope) in [
        (Side::Request, Scope::ToolResult),
        (Side::Response, Scope::Assistant),
    ] {
        let block = set.findings(side, scope, data);
        let mut scanner = set.scanner(side, scope);
        let mut out = Vec::new();
        let mut pushed = Ok(());
        for piece in [&data[..a], &data[a..b], &data[b..]] {
            pushed = pushed.and_then(|()| scanner.push(piece, &mut out));
        }
        let finished = pushed.and_then(|()| scanner.finish(&mut out));
        let streamed = scanner.take_findings();
        match finished {
            // A reject stops the stream at its finding: the block findings
            // up to it are the stream's.
            Err(rejection) => {
                let upto = block.iter().position(|f| *f == rejection.finding);
                assert_eq!(Some(streamed.len() - 1), upto, "reject differs");
                assert_eq!(streamed[..], block[..streamed.len()]);
            }
            Ok(()) => {
                assert_eq!(streamed, block, "findings depend on the cutting");
                if let Ok(text) = std::str::from_utf8(data) {
                    let applied = set.apply_all(side, scope, text);
                    let want = applied.masked.as_deref().unwrap_or(text).as_bytes();
                    assert_eq!(out, want, "output depends on the cutting");
                }
            }
        }
    }
}

fn rewrite(text: &str, cut: &[usize]) -> Result<String, String> {
    let mut rewriter = ToolInputRewriter::new(shipped(), Side::Response, Scope::ToolInput);
    let mut out = String::new();
    let mut start = 0;
    for &at in cut {
        rewriter
            .push(&text[start..at], &mut out)
            .map_err(|e| e.to_string())?;
        start = at;
    }
    rewriter
        .push(&text[start..], &mut out)
        .map_err(|e| e.to_string())?;
    rewriter.finish(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

pub fn tool_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = cuts(data);
    let boundary = |at: usize| {
        (0..=at)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0)
    };
    let (a, b) = (boundary(a), boundary(b));
    let whole = rewrite(text, &[]);
    assert_eq!(
        whole,
        rewrite(text, &[a, b]),
        "the output depends on the cut"
    );
    if let Ok(out) = whole {
        if serde_json::from_str::<serde_json::Value>(text).is_ok() {
            serde_json::from_str::<serde_json::Value>(&out).expect("valid in, valid out");
        }
        // Strict in (no duplicate keys), strict out: masking never makes
        // two keys of one object equal without refusing the stream.
        if json::parse(text.as_bytes()).is_ok() {
            json::parse(out.as_bytes()).expect("strict in, strict out");
        }
    }
}

pub fn request(data: &[u8]) {
    for kind in ["messages", "batch", "complete"] {
        if let Ok(inspection) = Anthropic.inspect_request(kind, &shipped().clone().into(), data) {
            if let Outcome::Masked(body) = inspection.outcome {
                json::parse(&body).expect("a masked body is strict JSON");
            }
        }
    }
}
