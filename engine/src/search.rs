//! The block algorithm: the next finding from a position, given the
//! automata and a [`Cache`]. Both modes, block and streaming, decide
//! findings here; they differ only in how match ends are learnt.
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

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::start;
use regex_automata::{Anchored, Input};

use crate::automata::{next, next_eoi, step_shards, Candidate};
use crate::cache::Cache;
use crate::checks;
use crate::findings::RuleId;
use crate::ruleset::Compiled;
use crate::spec::Action;

/// Which rules count, and with which action: `None` for a rule that does
/// not act where the text is being scanned.
pub(crate) type Eligible<'a, 'b> = &'b dyn Fn(RuleId) -> Option<&'a Action>;

impl Compiled {
    /// The next finding whose start lies in `from..horizon`.
    ///
    /// `hay[..from]` is context only (look-behind). When `eoi` is false the
    /// end of `hay` is not the end of the text: the caller guarantees that
    /// every match starting before `horizon` ends before `hay.len()`, so
    /// none of them depends on what comes after.
    pub(crate) fn next_finding(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        mut from: usize,
        horizon: usize,
        eoi: bool,
        eligible: Eligible<'_, '_>,
    ) -> Option<(RuleId, Range<usize>)> {
        while from < horizon {
            let (window, end) = self.earliest_end(cache, hay, from, eoi)?;
            // Every match that starts before `end` starts in `window..end`
            // (the one ending at `end` among them); try them left to right.
            let found = self.first_starting_in(cache, hay, window..end.min(horizon), eoi, eligible);
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
            if from >= horizon {
                break;
            }
            if end <= from {
                continue;
            }
            let starts = window.max(from)..end.min(horizon);
            let found = self.first_starting_in(cache, hay, starts, eoi, eligible);
            if found.is_some() {
                return found;
            }
            from = end;
        }
        None
    }

    /// The winning eligible candidate at the leftmost of `starts` that has
    /// one.
    fn first_starting_in(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        starts: Range<usize>,
        eoi: bool,
        eligible: Eligible<'_, '_>,
    ) -> Option<(RuleId, Range<usize>)> {
        starts
            .into_iter()
            .find_map(|start| self.best_at(cache, hay, start, eoi, eligible))
    }

    /// From `from`, the earliest end of any match, with the last position
    /// before it at which no partial match was alive (no match that starts
    /// earlier reaches past it). `None` when no match ends within `hay`.
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
        let window = |idle: &[usize]| idle.iter().copied().min().unwrap_or(from);
        for (at, &byte) in hay.iter().enumerate().skip(from) {
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
                return Some((window(&cache.idle), at));
            }
        }
        if eoi {
            for (shard, dfa) in forward.iter().enumerate() {
                let sid = cache.sids[shard];
                if next_eoi(dfa, &mut cache.forward[shard].dfa, sid).is_match() {
                    return Some((window(&cache.idle), hay.len()));
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
        self.candidates_at(&mut cache.anchored, hay, start, eoi, &mut candidates);
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
        cache.candidates = candidates;
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
        cache: &mut DfaCache,
        hay: &[u8],
        start: usize,
        eoi: bool,
        out: &mut Vec<Candidate>,
    ) {
        let dfa = &self.automata.anchored;
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
