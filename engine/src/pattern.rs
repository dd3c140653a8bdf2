//! Turning one [`PatternSpec`] into the HIR the automaton is built from.
//!
//! Invariants of every compiled pattern:
//! - it matches only valid UTF-8 (Unicode mode is on, so `.` and negated
//!   classes step over whole characters and a mask never splits one);
//! - `\d`, `\w`, `\s` and `\b` are ASCII-only: the DFAs support only ASCII
//!   word boundaries, and Unicode `\w`/`\d` classes would multiply the
//!   automaton's size for no gain on secrets and identifiers;
//! - it cannot match the empty string and has a finite maximum length (the
//!   language reports violations; [`crate::RuleSet::build`] refuses them).

use std::ops::Range;

use regex_syntax::ast::{self, Ast};
use regex_syntax::hir::{self, Hir, HirKind, Look};

use crate::spec::{PatternKind, PatternSpec};

/// Why a pattern cannot be used, with the byte range in the pattern's own
/// text (for a regex: the regex source) that is at fault, when known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatternError {
    pub kind: PatternErrorKind,
    pub message: String,
    pub span: Option<Range<usize>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternErrorKind {
    /// The regex does not parse or translate.
    Syntax,
    /// The pattern matches the empty string.
    MatchesEmpty,
    /// The pattern has no finite maximum length.
    Unbounded,
    /// The pattern can never match anything.
    MatchesNothing,
}

/// What the checker needs to know about a pattern that compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternInfo {
    pub min_len: usize,
    pub max_len: usize,
}

/// Compiles a pattern to HIR and checks that it is usable for streaming.
pub(crate) fn compile_pattern(pattern: &PatternSpec) -> Result<(Hir, PatternInfo), PatternError> {
    let hir = translate(pattern)?;
    let props = hir.properties();
    let (min_len, max_len) = match (props.minimum_len(), props.maximum_len()) {
        // No minimum means no match at all (an empty class, say).
        (None, _) => {
            return Err(PatternError {
                kind: PatternErrorKind::MatchesNothing,
                message: "pattern can never match".into(),
                span: None,
            })
        }
        (Some(_), None) => {
            return Err(PatternError {
                kind: PatternErrorKind::Unbounded,
                message: "pattern has no finite maximum length".into(),
                span: unbounded_span(pattern),
            })
        }
        (Some(min), Some(max)) => (min, max),
    };
    if min_len == 0 {
        return Err(PatternError {
            kind: PatternErrorKind::MatchesEmpty,
            message: "pattern can match the empty string".into(),
            span: None,
        });
    }
    Ok((hir, PatternInfo { min_len, max_len }))
}

/// Checks a pattern without keeping the compiled form.
pub fn analyze_pattern(pattern: &PatternSpec) -> Result<PatternInfo, PatternError> {
    compile_pattern(pattern).map(|(_, info)| info)
}

/// The pattern as the engine compiles it, printed in `regex` syntax (flags
/// applied, `\d \w \s \b` spelled as the ASCII classes they are): for
/// benchmarks that run the same patterns in another engine.
pub fn pattern_regex(pattern: &PatternSpec) -> Result<String, PatternError> {
    compile_pattern(pattern).map(|(hir, _)| hir.to_string())
}

fn regex_source(pattern: &PatternSpec) -> String {
    match &pattern.kind {
        PatternKind::Regex(source) => source.clone(),
        PatternKind::Literal(text) => regex_syntax::escape(text),
    }
}

fn translate(pattern: &PatternSpec) -> Result<Hir, PatternError> {
    let source = regex_source(pattern);
    let flags = pattern.flags;
    let mut parsed = ast::parse::ParserBuilder::new()
        .ignore_whitespace(flags.ignore_whitespace)
        .nest_limit(100)
        .build()
        .parse(&source)
        .map_err(|err| syntax_error(err.kind().to_string(), err.span()))?;
    asciify_perl_classes(&mut parsed);
    let hir = hir::translate::TranslatorBuilder::new()
        .unicode(true)
        .utf8(true)
        .case_insensitive(flags.case_insensitive)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_matches_new_line)
        .build()
        .translate(&source, &parsed)
        .map_err(|err| syntax_error(err.kind().to_string(), err.span()))?;
    let hir = ascii_word_boundaries(hir);
    Ok(if flags.word {
        wrap_in_word_boundaries(hir)
    } else {
        hir
    })
}

fn syntax_error(message: String, span: &ast::Span) -> PatternError {
    PatternError {
        kind: PatternErrorKind::Syntax,
        message,
        span: Some(span.start.offset..span.end.offset),
    }
}

/// The first unbounded repetition operator of a regex, for the diagnostic.
fn unbounded_span(pattern: &PatternSpec) -> Option<Range<usize>> {
    let source = regex_source(pattern);
    let parsed = ast::parse::ParserBuilder::new()
        .ignore_whitespace(pattern.flags.ignore_whitespace)
        .build()
        .parse(&source)
        .ok()?;
    first_unbounded(&parsed)
}

fn first_unbounded(node: &Ast) -> Option<Range<usize>> {
    match node {
        Ast::Repetition(rep) => {
            let unbounded = matches!(
                &rep.op.kind,
                ast::RepetitionKind::ZeroOrMore
                    | ast::RepetitionKind::OneOrMore
                    | ast::RepetitionKind::Range(ast::RepetitionRange::AtLeast(_))
            );
            if unbounded {
                Some(rep.op.span.start.offset..rep.op.span.end.offset)
            } else {
                first_unbounded(&rep.ast)
            }
        }
        Ast::Group(group) => first_unbounded(&group.ast),
        Ast::Alternation(alt) => alt.asts.iter().find_map(first_unbounded),
        Ast::Concat(concat) => concat.asts.iter().find_map(first_unbounded),
        _ => None,
    }
}

/// Rewrites `\d`, `\w`, `\s` (and their negations), inside or outside
/// brackets, to their ASCII POSIX classes, so that Unicode mode can stay on
/// for everything else.
fn asciify_perl_classes(node: &mut Ast) {
    match node {
        Ast::ClassPerl(perl) => {
            let span = perl.span;
            let item = ast::ClassSetItem::Ascii(ascii_of(perl, false));
            *node = Ast::class_bracketed(ast::ClassBracketed {
                span,
                negated: perl.negated,
                kind: ast::ClassSet::Item(item),
            });
        }
        Ast::ClassBracketed(class) => asciify_class_set(&mut class.kind),
        Ast::Repetition(rep) => asciify_perl_classes(&mut rep.ast),
        Ast::Group(group) => asciify_perl_classes(&mut group.ast),
        Ast::Alternation(alt) => alt.asts.iter_mut().for_each(asciify_perl_classes),
        Ast::Concat(concat) => concat.asts.iter_mut().for_each(asciify_perl_classes),
        Ast::Empty(_)
        | Ast::Flags(_)
        | Ast::Literal(_)
        | Ast::Dot(_)
        | Ast::Assertion(_)
        | Ast::ClassUnicode(_) => {}
    }
}

fn ascii_of(perl: &ast::ClassPerl, negated: bool) -> ast::ClassAscii {
    let kind = match perl.kind {
        ast::ClassPerlKind::Digit => ast::ClassAsciiKind::Digit,
        ast::ClassPerlKind::Space => ast::ClassAsciiKind::Space,
        ast::ClassPerlKind::Word => ast::ClassAsciiKind::Word,
    };
    ast::ClassAscii {
        span: perl.span,
        kind,
        negated,
    }
}

fn asciify_class_set(set: &mut ast::ClassSet) {
    match set {
        ast::ClassSet::Item(item) => asciify_class_item(item),
        ast::ClassSet::BinaryOp(op) => {
            asciify_class_set(&mut op.lhs);
            asciify_class_set(&mut op.rhs);
        }
    }
}

fn asciify_class_item(item: &mut ast::ClassSetItem) {
    match item {
        ast::ClassSetItem::Perl(perl) => {
            *item = ast::ClassSetItem::Ascii(ascii_of(perl, perl.negated));
        }
        ast::ClassSetItem::Bracketed(inner) => asciify_class_set(&mut inner.kind),
        ast::ClassSetItem::Union(union) => union.items.iter_mut().for_each(asciify_class_item),
        ast::ClassSetItem::Empty(_)
        | ast::ClassSetItem::Literal(_)
        | ast::ClassSetItem::Range(_)
        | ast::ClassSetItem::Ascii(_)
        | ast::ClassSetItem::Unicode(_) => {}
    }
}

/// Replaces every Unicode word-boundary assertion with its ASCII form.
fn ascii_word_boundaries(node: Hir) -> Hir {
    match node.into_kind() {
        HirKind::Look(look) => Hir::look(match look {
            Look::WordUnicode => Look::WordAscii,
            Look::WordUnicodeNegate => Look::WordAsciiNegate,
            Look::WordStartUnicode => Look::WordStartAscii,
            Look::WordEndUnicode => Look::WordEndAscii,
            Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
            Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
            other => other,
        }),
        HirKind::Repetition(rep) => Hir::repetition(hir::Repetition {
            sub: Box::new(ascii_word_boundaries(*rep.sub)),
            ..rep
        }),
        HirKind::Capture(cap) => Hir::capture(hir::Capture {
            sub: Box::new(ascii_word_boundaries(*cap.sub)),
            ..cap
        }),
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(ascii_word_boundaries).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.into_iter().map(ascii_word_boundaries).collect())
        }
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => Hir::literal(lit.0),
        HirKind::Class(class) => Hir::class(class),
    }
}

/// `word`: an ASCII word boundary at each end of the match. A `\b` next to
/// a non-word character would demand a word character outside the match
/// (so `word` on `"c++"` could never match before a space); the boundary is
/// therefore required only at ends that can be word characters.
fn wrap_in_word_boundaries(node: Hir) -> Hir {
    let boundary = || Hir::look(Look::WordAscii);
    let starts_with_word = edge_can_be_word(&node, Edge::Start);
    let ends_with_word = edge_can_be_word(&node, Edge::End);
    let mut parts = Vec::with_capacity(3);
    if starts_with_word {
        parts.push(boundary());
    }
    parts.push(node);
    if ends_with_word {
        parts.push(boundary());
    }
    Hir::concat(parts)
}

#[derive(Clone, Copy)]
enum Edge {
    Start,
    End,
}

/// Conservative: true unless every way the pattern can begin (or end) is a
/// non-word byte.
fn edge_can_be_word(node: &Hir, edge: Edge) -> bool {
    match node.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => {
            let byte = match edge {
                Edge::Start => lit.0.first(),
                Edge::End => lit.0.last(),
            };
            byte.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        HirKind::Class(class) => match class {
            hir::Class::Unicode(c) => c.ranges().iter().any(|r| {
                (r.start()..=r.end())
                    .take(0x80)
                    .any(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            }),
            hir::Class::Bytes(c) => c
                .ranges()
                .iter()
                .any(|r| (r.start()..=r.end()).any(|b| b.is_ascii_alphanumeric() || b == b'_')),
        },
        HirKind::Repetition(rep) => edge_can_be_word(&rep.sub, edge),
        HirKind::Capture(cap) => edge_can_be_word(&cap.sub, edge),
        HirKind::Alternation(subs) => subs.iter().any(|s| edge_can_be_word(s, edge)),
        HirKind::Concat(subs) => {
            // The edge is the first (last) part that must consume input.
            let ordered: Box<dyn Iterator<Item = &Hir>> = match edge {
                Edge::Start => Box::new(subs.iter()),
                Edge::End => Box::new(subs.iter().rev()),
            };
            for sub in ordered {
                if edge_can_be_word(sub, edge) {
                    return true;
                }
                if sub.properties().minimum_len().unwrap_or(0) > 0 {
                    return false;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::PatternFlags;

    fn regex(source: &str) -> PatternSpec {
        PatternSpec {
            kind: PatternKind::Regex(source.into()),
            flags: PatternFlags::default(),
        }
    }

    #[test]
    fn bounds_are_reported() {
        let info = analyze_pattern(&regex("sk-[a-z]{20,40}")).unwrap();
        assert_eq!(
            info,
            PatternInfo {
                min_len: 23,
                max_len: 43
            }
        );
    }

    #[test]
    fn unbounded_repetition_points_at_its_operator() {
        let err = analyze_pattern(&regex("ab(c|d+)e")).unwrap_err();
        assert_eq!(err.kind, PatternErrorKind::Unbounded);
        assert_eq!(err.span, Some(6..7));
        let err = analyze_pattern(&regex("x{3,}")).unwrap_err();
        assert_eq!(err.span, Some(1..5));
    }

    #[test]
    fn empty_and_impossible_patterns_are_refused() {
        assert_eq!(
            analyze_pattern(&regex("a?")).unwrap_err().kind,
            PatternErrorKind::MatchesEmpty
        );
        assert_eq!(
            analyze_pattern(&regex(r"\b")).unwrap_err().kind,
            PatternErrorKind::MatchesEmpty
        );
        assert_eq!(
            analyze_pattern(&regex("[a&&b]")).unwrap_err().kind,
            PatternErrorKind::MatchesNothing
        );
    }

    #[test]
    fn syntax_errors_carry_a_span_into_the_source() {
        let err = analyze_pattern(&regex("ab[c")).unwrap_err();
        assert_eq!(err.kind, PatternErrorKind::Syntax);
        assert_eq!(err.span, Some(2..3));
        let err = analyze_pattern(&regex("a(?=b)")).unwrap_err();
        assert_eq!(err.span, Some(1..4));
    }

    #[test]
    fn perl_classes_and_boundaries_are_ascii() {
        let (hir, _) = compile_pattern(&regex(r"\b\w{1,3}[\d\s]\b")).unwrap();
        let text = format!("{hir:?}");
        assert!(text.contains("WordAscii"), "{text}");
        assert!(!text.contains("WordUnicode"), "{text}");
        // The Unicode `\w` class has hundreds of ranges; the ASCII one four.
        let (hir, _) = compile_pattern(&regex(r"\w")).unwrap();
        match hir.kind() {
            HirKind::Class(hir::Class::Unicode(class)) => assert_eq!(class.ranges().len(), 4),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn literals_are_escaped() {
        let spec = PatternSpec {
            kind: PatternKind::Literal("a.b(c)".into()),
            flags: PatternFlags::default(),
        };
        assert_eq!(analyze_pattern(&spec).unwrap().max_len, 6);
    }
}
