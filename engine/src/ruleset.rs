//! The compiled rule set and block scanning.
//!
//! All patterns of all rules compile into one pattern set; pattern IDs are
//! assigned in declaration order, so a lower ID means a rule declared
//! earlier. Three automata are built over that set, none looping over rules:
//!
//! - `leftmost`: a `meta::Regex` (leftmost-first, unanchored) whose only job
//!   is to find the leftmost position where any pattern matches. It brings
//!   the literal prefilters and the reverse DFA that finds match starts.
//! - `anchored`: a lazy DFA, anchored, `MatchKind::All`, that lists every
//!   (pattern, end) pair of the matches starting at one position; it never
//!   walks more than the longest pattern.
//! - `forward`: a lazy DFA, unanchored, `MatchKind::All`, with start states
//!   tagged, that the streaming scanner drives byte by byte to learn where
//!   the earliest still-live partial match can begin (see [`crate::stream`]).
//!
//! Lazy DFAs because the dense DFA of the whole unanchored set can blow up
//! with counted repetitions (`[A-Za-z0-9]{80,120}` in dozens of secrets);
//! each scanner keeps its own caches, so a cache clear never invalidates
//! another stream's state. Measured on the shipped packs (28 rules, 30
//! patterns): checking and compiling them, inline examples included, takes
//! 18 ms; a scanner's caches grow lazily and reached their 16 MiB cap
//! (16.3 MiB in all) after streaming the 16 MiB bench corpus, 750 KiB with
//! 200 generated rules. The cap is the price of not thrashing: the notes in
//! `shared/notes` measured 16 MB/s with the default 2 MiB.
//!
//! # Semantics (the oracle every mode must reproduce)
//!
//! Findings do not overlap and are chosen left to right: from the current
//! position, the leftmost start at which some *eligible* candidate exists
//! wins; at that start the longest candidate; at equal length the rule
//! declared first. A candidate is eligible when its rule applies to the
//! side and scope being scanned and every one of its checks passes. An
//! ineligible candidate hides nothing: the search goes on from the next
//! byte, not from its end.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::{meta, Anchored, Input, MatchKind};
use regex_syntax::hir::Hir;

use crate::checks;
use crate::pattern::{compile_pattern, PatternError};
use crate::spec::{Action, RuleSetSpec, RuleSpec, Scope, Side};

/// Lazy DFA cache per automaton and scanner. The default (2 MiB) thrashes
/// on the shipped packs; the memory is only taken as states are built.
const DFA_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Index of a rule in declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

impl RuleId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What happens to a finding's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    Reject,
    Mask,
    Log,
}

impl Disposition {
    pub(crate) fn of(action: &Action) -> Disposition {
        match action {
            Action::Reject { .. } => Disposition::Reject,
            Action::Mask { .. } => Disposition::Mask,
            Action::Log => Disposition::Log,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Disposition::Reject => "reject",
            Disposition::Mask => "mask",
            Disposition::Log => "log",
        }
    }
}

/// One match that counted: byte offsets into the scanned text (or stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Finding {
    pub rule: RuleId,
    pub start: usize,
    pub end: usize,
    pub disposition: Disposition,
}

/// The first rejecting finding of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub rule: RuleId,
    pub rule_name: String,
    pub message: String,
    pub finding: Finding,
}

/// The result of [`RuleSet::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to change (there may still be `log` findings).
    Clean,
    Masked(String),
    Rejected(Rejection),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub verdict: Verdict,
    /// Every finding up to the rejection, if any.
    pub findings: Vec<Finding>,
}

/// Why a rule set could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("rule `{rule}`, pattern {pattern}: {error}")]
    Pattern {
        rule: String,
        /// Index of the pattern within its rule.
        pattern: usize,
        error: PatternError,
    },
    #[error("rule `{rule}` has no pattern")]
    NoPattern { rule: String },
    #[error("the rule set is too large to compile: {0}")]
    Automaton(String),
}

/// An immutable, compiled rule set; cheap to clone and share across threads.
#[derive(Clone)]
pub struct RuleSet {
    pub(crate) inner: Arc<Compiled>,
}

pub(crate) struct Compiled {
    rules: Vec<RuleSpec>,
    /// Pattern ID → rule.
    pattern_rule: Vec<RuleId>,
    /// The longest any pattern can match, in bytes.
    pub(crate) max_len: usize,
    leftmost: meta::Regex,
    /// Per pattern with a `(?P<value>…)` group: a regex that recovers the
    /// group's span inside a match, since checks apply to the value only.
    value_regex: Vec<Option<meta::Regex>>,
    anchored: DFA,
    pub(crate) forward: DFA,
    spare_caches: Mutex<Vec<Caches>>,
}

/// The mutable search state one scan needs.
pub(crate) struct Caches {
    leftmost: meta::Cache,
    anchored: DfaCache,
    pub(crate) forward: DfaCache,
    candidates: Vec<Candidate>,
}

impl Caches {
    pub(crate) fn memory_usage(&self) -> usize {
        self.leftmost.memory_usage() + self.anchored.memory_usage() + self.forward.memory_usage()
    }
}

/// A candidate match: where it ends and which pattern made it.
#[derive(Clone, Copy)]
struct Candidate {
    pattern: usize,
    end: usize,
}

impl RuleSet {
    /// Compiles every pattern of every rule into one automaton.
    pub fn build(spec: RuleSetSpec) -> Result<RuleSet, BuildError> {
        let mut hirs: Vec<Hir> = Vec::new();
        let mut value_regex = Vec::new();
        let mut pattern_rule = Vec::new();
        let mut max_len = 0;
        for (index, rule) in spec.rules.iter().enumerate() {
            if rule.patterns.is_empty() {
                return Err(BuildError::NoPattern {
                    rule: rule.name.clone(),
                });
            }
            for (pattern_index, pattern) in rule.patterns.iter().enumerate() {
                let (hir, info) =
                    compile_pattern(pattern).map_err(|error| BuildError::Pattern {
                        rule: rule.name.clone(),
                        pattern: pattern_index,
                        error,
                    })?;
                max_len = max_len.max(info.max_len);
                value_regex.push(if rule.checks.is_empty() {
                    None
                } else {
                    value_regex_for(&hir)
                });
                hirs.push(hir);
                pattern_rule.push(RuleId(index as u32));
            }
        }
        let automaton_error = |err: &dyn std::fmt::Display| BuildError::Automaton(err.to_string());
        let leftmost = meta::Regex::builder()
            .configure(
                meta::Config::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .utf8_empty(false)
                    .hybrid_cache_capacity(DFA_CACHE_BYTES),
            )
            .build_many_from_hir(&hirs)
            .map_err(|e| automaton_error(&e))?;
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().shrink(false))
            .build_many_from_hir(&hirs)
            .map_err(|e| automaton_error(&e))?;
        let dfa_config = || {
            DFA::config()
                .match_kind(MatchKind::All)
                .cache_capacity(DFA_CACHE_BYTES)
                .skip_cache_capacity_check(true)
        };
        let anchored = DFA::builder()
            .configure(dfa_config())
            .build_from_nfa(nfa.clone())
            .map_err(|e| automaton_error(&e))?;
        let forward = DFA::builder()
            .configure(dfa_config().specialize_start_states(true))
            .build_from_nfa(nfa)
            .map_err(|e| automaton_error(&e))?;
        Ok(RuleSet {
            inner: Arc::new(Compiled {
                rules: spec.rules,
                pattern_rule,
                max_len,
                leftmost,
                value_regex,
                anchored,
                forward,
                spare_caches: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The rules, in declaration order.
    pub fn rules(&self) -> &[RuleSpec] {
        &self.inner.rules
    }

    pub fn rule(&self, id: RuleId) -> &RuleSpec {
        &self.inner.rules[id.index()]
    }

    pub fn rule_id(&self, name: &str) -> Option<RuleId> {
        self.inner
            .rules
            .iter()
            .position(|rule| rule.name == name)
            .map(|index| RuleId(index as u32))
    }

    /// The longest match any pattern can make, in bytes: the most a stream
    /// ever holds back (plus at most 3 bytes of an unfinished character).
    pub fn max_match_len(&self) -> usize {
        self.inner.max_len
    }

    pub fn pattern_count(&self) -> usize {
        self.inner.pattern_rule.len()
    }

    /// Every finding in `text` for rules that act on `side` and `scope`.
    pub fn findings(&self, side: Side, scope: Scope, text: &[u8]) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.with_caches(|inner, caches| {
            let eligible = |rule: RuleId| inner.rules[rule.index()].action_for(side, scope);
            let mut at = 0;
            while let Some((rule, span)) =
                inner.next_finding(caches, text, at, text.len(), true, &eligible)
            {
                let disposition = eligible(rule).map_or(Disposition::Log, Disposition::of);
                findings.push(Finding {
                    rule,
                    start: span.start,
                    end: span.end,
                    disposition,
                });
                at = span.end;
            }
        });
        findings
    }

    /// True when `rule` alone (its patterns and checks, whatever its
    /// actions) finds something in `text`: what inline examples test.
    pub fn rule_matches(&self, rule: RuleId, text: &[u8]) -> bool {
        self.with_caches(|inner, caches| {
            let only = |candidate: RuleId| (candidate == rule).then_some(&Action::Log);
            inner
                .next_finding(caches, text, 0, text.len(), true, &only)
                .is_some()
        })
    }

    /// Scans `text` as one block and applies the actions: the first
    /// rejecting finding rejects; otherwise masks are spliced in.
    pub fn apply(&self, side: Side, scope: Scope, text: &str) -> Applied {
        let mut findings = self.findings(side, scope, text.as_bytes());
        if let Some(index) = findings
            .iter()
            .position(|f| f.disposition == Disposition::Reject)
        {
            findings.truncate(index + 1);
            let rejection = self.inner.rejection(side, scope, findings[index]);
            return Applied {
                verdict: Verdict::Rejected(rejection),
                findings,
            };
        }
        if !findings.iter().any(|f| f.disposition == Disposition::Mask) {
            return Applied {
                verdict: Verdict::Clean,
                findings,
            };
        }
        let mut out = Vec::with_capacity(text.len());
        let mut copied = 0;
        for finding in &findings {
            out.extend_from_slice(&text.as_bytes()[copied..finding.start]);
            self.inner
                .write_finding(side, scope, finding, text.as_bytes(), &mut out);
            copied = finding.end;
        }
        out.extend_from_slice(&text.as_bytes()[copied..]);
        // Masks are built from valid UTF-8 and matches never split a
        // character, so this conversion is lossless.
        let masked = String::from_utf8_lossy(&out).into_owned();
        Applied {
            verdict: Verdict::Masked(masked),
            findings,
        }
    }

    fn with_caches<R>(&self, f: impl FnOnce(&Compiled, &mut Caches) -> R) -> R {
        let mut caches = self.inner.take_caches();
        let result = f(&self.inner, &mut caches);
        self.inner.return_caches(caches);
        result
    }
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.inner.rules.len())
            .field("patterns", &self.inner.pattern_rule.len())
            .field("max_len", &self.inner.max_len)
            .finish()
    }
}

impl Compiled {
    pub(crate) fn new_caches(&self) -> Caches {
        Caches {
            leftmost: self.leftmost.create_cache(),
            anchored: DfaCache::new(&self.anchored),
            forward: DfaCache::new(&self.forward),
            candidates: Vec::new(),
        }
    }

    pub(crate) fn take_caches(&self) -> Caches {
        let spare = self
            .spare_caches
            .lock()
            .map(|mut spare| spare.pop())
            .unwrap_or(None);
        spare.unwrap_or_else(|| self.new_caches())
    }

    pub(crate) fn return_caches(&self, caches: Caches) {
        if let Ok(mut spare) = self.spare_caches.lock() {
            // A handful is enough for the block API's concurrent callers.
            if spare.len() < 16 {
                spare.push(caches);
            }
        }
    }

    pub(crate) fn rule(&self, id: RuleId) -> &RuleSpec {
        &self.rules[id.index()]
    }

    /// The rejection a rejecting finding stands for.
    pub(crate) fn rejection(&self, side: Side, scope: Scope, finding: Finding) -> Rejection {
        let rule = self.rule(finding.rule);
        let message = match rule.action_for(side, scope) {
            Some(Action::Reject { message }) => message.clone(),
            _ => String::new(),
        };
        Rejection {
            rule: finding.rule,
            rule_name: rule.name.clone(),
            message,
            finding,
        }
    }

    /// Appends what a finding becomes in the output: the mask, or the
    /// original text for `log` (and for `reject`, which callers stop at).
    pub(crate) fn write_finding(
        &self,
        side: Side,
        scope: Scope,
        finding: &Finding,
        hay: &[u8],
        out: &mut Vec<u8>,
    ) {
        let rule = self.rule(finding.rule);
        let matched = &hay[finding.start..finding.end];
        match rule.action_for(side, scope) {
            Some(Action::Mask { template }) => template.expand_into(&rule.name, matched, out),
            _ => out.extend_from_slice(matched),
        }
    }

    /// The next finding whose start lies in `from..horizon`.
    ///
    /// `hay[..from]` is context only (look-behind). When `eoi` is false the
    /// end of `hay` is not the end of the text: the caller guarantees that
    /// every match starting before `horizon` ends before `hay.len()`, so
    /// none of them depends on what comes after.
    pub(crate) fn next_finding<'a>(
        &self,
        caches: &mut Caches,
        hay: &[u8],
        mut from: usize,
        horizon: usize,
        eoi: bool,
        eligible: &dyn Fn(RuleId) -> Option<&'a Action>,
    ) -> Option<(RuleId, Range<usize>)> {
        while from < horizon {
            let input = Input::new(hay).range(from..);
            let start = self
                .leftmost
                .search_with(&mut caches.leftmost, &input)?
                .start();
            if start >= horizon {
                return None;
            }
            if let Some(found) = self.best_at(caches, hay, start, eoi, eligible) {
                return Some(found);
            }
            from = start + 1;
        }
        None
    }

    /// The winning eligible candidate among all matches starting at `start`.
    fn best_at<'a>(
        &self,
        caches: &mut Caches,
        hay: &[u8],
        start: usize,
        eoi: bool,
        eligible: &dyn Fn(RuleId) -> Option<&'a Action>,
    ) -> Option<(RuleId, Range<usize>)> {
        // The buffer lives in the caches so that a search allocates once.
        let mut candidates = std::mem::take(&mut caches.candidates);
        candidates.clear();
        self.candidates_at(caches, hay, start, eoi, &mut candidates);
        // Longest first; at equal length the earlier pattern, hence rule.
        candidates.sort_unstable_by(|a, b| b.end.cmp(&a.end).then(a.pattern.cmp(&b.pattern)));
        let best = candidates.iter().find_map(|&candidate| {
            let rule_id = self.pattern_rule[candidate.pattern];
            eligible(rule_id)?;
            let rule = &self.rules[rule_id.index()];
            let checked = self.checked_span(hay, start, candidate);
            checks::all_pass(&rule.checks, &hay[checked]).then_some((rule_id, start..candidate.end))
        });
        caches.candidates = candidates;
        best
    }

    /// What a check looks at: the `value` group when the pattern has one,
    /// otherwise the whole match. The group is recovered on the match's own
    /// bytes (plus the byte before, for look-behind), so the answer is the
    /// same in block and streaming mode.
    fn checked_span(&self, hay: &[u8], start: usize, candidate: Candidate) -> Range<usize> {
        let whole = start..candidate.end;
        let Some(regex) = &self.value_regex[candidate.pattern] else {
            return whole;
        };
        let mut caps = regex.create_captures();
        let input = Input::new(&hay[..candidate.end])
            .range(start..)
            .anchored(Anchored::Yes);
        regex.search_captures(&input, &mut caps);
        caps.get_group_by_name("value")
            .map_or(whole, |span| span.start..span.end)
    }

    fn candidates_at(
        &self,
        caches: &mut Caches,
        hay: &[u8],
        start: usize,
        eoi: bool,
        out: &mut Vec<Candidate>,
    ) {
        let dfa = &self.anchored;
        let cache = &mut caches.anchored;
        let config = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(start.checked_sub(1).map(|i| hay[i]));
        let Ok(mut sid) = dfa.start_state(cache, &config) else {
            return;
        };
        // Matches are reported one byte late: the state after reading the
        // byte at `at` tells of matches that end at `at`.
        let last = hay.len().min(start + self.max_len + 1);
        let mut at = start;
        while at < last {
            sid = next(dfa, cache, sid, hay[at]);
            if sid.is_tagged() {
                if sid.is_match() {
                    push_matches(dfa, cache, sid, at, out);
                }
                if sid.is_dead() {
                    return;
                }
            }
            at += 1;
        }
        if eoi && at == hay.len() {
            let sid = next_eoi(dfa, cache, sid);
            if sid.is_match() {
                push_matches(dfa, cache, sid, at, out);
            }
        }
    }
}

/// A regex for the `value` group of a pattern, anchored to end where the
/// match ends, or `None` when the pattern has no such group.
fn value_regex_for(hir: &Hir) -> Option<meta::Regex> {
    if hir.properties().explicit_captures_len() == 0 {
        return None;
    }
    let anchored_to_end = Hir::concat(vec![hir.clone(), Hir::look(regex_syntax::hir::Look::End)]);
    let regex = meta::Regex::builder()
        .build_from_hir(&anchored_to_end)
        .ok()?;
    let has_value_group = regex
        .group_info()
        .to_index(regex_automata::PatternID::ZERO, "value")
        .is_some();
    has_value_group.then_some(regex)
}

fn push_matches(
    dfa: &DFA,
    cache: &DfaCache,
    sid: LazyStateID,
    end: usize,
    out: &mut Vec<Candidate>,
) {
    for index in 0..dfa.match_len(cache, sid) {
        out.push(Candidate {
            pattern: dfa.match_pattern(cache, sid, index).as_usize(),
            end,
        });
    }
}

/// One lazy DFA step. A `CacheError` has only two causes, quit bytes and a
/// limit on cache clears, and the DFAs are built with neither, so it cannot
/// occur.
#[inline]
pub(crate) fn next(dfa: &DFA, cache: &mut DfaCache, sid: LazyStateID, byte: u8) -> LazyStateID {
    dfa.next_state(cache, sid, byte)
        .expect("lazy DFA without quit bytes or clear limit cannot fail")
}

pub(crate) fn next_eoi(dfa: &DFA, cache: &mut DfaCache, sid: LazyStateID) -> LazyStateID {
    dfa.next_eoi_state(cache, sid)
        .expect("lazy DFA without quit bytes or clear limit cannot fail")
}
