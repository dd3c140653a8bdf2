//! The syntax tree of one `.rules` file.
//!
//! Invariants:
//! - every span is a byte range into the file's text, on character
//!   boundaries;
//! - a decoded literal ([`Str`], [`PatternLit::Regex`]) carries an
//!   [`OffsetMap`] from each byte of its decoded value back to the file, so
//!   a position found in the value (a regex error, a template placeholder,
//!   the part of an example that matched) is shown at the exact character
//!   the user typed, escapes included.
//!
//! Names (checks, scopes, actions, flags) are kept as written: the checker,
//! not the grammar, decides whether they exist, so that it can suggest the
//! name that was meant.

use std::ops::Range;

/// A byte range in a file's text.
pub type Span = Range<usize>;

/// Maps byte offsets in a decoded value to byte offsets in the file.
///
/// It holds one entry per decoded byte (the file offset of the source
/// character or escape that produced it) plus a final entry for the end of
/// the value, so that an exclusive end maps too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetMap(Vec<usize>);

impl OffsetMap {
    /// The file span of `range` (offsets into the decoded value). Offsets
    /// past the end clamp to the end of the literal.
    pub fn span(&self, range: Range<usize>) -> Span {
        self.offset(range.start)..self.offset(range.end)
    }

    fn offset(&self, index: usize) -> usize {
        match self.0.get(index).or(self.0.last()) {
            Some(offset) => *offset,
            None => 0,
        }
    }
}

/// Builds a decoded value and its [`OffsetMap`] side by side.
#[derive(Default)]
pub(crate) struct Decoder {
    value: String,
    map: Vec<usize>,
}

impl Decoder {
    /// Appends `ch`, produced by the source text starting at `source`.
    pub(crate) fn push(&mut self, ch: char, source: usize) {
        self.value.push(ch);
        self.map.resize(self.value.len(), source);
    }

    /// Appends `text` copied verbatim from the file at `source`.
    pub(crate) fn push_verbatim(&mut self, text: &str, source: usize) {
        for (index, ch) in text.char_indices() {
            self.push(ch, source + index);
        }
    }

    pub(crate) fn finish(mut self, end: usize) -> (String, OffsetMap) {
        self.map.push(end);
        (self.value, OffsetMap(self.map))
    }
}

/// A word as written, with its span: a rule name, a check, a scope, …
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A decoded string literal. `span` covers the quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str {
    pub value: String,
    pub span: Span,
    pub map: OffsetMap,
}

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub rules: Vec<RuleDecl>,
    /// Top-level `decode …` lines, in order.
    pub decodes: Vec<FileDecode>,
    /// Top-level `disable NAME, …`: rules (of any file) left out.
    pub disables: Vec<Name>,
    /// Top-level `allow …` lines: values no rule (of any file) reports.
    pub allows: Vec<(Vec<Pattern>, Vec<Name>)>,
}

/// A top-level `decode percent, unicode`: the decodings of every rule
/// after it in the file (up to the next such line) that has no `decode`
/// clause of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct FileDecode {
    pub decodings: Vec<Name>,
    pub span: Span,
    /// How many rules of the file come before it.
    pub first_rule: usize,
}

/// `rule name { … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDecl {
    /// None when the header was malformed (already reported): such a rule
    /// is checked clause by clause but takes no part in rule-level checks.
    pub name: Option<Name>,
    /// The header line, from `rule` to the end of the name.
    pub head: Span,
    pub clauses: Vec<Clause>,
    /// `override NAME { … }`: changes a rule declared elsewhere.
    pub is_override: bool,
    /// Lines of the body with a syntax error (already reported). Rule-level
    /// checks such as "no action" stay quiet when there are any, since the
    /// broken line may be the missing clause.
    pub broken_lines: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub span: Span,
    pub kind: ClauseKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClauseKind {
    /// `description "…"`
    Description(Str),
    /// `match /…/i, "…" nocase word`
    Match {
        patterns: Vec<Pattern>,
        flags: Vec<Name>,
    },
    /// `where luhn`, `where entropy >= 3.5`
    Where {
        check: Name,
        compare: Option<Name>,
        threshold: Option<Name>,
    },
    /// `unless preceded by /version\s?/i, "v" nocase`: text before a
    /// match that makes it not count; `unless followed by ".example"`:
    /// text after it.
    Unless {
        around: Around,
        patterns: Vec<Pattern>,
        flags: Vec<Name>,
    },
    /// `request reject "…" in user, tool_result`
    Action {
        side: Name,
        action: Name,
        argument: Option<Str>,
        scopes: Vec<Name>,
    },
    /// `example hit "…"`
    Example { expect: Name, text: Str },
    /// `decode percent, json-escape, unicode, base64`: decoded views the
    /// rule is also matched in.
    Decode { decodings: Vec<Name> },
    /// `allow "AKIAIOSFODNN7EXAMPLE", /test-[0-9]{4}/`: values not reported.
    Allow {
        patterns: Vec<Pattern>,
        flags: Vec<Name>,
    },
}

/// Which side of a match an `unless` clause looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Around {
    /// `unless preceded by`
    Before,
    /// `unless followed by`
    After,
}

impl Around {
    /// The clause as written.
    pub fn clause(self) -> &'static str {
        match self {
            Around::Before => "unless preceded by",
            Around::After => "unless followed by",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub span: Span,
    pub lit: PatternLit,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PatternLit {
    /// `source` is the regex with the literal's `\/` escapes undone.
    Regex {
        source: String,
        map: OffsetMap,
        flags: Name,
    },
    Literal(Str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_escapes_and_multibyte_characters() {
        let mut decoder = Decoder::default();
        decoder.push('a', 10);
        decoder.push('/', 11); // from `\/`
        decoder.push_verbatim("é", 13);
        let (value, map) = decoder.finish(15);
        assert_eq!(value, "a/é");
        assert_eq!(map.span(1..2), 11..13);
        assert_eq!(map.span(2..4), 13..15);
        assert_eq!(map.span(4..4), 15..15);
        assert_eq!(map.span(9..12), 15..15);
    }
}
