//! Replacement templates: `"[redacted:{rule} …{last:4}]"`.
//!
//! Invariant: a template either parses completely or yields one problem
//! per bad placeholder or brace, each with the file span of exactly the
//! characters at fault (through the string's offset map, so escapes earlier
//! in the string do not shift it).

use rulegate_engine::{Template, TemplatePart};

use crate::ast::{Span, Str};
use crate::diagnostic::{Problem, PLACEHOLDERS};
use crate::suggest::closest;

pub(crate) fn parse_template(string: &Str) -> Result<Template, Vec<(Problem, Span)>> {
    let value = string.value.as_str();
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut problems = Vec::new();
    let mut index = 0;
    while index < value.len() {
        let rest = &value[index..];
        if rest.starts_with("{{") {
            text.push('{');
            index += 2;
        } else if rest.starts_with("}}") {
            text.push('}');
            index += 2;
        } else if rest.starts_with('}') {
            problems.push((
                Problem::UnbalancedBrace { open: false },
                string.map.span(index..index + 1),
            ));
            index += 1;
        } else if rest.starts_with('{') {
            let Some(close) = rest.find('}') else {
                problems.push((
                    Problem::UnbalancedBrace { open: true },
                    string.map.span(index..index + 1),
                ));
                break;
            };
            let inner = &rest[1..close];
            match placeholder(inner) {
                Some(part) => {
                    if !text.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(part);
                }
                None => problems.push((
                    Problem::UnknownPlaceholder {
                        placeholder: inner.into(),
                        suggestion: closest(inner, &PLACEHOLDERS),
                    },
                    string.map.span(index..index + close + 1),
                )),
            }
            index += close + 1;
        } else {
            let Some(ch) = rest.chars().next() else { break };
            text.push(ch);
            index += ch.len_utf8();
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if !text.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    Ok(Template { parts })
}

fn placeholder(inner: &str) -> Option<TemplatePart> {
    let count = |digits: &str| -> Option<usize> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    match inner {
        "rule" => Some(TemplatePart::RuleName),
        "len" => Some(TemplatePart::Len),
        _ => {
            if let Some(n) = inner.strip_prefix("first:") {
                count(n).map(TemplatePart::First)
            } else if let Some(n) = inner.strip_prefix("last:") {
                count(n).map(TemplatePart::Last)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Decoder;

    fn string(value: &str) -> Str {
        let mut decoder = Decoder::default();
        decoder.push_verbatim(value, 1);
        let (value, map) = decoder.finish(1 + value.len());
        Str {
            value,
            span: 0..map.span(0..0).start + 1,
            map,
        }
    }

    #[test]
    fn placeholders_and_literal_braces() {
        let template = parse_template(&string("[{{x}} {rule} {len} {first:2}…{last:4}]")).unwrap();
        assert_eq!(
            template.parts,
            vec![
                TemplatePart::Text("[{x} ".into()),
                TemplatePart::RuleName,
                TemplatePart::Text(" ".into()),
                TemplatePart::Len,
                TemplatePart::Text(" ".into()),
                TemplatePart::First(2),
                TemplatePart::Text("…".into()),
                TemplatePart::Last(4),
                TemplatePart::Text("]".into()),
            ]
        );
    }

    #[test]
    fn unknown_placeholders_point_at_themselves() {
        let problems = parse_template(&string("ab{rul}c{last:x}")).unwrap_err();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].1, 3..8);
        assert!(matches!(
            &problems[0].0,
            Problem::UnknownPlaceholder {
                suggestion: Some("rule"),
                ..
            }
        ));
        assert!(matches!(
            &problems[1].0,
            Problem::UnknownPlaceholder {
                suggestion: Some("last:N"),
                ..
            }
        ));
    }

    #[test]
    fn stray_braces_are_reported() {
        let problems = parse_template(&string("a}b{c")).unwrap_err();
        assert_eq!(
            problems[0],
            (Problem::UnbalancedBrace { open: false }, 2..3)
        );
        assert_eq!(problems[1], (Problem::UnbalancedBrace { open: true }, 4..5));
    }
}
