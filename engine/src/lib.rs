//! rulegate's engine: every pattern of every rule in one automaton, a block
//! scanner and a streaming masker. No I/O, no HTTP, no syntax.
//!
//! ```text
//! let set = RuleSet::build(spec)?;            // immutable, Arc-shared
//! let applied = set.apply(side, scope, text); // block: clean, masked, rejected
//! let mut sc = set.scanner(side, scope);      // per stream, owns all state
//! sc.push(chunk, &mut out)?; sc.finish(&mut out)?;
//! ```
//!
//! Invariants (proven by the property tests in `tests/`):
//! - for every input and every way of cutting it into chunks, the
//!   concatenated output of `push`* and `finish` equals the block result;
//! - every release is valid UTF-8 when the input is, and ends on a
//!   character boundary;
//! - a scanner holds back at most the longest pattern's maximum length
//!   (plus up to 3 bytes of an unfinished character), whatever the stream's
//!   length, and releases a byte as soon as no live partial match covers it.

mod checks;
mod pattern;
mod ruleset;
mod spec;
mod stream;

pub use checks::{luhn, mod97, shannon_entropy};
pub use pattern::{analyze_pattern, compile_pattern, PatternError, PatternErrorKind, PatternInfo};
pub use ruleset::{
    Applied, AppliedAll, BuildError, Disposition, Finding, Rejection, RuleId, RuleSet, Verdict,
};
pub use spec::{
    Action, ActionClause, Check, Example, Expect, PatternFlags, PatternKind, PatternSpec,
    RuleSetSpec, RuleSpec, Scope, ScopeSet, Side, Template, TemplatePart,
};
pub use stream::Scanner;
