//! From text to [`ast::File`], reporting every syntax error on the way.
//!
//! Invariants:
//! - parsing never fails and never panics: the layout grammar accepts any
//!   input, and each line that does not fit its clause grammar yields one
//!   diagnostic and is left out of the tree, so the next line is still
//!   parsed;
//! - every span in the tree and in the diagnostics is a byte range of the
//!   whole file (clause grammars run on a slice; their positions are
//!   shifted back by the slice's start).

use pest::iterators::Pair;
use pest::Parser as _;

use crate::ast::{
    self, Around, Clause, ClauseKind, Decoder, Name, Pattern, PatternLit, RuleDecl, Span, Str,
};
use crate::diagnostic::{Context, Diagnostic, FileId, Found, Problem, ACTIONS, KEYWORDS, SIDES};
use crate::suggest::closest;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
pub(crate) struct RulesParser;

/// Parses one file. Diagnostics are appended to `diagnostics`.
pub(crate) fn parse(file: FileId, text: &str, diagnostics: &mut Vec<Diagnostic>) -> ast::File {
    let mut parser = FileParser {
        file,
        text,
        diagnostics,
    };
    parser.file()
}

/// A token of the layout layer.
#[derive(Clone, Debug)]
struct Token {
    rule: Rule,
    span: Span,
}

struct FileParser<'t, 'd> {
    file: FileId,
    text: &'t str,
    diagnostics: &'d mut Vec<Diagnostic>,
}

fn span_of(pair: &Pair<'_, Rule>, base: usize) -> Span {
    let span = pair.as_span();
    base + span.start()..base + span.end()
}

impl<'t> FileParser<'t, '_> {
    fn report(&mut self, problem: Problem, span: Span) {
        self.diagnostics
            .push(Diagnostic::new(problem, self.file, span));
    }

    fn file(&mut self) -> ast::File {
        let mut rules = Vec::new();
        let top = match RulesParser::parse(Rule::file, self.text) {
            Ok(mut pairs) => pairs.next(),
            // The layout grammar accepts every input; should that ever
            // break, the file still gets a diagnostic rather than a panic.
            Err(error) => {
                let at = match error.location {
                    pest::error::InputLocation::Pos(at) => at,
                    pest::error::InputLocation::Span((at, _)) => at,
                };
                let at = at.min(self.text.len());
                self.report(
                    Problem::ExpectedKeyword {
                        found: Found::EndOfLine,
                        top_level: true,
                    },
                    at..at,
                );
                None
            }
        };
        let mut decodes = Vec::new();
        let mut disables = Vec::new();
        let mut allows = Vec::new();
        let Some(top) = top else {
            return ast::File {
                rules,
                decodes,
                disables,
                allows,
            };
        };
        for item in top.into_inner() {
            match item.as_rule() {
                Rule::block => {
                    if let Some(rule) = self.block(item) {
                        rules.push(rule);
                    }
                }
                Rule::stray_line if item.as_str().split_whitespace().next() == Some("decode") => {
                    let span = span_of(&item, 0);
                    // A syntax error is reported by `clause_line`, and
                    // `decoded x` as a word that is no keyword.
                    if let Some(ast::Clause {
                        kind: ast::ClauseKind::Decode { decodings },
                        ..
                    }) = self.clause_line(item)
                    {
                        decodes.push(ast::FileDecode {
                            decodings,
                            span,
                            first_rule: rules.len(),
                        });
                    }
                }
                Rule::stray_line if item.as_str().split_whitespace().next() == Some("allow") => {
                    if let Some(ast::Clause {
                        kind: ast::ClauseKind::Allow { patterns, flags },
                        ..
                    }) = self.clause_line(item)
                    {
                        allows.push((patterns, flags));
                    }
                }
                Rule::stray_line if item.as_str().split_whitespace().next() == Some("disable") => {
                    let span = span_of(&item, 0);
                    let tokens = Self::tokens(item);
                    if let Some(pair) =
                        self.strict(Rule::disable_clause, &span, &tokens, Context::Clause)
                    {
                        disables.extend(
                            pair.into_inner()
                                .filter(|p| p.as_rule() == Rule::rule_name)
                                .map(|p| self.name(&p, span.start)),
                        );
                    }
                }
                Rule::stray_line => self.stray_line(item),
                _ => {}
            }
        }
        ast::File {
            rules,
            decodes,
            disables,
            allows,
        }
    }

    fn tokens(pair: Pair<'_, Rule>) -> Vec<Token> {
        pair.into_inner()
            .map(|token| Token {
                rule: token.as_rule(),
                span: span_of(&token, 0),
            })
            .collect()
    }

    fn found(&self, token: Option<&Token>) -> Found {
        let Some(token) = token else {
            return Found::EndOfLine;
        };
        let text = &self.text[token.span.clone()];
        match token.rule {
            Rule::string | Rule::unterminated_string => Found::String,
            Rule::regex | Rule::unterminated_regex => Found::Regex,
            Rule::number => Found::Number(text.into()),
            Rule::word => Found::Word(text.into()),
            _ => Found::Symbol(text.into()),
        }
    }

    /// Reports an unterminated string or regex among `tokens`; such a
    /// line is not parsed further (its end is unknown).
    fn unterminated(&mut self, tokens: &[Token]) -> bool {
        for token in tokens {
            let problem = match token.rule {
                Rule::unterminated_string => Problem::UnterminatedString,
                Rule::unterminated_regex => Problem::UnterminatedRegex,
                _ => continue,
            };
            let start = token.span.start;
            self.report(problem, start..start + 1);
            return true;
        }
        false
    }

    fn stray_line(&mut self, pair: Pair<'_, Rule>) {
        let tokens = Self::tokens(pair);
        if self.unterminated(&tokens) {
            return;
        }
        let Some(first) = tokens.first() else { return };
        let text = &self.text[first.span.clone()];
        let problem = match first.rule {
            Rule::word if KEYWORDS.contains(&text) => Problem::MisplacedClause {
                keyword: text.into(),
            },
            Rule::word => Problem::UnknownKeyword {
                word: text.into(),
                suggestion: closest(text, &["rule"]),
                top_level: true,
            },
            _ if text == "}" => Problem::UnmatchedCloseBrace,
            _ => Problem::ExpectedKeyword {
                found: self.found(Some(first)),
                top_level: true,
            },
        };
        let span = match problem {
            // The whole clause is what is out of place.
            Problem::MisplacedClause { .. } => {
                first.span.start..tokens.last().map_or(first.span.end, |t| t.span.end)
            }
            _ => first.span.clone(),
        };
        self.report(problem, span);
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Option<RuleDecl> {
        let block_span = span_of(&pair, 0);
        let mut head = None;
        let mut open = None;
        let mut body = None;
        let mut close = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::head => head = Some(part),
                Rule::open_brace => open = Some(span_of(&part, 0)),
                Rule::body => body = Some(part),
                Rule::close_brace => close = Some(span_of(&part, 0)),
                _ => {}
            }
        }
        let head_span = head
            .as_ref()
            .map_or(block_span.start..block_span.start, |h| span_of(h, 0));
        let head_tokens = head.map(Self::tokens).unwrap_or_default();
        let is_override = head_tokens
            .first()
            .is_some_and(|t| &self.text[t.span.clone()] == "override");
        let (is_rule, name) = self.header(&head_tokens, &head_span, open.as_ref());

        let mut clauses = Vec::new();
        let mut broken_lines = 0;
        let mut last_end = open.as_ref().map_or(head_span.end, |o| o.end);
        if let Some(body) = body {
            for line in body.into_inner() {
                if line.as_rule() == Rule::clause_line {
                    last_end = line.as_span().end();
                    let reported = self.diagnostics.len();
                    let clause = self.clause_line(line);
                    if clause.is_none() || self.diagnostics.len() > reported {
                        broken_lines += 1;
                    }
                    clauses.extend(clause);
                }
            }
        }
        if close.is_none() {
            if let Some(open) = &open {
                // The body stopped at the next `rule` or at the end.
                let next = skip_trivia(self.text, block_span.end.max(last_end));
                let at_end_of_file = next >= self.text.len();
                let next = if at_end_of_file {
                    // Shown at the end of the last line with text on it.
                    let end = self.text.trim_end().len();
                    end..end
                } else {
                    next..(next + "rule".len()).min(self.text.len())
                };
                let rule = name.as_ref().map(|n: &Name| n.text.clone());
                self.diagnostics.push(
                    Diagnostic::new(
                        Problem::MissingCloseBrace {
                            rule,
                            at_end_of_file,
                        },
                        self.file,
                        open.clone(),
                    )
                    .with_related(self.file, next),
                );
            }
        }
        is_rule.then_some(RuleDecl {
            name,
            head: head_span,
            clauses,
            is_override,
            broken_lines,
        })
    }

    /// Checks the head line. Returns whether the block is meant as a rule
    /// and its name when the header is well-formed.
    fn header(
        &mut self,
        tokens: &[Token],
        span: &Span,
        open: Option<&Span>,
    ) -> (bool, Option<Name>) {
        if self.unterminated(tokens) {
            return (true, None);
        }
        let Some(first) = tokens.first() else {
            if let Some(open) = open {
                self.report(Problem::MissingRuleHeader, open.clone());
            }
            return (false, None);
        };
        let first_text = &self.text[first.span.clone()];
        let header_rule = if first_text == "override" {
            Rule::override_header
        } else {
            Rule::rule_header
        };
        if first.rule != Rule::word || (first_text != "rule" && first_text != "override") {
            let problem = if first.rule == Rule::word {
                if KEYWORDS.contains(&first_text) {
                    Problem::MisplacedClause {
                        keyword: first_text.into(),
                    }
                } else {
                    Problem::UnknownKeyword {
                        word: first_text.into(),
                        suggestion: closest(first_text, &["rule"]),
                        top_level: true,
                    }
                }
            } else {
                Problem::ExpectedKeyword {
                    found: self.found(Some(first)),
                    top_level: true,
                }
            };
            self.report(problem, first.span.clone());
            return (false, None);
        }
        let name = match self.strict(header_rule, span, tokens, Context::Header) {
            Some(pair) => pair
                .into_inner()
                .find(|p| p.as_rule() == Rule::rule_name)
                .map(|p| self.name(&p, span.start)),
            None => return (true, None),
        };
        if open.is_none() {
            let end = span.end;
            self.report(Problem::MissingOpenBrace, end..end);
        }
        (true, name)
    }

    /// Runs the strict grammar `rule` on the line `span`, reporting a
    /// failure in words.
    fn strict(
        &mut self,
        rule: Rule,
        span: &Span,
        tokens: &[Token],
        context: Context,
    ) -> Option<Pair<'t, Rule>> {
        let text: &'t str = self.text;
        let line = &text[span.clone()];
        match RulesParser::parse(rule, line) {
            Ok(mut pairs) => pairs.next(),
            Err(error) => {
                let at = span.start
                    + match error.location {
                        pest::error::InputLocation::Pos(at) => at,
                        pest::error::InputLocation::Span((at, _)) => at,
                    };
                let expected = match error.variant {
                    pest::error::ErrorVariant::ParsingError { positives, .. } => positives,
                    pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
                };
                let found_token = tokens.iter().find(|t| t.span.end > at);
                let after_token = tokens.iter().rev().find(|t| t.span.end <= at);
                let found = self.found(found_token);
                let after = after_token.map(|t| self.found(Some(t)));
                let primary = match found_token {
                    Some(token) if token.span.start >= at => token.span.clone(),
                    Some(_) => at..at + 1,
                    None => {
                        let end = after_token.map_or(at, |t| t.span.end);
                        end..end
                    }
                };
                self.report(
                    Problem::Expected {
                        expected,
                        context,
                        after,
                        found,
                    },
                    primary,
                );
                None
            }
        }
    }

    fn name(&self, pair: &Pair<'_, Rule>, base: usize) -> Name {
        Name {
            text: pair.as_str().into(),
            span: span_of(pair, base),
        }
    }

    fn clause_line(&mut self, pair: Pair<'_, Rule>) -> Option<Clause> {
        let span = span_of(&pair, 0);
        let tokens = Self::tokens(pair);
        if self.unterminated(&tokens) {
            return None;
        }
        let first = tokens.first()?;
        let keyword = &self.text[first.span.clone()];
        let rule = match keyword {
            "description" => Rule::description_clause,
            "match" => Rule::match_clause,
            "where" => Rule::where_clause,
            "unless" => Rule::unless_clause,
            "request" | "response" => Rule::action_clause,
            "example" => Rule::example_clause,
            "decode" => Rule::decode_clause,
            "allow" => Rule::allow_clause,
            _ => {
                self.unknown_keyword(&tokens);
                return None;
            }
        };
        let base = span.start;
        let pair = self.strict(rule, &span, &tokens, Context::Clause)?;
        let kind = self.clause_kind(pair, base)?;
        Some(Clause { span, kind })
    }

    fn unknown_keyword(&mut self, tokens: &[Token]) {
        let Some(first) = tokens.first() else { return };
        let word = &self.text[first.span.clone()];
        if first.rule != Rule::word {
            self.report(
                Problem::ExpectedKeyword {
                    found: self.found(Some(first)),
                    top_level: false,
                },
                first.span.clone(),
            );
            return;
        }
        // `reqeust reject "…"`: the second word says it is an action clause.
        let second_is_action = tokens
            .get(1)
            .map(|t| &self.text[t.span.clone()])
            .is_some_and(|w| ACTIONS.contains(&w) || closest(w, &ACTIONS).is_some());
        let side = closest(word, &SIDES);
        let problem = if word == "rule" {
            // Only reachable for `rule` after a line continuation.
            Problem::ExpectedKeyword {
                found: Found::Word(word.into()),
                top_level: false,
            }
        } else if second_is_action || (side.is_some() && closest(word, &KEYWORDS) == side) {
            Problem::UnknownSide {
                name: word.into(),
                suggestion: side,
            }
        } else {
            Problem::UnknownKeyword {
                word: word.into(),
                suggestion: closest(word, &KEYWORDS),
                top_level: false,
            }
        };
        self.report(problem, first.span.clone());
    }

    fn clause_kind(&mut self, pair: Pair<'_, Rule>, base: usize) -> Option<ClauseKind> {
        let rule = pair.as_rule();
        let parts: Vec<Pair<'_, Rule>> = pair.into_inner().collect();
        let find = |wanted: Rule| parts.iter().find(|p| p.as_rule() == wanted);
        match rule {
            Rule::description_clause => {
                let string = find(Rule::string)?;
                Some(ClauseKind::Description(self.string(string, base)))
            }
            Rule::match_clause | Rule::unless_clause | Rule::allow_clause => {
                let mut patterns = Vec::new();
                let mut flags = Vec::new();
                for part in &parts {
                    match part.as_rule() {
                        Rule::pattern => {
                            if let Some(pattern) = self.pattern(part.clone(), base) {
                                patterns.push(pattern);
                            }
                        }
                        Rule::pattern_flag => flags.push(self.name(part, base)),
                        _ => {}
                    }
                }
                Some(match rule {
                    Rule::match_clause => ClauseKind::Match { patterns, flags },
                    Rule::allow_clause => ClauseKind::Allow { patterns, flags },
                    _ => ClauseKind::Unless {
                        around: if find(Rule::kw_followed).is_some() {
                            Around::After
                        } else {
                            Around::Before
                        },
                        patterns,
                        flags,
                    },
                })
            }
            Rule::where_clause => Some(ClauseKind::Where {
                check: self.name(find(Rule::check_name)?, base),
                compare: find(Rule::compare).map(|p| self.name(p, base)),
                threshold: find(Rule::number).map(|p| self.name(p, base)),
            }),
            Rule::action_clause => Some(ClauseKind::Action {
                side: self.name(find(Rule::side)?, base),
                action: self.name(find(Rule::action_name)?, base),
                argument: find(Rule::string).map(|p| self.string(p, base)),
                scopes: parts
                    .iter()
                    .filter(|p| p.as_rule() == Rule::scope)
                    .map(|p| self.name(p, base))
                    .collect(),
            }),
            Rule::decode_clause => Some(ClauseKind::Decode {
                decodings: parts
                    .iter()
                    .filter(|p| p.as_rule() == Rule::decoding)
                    .map(|p| self.name(p, base))
                    .collect(),
            }),
            Rule::example_clause => Some(ClauseKind::Example {
                expect: self.name(find(Rule::expectation)?, base),
                text: self.string(find(Rule::string)?, base),
            }),
            _ => None,
        }
    }

    fn pattern(&mut self, pair: Pair<'_, Rule>, base: usize) -> Option<Pattern> {
        let span = span_of(&pair, base);
        let inner = pair.into_inner().next()?;
        let lit = match inner.as_rule() {
            Rule::string => PatternLit::Literal(self.string(&inner, base)),
            Rule::regex => {
                let mut body = None;
                let mut flags = None;
                for part in inner.into_inner() {
                    match part.as_rule() {
                        Rule::regex_body => body = Some(part),
                        Rule::regex_flags => flags = Some(self.name(&part, base)),
                        _ => {}
                    }
                }
                let body = body?;
                let (source, map) = decode_regex(body.as_str(), base + body.as_span().start());
                PatternLit::Regex {
                    source,
                    map,
                    flags: flags?,
                }
            }
            _ => return None,
        };
        Some(Pattern { span, lit })
    }

    /// Decodes a `string` pair, reporting unknown escapes (which are then
    /// kept verbatim so the rest of the line is still checked).
    fn string(&mut self, pair: &Pair<'_, Rule>, base: usize) -> Str {
        let span = span_of(pair, base);
        let inner = pair.clone().into_inner().next();
        let (raw, start) = match &inner {
            Some(inner) => (inner.as_str(), base + inner.as_span().start()),
            None => ("", span.start + 1),
        };
        let mut decoder = Decoder::default();
        let mut chars = raw.char_indices().peekable();
        while let Some((index, ch)) = chars.next() {
            let at = start + index;
            if ch != '\\' {
                decoder.push(ch, at);
                continue;
            }
            let Some((_, escape)) = chars.next() else {
                decoder.push(ch, at);
                break;
            };
            let simple = match escape {
                '"' => Some('"'),
                '\\' => Some('\\'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                _ => None,
            };
            if let Some(decoded) = simple {
                decoder.push(decoded, at);
                continue;
            }
            if escape == 'u' {
                if let Some((decoded, len)) = unicode_escape(&raw[index + 2..]) {
                    decoder.push(decoded, at);
                    for _ in 0..len {
                        chars.next();
                    }
                    continue;
                }
            }
            let escape_end = index + 1 + escape.len_utf8();
            let written = if escape == 'u' {
                // Show the whole malformed `\u{…}` when it has braces.
                let rest = &raw[index..];
                match rest.find('}') {
                    Some(close) if rest.starts_with("\\u{") => &rest[..=close],
                    _ => &raw[index..escape_end],
                }
            } else {
                &raw[index..escape_end]
            };
            self.report(
                Problem::InvalidEscape {
                    escape: written.into(),
                },
                at..at + written.len(),
            );
            decoder.push_verbatim(&raw[index..escape_end], at);
        }
        let (value, map) = decoder.finish(start + raw.len());
        Str { value, span, map }
    }
}

/// The first offset from `at` that is not whitespace, a line break or a
/// comment.
fn skip_trivia(text: &str, mut at: usize) -> usize {
    let bytes = text.as_bytes();
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            _ if text[at..].starts_with('\u{feff}') => at += '\u{feff}'.len_utf8(),
            _ => break,
        }
    }
    at
}

/// `{1F600}` after `\u`: the character and how many bytes it took.
fn unicode_escape(rest: &str) -> Option<(char, usize)> {
    let body = rest.strip_prefix('{')?;
    let close = body.find('}')?;
    let hex = &body[..close];
    if hex.is_empty() || hex.len() > 6 {
        return None;
    }
    let value = u32::from_str_radix(hex, 16).ok()?;
    let ch = char::from_u32(value)?;
    Some((ch, close + 2))
}

/// Undoes the literal's only escape, `\/`; every other backslash sequence
/// belongs to the regex and is kept as written.
fn decode_regex(raw: &str, start: usize) -> (String, ast::OffsetMap) {
    let mut decoder = Decoder::default();
    let mut chars = raw.char_indices();
    while let Some((index, ch)) = chars.next() {
        if ch != '\\' {
            decoder.push(ch, start + index);
            continue;
        }
        match chars.next() {
            Some((_, '/')) => decoder.push('/', start + index),
            Some((next, escaped)) => {
                decoder.push('\\', start + index);
                decoder.push(escaped, start + next);
            }
            None => decoder.push('\\', start + index),
        }
    }
    decoder.finish(start + raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ast::File {
        let mut diagnostics = Vec::new();
        let file = parse(0, text, &mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:#?}");
        file
    }

    fn codes(text: &str) -> Vec<&'static str> {
        let mut diagnostics = Vec::new();
        parse(0, text, &mut diagnostics);
        diagnostics.iter().map(Diagnostic::code).collect()
    }

    #[test]
    fn a_full_rule_parses() {
        let file = parse_ok(
            "# secrets\nrule key-1 {\n  description \"d\"\n  match /a\\/b/i, \"lit\" nocase word\n  where entropy >= 3.5\n  request reject \"no\" in user, tool_result\n  response log\n  example hit \"a/b\"\n}\n",
        );
        assert_eq!(file.rules.len(), 1);
        let rule = &file.rules[0];
        assert_eq!(rule.name.as_ref().map(|n| n.text.as_str()), Some("key-1"));
        assert_eq!(rule.clauses.len(), 6);
        match &rule.clauses[1].kind {
            ClauseKind::Match { patterns, flags } => {
                assert_eq!(patterns.len(), 2);
                assert_eq!(flags.len(), 2);
                match &patterns[0].lit {
                    PatternLit::Regex { source, flags, .. } => {
                        assert_eq!(source, "a/b");
                        assert_eq!(flags.text, "i");
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists_continue_after_a_comma() {
        let file = parse_ok("rule r {\n  match \"a\",\n        \"b\" # two\n  request log\n}\n");
        match &file.rules[0].clauses[0].kind {
            ClauseKind::Match { patterns, .. } => assert_eq!(patterns.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn regex_offsets_land_inside_the_literal() {
        let text = "rule r {\n  match /a\\/b\\d(/\n}\n";
        let file = parse_ok(text);
        let ClauseKind::Match { patterns, .. } = &file.rules[0].clauses[0].kind else {
            panic!()
        };
        let PatternLit::Regex { source, map, .. } = &patterns[0].lit else {
            panic!()
        };
        assert_eq!(source, "a/b\\d(");
        let paren = source.find('(').unwrap_or_default();
        let span = map.span(paren..paren + 1);
        assert_eq!(&text[span], "(");
    }

    #[test]
    fn string_escapes_decode_and_bad_ones_are_reported() {
        let text = "rule r {\n  description \"a\\tb\\u{e9}\\\"\"\n  request reject \"x\\qy\"\n}\n";
        let mut diagnostics = Vec::new();
        let file = parse(0, text, &mut diagnostics);
        let ClauseKind::Description(description) = &file.rules[0].clauses[0].kind else {
            panic!()
        };
        assert_eq!(description.value, "a\tb\u{e9}\"");
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code(), "E0007");
        let span = diagnostics[0]
            .location()
            .map(|l| l.span.clone())
            .unwrap_or_default();
        assert_eq!(&text[span], "\\q");
    }

    #[test]
    fn one_diagnostic_per_broken_line() {
        assert_eq!(
            codes("rule r {\n  match nocase\n  mathc /x/\n  request reject \"x\n}\n"),
            ["E0001", "E0005", "E0002"]
        );
        assert_eq!(
            codes("rule a {\n  request log\nrule b {\n  request log\n}\n"),
            ["E0004"]
        );
        assert_eq!(codes("match /x/\n}\n"), ["E0006", "E0001"]);
        assert_eq!(codes("rules a {\n  request log\n}\n"), ["E0005"]);
        assert_eq!(codes("rule a\n  request log\n}\n"), ["E0001"]);
        assert_eq!(codes("rule a {\n  reqeust reject \"x\"\n}\n"), ["E0016"]);
    }

    #[test]
    fn anything_parses_without_panicking() {
        for text in [
            "",
            "\u{feff}",
            "rule",
            "rule {",
            "{",
            "}",
            "\"",
            "/",
            "rule a {\n  match /",
            "rule a {\r\n  request log\r\n}\r\n",
            "rule a {\n  match \"a\",\n}\n",
        ] {
            let mut diagnostics = Vec::new();
            parse(0, text, &mut diagnostics);
        }
    }
}
