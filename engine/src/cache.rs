//! [`Cache`]: the mutable state searches need, owned by the caller.

use std::sync::atomic::{AtomicU64, Ordering};

use regex_automata::hybrid::dfa::Cache as DfaCache;
use regex_automata::hybrid::LazyStateID;

use crate::automata::{Automata, Candidate, ShardCache};

/// Lazy DFA caches and scratch space for searching with one
/// [`RuleSet`](crate::RuleSet): what `regex-automata` calls a cache.
///
/// A cache is not tied to a text or a stream. Many [`Scanner`](crate::Scanner)s
/// may share one (a thread's cache, say), one after another; a scanner
/// remembers which cache and which of its generations its states belong to,
/// and when handed another it re-derives them from the bytes it holds,
/// which costs at most the longest pattern's length. Using one cache per
/// thread keeps that rare and the memory per stream small.
///
/// It grows lazily as states are built, up to the capacity the rule set
/// was built with ([`Config::cache_capacity`](crate::Config::cache_capacity)).
pub struct Cache {
    /// Which compiled rule set made this cache.
    pub(crate) set_id: u64,
    /// Unique among caches, so that a scanner can tell caches apart.
    pub(crate) id: u64,
    pub(crate) forward: Vec<ShardCache>,
    pub(crate) anchored: DfaCache,
    /// Scratch for block searches: each shard's state and idle offset.
    pub(crate) sids: Vec<LazyStateID>,
    pub(crate) idle: Vec<usize>,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) walks: crate::search::WalkMemo,
    /// Per pattern with a `value` group: capture slots, made once.
    pub(crate) captures: Vec<Option<regex_automata::util::captures::Captures>>,
    pub(crate) value: crate::value::ValueCache,
    /// The byte counts behind the entropy checks of the candidates at one
    /// start: of the span a checked part lies in, and of the checked part.
    pub(crate) around_histogram: crate::checks::SpanHistogram,
    pub(crate) checked_histogram: crate::checks::SpanHistogram,
}

static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

impl Cache {
    pub(crate) fn new(set_id: u64, automata: &Automata) -> Cache {
        Cache {
            set_id,
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            forward: automata.forward.iter().map(ShardCache::new).collect(),
            anchored: DfaCache::new(&automata.anchored),
            sids: Vec::with_capacity(automata.forward.len()),
            idle: Vec::with_capacity(automata.forward.len()),
            candidates: Vec::new(),
            walks: Default::default(),
            captures: Vec::new(),
            value: automata.value.create_cache(),
            around_histogram: Default::default(),
            checked_histogram: Default::default(),
        }
    }

    /// True when `set` made this cache (only then may they be used
    /// together).
    pub fn belongs_to(&self, set: &crate::RuleSet) -> bool {
        self.set_id == set.inner.id
    }

    /// Each lazy DFA's clear count and memory: forward shards, the
    /// anchored DFA, then those that find `value` groups (for profiling).
    #[doc(hidden)]
    pub fn clear_counts(&self) -> Vec<(usize, usize)> {
        self.forward
            .iter()
            .map(|shard| (shard.dfa.clear_count(), shard.dfa.memory_usage()))
            .chain([(self.anchored.clear_count(), self.anchored.memory_usage())])
            .chain(self.value.clear_counts())
            .collect()
    }

    /// Heap bytes the lazy DFAs have taken so far (the forward shards,
    /// the anchored DFA and those that find `value` groups).
    pub fn memory_usage(&self) -> usize {
        self.forward
            .iter()
            .map(|shard| shard.dfa.memory_usage())
            .sum::<usize>()
            + self.anchored.memory_usage()
            + self.value.memory_usage()
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("memory_usage", &self.memory_usage())
            .finish_non_exhaustive()
    }
}
