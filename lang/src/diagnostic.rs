//! Every diagnostic the language reports, and the one wording table.
//!
//! Invariants:
//! - each [`Problem`] variant has exactly one code (a few syntax variants
//!   share `E0001`), and [`wording`] is the only place that holds message,
//!   label and help texts, so the tone stays the same everywhere: lowercase,
//!   no final period, a label at each place involved, a `help` naming the
//!   fix;
//! - a diagnostic's `related` locations are labelled by
//!   [`Wording::related`] in the same order; [`wording`] returns exactly as
//!   many labels as the code that raises the problem passes locations;
//! - pest's rule names never reach the user: [`expected_words`] turns each
//!   one into words.
//!
//! This module knows nothing about terminals or JSON; `render` does.

use std::fmt::Write as _;
use std::ops::Range;

use crate::ast::Around;
use crate::parser::Rule;

/// Index of a file in [`crate::Loaded::files`].
pub type FileId = usize;

/// A place in a file: the file and a byte range of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: FileId,
    pub span: Range<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding of the checker: what is wrong, where, and the places
/// involved.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub(crate) problem: Problem,
    pub(crate) primary: Option<Location>,
    pub(crate) related: Vec<Location>,
}

impl Diagnostic {
    pub(crate) fn new(problem: Problem, file: FileId, span: Range<usize>) -> Diagnostic {
        Diagnostic {
            problem,
            primary: Some(Location { file, span }),
            related: Vec::new(),
        }
    }

    pub(crate) fn with_related(mut self, file: FileId, span: Range<usize>) -> Diagnostic {
        self.related.push(Location { file, span });
        self
    }

    /// `E0001`, `W0001`, …: stable, documented in `docs/language.md`.
    pub fn code(&self) -> &'static str {
        code(&self.problem)
    }

    pub fn severity(&self) -> Severity {
        if self.code().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }

    /// The one-line message, as shown after `error[E…]: `.
    pub fn message(&self) -> String {
        wording(&self.problem).message
    }

    /// Where the problem is; `None` only for problems of the whole rule
    /// set.
    pub fn location(&self) -> Option<&Location> {
        self.primary.as_ref()
    }

    /// The full text: message, labels (primary first, then one per
    /// related location) and help lines.
    pub fn wording(&self) -> Wording {
        wording(&self.problem)
    }

    pub(crate) fn related(&self) -> &[Location] {
        &self.related
    }
}

/// The text of a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wording {
    pub message: String,
    /// Under the primary location.
    pub label: String,
    /// One per related location, in order.
    pub related: Vec<String>,
    /// `= note:` lines: why the rule exists.
    pub notes: Vec<String>,
    /// `= help:` lines: what to do.
    pub help: Vec<String>,
}

/// What a piece of a line turned out to be, for "found …" wording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    Word(String),
    Symbol(String),
    Number(String),
    String,
    Regex,
    EndOfLine,
}

/// Which strict rule of the grammar failed: the same pest rule reads
/// differently in a rule header than in a clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    Header,
    Clause,
}

/// Every kind of mistake, with a one-line example of it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Problem {
    /// `match nocase` (a clause's grammar failed: a pattern was expected)
    Expected {
        expected: Vec<Rule>,
        context: Context,
        after: Option<Found>,
        found: Found,
    },
    /// `rule card-number` (no `{` at the end of the line)
    MissingOpenBrace,
    /// `{` (a block with no `rule name` before it)
    MissingRuleHeader,
    /// `}` (with no rule open)
    UnmatchedCloseBrace,
    /// `"credit card"` (a line that starts with neither a keyword nor `rule`)
    ExpectedKeyword { found: Found, top_level: bool },
    /// `description "Anthropic API key` (no closing quote)
    UnterminatedString,
    /// `match /sk-[a-z]{20}` (no closing slash)
    UnterminatedRegex,
    /// `rule a {` … end of file (no closing `}`)
    MissingCloseBrace {
        rule: Option<String>,
        at_end_of_file: bool,
    },
    /// `mathc /x/` (a clause keyword that does not exist)
    UnknownKeyword {
        word: String,
        suggestion: Option<&'static str>,
        top_level: bool,
    },
    /// `match /x/` outside any rule
    MisplacedClause { keyword: String },
    /// `"tab\q"` (an escape a string does not have)
    InvalidEscape { escape: String },
    /// `match /sk-[a-z/` (the regex does not compile)
    InvalidRegex {
        reason: String,
        help: Option<&'static str>,
    },
    /// `match /(ab)?/` (matches the empty string)
    MatchesEmpty,
    /// `match /sk-[a-z]+/` (no finite maximum length)
    Unbounded {
        operator: String,
        replacement: String,
        /// The pattern is one of an `unless` clause, on this side.
        context: Option<Around>,
    },
    /// `match /[a&&b]/` (can never match)
    MatchesNothing,
    /// `match /abc/g` or `match "abc" nocse`
    UnknownFlag {
        flag: String,
        regex: bool,
        suggestion: Option<&'static str>,
    },
    /// `rule card {` twice, in one file or two
    DuplicateRule { name: String },
    /// `where lunh`
    UnknownCheck {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// `decode precent`
    UnknownDecoding {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// `decode unicode, unicode`
    RepeatedDecoding { name: String },
    /// `override emial {` or `disable emial`
    UnknownRuleRef {
        what: &'static str,
        name: String,
        suggestion: Option<String>,
    },
    /// `match /x/` inside `override NAME { … }`
    NotInOverride { keyword: &'static str },
    /// `request reject "…" in tool_results`
    UnknownScope {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// `reqeust reject "…"`
    UnknownSide {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// `request redact "…"`
    UnknownAction {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// `where entropy`, `request reject`, `request log "x"`
    BadArgument(Argument),
    /// `rule a { match /x/ }` with no `request`/`response` clause
    NoAction { rule: String },
    /// `rule a { request log }` with no `match` clause
    NoPattern { rule: String },
    /// `mask "[redacted:{name}]"`
    UnknownPlaceholder {
        placeholder: String,
        suggestion: Option<&'static str>,
    },
    /// `mask "[redacted:{rule]"` or `mask "}"`
    UnbalancedBrace { open: bool },
    /// `example hit "…"` that no pattern of the rule finds
    ExampleNotFound {
        rule: String,
        /// The check that rejected what the patterns found, if any.
        rejected_by: Option<String>,
    },
    /// `example miss "…"` that the rule finds
    ExampleFound { rule: String },
    /// `description "a"` twice in one rule
    DuplicateClause { keyword: &'static str },
    /// a file whose bytes are not UTF-8
    NotUtf8 { byte: u8, offset: usize },
    /// `match /.{1000}{1000}/` (the automaton would be too large)
    RuleSetFailed { reason: String },
    /// `match /[a-z]{1,100000}/` (streaming may hold back that much)
    LongPattern { max_len: usize },
    /// `request mask "x"` after `request reject "y"` (never applies)
    UnreachableAction { side: &'static str, earlier: usize },
}

/// What is wrong with the argument of a check or an action.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Argument {
    /// `where entropy` (no threshold)
    MissingThreshold { check: &'static str },
    /// `where entropy > 3` (only `>=` exists)
    WrongComparison {
        check: &'static str,
        compare: String,
    },
    /// `where luhn >= 2`
    UnexpectedThreshold { check: String },
    /// `where entropy >= 99` (more bits per character than a byte has),
    /// `where classes >= 5` (there are four)
    ThresholdOutOfRange { check: &'static str },
    /// `request reject` (no message)
    MissingText { action: &'static str },
    /// `request log "x"`
    UnexpectedText,
}

fn code(problem: &Problem) -> &'static str {
    match problem {
        Problem::Expected { .. }
        | Problem::MissingOpenBrace
        | Problem::MissingRuleHeader
        | Problem::UnmatchedCloseBrace
        | Problem::ExpectedKeyword { .. } => "E0001",
        Problem::UnterminatedString => "E0002",
        Problem::UnterminatedRegex => "E0003",
        Problem::MissingCloseBrace { .. } => "E0004",
        Problem::UnknownKeyword { .. } => "E0005",
        Problem::MisplacedClause { .. } => "E0006",
        Problem::InvalidEscape { .. } => "E0007",
        Problem::InvalidRegex { .. } => "E0008",
        Problem::MatchesEmpty => "E0009",
        Problem::Unbounded { .. } => "E0010",
        Problem::MatchesNothing => "E0011",
        Problem::UnknownFlag { .. } => "E0012",
        Problem::DuplicateRule { .. } => "E0013",
        Problem::UnknownCheck { .. } => "E0014",
        Problem::UnknownScope { .. } => "E0015",
        Problem::UnknownSide { .. } => "E0016",
        Problem::UnknownAction { .. } => "E0017",
        Problem::BadArgument(_) => "E0018",
        Problem::NoAction { .. } => "E0019",
        Problem::NoPattern { .. } => "E0020",
        Problem::UnknownPlaceholder { .. } => "E0021",
        Problem::UnbalancedBrace { .. } => "E0022",
        Problem::ExampleNotFound { .. } => "E0023",
        Problem::ExampleFound { .. } => "E0024",
        Problem::DuplicateClause { .. } => "E0025",
        Problem::NotUtf8 { .. } => "E0026",
        Problem::RuleSetFailed { .. } => "E0027",
        Problem::UnknownDecoding { .. } => "E0028",
        Problem::RepeatedDecoding { .. } => "W0003",
        Problem::UnknownRuleRef { .. } => "E0029",
        Problem::NotInOverride { .. } => "E0030",
        Problem::UnreachableAction { .. } => "W0001",
        Problem::LongPattern { .. } => "W0002",
    }
}

pub(crate) const KEYWORDS: [&str; 9] = [
    "description",
    "match",
    "where",
    "unless",
    "request",
    "response",
    "example",
    "decode",
    "allow",
];
pub(crate) const CHECKS: [&str; 4] = ["luhn", "mod97", "entropy", "classes"];
pub(crate) const ACTIONS: [&str; 3] = ["reject", "mask", "log"];
pub(crate) const SIDES: [&str; 2] = ["request", "response"];
pub(crate) const PATTERN_FLAGS: [&str; 2] = ["nocase", "word"];
pub(crate) const PLACEHOLDERS: [&str; 4] = ["rule", "len", "first:N", "last:N"];

fn did_you_mean(suggestion: Option<&str>, help: &mut Vec<String>) {
    if let Some(suggestion) = suggestion {
        help.push(format!("did you mean `{suggestion}`?"));
    }
}

fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn found_words(found: &Found) -> String {
    match found {
        Found::Word(word) => format!("`{word}`"),
        Found::Symbol(symbol) => format!("`{symbol}`"),
        Found::Number(number) => format!("the number `{number}`"),
        Found::String => "a string".into(),
        Found::Regex => "a regex".into(),
        Found::EndOfLine => "the end of the line".into(),
    }
}

fn after_words(after: &Found) -> String {
    match after {
        Found::String => "the string".into(),
        Found::Regex => "the regex".into(),
        other => found_words(other),
    }
}

/// What a pest rule stands for, in words. Exhaustive on purpose: a new
/// grammar rule cannot reach users without a wording.
pub(crate) fn expected_words(rule: Rule, context: Context) -> &'static str {
    match rule {
        Rule::EOI => match context {
            Context::Header => "`{`",
            Context::Clause => "the end of the line",
        },
        Rule::rule_name => "a rule name",
        Rule::string | Rule::string_inner | Rule::unterminated_string => "a string",
        Rule::pattern => "a pattern (a `/regex/` or a \"literal\")",
        Rule::regex | Rule::regex_body | Rule::regex_flags | Rule::unterminated_regex => {
            "a `/regex/`"
        }
        Rule::comma => "`,`",
        Rule::pattern_flag => "a flag (`nocase` or `word`)",
        Rule::check_name => "a check (`luhn`, `mod97` or `entropy`)",
        Rule::compare => "`>=`",
        Rule::number => "a number",
        Rule::action_name => "an action (`reject`, `mask` or `log`)",
        Rule::kw_in => "`in`",
        Rule::scope => "a scope",
        Rule::expectation => "`hit` or `miss`",
        Rule::side => "`request` or `response`",
        Rule::kw_rule => "`rule`",
        Rule::kw_description => "`description`",
        Rule::kw_match => "`match`",
        Rule::kw_where => "`where`",
        Rule::kw_unless => "`unless`",
        Rule::kw_preceded => "`preceded`",
        Rule::kw_followed => "`followed`",
        Rule::kw_by => "`by`",
        Rule::kw_example => "`example`",
        Rule::kw_decode => "`decode`",
        Rule::kw_allow => "`allow`",
        Rule::kw_disable => "`disable`",
        Rule::kw_override => "`override`",
        Rule::decoding => "a decoding (`percent`, `json-escape`, `unicode` or `base64`)",
        Rule::open_brace => "`{`",
        Rule::close_brace => "`}`",
        Rule::word | Rule::name_char | Rule::punct | Rule::head_punct => "a word",
        Rule::WHITESPACE | Rule::COMMENT | Rule::nl => "a new line",
        Rule::file
        | Rule::item
        | Rule::token
        | Rule::head_token
        | Rule::continuation
        | Rule::clause_keyword
        | Rule::block
        | Rule::head
        | Rule::body
        | Rule::clause_line
        | Rule::stray_line
        | Rule::rule_header
        | Rule::description_clause
        | Rule::match_clause
        | Rule::where_clause
        | Rule::unless_clause
        | Rule::action_clause
        | Rule::example_clause
        | Rule::decode_clause
        | Rule::allow_clause
        | Rule::disable_clause
        | Rule::override_header => "a clause",
    }
}

fn one_of(words: &[&str]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for word in words {
        if !unique.contains(word) {
            unique.push(word);
        }
    }
    match unique.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => "something else".into(),
    }
}

const PLACE_CLAUSES: &str =
    "clauses go inside a rule: `rule name {`, one clause per line, then `}` on its own line";

/// The one wording table: every message, label and help text.
pub(crate) fn wording(problem: &Problem) -> Wording {
    let mut related = Vec::new();
    let mut notes = Vec::new();
    let mut help = Vec::new();
    let (message, label) = match problem {
        Problem::Expected {
            expected,
            context,
            after,
            found,
        } => {
            let words: Vec<&str> = expected
                .iter()
                .map(|rule| expected_words(*rule, *context))
                .collect();
            let mut message = format!("expected {}", one_of(&words));
            if let Some(after) = after {
                let _ = write!(message, " after {}", after_words(after));
            }
            if *context == Context::Header {
                help.push(
                    "a rule starts with `rule`, a name of letters, digits, `-` and `_`, and `{`"
                        .into(),
                );
            }
            if matches!(found, Found::Symbol(s) if s == "}") {
                help.push("a rule's closing `}` goes on a line of its own".into());
            }
            let label = match found {
                Found::EndOfLine => format!("expected {} here", one_of(&words)),
                Found::String => "unexpected string".into(),
                Found::Regex => "unexpected regex".into(),
                other => format!("unexpected {}", found_words(other)),
            };
            (message, label)
        }
        Problem::MissingOpenBrace => {
            help.push("write `{` after the rule name, then one clause per line".into());
            (
                "expected `{` after the rule name".into(),
                "expected `{` here".into(),
            )
        }
        Problem::MissingRuleHeader => {
            help.push("start the block with `rule` and a name, e.g. `rule card-number {`".into());
            (
                "expected `rule` and a name before `{`".into(),
                "this block has no name".into(),
            )
        }
        Problem::UnmatchedCloseBrace => {
            help.push("remove it, or check that the rule above is not closed twice".into());
            (
                "unexpected `}`: no rule is open here".into(),
                "unmatched `}`".into(),
            )
        }
        Problem::ExpectedKeyword { found, top_level } => {
            if *top_level {
                help.push("a file holds rules: `rule name { … }`".into());
                (
                    format!("expected `rule`, found {}", found_words(found)),
                    "expected `rule` here".into(),
                )
            } else {
                help.push(format!(
                    "each line of a rule starts with a keyword: {}",
                    quoted_list(&KEYWORDS)
                ));
                (
                    format!("expected a clause keyword, found {}", found_words(found)),
                    "expected a keyword here".into(),
                )
            }
        }
        Problem::UnterminatedString => {
            help.push("add the closing `\"`; a string ends on the line it starts, write `\\n` for a line break".into());
            (
                "unterminated string".into(),
                "this string is never closed".into(),
            )
        }
        Problem::UnterminatedRegex => {
            help.push("add the closing `/`; write `\\/` for a slash inside the regex".into());
            (
                "unterminated regex".into(),
                "this regex is never closed".into(),
            )
        }
        Problem::MissingCloseBrace {
            rule,
            at_end_of_file,
        } => {
            related.push(if *at_end_of_file {
                "the file ends here".into()
            } else {
                "the next rule starts here".into()
            });
            help.push("add `}` on a line of its own after the rule's last clause".into());
            let message = match rule {
                Some(name) => format!("rule `{name}` has no closing `}}`"),
                None => "this block has no closing `}`".into(),
            };
            (message, "this `{` is never closed".into())
        }
        Problem::UnknownKeyword {
            word,
            suggestion,
            top_level,
        } => {
            did_you_mean(*suggestion, &mut help);
            if *top_level {
                help.push("a file holds rules: `rule name { … }`".into());
            } else {
                help.push(format!("a clause starts with {}", quoted_list(&KEYWORDS)));
            }
            (
                format!("unknown keyword `{word}`"),
                "unknown keyword".into(),
            )
        }
        Problem::MisplacedClause { keyword } => {
            help.push(PLACE_CLAUSES.into());
            (
                format!("`{keyword}` clause outside a rule"),
                "this clause belongs inside a rule".into(),
            )
        }
        Problem::InvalidEscape { escape } => {
            help.push("strings know `\\\"`, `\\\\`, `\\n`, `\\r`, `\\t` and `\\u{…}`; write `\\\\` for a backslash".into());
            (
                format!("unknown escape `{escape}` in string"),
                "unknown escape".into(),
            )
        }
        Problem::InvalidRegex { reason, help: hint } => {
            if let Some(hint) = hint {
                help.push((*hint).into());
            }
            (format!("invalid regex: {reason}"), reason.clone())
        }
        Problem::MatchesEmpty => {
            notes.push("an empty match would fire at every position of every text".into());
            help.push(
                "require at least one character: make parts of the pattern optional, not all of it"
                    .into(),
            );
            (
                "pattern can match the empty string".into(),
                "matches the empty string".into(),
            )
        }
        Problem::Unbounded {
            operator,
            replacement,
            context,
        } => {
            notes.push(match context {
                Some(Around::Before) => "a stream keeps only as much text before a match as the longest `unless preceded by` pattern can match, so it needs a maximum length".into(),
                Some(Around::After) => "a stream holds a match back only until as much text after it as the longest `unless followed by` pattern can match has arrived, so it needs a maximum length".into(),
                None => "streaming holds back at most one match's length of text, so every pattern needs a maximum length".into(),
            });
            help.push(format!(
                "bound the repetition: replace `{operator}` with `{replacement}`"
            ));
            (
                "pattern has no maximum length".into(),
                "unbounded repetition".into(),
            )
        }
        Problem::MatchesNothing => {
            help.push(
                "check the character classes: an empty class such as `[a&&b]` matches no character"
                    .into(),
            );
            ("pattern can never match".into(), "matches nothing".into())
        }
        Problem::UnknownFlag {
            flag,
            regex,
            suggestion,
        } => {
            did_you_mean(*suggestion, &mut help);
            if *regex {
                help.push("regex flags are `i` (ignore case), `m` (multi-line), `s` (`.` matches `\\n`) and `x` (verbose)".into());
                (
                    format!("unknown regex flag `{flag}`"),
                    "unknown flag".into(),
                )
            } else {
                help.push(format!("pattern flags are {}", quoted_list(&PATTERN_FLAGS)));
                (
                    format!("unknown pattern flag `{flag}`"),
                    "unknown flag".into(),
                )
            }
        }
        Problem::DuplicateRule { name } => {
            related.push("first defined here".into());
            help.push("rename one of the rules".into());
            (
                format!("duplicate rule name `{name}`"),
                "redefined here".into(),
            )
        }
        Problem::UnknownCheck { name, suggestion } => {
            did_you_mean(*suggestion, &mut help);
            help.push("checks are `luhn`, `mod97`, `entropy >= N` and `classes >= N`".into());
            (format!("unknown check `{name}`"), "unknown check".into())
        }
        Problem::UnknownDecoding { name, suggestion } => {
            did_you_mean(*suggestion, &mut help);
            let names: Vec<&str> = rulegate_engine::Decoding::ALL
                .iter()
                .map(|d| d.name())
                .collect();
            help.push(format!("decodings are {}", quoted_list(&names)));
            (
                format!("unknown decoding `{name}`"),
                "unknown decoding".into(),
            )
        }
        Problem::UnknownRuleRef {
            what,
            name,
            suggestion,
        } => {
            if let Some(suggestion) = suggestion {
                help.push(format!("did you mean `{suggestion}`?"));
            }
            help.push(format!(
                "`{what}` names a rule of the loaded files (run `rulec check` on them together)"
            ));
            (
                format!("no rule named `{name}` to {what}"),
                "no such rule".into(),
            )
        }
        Problem::NotInOverride { keyword } => {
            help.push("an override changes a rule's actions, decodings, allowed values and exceptions; to match something else, write a new rule".into());
            (
                format!("`{keyword}` cannot be changed by an override"),
                "not in an override".into(),
            )
        }
        Problem::RepeatedDecoding { name } => {
            help.push("a decoding is either on or off: name it once".into());
            (
                format!("decoding `{name}` named twice"),
                "named again here".into(),
            )
        }
        Problem::UnknownScope { name, suggestion } => {
            did_you_mean(*suggestion, &mut help);
            let scopes: Vec<&str> = rulegate_engine::Scope::ALL
                .iter()
                .map(|s| s.name())
                .collect();
            help.push(format!("scopes are {}", quoted_list(&scopes)));
            (format!("unknown scope `{name}`"), "unknown scope".into())
        }
        Problem::UnknownSide { name, suggestion } => {
            did_you_mean(*suggestion, &mut help);
            help.push(format!(
                "an action clause starts with {}",
                quoted_list(&SIDES)
            ));
            (format!("unknown side `{name}`"), "unknown side".into())
        }
        Problem::UnknownAction { name, suggestion } => {
            did_you_mean(*suggestion, &mut help);
            help.push("actions are `reject \"message\"`, `mask \"replacement\"` and `log`".into());
            (format!("unknown action `{name}`"), "unknown action".into())
        }
        Problem::BadArgument(argument) => {
            match argument {
                Argument::MissingThreshold { check } => {
                    help.push(if *check == "classes" {
                        "write how many of the four classes (uppercase, lowercase, digits, other) the match needs, e.g. `where classes >= 3`".into()
                    } else {
                        "write a threshold in bits per character, e.g. `where entropy >= 3.5`"
                            .into()
                    });
                    (
                        format!("`{check}` needs a threshold"),
                        "no threshold".into(),
                    )
                }
                Argument::WrongComparison { check, compare } => {
                    help.push(format!("write `where {check} >= N`"));
                    (
                        format!("`{check}` compares only with `>=`, not `{compare}`"),
                        "unsupported comparison".into(),
                    )
                }
                Argument::UnexpectedThreshold { check } => {
                    help.push(format!("write `where {check}`"));
                    (
                        format!("`{check}` takes no threshold"),
                        "unexpected threshold".into(),
                    )
                }
                Argument::ThresholdOutOfRange { check } => {
                    if *check == "classes" {
                        notes.push("there are four classes: ASCII uppercase letters, lowercase letters, digits, and every other character".into());
                        help.push("choose a number from 1 to 4; 3 suits random keys".into());
                    } else {
                        notes.push("a match's entropy is at most 8 bits per character unless it holds more than 256 distinct characters".into());
                        help.push(
                            "choose a threshold between 0 and 8; 3.5 to 4.5 suits random tokens"
                                .into(),
                        );
                    }
                    (
                        format!("{check} threshold out of range"),
                        "no match can reach this".into(),
                    )
                }
                Argument::MissingText { action } => {
                    let example = if *action == "reject" {
                        "request reject \"A secret is in the request. Remove it and retry.\""
                    } else {
                        "response mask \"[redacted:{rule}]\""
                    };
                    help.push(format!("write it after `{action}`, e.g. `{example}`"));
                    (
                        format!("`{action}` needs a text"),
                        if *action == "reject" {
                            "no message".into()
                        } else {
                            "no replacement".into()
                        },
                    )
                }
                Argument::UnexpectedText => {
                    help.push("`log` only records the finding; remove the text, or use `mask` or `reject`".into());
                    ("`log` takes no text".into(), "unexpected text".into())
                }
            }
        }
        Problem::NoAction { rule } => {
            help.push("add an action line, e.g. `request reject \"…\"`, `response mask \"[redacted:{rule}]\"`, or `request log` to monitor first".into());
            (
                format!("rule `{rule}` has no action"),
                "this rule never acts".into(),
            )
        }
        Problem::NoPattern { rule } => {
            help.push(
                "add a `match` line, e.g. `match /sk-[A-Za-z0-9]{20,40}/` or `match \"literal\"`"
                    .into(),
            );
            (
                format!("rule `{rule}` has no pattern"),
                "this rule matches nothing".into(),
            )
        }
        Problem::UnknownPlaceholder {
            placeholder,
            suggestion,
        } => {
            if let Some(suggestion) = suggestion {
                help.push(format!("did you mean `{{{suggestion}}}`?"));
            }
            let names: Vec<String> = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            help.push(format!(
                "placeholders are {}; write `{{{{` and `}}}}` for literal braces",
                quoted_list(&names)
            ));
            (
                format!("unknown placeholder `{{{placeholder}}}` in template"),
                "unknown placeholder".into(),
            )
        }
        Problem::UnbalancedBrace { open } => {
            help.push("write `{{` and `}}` for literal braces".into());
            if *open {
                (
                    "unclosed `{` in template".into(),
                    "this `{` is never closed".into(),
                )
            } else {
                ("unmatched `}` in template".into(), "unmatched `}`".into())
            }
        }
        Problem::ExampleNotFound { rule, rejected_by } => {
            related.push("the rule's patterns".into());
            match rejected_by {
                Some(check) => {
                    notes.push(format!(
                        "a pattern matches, but the check `{check}` rejects every match"
                    ));
                    help.push("fix the example or the check".into());
                }
                None => help.push("fix the example or the pattern".into()),
            }
            (
                format!("example does not match rule `{rule}`"),
                "expected a match in this text".into(),
            )
        }
        Problem::ExampleFound { rule } => {
            related.push("the rule's patterns".into());
            help.push(
                "fix the example or narrow the pattern, e.g. with `word`, a `where` check, `unless preceded by` or `unless followed by`".into(),
            );
            (
                format!("example marked `miss` matches rule `{rule}`"),
                "this part matches".into(),
            )
        }
        Problem::DuplicateClause { keyword } => {
            related.push("first given here".into());
            help.push(format!("keep one `{keyword}`"));
            (
                format!("a rule has one `{keyword}`"),
                format!("second `{keyword}`"),
            )
        }
        Problem::NotUtf8 { byte, offset } => {
            help.push("save the file as UTF-8".into());
            (
                format!("file is not valid UTF-8: byte 0x{byte:02x} at offset {offset}"),
                "invalid UTF-8".into(),
            )
        }
        Problem::RuleSetFailed { reason } => {
            help.push("shorten the longest counted repetitions, e.g. `.{1000}{1000}`".into());
            (
                format!("rule too large to compile: {reason}"),
                "too large to compile".into(),
            )
        }
        Problem::LongPattern { max_len } => {
            notes.push(format!("a match can be {max_len} bytes long; streaming holds back up to that much of a response before releasing it"));
            help.push(
                "lower the upper bounds of the repetitions if matches are never that long".into(),
            );
            (
                "pattern allows very long matches".into(),
                format!("up to {max_len} bytes"),
            )
        }
        Problem::UnreachableAction { side, earlier } => {
            for _ in 0..*earlier {
                related.push("already decided here".into());
            }
            help.push(format!(
                "for each scope the first `{side}` clause that names it decides; remove this clause or narrow the earlier one with `in`"
            ));
            ("action clause never applies".into(), "never applies".into())
        }
    };
    Wording {
        message,
        label,
        related,
        notes,
        help,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(quoted_list(&["a"]), "`a`");
        assert_eq!(quoted_list(&["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(one_of(&["x", "y", "x"]), "x or y");
    }

    #[test]
    fn warnings_are_warnings() {
        let warning = Diagnostic::new(
            Problem::UnreachableAction {
                side: "request",
                earlier: 1,
            },
            0,
            0..1,
        );
        assert_eq!(warning.severity(), Severity::Warning);
        let error = Diagnostic::new(Problem::MatchesEmpty, 0, 0..1);
        assert_eq!(error.severity(), Severity::Error);
    }
}
