//! Building a [`RuleSet`]: the [`Config`], the [`Builder`] and the opaque
//! [`BuildError`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use regex_automata::meta;
use regex_syntax::hir::{Hir, Look};

use crate::automata::{Automata, Sizing, NFA_SIZE_LIMIT};
use crate::findings::RuleId;
use crate::pattern::{compile_pattern, PatternError};
use crate::ruleset::{CachePool, Compiled, RuleSet};
use crate::spec::{RuleSetSpec, RuleSpec};
use crate::views::Views;

/// How a rule set is compiled. Every choice gives the same findings; only
/// speed and memory differ.
#[derive(Clone, Debug)]
pub struct Config {
    patterns_per_shard: usize,
    cache_capacity: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl Config {
    pub fn new() -> Config {
        Config {
            patterns_per_shard: 16,
            cache_capacity: 16 * 1024 * 1024,
        }
    }

    /// Patterns per forward DFA shard, for patterns that can begin
    /// anywhere (those behind a literal prefix share one shard); at least
    /// one. One unanchored DFA over every pattern must track every
    /// combination of partial matches; on the 68 shipped rules (100
    /// patterns) that was more states than a 16 MiB cache holds, and
    /// scanning dense secret-laden text fell to 0.5 MB/s, determinizing.
    /// Shards keep each state space small at the price of one table lookup
    /// per shard per byte. Default 16.
    pub fn patterns_per_shard(mut self, patterns: usize) -> Config {
        self.patterns_per_shard = patterns.max(1);
        self
    }

    /// The most heap one [`Cache`](crate::Cache) lets each of its lazy DFAs
    /// take: as much shared among the forward shards of patterns that can
    /// begin anywhere (each at least 2 MiB), twice this for the shard of
    /// patterns behind a literal prefix and for the anchored DFA, which
    /// holds every pattern (every new byte a rule names widens its
    /// states). The memory is only taken as states are built. Default 16 MiB: the notes in `shared/notes` measured
    /// 16 MB/s with regex-automata's default 2 MiB on one DFA.
    pub fn cache_capacity(mut self, bytes: usize) -> Config {
        self.cache_capacity = bytes;
        self
    }
}

/// Compiles a [`RuleSetSpec`] with a [`Config`].
#[derive(Clone, Debug, Default)]
pub struct Builder {
    config: Config,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    pub fn configure(mut self, config: Config) -> Builder {
        self.config = config;
        self
    }

    /// Compiles every pattern of every rule into one pattern set.
    pub fn build(&self, spec: RuleSetSpec) -> Result<RuleSet, BuildError> {
        let mut hirs: Vec<Hir> = Vec::new();
        let mut value_regex = Vec::new();
        let mut checked_floor = Vec::new();
        let mut pattern_rule = Vec::new();
        let mut max_len = 0;
        let mut preceded_by = Vec::new();
        let mut followed_by = Vec::new();
        let mut allowed = Vec::new();
        let mut context_len = 0;
        let mut follow_len = 0;
        for (index, rule) in spec.rules.iter().enumerate() {
            let (regex, len) = context_regex(rule, Context::Before)?;
            preceded_by.push(regex);
            context_len = context_len.max(len);
            let (regex, len) = context_regex(rule, Context::After)?;
            followed_by.push(regex);
            follow_len = follow_len.max(len);
            allowed.push(allow_regex(rule)?);
            if rule.patterns.is_empty() {
                return Err(BuildError::new(Kind::NoPattern {
                    rule: rule.name.clone(),
                }));
            }
            for (pattern_index, pattern) in rule.patterns.iter().enumerate() {
                let (hir, info) = compile_pattern(pattern).map_err(|error| {
                    BuildError::new(Kind::Pattern {
                        rule: rule.name.clone(),
                        pattern: PatternRef::Pattern(pattern_index),
                        error,
                    })
                })?;
                max_len = max_len.max(info.max_len);
                value_regex.push(if rule.checks.is_empty() {
                    None
                } else {
                    value_regex_for(&hir)
                });
                checked_floor.push(crate::value::value_floor(&hir));
                hirs.push(hir);
                pattern_rule.push(RuleId::new(index));
            }
        }
        let sizing = Sizing {
            patterns_per_shard: self.config.patterns_per_shard,
            cache_bytes: self.config.cache_capacity,
            wide_cache_bytes: self.config.cache_capacity.saturating_mul(2),
            min_shard_cache_bytes: (2 * 1024 * 1024).min(self.config.cache_capacity),
        };
        let value_wanted: Vec<bool> = value_regex.iter().map(Option::is_some).collect();
        // Compiled before (`context_regex`), so they compile.
        let hirs_of = |patterns: &[crate::spec::PatternSpec]| -> Vec<Hir> {
            patterns
                .iter()
                .filter_map(|pattern| compile_pattern(pattern).ok().map(|(hir, _)| hir))
                .collect()
        };
        let rule_followed_by: Vec<Vec<Hir>> = spec
            .rules
            .iter()
            .map(|rule| hirs_of(&rule.unless_followed_by))
            .collect();
        let rule_preceded_by: Vec<Vec<Hir>> = spec
            .rules
            .iter()
            .map(|rule| hirs_of(&rule.unless_preceded_by))
            .collect();
        fn per_pattern<'h>(pattern_rule: &[RuleId], of_rule: &'h [Vec<Hir>]) -> Vec<&'h [Hir]> {
            pattern_rule
                .iter()
                .map(|rule| of_rule[rule.index()].as_slice())
                .collect()
        }
        let automata = Automata::build(
            &hirs,
            &value_wanted,
            &per_pattern(&pattern_rule, &rule_followed_by),
            &per_pattern(&pattern_rule, &rule_preceded_by),
            &sizing,
        )
        .map_err(|reason| BuildError::new(Kind::Automaton(reason)))?;
        let min_distinct = spec
            .rules
            .iter()
            .map(|rule| {
                crate::checks::min_entropy(&rule.checks).map_or(0, crate::checks::min_distinct)
            })
            .collect();
        static NEXT_SET_ID: AtomicU64 = AtomicU64::new(1);
        Ok(RuleSet {
            inner: Arc::new(Compiled {
                id: NEXT_SET_ID.fetch_add(1, Ordering::Relaxed),
                views: Views::new(&spec.rules),
                rules: spec.rules,
                pattern_rule,
                max_len,
                value_regex,
                checked_floor,
                min_distinct,
                preceded_by,
                followed_by,
                allowed,
                context_len,
                follow_len,
                automata,
                pool: CachePool::default(),
            }),
        })
    }
}

impl RuleSet {
    /// Compiles with the default [`Config`].
    pub fn build(spec: RuleSetSpec) -> Result<RuleSet, BuildError> {
        Builder::new().build(spec)
    }

    pub fn builder() -> Builder {
        Builder::new()
    }
}

/// Which pattern of a rule a [`BuildError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternRef {
    /// The rule's pattern at this index (declaration order).
    Pattern(usize),
    /// The rule's `unless preceded by` pattern at this index.
    UnlessPrecededBy(usize),
    /// The rule's `unless followed by` pattern at this index.
    UnlessFollowedBy(usize),
    /// The rule's `allow` pattern at this index.
    Allow(usize),
}

/// Why a rule set could not be built. Opaque: ask it what it is about.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct BuildError {
    kind: Kind,
}

#[derive(Debug, thiserror::Error)]
enum Kind {
    #[error("rule `{rule}`, {}: {error}", describe(pattern))]
    Pattern {
        rule: String,
        pattern: PatternRef,
        error: PatternError,
    },
    #[error("rule `{rule}` has no pattern")]
    NoPattern { rule: String },
    #[error("the rule set is too large to compile: {0}")]
    Automaton(String),
}

fn describe(pattern: &PatternRef) -> String {
    match pattern {
        PatternRef::Pattern(index) => format!("pattern {index}"),
        PatternRef::UnlessPrecededBy(index) => format!("`unless preceded by` pattern {index}"),
        PatternRef::UnlessFollowedBy(index) => format!("`unless followed by` pattern {index}"),
        PatternRef::Allow(index) => format!("`allow` pattern {index}"),
    }
}

impl BuildError {
    fn new(kind: Kind) -> BuildError {
        BuildError { kind }
    }

    /// The rule at fault, when the error is about one.
    pub fn rule(&self) -> Option<&str> {
        match &self.kind {
            Kind::Pattern { rule, .. } | Kind::NoPattern { rule } => Some(rule),
            Kind::Automaton(_) => None,
        }
    }

    /// The pattern at fault, when the error is about one.
    pub fn pattern(&self) -> Option<PatternRef> {
        match &self.kind {
            Kind::Pattern { pattern, .. } => Some(*pattern),
            _ => None,
        }
    }

    /// What is wrong with that pattern, when the error is about one.
    pub fn pattern_error(&self) -> Option<&PatternError> {
        match &self.kind {
            Kind::Pattern { error, .. } => Some(error),
            _ => None,
        }
    }

    /// When every pattern is fine but together they exceed a size limit of
    /// the automata: which limit, in the automaton library's words.
    pub fn limit_exceeded(&self) -> Option<&str> {
        match &self.kind {
            Kind::Automaton(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Which side of a candidate a rule's context patterns look at.
#[derive(Clone, Copy)]
enum Context {
    /// `unless preceded by`: the text before the candidate ends with one.
    Before,
    /// `unless followed by`: the text after it starts with one.
    After,
}

/// A rule's `unless preceded by` (or `unless followed by`) patterns as one
/// regex that only matches at the end of the text (or, searched anchored,
/// from its start), with the longest of them; `(None, 0)` when it has none.
fn context_regex(
    rule: &RuleSpec,
    context: Context,
) -> Result<(Option<meta::Regex>, usize), BuildError> {
    let patterns = match context {
        Context::Before => &rule.unless_preceded_by,
        Context::After => &rule.unless_followed_by,
    };
    if patterns.is_empty() {
        return Ok((None, 0));
    }
    let mut hirs = Vec::new();
    let mut longest = 0;
    for (index, pattern) in patterns.iter().enumerate() {
        let (hir, info) = compile_pattern(pattern).map_err(|error| {
            BuildError::new(Kind::Pattern {
                rule: rule.name.clone(),
                pattern: match context {
                    Context::Before => PatternRef::UnlessPrecededBy(index),
                    Context::After => PatternRef::UnlessFollowedBy(index),
                },
                error,
            })
        })?;
        longest = longest.max(info.max_len);
        hirs.push(hir);
    }
    let hir = match context {
        Context::Before => Hir::concat(vec![Hir::alternation(hirs), Hir::look(Look::End)]),
        Context::After => Hir::alternation(hirs),
    };
    let regex = meta::Regex::builder()
        .configure(meta::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT)))
        .build_from_hir(&hir)
        .map_err(|e| BuildError::new(Kind::Automaton(e.to_string())))?;
    Ok((Some(regex), longest))
}

/// The rule's allowed values as one regex that must match a whole text;
/// `None` when it has none.
fn allow_regex(rule: &RuleSpec) -> Result<Option<meta::Regex>, BuildError> {
    if rule.allow.is_empty() {
        return Ok(None);
    }
    let mut hirs = Vec::new();
    for (index, pattern) in rule.allow.iter().enumerate() {
        let (hir, _) = compile_pattern(pattern).map_err(|error| {
            BuildError::new(Kind::Pattern {
                rule: rule.name.clone(),
                pattern: PatternRef::Allow(index),
                error,
            })
        })?;
        hirs.push(hir);
    }
    let whole = Hir::concat(vec![
        Hir::look(Look::Start),
        Hir::alternation(hirs),
        Hir::look(Look::End),
    ]);
    meta::Regex::builder()
        .configure(meta::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT)))
        .build_from_hir(&whole)
        .map(Some)
        .map_err(|e| BuildError::new(Kind::Automaton(e.to_string())))
}

/// A regex for the `value` group of a pattern, anchored to end where the
/// match ends, or `None` when the pattern has no such group.
fn value_regex_for(hir: &Hir) -> Option<meta::Regex> {
    if hir.properties().explicit_captures_len() == 0 {
        return None;
    }
    let anchored_to_end = Hir::concat(vec![hir.clone(), Hir::look(Look::End)]);
    let regex = meta::Regex::builder()
        .build_from_hir(&anchored_to_end)
        .ok()?;
    let has_value_group = regex
        .group_info()
        .to_index(regex_automata::PatternID::ZERO, "value")
        .is_some();
    has_value_group.then_some(regex)
}
