//! The plain description of a rule set, as the language compiles it.
//!
//! These types carry no syntax (no spans, no file names) and no compiled
//! state: they are what a `.rules` file means. [`crate::RuleSet::build`] turns
//! a [`RuleSetSpec`] into the automaton. The order of `rules` is the
//! declaration order, which breaks ties between overlapping matches.

use std::fmt;

/// Every rule of every file, in declaration order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSetSpec {
    pub rules: Vec<RuleSpec>,
}

/// One rule: what to look for, what to check, and what to do on each side.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    pub description: Option<String>,
    /// At least one; a match of any of them is a match of the rule.
    pub patterns: Vec<PatternSpec>,
    /// Every check must pass for a candidate match to count.
    pub checks: Vec<Check>,
    /// A candidate does not count when the text before it ends with a match
    /// of one of these (`unless preceded by`): a version number is not an
    /// address. Bounded like every pattern, so a stream keeps only that
    /// much text before what it holds.
    pub unless_preceded_by: Vec<PatternSpec>,
    /// A candidate does not count when the text after it starts with a
    /// match of one of these (`unless followed by`): `sk-…` followed by
    /// `.example` is a file name, not a key. Bounded too: a stream holds
    /// that much text after a match before it decides it.
    pub unless_followed_by: Vec<PatternSpec>,
    /// In declaration order; for a given side and scope the first clause
    /// whose scopes include it decides.
    pub actions: Vec<ActionClause>,
    pub examples: Vec<Example>,
    /// Decoded views of the text the rule is also matched in (`decode
    /// percent, json-escape, unicode, base64`); empty: the text as it is.
    pub decode: DecodingSet,
    /// Allowed values (`allow "AKIAIOSFODNN7EXAMPLE", /test-[0-9]{4}/`): a
    /// candidate whose whole match, or whose `value` group, is entirely a
    /// match of one of these does not count, nor do the rule's shorter
    /// candidates at the same start (its prefixes); other rules' candidates
    /// are not hidden.
    pub allow: Vec<PatternSpec>,
}

impl RuleSpec {
    /// The action this rule takes on `side` for text of `scope`, if any.
    pub fn action_for(&self, side: Side, scope: Scope) -> Option<&Action> {
        self.actions
            .iter()
            .find(|clause| clause.side == side && clause.scopes.contains(scope))
            .map(|clause| &clause.action)
    }
}

/// A pattern and the flags that change how it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternSpec {
    pub kind: PatternKind,
    pub flags: PatternFlags,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternKind {
    /// regex-automata syntax (no look-around, no backreferences). The text
    /// is the regex itself, after the language has undone its own escapes.
    Regex(String),
    /// Matched byte for byte (or ASCII-case-insensitively with `nocase`).
    Literal(String),
}

/// Flags of a pattern. `word` and `case_insensitive` apply to both kinds;
/// the others only change the meaning of regex syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatternFlags {
    /// `i` on a regex, `nocase` on a literal.
    pub case_insensitive: bool,
    /// Require an ASCII word boundary at each end of the match that is a
    /// word character (`word` on a literal or regex).
    pub word: bool,
    /// `m`: `^` and `$` match at line ends.
    pub multi_line: bool,
    /// `s`: `.` also matches `\n`.
    pub dot_matches_new_line: bool,
    /// `x`: whitespace and `#` comments in the regex are ignored.
    pub ignore_whitespace: bool,
}

/// A test a candidate match must pass (applied to the matched text).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Check {
    /// The digits of the match pass the Luhn checksum (payment cards).
    Luhn,
    /// ISO 13616 / ISO 7064 mod-97 check of an IBAN (spaces ignored).
    Mod97,
    /// Shannon entropy of the match, in bits per character, is at least
    /// this value.
    Entropy { min_bits: f64 },
    /// The match has characters of at least this many of the four
    /// classes [`char_classes`](crate::char_classes) counts (ASCII
    /// uppercase, lowercase, digits, anything else).
    Classes { min: u8 },
}

/// The side of the exchange a text travels on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// From the client to the model.
    Request,
    /// From the model back to the client.
    Response,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Request, Side::Response];

    pub fn name(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where in a conversation a text sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    System,
    User,
    Assistant,
    ToolResult,
    ToolInput,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::System,
        Scope::User,
        Scope::Assistant,
        Scope::ToolResult,
        Scope::ToolInput,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::User => "user",
            Scope::Assistant => "assistant",
            Scope::ToolResult => "tool_result",
            Scope::ToolInput => "tool_input",
        }
    }

    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of scopes; [`ScopeSet::ALL`] when a clause names none.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScopeSet(u8);

impl ScopeSet {
    pub const ALL: ScopeSet = ScopeSet(0b1_1111);
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::EMPTY;
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// `request reject "…" in user`, `response mask "[redacted]"`, …
#[derive(Clone, Debug, PartialEq)]
pub struct ActionClause {
    pub side: Side,
    pub action: Action,
    pub scopes: ScopeSet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Refuse the whole request (or end the response) with this message.
    Reject { message: String },
    /// Replace the match with the expanded template.
    Mask { template: Template },
    /// Leave the text alone; only record the finding (monitor mode).
    Log,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Reject { .. } => "reject",
            Action::Mask { .. } => "mask",
            Action::Log => "log",
        }
    }
}

/// A replacement text with placeholders, parsed by the language.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    /// `{rule}`: the rule's name.
    RuleName,
    /// `{len}`: the length of the match in characters.
    Len,
    /// `{first:N}`: the first N characters of the match.
    First(usize),
    /// `{last:N}`: the last N characters of the match.
    Last(usize),
}

impl Template {
    /// A template that is only fixed text.
    pub fn text(text: impl Into<String>) -> Template {
        Template {
            parts: vec![TemplatePart::Text(text.into())],
        }
    }

    /// Appends the replacement for `matched` (found by rule `rule`) to `out`.
    pub fn expand_into(&self, rule: &str, matched: &[u8], out: &mut Vec<u8>) {
        let matched = String::from_utf8_lossy(matched);
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => out.extend_from_slice(text.as_bytes()),
                TemplatePart::RuleName => out.extend_from_slice(rule.as_bytes()),
                TemplatePart::Len => {
                    out.extend_from_slice(matched.chars().count().to_string().as_bytes())
                }
                TemplatePart::First(n) => {
                    let end = matched
                        .char_indices()
                        .nth(*n)
                        .map_or(matched.len(), |(i, _)| i);
                    out.extend_from_slice(&matched.as_bytes()[..end]);
                }
                TemplatePart::Last(n) => {
                    let count = matched.chars().count();
                    let start = matched
                        .char_indices()
                        .nth(count.saturating_sub(*n))
                        .map_or(matched.len(), |(i, _)| i);
                    out.extend_from_slice(&matched.as_bytes()[start..]);
                }
            }
        }
    }
}

/// A way text can hide what a rule looks for, undone in a decoded view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decoding {
    /// `%XX` escapes (URLs, query strings, form bodies).
    Percent,
    /// JSON (and JavaScript) string escapes of text that is itself JSON
    /// inside a string: `\n`, `\"`, `\/`, `\uXXXX`, and the same behind
    /// several backslashes (escaped more than once).
    JsonEscape,
    /// Runs of standard base64 (16 to 8,192 characters) that decode to
    /// text; a finding in the decoded text masks the whole run.
    Base64,
    /// Invisible characters (zero-width, bidi controls, soft hyphens, tag
    /// characters' ASCII) undone, compatibility forms folded to ASCII
    /// (fullwidth, mathematical letters, ligatures), chosen confusables
    /// (Cyrillic and Greek look-alikes, dashes, curly quotes, odd spaces)
    /// folded.
    Unicode,
}

impl Decoding {
    pub const ALL: [Decoding; 4] = [
        Decoding::Percent,
        Decoding::JsonEscape,
        Decoding::Base64,
        Decoding::Unicode,
    ];

    /// The name the language uses.
    pub fn name(self) -> &'static str {
        match self {
            Decoding::Percent => "percent",
            Decoding::JsonEscape => "json-escape",
            Decoding::Base64 => "base64",
            Decoding::Unicode => "unicode",
        }
    }

    pub fn from_name(name: &str) -> Option<Decoding> {
        Decoding::ALL.into_iter().find(|d| d.name() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Decoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Decoding`]s.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DecodingSet(u8);

impl DecodingSet {
    pub const NONE: DecodingSet = DecodingSet(0);

    pub fn contains(self, decoding: Decoding) -> bool {
        self.0 & decoding.bit() != 0
    }

    pub fn insert(&mut self, decoding: Decoding) {
        self.0 |= decoding.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Decoding> {
        Decoding::ALL.into_iter().filter(move |d| self.contains(*d))
    }

    /// The same set without `base64`: the decodings that make one
    /// rewritten copy of the text (base64 runs are decoded on their own).
    pub(crate) fn text_only(self) -> DecodingSet {
        DecodingSet(self.0 & !Decoding::Base64.bit())
    }
}

impl FromIterator<Decoding> for DecodingSet {
    fn from_iter<I: IntoIterator<Item = Decoding>>(iter: I) -> Self {
        let mut set = DecodingSet::NONE;
        for decoding in iter {
            set.insert(decoding);
        }
        set
    }
}

impl fmt::Debug for DecodingSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// An inline example: text the rule must find (`hit`) or must not (`miss`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub expect: Expect,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Hit,
    Miss,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(template: Template, matched: &str) -> String {
        let mut out = Vec::new();
        template.expand_into("card", matched.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn template_placeholders_expand_per_character() {
        let template = Template {
            parts: vec![
                TemplatePart::Text("[".into()),
                TemplatePart::RuleName,
                TemplatePart::Text(":".into()),
                TemplatePart::First(2),
                TemplatePart::Text("…".into()),
                TemplatePart::Last(4),
                TemplatePart::Text("/".into()),
                TemplatePart::Len,
                TemplatePart::Text("]".into()),
            ],
        };
        assert_eq!(
            expand(template.clone(), "4111111111111111"),
            "[card:41…1111/16]"
        );
        assert_eq!(expand(template, "é1"), "[card:é1…é1/2]");
    }

    #[test]
    fn first_clause_that_covers_a_scope_decides() {
        let rule = RuleSpec {
            name: "r".into(),
            description: None,
            patterns: vec![],
            checks: vec![],
            unless_preceded_by: vec![],
            unless_followed_by: vec![],
            actions: vec![
                ActionClause {
                    side: Side::Request,
                    action: Action::Log,
                    scopes: [Scope::ToolResult].into_iter().collect(),
                },
                ActionClause {
                    side: Side::Request,
                    action: Action::Reject {
                        message: "no".into(),
                    },
                    scopes: ScopeSet::ALL,
                },
            ],
            examples: vec![],
            decode: DecodingSet::NONE,
            allow: vec![],
        };
        assert_eq!(
            rule.action_for(Side::Request, Scope::ToolResult),
            Some(&Action::Log)
        );
        assert_eq!(
            rule.action_for(Side::Request, Scope::User)
                .map(Action::name),
            Some("reject")
        );
        assert_eq!(rule.action_for(Side::Response, Scope::Assistant), None);
    }
}
