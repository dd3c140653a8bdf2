//! An independent labeled corpus: written from public format facts only
//! (vendor token formats, standards, the fixture shapes public scanners
//! test against), without reading the packs, their tests or the other
//! generator, so that the packs can be measured on text nobody tuned them
//! for. See `README.md` beside this file.
//!
//! Invariants: a pure function of the seed and the document count; every
//! label covers exactly the bytes written for the value (after the
//! carrier's encoding: percent, JSON escape, base64, hard wrap, YAML
//! indentation), and decoding those bytes gives back the planted value
//! (checked by the tests through [`generate_planted`]).

mod carriers;
mod values;

#[cfg(test)]
mod tests;

use super::corpus::{Corpus, Document, Label, Negative, Written};
use super::formats::Category;
use crate::Rng;

use values::Item;
pub use values::{PII_TYPES, SECRET_TYPES};

/// An encoding a carrier applies to a value, innermost first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    /// Zero-width characters, soft hyphens or fullwidth digits inside.
    Noise,
    /// RFC 3986 percent-encoding of everything but unreserved characters.
    Percent,
    /// A JSON string body (`\"`, `\\`, `\n`).
    Json,
    /// A JSON string body that also escapes `/` as `\/`.
    JsonSlash,
    /// A JSON string body as Go's `encoding/json` writes it: `<`, `>`
    /// and `&` as `\u003c`, `\u003e`, `\u0026`.
    JsonGo,
    /// Standard base64 of the whole value.
    Base64,
    /// Hard-wrapped every `width` characters, each new line indented.
    Wrap(usize, usize),
    /// Each new line inside the value indented (a YAML block scalar).
    Indent(usize),
    /// An SQL string literal body (`'` doubled).
    Sql,
    /// A quoted CSV field body (`"` doubled).
    Csv,
}

impl Enc {
    fn whole(self) -> bool {
        matches!(self, Enc::Base64 | Enc::Wrap(..))
    }
}

pub fn encode(text: &str, enc: Enc) -> String {
    match enc {
        Enc::Noise => text.to_string(),
        Enc::Percent => {
            let mut out = String::new();
            for b in text.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        }
        Enc::Json | Enc::JsonSlash | Enc::JsonGo => {
            let mut out = String::new();
            for c in text.chars() {
                match c {
                    '<' | '>' | '&' if enc == Enc::JsonGo => {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    }
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '/' if enc == Enc::JsonSlash => out.push_str("\\/"),
                    c => out.push(c),
                }
            }
            out
        }
        Enc::Base64 => values::b64(text.as_bytes()),
        Enc::Wrap(width, indent) => {
            let chars: Vec<char> = text.chars().collect();
            let pad = " ".repeat(indent);
            chars
                .chunks(width)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join(&format!("\n{pad}"))
        }
        Enc::Indent(n) => text.replace('\n', &format!("\n{}", " ".repeat(n))),
        Enc::Sql => text.replace('\'', "''"),
        Enc::Csv => text.replace('"', "\"\""),
    }
}

pub fn decode(text: &str, enc: Enc) -> Option<String> {
    Some(match enc {
        Enc::Noise => text
            .chars()
            .filter(|c| !values::ZERO_WIDTH.contains(c) && *c != values::SOFT_HYPHEN)
            .map(|c| {
                if ('\u{FF10}'..='\u{FF19}').contains(&c) {
                    char::from_u32(c as u32 - 0xFF10 + '0' as u32).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect(),
        Enc::Percent => {
            let bytes = text.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).ok()?
        }
        Enc::Json | Enc::JsonSlash | Enc::JsonGo => {
            let mut out = String::new();
            let mut it = text.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    match it.next()? {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'u' => {
                            let hex: String = it.by_ref().take(4).collect();
                            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        other => out.push(other),
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        Enc::Base64 => String::from_utf8(values::base64_decode(text)?).ok()?,
        Enc::Wrap(_, indent) => text.replace(&format!("\n{}", " ".repeat(indent)), ""),
        Enc::Indent(n) => text.replace(&format!("\n{}", " ".repeat(n)), "\n"),
        Enc::Sql => text.replace("''", "'"),
        Enc::Csv => text.replace("\"\"", "\""),
    })
}

pub fn encode_all(text: &str, encs: &[Enc]) -> String {
    encs.iter()
        .fold(text.to_string(), |acc, &enc| encode(&acc, enc))
}

/// What a label's bytes must decode to, and how.
#[derive(Clone, Debug)]
pub struct Planted {
    pub label: usize,
    pub encs: Vec<Enc>,
    pub expect: String,
    /// Bytes of `user:` in front of the value in `expect`.
    pub user_prefix: usize,
}

/// A document being written.
pub(crate) struct Doc {
    pub text: String,
    pub labels: Vec<Label>,
    pub negatives: Vec<Negative>,
    pub planted: Vec<Planted>,
}

impl Doc {
    fn new() -> Doc {
        Doc {
            text: String::new(),
            labels: Vec::new(),
            negatives: Vec::new(),
            planted: Vec::new(),
        }
    }

    /// Filler, written as is.
    pub fn s(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Filler inside a string the carrier encodes with `encs`.
    pub fn f(&mut self, text: &str, encs: &[Enc]) {
        let out = encode_all(text, encs);
        self.text.push_str(&out);
    }

    /// Plants `item` encoded with `encs` (innermost first) and records its
    /// label (or hard negative) over the bytes that must be masked.
    pub fn put(&mut self, item: &Item, encs: &[Enc]) {
        let noise = item.obfuscated;
        if encs.iter().any(|e| e.whole()) {
            // The whole value is transformed: the label covers all of it.
            let start = self.text.len();
            let out = encode_all(&item.text, encs);
            self.text.push_str(&out);
            let expect = if noise {
                item.clean.clone()
            } else {
                item.text.clone()
            };
            let end = self.text.len();
            self.record(item, item.kind, item.also, start, end, encs, expect, noise);
            return;
        }
        // Labeled spans in order: the value's mark and any extra spans.
        let mut spans: Vec<(usize, usize, &'static str, &'static [&'static str])> =
            vec![(item.mark.0, item.mark.1, item.kind, item.also)];
        spans.extend(item.extra.iter().map(|&(a, b, kind)| (a, b, kind, &[][..])));
        spans.sort_by_key(|s| s.0);
        let mut at = 0;
        for (a, b, kind, also) in spans {
            self.f(&item.text[at..a], encs);
            let start = self.text.len();
            self.f(&item.text[a..b], encs);
            let end = self.text.len();
            let expect = if (a, b) == item.mark {
                item.clean.clone()
            } else {
                item.text[a..b].to_string()
            };
            let noisy = noise && (a, b) == item.mark;
            self.record(item, kind, also, start, end, encs, expect, noisy);
            at = b;
        }
        self.f(&item.text[at..], encs);
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        item: &Item,
        kind: &'static str,
        also: &'static [&'static str],
        start: usize,
        end: usize,
        encs: &[Enc],
        expect: String,
        noise: bool,
    ) {
        if !item.positive {
            // This corpus records its encodings in `planted` instead.
            self.negatives.push(Negative {
                written: Written::Plain,
                start,
                end,
                kind,
            });
            return;
        }
        let mut all = Vec::new();
        if noise {
            all.push(Enc::Noise);
        }
        all.extend_from_slice(encs);
        self.planted.push(Planted {
            label: self.labels.len(),
            encs: all,
            expect,
            user_prefix: if kind == item.kind {
                item.user_prefix
            } else {
                0
            },
        });
        self.labels.push(Label {
            written: Written::Plain,
            start,
            end,
            kind,
            also,
            category: if values::is_pii(kind) {
                Category::Pii
            } else {
                Category::Secret
            },
        });
    }

    /// A hard negative of `kind`, written plainly.
    pub fn neg(&mut self, rng: &mut Rng, kind: &'static str) {
        let item = values::negative_of(rng, kind);
        self.put(&item, &[]);
    }
}

/// Every labeled type, secrets first.
pub fn all_types() -> Vec<&'static str> {
    SECRET_TYPES
        .iter()
        .chain(PII_TYPES.iter())
        .copied()
        .collect()
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

/// `documents` documents; types are dealt from a shuffled deck so each is
/// planted about equally often, carriers likewise.
pub fn generate(seed: u64, documents: usize) -> Corpus {
    generate_planted(seed, documents).0
}

/// The corpus as it is scored: a label planted base64-encoded may be
/// named by the rule of its container ([`super::score::CONTAINERS`]).
pub fn generate_scored(seed: u64, documents: usize) -> Corpus {
    let (mut corpus, planted) = generate_planted(seed, documents);
    let carried: Vec<Vec<bool>> = corpus
        .documents
        .iter()
        .zip(&planted)
        .map(|(doc, planted)| {
            let mut carried = vec![false; doc.labels.len()];
            for p in planted {
                carried[p.label] = p.encs.contains(&Enc::Base64);
            }
            carried
        })
        .collect();
    super::score::credit_containers(&mut corpus, &carried);
    corpus
}

/// The corpus and, per document, what each label must decode to.
pub fn generate_planted(seed: u64, documents: usize) -> (Corpus, Vec<Vec<Planted>>) {
    let mut rng = Rng::new(seed ^ 0x1DE9_E4DE_4700_0000);
    let types = all_types();
    let mut deck: Vec<&'static str> = Vec::new();
    let mut carrier_deck: Vec<usize> = Vec::new();
    let mut docs = Vec::with_capacity(documents);
    let mut planted = Vec::with_capacity(documents);
    for index in 0..documents {
        let count = values::range(&mut rng, 1, 4);
        let mut items = Vec::new();
        for _ in 0..count {
            if deck.is_empty() {
                deck = types.clone();
                shuffle(&mut rng, &mut deck);
            }
            let kind = deck.pop().expect("refilled");
            items.push(values::positive(&mut rng, kind));
        }
        for _ in 0..values::range(&mut rng, 1, 3) {
            let at = rng.below(items.len() + 1);
            let neg = values::negative(&mut rng);
            items.insert(at, neg);
        }
        if carrier_deck.is_empty() {
            carrier_deck = (0..carriers::CARRIERS.len()).collect();
            shuffle(&mut rng, &mut carrier_deck);
        }
        let carrier = &carriers::CARRIERS[carrier_deck.pop().expect("refilled")];
        let mut doc = Doc::new();
        (carrier.write)(&mut doc, &mut rng, &items);
        if !doc.text.ends_with('\n') {
            doc.s("\n");
        }
        docs.push(Document {
            name: format!("ind-{index:05}-{}.{}", carrier.name, carrier.ext),
            kind: carrier.kind,
            text: doc.text,
            labels: doc.labels,
            negatives: doc.negatives,
        });
        planted.push(doc.planted);
    }
    (Corpus { documents: docs }, planted)
}

/// The carrier names, for the README and the tests.
pub fn carrier_names() -> Vec<&'static str> {
    carriers::CARRIERS.iter().map(|c| c.name).collect()
}
