//! Where a candidate's `value` group starts, found with two lazy DFAs
//! instead of a capturing search.
//!
//! A check looks at the `value` group of the highest-priority way the
//! pattern matches the candidate's own bytes (`search::checked_span`). For a
//! pattern that is a sequence ending in the group, `prefix (?P<value>v)`,
//! every way of matching `start..end` splits it at some `split` with the
//! prefix matching `start..split` and `v` matching `split..end`. When only
//! one split exists, every way of matching uses it, whichever has the
//! highest priority, so the group is `split..end`: exact, without the
//! backtracker (whose visited set alone, cleared per call, cost a fifth of
//! the time on text dense with keyword assignments). With no split or
//! several, the caller falls back to the capturing search.
//!
//! The splits are the ends of an anchored forward run of the prefix from
//! `start` that are also starts of an anchored reverse run of `v` from
//! `end`, both over `hay[..end]` with the byte before `start` as context,
//! exactly the text the capturing search sees.

use std::ops::Range;

use regex_automata::dfa::onepass;
use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind, PatternID};
use regex_syntax::hir::{Hir, HirKind, Look};

use crate::automata::{next, next_eoi};

/// The two DFAs, over every pattern that has the shape.
#[derive(Debug)]
pub(crate) struct ValueSplit {
    /// Each prefix, anchored, every match end reported.
    prefix: DFA,
    /// Each group, reversed, anchored, every match start reported.
    value: DFA,
    /// Per engine pattern: its pattern id in both DFAs.
    index: Vec<Option<PatternID>>,
}

/// The DFAs' caches and a scratch list of prefix ends.
#[derive(Debug)]
pub(crate) struct ValueCache {
    prefix: DfaCache,
    value: DfaCache,
    /// `prefix_ends[i]`: the prefix matches `start..start + i`.
    prefix_ends: Vec<bool>,
}

const CACHE_BYTES: usize = 1 << 20;

impl ValueSplit {
    /// `hirs[i]` is pattern `i`; `wanted[i]` says whether its checks look
    /// at a `value` group.
    pub(crate) fn build(hirs: &[Hir], wanted: &[bool]) -> Result<ValueSplit, String> {
        let mut prefixes = Vec::new();
        let mut values = Vec::new();
        let mut index = Vec::with_capacity(hirs.len());
        for (hir, &wanted) in hirs.iter().zip(wanted) {
            let split = (wanted && !one_pass(hir))
                .then(|| prefix_and_value(hir))
                .flatten();
            index.push(split.map(|(prefix, value)| {
                let id =
                    PatternID::new(prefixes.len()).expect("fewer patterns than PatternID::LIMIT");
                prefixes.push(prefix);
                values.push(value);
                id
            }));
        }
        let dfa = |hirs: &[Hir], reverse: bool| {
            let nfa = thompson::Compiler::new()
                .configure(
                    thompson::Config::new()
                        .reverse(reverse)
                        .shrink(false)
                        .which_captures(WhichCaptures::None),
                )
                .build_many_from_hir(hirs)
                .map_err(|e| e.to_string())?;
            DFA::builder()
                .configure(
                    DFA::config()
                        .match_kind(MatchKind::All)
                        .starts_for_each_pattern(true)
                        .cache_capacity(CACHE_BYTES)
                        .skip_cache_capacity_check(true),
                )
                .build_from_nfa(nfa)
                .map_err(|e| e.to_string())
        };
        Ok(ValueSplit {
            prefix: dfa(&prefixes, false)?,
            value: dfa(&values, true)?,
            index,
        })
    }

    pub(crate) fn create_cache(&self) -> ValueCache {
        ValueCache {
            prefix: DfaCache::new(&self.prefix),
            value: DfaCache::new(&self.value),
            prefix_ends: Vec::new(),
        }
    }

    /// The `value` group of pattern `pattern`'s match `start..end` of `hay`
    /// when the pattern has the shape and exactly one split exists; `None`
    /// tells the caller to run the capturing search.
    pub(crate) fn value_span(
        &self,
        cache: &mut ValueCache,
        hay: &[u8],
        pattern: usize,
        start: usize,
        end: usize,
    ) -> Option<Range<usize>> {
        let id = (*self.index.get(pattern)?)?;
        let hay = &hay[..end];
        let ends = &mut cache.prefix_ends;
        ends.clear();
        ends.resize(end - start + 1, false);
        // Forward: every end of the prefix. Matches are reported one byte
        // late: the state after the byte at `at` tells of a match ending at
        // `at`; the end of `hay` is the end of the text.
        let config = start::Config::new()
            .anchored(Anchored::Pattern(id))
            .look_behind(start.checked_sub(1).map(|at| hay[at]));
        let mut sid = self.prefix.start_state(&mut cache.prefix, &config).ok()?;
        let mut at = start;
        loop {
            sid = if at < end {
                next(&self.prefix, &mut cache.prefix, sid, hay[at])
            } else {
                next_eoi(&self.prefix, &mut cache.prefix, sid)
            };
            if sid.is_match() {
                ends[at - start] = true;
            }
            if sid.is_dead() || at == end {
                break;
            }
            at += 1;
        }
        // Backward from `end` (the end of the text: no byte after it): the
        // state after the byte at `at` tells of a match starting at
        // `at + 1`; before `start` comes the byte before it, or the text's
        // start.
        let config = start::Config::new().anchored(Anchored::Pattern(id));
        let mut sid = self.value.start_state(&mut cache.value, &config).ok()?;
        let mut split = None;
        let mut at = end;
        loop {
            sid = match at.checked_sub(1) {
                Some(before) => next(&self.value, &mut cache.value, sid, hay[before]),
                None => next_eoi(&self.value, &mut cache.value, sid),
            };
            if sid.is_match() && ends[at - start] {
                if split.is_some() {
                    return None;
                }
                split = Some(at);
            }
            if sid.is_dead() || at == start {
                break;
            }
            at -= 1;
        }
        split.map(|split| split..end)
    }
}

/// True when the capturing search of the pattern can run as a one-pass
/// DFA (the meta regex then does): one step per byte, cheaper than two
/// runs over the match.
fn one_pass(hir: &Hir) -> bool {
    let at_end = Hir::concat(vec![hir.clone(), Hir::look(Look::End)]);
    thompson::Compiler::new()
        .build_from_hir(&at_end)
        .ok()
        .is_some_and(|nfa| onepass::DFA::new_from_nfa(nfa).is_ok())
}

/// `(prefix, group)` when the pattern is a sequence whose last element is
/// the `value` group.
fn prefix_and_value(hir: &Hir) -> Option<(Hir, Hir)> {
    let HirKind::Concat(subs) = hir.kind() else {
        return None;
    };
    let (last, prefix) = subs.split_last()?;
    let HirKind::Capture(cap) = last.kind() else {
        return None;
    };
    if cap.name.as_deref() != Some("value") {
        return None;
    }
    Some((Hir::concat(prefix.to_vec()), (*cap.sub).clone()))
}
