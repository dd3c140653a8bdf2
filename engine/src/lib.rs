//! rulegate's engine: every pattern of every rule in one automaton, a block
//! scanner and a streaming masker. No I/O, no HTTP, no syntax.
//!
//! ```text
//! let set = RuleSet::builder().configure(Config::new()).build(spec)?; // immutable, Arc-shared
//! let mut cache = set.create_cache();             // mutable search state, one per thread
//! let applied = set.apply_with(&mut cache, side, scope, text); // block: clean, masked, rejected
//! let mut sc = set.scanner(side, scope);          // per stream: held bytes and states, a few KiB
//! sc.push_with(&mut cache, chunk, &mut out)?; sc.finish_with(&mut cache, &mut out)?;
//! ```
//!
//! Methods without `_with` borrow a cache from a small pool inside the rule
//! set for the call, as `regex-automata`'s meta regex does.
//!
//! Invariants (proven by the property tests in `tests/`):
//! - for every input and every way of cutting it into chunks, and whatever
//!   caches the pushes are given, the concatenated output of `push`* and
//!   `finish` equals the block result;
//! - every release is valid UTF-8 when the input is, and ends on a
//!   character boundary;
//! - a scanner holds back at most the longest pattern's maximum length
//!   (plus up to 3 bytes of an unfinished character), whatever the stream's
//!   length, and releases a byte as soon as no live partial match covers it;
//! - a scanner owns no DFA state: its memory is the held bytes and a few
//!   words per shard and open match end.
//!
//! Modules: `build` (config, builder, errors), `automata` (the DFAs and how
//! they are stepped), `runs` (the patterns found by counting runs of a
//! byte class), `cache` (the caller's mutable state), `search` (the
//! block algorithm), `value` (where a candidate's `value` group lies),
//! `ruleset` (the public block API), `stream` (the scanner), `findings`
//! (what scans report), `pattern` and `spec` (input).

mod automata;
mod build;
mod cache;
mod checks;
mod decode;
mod findings;
mod leads;
mod pattern;
mod ruleset;
mod runs;
mod search;
mod spec;
mod stream;
mod value;
mod views;

pub use build::{BuildError, Builder, Config, PatternRef};
pub use cache::Cache;
pub use checks::{char_classes, luhn, mod97, shannon_entropy};
pub use findings::{Applied, AppliedAll, Disposition, Finding, Rejection, RuleId, Verdict};
pub use pattern::{analyze_pattern, pattern_regex, PatternError, PatternErrorKind, PatternInfo};
pub use ruleset::RuleSet;
pub use spec::{
    Action, ActionClause, Check, Decoding, DecodingSet, Example, Expect, PatternFlags, PatternKind,
    PatternSpec, RuleSetSpec, RuleSpec, Scope, ScopeSet, Side, Template, TemplatePart,
};
pub use stream::Scanner;
