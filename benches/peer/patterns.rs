//! The shipped patterns as regex-syntax HIR, and a printer from HIR to
//! Hyperscan/Vectorscan syntax in byte mode (no `HS_FLAG_UTF8`: inputs may
//! be invalid UTF-8, so every non-ASCII character is spelled as its UTF-8
//! bytes).
//!
//! [`export`] is the only place in the benches that asks the engine for a
//! pattern's HIR; when the engine's API changes, only it changes.

use std::fmt::{self, Write as _};

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use regex_syntax::utf8::Utf8Sequences;
use rulegate_engine::RuleSet;

/// One pattern of one rule, compiled as the engine compiles it.
pub struct ExportedPattern {
    /// The rule's name.
    pub rule: String,
    /// The pattern's position among the rule's `match` clauses.
    pub index: usize,
    pub hir: Hir,
}

/// Every pattern of every rule of `set`, in declaration order (the order
/// of `RuleSet::pattern_count`).
pub fn export(set: &RuleSet) -> Vec<ExportedPattern> {
    set.rules()
        .iter()
        .flat_map(|rule| {
            rule.patterns.iter().enumerate().map(|(index, pattern)| {
                let printed = rulegate_engine::pattern_regex(pattern)
                    .expect("a pattern of a built rule set compiles");
                let hir = regex_syntax::Parser::new()
                    .parse(&printed)
                    .expect("the engine prints patterns in regex syntax");
                ExportedPattern {
                    rule: rule.name.clone(),
                    index,
                    hir,
                }
            })
        })
        .collect()
}

/// A construct Hyperscan has no spelling for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `hir` in Hyperscan syntax, to be compiled without `HS_FLAG_UTF8`,
/// `HS_FLAG_CASELESS` or `HS_FLAG_DOTALL` (cases and `.` are already
/// spelled out as classes in the HIR).
pub fn to_hyperscan(hir: &Hir) -> Result<String, Unsupported> {
    let mut out = String::new();
    print(hir, &mut out)?;
    Ok(out)
}

fn print(hir: &Hir, out: &mut String) -> Result<(), Unsupported> {
    match hir.kind() {
        HirKind::Empty => out.push_str("(?:)"),
        HirKind::Literal(literal) => {
            for &byte in literal.0.iter() {
                push_byte(byte, out);
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges: Vec<(u8, u8)> = class.iter().map(|r| (r.start(), r.end())).collect();
            push_byte_class(&ranges, out);
        }
        HirKind::Class(Class::Unicode(class)) => {
            // ASCII ranges form one byte class; the rest become the
            // alternation of their UTF-8 byte sequences.
            let mut ascii = Vec::new();
            let mut sequences = Vec::new();
            for range in class.iter() {
                let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                if start <= 0x7F {
                    ascii.push((start as u8, end.min(0x7F) as u8));
                }
                if end >= 0x80 {
                    let from = char::from_u32(start.max(0x80)).unwrap_or('\u{80}');
                    for sequence in Utf8Sequences::new(from, range.end()) {
                        let mut text = String::new();
                        for byte_range in sequence.as_slice() {
                            push_byte_class(&[(byte_range.start, byte_range.end)], &mut text);
                        }
                        sequences.push(text);
                    }
                }
            }
            let mut branches = Vec::new();
            if !ascii.is_empty() {
                let mut text = String::new();
                push_byte_class(&ascii, &mut text);
                branches.push(text);
            }
            branches.extend(sequences);
            if branches.len() == 1 {
                out.push_str(&branches[0]);
            } else {
                let _ = write!(out, "(?:{})", branches.join("|"));
            }
        }
        HirKind::Look(look) => out.push_str(match look {
            Look::Start => "\\A",
            Look::End => "\\z",
            Look::StartLF => "(?m:^)",
            Look::EndLF => "(?m:$)",
            Look::WordAscii => "\\b",
            Look::WordAsciiNegate => "\\B",
            other => return Err(Unsupported(format!("look-around {other:?}"))),
        }),
        HirKind::Repetition(repetition) => {
            out.push_str("(?:");
            print(&repetition.sub, out)?;
            out.push(')');
            match (repetition.min, repetition.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (min, None) => {
                    let _ = write!(out, "{{{min},}}");
                }
                (min, Some(max)) if min == max => {
                    let _ = write!(out, "{{{min}}}");
                }
                (min, Some(max)) => {
                    let _ = write!(out, "{{{min},{max}}}");
                }
            }
        }
        // Hyperscan reports no groups; a capture is only a group.
        HirKind::Capture(capture) => {
            out.push_str("(?:");
            print(&capture.sub, out)?;
            out.push(')');
        }
        HirKind::Concat(parts) => {
            for part in parts {
                print(part, out)?;
            }
        }
        HirKind::Alternation(branches) => {
            out.push_str("(?:");
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                print(branch, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

/// A byte outside a class: letters and digits as they are, every other
/// byte (metacharacters included) as `\xHH`.
fn push_byte(byte: u8, out: &mut String) {
    if byte.is_ascii_alphanumeric() {
        out.push(char::from(byte));
    } else {
        let _ = write!(out, "\\x{byte:02x}");
    }
}

fn push_byte_class(ranges: &[(u8, u8)], out: &mut String) {
    if let [(start, end)] = ranges {
        if start == end {
            push_byte(*start, out);
            return;
        }
    }
    out.push('[');
    for &(start, end) in ranges {
        push_byte(start, out);
        if end != start {
            if end > start + 1 {
                out.push('-');
            }
            push_byte(end, out);
        }
    }
    out.push(']');
}

/// Literal fragments that every match of `hir` starts with (at most a few
/// dozen, each at least two bytes): token prefixes and keywords, for the
/// slow-input search.
pub fn prefixes(hir: &Hir) -> Vec<Vec<u8>> {
    use regex_syntax::hir::literal::Extractor;
    let mut extractor = Extractor::new();
    extractor.limit_class(4).limit_total(64);
    let sequence = extractor.extract(hir);
    sequence
        .literals()
        .map(|literals| {
            literals
                .iter()
                .map(|literal| literal.as_bytes().to_vec())
                .filter(|bytes| bytes.len() >= 2)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(pattern: &str) -> String {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .unwrap();
        to_hyperscan(&hir).unwrap()
    }

    #[test]
    fn metacharacters_are_escaped_and_captures_become_groups() {
        assert_eq!(
            printed(r"(?-u:\b)a.b"),
            r"\ba(?:[\x00-\x09\x0b-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec][\x80-\xbf][\x80-\xbf]|\xed[\x80-\x9f][\x80-\xbf]|[\xee\xef][\x80-\xbf][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf][\x80-\xbf]|[\xf1-\xf3][\x80-\xbf][\x80-\xbf][\x80-\xbf]|\xf4[\x80-\x8f][\x80-\xbf][\x80-\xbf])b"
        );
        assert_eq!(
            printed(r"(?P<v>x+)\.[0-9]{2,4}"),
            r"(?:(?:x)+)\x2e(?:[0-9]){2,4}"
        );
    }

    #[test]
    fn non_ascii_literals_are_bytes() {
        assert_eq!(printed("é"), r"\xc3\xa9");
        assert_eq!(printed("[a-cé]"), r"(?:[a-c]|\xc3\xa9)");
    }
}
