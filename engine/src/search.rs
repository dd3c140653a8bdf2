//! The block algorithm: the next finding from a position, given the
//! automata and a [`Cache`]. Both modes, block and streaming, decide
//! findings here; they differ only in how match ends are learnt.
//!
//! # Semantics (the oracle every mode must reproduce)
//!
//! Findings do not overlap and are chosen left to right: from the current
//! position, the leftmost start at which some *eligible* candidate exists
//! wins; at that start a candidate whose action changes the text (mask,
//! reject) before one that only logs; then the longest candidate; at
//! equal length the rule declared first. A candidate is eligible when its
//! rule applies to the side and scope being scanned, every one of its checks passes, and the
//! text before its start does not end with a match of one of the rule's
//! `unless preceded by` patterns (looking back at most the longest of
//! them, so a stream needs only that much text before what it holds), and
//! the text after its end does not start with a match of one of its
//! `unless followed by` patterns (looking ahead at most the longest of
//! them and one byte, so a stream holds that much more). A rule's
//! candidate excepted by what follows it, or an allowed value, also
//! rules out the rule's shorter candidates at the same start. An
//! ineligible candidate hides nothing: the search goes on from the next
//! byte, not from its end.

use std::ops::Range;

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::start;
use regex_automata::{Anchored, Input};

use crate::automata::{next, next_eoi, step_shards, step_shards_fixed, Candidate};
use crate::cache::Cache;
use crate::checks;
use crate::findings::RuleId;
use crate::ruleset::Compiled;
use std::collections::VecDeque;

use crate::runs::{BlockRunEnds, RunEnd};
use crate::spec::Action;

/// Which rules count, and with which action: `None` for a rule that does
/// not act where the text is being scanned.
pub(crate) type Eligible<'a, 'b> = &'b dyn Fn(RuleId) -> Option<&'a Action>;

impl Compiled {
    /// The next finding whose start lies in `from..horizon`.
    ///
    /// `hay[..from]` is context only (look-behind). When `eoi` is false the
    /// end of `hay` is not the end of the text: the caller guarantees that
    /// every match starting before `horizon` ends before `hay.len()` (by
    /// at least `follow_len + 1` bytes when there are `unless followed
    /// by` patterns), so none of them depends on what comes after.
    ///
    /// `search` remembers, between the calls of one search over one text,
    /// the first finding at a start the run patterns give (see
    /// [`crate::runs`]) and the first one the forward shards give: each
    /// answer holds until the search passes its start, so neither side
    /// reads the text again for every finding of the other (text made of
    /// bare keys with no shard match after them read the rest of the text
    /// once per key: 6 MB/s).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn next_finding(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        from: usize,
        horizon: usize,
        eoi: bool,
        eligible: Eligible<'_, '_>,
        search: &mut BlockSearch<'_>,
    ) -> Option<(RuleId, Range<usize>)> {
        let by_runs = search
            .runs
            .first_from(self, cache, hay, from, horizon, eoi, eligible);
        let by_shards = remembered(&mut search.shards, from, horizon, || {
            self.next_finding_in_shards(cache, hay, from, horizon, eoi, eligible)
        });
        earlier(by_shards, by_runs)
    }

    /// [`Compiled::next_finding`] at the starts the forward shards give.
    fn next_finding_in_shards(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        mut from: usize,
        horizon: usize,
        eoi: bool,
        eligible: Eligible<'_, '_>,
    ) -> Option<(RuleId, Range<usize>)> {
        if self.automata.forward.is_empty() {
            return None;
        }
        while from < horizon {
            let (window, end) = self.earliest_end(cache, hay, from, eoi)?;
            // Every match that starts before `end` starts in `window..end`
            // (the one ending at `end` among them), and each shard's after
            // that shard's own idle offset (left in `cache.idle`); try them
            // left to right.
            // Taken out for the walks (which do not use it) and put back.
            let idle = std::mem::take(&mut cache.idle);
            let starts = window..end.min(horizon);
            let found = self.first_starting_in(cache, hay, starts, eoi, eligible, Some(&idle));
            cache.idle = idle;
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
    pub(crate) fn next_finding_among(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        mut from: usize,
        horizon: usize,
        eoi: bool,
        eligible: Eligible<'_, '_>,
        ends: impl IntoIterator<Item = (usize, usize)>,
    ) -> Option<(RuleId, Range<usize>)> {
        for (window, end) in ends {
            // Windows never move back (a shard's idle offset only grows),
            // so once one lies past the horizon every later one does too.
            if from >= horizon || window >= horizon {
                break;
            }
            if end <= from {
                continue;
            }
            let starts = window.max(from)..end.min(horizon);
            let found = self.first_starting_in(cache, hay, starts, eoi, eligible, None);
            if found.is_some() {
                return found;
            }
            from = end;
        }
        None
    }

    /// The first finding at a start that a run end in `ends` (in order of
    /// end, offsets in `hay`) allows, starting in `from..horizon`. A run
    /// end's starts are at least its end less the longest run pattern, so
    /// the ends past the best start found by that much cannot give an
    /// earlier one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn first_run_finding(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        from: usize,
        horizon: usize,
        eoi: bool,
        eligible: Eligible<'_, '_>,
        ends: impl IntoIterator<Item = RunEnd>,
    ) -> Option<(RuleId, Range<usize>)> {
        let runs = &self.automata.runs;
        let reach = runs.max_len();
        let mut best: Option<(RuleId, Range<usize>)> = None;
        for end in ends {
            let limit = best.as_ref().map_or(horizon, |(_, span)| span.start);
            if end.end >= limit + reach {
                break;
            }
            // A start where the run pattern's rule is excepted by the byte
            // before is left to the shards: any other rule's finding there
            // is theirs to find (in a PEM body, every line's run ends and
            // none of its starts is walked).
            let starts = (end.starts.start.max(from)..end.starts.end.min(limit))
                .filter(|&start| runs.may_start(end.pattern, hay, start));
            // Not filtered by `first_bytes`, which knows only the shards'
            // patterns.
            for start in starts {
                cache
                    .walks
                    .begin(self.max_len, cache.anchored.clear_count());
                if let Some(found) = self.best_at(cache, hay, start, eoi, eligible) {
                    best = Some(found);
                    break;
                }
            }
        }
        best
    }

    /// The winning eligible candidate at the leftmost of `starts` that has
    /// one. With `shard_idle` (each forward shard's last idle offset, from
    /// a block search's forward scan), a start is walked only if a shard
    /// that was not idle since before it may begin a match there.
    fn first_starting_in(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        starts: Range<usize>,
        eoi: bool,
        eligible: Eligible<'_, '_>,
        shard_idle: Option<&[usize]>,
    ) -> Option<(RuleId, Range<usize>)> {
        cache
            .walks
            .begin(self.max_len, cache.anchored.clear_count());
        let (Some(idle), Some(shard_starts)) = (shard_idle, &self.automata.shard_starts) else {
            let first_bytes = &self.automata.first_bytes;
            return starts
                .into_iter()
                .filter(|&start| first_bytes.may_start(hay, start))
                .find_map(|start| self.best_at(cache, hay, start, eoi, eligible));
        };
        // The shards by idle offset: each counts from its offset on (at
        // most 32 shards, or there would be no `shard_starts`).
        let mut by_idle = [(usize::MAX, 0usize); 32];
        for ((slot, &idle), shard) in by_idle.iter_mut().zip(idle).zip(0..) {
            *slot = (idle, shard);
        }
        let by_idle = &mut by_idle[..idle.len().min(32)];
        by_idle.sort_unstable();
        let mut busy: u32 = 0;
        let mut counted = 0;
        for start in starts {
            while let Some(&(idle, shard)) = by_idle.get(counted) {
                if idle > start {
                    break;
                }
                busy |= 1 << shard;
                counted += 1;
            }
            if shard_starts.at(hay, start) & busy == 0 {
                continue;
            }
            let found = self.best_at(cache, hay, start, eoi, eligible);
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// From `from`, the earliest end of any match, with the last position
    /// before it at which no partial match was alive (no match that starts
    /// earlier reaches past it), each shard's in `cache.idle`. `None` when
    /// no match ends within `hay`.
    fn earliest_end(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        from: usize,
        eoi: bool,
    ) -> Option<(usize, usize)> {
        let forward = &self.automata.forward;
        let look_behind = from.checked_sub(1).map(|i| hay[i]);
        cache.sids.clear();
        cache.idle.clear();
        for (dfa, shard) in forward.iter().zip(cache.forward.iter_mut()) {
            // Untagged start states would only widen the window; a search
            // holds no state across calls, so a reset costs nothing here.
            shard.settle(dfa);
            cache.sids.push(shard.start(dfa, look_behind));
            cache.idle.push(from);
        }
        // Each shard's idle offset moved back over its lead (see
        // `crate::leads`): the windows and the starts a search walks.
        let leads = &self.automata.leads;
        let window = |idle: &mut [usize]| {
            leads.widen(idle, hay, from);
            idle.iter().copied().min().unwrap_or(from)
        };
        let fixed = match forward.len() {
            1 => scan_fixed::<1>(forward, cache, hay, from),
            2 => scan_fixed::<2>(forward, cache, hay, from),
            3 => scan_fixed::<3>(forward, cache, hay, from),
            4 => scan_fixed::<4>(forward, cache, hay, from),
            5 => scan_fixed::<5>(forward, cache, hay, from),
            6 => scan_fixed::<6>(forward, cache, hay, from),
            _ => None,
        };
        let scanned_to = match fixed {
            Some(Ok(at)) => return Some((window(&mut cache.idle), at)),
            Some(Err(scanned_to)) => scanned_to,
            None => from,
        };
        for (at, &byte) in hay.iter().enumerate().skip(scanned_to) {
            let matched = step_shards(
                forward,
                &mut cache.forward,
                &mut cache.sids,
                &mut cache.idle,
                byte,
                at + 1,
            );
            if matched {
                // Reported one byte late: the match ended at `at`. Every
                // match starting before `at` is alive in its shard, so it
                // starts after that shard's window.
                return Some((window(&mut cache.idle), at));
            }
        }
        if eoi {
            for (shard, dfa) in forward.iter().enumerate() {
                let sid = cache.sids[shard];
                if next_eoi(dfa, &mut cache.forward[shard].dfa, sid).is_match() {
                    return Some((window(&mut cache.idle), hay.len()));
                }
            }
        }
        None
    }

    /// The winning eligible candidate among all matches starting at `start`.
    fn best_at(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        start: usize,
        eoi: bool,
        eligible: Eligible<'_, '_>,
    ) -> Option<(RuleId, Range<usize>)> {
        // The buffer lives in the cache so that a search allocates once.
        let mut candidates = std::mem::take(&mut cache.candidates);
        candidates.clear();
        self.candidates_at(cache, hay, start, eoi, &mut candidates);
        if candidates.is_empty() {
            cache.candidates = candidates;
            return None;
        }
        cache.value.begin_start();
        cache.around_histogram.forget();
        cache.checked_histogram.forget();
        // Longest first; at equal length the earlier pattern, hence rule.
        candidates.sort_unstable_by(|a, b| b.end.cmp(&a.end).then(a.pattern.cmp(&b.pattern)));
        // Rules whose longest candidate here is an allowed value, or whose
        // longest candidate that passes the checks is followed by one of
        // its `unless followed by` patterns: their shorter candidates at
        // this start are prefixes of it, not counted either (other rules'
        // are). `sk-abcd.example` is not a key, nor is `sk-abc` in it.
        // A candidate that changes the text (mask, reject) before one that
        // only logs: a log-only rule must not hide one at its start, as the
        // email rule would hide `ghp_…` in `https://x:ghp_…@github.com` by
        // being longer. So the log-only candidates are tried in a second
        // pass, only if some were passed over; a rule's candidates all
        // fall in one pass, in their order. (Sorting by the action instead
        // asked for it in every comparison: +25% on secret-dense text.)
        let mut excepted_here: Vec<RuleId> = Vec::new();
        let mut passed_over_logs = false;
        let mut best = None;
        for logs_pass in [false, true] {
            if logs_pass && !passed_over_logs {
                break;
            }
            best = candidates.iter().find_map(|&candidate| {
                let rule_id = self.pattern_rule[candidate.pattern];
                let logs_only = matches!(eligible(rule_id)?, Action::Log);
                if logs_only != logs_pass {
                    passed_over_logs |= logs_only;
                    return None;
                }
                if excepted_here.contains(&rule_id) {
                    return None;
                }
                let rule = &self.rules[rule_id.index()];
                let min_distinct = self.min_distinct[rule_id.index()];
                if min_distinct > 1 {
                    let floor = (start + self.checked_floor[candidate.pattern]).min(candidate.end);
                    let around = cache.around_histogram.of(hay, floor..candidate.end);
                    if around.distinct() < min_distinct {
                        return None;
                    }
                }
                let checked = self.checked_span(cache, hay, start, candidate);
                if self.allowed(rule_id, &hay[start..candidate.end], &hay[checked.clone()]) {
                    excepted_here.push(rule_id);
                    return None;
                }
                let histogram = &mut cache.checked_histogram;
                let mut entropy = || histogram.of(hay, checked.clone()).shannon_entropy();
                if !checks::all_pass_with(&rule.checks, &hay[checked.clone()], &mut entropy)
                    || self.preceded_by_exception(rule_id, hay, start)
                {
                    return None;
                }
                if self.followed_by_exception(rule_id, hay, candidate.end) {
                    excepted_here.push(rule_id);
                    return None;
                }
                Some((rule_id, start..candidate.end))
            });
            if best.is_some() {
                break;
            }
        }
        cache.candidates = candidates;
        best
    }

    /// What a check looks at: the `value` group when the pattern has one,
    /// otherwise the whole match. The group is recovered on the match's own
    /// bytes (plus the byte before, for look-behind), so the answer is the
    /// same in block and streaming mode.
    fn checked_span(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        start: usize,
        candidate: Candidate,
    ) -> Range<usize> {
        let whole = start..candidate.end;
        let Some(regex) = &self.value_regex[candidate.pattern] else {
            return whole;
        };
        if let Some(value) = self.automata.value.checked_span(
            &mut cache.value,
            hay,
            candidate.pattern,
            start,
            candidate.end,
        ) {
            return value;
        }
        let captures = &mut cache.captures;
        // One set of capture slots per pattern, kept in the cache: making
        // them anew for every candidate was a tenth of the time on text
        // dense with keyword assignments.
        if captures.len() <= candidate.pattern {
            captures.resize_with(candidate.pattern + 1, || None);
        }
        let caps = captures[candidate.pattern].get_or_insert_with(|| regex.create_captures());
        let input = Input::new(&hay[..candidate.end])
            .range(start..)
            .anchored(Anchored::Yes);
        regex.search_captures(&input, caps);
        caps.get_group_by_name("value")
            .map_or(whole, |span| span.start..span.end)
    }

    /// True when the candidate's whole match, or its checked value, is an
    /// allowed value of its rule.
    fn allowed(&self, rule: RuleId, whole: &[u8], value: &[u8]) -> bool {
        let Some(regex) = &self.allowed[rule.index()] else {
            return false;
        };
        regex.is_match(whole) || (value.len() < whole.len() && regex.is_match(value))
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

    /// True when the text from `end` on starts with a match of one of the
    /// rule's `unless followed by` patterns. The search sees the longest
    /// of them and one byte more as look-ahead (for `\b` and `$`), which
    /// is exactly what a stream holds past a candidate before deciding it,
    /// so both modes see the same text.
    fn followed_by_exception(&self, rule: RuleId, hay: &[u8], end: usize) -> bool {
        let Some(regex) = &self.followed_by[rule.index()] else {
            return false;
        };
        let seen = hay.len().min(end + self.follow_len + 1);
        let input = Input::new(&hay[..seen])
            .range(end..seen.min(end + self.follow_len))
            .anchored(Anchored::Yes);
        regex.is_match(input)
    }

    /// Every (pattern, end) of the matches starting at `start`, by an
    /// anchored walk that stops where it dies, or where an earlier walk of
    /// the same window was in the same state at the same offset and then
    /// died without a match (the rest of this walk would be the same).
    // Kept out of `best_at`: inlined there, the walk loop measured 2-3%
    // more instructions on the worst inputs (finds 6 and 7).
    #[inline(never)]
    fn candidates_at(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        start: usize,
        eoi: bool,
        out: &mut Vec<Candidate>,
    ) {
        let dfa = &self.automata.anchored;
        let (dfa_cache, walks) = (&mut cache.anchored, &mut cache.walks);
        let config = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(start.checked_sub(1).map(|i| hay[i]));
        let Ok(mut sid) = dfa.start_state(dfa_cache, &config) else {
            return;
        };
        let walk = walks.start_walk(dfa_cache.clear_count());
        // Matches are reported one byte late: the state after reading the
        // byte at `at` tells of matches that end at `at`.
        let last = hay.len().min(start + self.max_len + 1);
        let mut at = start;
        while at < last {
            sid = next(dfa, dfa_cache, sid, hay[at]);
            if sid.is_tagged() {
                if sid.is_match() {
                    push_matches(dfa, dfa_cache, sid, at, out);
                    walks.matched(walk, at);
                }
                if sid.is_dead() {
                    walks.died(walk);
                    walks.end_walk(dfa_cache.clear_count());
                    return;
                }
            }
            if walks.visit(walk, at, sid, dfa_cache.clear_count()) {
                walks.died(walk);
                walks.end_walk(dfa_cache.clear_count());
                return;
            }
            at += 1;
        }
        walks.end_walk(dfa_cache.clear_count());
        if eoi && at == hay.len() {
            let sid = next_eoi(dfa, dfa_cache, sid);
            if sid.is_match() {
                push_matches(dfa, dfa_cache, sid, at, out);
            }
        }
    }
}

/// The forward shards from `from` (states in `cache.sids`, idle offsets in
/// `cache.idle`) for exactly `N` shards (see [`step_shards_fixed`]): `Ok(at)` when a match ends at `at`,
/// `Err(len)` when none ends within `hay` (states and idle offsets written
/// back either way), `None`, having done nothing, when there are not `N`.
fn scan_fixed<const N: usize>(
    forward: &[DFA],
    cache: &mut Cache,
    hay: &[u8],
    from: usize,
) -> Option<Result<usize, usize>> {
    let forward = <&[DFA; N]>::try_from(forward).ok()?;
    let shards = <&mut [crate::automata::ShardCache; N]>::try_from(&mut cache.forward[..]).ok()?;
    let mut sids = <[LazyStateID; N]>::try_from(&cache.sids[..]).ok()?;
    let mut idle = <[usize; N]>::try_from(&cache.idle[..]).ok()?;
    let mut result = Err(hay.len());
    for (at, &byte) in hay.iter().enumerate().skip(from) {
        if step_shards_fixed(forward, shards, &mut sids, &mut idle, byte, at + 1) {
            result = Ok(at);
            break;
        }
    }
    cache.sids.copy_from_slice(&sids);
    cache.idle.copy_from_slice(&idle);
    Some(result)
}

/// What the anchored walks of one window learnt: for each offset, the
/// state the latest walk was in after reading it. A walk that later died
/// without reporting a match at or after an offset proves that any walk in
/// the same state there has no match ahead either. Walks from neighbouring
/// starts often merge (inside an email's domain, after a token's prefix),
/// so a window of many starts costs little more than one walk.
///
/// The offsets live in a ring of more slots than a walk visits offsets
/// (the longest pattern and one), each slot tagged with its offset: walks
/// start in increasing order, so once a walk reaches an offset a ring
/// further on, no later walk visits the offset it displaces. The memory is
/// that of the longest pattern, whatever the window's length.
#[derive(Default)]
pub(crate) struct WalkMemo {
    /// Per offset modulo the ring: the walk that visited it last, its state
    /// there, and the offset.
    slots: Vec<(u64, LazyStateID, usize)>,
    /// Per walk of this window (ids from `first`): the offset from which
    /// its visits are proof (after its last match), once it died; `None`
    /// while it runs or if it stopped for another reason.
    proof_from: Vec<Option<usize>>,
    /// Running per walk: the offset after its last match so far.
    after_match: Vec<usize>,
    first: u64,
    next: u64,
    /// The anchored cache's clear count the recorded states belong to.
    clears: usize,
}

impl WalkMemo {
    /// A new window, for walks of patterns at most `max_len` long.
    fn begin(&mut self, max_len: usize, clears: usize) {
        let ring = (max_len + 2).next_power_of_two();
        if self.slots.len() < ring {
            // Marked as a walk still to come: never taken as proof.
            self.slots = vec![(u64::MAX, LazyStateID::default(), usize::MAX); ring];
        }
        self.forget(clears);
    }

    fn start_walk(&mut self, clears: usize) -> u64 {
        if clears != self.clears {
            // States recorded before a clear name other states now.
            self.forget(clears);
        }
        let id = self.next;
        // 64 bits: ids never wrap, so an old walk is never taken for a new one.
        self.next += 1;
        self.proof_from.push(None);
        self.after_match.push(0);
        id
    }

    fn index(&self, walk: u64) -> Option<usize> {
        walk.checked_sub(self.first).map(|index| index as usize)
    }

    fn matched(&mut self, walk: u64, at: usize) {
        if let Some(after) = self
            .index(walk)
            .and_then(|index| self.after_match.get_mut(index))
        {
            *after = at + 1;
        }
    }

    fn died(&mut self, walk: u64) {
        let Some(index) = self.index(walk) else {
            return;
        };
        if let (Some(proof), Some(&after)) =
            (self.proof_from.get_mut(index), self.after_match.get(index))
        {
            *proof = Some(after);
        }
    }

    /// After each walk: if the cache was cleared during it, nothing
    /// recorded so far (this walk's visits included) can be trusted.
    fn end_walk(&mut self, clears: usize) {
        if clears != self.clears {
            self.forget(clears);
        }
    }

    /// No walk recorded so far proves anything any more.
    fn forget(&mut self, clears: usize) {
        self.first = self.next;
        self.proof_from.clear();
        self.after_match.clear();
        self.clears = clears;
    }

    /// Records the walk's state after reading offset `at`; true when an
    /// earlier walk proved there is nothing ahead from that state.
    #[inline]
    fn visit(&mut self, walk: u64, at: usize, sid: LazyStateID, clears: usize) -> bool {
        let ring = self.slots.len();
        let Some(slot) = self.slots.get_mut(at & ring.wrapping_sub(1)) else {
            return false;
        };
        let (earlier, state, offset) = *slot;
        *slot = (walk, sid, at);
        if offset != at
            || state != sid
            || earlier < self.first
            || earlier >= walk
            || clears != self.clears
        {
            return false;
        }
        self.proof_from
            .get((earlier - self.first) as usize)
            .is_some_and(|proof| proof.is_some_and(|from| at >= from))
    }
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

/// What a block search over one text learnt of its run patterns: the run
/// ends read so far, and the first finding they give from some offset on
/// (see [`Compiled::next_finding`]). Findings do not overlap and a search
/// moves right, so one answer serves every later call until the search
/// passes its start, and the text's run ends are read once (a pattern's
/// next end may lie far ahead: read afresh for each finding, PEM text ran
/// at 2.4 MB/s).
struct RunSearch<'a> {
    /// The text's run ends, from its start; `None` without run patterns.
    ends: Option<BlockRunEnds<'a>>,
    /// Those read that may still give a finding, in order of end.
    read: VecDeque<RunEnd>,
    known: Option<Known>,
}

impl<'a> RunSearch<'a> {
    /// The search of the run patterns `mask` (see
    /// [`crate::runs::RunPatterns::mask`]: those whose rules are in the
    /// view being searched).
    fn new(set: &'a Compiled, mask: u32, hay: &'a [u8], eoi: bool) -> RunSearch<'a> {
        let runs = &set.automata.runs;
        RunSearch {
            ends: (mask != 0).then(|| BlockRunEnds::new(runs, mask, hay, 0, eoi)),
            read: VecDeque::new(),
            known: None,
        }
    }

    /// The first finding at a start a run end gives in `from..horizon`.
    /// Run ends are read from the text's start, not cut at `from`: a run
    /// that began before it gives the same starts from `from` on as the
    /// part of it after `from` does.
    #[allow(clippy::too_many_arguments)]
    fn first_from(
        &mut self,
        set: &Compiled,
        cache: &mut Cache,
        hay: &[u8],
        from: usize,
        horizon: usize,
        eoi: bool,
        eligible: Eligible<'_, '_>,
    ) -> Option<(RuleId, Range<usize>)> {
        let ends = self.ends.as_mut()?;
        let read = &mut self.read;
        remembered(&mut self.known, from, horizon, || {
            // An end at or before `from` has no start after it.
            while read.front().is_some_and(|end| end.end <= from) {
                read.pop_front();
            }
            let buffered = Buffered {
                read: &mut *read,
                next: 0,
                ends,
            };
            let found = set.first_run_finding(cache, hay, from, horizon, eoi, eligible, buffered);
            if found.is_none() {
                // No later search (from further on) needs them.
                read.clear();
            }
            found
        })
    }
}

/// The first finding one side of a search found from `from`, in
/// `from..horizon`. From a later offset it is still the first: every
/// finding that side could give from there it could give from `from`
/// (a start's best candidate does not depend on where the search began),
/// so none starts before it, until the search passes its start.
#[derive(Clone)]
pub(crate) struct Known {
    from: usize,
    horizon: usize,
    found: Option<(RuleId, Range<usize>)>,
}

impl Known {
    fn holds_from(&self, from: usize, horizon: usize) -> bool {
        self.from <= from
            && self.horizon == horizon
            && self
                .found
                .as_ref()
                .is_none_or(|(_, span)| span.start >= from)
    }
}

/// `known`'s finding while it holds from `from`, else `find`'s, kept in
/// `known` for the next call.
pub(crate) fn remembered(
    known: &mut Option<Known>,
    from: usize,
    horizon: usize,
    find: impl FnOnce() -> Option<(RuleId, Range<usize>)>,
) -> Option<(RuleId, Range<usize>)> {
    if let Some(known) = known.as_ref().filter(|k| k.holds_from(from, horizon)) {
        return known.found.clone();
    }
    let found = find();
    *known = Some(Known {
        from,
        horizon,
        found: found.clone(),
    });
    found
}

/// Of two findings, the one that starts first (at one start both are that
/// start's best candidate: the same).
pub(crate) fn earlier(
    a: Option<(RuleId, Range<usize>)>,
    b: Option<(RuleId, Range<usize>)>,
) -> Option<(RuleId, Range<usize>)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.1.start < a.1.start { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// What one block search over one text remembers between findings (see
/// [`Compiled::next_finding`]).
pub(crate) struct BlockSearch<'a> {
    runs: RunSearch<'a>,
    shards: Option<Known>,
}

impl<'a> BlockSearch<'a> {
    /// For the run patterns `mask` (those of the view searched).
    pub(crate) fn new(set: &'a Compiled, mask: u32, hay: &'a [u8], eoi: bool) -> BlockSearch<'a> {
        BlockSearch {
            runs: RunSearch::new(set, mask, hay, eoi),
            shards: None,
        }
    }
}

/// The run ends already read, then those still to read (kept as they are
/// read, for the next search).
struct Buffered<'r, 'a> {
    read: &'r mut VecDeque<RunEnd>,
    next: usize,
    ends: &'r mut BlockRunEnds<'a>,
}

impl Iterator for Buffered<'_, '_> {
    type Item = RunEnd;

    fn next(&mut self) -> Option<RunEnd> {
        if let Some(end) = self.read.get(self.next) {
            self.next += 1;
            return Some(end.clone());
        }
        let end = self.ends.next()?;
        self.read.push_back(end.clone());
        self.next += 1;
        Some(end)
    }
}
