//! Support for the peer benchmark (`peer_bench.rs`) and the slow-input
//! search (`bin/slow_inputs.rs`): the shipped patterns in Hyperscan syntax
//! ([`patterns`]), the search ([`slow_inputs`]), and the only two calls into
//! the engine's scanning API that both make ([`block`], [`stream`]).

pub mod inputs;
pub mod patterns;
pub mod slow_inputs;

use std::cell::RefCell;

use rulegate_engine::{Cache, RuleSet, RuleSetSpec, Scope, Side};

/// The side and scope every peer figure is measured on: responses, where
/// every rule masks (a reject would end a stream early).
const SIDE: Side = Side::Response;
const SCOPE: Scope = Scope::Assistant;

thread_local! {
    /// The thread's cache, as a server keeps one per thread: warm from one
    /// run to the next, like the Vectorscan scratch it is compared with.
    static CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
}

fn with_cache<R>(set: &RuleSet, f: impl FnOnce(&mut Cache) -> R) -> R {
    CACHE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if !slot.as_ref().is_some_and(|cache| cache.belongs_to(set)) {
            *slot = Some(set.create_cache());
        }
        f(slot.as_mut().expect("just filled"))
    })
}

/// Block scan: the number of findings in `text`.
pub fn block(set: &RuleSet, text: &[u8]) -> usize {
    with_cache(set, |cache| {
        set.findings_with(cache, SIDE, SCOPE, text).len()
    })
}

/// What a streamed scan gives back.
pub struct Streamed {
    /// Bytes released (masked output).
    pub written: usize,
    /// The scanner's heap bytes after the last push, before `finish`.
    pub state_bytes: usize,
}

/// Streaming scan: `text` pushed `chunk` bytes at a time, then finished.
pub fn stream(set: &RuleSet, text: &[u8], chunk: usize) -> Streamed {
    with_cache(set, |cache| {
        let mut scanner = set.scanner(SIDE, SCOPE);
        let mut out = Vec::with_capacity(chunk * 2);
        let mut written = 0;
        for piece in text.chunks(chunk) {
            out.clear();
            // Every rule masks on this side and scope, so no push rejects.
            let _ = scanner.push_with(cache, piece, &mut out);
            // As a consumer does: findings go to the log as they come.
            std::hint::black_box(scanner.take_findings());
            written += out.len();
        }
        let state_bytes = scanner.memory_usage();
        out.clear();
        let _ = scanner.finish_with(cache, &mut out);
        Streamed {
            written: written + out.len(),
            state_bytes,
        }
    })
}

/// `set`'s rules with only the patterns `keep` accepts by name (`rule#n`,
/// counted from 1); a rule left with none is dropped. Everything else of a
/// rule (checks, exceptions, actions) stays, so the engine does the same
/// work per match as with the whole set.
pub fn with_patterns(set: &RuleSet, keep: impl Fn(&str) -> bool) -> RuleSet {
    let rules = set
        .rules()
        .iter()
        .filter_map(|rule| {
            let mut rule = rule.clone();
            let mut index = 0;
            rule.patterns.retain(|_| {
                index += 1;
                keep(&format!("{}#{index}", rule.name))
            });
            (!rule.patterns.is_empty()).then_some(rule)
        })
        .collect();
    RuleSet::build(RuleSetSpec { rules }).expect("a subset of a built rule set builds")
}
