//! Masking of streamed tool arguments: the `partial_json` fragments of a
//! `tool_use` block's `input_json_delta` events.
//!
//! The fragments concatenate to the JSON text of the tool input, but they
//! are cut anywhere: inside a string, an escape, a `\uXXXX`, between the
//! halves of a surrogate pair, inside `true`. [`ToolInputRewriter`] reads
//! the text as it comes, without ever holding the whole document, and
//! gives every JSON string (object keys and values alike, each on its own)
//! a streaming [`Scanner`] of its own.
//!
//! Invariants, for every cutting of a valid JSON text into fragments:
//! - The concatenated output is valid JSON, and equal as a parsed value to
//!   the input with every string `s` (keys too) replaced by its block-mode
//!   masking `rules.apply(side, scope, s)`. Outside strings the text passes
//!   through byte for byte; strings are re-encoded (escapes may change,
//!   e.g. `\u00e9` comes out as `é`, `\/` as `/`).
//! - It rejects iff block mode rejects some string, with the same rule.
//! - Fail closed: an escape JSON does not define, a lone UTF-16 surrogate,
//!   a raw control character inside a string, a closing bracket with no
//!   opening one or of the other kind, a text that ends inside a string or
//!   with brackets open, or an object with two equal keys is an error. Keys
//!   are compared as they are forwarded, masked: two keys that differ only
//!   in a secret become equal once masked, and a client would keep one of
//!   the two members (which one depends on its parser), as the request side
//!   refuses such a body for the same reason. Beyond that the grammar
//!   outside strings is not checked: that text is forwarded unchanged and
//!   carries nothing to mask.
//! - Once an error was returned, every later call returns it again and
//!   writes nothing. The failing call itself may already have appended
//!   text (never the rejected match), so the caller must end the stream
//!   rather than forward a truncated document.
//! - Each input byte is looked at once: decoded bytes go to the string's
//!   scanner at the end of each fragment (only an incomplete escape or the
//!   high half of a surrogate pair waits for the next one), and what the
//!   scanner releases is encoded and forwarded straight away. Memory is the
//!   scanner's bounded hold-back plus the current fragment, and a 16-byte
//!   digest per key of each object still open.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::Hasher as _;

use siphasher::sip128::{Hasher128 as _, SipHasher13};

use rulegate_engine::{Finding, Rejection, RuleSet, Scanner, Scope, Side};

/// Why a tool-argument stream cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolJsonError {
    #[error("the rule `{}` rejected the tool input", .0.rule_name)]
    Rejected(Rejection),
    #[error("the tool input is not valid JSON: {0}")]
    Invalid(&'static str),
}

const LONE_SURROGATE: ToolJsonError =
    ToolJsonError::Invalid("a \\u escape of a lone UTF-16 surrogate");

/// Where the reader is in the JSON text. `high` is a decoded high
/// surrogate whose low half (`\uDC00`..`\uDFFF`) must come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between strings.
    Outside,
    /// Inside a string, not in an escape.
    Text { high: Option<u16> },
    /// Right after a backslash.
    Escape { high: Option<u16> },
    /// Inside `\uXXXX`, `digits` hex digits read so far.
    Unicode {
        high: Option<u16>,
        code: u16,
        digits: u8,
    },
}

/// An array or object not yet closed.
struct Container {
    object: bool,
    /// In an object, whether the next string is a key (after `{` or `,`).
    expect_key: bool,
    /// 128-bit SipHash digests of the object's keys as forwarded (masked),
    /// fed in pieces as the scanner releases them. A collision can only
    /// refuse a stream, never let equal keys through.
    keys: HashSet<u128>,
}

impl Container {
    fn new(object: bool) -> Container {
        Container {
            object,
            expect_key: object,
            keys: HashSet::new(),
        }
    }
}

const DUPLICATE_KEY: ToolJsonError =
    ToolJsonError::Invalid("two keys of one object are equal (as written or once masked)");

/// Rewrites a tool input's JSON text fragment by fragment, masking every
/// string with the rules for one side and scope.
pub struct ToolInputRewriter {
    rules: RuleSet,
    side: Side,
    scope: Scope,
    state: State,
    /// `[` and `{` not yet closed, innermost last.
    containers: Vec<Container>,
    /// The current string's digest while it is an object key.
    key: Option<SipHasher13>,
    /// The current string's scanner: `Some` exactly while inside a string.
    scanner: Option<Scanner>,
    /// Decoded bytes of the current string not yet fed to its scanner.
    decoded: Vec<u8>,
    /// Bytes the scanner released and not yet encoded: between calls at
    /// most an incomplete UTF-8 character (never, with the engine's
    /// guarantees; kept so a cut character is not mangled if it happens).
    released: Vec<u8>,
    findings: Vec<Finding>,
    failed: Option<ToolJsonError>,
}

impl ToolInputRewriter {
    pub fn new(rules: &RuleSet, side: Side, scope: Scope) -> Self {
        ToolInputRewriter {
            rules: rules.clone(),
            side,
            scope,
            state: State::Outside,
            containers: Vec::new(),
            key: None,
            scanner: None,
            decoded: Vec::new(),
            released: Vec::new(),
            findings: Vec::new(),
            failed: None,
        }
    }

    /// Feeds one fragment of the JSON text; appends the JSON text that may
    /// be forwarded now.
    pub fn push(&mut self, fragment: &str, out: &mut String) -> Result<(), ToolJsonError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.read(fragment, out);
        self.check(result)
    }

    /// The input ended: error if the JSON text is incomplete (inside a
    /// string / escape / unbalanced).
    ///
    /// An empty (or blank) text is accepted: a tool called without
    /// arguments may stream no JSON at all, and there is nothing to mask.
    pub fn finish(&mut self, out: &mut String) -> Result<(), ToolJsonError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        // Between strings nothing is held back (a string's scanner is
        // flushed at its closing quote), so there is nothing left to write;
        // `out` keeps the call shaped like `push` and the scanner API.
        let _ = out;
        let result = match self.state {
            State::Outside if self.containers.is_empty() => Ok(()),
            State::Outside => Err(ToolJsonError::Invalid("an array or object is not closed")),
            _ => Err(ToolJsonError::Invalid("a string is not closed")),
        };
        self.check(result)
    }

    /// Findings since the last call (of every string's scanner), for audit
    /// logs. Offsets are into the decoded text of the string each was
    /// found in.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    /// Remembers an error so every later call returns it.
    fn check(&mut self, result: Result<(), ToolJsonError>) -> Result<(), ToolJsonError> {
        if let Err(error) = &result {
            self.failed = Some(error.clone());
            self.scanner = None;
            self.key = None;
            self.decoded = Vec::new();
            self.released = Vec::new();
        }
        result
    }

    fn read(&mut self, fragment: &str, out: &mut String) -> Result<(), ToolJsonError> {
        let bytes = fragment.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Outside => {
                    let start = i;
                    while i < bytes.len() && bytes[i] != b'"' {
                        match bytes[i] {
                            b'[' | b'{' => self.containers.push(Container::new(bytes[i] == b'{')),
                            b']' | b'}' => {
                                let closed =
                                    self.containers.pop().ok_or(ToolJsonError::Invalid(
                                        "a closing bracket without an opening one",
                                    ))?;
                                if closed.object != (bytes[i] == b'}') {
                                    return Err(ToolJsonError::Invalid(
                                        "a closing bracket of the other kind",
                                    ));
                                }
                            }
                            b',' => {
                                if let Some(object) = self.containers.last_mut() {
                                    object.expect_key = object.object;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    // `start` and `i` sit at ASCII bytes or the ends, so they
                    // are char boundaries.
                    out.push_str(&fragment[start..i]);
                    if i < bytes.len() {
                        i += 1;
                        out.push('"');
                        self.key = self
                            .containers
                            .last()
                            .is_some_and(|c| c.expect_key)
                            .then(SipHasher13::new);
                        self.scanner = Some(self.rules.scanner(self.side, self.scope));
                        self.state = State::Text { high: None };
                    }
                }
                State::Text { high: None } => {
                    let run = bytes[i..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .unwrap_or(bytes.len() - i);
                    // Whole characters: a `&str` fragment never cuts one.
                    self.decoded.extend_from_slice(&bytes[i..i + run]);
                    i += run;
                    match bytes.get(i) {
                        None => {}
                        Some(b'"') => {
                            i += 1;
                            self.close_string(out)?;
                        }
                        Some(b'\\') => {
                            i += 1;
                            self.state = State::Escape { high: None };
                        }
                        Some(_) => {
                            return Err(ToolJsonError::Invalid(
                                "a raw control character inside a string",
                            ))
                        }
                    }
                }
                State::Text { high: Some(high) } => {
                    if bytes[i] != b'\\' {
                        return Err(LONE_SURROGATE);
                    }
                    i += 1;
                    self.state = State::Escape { high: Some(high) };
                }
                State::Escape { high } => {
                    let byte = bytes[i];
                    i += 1;
                    if byte == b'u' {
                        self.state = State::Unicode {
                            high,
                            code: 0,
                            digits: 0,
                        };
                        continue;
                    }
                    if high.is_some() {
                        return Err(LONE_SURROGATE);
                    }
                    let decoded = match byte {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0C,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        _ => return Err(ToolJsonError::Invalid("an escape JSON does not define")),
                    };
                    self.decoded.push(decoded);
                    self.state = State::Text { high: None };
                }
                State::Unicode { high, code, digits } => {
                    // A non-ASCII lead byte becomes a non-hex char: refused.
                    let digit = char::from(bytes[i])
                        .to_digit(16)
                        .ok_or(ToolJsonError::Invalid(
                            "a \\u escape without four hex digits",
                        ))?;
                    i += 1;
                    let code = code << 4 | digit as u16;
                    if digits < 3 {
                        self.state = State::Unicode {
                            high,
                            code,
                            digits: digits + 1,
                        };
                        continue;
                    }
                    let scalar = match (high, code) {
                        (None, 0xD800..=0xDBFF) => {
                            self.state = State::Text { high: Some(code) };
                            continue;
                        }
                        (Some(high), 0xDC00..=0xDFFF) => {
                            0x10000
                                + ((u32::from(high) - 0xD800) << 10 | (u32::from(code) - 0xDC00))
                        }
                        (None, 0xDC00..=0xDFFF) | (Some(_), _) => return Err(LONE_SURROGATE),
                        (None, code) => u32::from(code),
                    };
                    let ch = char::from_u32(scalar).ok_or(LONE_SURROGATE)?;
                    let mut utf8 = [0; 4];
                    self.decoded
                        .extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
                    self.state = State::Text { high: None };
                }
            }
        }
        if self.scanner.is_some() {
            self.feed(out)?;
        }
        Ok(())
    }

    /// Gives the decoded bytes to the string's scanner and forwards what it
    /// releases.
    fn feed(&mut self, out: &mut String) -> Result<(), ToolJsonError> {
        if self.decoded.is_empty() {
            return Ok(());
        }
        let scanner = self.scanner.as_mut().expect("feed runs inside a string");
        let before = self.released.len();
        let result = scanner.push(&self.decoded, &mut self.released);
        if let Some(key) = &mut self.key {
            key.write(&self.released[before..]);
        }
        self.decoded.clear();
        self.findings.extend(scanner.take_findings());
        result.map_err(ToolJsonError::Rejected)?;
        self.encode_released(false, out);
        Ok(())
    }

    /// The closing quote was read: flush the string's scanner, then close
    /// the string in the output.
    fn close_string(&mut self, out: &mut String) -> Result<(), ToolJsonError> {
        self.feed(out)?;
        let mut scanner = self.scanner.take().expect("a string is open");
        let before = self.released.len();
        let result = scanner.finish(&mut self.released);
        self.findings.extend(scanner.take_findings());
        result.map_err(ToolJsonError::Rejected)?;
        if let Some(mut key) = self.key.take() {
            key.write(&self.released[before..]);
            let object = self.containers.last_mut().expect("a key is in an object");
            object.expect_key = false;
            if !object.keys.insert(key.finish128().as_u128()) {
                return Err(DUPLICATE_KEY);
            }
        }
        self.encode_released(true, out);
        out.push('"');
        self.state = State::Outside;
        Ok(())
    }

    /// Encodes the released bytes as JSON string content. Invalid UTF-8
    /// becomes U+FFFD as block mode's `from_utf8_lossy` makes it; an
    /// incomplete character at the end waits for its rest unless `last`.
    fn encode_released(&mut self, last: bool, out: &mut String) {
        let mut rest = &self.released[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    escape_into(text, out);
                    rest = &[];
                    break;
                }
                Err(error) => {
                    let (valid, after) = rest.split_at(error.valid_up_to());
                    escape_into(std::str::from_utf8(valid).expect("valid up to here"), out);
                    match error.error_len() {
                        Some(len) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[len..];
                        }
                        None if last => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &[];
                            break;
                        }
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        let done = self.released.len() - rest.len();
        self.released.drain(..done);
    }
}

/// Appends `text` as the content of a JSON string: `"`, `\` and control
/// characters escaped, everything else (non-ASCII included) as is.
fn escape_into(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0x00..=0x1F => "",
            _ => continue,
        };
        // Only ASCII bytes are escaped, so `copied` and `i` are char
        // boundaries.
        out.push_str(&text[copied..i]);
        if escape.is_empty() {
            write!(out, "\\u{byte:04x}").expect("writing to a String cannot fail");
        } else {
            out.push_str(escape);
        }
        copied = i + 1;
    }
    out.push_str(&text[copied..]);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rulegate_engine::Verdict;
    use serde_json::Value;

    use super::*;

    use crate::test_rules as rules;

    const EMAIL: &str = r#"
rule email {
  match /\b[a-z0-9.]{1,64}@[a-z0-9]{1,63}\.[a-z]{2,10}\b/
  response mask "[email]"
}
"#;

    /// The email mask plus a rejecting rule that the test pieces can
    /// assemble across piece boundaries (`sk-` then `a`, `.`, `@`, ` ` or
    /// `jo@ex.io`): about one generated value in six rejects.
    const EMAIL_AND_KEY: &str = r#"
rule email {
  match /\b[a-z0-9.]{1,64}@[a-z0-9]{1,63}\.[a-z]{2,10}\b/
  response mask "[email]"
}
rule key {
  match /sk-[a.@ j]/
  response reject "a key"
}
"#;

    /// A mask whose text needs escaping in JSON.
    const QUOTING_MASK: &str = r#"
rule email {
  match /\b[a-z0-9.]{1,64}@[a-z0-9]{1,63}\.[a-z]{2,10}\b/
  response mask "[\"mail\"\\\t]"
}
"#;

    fn rewrite(rules: &RuleSet, fragments: &[&str]) -> Result<String, ToolJsonError> {
        let mut rewriter = ToolInputRewriter::new(rules, Side::Response, Scope::ToolInput);
        let mut out = String::new();
        for fragment in fragments {
            rewriter.push(fragment, &mut out)?;
        }
        rewriter.finish(&mut out)?;
        Ok(out)
    }

    /// `text` cut at the given byte offsets (sorted, char boundaries).
    fn cut<'a>(text: &'a str, cuts: &[usize]) -> Vec<&'a str> {
        let mut fragments = Vec::new();
        let mut from = 0;
        for &at in cuts {
            fragments.push(&text[from..at]);
            from = at;
        }
        fragments.push(&text[from..]);
        fragments
    }

    fn boundaries(text: &str) -> Vec<usize> {
        (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect()
    }

    /// Why block mode refuses a value.
    #[derive(Debug)]
    enum Refused {
        Rejected(Rejection),
        DuplicateKey,
    }

    /// Block mode: every string (keys too) replaced by `apply`'s result;
    /// refused, in document order, at the first rejected string or the
    /// first key equal to an earlier one of its object once masked.
    fn block(rules: &RuleSet, value: &Value) -> Result<Value, Refused> {
        let mask = |s: &str| -> Result<String, Refused> {
            match rules.apply(Side::Response, Scope::ToolInput, s).verdict {
                Verdict::Clean => Ok(s.to_owned()),
                Verdict::Masked(masked) => Ok(masked),
                Verdict::Rejected(rejection) => Err(Refused::Rejected(rejection)),
            }
        };
        Ok(match value {
            Value::String(s) => Value::String(mask(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| block(rules, item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(members) => {
                let mut masked = serde_json::Map::new();
                for (k, v) in members {
                    let k = mask(k)?;
                    if masked.contains_key(&k) {
                        return Err(Refused::DuplicateKey);
                    }
                    let v = block(rules, v)?;
                    masked.insert(k, v);
                }
                Value::Object(masked)
            }
            other => other.clone(),
        })
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Every cutting into at most three fragments gives `expected`.
    fn assert_every_cut(rules: &RuleSet, input: &str, expected: &Value) {
        let points = boundaries(input);
        for (n, &a) in points.iter().enumerate() {
            for &b in &points[n..] {
                let fragments = cut(input, &[a, b]);
                let out =
                    rewrite(rules, &fragments).unwrap_or_else(|e| panic!("{e} for {fragments:?}"));
                assert_eq!(&parse(&out), expected, "{fragments:?} gave {out}");
            }
        }
        let chars: Vec<String> = input.chars().map(String::from).collect();
        let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
        let out = rewrite(rules, &chars).unwrap();
        assert_eq!(&parse(&out), expected, "char by char gave {out}");
    }

    #[test]
    fn escapes_survive_every_cut() {
        let rules = rules(EMAIL);
        let input = r#"{"k\"\\\/\n\u00e9\ud83d\ude00": "a\"b\\c\/d\ne\u00E9f\uD83D\uDE00g\t\b\f\r\u0001 jo@ex.io"}"#;
        let expected = serde_json::json!({
            "k\"\\/\n\u{e9}\u{1F600}": "a\"b\\c/d\ne\u{e9}f\u{1F600}g\t\u{8}\u{c}\r\u{1} [email]"
        });
        assert_eq!(block(&rules, &parse(input)).unwrap(), expected);
        assert_every_cut(&rules, input, &expected);
    }

    #[test]
    fn keys_masked_to_the_same_text_are_refused_however_cut() {
        let rules = rules(EMAIL);
        let input = r#"{"a":{"to jo@ex.io":1,"to al@ex.io":2}}"#;
        for (n, &a) in boundaries(input).iter().enumerate() {
            for &b in &boundaries(input)[n..] {
                let fragments = cut(input, &[a, b]);
                assert_eq!(
                    rewrite(&rules, &fragments),
                    Err(DUPLICATE_KEY),
                    "{fragments:?}"
                );
            }
        }
        // Written twice, as the model might: refused too.
        assert_eq!(rewrite(&rules, &[r#"{"k":1,"k":2}"#]), Err(DUPLICATE_KEY));
    }

    #[test]
    fn equal_keys_of_different_objects_and_equal_strings_in_arrays_pass() {
        let rules = rules(EMAIL);
        let input =
            r#"{"to jo@ex.io":{"to al@ex.io":["k","k"]},"b":[{"k":1},{"k":2}],"c":{"k":{"k":0}}}"#;
        let expected = parse(
            r#"{"to [email]":{"to [email]":["k","k"]},"b":[{"k":1},{"k":2}],"c":{"k":{"k":0}}}"#,
        );
        assert_every_cut(&rules, input, &expected);
    }

    #[test]
    fn a_closing_bracket_of_the_other_kind_is_an_error() {
        let rules = rules(EMAIL);
        assert_eq!(
            rewrite(&rules, &[r#"{"a":[1}"#]),
            Err(ToolJsonError::Invalid(
                "a closing bracket of the other kind"
            ))
        );
        assert_eq!(
            rewrite(&rules, &["[{]"]),
            Err(ToolJsonError::Invalid(
                "a closing bracket of the other kind"
            ))
        );
    }

    #[test]
    fn a_secret_in_a_key_is_masked() {
        let rules = rules(EMAIL);
        let input = r#"{"to jo@ex.io": "x.y@mail.com", "plain": "ok"}"#;
        let expected = serde_json::json!({"to [email]": "[email]", "plain": "ok"});
        assert_every_cut(&rules, input, &expected);
    }

    #[test]
    fn an_escaped_secret_is_masked() {
        // The scanner sees decoded text: `\u0040` is `@`, `\u002e` is `.`.
        let rules = rules(EMAIL);
        let input = r#"["jo\u0040ex\u002eio", "jo@ex\/io"]"#;
        let expected = serde_json::json!(["[email]", "jo@ex/io"]);
        assert_every_cut(&rules, input, &expected);
    }

    #[test]
    fn nested_arrays_and_objects() {
        let rules = rules(EMAIL);
        let input = r#"{"a": [{"b": ["jo@ex.io", {"c": [[], {}, "x.y@mail.com"]}]}, 1, true, null, -2.5e3], "d": {}}"#;
        let expected = serde_json::json!({
            "a": [{"b": ["[email]", {"c": [[], {}, "[email]"]}]}, 1, true, null, -2.5e3],
            "d": {}
        });
        assert_every_cut(&rules, input, &expected);
    }

    #[test]
    fn text_outside_strings_passes_through_unchanged() {
        let rules = rules(EMAIL);
        let input = "{ \"n\" :\t1.50e+3 ,\n \"t\": [true, false, null], \"s\": \"a é 😀\" }";
        for n in 0..input.len() {
            if input.is_char_boundary(n) {
                assert_eq!(rewrite(&rules, &cut(input, &[n])).unwrap(), input);
            }
        }
        assert_eq!(rewrite(&rules, &[]).unwrap(), "");
        assert_eq!(rewrite(&rules, &["", ""]).unwrap(), "");
    }

    #[test]
    fn masked_text_is_escaped() {
        let rules = rules(QUOTING_MASK);
        let input = r#"{"q": "to jo@ex.io"}"#;
        let expected = serde_json::json!({"q": "to [\"mail\"\\\t]"});
        assert_eq!(block(&rules, &parse(input)).unwrap(), expected);
        assert_every_cut(&rules, input, &expected);
    }

    #[test]
    fn findings_are_reported() {
        let rules = rules(EMAIL);
        let mut rewriter = ToolInputRewriter::new(&rules, Side::Response, Scope::ToolInput);
        let mut out = String::new();
        rewriter
            .push(r#"{"jo@ex.io": "a x.y@mail"#, &mut out)
            .unwrap();
        let first = rewriter.take_findings();
        rewriter.push(r#".com"}"#, &mut out).unwrap();
        rewriter.finish(&mut out).unwrap();
        let second = rewriter.take_findings();
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].start, first[0].end), (0, 8));
        assert_eq!(second.len(), 1);
        assert_eq!((second[0].start, second[0].end), (2, 14));
        assert_eq!(rules.rule_name(second[0].rule), "email");
        assert!(rewriter.take_findings().is_empty());
        assert_eq!(out, r#"{"[email]": "a [email]"}"#);
    }

    #[test]
    fn invalid_inputs_are_errors_however_cut() {
        let rules = rules(EMAIL);
        let cases = [
            (r#"["\ud83d"]"#, "surrogate"),
            (r#"["\ud83d x"]"#, "surrogate"),
            (r#"["\ud83d\n"]"#, "surrogate"),
            (r#"["\ud83d\u0041"]"#, "surrogate"),
            (r#"["\ud83d\ud83d"]"#, "surrogate"),
            (r#"["\ude00"]"#, "surrogate"),
            (r#"["\x"]"#, "escape"),
            (r#"["\U00e9"]"#, "escape"),
            (r#"["\u00g9"]"#, "hex"),
            (r#"["\u00é"]"#, "hex"),
            ("[\"a\nb\"]", "control"),
            ("[\"a\u{0}b\"]", "control"),
            ("[\"a\u{1f}b\"]", "control"),
            (r#"{"a": "b"#, "string"),
            (r#"{"a": "b\"#, "string"),
            (r#"{"a": "\u00"#, "string"),
            (r#"{"a": "\ud83d"#, "string"),
            (r#"{"a": "b""#, "array or object"),
            (r#"[[]"#, "array or object"),
            (r#"{"a": 1}}"#, "closing bracket"),
            (r#"]"#, "closing bracket"),
        ];
        for (input, reason) in cases {
            for n in boundaries(input) {
                match rewrite(&rules, &cut(input, &[n])) {
                    Err(ToolJsonError::Invalid(message)) => {
                        assert!(message.contains(reason), "{input}: {message}")
                    }
                    other => panic!("{input} cut at {n}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_reject_is_reported_and_sticks() {
        let rules = rules(EMAIL_AND_KEY);
        let input = r#"{"cmd": "echo sk-a", "x": 1}"#;
        for n in boundaries(input) {
            let mut rewriter = ToolInputRewriter::new(&rules, Side::Response, Scope::ToolInput);
            let mut out = String::new();
            let result = rewriter
                .push(&input[..n], &mut out)
                .and_then(|()| rewriter.push(&input[n..], &mut out))
                .and_then(|()| rewriter.finish(&mut out));
            let Err(ToolJsonError::Rejected(rejection)) = result else {
                panic!("cut at {n}: {result:?}");
            };
            assert_eq!(rejection.rule_name, "key");
            assert_eq!(rejection.message, "a key");
            assert!(!out.contains("sk-a"), "{out}");
            // Later calls repeat the error and write nothing.
            let before = out.len();
            let again = rewriter.push("\"more\"", &mut out);
            assert_eq!(again, Err(ToolJsonError::Rejected(rejection.clone())));
            assert_eq!(
                rewriter.finish(&mut out),
                Err(ToolJsonError::Rejected(rejection))
            );
            assert_eq!(out.len(), before);
        }
        // In a key too.
        assert!(matches!(
            rewrite(&rules, &[r#"{"sk-"#, r#".": 1}"#]),
            Err(ToolJsonError::Rejected(_))
        ));
    }

    const PIECES: &[&str] = &[
        "a",
        " ",
        "jo@ex.io",
        "x.y@mail.com",
        "é",
        "😀",
        "\"",
        "\\",
        "\n",
        "sk-",
        "@",
        ".",
        "/",
        "\u{1}",
        "\u{8}",
        "\t",
        "\u{7f}",
        "\u{2028}",
    ];

    fn piece_string() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 0..6)
            .prop_map(|pieces| pieces.concat())
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| serde_json::json!(n)),
            Just(serde_json::json!(-0.125)),
            piece_string().prop_map(Value::String),
            piece_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((piece_string(), inner), 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Compact JSON with every non-ASCII character written as `\uXXXX`
    /// (surrogate pairs beyond the BMP) and `/` as `\/`. Outside strings
    /// serde_json writes neither, so rewriting the whole text is safe.
    fn escaped(value: &Value) -> String {
        let mut text = String::new();
        for ch in serde_json::to_string(value).unwrap().chars() {
            if ch == '/' {
                text.push_str("\\/");
            } else if ch.is_ascii() {
                text.push(ch);
            } else {
                let mut units = [0; 2];
                for unit in ch.encode_utf16(&mut units) {
                    text.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        text
    }

    fn encodings(value: &Value) -> [String; 3] {
        [
            serde_json::to_string(value).unwrap(),
            serde_json::to_string_pretty(value).unwrap(),
            escaped(value),
        ]
    }

    /// `text` cut at char boundaries picked by `picks`.
    fn cut_at(text: &str, picks: &[proptest::sample::Index]) -> Vec<String> {
        let points = boundaries(text);
        let mut cuts: Vec<usize> = picks.iter().map(|pick| *pick.get(&points)).collect();
        cuts.sort_unstable();
        cut(text, &cuts).into_iter().map(str::to_owned).collect()
    }

    fn run(rules: &RuleSet, fragments: &[String]) -> Result<String, ToolJsonError> {
        let fragments: Vec<&str> = fragments.iter().map(String::as_str).collect();
        rewrite(rules, &fragments)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any cutting of any encoding masks like block mode.
        #[test]
        fn streaming_masks_like_block_mode(
            value in json_value(),
            picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..16),
        ) {
            let rules = rules(EMAIL);
            let expected = block(&rules, &value);
            for text in encodings(&value) {
                prop_assert_eq!(parse(&text), value.clone());
                let got = run(&rules, &cut_at(&text, &picks));
                match (&expected, got) {
                    (Ok(expected), Ok(out)) => {
                        let got: Value = serde_json::from_str(&out)
                            .map_err(|e| TestCaseError::fail(format!("{e}: {out}")))?;
                        prop_assert_eq!(&got, expected, "from {}", text);
                    }
                    // Two keys that are each an address become equal.
                    (Err(Refused::DuplicateKey), Err(error)) => prop_assert_eq!(error, DUPLICATE_KEY),
                    (expected, got) => {
                        prop_assert!(false, "block {:?}, stream {:?} for {}", expected, got, text)
                    }
                }
            }
        }

        /// Streaming rejects iff block mode rejects some string, with the
        /// same rule; otherwise it masks like block mode.
        #[test]
        fn streaming_rejects_like_block_mode(
            value in json_value(),
            picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..16),
        ) {
            let rules = rules(EMAIL_AND_KEY);
            let expected = block(&rules, &value);
            for text in encodings(&value) {
                let got = run(&rules, &cut_at(&text, &picks));
                match (&expected, got) {
                    (Ok(expected), Ok(out)) => prop_assert_eq!(&parse(&out), expected),
                    (Err(Refused::Rejected(block)), Err(ToolJsonError::Rejected(stream))) => {
                        prop_assert_eq!(&block.rule_name, &stream.rule_name)
                    }
                    (Err(Refused::DuplicateKey), Err(error)) => prop_assert_eq!(error, DUPLICATE_KEY),
                    (expected, got) => {
                        prop_assert!(false, "block {:?}, stream {:?} for {}", expected, got, text)
                    }
                }
            }
        }
    }
}
