//! The compiled rule set and block scanning.
//!
//! All patterns of all rules compile into one pattern set; pattern IDs are
//! assigned in declaration order, so a lower ID means a rule declared
//! earlier. Two automata are built over that set, none looping over rules:
//!
//! - `forward`: a lazy DFA, unanchored, `MatchKind::All`, with start states
//!   tagged, built from the patterns without repetition upper bounds (see
//!   [`without_upper_bounds`]) and split into shards stepped side by side
//!   (see [`PATTERNS_PER_SHARD`]). Driven byte by byte it tells the earliest end of any match and
//!   the last position before it where no partial match was alive; every
//!   match that starts before that end starts after that position. The
//!   streaming scanner drives it too, to learn how much it must hold back
//!   (see [`crate::stream`]).
//! - `anchored`: a lazy DFA, anchored, `MatchKind::All`, that lists every
//!   (pattern, end) pair of the matches starting at one position; it never
//!   walks more than the longest pattern. Tried at each position of the
//!   window the forward DFA gives, left to right, it finds the leftmost
//!   start.
//!
//! No reverse automaton: the reverse DFA of a meta regex (which this engine
//! used first) has to run back over every long alphanumeric run, and with
//! dozens of counted repetitions its states exploded; on the 68 shipped
//! rules a whole block scan ran at 0.05 MB/s, determinizing all the time.
//!
//! Lazy DFAs because the dense DFA of the whole unanchored set can blow up
//! with counted repetitions (`[A-Za-z0-9]{80,120}` in dozens of secrets);
//! each scanner keeps its own forward caches, so a cache clear never
//! invalidates another stream's state. The anchored DFA's cache (the
//! largest: about 1.4 MiB of the shipped packs' 1.9 MiB per cache set) is
//! not a scanner's: an anchored search starts afresh at each candidate
//! start, so a scanner borrows one from the pool only while it decides
//! held bytes, and a stream waiting on the model holds its forward caches
//! alone (about 0.2 MiB). The caches grow lazily up to a cap (16 MiB for
//! the anchored DFA, an equal share of 16 MiB per forward shard, at least
//! 2 MiB); the cap is the price of not thrashing: the notes in
//! `shared/notes` measured 16 MB/s with the default 2 MiB on one DFA.
//!
//! # Semantics (the oracle every mode must reproduce)
//!
//! Findings do not overlap and are chosen left to right: from the current
//! position, the leftmost start at which some *eligible* candidate exists
//! wins; at that start the longest candidate; at equal length the rule
//! declared first. A candidate is eligible when its rule applies to the
//! side and scope being scanned, every one of its checks passes, and the
//! text before its start does not end with a match of one of the rule's
//! `unless preceded by` patterns (looking back at most the longest of
//! them, so a stream needs only that much text before what it holds). An
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
use crate::spec::{Action, RuleSetSpec, RuleSpec, Scope, Side, Template};

/// Lazy DFA cache per automaton and scanner. The default (2 MiB) thrashes
/// on the shipped packs; the memory is only taken as states are built.
const DFA_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Patterns per forward DFA shard, for patterns that can begin anywhere
/// (those behind a literal prefix share one shard). One unanchored DFA over
/// every pattern must track every combination of partial matches; on the 68
/// shipped rules (100 patterns) that was more states than a 16 MiB cache
/// holds, and scanning dense secret-laden text fell to 0.5 MB/s,
/// determinizing. Shards keep each state space small at the price of one
/// table lookup per shard per byte.
const PATTERNS_PER_SHARD: usize = 16;

/// Heap an NFA may take (the meta regex's default): a pattern like
/// `.{1000}{1000}` is refused at build time, not compiled for a minute.
const NFA_SIZE_LIMIT: usize = 10 * 1024 * 1024;

/// A shard's cache share of [`DFA_CACHE_BYTES`] is never below this.
const MIN_SHARD_CACHE_BYTES: usize = 2 * 1024 * 1024;

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

/// The result of [`RuleSet::apply_all`]: every rejection, and the text as
/// it would read with every reject turned into a mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedAll {
    /// Every finding, rejecting ones included, in text order.
    pub findings: Vec<Finding>,
    /// One per rejecting finding, in text order.
    pub rejections: Vec<Rejection>,
    /// The masked text, each rejecting finding replaced by its rule's
    /// [fallback mask](RuleSet::fallback_mask); `None` when nothing would
    /// change.
    pub masked: Option<String>,
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
    #[error("rule `{rule}`, `unless preceded by` pattern {pattern}: {error}")]
    Context {
        rule: String,
        /// Index of the pattern within the rule's `unless preceded by` list.
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
    /// Per pattern with a `(?P<value>…)` group: a regex that recovers the
    /// group's span inside a match, since checks apply to the value only.
    value_regex: Vec<Option<meta::Regex>>,
    /// Per rule: its `unless preceded by` patterns as one regex that must
    /// end where the text ends, or `None` when it has none.
    preceded_by: Vec<Option<meta::Regex>>,
    /// The longest text an `unless preceded by` pattern can match: how far
    /// before a candidate the engine looks.
    pub(crate) context_len: usize,
    anchored: DFA,
    /// The forward DFA, in shards of at most [`PATTERNS_PER_SHARD`]
    /// patterns, stepped side by side.
    pub(crate) forward: Vec<DFA>,
    spare_caches: Mutex<Vec<Caches>>,
    /// Forward caches of scanners that ended, warmed, for the next ones.
    spare_forward: Mutex<Vec<Vec<DfaCache>>>,
}

/// The mutable search state one block search (or one scanner's decision)
/// needs; none of it carries over from one search to the next.
pub(crate) struct Caches {
    anchored: DfaCache,
    /// The forward shards' caches for finding matches, apart from any
    /// scanner's: clearing one must not invalidate a scanner's state.
    search: Vec<DfaCache>,
    /// Each `search` cache's clear count when its start states were last
    /// tagged.
    search_clears: Vec<Option<usize>>,
    /// Scratch for `earliest_end`: each shard's state and window.
    search_sids: Vec<LazyStateID>,
    search_windows: Vec<usize>,
    candidates: Vec<Candidate>,
}

/// [`Caches`] borrowed from the pool for one search.
pub(crate) struct PooledCaches<'a> {
    set: &'a Compiled,
    caches: Option<Caches>,
}

impl std::ops::Deref for PooledCaches<'_> {
    type Target = Caches;

    fn deref(&self) -> &Caches {
        self.caches.as_ref().expect("held until drop")
    }
}

impl std::ops::DerefMut for PooledCaches<'_> {
    fn deref_mut(&mut self) -> &mut Caches {
        self.caches.as_mut().expect("held until drop")
    }
}

impl Drop for PooledCaches<'_> {
    fn drop(&mut self) {
        if let Some(caches) = self.caches.take() {
            self.set.return_caches(caches);
        }
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
        RuleSet::build_sharded(spec, PATTERNS_PER_SHARD)
    }

    /// [`RuleSet::build`] with a chosen number of patterns per forward DFA
    /// shard (at least one). The result is the same for every choice; only
    /// speed differs. Tests use it to exercise many shards with few rules.
    #[doc(hidden)]
    pub fn build_sharded(
        spec: RuleSetSpec,
        patterns_per_shard: usize,
    ) -> Result<RuleSet, BuildError> {
        let patterns_per_shard = patterns_per_shard.max(1);
        let mut hirs: Vec<Hir> = Vec::new();
        let mut value_regex = Vec::new();
        let mut pattern_rule = Vec::new();
        let mut max_len = 0;
        let mut preceded_by = Vec::new();
        let mut context_len = 0;
        for (index, rule) in spec.rules.iter().enumerate() {
            let (regex, len) = context_regex(rule)?;
            preceded_by.push(regex);
            context_len = context_len.max(len);
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
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .shrink(false)
                    .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
            )
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
        let relaxed: Vec<Hir> = hirs.iter().map(without_upper_bounds).collect();
        // Patterns that begin with a distinctive literal (`ghp_`, `AKIA`)
        // are alive only after it, so they hardly ever combine: one shard
        // holds them all. Patterns that can begin anywhere (emails, card
        // numbers, keyword assignments) combine at every byte: they go in
        // small shards.
        let (prefixed, broad): (Vec<&Hir>, Vec<&Hir>) =
            relaxed.iter().partition(|hir| has_literal_prefix(hir));
        let mut groups: Vec<Vec<&Hir>> = Vec::new();
        if relaxed.len() <= patterns_per_shard {
            // Few enough to combine freely: one shard, one step per byte.
            groups.push(relaxed.iter().collect());
        } else {
            if !prefixed.is_empty() {
                groups.push(prefixed);
            }
            groups.extend(broad.chunks(patterns_per_shard).map(<[&Hir]>::to_vec));
        }
        let shard_cache = (DFA_CACHE_BYTES / groups.len().max(1)).max(MIN_SHARD_CACHE_BYTES);
        let forward = groups
            .iter()
            .map(|patterns| {
                let nfa = thompson::Compiler::new()
                    .configure(
                        thompson::Config::new()
                            .shrink(false)
                            .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
                    )
                    .build_many_from_hir(patterns)
                    .map_err(|e| automaton_error(&e))?;
                DFA::builder()
                    .configure(
                        dfa_config()
                            .cache_capacity(shard_cache)
                            .specialize_start_states(true),
                    )
                    .build_from_nfa(nfa)
                    .map_err(|e| automaton_error(&e))
            })
            .collect::<Result<Vec<DFA>, BuildError>>()?;
        Ok(RuleSet {
            inner: Arc::new(Compiled {
                rules: spec.rules,
                pattern_rule,
                max_len,
                value_regex,
                preceded_by,
                context_len,
                anchored,
                forward,
                spare_caches: Mutex::new(Vec::new()),
                spare_forward: Mutex::new(Vec::new()),
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

    /// How many forward DFA shards a scan steps per byte (for benchmarks).
    #[doc(hidden)]
    pub fn forward_shards(&self) -> usize {
        self.inner.forward.len()
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

    /// True when `rule` alone (its patterns, checks and exceptions, whatever its
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

    /// Like [`RuleSet::apply`], but goes on past a reject: lists every
    /// rejection and also gives the text with rejects masked, for a caller
    /// that rejects some texts and must still forward others (a chat's
    /// earlier turns, which the client resends every turn).
    pub fn apply_all(&self, side: Side, scope: Scope, text: &str) -> AppliedAll {
        let findings = self.findings(side, scope, text.as_bytes());
        let rejections: Vec<Rejection> = findings
            .iter()
            .filter(|f| f.disposition == Disposition::Reject)
            .map(|f| self.inner.rejection(side, scope, *f))
            .collect();
        if !findings.iter().any(|f| f.disposition != Disposition::Log) {
            return AppliedAll {
                findings,
                rejections,
                masked: None,
            };
        }
        let hay = text.as_bytes();
        let mut out = Vec::with_capacity(text.len());
        let mut copied = 0;
        for finding in &findings {
            out.extend_from_slice(&hay[copied..finding.start]);
            if finding.disposition == Disposition::Reject {
                let rule = self.inner.rule(finding.rule);
                let matched = &hay[finding.start..finding.end];
                self.fallback_mask(side, finding.rule)
                    .expand_into(&rule.name, matched, &mut out);
            } else {
                self.inner
                    .write_finding(side, scope, finding, hay, &mut out);
            }
            copied = finding.end;
        }
        out.extend_from_slice(&hay[copied..]);
        AppliedAll {
            findings,
            rejections,
            // Lossless, as in `apply`.
            masked: Some(String::from_utf8_lossy(&out).into_owned()),
        }
    }

    /// The mask a reject becomes where rejecting is not possible: the
    /// rule's first `mask` clause on `side` (whatever its scopes), else
    /// `[redacted:RULE]`.
    pub fn fallback_mask(&self, side: Side, rule: RuleId) -> std::borrow::Cow<'_, Template> {
        let spec = self.inner.rule(rule);
        let declared = spec.actions.iter().find_map(|clause| match &clause.action {
            Action::Mask { template } if clause.side == side => Some(template),
            _ => None,
        });
        match declared {
            Some(template) => std::borrow::Cow::Borrowed(template),
            None => std::borrow::Cow::Owned(Template::text(format!("[redacted:{}]", spec.name))),
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
            anchored: DfaCache::new(&self.anchored),
            search: self.forward.iter().map(DfaCache::new).collect(),
            search_clears: vec![None; self.forward.len()],
            search_sids: Vec::with_capacity(self.forward.len()),
            search_windows: Vec::with_capacity(self.forward.len()),
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

    /// Caches for one search, handed back when the guard drops.
    pub(crate) fn pooled_caches(&self) -> PooledCaches<'_> {
        PooledCaches {
            set: self,
            caches: Some(self.take_caches()),
        }
    }

    /// A scanner's forward caches: warmed ones if a scanner left some.
    pub(crate) fn take_forward(&self) -> Vec<DfaCache> {
        let spare = self
            .spare_forward
            .lock()
            .map(|mut spare| spare.pop())
            .unwrap_or(None);
        spare.unwrap_or_else(|| self.forward.iter().map(DfaCache::new).collect())
    }

    pub(crate) fn return_forward(&self, forward: Vec<DfaCache>) {
        if let Ok(mut spare) = self.spare_forward.lock() {
            // Enough to start a few streams warm; the rest goes back to
            // the allocator after a burst.
            if spare.len() < 16 {
                spare.push(forward);
            }
        }
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
            let (window, end) = self.earliest_end(caches, hay, from, eoi)?;
            // Every match that starts before `end` starts in `window..end`
            // (the one ending at `end` among them); try them left to right.
            let found =
                self.first_starting_in(caches, hay, window..end.min(horizon), eoi, eligible);
            if found.is_some() {
                return found;
            }
            // Every match starting before `end` was tried: start afresh.
            from = end;
        }
        None
    }

    /// [`Compiled::next_finding`] with the match ends already known: `ends`
    /// holds, in increasing order, every end a forward DFA run from the
    /// start of `hay`'s text (or earlier) reported past `from`, each with
    /// the last position before it where no shard had a live partial
    /// match. Every match that starts at or after `from` ends at one of
    /// them, and starts after the window of the first end past `from`
    /// (an earlier end would have been reported, a longer match would have
    /// been alive there), so trying the starts of each window in turn
    /// finds the leftmost finding, as `earliest_end` does in block mode.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn next_finding_among<'a>(
        &self,
        caches: &mut Caches,
        hay: &[u8],
        mut from: usize,
        horizon: usize,
        eoi: bool,
        eligible: &dyn Fn(RuleId) -> Option<&'a Action>,
        ends: impl IntoIterator<Item = (usize, usize)>,
    ) -> Option<(RuleId, Range<usize>)> {
        for (window, end) in ends {
            if from >= horizon {
                break;
            }
            if end <= from {
                continue;
            }
            let starts = window.max(from)..end.min(horizon);
            let found = self.first_starting_in(caches, hay, starts, eoi, eligible);
            if found.is_some() {
                return found;
            }
            from = end;
        }
        None
    }

    /// The winning eligible candidate at the leftmost of `starts` that has
    /// one.
    fn first_starting_in<'a>(
        &self,
        caches: &mut Caches,
        hay: &[u8],
        starts: Range<usize>,
        eoi: bool,
        eligible: &dyn Fn(RuleId) -> Option<&'a Action>,
    ) -> Option<(RuleId, Range<usize>)> {
        starts
            .into_iter()
            .find_map(|start| self.best_at(caches, hay, start, eoi, eligible))
    }

    /// From `from`, the earliest end of any match, with the last position
    /// before it at which no partial match was alive (no match that starts
    /// earlier reaches past it). `None` when no match ends within `hay`.
    fn earliest_end(
        &self,
        caches: &mut Caches,
        hay: &[u8],
        from: usize,
        eoi: bool,
    ) -> Option<(usize, usize)> {
        let look_behind = from.checked_sub(1).map(|i| hay[i]);
        let config = start::Config::new()
            .anchored(Anchored::No)
            .look_behind(look_behind);
        caches.search_sids.clear();
        caches.search_windows.clear();
        for (shard, dfa) in self.forward.iter().enumerate() {
            let cache = &mut caches.search[shard];
            // Tagged start states make "nothing alive" a tag check (see
            // `tag_start_states`); an untagged one would only widen the
            // window.
            if caches.search_clears[shard] != Some(cache.clear_count()) {
                crate::stream::tag_start_states(dfa, cache);
                caches.search_clears[shard] = Some(cache.clear_count());
            }
            caches
                .search_sids
                .push(dfa.start_state(cache, &config).ok()?);
            caches.search_windows.push(from);
        }
        let window = |windows: &[usize]| windows.iter().copied().min().unwrap_or(from);
        for (at, &byte) in hay.iter().enumerate().skip(from) {
            let matched = step_shards(
                &self.forward,
                &mut caches.search,
                &mut caches.search_sids,
                &mut caches.search_windows,
                byte,
                at + 1,
            );
            if matched {
                // Reported one byte late: the match ended at `at`. Every
                // match starting before `at` is alive in its shard, so it
                // starts after that shard's window.
                return Some((window(&caches.search_windows), at));
            }
        }
        if eoi {
            for (shard, dfa) in self.forward.iter().enumerate() {
                let sid = caches.search_sids[shard];
                if next_eoi(dfa, &mut caches.search[shard], sid).is_match() {
                    return Some((window(&caches.search_windows), hay.len()));
                }
            }
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
            (checks::all_pass(&rule.checks, &hay[checked])
                && !self.preceded_by_exception(rule_id, hay, start))
            .then_some((rule_id, start..candidate.end))
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

    /// True when the text before `start` ends with a match of one of the
    /// rule's `unless preceded by` patterns. The search starts no earlier
    /// than the longest of them could reach (with the byte before that as
    /// look-behind), which is exactly what a stream keeps, so both modes
    /// see the same text.
    fn preceded_by_exception(&self, rule: RuleId, hay: &[u8], start: usize) -> bool {
        let Some(regex) = &self.preceded_by[rule.index()] else {
            return false;
        };
        let input = Input::new(&hay[..start]).range(start.saturating_sub(self.context_len)..);
        regex.is_match(input)
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

/// Whether every match of the pattern begins with one of a few literals of
/// at least three bytes.
fn has_literal_prefix(hir: &Hir) -> bool {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    // Not more: case-insensitive keywords (`password`, 256 spellings) then
    // join the prefixed shard, which measured 15% faster on the bench
    // corpus but thrashed its cache on text dense with secrets (2.8x
    // slower there, warm).
    extractor.kind(ExtractKind::Prefix).limit_total(64);
    let prefixes = extractor.extract(hir);
    prefixes.is_finite() && prefixes.min_literal_len().is_some_and(|len| len >= 3)
}

/// The pattern with every repetition's upper bound dropped (`x{2,64}`
/// becomes `x{2,}`), for the unanchored forward DFA.
///
/// Why: unanchored, a bounded repetition over a broad class (`[A-Za-z0-9]`)
/// makes the DFA count, for every pattern at once, how long the current run
/// is; the product of those counters over dozens of patterns is more states
/// than any cache holds, and the lazy DFA spent its time determinizing
/// (0.3 MB/s on the 68 shipped rules). Without upper bounds a run is one
/// state. It is safe because the relaxed language contains the exact one:
/// every exact match end is still reported (extra ends only cost an
/// anchored check, which is exact), and wherever an exact partial match is
/// alive a relaxed one is too, so "nothing alive" stays a true statement.
fn without_upper_bounds(hir: &Hir) -> Hir {
    use regex_syntax::hir::{Capture, HirKind, Repetition};
    match hir.kind() {
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: None,
            greedy: rep.greedy,
            sub: Box::new(without_upper_bounds(&rep.sub)),
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(without_upper_bounds(&cap.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(without_upper_bounds).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(without_upper_bounds).collect())
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => hir.clone(),
    }
}

/// A rule's `unless preceded by` patterns as one regex that only matches
/// at the end of the text, with the longest of them; `(None, 0)` when it
/// has none.
fn context_regex(rule: &RuleSpec) -> Result<(Option<meta::Regex>, usize), BuildError> {
    if rule.unless_preceded_by.is_empty() {
        return Ok((None, 0));
    }
    let mut hirs = Vec::new();
    let mut longest = 0;
    for (index, pattern) in rule.unless_preceded_by.iter().enumerate() {
        let (hir, info) = compile_pattern(pattern).map_err(|error| BuildError::Context {
            rule: rule.name.clone(),
            pattern: index,
            error,
        })?;
        longest = longest.max(info.max_len);
        hirs.push(hir);
    }
    let at_end = Hir::concat(vec![
        Hir::alternation(hirs),
        Hir::look(regex_syntax::hir::Look::End),
    ]);
    let regex = meta::Regex::builder()
        .configure(meta::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT)))
        .build_from_hir(&at_end)
        .map_err(|e| BuildError::Automaton(e.to_string()))?;
    Ok((Some(regex), longest))
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

/// One byte through every forward shard in lockstep: the shards' lookups
/// do not depend on one another, so the CPU overlaps their memory latency
/// (shard by shard over a chunk measured 1.5x slower). A shard back in its
/// start state records `idle_at` in `idle`. True when some shard reports a
/// match, which ended before this byte (matches are reported one byte
/// late); the reporting shard's `idle` is then not updated.
#[inline(always)]
pub(crate) fn step_shards(
    forward: &[DFA],
    caches: &mut [DfaCache],
    sids: &mut [LazyStateID],
    idle: &mut [usize],
    byte: u8,
    idle_at: usize,
) -> bool {
    let mut matched = false;
    // Zipped, not indexed: no bounds check per shard and byte.
    for (((dfa, cache), sid), idle) in forward.iter().zip(caches).zip(sids).zip(idle) {
        *sid = next(dfa, cache, *sid, byte);
        if sid.is_tagged() {
            if sid.is_start() {
                *idle = idle_at;
            } else if sid.is_match() {
                matched = true;
            }
        }
    }
    matched
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
