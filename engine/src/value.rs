//! Where a candidate's `value` group lies, found with lazy DFAs (or a
//! one-pass DFA) instead of a capturing search.
//!
//! A check looks at the `value` group of the highest-priority way the
//! pattern matches the candidate's own bytes (`search::checked_span`). For a
//! pattern that is a sequence ending in the group (and perhaps assertions
//! such as `\b`), `prefix (?P<value>v)`,
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
//! exactly the text the capturing search sees. A group followed by more
//! than assertions, `prefix (?P<value>v) suffix`, is cut twice the same
//! way: `prefix | v suffix` gives where it starts, then `v | suffix` from
//! there where it ends; each cut must be the only one. The candidates of
//! one start differ only in their end, so the prefix's ends are found once
//! per start, and an end where the group cannot begin with the byte there
//! is no split; with one end left, no reverse run is needed.

use std::ops::Range;

use regex_automata::dfa::onepass;
use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::captures::Captures;
use regex_automata::util::start;
use regex_automata::{Anchored, Input, MatchKind, PatternID};
use regex_syntax::hir::{Hir, HirKind, Look};

use crate::automata::{next, next_eoi};

/// The DFAs, over every pattern that has the shape.
#[derive(Debug)]
pub(crate) struct ValueSplit {
    /// Each prefix (what comes before the group), anchored, every match
    /// end reported.
    prefix: DFA,
    /// Each rest (the group and what follows it), reversed, anchored, every
    /// match start reported.
    rest: DFA,
    /// For patterns with more than assertions after the group: the group
    /// forward and what follows it reversed, to find where the group ends.
    value: Option<DFA>,
    suffix: Option<DFA>,
    /// Per engine pattern with the shape: its ids in those DFAs.
    index: Vec<Option<SplitIds>>,
    /// Per pattern id of `rest`: the bytes a match of it can begin with.
    rest_first: Vec<FirstBytes>,
    /// Per engine pattern whose capturing search is one-pass: that search
    /// (one step per byte), used instead of the split.
    one_pass: Vec<Option<onepass::DFA>>,
}

#[derive(Clone, Copy, Debug)]
struct SplitIds {
    /// In `prefix` and `rest`.
    prefix: PatternID,
    /// In `value` and `suffix`, when the group is followed by more than
    /// assertions.
    suffix: Option<PatternID>,
    /// The group and what follows take a byte at least, and no assertion
    /// can sit at the match's end (where the capturing search, run on the
    /// candidate's own bytes, sees the end of the text instead of the byte
    /// after): a candidate's split is then one of the prefix's ends before
    /// its end, the same for every candidate of a start.
    splits_before_end: bool,
}

/// The bytes a match of the group and what follows it can begin with,
/// whatever the byte before (a superset is safe: it only decides when the
/// backward run can be skipped).
#[derive(Clone, Debug)]
struct FirstBytes([bool; 256]);

/// The DFAs' caches and scratch.
#[derive(Debug)]
pub(crate) struct ValueCache {
    prefix: DfaCache,
    rest: DfaCache,
    value: Option<DfaCache>,
    suffix: Option<DfaCache>,
    /// `ends[i]`: the first part matches `from..from + i`.
    ends: Vec<bool>,
    /// Where the prefix of pattern `.0` from start `.1` ends (every end,
    /// in order), for the candidates of one start: they differ only in
    /// where they end, the prefix's ends do not depend on it.
    prefix_ends_of: Option<(usize, usize)>,
    prefix_ends: Vec<usize>,
    /// Per one-pass pattern, made on first use.
    one_pass: Vec<Option<(onepass::Cache, Captures)>>,
}

/// Per DFA. On secret-dense text the prefix and rest DFAs of the shipped
/// packs settle at 1.1 and 1.3 MiB of states: at 1 MiB they were cleared
/// 18 and 55 times per two 1 MiB scans, and rebuilding states was a third
/// of the scan (476 M instructions per MiB, 318 M with room to settle).
/// States are built lazily, so a cache only takes what its text needs.
const CACHE_BYTES: usize = 8 << 20;

impl ValueCache {
    /// Forgets the prefix ends kept for the last start: call before the
    /// candidates of another start, or of the same start in other text.
    pub(crate) fn begin_start(&mut self) {
        self.prefix_ends_of = None;
    }

    /// Each DFA's clear count and memory (for profiling).
    pub(crate) fn clear_counts(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        [
            Some(&self.prefix),
            Some(&self.rest),
            self.value.as_ref(),
            self.suffix.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|cache| (cache.clear_count(), cache.memory_usage()))
    }

    /// Heap bytes the DFAs have taken so far.
    pub(crate) fn memory_usage(&self) -> usize {
        self.prefix.memory_usage()
            + self.rest.memory_usage()
            + self.value.as_ref().map_or(0, DfaCache::memory_usage)
            + self.suffix.as_ref().map_or(0, DfaCache::memory_usage)
    }
}

impl ValueSplit {
    /// `hirs[i]` is pattern `i`; `wanted[i]` says whether its checks look
    /// at a `value` group.
    pub(crate) fn build(hirs: &[Hir], wanted: &[bool]) -> Result<ValueSplit, String> {
        let (mut prefixes, mut rests, mut values, mut suffixes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut index = Vec::with_capacity(hirs.len());
        let mut one_passes = Vec::with_capacity(hirs.len());
        for (hir, &wanted) in hirs.iter().zip(wanted) {
            let one_pass = wanted.then(|| one_pass(hir)).flatten();
            let shape = (wanted && one_pass.is_none())
                .then(|| split_at_value(hir))
                .flatten()
                .filter(Shape::small_enough);
            one_passes.push(one_pass);
            index.push(shape.map(|shape| {
                let id = |list: &Vec<Hir>| {
                    PatternID::new(list.len()).expect("fewer patterns than PatternID::LIMIT")
                };
                let prefix = id(&prefixes);
                prefixes.push(shape.prefix);
                let rest = Hir::concat(vec![shape.value.clone(), shape.suffix.clone()]);
                let splits_before_end = rest.properties().minimum_len().unwrap_or(0) > 0
                    && rest.properties().look_set_suffix_any().is_empty();
                rests.push(rest);
                let suffix = (!shape.suffix_is_assertions).then(|| {
                    let suffix = id(&values);
                    values.push(shape.value);
                    suffixes.push(shape.suffix);
                    suffix
                });
                SplitIds {
                    prefix,
                    suffix,
                    splits_before_end,
                }
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
        let rest_forward = dfa(&rests, false)?;
        let rest_first = (0..rests.len())
            .map(|id| first_bytes(&rest_forward, PatternID::new_unchecked(id)))
            .collect::<Result<Vec<_>, String>>()?;
        let (value, suffix) = if values.is_empty() {
            (None, None)
        } else {
            (Some(dfa(&values, false)?), Some(dfa(&suffixes, true)?))
        };
        Ok(ValueSplit {
            prefix: dfa(&prefixes, false)?,
            rest: dfa(&rests, true)?,
            value,
            suffix,
            index,
            rest_first,
            one_pass: one_passes,
        })
    }

    pub(crate) fn create_cache(&self) -> ValueCache {
        ValueCache {
            prefix: DfaCache::new(&self.prefix),
            rest: DfaCache::new(&self.rest),
            value: self.value.as_ref().map(DfaCache::new),
            suffix: self.suffix.as_ref().map(DfaCache::new),
            ends: Vec::new(),
            prefix_ends_of: None,
            prefix_ends: Vec::new(),
            one_pass: Vec::new(),
        }
    }

    /// What the checks of pattern `pattern`'s match `start..end` of `hay`
    /// look at, when this can tell without the general capturing search:
    /// the pattern is one-pass, or has the shape and exactly one split.
    pub(crate) fn checked_span(
        &self,
        cache: &mut ValueCache,
        hay: &[u8],
        pattern: usize,
        start: usize,
        end: usize,
    ) -> Option<Range<usize>> {
        if let Some(dfa) = self.one_pass.get(pattern).and_then(Option::as_ref) {
            if cache.one_pass.len() <= pattern {
                cache.one_pass.resize_with(pattern + 1, || None);
            }
            let (one_pass_cache, caps) = cache.one_pass[pattern]
                .get_or_insert_with(|| (dfa.create_cache(), dfa.create_captures()));
            let input = Input::new(&hay[..end])
                .range(start..)
                .anchored(Anchored::Yes);
            dfa.captures(one_pass_cache, input, caps);
            return Some(
                caps.get_group_by_name("value")
                    .map_or(start..end, |span| span.start..span.end),
            );
        }
        self.value_span(cache, hay, pattern, start, end)
    }

    /// The `value` group of pattern `pattern`'s match `start..end` of `hay`
    /// when the pattern has the shape and exactly one split exists; `None`
    /// tells the caller to run the capturing search.
    fn value_span(
        &self,
        cache: &mut ValueCache,
        hay: &[u8],
        pattern: usize,
        start: usize,
        end: usize,
    ) -> Option<Range<usize>> {
        let ids = (*self.index.get(pattern)?)?;
        if ids.splits_before_end {
            // Every way of matching splits at an end of the prefix before
            // `end`: with only one such end, that is where the group starts.
            if cache.prefix_ends_of != Some((pattern, start)) {
                prefix_ends(
                    &self.prefix,
                    &mut cache.prefix,
                    ids.prefix,
                    hay,
                    start,
                    &mut cache.prefix_ends,
                )?;
                cache.prefix_ends_of = Some((pattern, start));
            }
            // Where the group cannot begin with the byte there, no split.
            let first = &self.rest_first[ids.prefix.as_usize()].0;
            let mut before = cache
                .prefix_ends
                .iter()
                .copied()
                .take_while(|&at| at < end)
                .filter(|&at| first[usize::from(hay[at])]);
            let lowest = before.next()?;
            let value_start = if before.next().is_none() {
                lowest
            } else {
                // Several: the group's pattern run back from `end` tells
                // which of them it can start at; it need not go past the
                // first.
                let ends = &mut cache.ends;
                ends.clear();
                ends.resize(end - start + 1, false);
                for &at in cache.prefix_ends.iter().take_while(|&&at| at < end) {
                    ends[at - start] = first[usize::from(hay[at])];
                }
                unique_split_backward(
                    (&self.rest, &mut cache.rest),
                    ids.prefix,
                    ends,
                    &hay[..end],
                    start,
                    lowest,
                )?
            };
            return self.value_end(cache, &hay[..end], ids, value_start);
        }
        let hay = &hay[..end];
        let value_start = unique_split(
            (&self.prefix, &mut cache.prefix),
            (&self.rest, &mut cache.rest),
            ids.prefix,
            &mut cache.ends,
            hay,
            start,
        )?;
        self.value_end(cache, hay, ids, value_start)
    }

    /// The group from `value_start` to where it ends in `hay` (which ends
    /// where the match does).
    fn value_end(
        &self,
        cache: &mut ValueCache,
        hay: &[u8],
        ids: SplitIds,
        value_start: usize,
    ) -> Option<Range<usize>> {
        let end = hay.len();
        let value_end = match (&self.value, &mut cache.value, ids.suffix) {
            (Some(value), Some(value_cache), Some(id)) => {
                let (suffix, suffix_cache) = (self.suffix.as_ref()?, cache.suffix.as_mut()?);
                unique_split(
                    (value, value_cache),
                    (suffix, suffix_cache),
                    id,
                    &mut cache.ends,
                    hay,
                    value_start,
                )?
            }
            _ => end,
        };
        Some(value_start..value_end)
    }
}

/// Which bytes can begin a match of the forward anchored `dfa`'s pattern
/// `id`: those whose step out of one of its start states (one per kind
/// of byte before) does not die.
fn first_bytes(dfa: &DFA, id: PatternID) -> Result<FirstBytes, String> {
    let mut cache = DfaCache::new(dfa);
    let clears = cache.clear_count();
    let mut starts = Vec::new();
    for before in std::iter::once(None).chain((0..=255u8).map(Some)) {
        let config = start::Config::new()
            .anchored(Anchored::Pattern(id))
            .look_behind(before);
        let sid = dfa
            .start_state(&mut cache, &config)
            .map_err(|e| e.to_string())?;
        if !starts.contains(&sid) {
            starts.push(sid);
        }
    }
    let mut first = [false; 256];
    for sid in starts {
        for byte in 0..=255u8 {
            let next = dfa
                .next_state(&mut cache, sid, byte)
                .map_err(|e| e.to_string())?;
            if cache.clear_count() != clears {
                // The ids in `starts` name other states now. Every byte,
                // then: the set only ever rules bytes out.
                return Ok(FirstBytes([true; 256]));
            }
            first[usize::from(byte)] |= !next.is_dead();
        }
    }
    Ok(FirstBytes(first))
}

/// Every offset where the forward pattern `id` run from `from` ends a match
/// with a byte after it in `hay` (the one the match's end assertions look
/// at), in order: the same for any text that continues `hay[..at + 1]`.
fn prefix_ends(
    forward: &DFA,
    cache: &mut DfaCache,
    id: PatternID,
    hay: &[u8],
    from: usize,
    ends: &mut Vec<usize>,
) -> Option<()> {
    ends.clear();
    forward_ends(forward, cache, id, hay, from, false, |at| ends.push(at))
}

/// Runs `forward`'s pattern `id` anchored at `from` until it dies, calling
/// `found` with every offset where a match ends. Matches are reported one
/// byte late: the state after the byte at `at` tells of a match ending at
/// `at`. With `eoi`, the end of `hay` is the end of the text (a match may
/// end there); without, only offsets with a byte after them are reported.
fn forward_ends(
    forward: &DFA,
    cache: &mut DfaCache,
    id: PatternID,
    hay: &[u8],
    from: usize,
    eoi: bool,
    mut found: impl FnMut(usize),
) -> Option<()> {
    let config = start::Config::new()
        .anchored(Anchored::Pattern(id))
        .look_behind(from.checked_sub(1).map(|at| hay[at]));
    let mut sid = forward.start_state(cache, &config).ok()?;
    for (at, &byte) in hay.iter().enumerate().skip(from) {
        sid = next(forward, cache, sid, byte);
        if sid.is_match() {
            found(at);
        }
        if sid.is_dead() {
            return Some(());
        }
    }
    if eoi && next_eoi(forward, cache, sid).is_match() {
        found(hay.len());
    }
    Some(())
}

/// The one place where `hay[from..]` (to the end of the text) splits into
/// a match of `forward`'s pattern `id` and one of the pattern `backward`
/// holds reversed, or `None` when there are none or several. `ends` is
/// scratch.
fn unique_split(
    (forward, forward_cache): (&DFA, &mut DfaCache),
    (backward, backward_cache): (&DFA, &mut DfaCache),
    id: PatternID,
    ends: &mut Vec<bool>,
    hay: &[u8],
    from: usize,
) -> Option<usize> {
    let end = hay.len();
    ends.clear();
    ends.resize(end - from + 1, false);
    // Forward: every end of the first part; the end of `hay` is the end
    // of the text.
    forward_ends(forward, forward_cache, id, hay, from, true, |at| {
        ends[at - from] = true
    })?;
    unique_split_backward((backward, backward_cache), id, ends, hay, from, from)
}

/// The backward half of [`unique_split`], with `ends` already marked (the
/// first part matches `from..from + i` where `ends[i]`): the only offset at
/// or after `lowest` that is also where the second part, run back from the
/// end, starts. Nothing before `lowest` is an end.
fn unique_split_backward(
    (backward, backward_cache): (&DFA, &mut DfaCache),
    id: PatternID,
    ends: &[bool],
    hay: &[u8],
    from: usize,
    lowest: usize,
) -> Option<usize> {
    let end = hay.len();
    // Backward from the end (of the text: no byte after it): the state
    // after the byte at `at - 1` tells of a match starting at `at`; before
    // `from` comes the byte before it, or the text's start.
    let config = start::Config::new().anchored(Anchored::Pattern(id));
    let mut sid = backward.start_state(backward_cache, &config).ok()?;
    let mut split = None;
    let mut at = end;
    loop {
        sid = match at.checked_sub(1) {
            Some(before) => next(backward, backward_cache, sid, hay[before]),
            None => next_eoi(backward, backward_cache, sid),
        };
        if sid.is_match() && ends[at - from] {
            if split.is_some() {
                return None;
            }
            split = Some(at);
        }
        if sid.is_dead() || at == lowest {
            break;
        }
        at -= 1;
    }
    split
}

/// The pattern's capturing search (to the end of the text, as the meta
/// regex of `build::value_regex_for`) as a one-pass DFA, when it is one:
/// one step per byte, cheaper than two runs over the match.
fn one_pass(hir: &Hir) -> Option<onepass::DFA> {
    let at_end = Hir::concat(vec![hir.clone(), Hir::look(Look::End)]);
    let nfa = thompson::Compiler::new().build_from_hir(&at_end).ok()?;
    onepass::DFA::new_from_nfa(nfa).ok()
}

/// A pattern cut around its `value` group.
struct Shape {
    prefix: Hir,
    value: Hir,
    suffix: Hir,
    /// The suffix is empty or only assertions (`\b`): the group ends
    /// where the match ends.
    suffix_is_assertions: bool,
}

/// The most NFA states a part may have. An anchored run builds a new DFA
/// state at nearly every byte when a part counts through long bounded
/// repeats, and each is a set of up to this many NFA states: with the GCP
/// service-account pattern (10,798 states) the split spent half of the
/// time on secret-dense text determinizing, twice what the capturing
/// search costs.
const PART_NFA_STATES: usize = 5000;

impl Shape {
    fn small_enough(&self) -> bool {
        let states = |hir: &Hir| {
            thompson::Compiler::new()
                .configure(thompson::Config::new().which_captures(WhichCaptures::None))
                .build_from_hir(hir)
                .map_or(usize::MAX, |nfa| nfa.states().len())
        };
        [&self.prefix, &self.value, &self.suffix]
            .into_iter()
            .all(|part| states(part) <= PART_NFA_STATES)
    }
}

/// How far into every match of the pattern the bytes its checks look at
/// start, at least: the shortest text that can come before the `value`
/// group when the group is an element of the pattern's top-level sequence
/// (so every match sets it) and no assertion can sit at the match's end
/// (so recovering it on the match's own bytes never fails and falls back
/// to the whole match). 0 otherwise: the whole match is the bound.
pub(crate) fn value_floor(hir: &Hir) -> usize {
    if !hir.properties().look_set_suffix_any().is_empty() {
        return 0;
    }
    split_at_value(hir)
        .and_then(|shape| shape.prefix.properties().minimum_len())
        .unwrap_or(0)
}

/// The pattern as `prefix (?P<value>value) suffix` when it is a sequence
/// with the group as one of its elements (so every match sets it once).
fn split_at_value(hir: &Hir) -> Option<Shape> {
    let HirKind::Concat(subs) = hir.kind() else {
        return None;
    };
    let at = subs.iter().position(
        |sub| matches!(sub.kind(), HirKind::Capture(cap) if cap.name.as_deref() == Some("value")),
    )?;
    let HirKind::Capture(cap) = subs[at].kind() else {
        return None;
    };
    let after = &subs[at + 1..];
    Some(Shape {
        prefix: Hir::concat(subs[..at].to_vec()),
        value: (*cap.sub).clone(),
        suffix: Hir::concat(after.to_vec()),
        suffix_is_assertions: after
            .iter()
            .all(|sub| matches!(sub.kind(), HirKind::Look(_))),
    })
}

#[cfg(test)]
mod tests {
    use regex_automata::meta;

    use super::*;

    /// Every candidate `start..end` of each pattern in each text: where
    /// the split answers, it answers what the capturing search does.
    #[test]
    fn the_split_agrees_with_the_capturing_search() {
        let patterns = [
            r"pw[=a-c]{1,3}?(?P<value>[a-z0-9]{2,8})",
            r"pin[=a-c]{1,3}(?P<value>[a-z0-9]{2,8})\B",
            r"pw=(?P<value>[a-z0-9]{2,8}?)[a-c1]{1,2}\.",
            r"pw=(?P<value>[a-z0-9]{2,8})[a-c1]{1,2}\.",
            r"k(?P<value>[a-c]+?)(?:;[a-c]{0,3}){0,2};?",
        ];
        let texts = [
            "pw=abc1. pw=xyz1. pw=ab1c1.",
            "pin=abcabc1x pina=b2c3d",
            "kab;c;ab; kaaa;;",
            "pw=abcabc pw==abc",
        ];
        let hirs: Vec<Hir> = patterns
            .iter()
            .map(|p| regex_syntax::parse(&format!("(?-u){p}")).expect("test pattern parses"))
            .collect();
        let split = ValueSplit::build(&hirs, &vec![true; hirs.len()]).expect("builds");
        let mut cache = split.create_cache();
        let mut answered = [0usize; 2];
        for (pattern, source) in patterns.iter().enumerate() {
            let at_end = meta::Regex::new(&format!(r"(?-u)(?:{source})\z")).expect("builds");
            let mut caps = at_end.create_captures();
            for text in texts {
                let hay = text.as_bytes();
                for start in 0..hay.len() {
                    // As `search::best_at` does before a start's candidates.
                    cache.begin_start();
                    for end in start + 1..=hay.len() {
                        let input = Input::new(&hay[..end])
                            .range(start..)
                            .anchored(Anchored::Yes);
                        at_end.search_captures(&input, &mut caps);
                        if !caps.is_match() {
                            continue;
                        }
                        let want = caps.get_group_by_name("value").map(|s| s.start..s.end);
                        let got = split.checked_span(&mut cache, hay, pattern, start, end);
                        answered[usize::from(got.is_some())] += 1;
                        if let Some(got) = got {
                            assert_eq!(Some(got), want, "{source} on {text:?} at {start}..{end}");
                        }
                    }
                }
            }
        }
        // Both kinds occur: unique splits answered, ambiguous ones left.
        assert!(answered[0] > 0 && answered[1] > 0, "{answered:?}");
    }
}
