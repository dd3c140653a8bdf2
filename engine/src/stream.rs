//! The streaming masker: one [`Scanner`] per stream, fed chunk by chunk.
//!
//! Invariant: `push(c1) ++ … ++ push(cn) ++ finish()` equals the block
//! result of `c1 ++ … ++ cn` for every cutting, and at most the longest
//! pattern's length (plus an unfinished UTF-8 character) is ever held.
//!
//! How: the forward lazy DFA (unanchored, all patterns, start states
//! tagged) runs over every byte once. Whenever it is back in a start state,
//! no partial match is alive, so nothing before that offset can belong to a
//! match still to come; and no live match can have started more than the
//! longest pattern ago. The later of the two is the *horizon*: every match
//! starting before it has already ended inside the buffer, so the block
//! algorithm decides that region exactly as it would on the whole text.
//! Bytes from the horizon on are held until the next chunk (or `finish`).
//! The forward DFA also records each match end it reports, with the last
//! idle offset before it; deciding the region then only tries the starts
//! of those windows with the anchored DFA (the block algorithm's choice,
//! without stepping the forward DFA over the bytes again). Prose costs one
//! step per shard and byte, and a copy.

use std::collections::VecDeque;

use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::start;
use regex_automata::Anchored;

use crate::ruleset::{
    next, next_eoi, step_shards, Disposition, Finding, Rejection, RuleId, RuleSet,
};
use crate::spec::{Action, Scope, Side};

/// Per-stream state: cheap to create, owns every mutable thing a stream
/// carries from one push to the next (the forward shards' caches and
/// states, the held bytes), and hands its warmed caches back to the rule
/// set when dropped. What a decision needs besides (the anchored DFA's
/// cache) it borrows from the rule set's pool for that decision only.
pub struct Scanner {
    set: RuleSet,
    side: Side,
    scope: Scope,
    /// The forward shards' caches; `sids` are states of these caches.
    forward: Vec<DfaCache>,
    /// Each forward shard's state after `total` bytes.
    sids: Vec<LazyStateID>,
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
    /// The largest end of a match the forward DFA has reported.
    last_match_end: usize,
    /// Each forward cache's clear count when its start states were last
    /// tagged.
    clears: Vec<usize>,
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
        let mut forward = self.inner.take_forward();
        let clears = forward.iter().map(DfaCache::clear_count).collect();
        let sids = self
            .inner
            .forward
            .iter()
            .zip(forward.iter_mut())
            .map(|(dfa, cache)| tag_start_states(dfa, cache))
            .collect();
        let shard_idle = vec![0; self.inner.forward.len()];
        Scanner {
            set: self.clone(),
            side,
            scope,
            forward,
            sids,
            buf: Vec::new(),
            buf_start: 0,
            resolved: 0,
            total: 0,
            shard_idle,
            ends: VecDeque::new(),
            last_idle: 0,
            last_match_end: 0,
            clears,
            findings: Vec::new(),
            rejection: None,
        }
    }
}

/// Creates every unanchored start state (one per kind of look-behind) and
/// returns the one for the start of a text.
///
/// The lazy DFA tags a state as a start state only if it was first created
/// as one; a state reached by a transition first stays untagged even when
/// it equals a start state. Creating them all up front (and again after a
/// cache clear) lets the scanner see "no partial match alive" as a tag
/// check. A missed tag only delays a release; it never changes the output.
pub(crate) fn tag_start_states(dfa: &DFA, cache: &mut DfaCache) -> LazyStateID {
    // Text start, then one byte of each look-behind class: line feed,
    // carriage return, word byte, non-word byte, non-ASCII byte.
    let look_behinds = [
        Some(b'\n'),
        Some(b'\r'),
        Some(b'a'),
        Some(b' '),
        Some(0xC3),
        None,
    ];
    let mut sid = None;
    for look_behind in look_behinds {
        let config = start::Config::new()
            .anchored(Anchored::No)
            .look_behind(look_behind);
        sid = Some(
            dfa.start_state(cache, &config)
                .expect("lazy DFA without quit bytes or clear limit cannot fail"),
        );
    }
    sid.expect("the list of look-behinds is not empty")
}

impl Scanner {
    /// Feeds the next chunk and appends to `out` every byte that can no
    /// longer be part of a match (masked where a match was decided).
    ///
    /// After a rejection the scanner writes nothing more and returns the
    /// same rejection again.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Rejection> {
        if let Some(rejection) = &self.rejection {
            return Err(rejection.clone());
        }
        self.advance(chunk);
        self.buf.extend_from_slice(chunk);
        self.total += chunk.len();
        self.resolve(false, out)
    }

    /// Ends the stream: decides the held bytes and writes them out.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), Rejection> {
        if let Some(rejection) = &self.rejection {
            return Err(rejection.clone());
        }
        let inner = &*self.set.inner;
        if inner
            .forward
            .iter()
            .zip(self.forward.iter_mut())
            .zip(&self.sids)
            .any(|((dfa, cache), &sid)| next_eoi(dfa, cache, sid).is_match())
        {
            self.last_match_end = self.total;
            let window = self.shard_idle.iter().copied().min().unwrap_or(0);
            self.ends.push_back(MatchEnd {
                window,
                end: self.total,
            });
        }
        self.resolve(true, out)
    }

    /// Findings decided so far, in stream order, with stream offsets;
    /// taking them leaves the scanner's list empty.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    /// Bytes received but not yet written out.
    pub fn held(&self) -> usize {
        self.total - self.resolved
    }

    /// The rule set this scanner applies (to name the rules of findings).
    pub fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    /// Heap bytes this scanner holds between pushes: its forward DFA
    /// caches (which grow lazily up to a fixed capacity) and its held
    /// bytes.
    pub fn memory_usage(&self) -> usize {
        self.forward
            .iter()
            .map(DfaCache::memory_usage)
            .sum::<usize>()
            + self.buf.capacity()
    }

    /// Bytes received so far.
    pub fn position(&self) -> usize {
        self.total
    }

    fn advance(&mut self, chunk: &[u8]) {
        let forward = &self.set.inner.forward;
        if let ([dfa], [cache], [sid], [idle]) = (
            &forward[..],
            &mut self.forward[..],
            &mut self.sids[..],
            &mut self.shard_idle[..],
        ) {
            // One shard (at most 16 patterns, or every pattern behind a
            // literal prefix): its state stays in a register, which
            // measured 1.5x faster than the general loop below.
            let (mut state, mut last_idle, total) = (*sid, *idle, self.total);
            for (i, &byte) in chunk.iter().enumerate() {
                state = next(dfa, cache, state, byte);
                if state.is_tagged() {
                    let offset = total + i;
                    if state.is_start() {
                        last_idle = offset + 1;
                    } else if state.is_match() {
                        // Reported one byte late: the match ended at
                        // `offset`, and the shard was last idle before it
                        // at `last_idle`.
                        self.last_match_end = offset;
                        self.ends.push_back(MatchEnd {
                            window: last_idle,
                            end: offset,
                        });
                    }
                }
            }
            (*sid, *idle) = (state, last_idle);
        } else {
            self.advance_shards(chunk);
        }
        let forward = &self.set.inner.forward;
        for (shard, dfa) in forward.iter().enumerate() {
            let cache = &mut self.forward[shard];
            if cache.clear_count() != self.clears[shard] {
                tag_start_states(dfa, cache);
                self.clears[shard] = cache.clear_count();
            }
        }
        // A match alive at an offset is alive in its own shard: nothing
        // reaches past an offset where every shard was idle at or after it.
        self.last_idle = self.shard_idle.iter().copied().min().unwrap_or(self.total);
    }

    /// [`Scanner::advance`] over several shards.
    fn advance_shards(&mut self, chunk: &[u8]) {
        let forward = &self.set.inner.forward;
        for (i, &byte) in chunk.iter().enumerate() {
            let offset = self.total + i;
            let matched = step_shards(
                forward,
                &mut self.forward,
                &mut self.sids,
                &mut self.shard_idle,
                byte,
                offset + 1,
            );
            if matched {
                // Reported one byte late: the match ended at `offset`. A
                // match that ends there or later is alive in its own shard
                // from its start on, so it starts after that shard's last
                // idle offset (a shard idle after this very byte has no
                // such match, and the reporting shard is not idle).
                let window = self.shard_idle.iter().copied().min().unwrap_or(offset);
                self.last_match_end = offset;
                self.ends.push_back(MatchEnd {
                    window,
                    end: offset,
                });
            }
        }
    }

    fn resolve(&mut self, eoi: bool, out: &mut Vec<u8>) -> Result<(), Rejection> {
        let inner = &*self.set.inner;
        let horizon = if eoi {
            self.total
        } else {
            self.last_idle.max(self.total.saturating_sub(inner.max_len))
        };
        let (side, scope) = (self.side, self.scope);
        let eligible =
            |rule: RuleId| -> Option<&Action> { inner.rule(rule).action_for(side, scope) };
        let base = self.buf_start;
        if horizon > self.resolved && self.last_match_end > self.resolved {
            let mut caches = inner.pooled_caches();
            let mut from = self.resolved - base;
            let ends = self
                .ends
                .iter()
                .map(|e| (e.window.max(base) - base, e.end - base));
            while let Some((rule, span)) = inner.next_finding_among(
                &mut caches,
                &self.buf,
                from,
                horizon - base,
                eoi,
                &eligible,
                ends.clone(),
            ) {
                out.extend_from_slice(&self.buf[from..span.start]);
                let disposition = eligible(rule).map_or(Disposition::Log, Disposition::of);
                let finding = Finding {
                    rule,
                    start: base + span.start,
                    end: base + span.end,
                    disposition,
                };
                self.findings.push(finding);
                if disposition == Disposition::Reject {
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
                inner.write_finding(side, scope, &local, &self.buf, out);
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
            out.extend_from_slice(&self.buf[self.resolved - base..end - base]);
            self.resolved = end;
        }
        while self.ends.front().is_some_and(|e| e.end <= self.resolved) {
            self.ends.pop_front();
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
        Ok(())
    }
}

/// The largest offset `<= end` that does not cut a UTF-8 character whose
/// bytes may still be arriving: a lead byte in the last three bytes whose
/// sequence runs past `end`, followed only by continuation bytes, is held.
/// Invalid sequences are not held (they can never become valid).
fn utf8_safe_end(bytes: &[u8], end: usize) -> usize {
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

impl Drop for Scanner {
    fn drop(&mut self) {
        let forward = std::mem::take(&mut self.forward);
        if !forward.is_empty() {
            self.set.inner.return_forward(forward);
        }
    }
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
