//! Decoded views: the text with its escapes undone, and where each decoded
//! byte came from.
//!
//! Invariants:
//! - a decoder's output is a function of the whole input: feeding it in
//!   any cutting (cuts inside an escape, inside a character, empty
//!   chunks) gives the same bytes and the same [`OriginMap`]; it decides a
//!   unit only once it has seen every byte the decision depends on, and
//!   holds at most [`MAX_UNIT`] bytes to do so;
//! - every decoded byte maps to the original bytes of the one unit (an
//!   escape, a character, or a plain byte) it came from; units are whole
//!   characters of the original, so a span mapped back never cuts one;
//! - decoding is linear: each input byte is looked at a bounded number of
//!   times.
//!
//! The text decodings apply in one pass, in a fixed order per unit: a JSON
//! escape or a run of `%XX` escapes gives a character, which the unicode
//! folding then applies to, as it does to characters written as they are.
//! Base64 is not a rewriting of the text: [`Base64Runs`] finds the runs,
//! and [`decode_base64_text`] decodes one.

use std::collections::VecDeque;

use crate::spec::{Decoding, DecodingSet};

/// The most input bytes one unit can span: a run of backslashes, `u` and
/// four hex digits, twice (a surrogate pair).
pub(crate) const MAX_UNIT: usize = 2 * (MAX_BACKSLASHES + 5);

/// A longer run of backslashes is not an escape: its bytes pass one by one.
/// Eight is three levels of escaping (`\\\\\\\"`).
const MAX_BACKSLASHES: usize = 8;

/// Invisible characters dropped in a row at most; more pass as they are.
/// A secret has one between two characters, not a run, and the cap keeps
/// the original bytes behind each decoded byte bounded (and so a stream's
/// hold).
pub(crate) const MAX_DROPS: usize = 4;

/// The most original bytes behind one decoded byte: its own unit and the
/// invisible characters dropped before it (each as long as a unit).
pub(crate) const MAX_SOURCE_PER_BYTE: usize = (MAX_DROPS + 1) * MAX_UNIT;

/// Base64 runs shorter than this are words, not encoded values. Twelve
/// characters are nine bytes: a Kubernetes Secret's short values (an
/// eight-character password, a NINO, a SIN) are that long; shorter runs
/// decode to too little to hold anything a rule looks for.
pub(crate) const BASE64_MIN: usize = 12;
/// Base64 runs longer than this are not decoded: a stream holds a run
/// while it may still be one, so this bounds the hold.
pub(crate) const BASE64_MAX: usize = 8192;

/// A segment of the decoded text and the original bytes it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    /// Offset of the segment's first decoded byte.
    out: usize,
    out_len: usize,
    /// Offset of the segment's first original byte.
    src: usize,
    src_len: usize,
    /// Decoded byte `out + i` is original byte `src + i` (a copied run);
    /// otherwise every decoded byte stands for the whole source unit.
    identity: bool,
}

/// From decoded offsets back to original ones, as segments (copied runs
/// coalesce, so plain text costs one segment).
#[derive(Clone, Debug, Default)]
pub(crate) struct OriginMap {
    segments: VecDeque<Segment>,
}

impl OriginMap {
    fn push_identity(&mut self, out: usize, src: usize, len: usize) {
        if len == 0 {
            return;
        }
        if let Some(last) = self.segments.back_mut() {
            if last.identity && last.out + last.out_len == out && last.src + last.src_len == src {
                last.out_len += len;
                last.src_len += len;
                return;
            }
        }
        self.segments.push_back(Segment {
            out,
            out_len: len,
            src,
            src_len: len,
            identity: true,
        });
    }

    fn push_unit(&mut self, out: usize, out_len: usize, src: usize, src_len: usize) {
        if out_len == 0 {
            return;
        }
        self.segments.push_back(Segment {
            out,
            out_len,
            src,
            src_len,
            identity: false,
        });
    }

    fn segment(&self, at: usize) -> &Segment {
        let index = self.segments.partition_point(|s| s.out + s.out_len <= at);
        &self.segments[index]
    }

    /// The original offset where decoded byte `at` begins.
    pub(crate) fn origin(&self, at: usize) -> usize {
        let segment = self.segment(at);
        if segment.identity {
            segment.src + (at - segment.out)
        } else {
            segment.src
        }
    }

    /// The original span of the decoded span `start..end` (not empty).
    pub(crate) fn span(&self, start: usize, end: usize) -> (usize, usize) {
        let first = self.segment(start);
        let last = self.segment(end - 1);
        let origin_start = if first.identity {
            first.src + (start - first.out)
        } else {
            first.src
        };
        let origin_end = if last.identity {
            last.src + (end - 1 - last.out) + 1
        } else {
            last.src + last.src_len
        };
        (origin_start, origin_end)
    }

    /// Forgets the segments wholly before decoded offset `at`.
    pub(crate) fn forget_before(&mut self, at: usize) {
        while self
            .segments
            .front()
            .is_some_and(|s| s.out + s.out_len <= at)
        {
            self.segments.pop_front();
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.segments.capacity() * std::mem::size_of::<Segment>()
    }
}

/// The text decodings of one view, fed in chunks.
#[derive(Clone, Debug)]
pub(crate) struct TextDecoder {
    json: bool,
    percent: bool,
    unicode: bool,
    /// Input bytes not yet decided (fewer than [`MAX_UNIT`]).
    pending: Vec<u8>,
    /// Original offset of `pending[0]`.
    at: usize,
    /// Decoded bytes written so far.
    written: usize,
    /// Invisible characters dropped since the last decoded byte.
    drops: usize,
    scratch: Vec<u8>,
}

/// What the unit at a position is.
enum Unit {
    /// Needs bytes that have not arrived.
    More,
    /// This many bytes pass unchanged.
    Copy(usize),
    /// This many bytes decode to what was written to the scratch buffer.
    Decoded(usize),
}

impl TextDecoder {
    pub(crate) fn new(decodings: DecodingSet) -> TextDecoder {
        TextDecoder {
            json: decodings.contains(Decoding::JsonEscape),
            percent: decodings.contains(Decoding::Percent),
            unicode: decodings.contains(Decoding::Unicode),
            pending: Vec::new(),
            at: 0,
            written: 0,
            drops: 0,
            scratch: Vec::new(),
        }
    }

    /// The original offset of the first byte not decoded yet: every
    /// decoded byte still to come maps to this offset or later.
    pub(crate) fn next_origin(&self) -> usize {
        self.at
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.pending.capacity() + self.scratch.capacity()
    }

    /// Decodes what `chunk` completes, appending to `out` and `map`; with
    /// `eoi`, nothing follows and everything is decided.
    pub(crate) fn feed(&mut self, chunk: &[u8], eoi: bool, out: &mut Vec<u8>, map: &mut OriginMap) {
        if self.pending.is_empty() {
            let used = self.decode(chunk, eoi, out, map);
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut input = std::mem::take(&mut self.pending);
            input.extend_from_slice(chunk);
            let used = self.decode(&input, eoi, out, map);
            input.drain(..used);
            self.pending = input;
        }
        debug_assert!(self.pending.len() < MAX_UNIT && (!eoi || self.pending.is_empty()));
    }

    /// Decodes the units of `input` that can be decided; returns how many
    /// bytes were used.
    fn decode(&mut self, input: &[u8], eoi: bool, out: &mut Vec<u8>, map: &mut OriginMap) -> usize {
        let mut i = 0;
        while i < input.len() {
            let plain = input[i..]
                .iter()
                .position(|&b| self.is_trigger(b))
                .unwrap_or(input.len() - i);
            if plain > 0 {
                self.copy(&input[i..i + plain], out, map);
                i += plain;
                continue;
            }
            self.scratch.clear();
            match self.unit(&input[i..], eoi) {
                Unit::More => break,
                Unit::Copy(len) => {
                    self.copy(&input[i..i + len], out, map);
                    i += len;
                }
                Unit::Decoded(len) if self.scratch.is_empty() && self.drops >= MAX_DROPS => {
                    self.copy(&input[i..i + len], out, map);
                    i += len;
                }
                Unit::Decoded(len) => {
                    self.drops = if self.scratch.is_empty() {
                        self.drops + 1
                    } else {
                        0
                    };
                    map.push_unit(self.written, self.scratch.len(), self.at, len);
                    out.extend_from_slice(&self.scratch);
                    self.written += self.scratch.len();
                    self.at += len;
                    i += len;
                }
            }
        }
        i
    }

    /// Whether decoding could change anything in `text` (a byte that may
    /// start an escape or a foldable character).
    pub(crate) fn may_change(&self, text: &[u8]) -> bool {
        text.iter().any(|&b| self.is_trigger(b))
    }

    fn is_trigger(&self, byte: u8) -> bool {
        (self.json && byte == b'\\')
            || (self.percent && byte == b'%')
            || (self.unicode && byte >= 0x80)
    }

    fn copy(&mut self, bytes: &[u8], out: &mut Vec<u8>, map: &mut OriginMap) {
        self.drops = 0;
        map.push_identity(self.written, self.at, bytes.len());
        out.extend_from_slice(bytes);
        self.written += bytes.len();
        self.at += bytes.len();
    }

    fn unit(&mut self, s: &[u8], eoi: bool) -> Unit {
        match s[0] {
            b'\\' if self.json => self.json_escape(s, eoi),
            b'%' if self.percent => self.percent_escape(s, eoi),
            _ => {
                let width = utf8_width(s[0]);
                if width == 0 {
                    return Unit::Copy(1);
                }
                if s.len() < width {
                    let continuations = s[1..].iter().all(|&b| b & 0xC0 == 0x80);
                    return if continuations && !eoi {
                        Unit::More
                    } else {
                        Unit::Copy(1)
                    };
                }
                match std::str::from_utf8(&s[..width]) {
                    Ok(text) => {
                        let ch = text.chars().next().unwrap_or_default();
                        if fold_into(ch, &mut self.scratch) {
                            Unit::Decoded(width)
                        } else {
                            Unit::Copy(width)
                        }
                    }
                    Err(_) => Unit::Copy(1),
                }
            }
        }
    }

    /// A char produced by an escape: folded when the view folds unicode.
    fn emit_char(&mut self, ch: char) {
        if !(self.unicode && fold_into(ch, &mut self.scratch)) {
            let mut utf8 = [0; 4];
            self.scratch
                .extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
        }
    }

    fn json_escape(&mut self, s: &[u8], eoi: bool) -> Unit {
        let run = s
            .iter()
            .take(MAX_BACKSLASHES + 1)
            .take_while(|&&b| b == b'\\')
            .count();
        if run > MAX_BACKSLASHES {
            return Unit::Copy(1);
        }
        let Some(&escape) = s.get(run) else {
            return if eoi {
                self.lone_backslashes(run)
            } else {
                Unit::More
            };
        };
        let simple = match escape {
            b'n' => Some('\n'),
            b't' => Some('\t'),
            b'r' => Some('\r'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'"' => Some('"'),
            b'\'' => Some('\''),
            b'/' => Some('/'),
            _ => None,
        };
        if let Some(ch) = simple {
            self.emit_char(ch);
            return Unit::Decoded(run + 1);
        }
        if escape != b'u' {
            return self.lone_backslashes(run);
        }
        let high = match hex_digits(s, run + 1, 4, eoi) {
            Hex::More => return Unit::More,
            Hex::Invalid => return self.lone_backslashes(run),
            Hex::Value(value) => value,
        };
        let after = run + 5;
        if !(0xD800..0xDC00).contains(&high) {
            return match char::from_u32(high) {
                Some(ch) => {
                    self.emit_char(ch);
                    Unit::Decoded(after)
                }
                // A lone low surrogate stays as written.
                None => Unit::Copy(after),
            };
        }
        // A high surrogate: the low half must follow, escaped the same way.
        let rest = &s[after..];
        let run2 = rest
            .iter()
            .take(MAX_BACKSLASHES + 1)
            .take_while(|&&b| b == b'\\')
            .count();
        if run2 == rest.len() && run2 <= MAX_BACKSLASHES && !eoi {
            return Unit::More;
        }
        if run2 == 0 || run2 > MAX_BACKSLASHES || rest.get(run2) != Some(&b'u') {
            return Unit::Copy(after);
        }
        let low = match hex_digits(rest, run2 + 1, 4, eoi) {
            Hex::More => return Unit::More,
            Hex::Invalid => return Unit::Copy(after),
            Hex::Value(value) => value,
        };
        if !(0xDC00..0xE000).contains(&low) {
            return Unit::Copy(after);
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        match char::from_u32(code) {
            Some(ch) => {
                self.emit_char(ch);
                Unit::Decoded(after + run2 + 5)
            }
            None => Unit::Copy(after),
        }
    }

    /// Backslashes that escape nothing: one stays (`C:\\Users` reads
    /// `C:\Users` once unescaped).
    fn lone_backslashes(&mut self, run: usize) -> Unit {
        if run == 1 {
            Unit::Copy(1)
        } else {
            self.scratch.push(b'\\');
            Unit::Decoded(run)
        }
    }

    fn percent_escape(&mut self, s: &[u8], eoi: bool) -> Unit {
        let first = match hex_digits(s, 1, 2, eoi) {
            Hex::More => return Unit::More,
            Hex::Invalid => return Unit::Copy(1),
            Hex::Value(value) => value as u8,
        };
        let width = utf8_width(first);
        if width <= 1 {
            // ASCII, or a byte that starts no character: as decoded.
            self.scratch.push(first);
            return Unit::Decoded(3);
        }
        // A character written as several escapes (`%E2%80%8B`).
        let mut bytes = [first, 0, 0, 0];
        for (k, byte) in bytes.iter_mut().enumerate().take(width).skip(1) {
            let at = 3 * k;
            let value = match s.get(at) {
                None if !eoi => return Unit::More,
                Some(b'%') => match hex_digits(s, at + 1, 2, eoi) {
                    Hex::More => return Unit::More,
                    Hex::Invalid => None,
                    Hex::Value(value) => Some(value as u8),
                },
                _ => None,
            };
            match value {
                Some(value) if value & 0xC0 == 0x80 => *byte = value,
                _ => {
                    self.scratch.push(first);
                    return Unit::Decoded(3);
                }
            }
        }
        match std::str::from_utf8(&bytes[..width]) {
            Ok(text) => {
                let ch = text.chars().next().unwrap_or_default();
                self.emit_char(ch);
                Unit::Decoded(3 * width)
            }
            Err(_) => {
                self.scratch.push(first);
                Unit::Decoded(3)
            }
        }
    }
}

enum Hex {
    More,
    Invalid,
    Value(u32),
}

/// `count` hex digits at `s[at..]`.
fn hex_digits(s: &[u8], at: usize, count: usize, eoi: bool) -> Hex {
    let mut value = 0;
    for k in 0..count {
        match s.get(at + k) {
            None if eoi => return Hex::Invalid,
            None => return Hex::More,
            Some(&b) => match (b as char).to_digit(16) {
                Some(digit) => value = value * 16 + digit,
                None => return Hex::Invalid,
            },
        }
    }
    Hex::Value(value)
}

/// The length of the UTF-8 sequence `lead` starts; 0 for a byte that
/// starts none (a continuation or an invalid byte), 1 for ASCII.
fn utf8_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Writes what `ch` folds to and returns true, or returns false (and
/// writes nothing) when it stays as it is.
pub(crate) fn fold_into(ch: char, out: &mut Vec<u8>) -> bool {
    if ch.is_ascii() {
        return false;
    }
    if is_invisible(ch) {
        return true;
    }
    let code = ch as u32;
    // Tag characters spell ASCII invisibly ("ASCII smuggling").
    if (0xE0020..=0xE007E).contains(&code) {
        out.push((code - 0xE0000) as u8);
        return true;
    }
    if let Some(ascii) = confusable(ch) {
        out.push(ascii);
        return true;
    }
    // Compatibility forms that are ASCII once decomposed (fullwidth,
    // mathematical letters, ligatures, circled digits, odd spaces); a
    // letter with an accent decomposes to a non-ASCII mark and stays.
    let start = out.len();
    let mut ascii = true;
    unicode_normalization::char::decompose_compatible(ch, |part| {
        if part.is_ascii() && ascii {
            out.push(part as u8);
        } else {
            ascii = false;
        }
    });
    if ascii && out.len() > start {
        true
    } else {
        out.truncate(start);
        false
    }
}

/// Characters that draw nothing: a secret with one inside reads the same.
fn is_invisible(ch: char) -> bool {
    matches!(ch,
        '\u{AD}'                       // soft hyphen
        | '\u{34F}'                    // combining grapheme joiner
        | '\u{61C}'                    // Arabic letter mark
        | '\u{180E}'                   // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}'      // zero-width space, joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'      // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'      // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'      // bidi isolates
        | '\u{FE00}'..='\u{FE0F}'      // variation selectors
        | '\u{FEFF}'                   // zero-width no-break space
        | '\u{E0001}' | '\u{E007F}'    // tag begin and cancel
    )
}

/// Chosen confusables: letters that look like ASCII ones (Cyrillic,
/// Greek), dashes, curly quotes. Compatibility decomposition does not
/// fold these.
fn confusable(ch: char) -> Option<u8> {
    Some(match ch {
        // Cyrillic
        'а' => b'a',
        'е' => b'e',
        'о' => b'o',
        'р' => b'p',
        'с' => b'c',
        'у' => b'y',
        'х' => b'x',
        'ѕ' => b's',
        'і' => b'i',
        'ј' => b'j',
        'ԁ' => b'd',
        'һ' => b'h',
        'ӏ' => b'l',
        'ԛ' => b'q',
        'ԝ' => b'w',
        'А' => b'A',
        'В' => b'B',
        'Е' => b'E',
        'К' => b'K',
        'М' => b'M',
        'Н' => b'H',
        'О' => b'O',
        'Р' => b'P',
        'С' => b'C',
        'Т' => b'T',
        'Х' => b'X',
        'Ѕ' => b'S',
        'І' => b'I',
        'Ј' => b'J',
        'Ү' => b'Y',
        // Greek
        'Α' => b'A',
        'Β' => b'B',
        'Ε' => b'E',
        'Ζ' => b'Z',
        'Η' => b'H',
        'Ι' => b'I',
        'Κ' => b'K',
        'Μ' => b'M',
        'Ν' => b'N',
        'Ο' => b'O',
        'Ρ' => b'P',
        'Τ' => b'T',
        'Υ' => b'Y',
        'Χ' => b'X',
        'ο' => b'o',
        'ν' => b'v',
        'ι' => b'i',
        'κ' => b'k',
        'ρ' => b'p',
        'υ' => b'u',
        // Dashes and minus
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' => b'-',
        // Quotes and primes
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => b'\'',
        '\u{201C}'..='\u{201F}' | '\u{2033}' => b'"',
        _ => return None,
    })
}

/// Finds base64 runs in a stream: a maximal run of `[A-Za-z0-9+/]` and
/// up to two `=` after it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Base64Runs {
    /// The open run: its start, its length, its `=` count.
    open: Option<(usize, usize, usize)>,
    total: usize,
}

impl Base64Runs {
    /// Steps over `chunk`; calls `ended(start, end)` for each run that
    /// ended in it whose length is within the decoded bounds.
    pub(crate) fn feed(&mut self, chunk: &[u8], mut ended: impl FnMut(usize, usize)) {
        // The state in locals: this loop runs over every byte of a stream.
        let (mut open, (mut start, mut len, mut pads)) = match self.open {
            Some(run) => (true, run),
            None => (false, (0, 0, 0)),
        };
        let mut i = 0;
        let n = chunk.len();
        while i < n {
            if !open {
                // Between runs, and `chunk[i - 1]` (if any) is no body
                // byte. A run long enough to report has a body of at least
                // `BASE64_MIN - 2` bytes: one that starts at `i`, or later
                // but not after `probe`, covers `probe`. So only the body
                // around `probe` can start one; the shorter bodies before
                // it are passed over unread.
                let probe = i + BASE64_MIN - 3;
                if probe < n {
                    if !BASE64[chunk[probe] as usize] {
                        i = probe + 1;
                        continue;
                    }
                    let mut body_start = probe;
                    while body_start > i && BASE64[chunk[body_start - 1] as usize] {
                        body_start -= 1;
                    }
                    (open, start, len, pads) =
                        (true, self.total + body_start, probe + 1 - body_start, 0);
                    i = probe + 1;
                    continue;
                }
                // Near the chunk's end: byte by byte, so that a run left
                // open has its start.
                while i < n && !BASE64[chunk[i] as usize] {
                    i += 1;
                }
                if i == n {
                    break;
                }
                (open, start, len, pads) = (true, self.total + i, 1, 0);
                i += 1;
                continue;
            }
            if pads == 0 {
                let body_start = i;
                while i < n && BASE64[chunk[i] as usize] {
                    i += 1;
                }
                len += i - body_start;
                if i == n {
                    break;
                }
            }
            if chunk[i] == b'=' && pads < 2 {
                len += 1;
                pads += 1;
                i += 1;
                continue;
            }
            // The run ends here; after padding, this byte may start the
            // next one (the loop looks at it again), after the body it is
            // no alphabet byte.
            open = false;
            if (BASE64_MIN..=BASE64_MAX).contains(&len) {
                ended(start, start + len);
            }
            if pads == 0 {
                i += 1;
            }
        }
        self.open = open.then_some((start, len, pads));
        self.total += n;
    }

    fn end_run(&mut self, ended: &mut impl FnMut(usize, usize)) {
        if let Some((start, len, _)) = self.open.take() {
            if (BASE64_MIN..=BASE64_MAX).contains(&len) {
                ended(start, start + len);
            }
        }
    }

    /// Ends the input: the open run ends too.
    pub(crate) fn finish(&mut self, mut ended: impl FnMut(usize, usize)) {
        self.end_run(&mut ended);
    }

    /// The first offset a run still to be reported can start at: the
    /// open run's start while it may still be decoded.
    pub(crate) fn watermark(&self) -> usize {
        match self.open {
            Some((start, len, _)) if len <= BASE64_MAX => start,
            _ => self.total,
        }
    }
}

/// The standard base64 alphabet, by byte.
static BASE64: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
        byte += 1;
    }
    table
};

/// The text a base64 run encodes, or `None` when it is not valid base64
/// or not text (valid UTF-8 without control characters but tab and line
/// ends): binary blobs are not scanned.
pub(crate) fn decode_base64_text(run: &[u8]) -> Option<Vec<u8>> {
    let body = run
        .strip_suffix(b"==")
        .or_else(|| run.strip_suffix(b"="))
        .unwrap_or(run);
    if body.len() % 4 == 1 || (body.len() < run.len() && !run.len().is_multiple_of(4)) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut acc = 0u32;
    let mut bits = 0;
    // Most runs are tokens, not text: their bytes are random, and a
    // control byte or a byte no UTF-8 text has where it stands comes
    // within a few bytes. Stopping there, rather than decoding the whole
    // run and then checking it, saves 5% of a block scan of secret-dense
    // text (callgrind: 289 -> 275 M instructions). `continuations` is how
    // many UTF-8 continuation bytes are due; the exact check (overlong
    // forms, surrogates) is `from_utf8` at the end, on the runs that get
    // that far.
    let mut continuations = 0u8;
    for &byte in body {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            let decoded = (acc >> bits) as u8;
            continuations = match (continuations, decoded) {
                (0, b'\t' | b'\n' | b'\r') => 0,
                (0, 0..=0x1F | 0x7F) => return None,
                (0, 0x20..=0x7E) => 0,
                (0, 0xC2..=0xDF) => 1,
                (0, 0xE0..=0xEF) => 2,
                (0, 0xF0..=0xF4) => 3,
                (0, _) => return None,
                (due, 0x80..=0xBF) => due - 1,
                _ => return None,
            };
            out.push(decoded);
        }
    }
    std::str::from_utf8(&out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(decodings: &[Decoding], input: &[u8]) -> (String, OriginMap) {
        let mut decoder = TextDecoder::new(decodings.iter().copied().collect());
        let (mut out, mut map) = (Vec::new(), OriginMap::default());
        decoder.feed(input, true, &mut out, &mut map);
        // Lossy: a lone `%E2` decodes to a byte that is no character.
        (String::from_utf8_lossy(&out).into_owned(), map)
    }

    const ALL_TEXT: [Decoding; 3] = [Decoding::JsonEscape, Decoding::Percent, Decoding::Unicode];

    #[test]
    fn escapes_decode_and_map_back_to_their_source() {
        let input = r#"a\"b\\nc%3Dd\u00e9"#;
        let (text, map) = decode(&ALL_TEXT, input.as_bytes());
        assert_eq!(text, "a\"b\nc=dé");
        // `\"` is bytes 1..3; `\\n` is 4..7; `%3D` 8..11; `\u00e9` 12..18.
        assert_eq!(map.span(1, 2), (1, 3));
        assert_eq!(map.span(3, 4), (4, 7));
        assert_eq!(map.span(5, 6), (8, 11));
        assert_eq!(map.span(7, 9), (12, 18));
        assert_eq!(map.span(0, 1), (0, 1));
        assert_eq!(map.span(0, 4), (0, 7));
    }

    #[test]
    fn unicode_drops_invisibles_and_folds_look_alikes() {
        let (text, map) = decode(
            &[Decoding::Unicode],
            "s\u{200B}k-ＡＢ①\u{AD}с\u{2013}’".as_bytes(),
        );
        assert_eq!(text, "sk-AB1c-'");
        // The zero-width space (bytes 1..4) is gone: `sk` spans it.
        assert_eq!(map.span(0, 2), (0, 5));
        // Accented letters and CJK stay.
        assert_eq!(decode(&[Decoding::Unicode], "é漢".as_bytes()).0, "é漢");
        // Tag characters spell ASCII.
        assert_eq!(
            decode(&[Decoding::Unicode], "\u{E0061}\u{E0062}".as_bytes()).0,
            "ab"
        );
    }

    #[test]
    fn escapes_decode_into_characters_the_unicode_fold_then_sees() {
        let (text, _) = decode(&ALL_TEXT, br"a\u200bb%E2%80%8Bc\uff21");
        assert_eq!(text, "abcA");
        let (text, _) = decode(&ALL_TEXT, br"\ud83d\ude00");
        assert_eq!(text, "\u{1F600}");
    }

    #[test]
    fn what_is_not_an_escape_stays() {
        for input in [
            r"100% sure",
            r"%zz",
            r"%4",
            r"\q",
            r"\u12",
            r"\ud800x",
            "\\",
        ] {
            let (text, _) = decode(&ALL_TEXT, input.as_bytes());
            assert_eq!(text, input, "{input:?}");
        }
        assert_eq!(decode(&ALL_TEXT, br"C:\\Users").0, r"C:\Users");
        // Only the enabled decodings apply.
        assert_eq!(decode(&[Decoding::Percent], br"\n%41").0, r"\nA");
    }

    #[test]
    fn every_cutting_decodes_the_same() {
        let inputs: [&[u8]; 4] = [
            br#"k\\\"ey\u0041%41%E2%80%8Bx\ud83d\ude00 \\\\\\\\\\\\\\\\\\\\n"#,
            "ｔｏｋｅｎ=\u{200B}ab%zz%4".as_bytes(),
            b"\\",
            b"%E2%80",
        ];
        for input in inputs {
            let (whole, whole_map) = decode(&ALL_TEXT, input);
            for cut in 0..=input.len() {
                for cut2 in cut..=input.len() {
                    let mut decoder = TextDecoder::new(ALL_TEXT.into_iter().collect());
                    let (mut out, mut map) = (Vec::new(), OriginMap::default());
                    decoder.feed(&input[..cut], false, &mut out, &mut map);
                    decoder.feed(&input[cut..cut2], false, &mut out, &mut map);
                    decoder.feed(&input[cut2..], true, &mut out, &mut map);
                    assert_eq!(String::from_utf8_lossy(&out), whole);
                    assert_eq!(map.segments, whole_map.segments);
                }
            }
        }
    }

    #[test]
    fn base64_runs_are_found_and_decoded_when_text() {
        let text = b"Basic YWxpY2U6aHVudGVyMiFzZWNyZXQ= and token=c2hvcnQ= /usr/local/bin/x";
        let mut runs = Vec::new();
        let mut finder = Base64Runs::default();
        finder.feed(text, |s, e| runs.push((s, e)));
        finder.finish(|s, e| runs.push((s, e)));
        let runs: Vec<&[u8]> = runs.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(
            runs,
            [&b"YWxpY2U6aHVudGVyMiFzZWNyZXQ="[..], b"/usr/local/bin/x"]
        );
        assert_eq!(
            decode_base64_text(runs[0]).as_deref(),
            Some(&b"alice:hunter2!secret"[..])
        );
        // Not text.
        assert_eq!(decode_base64_text(runs[1]), None);
        assert_eq!(decode_base64_text(b"YWJjZA"), Some(b"abcd".to_vec()));
        // Any cutting finds the same runs.
        let text = b"x YWxpY2U6aHVudGVyMiFzZWNyZXQ===YWxpY2U6aHVudGVyMiFzZWNyZXQ/a=b ==QUJDREVGR0hJSktMTU5PUA";
        let runs_of = |cuts: &[usize]| {
            let mut runs = Vec::new();
            let mut finder = Base64Runs::default();
            let mut last = 0;
            for &cut in cuts.iter().chain([text.len()].iter()) {
                finder.feed(&text[last..cut], |s, e| runs.push((s, e)));
                last = cut;
            }
            finder.finish(|s, e| runs.push((s, e)));
            runs
        };
        let whole = runs_of(&[]);
        assert_eq!(whole.len(), 3, "{whole:?}");
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(runs_of(&[a, b]), whole, "cut at {a}, {b}");
            }
        }
        assert_eq!(decode_base64_text(b"YWJjZ"), None);
    }

    /// The text test as it reads: the whole run decoded, valid UTF-8, no
    /// control byte but tab, newline and carriage return.
    fn decodes_to_text(bytes: &[u8]) -> bool {
        std::str::from_utf8(bytes).is_ok()
            && !bytes
                .iter()
                .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7F)
    }

    fn base64_of(bytes: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            }
            out.extend(std::iter::repeat_n(b'=', 3 - chunk.len()));
        }
        out
    }

    proptest::proptest! {
        /// Stopping at the first byte that cannot be text changes no
        /// answer: text (UTF-8 of any width, near misses of it, control
        /// bytes) decodes exactly when the whole-run test says so.
        #[test]
        fn the_early_exit_agrees_with_the_whole_run_test(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    0x20u8..0x7F,
                    0x80u8..0xC0,
                    proptest::prelude::Just(0xE2u8),
                    proptest::prelude::Just(b'\n'),
                ],
                1..40,
            ),
            as_text in proptest::prelude::any::<bool>(),
        ) {
            // Half the cases are real text, so that both answers occur.
            let bytes = if as_text {
                String::from_utf8_lossy(&text)
                    .replace(|c: char| c.is_control() && c != '\n', "x")
                    .into_bytes()
            } else {
                text
            };
            let run = base64_of(&bytes);
            let want = decodes_to_text(&bytes).then(|| bytes.clone());
            proptest::prop_assert_eq!(decode_base64_text(&run), want);
        }

        /// The finder, fed in any cutting, reports exactly the runs the
        /// definition gives: each maximal body of `[A-Za-z0-9+/]` and the
        /// up to two `=` right after it, when that is 12 to 8,192 bytes.
        #[test]
        fn the_finder_reports_the_runs_of_the_definition_in_any_cutting(
            pieces in proptest::collection::vec(
                (0usize..16, 0usize..4, proptest::sample::select(b" -\n=A".to_vec())),
                0..12,
            ),
            cuts in proptest::collection::vec(0usize..240, 0..6),
        ) {
            // Bodies of every length around the bound, each with zero to
            // three `=` and a byte after (another `=` or body byte too).
            let mut text = Vec::new();
            for (body_len, pads, after) in pieces {
                text.extend((0..body_len).map(|k| b"Ab0+/z9"[k % 7]));
                text.extend(std::iter::repeat_n(b'=', pads));
                text.push(after);
            }
            let body = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
            let mut want = Vec::new();
            let mut at = 0;
            while at < text.len() {
                if !body(text[at]) || (at > 0 && body(text[at - 1])) {
                    at += 1;
                    continue;
                }
                let mut end = at;
                while end < text.len() && body(text[end]) {
                    end += 1;
                }
                let mut pads = 0;
                while pads < 2 && end < text.len() && text[end] == b'=' {
                    end += 1;
                    pads += 1;
                }
                if (BASE64_MIN..=BASE64_MAX).contains(&(end - at)) {
                    want.push((at, end));
                }
                at = end;
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort_unstable();
            let mut got = Vec::new();
            let mut finder = Base64Runs::default();
            let mut last = 0;
            for cut in cuts.into_iter().chain([text.len()]) {
                finder.feed(&text[last..cut], |s, e| got.push((s, e)));
                last = cut;
            }
            finder.finish(|s, e| got.push((s, e)));
            proptest::prop_assert_eq!(got, want);
        }
    }
}
