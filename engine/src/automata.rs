//! The two automata every rule set is compiled into, and how they are
//! stepped. Immutable once built; all mutable search state lives in a
//! [`Cache`](crate::Cache).
//!
//! - `forward`: lazy DFAs, unanchored, `MatchKind::All`, start states
//!   tagged, built from the patterns without repetition upper bounds (see
//!   [`without_upper_bounds`]) and split into shards stepped side by side
//!   (see [`Config::patterns_per_shard`](crate::Config::patterns_per_shard)).
//!   Driven byte by byte they tell the earliest end of any match and the
//!   last position before it where no partial match was alive; every match
//!   that starts before that end starts after that position. The streaming
//!   scanner drives them too, to learn how much it must hold back.
//!   Run patterns (see [`crate::runs`]) are in no shard: they are
//!   counted. A pattern with a lead (see [`crate::leads`]: an email's
//!   local part before its `@`) is stepped from the byte after its lead,
//!   and every idle offset taken from its shard is moved back over the
//!   lead.
//! - `anchored`: a lazy DFA, anchored, `MatchKind::All`, that lists every
//!   (pattern, end) pair of the matches starting at one position; it never
//!   walks more than the longest pattern.
//!
//! No reverse automaton: the reverse DFA of a meta regex (which this engine
//! used first) has to run back over every long alphanumeric run, and with
//! dozens of counted repetitions its states exploded; on the 68 shipped
//! rules a whole block scan ran at 0.05 MB/s, determinizing all the time.
//!
//! Lazy DFAs because the dense DFA of even one unanchored pattern can be
//! enormous: measured on the shipped packs, fully determinized one at a
//! time without upper bounds, `discord-bot-token`, `flyio-token` and
//! `azure-ad-client-secret` take 180 to 200 MB each.
//!
//! Invariant of the start-state tags: in a cache whose tags are current
//! ([`ShardCache::settle`]), every state equal to an unanchored start state
//! is tagged as one. The lazy DFA only tags a state first created as a
//! start state; after a cache clear it re-adds the state the search was in,
//! untagged, and a start state asked for later is that untagged copy. A
//! settled cache is reset whenever that happened.

use crate::leads::{self, Leads};
use crate::runs::RunPatterns;
use crate::value::ValueSplit;
use regex_automata::hybrid::dfa::{Cache as DfaCache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::Hir;

/// Heap an NFA may take (the meta regex's default): a pattern like
/// `.{1000}{1000}` is refused at build time, not compiled for a minute.
pub(crate) const NFA_SIZE_LIMIT: usize = 10 * 1024 * 1024;

/// A candidate match: where it ends and which pattern made it.
#[derive(Clone, Copy)]
pub(crate) struct Candidate {
    pub(crate) pattern: usize,
    pub(crate) end: usize,
}

pub(crate) struct Automata {
    pub(crate) anchored: DFA,
    /// Which bytes can begin a match of a pattern in a forward shard, by
    /// the byte before (see [`FirstBytes`]); run patterns are walked where
    /// their run ends say, not here.
    pub(crate) first_bytes: FirstBytes,
    /// Where a candidate's `value` group starts, without a capturing search.
    pub(crate) value: ValueSplit,
    /// The forward DFA, in shards stepped side by side.
    pub(crate) forward: Vec<DFA>,
    /// Which forward shards' patterns may begin a match at a byte
    /// (`None`: too many shards to tell; a block search then walks as a
    /// stream does).
    pub(crate) shard_starts: Option<ShardStarts>,
    /// The run patterns, found by counting (see [`crate::runs`]); they
    /// are in no forward shard.
    pub(crate) runs: RunPatterns,
    /// The shards' leads (see [`crate::leads`]): how far before a shard's
    /// idle offset a match may still start.
    pub(crate) leads: Leads,
}

/// Which forward shards may have a match that starts at a byte, by the byte
/// before (each shard's [`FirstBytes`], from an anchored DFA of its own
/// patterns built for this and dropped, in one table): one bit per shard.
/// A block search walks a start only if a shard that was busy since
/// before it may begin a match there (a shard idle after a start has no
/// match from there still open), so a window kept open by one shard's
/// partial match is not walked at every start some other shard's patterns
/// could begin.
pub(crate) struct ShardStarts {
    /// Per look-behind (0: none, `1 + b`: byte `b`), an index into `masks`.
    by_look_behind: Box<[u8; 257]>,
    masks: Vec<[u32; 256]>,
}

impl ShardStarts {
    /// At most 32 shards (one bit each); `None` with more.
    fn of(shards: &[FirstBytes]) -> Option<ShardStarts> {
        if shards.len() > 32 {
            return None;
        }
        let mut by_look_behind = Box::new([0u8; 257]);
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut masks: Vec<[u32; 256]> = Vec::new();
        for index in 0..257 {
            // The shards' own set indices for this look-behind: the same
            // tuple gives the same masks.
            let key: Vec<u8> = shards
                .iter()
                .map(|shard| shard.by_look_behind[index])
                .collect();
            let known = keys.iter().position(|k| *k == key);
            let class = match known {
                Some(class) => class,
                None => {
                    let mut mask = [0u32; 256];
                    for (bit, shard) in shards.iter().enumerate() {
                        let set = &shard.sets[usize::from(key[bit])];
                        for (byte, mask) in mask.iter_mut().enumerate() {
                            if set[byte >> 6] & (1 << (byte & 63)) != 0 {
                                *mask |= 1 << bit;
                            }
                        }
                    }
                    keys.push(key);
                    masks.push(mask);
                    masks.len() - 1
                }
            };
            by_look_behind[index] = u8::try_from(class).ok()?;
        }
        Some(ShardStarts {
            by_look_behind,
            masks,
        })
    }

    /// The shards whose patterns may begin at `hay[at]` (none at the end).
    #[inline]
    pub(crate) fn at(&self, hay: &[u8], at: usize) -> u32 {
        let Some(&byte) = hay.get(at) else {
            return 0;
        };
        let look_behind = at
            .checked_sub(1)
            .map_or(0, |before| 1 + usize::from(hay[before]));
        self.masks[usize::from(self.by_look_behind[look_behind])][usize::from(byte)]
    }
}

/// Which bytes can begin a match of some pattern, for each byte before
/// (or none): those whose step out of the anchored DFA's start state does
/// not die. Asking costs a load, where an anchored walk that dies at once
/// costs a start state and its bookkeeping; in the windows of text that
/// keeps a partial match alive (long alphanumeric runs), nearly every
/// position is tried as a start and about half die at the first byte.
pub(crate) struct FirstBytes {
    /// Per look-behind (0: none, `1 + b`: byte `b`), an index into `sets`.
    by_look_behind: Box<[u8; 257]>,
    /// The distinct sets, one bit per byte.
    sets: Vec<[u64; 4]>,
}

impl FirstBytes {
    fn of(anchored: &DFA) -> Result<FirstBytes, String> {
        let mut cache = DfaCache::new(anchored);
        // Start states seen, with the clear count they belong to: a cache
        // at its smallest capacity clears while the sets are computed, and
        // a state id from before a clear names another state after it.
        let mut starts: Vec<(LazyStateID, usize, usize)> = Vec::new();
        let mut sets: Vec<[u64; 4]> = Vec::new();
        let mut by_look_behind = Box::new([0u8; 257]);
        for (index, look_behind) in std::iter::once(None)
            .chain((0..=255u8).map(Some))
            .enumerate()
        {
            let config = start::Config::new()
                .anchored(Anchored::Yes)
                .look_behind(look_behind);
            let start = |cache: &mut DfaCache| {
                anchored
                    .start_state(cache, &config)
                    .map_err(|e| e.to_string())
            };
            let sid = start(&mut cache)?;
            // Start states are few (one per kind of byte before): each
            // set is computed once while the cache holds.
            let clears = cache.clear_count();
            let known = starts
                .iter()
                .find(|&&(start, at, _)| start == sid && at == clears);
            let set = match known {
                Some(&(_, _, set)) => set,
                None => {
                    let mut bits = [0u64; 4];
                    for byte in 0..=255u8 {
                        // Asked again for every byte: the step before may
                        // have cleared the cache.
                        let sid = start(&mut cache)?;
                        let next = anchored
                            .next_state(&mut cache, sid, byte)
                            .map_err(|e| e.to_string())?;
                        if !next.is_dead() {
                            bits[usize::from(byte >> 6)] |= 1 << (byte & 63);
                        }
                    }
                    let set = match sets.iter().position(|&known| known == bits) {
                        Some(set) => set,
                        None => {
                            sets.push(bits);
                            sets.len() - 1
                        }
                    };
                    // Recorded under the clear count of the id just asked.
                    let sid = start(&mut cache)?;
                    starts.push((sid, cache.clear_count(), set));
                    set
                }
            };
            by_look_behind[index] = u8::try_from(set).map_err(|_| "too many start states")?;
        }
        Ok(FirstBytes {
            by_look_behind,
            sets,
        })
    }

    /// The bytes any of `sets` lets begin a match, by the byte before.
    fn union(sets: &[FirstBytes]) -> Result<FirstBytes, String> {
        let mut by_look_behind = Box::new([0u8; 257]);
        let mut distinct: Vec<[u64; 4]> = Vec::new();
        for (index, slot) in by_look_behind.iter_mut().enumerate() {
            let mut bits = [0u64; 4];
            for set in sets {
                let theirs = &set.sets[usize::from(set.by_look_behind[index])];
                for (word, their) in bits.iter_mut().zip(theirs) {
                    *word |= their;
                }
            }
            let at = match distinct.iter().position(|&known| known == bits) {
                Some(at) => at,
                None => {
                    distinct.push(bits);
                    distinct.len() - 1
                }
            };
            *slot = u8::try_from(at).map_err(|_| "too many start states")?;
        }
        Ok(FirstBytes {
            by_look_behind,
            sets: distinct,
        })
    }

    /// False when no match can start at `hay[at]` (nor at the end of
    /// `hay`: no pattern matches the empty string).
    #[inline]
    pub(crate) fn may_start(&self, hay: &[u8], at: usize) -> bool {
        let Some(&byte) = hay.get(at) else {
            return false;
        };
        let look_behind = at
            .checked_sub(1)
            .map_or(0, |before| 1 + usize::from(hay[before]));
        let bits = &self.sets[usize::from(self.by_look_behind[look_behind])];
        bits[usize::from(byte >> 6)] & (1 << (byte & 63)) != 0
    }
}

/// How the automata are sized; see [`crate::Config`].
pub(crate) struct Sizing {
    pub(crate) patterns_per_shard: usize,
    pub(crate) cache_bytes: usize,
    /// For the anchored DFA and the literal-prefixed shard. The anchored
    /// DFA holds every pattern, so every byte any rule names widens each
    /// of its states (one more byte class): a policy rule with one CJK,
    /// Cyrillic or `→` term made it outgrow 16 MiB on secret-dense text
    /// (14 clears, 14 → 3.3 MB/s; 10.8 MB with the shipped packs alone).
    /// Literal policy terms join the prefixed shard (14.9 MB there with
    /// the policy examples loaded).
    pub(crate) wide_cache_bytes: usize,
    pub(crate) min_shard_cache_bytes: usize,
}

impl Automata {
    /// `value_wanted[i]`: pattern `i`'s checks look at its `value` group;
    /// `followed_by[i]` and `preceded_by[i]`: the `unless followed by` and
    /// `unless preceded by` patterns of its rule.
    pub(crate) fn build(
        hirs: &[Hir],
        value_wanted: &[bool],
        followed_by: &[&[Hir]],
        preceded_by: &[&[Hir]],
        sizing: &Sizing,
    ) -> Result<Automata, String> {
        let patterns_per_shard = sizing.patterns_per_shard.max(1);
        let nfa = |patterns: &[&Hir]| {
            thompson::Compiler::new()
                .configure(
                    thompson::Config::new()
                        .shrink(false)
                        .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
                )
                .build_many_from_hir(patterns)
                .map_err(|e| e.to_string())
        };
        let dfa_config = |capacity: usize| {
            DFA::config()
                .match_kind(MatchKind::All)
                .cache_capacity(capacity)
                .skip_cache_capacity_check(true)
        };
        let all: Vec<&Hir> = hirs.iter().collect();
        let anchored = DFA::builder()
            .configure(dfa_config(sizing.wide_cache_bytes))
            .build_from_nfa(nfa(&all)?)
            .map_err(|e| e.to_string())?;
        let (runs, run_index) = RunPatterns::build(hirs, followed_by, preceded_by);
        // A pattern with a lead is stepped from the literal after it, unless
        // it begins with literals already (keywords: `glpat-`, `postgres`),
        // which keep it as rare as anything after them would.
        let splits: Vec<Option<leads::Split>> = hirs
            .iter()
            .zip(&run_index)
            .map(|(hir, run)| {
                (run.is_none() && !has_literal_prefix(hir))
                    .then(|| leads::split(hir))
                    .flatten()
            })
            .collect();
        let relaxed: Vec<Hir> = hirs
            .iter()
            .zip(&splits)
            .map(|(hir, split)| without_upper_bounds(split.as_ref().map_or(hir, |s| &s.rest)))
            .collect();
        // Run patterns are counted, not stepped in a shard.
        let shardable: Vec<usize> = (0..hirs.len())
            .filter(|&index| run_index[index].is_none())
            .collect();
        // Patterns that begin with a distinctive literal (`ghp_`, `AKIA`)
        // are alive only after it, so they seldom combine: one shard holds
        // them all. Patterns that can begin anywhere (emails, card
        // numbers, keyword assignments) combine at every byte: they go in
        // small shards.
        let (prefixed, broad): (Vec<usize>, Vec<usize>) = shardable
            .iter()
            .partition(|&&index| has_literal_prefix(&relaxed[index]));
        // Each group (pattern indices) with the cache capacity it may grow to.
        let mut groups: Vec<(Vec<usize>, usize)> = Vec::new();
        if shardable.is_empty() {
            // Every pattern is a run pattern: no forward shard at all.
        } else if shardable.len() <= patterns_per_shard {
            // Few enough to combine freely: one shard, one step per byte.
            groups.push((shardable, sizing.cache_bytes));
        } else {
            // The prefixed shard gets a whole cache's capacity: on text
            // dense with tokens the bodies of several prefixed patterns
            // are alive at once and its states multiply. With a share of
            // 16 MiB (3.2 MiB) it cleared its cache again and again
            // (secret-dense text 1.3 MB/s); with 16 MiB it runs at 18, as
            // fast as four smaller shards, without their cost per byte on
            // ordinary text (108 MB/s against 76 for the mixed corpus).
            if !prefixed.is_empty() {
                groups.push((prefixed, sizing.wide_cache_bytes));
            }
            let broad_groups = broad.chunks(patterns_per_shard).len().max(1);
            let share = (sizing.cache_bytes / broad_groups).max(sizing.min_shard_cache_bytes);
            groups.extend(
                broad
                    .chunks(patterns_per_shard)
                    .map(|patterns| (patterns.to_vec(), share)),
            );
        }
        let forward = groups
            .iter()
            .map(|(patterns, capacity)| {
                DFA::builder()
                    .configure(dfa_config(*capacity).specialize_start_states(true))
                    .build_from_nfa(nfa(&pick(&relaxed, patterns))?)
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<DFA>, String>>()?;
        let shard_first_bytes = groups
            .iter()
            .map(|(patterns, _)| {
                let dfa = DFA::builder()
                    .configure(dfa_config(sizing.cache_bytes))
                    .build_from_nfa(nfa(&pick(hirs, patterns))?)
                    .map_err(|e| e.to_string())?;
                FirstBytes::of(&dfa)
            })
            .collect::<Result<Vec<FirstBytes>, String>>()?;
        let first_bytes = FirstBytes::union(&shard_first_bytes)?;
        let leads = Leads::new(
            groups
                .iter()
                .map(|(patterns, _)| patterns.iter().map(|&index| splits[index].as_ref())),
        );
        Ok(Automata {
            anchored,
            first_bytes,
            forward,
            shard_starts: ShardStarts::of(&shard_first_bytes),
            value: ValueSplit::build(hirs, value_wanted)?,
            runs,
            leads,
        })
    }
}

/// One forward shard's lazy DFA cache, with what tells its holders whether
/// the state ids they keep are still good.
pub(crate) struct ShardCache {
    pub(crate) dfa: DfaCache,
    /// The cache's clear count when its start states were last tagged.
    tagged_at: usize,
    /// Bumped whenever the cache was cleared or reset: a state id taken
    /// from it under another epoch may name a different state now.
    epoch: u64,
}

impl ShardCache {
    pub(crate) fn new(dfa: &DFA) -> ShardCache {
        let mut cache = ShardCache {
            dfa: DfaCache::new(dfa),
            tagged_at: 0,
            epoch: 0,
        };
        tag_start_states(dfa, &mut cache.dfa);
        cache.tagged_at = cache.dfa.clear_count();
        cache
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// True when no clear happened since the start states were last
    /// tagged: [`ShardCache::settle`] would do nothing.
    #[inline]
    pub(crate) fn is_settled(&self) -> bool {
        self.dfa.clear_count() == self.tagged_at
    }

    /// Restores the start-state invariant after a clear. Returns true when
    /// no state id from before is valid any more: after a reset (not even
    /// the one of the search that caused the clear, which a plain clear
    /// keeps), or when asking for the start states cleared the cache again
    /// (a cache too small for them all; nothing is kept then).
    pub(crate) fn settle(&mut self, dfa: &DFA) -> bool {
        if self.is_settled() {
            return false;
        }
        self.epoch += 1;
        let clears = self.dfa.clear_count();
        let untagged = !tag_start_states(dfa, &mut self.dfa);
        let cleared_while_tagging = self.dfa.clear_count() != clears;
        if untagged {
            self.dfa.reset(dfa);
            tag_start_states(dfa, &mut self.dfa);
        }
        self.tagged_at = self.dfa.clear_count();
        untagged || cleared_while_tagging
    }

    /// The unanchored start state after `look_behind` (None: text start).
    pub(crate) fn start(&mut self, dfa: &DFA, look_behind: Option<u8>) -> LazyStateID {
        let config = start::Config::new()
            .anchored(Anchored::No)
            .look_behind(look_behind);
        dfa.start_state(&mut self.dfa, &config)
            .expect("lazy DFA without quit bytes or clear limit cannot fail")
    }
}

/// The patterns of `from` at `patterns`.
fn pick<'h>(from: &'h [Hir], patterns: &[usize]) -> Vec<&'h Hir> {
    patterns.iter().map(|&index| &from[index]).collect()
}

/// Creates every unanchored start state (one per kind of look-behind);
/// true when each came back tagged as a start state.
fn tag_start_states(dfa: &DFA, cache: &mut DfaCache) -> bool {
    // Text start, then one byte of each look-behind class: line feed,
    // carriage return, word byte, non-word byte, non-ASCII byte.
    let look_behinds = [
        None,
        Some(b'\n'),
        Some(b'\r'),
        Some(b'a'),
        Some(b' '),
        Some(0xC3),
    ];
    let mut all_tagged = true;
    for look_behind in look_behinds {
        let config = start::Config::new()
            .anchored(Anchored::No)
            .look_behind(look_behind);
        let sid = dfa
            .start_state(cache, &config)
            .expect("lazy DFA without quit bytes or clear limit cannot fail");
        all_tagged &= sid.is_start();
    }
    all_tagged
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

/// One byte through every forward shard in lockstep: the shards' lookups
/// do not depend on one another, so the CPU overlaps their memory latency
/// (shard by shard over a chunk measured 1.5x slower). A shard back in its
/// start state records `idle_at` in `idle`. True when some shard reports a
/// match, which ended before this byte (matches are reported one byte
/// late); the reporting shard's `idle` is then not updated.
#[inline(always)]
pub(crate) fn step_shards(
    forward: &[DFA],
    caches: &mut [ShardCache],
    sids: &mut [LazyStateID],
    idle: &mut [usize],
    byte: u8,
    idle_at: usize,
) -> bool {
    let mut matched = false;
    // Zipped, not indexed: no bounds check per shard and byte.
    for (((dfa, cache), sid), idle) in forward.iter().zip(caches).zip(sids).zip(idle) {
        *sid = next(dfa, &mut cache.dfa, *sid, byte);
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

/// [`step_shards`] for exactly `N` shards, their states and idle offsets
/// in arrays the compiler keeps in registers and unrolls over (the
/// shipped packs have 5 shards; over slices each shard and byte costs a
/// bounds check and an iterator step).
#[inline(always)]
pub(crate) fn step_shards_fixed<const N: usize>(
    forward: &[DFA; N],
    caches: &mut [ShardCache; N],
    sids: &mut [LazyStateID; N],
    idle: &mut [usize; N],
    byte: u8,
    idle_at: usize,
) -> bool {
    let mut matched = false;
    for k in 0..N {
        let sid = next(&forward[k], &mut caches[k].dfa, sids[k], byte);
        sids[k] = sid;
        if sid.is_tagged() {
            if sid.is_start() {
                idle[k] = idle_at;
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
