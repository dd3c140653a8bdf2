//! The streaming masker: one [`Scanner`] per stream, fed chunk by chunk.
//!
//! Invariant: `push(c1) ++ … ++ push(cn) ++ finish()` equals the block
//! result of `c1 ++ … ++ cn` for every cutting, and at most the longest
//! pattern's length (plus the longest `unless followed by` pattern and one
//! byte, plus an unfinished UTF-8 character) is ever held.
//!
//! How: the forward lazy DFA (unanchored, all patterns, start states
//! tagged) runs over every byte once. Whenever it is back in a start state,
//! no partial match is alive, so nothing before that offset can belong to a
//! match still to come; and no live match can have started more than the
//! longest pattern ago. The later of the two is the *horizon*: every match
//! starting before it has already ended inside the buffer, so the block
//! algorithm decides that region exactly as it would on the whole text.
//! Bytes from the horizon on are held until the next chunk (or `finish`).
//! With `unless followed by` rules the horizon is taken that many bytes
//! (plus one of look-ahead) further back, so every decided candidate has
//! the text after it that a block search would look at.
//! The forward DFA also records each match end it reports, with the last
//! idle offset before it; deciding the region then only tries the starts
//! of those windows with the anchored DFA (the block algorithm's choice,
//! without stepping the forward DFA over the bytes again). Prose costs one
//! step per shard and byte, and a copy.

use std::collections::VecDeque;

use regex_automata::hybrid::LazyStateID;

use crate::automata::{next, next_eoi, step_shards, step_shards_fixed, ShardCache};
use crate::cache::Cache;
use crate::findings::{Disposition, Finding, Rejection, RuleId};
use crate::ruleset::RuleSet;
use crate::runs::{RunEnd, RunTracker};
use crate::search::{earlier, remembered, Known};
use crate::spec::{Action, Scope, Side};
use crate::views::{View, Viewed};

/// Held bytes beyond which an emptied buffer gives its memory back.
const BUF_KEEP_BYTES: usize = 16 * 1024;

/// Per-stream state. A rule set without decoded views scans the stream
/// itself; one with views runs a scanner per view and merges their
/// findings (see [`crate::views`]). Small either way (a few KiB plus the
/// held bytes): the lazy DFA states live in a [`Cache`], which the caller
/// passes to each `push_with` (or which `push` borrows from the rule set),
/// and which many scanners may share.
pub struct Scanner {
    kind: ScannerKind,
}

// The common case stays inline: a scanner is one per stream, never an
// element of a large array, and a box would cost every push a load.
#[allow(clippy::large_enum_variant)]
enum ScannerKind {
    Direct(Core),
    Viewed(Box<Viewed>),
}

/// One view's scan of a stream: the held bytes, the forward shards'
/// states and what is known of the matches still open. It either writes
/// the stream out (masked) itself, or only reports findings, every one of
/// them once every finding that starts before [`Core::decided`] is known.
pub(crate) struct Core {
    set: RuleSet,
    side: Side,
    scope: Scope,
    /// Which rules count: the view's.
    view: View,
    /// Report findings only: write nothing, and go on past a reject (the
    /// merge of the views decides whether it counts).
    findings_only: bool,
    /// Each forward shard's state after `total` bytes, in the cache
    /// `bound_to` under the epochs `epochs`.
    sids: Vec<LazyStateID>,
    bound_to: Option<u64>,
    epochs: Vec<u64>,
    /// Bytes `buf_start..total` of the stream: the held bytes plus, before
    /// `resolved`, the rule set's `context_len` bytes and one more as
    /// look-behind.
    buf: Vec<u8>,
    buf_start: usize,
    /// Every byte before this offset has been written out.
    resolved: usize,
    total: usize,
    /// Per shard, the latest offset at which it had no live partial match.
    shard_idle: Vec<usize>,
    /// Every match end the forward DFA reported past `resolved`, in order,
    /// each with the last offset before it at which no shard had a live
    /// partial match: what `resolve` searches, so the held bytes are not
    /// stepped through the forward DFA a second time.
    ends: VecDeque<MatchEnd>,
    /// The latest offset at which no shard had a live partial match
    /// reaching past it: the least of `shard_idle`.
    last_idle: usize,
    /// The largest end of a match the forward shards or the run tracker
    /// have reported. It never moves back: the run tracker steps a whole
    /// chunk before the shards do, so a shard match can end before a run
    /// end already recorded.
    last_match_end: usize,
    /// Only with `unless followed by` rules: `(offset, least shard idle
    /// offset then)` at chunk ends and `follow_len + 1` bytes before each
    /// chunk's end, the oldest the latest at or before that point, so
    /// that the horizon can be an idle point that far back.
    idle_marks: VecDeque<(usize, usize)>,
    /// The run patterns' open runs (see [`crate::runs`]), and the run ends
    /// past `resolved` they reported, in order of end.
    runs: RunTracker,
    run_ends: VecDeque<RunEnd>,
    findings: Vec<Finding>,
    rejection: Option<Rejection>,
}

/// A match end the forward DFA reported, with the last offset before it at
/// which no shard had a live partial match.
#[derive(Clone, Copy, Debug)]
struct MatchEnd {
    window: usize,
    end: usize,
}

impl RuleSet {
    /// A new stream scanner applying the rules for `side` and `scope`.
    pub fn scanner(&self, side: Side, scope: Scope) -> Scanner {
        let kind = if self.inner.views.is_empty() {
            ScannerKind::Direct(Core::new(self, side, scope, View::Raw, false))
        } else {
            ScannerKind::Viewed(Box::new(Viewed::new(self, side, scope)))
        };
        Scanner { kind }
    }
}

impl Core {
    pub(crate) fn new(
        set: &RuleSet,
        side: Side,
        scope: Scope,
        view: View,
        findings_only: bool,
    ) -> Core {
        let shards = set.inner.automata.forward.len();
        Core {
            set: set.clone(),
            side,
            scope,
            view,
            findings_only,
            // Placeholders: a scanner bound to no cache re-derives every
            // state before its first step.
            sids: vec![LazyStateID::default(); shards],
            bound_to: None,
            epochs: vec![0; shards],
            buf: Vec::new(),
            buf_start: 0,
            resolved: 0,
            total: 0,
            shard_idle: vec![0; shards],
            ends: VecDeque::new(),
            last_idle: 0,
            last_match_end: 0,
            idle_marks: VecDeque::new(),
            runs: RunTracker::new(set.inner.run_mask(view)),
            run_ends: VecDeque::new(),
            findings: Vec::new(),
            rejection: None,
        }
    }
}

impl Scanner {
    /// Feeds the next chunk and appends to `out` every byte that can no
    /// longer be part of a match (masked where a match was decided),
    /// borrowing a cache from the rule set for the call.
    ///
    /// After a rejection the scanner writes nothing more and returns the
    /// same rejection again.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Rejection> {
        let set = self.rule_set().clone();
        let mut cache = set.inner.pooled_cache();
        self.push_with(&mut cache, chunk, out)
    }

    /// [`Scanner::push`] with the caller's cache (of the same rule set).
    pub fn push_with(
        &mut self,
        cache: &mut Cache,
        chunk: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        match &mut self.kind {
            ScannerKind::Direct(core) => core.push_with(cache, chunk, out),
            ScannerKind::Viewed(viewed) => viewed.push_with(cache, chunk, out),
        }
    }

    /// Ends the stream: decides the held bytes and writes them out.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), Rejection> {
        let set = self.rule_set().clone();
        let mut cache = set.inner.pooled_cache();
        self.finish_with(&mut cache, out)
    }

    /// [`Scanner::finish`] with the caller's cache (of the same rule set).
    pub fn finish_with(&mut self, cache: &mut Cache, out: &mut Vec<u8>) -> Result<(), Rejection> {
        match &mut self.kind {
            ScannerKind::Direct(core) => core.finish_with(cache, out),
            ScannerKind::Viewed(viewed) => viewed.finish_with(cache, out),
        }
    }

    /// Findings decided so far, in stream order, with stream offsets;
    /// taking them leaves the scanner's list empty.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        match &mut self.kind {
            ScannerKind::Direct(core) => core.take_findings(),
            ScannerKind::Viewed(viewed) => viewed.take_findings(),
        }
    }

    /// Bytes received but not yet written out (after a rejection, none:
    /// nothing more will be).
    pub fn held(&self) -> usize {
        match &self.kind {
            ScannerKind::Direct(core) if core.rejection.is_some() => 0,
            ScannerKind::Direct(core) => core.total - core.resolved,
            ScannerKind::Viewed(viewed) => viewed.held(),
        }
    }

    /// The rule set this scanner applies (to name the rules of findings).
    pub fn rule_set(&self) -> &RuleSet {
        match &self.kind {
            ScannerKind::Direct(core) => &core.set,
            ScannerKind::Viewed(viewed) => viewed.rule_set(),
        }
    }

    /// Heap bytes this scanner holds between pushes: the held bytes, the
    /// open match ends and the shards' states (the DFA states themselves
    /// are in the cache, which is not the scanner's).
    pub fn memory_usage(&self) -> usize {
        match &self.kind {
            ScannerKind::Direct(core) => core.memory_usage(),
            ScannerKind::Viewed(viewed) => viewed.memory_usage(),
        }
    }

    /// Bytes received so far.
    pub fn position(&self) -> usize {
        match &self.kind {
            ScannerKind::Direct(core) => core.total,
            ScannerKind::Viewed(viewed) => viewed.position(),
        }
    }
}

impl Core {
    pub(crate) fn push_with(
        &mut self,
        cache: &mut Cache,
        chunk: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        if let Some(rejection) = &self.rejection {
            return Err(rejection.clone());
        }
        self.bind(cache);
        self.buf.extend_from_slice(chunk);
        let follow_len = self.set.inner.follow_len;
        if follow_len == 0 {
            self.advance(cache, chunk);
            self.total += chunk.len();
            self.settle(cache);
        } else {
            // A candidate is decided only with `follow_len + 1` bytes after
            // it: note the idle point that far before the chunk's end.
            let mark = (self.total + chunk.len()).saturating_sub(follow_len + 1);
            let (before, after) = chunk.split_at(mark.saturating_sub(self.total).min(chunk.len()));
            for part in [before, after] {
                self.advance(cache, part);
                self.total += part.len();
                self.settle(cache);
                self.idle_marks.push_back((self.total, self.idle()));
            }
        }
        self.resolve(cache, false, out)
    }

    pub(crate) fn finish_with(
        &mut self,
        cache: &mut Cache,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        if let Some(rejection) = &self.rejection {
            return Err(rejection.clone());
        }
        self.bind(cache);
        let forward = &self.set.inner.automata.forward;
        if forward
            .iter()
            .zip(cache.forward.iter_mut())
            .zip(&self.sids)
            .any(|((dfa, shard), &sid)| next_eoi(dfa, &mut shard.dfa, sid).is_match())
        {
            self.last_match_end = self.total;
            let window = self.shard_idle.iter().copied().min().unwrap_or(0);
            push_end(&mut self.ends, window, self.total);
        }
        let runs = &self.set.inner.automata.runs;
        let (run_ends, last_match_end) = (&mut self.run_ends, &mut self.last_match_end);
        self.runs.finish(runs, self.total, &mut |end| {
            *last_match_end = (*last_match_end).max(end.end);
            run_ends.push_back(end);
        });
        self.resolve(cache, true, out)
    }

    pub(crate) fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    /// Every finding that starts before this offset has been reported
    /// (and nothing before it is held).
    pub(crate) fn decided(&self) -> usize {
        self.resolved
    }

    /// Bytes received so far.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.buf.capacity()
            + self.ends.capacity() * std::mem::size_of::<MatchEnd>()
            + self.run_ends.capacity() * std::mem::size_of::<RunEnd>()
            + self.findings.capacity() * std::mem::size_of::<Finding>()
            + self.idle_marks.capacity() * 16
            + (self.sids.capacity() + self.epochs.capacity() + self.shard_idle.capacity()) * 8
    }

    /// Makes `sids` states of `cache`: kept when they already are (same
    /// cache, no clear since), otherwise re-derived shard by shard.
    fn bind(&mut self, cache: &mut Cache) {
        self.set.inner.check_cache(cache);
        let same_cache = self.bound_to == Some(cache.id);
        // The common case, checked first because a gateway pushes once per
        // delta: the cache this scanner used last, no clear since. The loop
        // below would then change nothing (it cost about 190 instructions
        // a push with five shards, an eighth of a 16-byte push).
        if same_cache
            && cache
                .forward
                .iter()
                .zip(&self.epochs)
                .all(|(shard, &epoch)| shard.is_settled() && shard.epoch() == epoch)
        {
            return;
        }
        for shard in 0..self.sids.len() {
            // A block search leaves its cache as its last step left it.
            cache.forward[shard].settle(&self.set.inner.automata.forward[shard]);
            if !same_cache || self.epochs[shard] != cache.forward[shard].epoch() {
                self.resync(cache, shard);
            }
        }
        self.bound_to = Some(cache.id);
        for (epoch, shard) in self.epochs.iter_mut().zip(&cache.forward) {
            *epoch = shard.epoch();
        }
    }

    /// After stepping: a cache cleared while stepping has its start tags
    /// restored, and a shard whose cache had to be reset is re-derived.
    fn settle(&mut self, cache: &mut Cache) {
        // No clear while stepping (the common case): nothing to restore,
        // and every epoch is still the one `bind` recorded.
        if cache.forward.iter().all(ShardCache::is_settled) {
            return;
        }
        for shard in 0..self.sids.len() {
            if cache.forward[shard].settle(&self.set.inner.automata.forward[shard]) {
                self.resync(cache, shard);
            }
            self.epochs[shard] = cache.forward[shard].epoch();
        }
    }

    /// Re-derives shard `shard`'s state from the held bytes, starting
    /// afresh at the latest point that loses nothing: where the shard was
    /// last idle, or where a match would have to be longer than the longest
    /// pattern to still be open, or where everything before is decided.
    /// Ends found on the way were reported before and are not recorded
    /// again; an idle point found is a true one for every match that can
    /// still count.
    fn resync(&mut self, cache: &mut Cache, shard: usize) {
        let inner = &*self.set.inner;
        let dfa = &inner.automata.forward[shard];
        let restart = self.shard_idle[shard]
            .max(self.total.saturating_sub(inner.max_len))
            .max(self.resolved);
        debug_assert!(restart == 0 || restart > self.buf_start);
        let look_behind = restart
            .checked_sub(1)
            .map(|at| self.buf[at - self.buf_start]);
        let shard_cache = &mut cache.forward[shard];
        let mut sid = shard_cache.start(dfa, look_behind);
        let mut idle = restart;
        let held = &self.buf[restart - self.buf_start..self.total - self.buf_start];
        for (i, &byte) in held.iter().enumerate() {
            sid = next(dfa, &mut shard_cache.dfa, sid, byte);
            if sid.is_tagged() && sid.is_start() {
                idle = restart + i + 1;
            }
        }
        self.shard_idle[shard] = idle;
        self.sids[shard] = sid;
    }

    /// The latest offset before which no match that can still be reported
    /// starts: the least of the shards' idle offsets and the runs'.
    fn idle(&self) -> usize {
        let shards = self.shard_idle.iter().copied().min().unwrap_or(self.total);
        let shards = self.lead_back(shards);
        shards.min(self.runs.idle(&self.set.inner.automata.runs, self.total))
    }

    /// A shard idle offset (or the least of them) moved back over the
    /// longest lead (see [`crate::leads`]), not before `resolved` (nothing
    /// before it counts any more, and everything after it is held).
    fn lead_back(&self, at: usize) -> usize {
        let leads = &self.set.inner.automata.leads;
        let floor = self.resolved.max(self.buf_start);
        if leads.max() == 0 || at <= floor {
            return at;
        }
        let base = self.buf_start;
        base + leads.back(leads.max(), &self.buf, at - base, floor - base)
    }

    fn advance(&mut self, cache: &mut Cache, chunk: &[u8]) {
        let runs = &self.set.inner.automata.runs;
        let (run_ends, last_match_end) = (&mut self.run_ends, &mut self.last_match_end);
        self.runs.advance(runs, chunk, self.total, &mut |end| {
            *last_match_end = (*last_match_end).max(end.end);
            run_ends.push_back(end);
        });
        let forward = &self.set.inner.automata.forward;
        if forward.is_empty() {
            return;
        }
        if let ([dfa], [shard], [sid], [idle]) = (
            &forward[..],
            &mut cache.forward[..],
            &mut self.sids[..],
            &mut self.shard_idle[..],
        ) {
            // One shard (at most 16 patterns, or every pattern behind a
            // literal prefix): its state stays in a register, which
            // measured 1.5x faster than the general loop below.
            let (mut state, mut last_idle, total) = (*sid, *idle, self.total);
            for (i, &byte) in chunk.iter().enumerate() {
                state = next(dfa, &mut shard.dfa, state, byte);
                if state.is_tagged() {
                    let offset = total + i;
                    if state.is_start() {
                        last_idle = offset + 1;
                    } else if state.is_match() {
                        // Reported one byte late: the match ended at
                        // `offset`, and the shard was last idle before it
                        // at `last_idle`.
                        // The run tracker stepped the whole chunk first:
                        // a run end past this byte may be recorded already.
                        self.last_match_end = self.last_match_end.max(offset);
                        push_end(&mut self.ends, last_idle, offset);
                    }
                }
            }
            (*sid, *idle) = (state, last_idle);
        } else if !{
            let mut fixed = Fixed {
                forward,
                shards: &mut cache.forward,
                sids: &mut self.sids,
                idle: &mut self.shard_idle,
                ends: &mut self.ends,
                last_match_end: &mut self.last_match_end,
                total: self.total,
            };
            match forward.len() {
                2 => fixed.advance::<2>(chunk),
                3 => fixed.advance::<3>(chunk),
                4 => fixed.advance::<4>(chunk),
                5 => fixed.advance::<5>(chunk),
                6 => fixed.advance::<6>(chunk),
                _ => false,
            }
        } {
            for (i, &byte) in chunk.iter().enumerate() {
                let offset = self.total + i;
                let matched = step_shards(
                    forward,
                    &mut cache.forward,
                    &mut self.sids,
                    &mut self.shard_idle,
                    byte,
                    offset + 1,
                );
                if matched {
                    // Reported one byte late: the match ended at `offset`.
                    // A match that ends there or later is alive in its own
                    // shard from its start on, so it starts after that
                    // shard's last idle offset (a shard idle after this
                    // very byte has no such match, and the reporting shard
                    // is not idle).
                    let window = self.shard_idle.iter().copied().min().unwrap_or(offset);
                    self.last_match_end = self.last_match_end.max(offset);
                    push_end(&mut self.ends, window, offset);
                }
            }
        }
    }

    fn resolve(
        &mut self,
        cache: &mut Cache,
        eoi: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        let inner = &*self.set.inner;
        // A match alive at an offset is alive in its own shard: nothing
        // reaches past an offset where every shard was idle at or after it.
        self.last_idle = self.idle();
        let horizon = if eoi {
            self.total
        } else if inner.follow_len == 0 {
            self.last_idle.max(self.total.saturating_sub(inner.max_len))
        } else {
            // Every match starting before the horizon must end
            // `follow_len + 1` bytes before the held text does, so that its
            // `unless followed by` patterns see what they would in a block.
            let limit = self.total.saturating_sub(inner.follow_len + 1);
            // Only the latest mark at or before the limit can serve now or
            // later: the older ones go, whichever way the horizon is taken.
            while self.idle_marks.get(1).is_some_and(|&(at, _)| at <= limit) {
                self.idle_marks.pop_front();
            }
            if self.last_match_end + inner.follow_len < self.total {
                // No match ended within the look-ahead: every match
                // starting before the idle point has the text after it.
                self.last_idle.max(self.total.saturating_sub(inner.max_len))
            } else {
                let idle = self
                    .idle_marks
                    .front()
                    .filter(|&&(at, _)| at <= limit)
                    .map_or(0, |&(_, idle)| idle);
                idle.max(limit.saturating_sub(inner.max_len))
            }
        };
        let (side, scope, view, emit) = (self.side, self.scope, self.view, !self.findings_only);
        let eligible = |rule: RuleId| -> Option<&Action> {
            if inner.views.contains(view, rule) {
                inner.rule(rule).action_for(side, scope)
            } else {
                None
            }
        };
        let base = self.buf_start;
        if horizon > self.resolved && self.last_match_end > self.resolved {
            let mut from = self.resolved - base;
            let local_horizon = horizon - base;
            // Each side's first finding holds until the search passes its
            // start (see `search::Known`): a region with many findings of
            // one side is not searched again by the other for each.
            let (mut by_shards_known, mut by_runs_known): (Option<Known>, Option<Known>) =
                (None, None);
            loop {
                let (run_ends, ends) = (&self.run_ends, &self.ends);
                let buf = &self.buf;
                let by_runs = remembered(&mut by_runs_known, from, local_horizon, || {
                    let first = run_ends.partition_point(|e| e.end <= base + from);
                    let run_ends = run_ends.range(first..).map(|e| e.shifted_back(base));
                    inner.first_run_finding(
                        cache,
                        buf,
                        from,
                        local_horizon,
                        eoi,
                        &eligible,
                        run_ends,
                    )
                });
                let lead_back = |at| self.lead_back(at);
                let by_shards = remembered(&mut by_shards_known, from, local_horizon, || {
                    // Ends are in increasing order: start at the first one
                    // past `from`, not at the front.
                    let first = ends.partition_point(|e| e.end <= base + from);
                    let ends = ends
                        .range(first..)
                        .map(|e| (lead_back(e.window).max(base) - base, e.end - base));
                    inner.next_finding_among(cache, buf, from, local_horizon, eoi, &eligible, ends)
                });
                let Some((rule, span)) = earlier(by_shards, by_runs) else {
                    break;
                };
                if emit {
                    out.extend_from_slice(&self.buf[from..span.start]);
                }
                let disposition = eligible(rule).map_or(Disposition::Log, Disposition::of);
                let finding = Finding {
                    rule,
                    start: base + span.start,
                    end: base + span.end,
                    disposition,
                };
                self.findings.push(finding);
                if disposition == Disposition::Reject && emit {
                    let rejection = inner.rejection(side, scope, finding);
                    self.rejection = Some(rejection.clone());
                    self.resolved = finding.start;
                    return Err(rejection);
                }
                let local = Finding {
                    start: span.start,
                    end: span.end,
                    ..finding
                };
                if emit {
                    inner.write_finding(side, scope, &local, &self.buf, out);
                }
                from = span.end;
            }
            self.resolved = base + from;
        }
        if horizon > self.resolved {
            let end = if eoi {
                horizon
            } else {
                base + utf8_safe_end(&self.buf, horizon - base).max(self.resolved - base)
            };
            if emit {
                out.extend_from_slice(&self.buf[self.resolved - base..end - base]);
            }
            self.resolved = end;
        }
        while self.ends.front().is_some_and(|e| e.end <= self.resolved) {
            self.ends.pop_front();
        }
        while self
            .run_ends
            .front()
            .is_some_and(|e| e.end <= self.resolved)
        {
            self.run_ends.pop_front();
        }
        // Keep what a candidate from `resolved` on may look back at: the
        // `unless preceded by` context, and one byte before it as
        // look-behind for `\b` and `^`.
        let keep_from = self
            .resolved
            .saturating_sub(inner.context_len + 1)
            .max(base);
        self.buf.drain(..keep_from - base);
        self.buf_start = keep_from;
        if self.buf.capacity() > BUF_KEEP_BYTES && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to(self.buf.len().max(BUF_KEEP_BYTES / 2));
        }
        Ok(())
    }
}

/// What [`Core::advance`] steps, borrowed apart from the rule set.
struct Fixed<'a> {
    forward: &'a [regex_automata::hybrid::dfa::DFA],
    shards: &'a mut [crate::automata::ShardCache],
    sids: &'a mut [LazyStateID],
    idle: &'a mut [usize],
    ends: &'a mut VecDeque<MatchEnd>,
    last_match_end: &'a mut usize,
    total: usize,
}

impl Fixed<'_> {
    /// [`Core::advance`] for exactly `N` shards (see
    /// [`step_shards_fixed`]). False, having done nothing, when there are
    /// not `N` shards.
    fn advance<const N: usize>(&mut self, chunk: &[u8]) -> bool {
        let (Ok(forward), Ok(shards), Ok(mut sids), Ok(mut idle)) = (
            <&[_; N]>::try_from(self.forward),
            <&mut [_; N]>::try_from(&mut *self.shards),
            <[LazyStateID; N]>::try_from(&*self.sids),
            <[usize; N]>::try_from(&*self.idle),
        ) else {
            return false;
        };
        for (i, &byte) in chunk.iter().enumerate() {
            let offset = self.total + i;
            if step_shards_fixed(forward, shards, &mut sids, &mut idle, byte, offset + 1) {
                // As in the general loop: the match ended at `offset`.
                let window = idle.iter().copied().min().unwrap_or(offset);
                *self.last_match_end = (*self.last_match_end).max(offset);
                push_end(self.ends, window, offset);
            }
        }
        self.sids.copy_from_slice(&sids);
        self.idle.copy_from_slice(&idle);
        true
    }
}

/// Records a match end. Consecutive ends with the same window merge into
/// the later one: trying the window's starts up to the first end, then on
/// to the second, tries the same starts in the same order as trying them
/// up to the second at once. A partial match that stays alive (a PEM body,
/// a long token) keeps the window still while ends pile up, so this keeps
/// a stream's list of open ends short.
fn push_end(ends: &mut VecDeque<MatchEnd>, window: usize, end: usize) {
    match ends.back_mut() {
        Some(last) if last.window == window => last.end = end,
        _ => ends.push_back(MatchEnd { window, end }),
    }
}

/// The largest offset `<= end` that does not cut a UTF-8 character whose
/// bytes may still be arriving: a lead byte in the last three bytes whose
/// sequence runs past `end`, followed only by continuation bytes, is held.
/// Invalid sequences are not held (they can never become valid).
pub(crate) fn utf8_safe_end(bytes: &[u8], end: usize) -> usize {
    let floor = end.saturating_sub(3);
    for at in (floor..end).rev() {
        let byte = bytes[at];
        if byte & 0xC0 == 0x80 {
            continue;
        }
        let width = match byte {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return end,
        };
        if at + width <= end {
            return end;
        }
        let available = bytes.len().min(at + width);
        let continuations_only = bytes[at + 1..available].iter().all(|b| b & 0xC0 == 0x80);
        return if continuations_only { at } else { end };
    }
    end
}

#[cfg(test)]
mod tests {
    use super::utf8_safe_end;

    #[test]
    fn utf8_cut_is_held_only_while_it_can_complete() {
        let text = "aé€".as_bytes(); // 1 + 2 + 3 bytes
        assert_eq!(utf8_safe_end(text, 6), 6);
        assert_eq!(utf8_safe_end(text, 5), 3);
        assert_eq!(utf8_safe_end(text, 4), 3);
        assert_eq!(utf8_safe_end(text, 2), 1);
        assert_eq!(utf8_safe_end(&text[..5], 5), 3);
        // A lead byte followed by ASCII is invalid and not held.
        assert_eq!(utf8_safe_end(b"a\xE2b", 2), 2);
    }
}
