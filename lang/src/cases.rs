//! Case files and their snapshots, for `rulec test` and for tests that
//! pin what the rules do to sample inputs.
//!
//! A case is scanned on the response side (scope `assistant`) unless its
//! first line is a directive naming the runs, which is then not part of the
//! input:
//!
//! ```text
//! #! rulegate: request user, request tool_result, response
//! ```
//!
//! Invariant: a snapshot is a pure function of the rules and the case bytes
//! (no paths, times or colours in it), so it can be committed and reviewed
//! like code. Cases go through the streaming scanner in one push, which by
//! chunk invariance is the block result.

use std::fmt::Write as _;

use rulegate_engine::{Finding, RuleSet, Scope, Side};

/// The first-line marker of a directive.
pub const DIRECTIVE: &str = "#! rulegate:";

/// One way to scan a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub side: Side,
    pub scope: Scope,
}

/// The runs a case asks for and its input (the directive line removed).
pub fn parse_case(bytes: &[u8]) -> Result<(Vec<Run>, &[u8]), String> {
    let default = vec![Run {
        side: Side::Response,
        scope: Scope::Assistant,
    }];
    if !bytes.starts_with(DIRECTIVE.as_bytes()) {
        return Ok((default, bytes));
    }
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = std::str::from_utf8(&bytes[DIRECTIVE.len()..end])
        .map_err(|_| "the directive line is not UTF-8".to_owned())?;
    let input = bytes.get(end + 1..).unwrap_or_default();
    let mut runs = Vec::new();
    for part in line.trim_end_matches('\r').split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let run = match words.as_slice() {
            ["response"] => Run {
                side: Side::Response,
                scope: Scope::Assistant,
            },
            ["request"] => Run {
                side: Side::Request,
                scope: Scope::User,
            },
            [side @ ("request" | "response"), scope] => Run {
                side: if *side == "request" {
                    Side::Request
                } else {
                    Side::Response
                },
                scope: Scope::from_name(scope).ok_or_else(|| {
                    format!(
                        "unknown scope `{scope}` in the directive (one of system, user, assistant, tool_result, tool_input)"
                    )
                })?,
            },
            _ => {
                return Err(format!(
                    "cannot read `{}` in the directive; write e.g. `{DIRECTIVE} request user, response`",
                    part.trim()
                ))
            }
        };
        runs.push(run);
    }
    Ok((runs, input))
}

/// The snapshot text of a case: for each run, the masked text (or the
/// rejection) and every finding with its position and matched text.
pub fn snapshot(set: &RuleSet, bytes: &[u8]) -> Result<String, String> {
    let (runs, input) = parse_case(bytes)?;
    let lines = LineStarts::new(input);
    let mut text = String::new();
    for run in runs {
        let label = format!("{} {}", run.side.name(), run.scope.name());
        let mut scanner = set.scanner(run.side, run.scope);
        let mut masked = Vec::new();
        let result = scanner
            .push(input, &mut masked)
            .and_then(|()| scanner.finish(&mut masked));
        let findings = scanner.take_findings();
        match result {
            Ok(()) => {
                let _ = writeln!(text, "=== {label}: output ===");
                text.push_str(&String::from_utf8_lossy(&masked));
                if !masked.ends_with(b"\n") {
                    text.push_str("\n=== (no newline at the end) ===\n");
                }
            }
            Err(rejection) => {
                let _ = writeln!(
                    text,
                    "=== {label}: rejected by {} ===\n{}",
                    rejection.rule_name, rejection.message
                );
            }
        }
        let _ = writeln!(text, "=== {label}: findings ===");
        if findings.is_empty() {
            text.push_str("(none)\n");
        }
        for finding in findings {
            let _ = writeln!(text, "{}", describe(set, &lines, input, &finding));
        }
    }
    Ok(text)
}

fn describe(set: &RuleSet, lines: &LineStarts, input: &[u8], finding: &Finding) -> String {
    let (line, column) = lines.locate(finding.start);
    let (end_line, end_column) = lines.locate(finding.end);
    let matched = String::from_utf8_lossy(&input[finding.start..finding.end]);
    format!(
        "{line}:{column}-{end_line}:{end_column} {} {} {:?}",
        set.rule_name(finding.rule),
        finding.disposition.name(),
        matched
    )
}

/// Byte offsets of line starts, to print 1-based line:column (columns in
/// bytes, as `rulec scan --format json` gives them).
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn new(input: &[u8]) -> LineStarts {
        let mut starts = vec![0];
        starts.extend(
            input
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineStarts(starts)
    }

    fn locate(&self, offset: usize) -> (usize, usize) {
        let line = self.0.partition_point(|&start| start <= offset);
        (line, offset - self.0[line - 1] + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_name_the_runs_and_are_not_input() {
        let (runs, input) =
            parse_case(b"#! rulegate: request tool_result, response\nbody\n").unwrap();
        assert_eq!(
            runs,
            [
                Run {
                    side: Side::Request,
                    scope: Scope::ToolResult
                },
                Run {
                    side: Side::Response,
                    scope: Scope::Assistant
                }
            ]
        );
        assert_eq!(input, b"body\n");
        let (runs, input) = parse_case(b"no directive\n").unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(input, b"no directive\n");
        assert!(parse_case(b"#! rulegate: request nowhere\n")
            .unwrap_err()
            .contains("unknown scope `nowhere`"));
        assert!(parse_case(b"#! rulegate: sideways\n").is_err());
    }

    #[test]
    fn positions_are_one_based_lines_and_byte_columns() {
        let lines = LineStarts::new(b"ab\ncd\n");
        assert_eq!(lines.locate(0), (1, 1));
        assert_eq!(lines.locate(2), (1, 3));
        assert_eq!(lines.locate(3), (2, 1));
        assert_eq!(lines.locate(6), (3, 1));
    }
}
