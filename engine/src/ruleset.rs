//! The compiled [`RuleSet`] and its block API.
//!
//! All patterns of all rules compile into one pattern set; pattern IDs are
//! assigned in declaration order, so a lower ID means a rule declared
//! earlier. How matches are found is in [`crate::automata`] and
//! [`crate::search`]; what a search needs that changes is a
//! [`Cache`], which every method either takes (`*_with`) or borrows for the
//! length of one call: the calling thread's cache for this set (kept in a
//! thread-local, so a stream's next push finds its states where it left
//! them), else one from a small pool inside the rule set, as
//! `regex-automata`'s meta regex does.

use std::sync::{Arc, Mutex};

use regex_automata::meta;

use crate::automata::Automata;
use crate::cache::Cache;
use crate::findings::{Applied, AppliedAll, Disposition, Finding, Rejection, RuleId, Verdict};
use crate::spec::{Action, RuleSpec, Scope, Side, Template};
use crate::views::Views;

/// An immutable, compiled rule set; cheap to clone and share across threads.
#[derive(Clone)]
pub struct RuleSet {
    pub(crate) inner: Arc<Compiled>,
}

pub(crate) struct Compiled {
    /// Unique among compiled sets: a [`Cache`] names the set it is for.
    pub(crate) id: u64,
    pub(crate) rules: Vec<RuleSpec>,
    /// Pattern ID → rule.
    pub(crate) pattern_rule: Vec<RuleId>,
    /// The longest any pattern can match, in bytes.
    pub(crate) max_len: usize,
    /// Per pattern with a `(?P<value>…)` group: a regex that recovers the
    /// group's span inside a match, since checks apply to the value only.
    pub(crate) value_regex: Vec<Option<meta::Regex>>,
    /// Per pattern: the checked bytes of a match at `start` lie in
    /// `start + floor..end` (see `build::value_floor`).
    pub(crate) checked_floor: Vec<usize>,
    /// Per rule: the fewest distinct bytes a candidate's span needs for its
    /// entropy checks to be able to pass (0 without one).
    pub(crate) min_distinct: Vec<u32>,
    /// Per rule: its `unless preceded by` patterns as one regex that must
    /// end where the text ends, or `None` when it has none.
    pub(crate) preceded_by: Vec<Option<meta::Regex>>,
    /// Per rule: its `unless followed by` patterns as one regex, searched
    /// anchored where a candidate ends; `None` when it has none.
    pub(crate) followed_by: Vec<Option<meta::Regex>>,
    /// Per rule: its allowed values, a regex matching a whole text.
    pub(crate) allowed: Vec<Option<meta::Regex>>,
    /// The longest text an `unless preceded by` pattern can match: how far
    /// before a candidate the engine looks.
    pub(crate) context_len: usize,
    /// The longest text an `unless followed by` pattern can match: how far
    /// past a candidate's end the engine looks (plus one byte of
    /// look-ahead for `\b` and `$`), hence how much more a stream holds.
    pub(crate) follow_len: usize,
    pub(crate) automata: Automata,
    /// The decoded views the rules declare.
    pub(crate) views: Views,
    pub(crate) pool: CachePool,
}

/// Caches for the methods that do not take one, when the calling thread's
/// own is in use (a nested call) or handed back while it kept another; a
/// handful, reused.
#[derive(Default)]
pub(crate) struct CachePool {
    // Boxed on purpose: a cache is taken out and put back per call, and
    // a box moves as a pointer (see `THREAD_CACHES`).
    #[allow(clippy::vec_box)]
    spare: Mutex<Vec<Box<Cache>>>,
}

/// A [`Cache`] borrowed from the pool, handed back when dropped.
pub(crate) struct PooledCache<'a> {
    set: &'a Compiled,
    cache: Option<Box<Cache>>,
}

impl std::ops::Deref for PooledCache<'_> {
    type Target = Cache;

    fn deref(&self) -> &Cache {
        self.cache.as_ref().expect("held until drop")
    }
}

impl std::ops::DerefMut for PooledCache<'_> {
    fn deref_mut(&mut self) -> &mut Cache {
        self.cache.as_mut().expect("held until drop")
    }
}

impl Drop for PooledCache<'_> {
    fn drop(&mut self) {
        let Some(cache) = self.cache.take() else {
            return;
        };
        // Back to the thread first: a thread's next call (a stream's next
        // push, most often) then finds the very cache its states are in.
        let Some(cache) = keep_on_thread(cache) else {
            return;
        };
        if let Ok(mut spare) = self.set.pool.spare.lock() {
            // Enough for a few concurrent callers; after a burst the rest
            // goes back to the allocator.
            if spare.len() < 4 {
                spare.push(cache);
            }
        }
    }
}

/// Rule sets a thread keeps a cache for (the live one and the one before
/// a reload).
const THREAD_CACHES_KEPT: usize = 2;

thread_local! {
    /// Each thread's caches for the methods that take none: one per rule
    /// set, taken for a call and put back after it. Boxed: a cache is
    /// over 2 KiB, and a stream's `push` takes it and puts it back on
    /// every chunk: moved unboxed, each way, it was most of a 16-byte
    /// push.
    #[allow(clippy::vec_box)]
    static THREAD_CACHES: std::cell::RefCell<Vec<Box<Cache>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The calling thread's cache for the set `set_id`, if it keeps one and it
/// is not in use (a nested call).
fn take_from_thread(set_id: u64) -> Option<Box<Cache>> {
    THREAD_CACHES
        .try_with(|slot| {
            let mut caches = slot.try_borrow_mut().ok()?;
            let index = caches.iter().position(|cache| cache.set_id == set_id)?;
            Some(caches.remove(index))
        })
        .ok()
        .flatten()
}

/// Gives `cache` to the calling thread to keep; hands it back when the
/// thread already keeps one for that set (or cannot keep any now).
fn keep_on_thread(cache: Box<Cache>) -> Option<Box<Cache>> {
    let mut cache = Some(cache);
    // A thread being torn down keeps nothing: the cache goes to the pool.
    let _ = THREAD_CACHES.try_with(|slot| {
        let Ok(mut caches) = slot.try_borrow_mut() else {
            return;
        };
        let Some(set_id) = cache.as_ref().map(|cache| cache.set_id) else {
            return;
        };
        if caches.iter().any(|kept| kept.set_id == set_id) {
            return;
        }
        if caches.len() == THREAD_CACHES_KEPT {
            // The oldest set's cache goes (a reloaded set's, say).
            caches.remove(0);
        }
        caches.extend(cache.take());
    });
    cache
}

impl RuleSet {
    /// A new cache for searching with this rule set (and no other).
    pub fn create_cache(&self) -> Cache {
        Cache::new(self.inner.id, &self.inner.automata)
    }

    /// The rules, in declaration order.
    pub fn rules(&self) -> &[RuleSpec] {
        &self.inner.rules
    }

    /// The rule `id` names, or `None` for an id of another rule set.
    pub fn rule(&self, id: RuleId) -> Option<&RuleSpec> {
        self.inner.rules.get(id.index())
    }

    /// The rule's name; empty for an id of another rule set.
    pub fn rule_name(&self, id: RuleId) -> &str {
        self.rule(id).map_or("", |rule| &rule.name)
    }

    pub fn rule_id(&self, name: &str) -> Option<RuleId> {
        self.inner
            .rules
            .iter()
            .position(|rule| rule.name == name)
            .map(RuleId::new)
    }

    /// Every rule's id, in declaration order.
    pub fn rule_ids(&self) -> impl Iterator<Item = RuleId> {
        (0..self.inner.rules.len()).map(RuleId::new)
    }

    /// The longest match any pattern can make, in bytes: the most a stream
    /// ever holds back (plus at most 3 bytes of an unfinished character).
    pub fn max_match_len(&self) -> usize {
        self.inner.max_len
    }

    /// The most bytes a [`Scanner`](crate::Scanner) ever holds back: the
    /// longest match (and, with `unless followed by` rules, the longest
    /// of those patterns and one byte after it) plus an unfinished
    /// character; with decoded views,
    /// the original bytes behind that many decoded bytes (escapes and
    /// dropped invisible characters, bounded per decoded byte), or an open
    /// base64 run.
    pub fn max_held(&self) -> usize {
        let follow = match self.inner.follow_len {
            0 => 0,
            len => len + 1,
        };
        self.inner.views.max_held(self.inner.max_len + follow + 3)
    }

    pub fn pattern_count(&self) -> usize {
        self.inner.pattern_rule.len()
    }

    /// How many forward DFA shards a scan steps per byte (for benchmarks).
    #[doc(hidden)]
    pub fn forward_shards(&self) -> usize {
        self.inner.automata.forward.len()
    }

    /// Every finding in `text` for rules that act on `side` and `scope`.
    pub fn findings(&self, side: Side, scope: Scope, text: &[u8]) -> Vec<Finding> {
        self.findings_with(&mut self.inner.pooled_cache(), side, scope, text)
    }

    /// [`RuleSet::findings`] with the caller's cache.
    pub fn findings_with(
        &self,
        cache: &mut Cache,
        side: Side,
        scope: Scope,
        text: &[u8],
    ) -> Vec<Finding> {
        let inner = &*self.inner;
        inner.check_cache(cache);
        let eligible = |rule: RuleId| inner.rules[rule.index()].action_for(side, scope);
        inner.block_findings(cache, text, &eligible)
    }

    /// True when `rule` alone (its patterns, checks and exceptions, whatever its
    /// actions) finds something in `text`: what inline examples test.
    pub fn rule_matches(&self, rule: RuleId, text: &[u8]) -> bool {
        let inner = &*self.inner;
        let mut cache = inner.pooled_cache();
        let only = |candidate: RuleId| (candidate == rule).then_some(&Action::Log);
        !inner.block_findings(&mut cache, text, &only).is_empty()
    }

    /// Scans `text` as one block and applies the actions: the first
    /// rejecting finding rejects; otherwise masks are spliced in.
    pub fn apply(&self, side: Side, scope: Scope, text: &str) -> Applied {
        self.apply_with(&mut self.inner.pooled_cache(), side, scope, text)
    }

    /// [`RuleSet::apply`] with the caller's cache.
    pub fn apply_with(&self, cache: &mut Cache, side: Side, scope: Scope, text: &str) -> Applied {
        let mut findings = self.findings_with(cache, side, scope, text.as_bytes());
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
        self.apply_all_with(&mut self.inner.pooled_cache(), side, scope, text)
    }

    /// [`RuleSet::apply_all`] with the caller's cache.
    pub fn apply_all_with(
        &self,
        cache: &mut Cache,
        side: Side,
        scope: Scope,
        text: &str,
    ) -> AppliedAll {
        let findings = self.findings_with(cache, side, scope, text.as_bytes());
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
    /// `[redacted:RULE]`. For an id of another rule set, `[redacted]`.
    pub fn fallback_mask(&self, side: Side, rule: RuleId) -> std::borrow::Cow<'_, Template> {
        let Some(spec) = self.rule(rule) else {
            return std::borrow::Cow::Owned(Template::text("[redacted]"));
        };
        let declared = spec.actions.iter().find_map(|clause| match &clause.action {
            Action::Mask { template } if clause.side == side => Some(template),
            _ => None,
        });
        match declared {
            Some(template) => std::borrow::Cow::Borrowed(template),
            None => std::borrow::Cow::Owned(Template::text(format!("[redacted:{}]", spec.name))),
        }
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
    /// A cache from the pool, for one call.
    pub(crate) fn pooled_cache(&self) -> PooledCache<'_> {
        if let Some(cache) = take_from_thread(self.id) {
            return PooledCache {
                set: self,
                cache: Some(cache),
            };
        }
        let spare = self.pool.spare.lock().map(|mut s| s.pop()).unwrap_or(None);
        PooledCache {
            set: self,
            cache: Some(spare.unwrap_or_else(|| Box::new(Cache::new(self.id, &self.automata)))),
        }
    }

    /// A cache of another rule set has the wrong number of shards, or
    /// states that mean something else here: refuse it loudly.
    pub(crate) fn check_cache(&self, cache: &Cache) {
        assert_eq!(
            cache.set_id, self.id,
            "a rulegate Cache must be used with the RuleSet that created it"
        );
    }

    /// Rule ids inside the engine come from this set's patterns.
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
}
