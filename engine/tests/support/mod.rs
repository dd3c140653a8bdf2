//! Shared by the engine's integration tests: rule sets written as data, and
//! an oracle that computes the block semantics the slow, obvious way.

#![allow(dead_code)]

use regex_automata::{meta, Anchored, Input, MatchKind};
use rulegate_engine::{
    Action, ActionClause, Check, DecodingSet, PatternFlags, PatternKind, PatternSpec, RuleSet,
    RuleSetSpec, RuleSpec, Scope, ScopeSet, Side, Template, TemplatePart,
};

pub fn regex(source: &str) -> PatternSpec {
    PatternSpec {
        kind: PatternKind::Regex(source.into()),
        flags: PatternFlags::default(),
    }
}

pub fn literal(text: &str, nocase: bool, word: bool) -> PatternSpec {
    PatternSpec {
        kind: PatternKind::Literal(text.into()),
        flags: PatternFlags {
            case_insensitive: nocase,
            word,
            ..PatternFlags::default()
        },
    }
}

pub fn mask_all(template: &str) -> Vec<ActionClause> {
    Side::ALL
        .into_iter()
        .map(|side| ActionClause {
            side,
            action: Action::Mask {
                template: Template {
                    parts: vec![
                        TemplatePart::Text(format!("[{template}:")),
                        TemplatePart::RuleName,
                        TemplatePart::Text("]".into()),
                    ],
                },
            },
            scopes: ScopeSet::ALL,
        })
        .collect()
}

pub fn rule(name: &str, patterns: Vec<PatternSpec>, checks: Vec<Check>) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        description: None,
        patterns,
        checks,
        unless_preceded_by: vec![],
        unless_followed_by: vec![],
        actions: mask_all("x"),
        examples: vec![],
        decode: DecodingSet::NONE,
        allow: vec![],
    }
}

/// A rule set whose patterns overlap in every way the semantics care about:
/// same start different lengths, prefixes, word boundaries, checks that
/// fail on the longest candidate, non-ASCII literals, line anchors.
pub fn tricky_spec() -> RuleSetSpec {
    // Log-only, and longer than `abcd` at the same start (`abcdec`): a
    // rule that masks wins there all the same.
    let mut logged = rule(
        "logged",
        vec![literal("ab", false, false), regex("ab[c-e]{2,5}")],
        vec![],
    );
    logged.actions = vec![ActionClause {
        side: Side::Response,
        action: Action::Log,
        scopes: ScopeSet::ALL,
    }];
    let mut request_only = rule("request-only", vec![literal("bcd", false, false)], vec![]);
    // Exceptions by the text before: short and long ones, a boundary at
    // the context's start, and one that is part of a longer dotted run.
    let mut dotted = rule("dotted", vec![regex(r"\b\d{1,3}\.\d{1,3}\b")], vec![]);
    dotted.unless_preceded_by = vec![
        regex(r"(?i)\bver[ :]{0,2}"),
        literal("revision ", true, false),
        regex(r"\d\."),
    ];
    request_only
        .actions
        .retain(|clause| clause.side == Side::Request);
    // Exceptions by the text after: a literal, a boundary at the
    // pattern's end (it needs the byte after it), and the end of a line
    // (or of the text).
    let mut key = rule(
        "key",
        vec![regex(r"sk-[a-z0-9]{4,12}"), regex(r"AKIA[A-Z0-9]{8}")],
        vec![],
    );
    key.unless_followed_by = vec![
        regex(r"(?i)\.example\b"),
        regex(r"_t\b"),
        regex(r"(?m)[ ]{0,2}:$"),
    ];
    // Run patterns (counted, in no forward shard): every byte in one
    // class, at least 20 bytes, and an exception for any byte of the class
    // right after. One of one length; one of a range of lengths with a
    // check on a group, an exception before and one more after it.
    let mut run = rule("run", vec![regex(r"[a-d0-9]{20}")], vec![]);
    run.unless_followed_by = vec![regex(r"[a-d0-9]")];
    let mut ranged_run = rule(
        "ranged-run",
        vec![regex(r"\b[a-z]{4}(?P<value>[a-z]{16,24})")],
        vec![Check::Entropy { min_bits: 2.5 }],
    );
    ranged_run.unless_preceded_by = vec![literal("_", false, false)];
    ranged_run.unless_followed_by = vec![regex(r"[a-z]"), literal("_t", false, false)];
    // A class no other pattern stays alive in: while its run is open only
    // the run pattern keeps a stream from releasing it.
    let mut upper_run = rule("upper-run", vec![regex(r"[A-Z]{20}")], vec![]);
    upper_run.unless_followed_by = vec![regex(r"[A-Z]")];
    RuleSetSpec {
        rules: vec![
            key,
            rule(
                "card",
                vec![regex(r"\b(?:\d[ -]?){6,10}\d\b")],
                vec![Check::Luhn],
            ),
            rule(
                "email",
                vec![regex(r"[a-z0-9.]{1,8}@[a-z0-9]{1,8}\.[a-z]{2,3}")],
                vec![],
            ),
            rule(
                "terms",
                vec![
                    literal("credit card", true, true),
                    literal("c++", false, true),
                ],
                vec![],
            ),
            rule("abcd", vec![literal("abcd", false, false)], vec![]),
            logged,
            request_only,
            rule("b", vec![literal("b", false, false)], vec![]),
            rule("accent", vec![literal("café", true, false)], vec![]),
            rule("line", vec![regex(r"(?m)^#{2}[a-z]{1,4}$")], vec![]),
            rule(
                "dense",
                vec![regex(r"[a-z]{3}\d{2,4}")],
                vec![Check::Entropy { min_bits: 2.3 }],
            ),
            dotted,
            // Checks on a `value` group: after a prefix whose shortest
            // form is 3 bytes (the checked bytes start at least that far
            // in), and one with an assertion at its end (the group may not
            // be recovered on the match's own bytes: the whole is checked).
            rule(
                "assigned",
                vec![
                    regex(r"(?:pin|pw)[ =:]{1,3}(?P<value>[a-z0-9@.]{2,10})"),
                    regex(r"tok(?P<value>[a-z0-9]{2,8})\B"),
                    // Many places to split `pw=abc1`: the group is where
                    // the highest-priority way of matching puts it (here
                    // the shortest prefix, not the longest).
                    regex(r"pw[=a-c]{1,3}?(?P<value>[a-z0-9]{2,8})"),
                    // An assertion after the group, at the match's end.
                    regex(r"pin[=a-c]{1,3}(?P<value>[a-z0-9]{2,8})\B"),
                    // The group in the middle, where it ends ambiguous
                    // (`pw=abc1.`) or not (`pw=xyz1.`).
                    regex(r"pw=(?P<value>[a-z0-9]{2,8}?)[a-c1]{1,2}\."),
                ],
                // Two classes: a value of letters alone is refused, and
                // a shorter candidate at the same start may still count.
                vec![Check::Entropy { min_bits: 2.0 }, Check::Classes { min: 2 }],
            ),
            run,
            ranged_run,
            upper_run,
        ],
    }
}

/// [`tricky_spec`] without its `unless followed by` patterns: a stream
/// then holds only what a match still open needs.
pub fn tricky_set_without_look_ahead() -> RuleSet {
    let mut spec = tricky_spec();
    for rule in &mut spec.rules {
        rule.unless_followed_by.clear();
    }
    RuleSet::build(spec).expect("tricky spec builds")
}

pub fn tricky_set() -> RuleSet {
    RuleSet::build(tricky_spec()).expect("tricky spec builds")
}

/// One finding as the oracle sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OracleFinding {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
}

struct OraclePattern {
    rule: usize,
    regex: meta::Regex,
    max_len: usize,
    /// The pattern followed by `\z`: run on a candidate's own bytes (and
    /// the byte before), its `value` group is what the checks see.
    at_end: meta::Regex,
}

/// The block semantics of `ruleset.rs`, transcribed literally: at each
/// position, every end of every pattern is enumerated with a separate
/// single-pattern regex (leftmost-longest within a shrinking span, so the
/// hay outside the span still provides look-around context).
pub struct Oracle {
    spec: RuleSetSpec,
    patterns: Vec<OraclePattern>,
    /// Per rule, its `unless preceded by` patterns, each to be anchored
    /// both at a start and at the end of the text before a candidate.
    contexts: Vec<Vec<meta::Regex>>,
    /// Per rule, its `unless followed by` patterns, to be anchored where a
    /// candidate ends, with all the text after it in view.
    follows: Vec<Vec<meta::Regex>>,
}

impl Oracle {
    pub fn new(spec: &RuleSetSpec) -> Oracle {
        let mut patterns = Vec::new();
        for (rule_index, rule) in spec.rules.iter().enumerate() {
            for pattern in &rule.patterns {
                let info = rulegate_engine::analyze_pattern(pattern).expect("valid pattern");
                let hir = compile_hir(pattern);
                let regex = meta::Regex::builder()
                    .configure(meta::Config::new().match_kind(MatchKind::All))
                    .build_from_hir(&hir)
                    .expect("oracle regex builds");
                let at_end = meta::Regex::new_many(&[format!(
                    r"(?:{})\z",
                    rulegate_engine::pattern_regex(pattern).expect("valid pattern")
                )])
                .expect("oracle value regex builds");
                patterns.push(OraclePattern {
                    rule: rule_index,
                    regex,
                    max_len: info.max_len,
                    at_end,
                });
            }
        }
        let contexts = spec
            .rules
            .iter()
            .map(|rule| {
                rule.unless_preceded_by
                    .iter()
                    .map(|pattern| {
                        let at_end = regex_syntax::hir::Hir::concat(vec![
                            compile_hir(pattern),
                            regex_syntax::hir::Hir::look(regex_syntax::hir::Look::End),
                        ]);
                        meta::Regex::builder()
                            .build_from_hir(&at_end)
                            .expect("oracle context regex builds")
                    })
                    .collect()
            })
            .collect();
        let follows = spec
            .rules
            .iter()
            .map(|rule| {
                rule.unless_followed_by
                    .iter()
                    .map(|pattern| {
                        meta::Regex::builder()
                            .build_from_hir(&compile_hir(pattern))
                            .expect("oracle follow regex builds")
                    })
                    .collect()
            })
            .collect();
        Oracle {
            spec: spec.clone(),
            patterns,
            contexts,
            follows,
        }
    }

    pub fn findings(&self, side: Side, scope: Scope, hay: &[u8]) -> Vec<OracleFinding> {
        let mut found = Vec::new();
        let mut start = 0;
        while start < hay.len() {
            match self.best_at(side, scope, hay, start) {
                Some(best) => {
                    start = best.end;
                    found.push(best);
                }
                None => start += 1,
            }
        }
        found
    }

    /// Per rule, its longest candidate at `start` that passes its checks
    /// (over all its patterns); the rule counts there only when that
    /// candidate is not excepted by the text before or after it. The
    /// longest of those wins, the earlier rule at equal length.
    fn best_at(&self, side: Side, scope: Scope, hay: &[u8], start: usize) -> Option<OracleFinding> {
        let mut longest: Vec<Option<usize>> = vec![None; self.spec.rules.len()];
        for pattern in &self.patterns {
            let (rule_index, regex, max_len) = (&pattern.rule, &pattern.regex, &pattern.max_len);
            let rule = &self.spec.rules[*rule_index];
            if rule.action_for(side, scope).is_none() {
                continue;
            }
            let mut limit = hay.len().min(start + max_len);
            while limit > start {
                let input = Input::new(hay).range(start..limit).anchored(Anchored::Yes);
                let Some(m) = regex.search(&input) else { break };
                let end = m.end();
                let checked = pattern.checked(hay, start, end);
                let passes = rule
                    .checks
                    .iter()
                    .all(|check| check_passes(*check, &hay[checked.clone()]));
                if passes {
                    let slot = &mut longest[*rule_index];
                    *slot = Some(slot.map_or(end, |e| e.max(end)));
                    break;
                }
                limit = end - 1;
            }
        }
        let mut best: Option<(bool, OracleFinding)> = None;
        for (rule, end) in longest.into_iter().enumerate() {
            let Some(end) = end else { continue };
            if self.preceded_by_exception(rule, hay, start)
                || self.followed_by_exception(rule, hay, end)
            {
                continue;
            }
            let acts = !matches!(
                self.spec.rules[rule].action_for(side, scope),
                Some(Action::Log)
            );
            if best
                .as_ref()
                .is_none_or(|(b_acts, b)| (acts, end) > (*b_acts, b.end))
            {
                best = Some((acts, OracleFinding { rule, start, end }));
            }
        }
        best.map(|(_, finding)| finding)
    }
}

impl OraclePattern {
    /// The `value` group of the match `start..end` when the pattern has
    /// one and it takes part, else the whole match.
    fn checked(&self, hay: &[u8], start: usize, end: usize) -> std::ops::Range<usize> {
        let mut caps = self.at_end.create_captures();
        let input = Input::new(&hay[..end])
            .range(start..)
            .anchored(Anchored::Yes);
        self.at_end.search_captures(&input, &mut caps);
        caps.get_group_by_name("value")
            .map_or(start..end, |span| span.start..span.end)
    }
}

impl Oracle {
    /// Some `unless preceded by` pattern of the rule matches text that
    /// begins anywhere before `start` (no look-back limit) and ends at it.
    fn preceded_by_exception(&self, rule: usize, hay: &[u8], start: usize) -> bool {
        self.contexts[rule].iter().any(|regex| {
            (0..start).any(|from| {
                let input = Input::new(&hay[..start])
                    .range(from..)
                    .anchored(Anchored::Yes);
                regex.is_match(input)
            })
        })
    }

    /// Some `unless followed by` pattern of the rule matches text that
    /// starts at `end` (no look-ahead limit).
    fn followed_by_exception(&self, rule: usize, hay: &[u8], end: usize) -> bool {
        self.follows[rule]
            .iter()
            .any(|regex| regex.is_match(Input::new(hay).range(end..).anchored(Anchored::Yes)))
    }
}

fn check_passes(check: Check, text: &[u8]) -> bool {
    match check {
        Check::Luhn => rulegate_engine::luhn(text),
        Check::Mod97 => rulegate_engine::mod97(text),
        Check::Entropy { min_bits } => rulegate_engine::shannon_entropy(text) >= min_bits,
        Check::Classes { min } => rulegate_engine::char_classes(text) >= min,
    }
}

/// The oracle compiles through the engine's own pattern front end (the
/// ASCII rewrite is part of the meaning of a pattern, not of the matcher).
fn compile_hir(pattern: &PatternSpec) -> regex_syntax::hir::Hir {
    let printed = rulegate_engine::pattern_regex(pattern).expect("valid pattern");
    regex_syntax::Parser::new()
        .parse(&printed)
        .expect("the engine prints patterns in regex syntax")
}

/// Feeds `text` cut at `cuts` (sorted offsets, may repeat to make empty
/// chunks) and returns each release and the final flush.
pub fn stream_with_cuts(
    set: &RuleSet,
    side: Side,
    scope: Scope,
    text: &[u8],
    cuts: &[usize],
) -> (
    Vec<Vec<u8>>,
    Result<(), rulegate_engine::Rejection>,
    Vec<rulegate_engine::Finding>,
) {
    let mut scanner = set.scanner(side, scope);
    let mut releases = Vec::new();
    let mut last = 0;
    let bound = set.max_held();
    // Pushes rotate among the pool and two caches of their own, and both
    // also serve block searches in between, so every cutting also proves
    // that a scanner re-derives its states in a cache that is not the one
    // it left them in, or that another search used (and perhaps cleared)
    // since its last push, even when it is the same cache.
    let mut caches = [set.create_cache(), set.create_cache()];
    for (index, &cut) in cuts.iter().chain(std::iter::once(&text.len())).enumerate() {
        let mut out = Vec::new();
        let piece = &text[last..cut];
        let pushed = match index % 5 {
            0 => scanner.push(piece, &mut out),
            1 => scanner.push_with(&mut caches[0], piece, &mut out),
            2 => {
                let _ = set.findings_with(&mut caches[1], side, scope, piece);
                scanner.push_with(&mut caches[1], piece, &mut out)
            }
            3 => scanner.push_with(&mut caches[0], piece, &mut out),
            _ => {
                // The cache of the push before, used by a block search
                // over the whole text in between.
                let _ = set.findings_with(&mut caches[0], side, scope, text);
                scanner.push_with(&mut caches[0], piece, &mut out)
            }
        };
        assert!(
            scanner.held() <= bound,
            "held {} bytes, bound {bound}",
            scanner.held()
        );
        releases.push(out);
        last = cut;
        if let Err(rejection) = pushed {
            return (releases, Err(rejection), scanner.take_findings());
        }
    }
    let mut out = Vec::new();
    let finished = scanner.finish(&mut out);
    releases.push(out);
    assert_eq!(scanner.held(), 0);
    (releases, finished, scanner.take_findings())
}
