//! From syntax trees to the engine's [`RuleSetSpec`], collecting every
//! diagnostic rather than stopping at the first.
//!
//! Invariants:
//! - rules keep declaration order: files in the order given (the loader
//!   sorts them by path), then order within each file;
//! - a spec comes out only when no error was reported (warnings are fine),
//!   counting the syntax errors already in the list it is given;
//! - every rule with no error of its own is compiled by the engine, alone,
//!   and its inline examples run on that: one broken rule does not hide
//!   another rule's failing example, and the cost stays linear in the
//!   number of rules.

use std::collections::HashMap;

use rulegate_engine::{
    analyze_pattern, Action, ActionClause, BuildError, Check, Decoding, DecodingSet, Example,
    Expect, PatternError, PatternErrorKind, PatternFlags, PatternKind, PatternRef, PatternSpec,
    RuleId, RuleSet, RuleSetSpec, RuleSpec, Scope, ScopeSet, Side,
};

use crate::ast::{self, Around, ClauseKind, Name, Pattern, PatternLit, RuleDecl, Span, Str};
use crate::diagnostic::{
    Argument, Diagnostic, FileId, Location, Problem, ACTIONS, CHECKS, PATTERN_FLAGS,
};
use crate::suggest::closest;
use crate::template::parse_template;

/// The most bits per character a match can have while it holds at most
/// 256 distinct characters.
const MAX_ENTROPY: f64 = 8.0;

/// Above this maximum match length (bytes) a pattern gets a warning: the
/// streaming masker may hold back that much of a response.
const LONG_MATCH: usize = 8 * 1024;

pub(crate) struct Checked {
    pub spec: Option<RuleSetSpec>,
    /// Where each rule of `spec` is declared (its name).
    pub locations: Vec<Location>,
    pub rule_count: usize,
}

/// A rule that went through the checks, with what example checking needs.
struct Compiled<'a> {
    file: FileId,
    name: &'a Name,
    spec: RuleSpec,
    /// No error was reported for this rule.
    ok: bool,
    /// The span of each pattern of `spec`, in order.
    pattern_spans: Vec<Span>,
    /// The span of each `unless preceded by` pattern of `spec`, in order.
    context_spans: Vec<Span>,
    /// The span of each `unless followed by` pattern of `spec`, in order.
    follow_spans: Vec<Span>,
    /// The span of each `allow` pattern of `spec`, in order.
    allow_spans: Vec<Span>,
    /// The string of each example of `spec`, in order.
    example_strings: Vec<&'a Str>,
    first_match: Option<Span>,
}

/// An `override NAME { … }` block, checked, waiting for its rule.
struct Override<'a> {
    file: FileId,
    name: &'a Name,
    result: RuleResult<'a>,
    /// Whether it has action clauses (then they replace the rule's), or a
    /// `decode` clause (then it replaces the rule's decodings).
    has_actions: bool,
    has_decode: bool,
}

pub(crate) fn check(files: &[(FileId, ast::File)], diagnostics: &mut Vec<Diagnostic>) -> Checked {
    let mut seen: HashMap<&str, (FileId, Span)> = HashMap::new();
    let mut compiled = Vec::new();
    let mut overrides: Vec<Override> = Vec::new();
    let mut disables: Vec<(FileId, &Name)> = Vec::new();
    let mut global_allow: Vec<PatternSpec> = Vec::new();
    let mut rule_count = 0;
    for (file, tree) in files {
        let mut checker = RuleChecker::new(*file, diagnostics);
        for (patterns, flags) in &tree.allows {
            let mut spans = Vec::new();
            checker.pattern_list(patterns, flags, None, (&mut global_allow, &mut spans));
        }
        disables.extend(tree.disables.iter().map(|name| (*file, name)));
        let defaults: Vec<(usize, DecodingSet)> = tree
            .decodes
            .iter()
            .map(|line| (line.first_rule, checker.decodings(&line.decodings)))
            .collect();
        for (index, decl) in tree.rules.iter().enumerate() {
            let default_decode = defaults
                .iter()
                .rev()
                .find(|(first, _)| *first <= index)
                .map_or(DecodingSet::NONE, |(_, set)| *set);
            if decl.is_override {
                let mut checker = RuleChecker::new(*file, diagnostics);
                let Some(name) = &decl.name else {
                    checker.rule(decl, "", default_decode);
                    continue;
                };
                let result = checker.rule(decl, &name.text, DecodingSet::NONE);
                let kinds =
                    |wanted: fn(&ClauseKind) -> bool| decl.clauses.iter().any(|c| wanted(&c.kind));
                if !checker.failed && decl.broken_lines == 0 {
                    overrides.push(Override {
                        file: *file,
                        name,
                        result,
                        has_actions: kinds(|k| matches!(k, ClauseKind::Action { .. })),
                        has_decode: kinds(|k| matches!(k, ClauseKind::Decode { .. })),
                    });
                }
                continue;
            }
            rule_count += 1;
            let Some(name) = &decl.name else {
                // A rule whose header is broken is still checked line by
                // line, for the syntax and pattern errors it may hold.
                let mut checker = RuleChecker::new(*file, diagnostics);
                checker.rule(decl, "", default_decode);
                continue;
            };
            if let Some((first_file, first_span)) = seen.get(name.text.as_str()) {
                diagnostics.push(
                    Diagnostic::new(
                        Problem::DuplicateRule {
                            name: name.text.clone(),
                        },
                        *file,
                        name.span.clone(),
                    )
                    .with_related(*first_file, first_span.clone()),
                );
            } else {
                seen.insert(&name.text, (*file, name.span.clone()));
            }
            let mut checker = RuleChecker::new(*file, diagnostics);
            let result = checker.rule(decl, &name.text, default_decode);
            let ok = !checker.failed && decl.broken_lines == 0;
            compiled.push(Compiled {
                file: *file,
                name,
                spec: result.spec,
                ok,
                pattern_spans: result.pattern_spans,
                context_spans: result.context_spans,
                follow_spans: result.follow_spans,
                allow_spans: result.allow_spans,
                example_strings: result.example_strings,
                first_match: result.first_match,
            });
        }
    }

    // Composition: overrides change rules declared anywhere, `disable`
    // leaves rules out, a top-level `allow` applies to every rule.
    let names: Vec<&str> = compiled.iter().map(|c| c.name.text.as_str()).collect();
    let unknown = |what: &'static str, name: &Name| Problem::UnknownRuleRef {
        what,
        name: name.text.clone(),
        suggestion: crate::suggest::closest_owned(&name.text, &names),
    };
    let mut problems = Vec::new();
    for o in overrides {
        let Some(target) = compiled.iter_mut().find(|c| c.name.text == o.name.text) else {
            problems.push(Diagnostic::new(
                unknown("override", o.name),
                o.file,
                o.name.span.clone(),
            ));
            continue;
        };
        let spec = &mut target.spec;
        if o.has_actions {
            spec.actions = o.result.spec.actions;
        }
        if o.has_decode {
            spec.decode = o.result.spec.decode;
        }
        if let Some(description) = o.result.spec.description {
            spec.description = Some(description);
        }
        // Added patterns carry no span in the rule's own file.
        spec.unless_preceded_by
            .extend(o.result.spec.unless_preceded_by);
        spec.unless_followed_by
            .extend(o.result.spec.unless_followed_by);
        spec.allow.extend(o.result.spec.allow);
    }
    let mut disabled = Vec::new();
    for (file, name) in disables {
        if names.contains(&name.text.as_str()) {
            disabled.push(name.text.clone());
        } else {
            problems.push(Diagnostic::new(
                unknown("disable", name),
                file,
                name.span.clone(),
            ));
        }
    }
    diagnostics.extend(problems);
    compiled.retain(|c| !disabled.contains(&c.name.text));
    for c in &mut compiled {
        c.spec.allow.extend(global_allow.iter().cloned());
    }

    // Each rule is compiled on its own: that is all its examples need
    // (an example asks whether this rule alone finds something), it blames
    // a rule too large to compile by name, and it keeps checking linear in
    // the number of rules. The whole set is compiled by `Loaded::compile`.
    // Rules are independent here, so the work is spread over threads; the
    // diagnostics are sorted by position afterwards, so the output does not
    // depend on the split.
    let usable: Vec<&Compiled> = compiled.iter().filter(|c| c.ok).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let per_thread = usable.len().div_ceil(threads).max(1);
    let found: Vec<Vec<Diagnostic>> = std::thread::scope(|scope| {
        let workers: Vec<_> = usable
            .chunks(per_thread)
            .map(|rules| {
                scope.spawn(move || {
                    let mut found = Vec::new();
                    for rule in rules {
                        compile_alone(rule, &mut found);
                    }
                    found
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    diagnostics.extend(found.into_iter().flatten());

    if count_errors(diagnostics) > 0 {
        return Checked {
            spec: None,
            locations: Vec::new(),
            rule_count,
        };
    }
    let locations = compiled
        .iter()
        .map(|c| Location {
            file: c.file,
            span: c.name.span.clone(),
        })
        .collect();
    Checked {
        spec: Some(RuleSetSpec {
            rules: compiled.into_iter().map(|c| c.spec).collect(),
        }),
        locations,
        rule_count,
    }
}

fn count_errors(diagnostics: &[Diagnostic]) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity() == crate::Severity::Error)
        .count()
}

fn compile_alone(rule: &Compiled, diagnostics: &mut Vec<Diagnostic>) {
    let alone = RuleSetSpec {
        rules: vec![rule.spec.clone()],
    };
    match RuleSet::build(alone) {
        Ok(set) => {
            if let Some(id) = only_rule(&set) {
                check_examples(&set, id, rule, diagnostics);
            }
        }
        Err(error) => diagnostics.push(build_failure(error, rule)),
    }
}

/// The rule of a set compiled from one rule alone.
fn only_rule(set: &RuleSet) -> Option<RuleId> {
    set.rule_ids().next()
}

fn build_failure(error: BuildError, rule: &Compiled) -> Diagnostic {
    // Every pattern passed `analyze_pattern`, so this is about size; the
    // other arms guard against the engine and the checker drifting apart.
    let span = match error.pattern() {
        Some(PatternRef::Pattern(index)) => rule.pattern_spans.get(index).cloned(),
        Some(PatternRef::UnlessPrecededBy(index)) => rule.context_spans.get(index).cloned(),
        Some(PatternRef::UnlessFollowedBy(index)) => rule.follow_spans.get(index).cloned(),
        Some(PatternRef::Allow(index)) => rule.allow_spans.get(index).cloned(),
        None => None,
    };
    let problem = Problem::RuleSetFailed {
        reason: error
            .limit_exceeded()
            .map_or_else(|| error.to_string(), str::to_string),
    };
    Diagnostic::new(problem, rule.file, span.unwrap_or(rule.name.span.clone()))
}

fn check_examples(set: &RuleSet, id: RuleId, rule: &Compiled, diagnostics: &mut Vec<Diagnostic>) {
    for (example, string) in rule.spec.examples.iter().zip(&rule.example_strings) {
        let found = set.rule_matches(id, example.text.as_bytes());
        match (example.expect, found) {
            (Expect::Hit, false) => {
                let mut diagnostic = Diagnostic::new(
                    Problem::ExampleNotFound {
                        rule: rule.spec.name.clone(),
                        rejected_by: rejecting_check(&rule.spec, &example.text),
                    },
                    rule.file,
                    string.span.clone(),
                );
                if let Some(span) = &rule.first_match {
                    diagnostic = diagnostic.with_related(rule.file, span.clone());
                }
                diagnostics.push(diagnostic);
            }
            (Expect::Miss, true) => {
                let matched = first_finding(&rule.spec, &example.text)
                    .map_or(string.span.clone(), |range| string.map.span(range));
                let mut diagnostic = Diagnostic::new(
                    Problem::ExampleFound {
                        rule: rule.spec.name.clone(),
                    },
                    rule.file,
                    matched,
                );
                if let Some(span) = &rule.first_match {
                    diagnostic = diagnostic.with_related(rule.file, span.clone());
                }
                diagnostics.push(diagnostic);
            }
            _ => {}
        }
    }
}

/// `rule` on its own, logging everywhere: what a failing example needs to
/// say where (or why not) it matched. Without `keep_checks`, its checks and
/// `unless` patterns are left out.
fn alone(rule: &RuleSpec, keep_checks: bool) -> Option<RuleSet> {
    let mut rule = rule.clone();
    if !keep_checks {
        rule.checks.clear();
        rule.unless_preceded_by.clear();
        rule.unless_followed_by.clear();
    }
    rule.actions = vec![ActionClause {
        side: Side::Request,
        action: Action::Log,
        scopes: ScopeSet::ALL,
    }];
    RuleSet::build(RuleSetSpec { rules: vec![rule] }).ok()
}

fn first_finding(rule: &RuleSpec, text: &str) -> Option<std::ops::Range<usize>> {
    let set = alone(rule, true)?;
    let finding = set
        .findings(Side::Request, Scope::User, text.as_bytes())
        .into_iter()
        .next()?;
    Some(finding.start..finding.end)
}

/// When the patterns alone find something in a `hit` example, the first
/// check (or the `unless` clause) that turns it down. Each is
/// tried on its own through the engine, so what it looks at (the whole
/// match or its `value` group, the text before it) is the engine's
/// business, not restated here.
fn rejecting_check(rule: &RuleSpec, text: &str) -> Option<String> {
    let filtered = !rule.checks.is_empty()
        || !rule.unless_preceded_by.is_empty()
        || !rule.unless_followed_by.is_empty();
    if !filtered
        || !alone(rule, false)
            .and_then(|set| Some(set.rule_matches(only_rule(&set)?, text.as_bytes())))?
    {
        return None;
    }
    let turns_down = |only: RuleSpec| {
        alone(&only, true).is_some_and(|set| {
            only_rule(&set).is_some_and(|id| !set.rule_matches(id, text.as_bytes()))
        })
    };
    let check = rule.checks.iter().find_map(|check| {
        let only = RuleSpec {
            checks: vec![*check],
            unless_preceded_by: Vec::new(),
            unless_followed_by: Vec::new(),
            ..rule.clone()
        };
        turns_down(only).then(|| match check {
            Check::Luhn => "luhn".to_string(),
            Check::Mod97 => "mod97".to_string(),
            Check::Entropy { min_bits } => format!("entropy >= {min_bits}"),
            Check::Classes { min } => format!("classes >= {min}"),
        })
    });
    check.or_else(|| {
        [
            (Around::Before, &rule.unless_preceded_by),
            (Around::After, &rule.unless_followed_by),
        ]
        .into_iter()
        .find_map(|(around, patterns)| {
            let only = RuleSpec {
                checks: Vec::new(),
                unless_preceded_by: match around {
                    Around::Before => patterns.clone(),
                    Around::After => Vec::new(),
                },
                unless_followed_by: match around {
                    Around::Before => Vec::new(),
                    Around::After => patterns.clone(),
                },
                ..rule.clone()
            };
            (!patterns.is_empty() && turns_down(only)).then(|| around.clause().to_string())
        })
    })
}

struct RuleResult<'a> {
    spec: RuleSpec,
    pattern_spans: Vec<Span>,
    context_spans: Vec<Span>,
    follow_spans: Vec<Span>,
    allow_spans: Vec<Span>,
    example_strings: Vec<&'a Str>,
    first_match: Option<Span>,
}

/// Checks the clauses of one rule.
struct RuleChecker<'d> {
    file: FileId,
    diagnostics: &'d mut Vec<Diagnostic>,
    failed: bool,
}

impl<'d> RuleChecker<'d> {
    fn new(file: FileId, diagnostics: &'d mut Vec<Diagnostic>) -> Self {
        RuleChecker {
            file,
            diagnostics,
            failed: false,
        }
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        if diagnostic.severity() == crate::Severity::Error {
            self.failed = true;
        }
        self.diagnostics.push(diagnostic);
    }

    fn report(&mut self, problem: Problem, span: Span) {
        self.push(Diagnostic::new(problem, self.file, span));
    }

    /// Checks `decl`; `default_decode` is the file's `decode` line in
    /// force, which a `decode` clause of the rule replaces.
    fn rule<'a>(
        &mut self,
        decl: &'a RuleDecl,
        name: &str,
        default_decode: DecodingSet,
    ) -> RuleResult<'a> {
        let mut spec = RuleSpec {
            name: name.into(),
            description: None,
            patterns: Vec::new(),
            checks: Vec::new(),
            unless_preceded_by: Vec::new(),
            unless_followed_by: Vec::new(),
            actions: Vec::new(),
            examples: Vec::new(),
            decode: default_decode,
            allow: Vec::new(),
        };
        let mut pattern_spans = Vec::new();
        let mut context_spans = Vec::new();
        let mut follow_spans = Vec::new();
        let mut allow_spans = Vec::new();
        let mut example_strings = Vec::new();
        let mut description: Option<&Span> = None;
        let mut decode_clause: Option<&Span> = None;
        let mut first_match = None;
        let mut action_clauses = 0;
        // Valid action clauses with their spans, for the reachability check.
        let mut actions: Vec<(ActionClause, Span)> = Vec::new();
        for clause in &decl.clauses {
            match &clause.kind {
                ClauseKind::Description(text) => {
                    if let Some(first) = description {
                        let diagnostic = Diagnostic::new(
                            Problem::DuplicateClause {
                                keyword: "description",
                            },
                            self.file,
                            clause.span.clone(),
                        )
                        .with_related(self.file, first.clone());
                        self.push(diagnostic);
                    } else {
                        description = Some(&clause.span);
                        spec.description = Some(text.value.clone());
                    }
                }
                ClauseKind::Allow { patterns, flags } => {
                    let list = (&mut spec.allow, &mut allow_spans);
                    self.pattern_list(patterns, flags, None, list);
                }
                ClauseKind::Match { .. }
                | ClauseKind::Where { .. }
                | ClauseKind::Example { .. }
                    if decl.is_override =>
                {
                    let keyword = match &clause.kind {
                        ClauseKind::Match { .. } => "match",
                        ClauseKind::Where { .. } => "where",
                        _ => "example",
                    };
                    self.report(Problem::NotInOverride { keyword }, clause.span.clone());
                }
                ClauseKind::Match { patterns, flags } => {
                    first_match.get_or_insert_with(|| clause.span.clone());
                    let list = (&mut spec.patterns, &mut pattern_spans);
                    self.pattern_list(patterns, flags, None, list);
                }
                ClauseKind::Unless {
                    around,
                    patterns,
                    flags,
                } => {
                    let list = match around {
                        Around::Before => (&mut spec.unless_preceded_by, &mut context_spans),
                        Around::After => (&mut spec.unless_followed_by, &mut follow_spans),
                    };
                    self.pattern_list(patterns, flags, Some(*around), list);
                }
                ClauseKind::Where {
                    check,
                    compare,
                    threshold,
                } => {
                    if let Some(check) = self.check(check, compare.as_ref(), threshold.as_ref()) {
                        spec.checks.push(check);
                    }
                }
                ClauseKind::Action {
                    side,
                    action,
                    argument,
                    scopes,
                } => {
                    action_clauses += 1;
                    if let Some(clause_spec) = self.action(side, action, argument.as_ref(), scopes)
                    {
                        actions.push((clause_spec, clause.span.clone()));
                    }
                }
                ClauseKind::Decode { decodings } => {
                    if let Some(first) = decode_clause {
                        let diagnostic = Diagnostic::new(
                            Problem::DuplicateClause { keyword: "decode" },
                            self.file,
                            clause.span.clone(),
                        )
                        .with_related(self.file, first.clone());
                        self.push(diagnostic);
                    } else {
                        decode_clause = Some(&clause.span);
                        spec.decode = self.decodings(decodings);
                    }
                }
                ClauseKind::Example { expect, text } => {
                    let expect = if expect.text == "hit" {
                        Expect::Hit
                    } else {
                        Expect::Miss
                    };
                    spec.examples.push(Example {
                        expect,
                        text: text.value.clone(),
                    });
                    example_strings.push(text);
                }
            }
        }
        self.unreachable_actions(&actions);
        spec.actions = actions.into_iter().map(|(clause, _)| clause).collect();

        // With a broken line the missing clause may be the broken one; an
        // override has the rule's patterns and may keep its actions.
        if decl.broken_lines == 0 && !name.is_empty() && !decl.is_override {
            let name_span = decl
                .name
                .as_ref()
                .map_or(decl.head.clone(), |n| n.span.clone());
            if first_match.is_none() {
                self.report(Problem::NoPattern { rule: name.into() }, name_span.clone());
            }
            if action_clauses == 0 {
                self.report(Problem::NoAction { rule: name.into() }, name_span);
            }
        }
        RuleResult {
            spec,
            pattern_spans,
            context_spans,
            follow_spans,
            allow_spans,
            example_strings,
            first_match,
        }
    }

    /// `nocase` and `word` after the patterns of a `match` line.
    fn pattern_flags(&mut self, flags: &[Name]) -> PatternFlags {
        let mut shared = PatternFlags::default();
        for flag in flags {
            match flag.text.as_str() {
                "nocase" => shared.case_insensitive = true,
                "word" => shared.word = true,
                other => self.report(
                    Problem::UnknownFlag {
                        flag: other.into(),
                        regex: false,
                        suggestion: closest(other, &PATTERN_FLAGS),
                    },
                    flag.span.clone(),
                ),
            }
        }
        shared
    }

    /// Checks the patterns of a `match` line (or, with `context`, of an
    /// `unless` line) and appends the good ones, with their spans, to
    /// `out`.
    fn pattern_list(
        &mut self,
        patterns: &[Pattern],
        flags: &[Name],
        context: Option<Around>,
        out: (&mut Vec<PatternSpec>, &mut Vec<Span>),
    ) {
        let shared = self.pattern_flags(flags);
        for pattern in patterns {
            if let Some(compiled) = self.pattern(pattern, shared, context) {
                out.0.push(compiled);
                out.1.push(pattern.span.clone());
            }
        }
    }

    /// Checks one pattern of a `match` line, or of an `unless` line when
    /// `context` is set.
    fn pattern(
        &mut self,
        pattern: &Pattern,
        shared: PatternFlags,
        context: Option<Around>,
    ) -> Option<PatternSpec> {
        let mut flags = shared;
        let kind = match &pattern.lit {
            PatternLit::Literal(text) => PatternKind::Literal(text.value.clone()),
            PatternLit::Regex {
                source,
                flags: regex_flags,
                ..
            } => {
                let mut ok = true;
                for (index, letter) in regex_flags.text.char_indices() {
                    match letter {
                        'i' => flags.case_insensitive = true,
                        'm' => flags.multi_line = true,
                        's' => flags.dot_matches_new_line = true,
                        'x' => flags.ignore_whitespace = true,
                        other => {
                            ok = false;
                            let at = regex_flags.span.start + index;
                            self.report(
                                Problem::UnknownFlag {
                                    flag: other.into(),
                                    regex: true,
                                    suggestion: None,
                                },
                                at..at + other.len_utf8(),
                            );
                        }
                    }
                }
                if !ok {
                    return None;
                }
                PatternKind::Regex(source.clone())
            }
        };
        let spec = PatternSpec { kind, flags };
        match analyze_pattern(&spec) {
            Ok(info) => {
                if info.max_len > LONG_MATCH {
                    self.report(
                        Problem::LongPattern {
                            max_len: info.max_len,
                        },
                        pattern.span.clone(),
                    );
                }
                Some(spec)
            }
            Err(error) => {
                self.pattern_error(pattern, error, context);
                None
            }
        }
    }

    fn pattern_error(&mut self, pattern: &Pattern, error: PatternError, context: Option<Around>) {
        let span = match (&pattern.lit, &error.span) {
            (PatternLit::Regex { map, source, .. }, Some(range)) => {
                // A zero-width error is shown on the character after it (the
                // closing slash at the very end).
                let end = if range.is_empty() {
                    source
                        .get(range.start..)
                        .and_then(|rest| rest.chars().next())
                        .map_or(range.end, |ch| range.start + ch.len_utf8())
                } else {
                    range.end
                };
                let span = map.span(range.start..end);
                if span.is_empty() {
                    span.start..span.start + 1
                } else {
                    span
                }
            }
            _ => pattern.span.clone(),
        };
        let problem = match error.kind {
            PatternErrorKind::Syntax => {
                let help = if error.message.contains("look-around") {
                    Some("rulegate regexes have no look-around; use `word` or `\\b` for boundaries, or an `unless preceded by` or `unless followed by` clause for text before or after a match")
                } else if error.message.contains("backreference") {
                    Some("rulegate regexes have no backreferences; spell out the alternatives instead")
                } else {
                    None
                };
                Problem::InvalidRegex {
                    reason: error.message,
                    help,
                }
            }
            PatternErrorKind::MatchesEmpty => Problem::MatchesEmpty,
            PatternErrorKind::MatchesNothing => Problem::MatchesNothing,
            PatternErrorKind::Unbounded => {
                // Operators hold no `\/`, so the decoded text is what the
                // user wrote.
                let operator = match (&pattern.lit, &error.span) {
                    (PatternLit::Regex { source, .. }, Some(range)) => {
                        source.get(range.clone()).unwrap_or("+").to_string()
                    }
                    _ => "+".into(),
                };
                Problem::Unbounded {
                    replacement: bounded(&operator),
                    operator,
                    context,
                }
            }
        };
        self.report(problem, span);
    }

    fn check(
        &mut self,
        name: &Name,
        compare: Option<&Name>,
        threshold: Option<&Name>,
    ) -> Option<Check> {
        match name.text.as_str() {
            "luhn" | "mod97" => {
                if let (Some(compare), Some(threshold)) = (compare, threshold) {
                    self.report(
                        Problem::BadArgument(Argument::UnexpectedThreshold {
                            check: name.text.clone(),
                        }),
                        compare.span.start..threshold.span.end,
                    );
                    return None;
                }
                Some(if name.text == "luhn" {
                    Check::Luhn
                } else {
                    Check::Mod97
                })
            }
            check @ ("entropy" | "classes") => {
                let check: &'static str = if check == "entropy" {
                    "entropy"
                } else {
                    "classes"
                };
                let (Some(compare), Some(threshold)) = (compare, threshold) else {
                    self.report(
                        Problem::BadArgument(Argument::MissingThreshold { check }),
                        name.span.clone(),
                    );
                    return None;
                };
                if compare.text != ">=" {
                    self.report(
                        Problem::BadArgument(Argument::WrongComparison {
                            check,
                            compare: compare.text.clone(),
                        }),
                        compare.span.clone(),
                    );
                    return None;
                }
                let out_of_range = || Problem::BadArgument(Argument::ThresholdOutOfRange { check });
                if check == "classes" {
                    return match threshold.text.parse::<u8>() {
                        Ok(min @ 1..=4) => Some(Check::Classes { min }),
                        _ => {
                            self.report(out_of_range(), threshold.span.clone());
                            None
                        }
                    };
                }
                let min_bits: f64 = match threshold.text.parse() {
                    Ok(value) if (0.0..=MAX_ENTROPY).contains(&value) => value,
                    _ => {
                        self.report(out_of_range(), threshold.span.clone());
                        return None;
                    }
                };
                Some(Check::Entropy { min_bits })
            }
            other => {
                self.report(
                    Problem::UnknownCheck {
                        name: other.into(),
                        suggestion: closest(other, &CHECKS),
                    },
                    name.span.clone(),
                );
                None
            }
        }
    }

    fn decodings(&mut self, names: &[Name]) -> DecodingSet {
        let mut set = DecodingSet::NONE;
        for name in names {
            match Decoding::from_name(&name.text) {
                Some(decoding) if set.contains(decoding) => self.report(
                    Problem::RepeatedDecoding {
                        name: name.text.clone(),
                    },
                    name.span.clone(),
                ),
                Some(decoding) => set.insert(decoding),
                None => {
                    let known: Vec<&str> = Decoding::ALL.iter().map(|d| d.name()).collect();
                    self.report(
                        Problem::UnknownDecoding {
                            name: name.text.clone(),
                            suggestion: closest(&name.text, &known),
                        },
                        name.span.clone(),
                    );
                }
            }
        }
        set
    }

    fn action(
        &mut self,
        side: &Name,
        action: &Name,
        argument: Option<&Str>,
        scopes: &[Name],
    ) -> Option<ActionClause> {
        let side_value = if side.text == "request" {
            Side::Request
        } else {
            Side::Response
        };
        let mut ok = true;
        let mut scope_set = ScopeSet::EMPTY;
        for scope in scopes {
            match Scope::from_name(&scope.text) {
                Some(value) => scope_set.insert(value),
                None => {
                    ok = false;
                    let names: Vec<&str> = Scope::ALL.iter().map(|s| s.name()).collect();
                    self.report(
                        Problem::UnknownScope {
                            name: scope.text.clone(),
                            suggestion: closest(&scope.text, &names),
                        },
                        scope.span.clone(),
                    );
                }
            }
        }
        if scopes.is_empty() {
            scope_set = ScopeSet::ALL;
        }
        let value = match action.text.as_str() {
            "reject" | "mask" => {
                let name: &'static str = if action.text == "reject" {
                    "reject"
                } else {
                    "mask"
                };
                let Some(argument) = argument else {
                    self.report(
                        Problem::BadArgument(Argument::MissingText { action: name }),
                        action.span.clone(),
                    );
                    return None;
                };
                if name == "reject" {
                    Action::Reject {
                        message: argument.value.clone(),
                    }
                } else {
                    match parse_template(argument) {
                        Ok(template) => Action::Mask { template },
                        Err(problems) => {
                            for (problem, span) in problems {
                                self.report(problem, span);
                            }
                            return None;
                        }
                    }
                }
            }
            "log" => {
                if let Some(argument) = argument {
                    self.report(
                        Problem::BadArgument(Argument::UnexpectedText),
                        argument.span.clone(),
                    );
                    return None;
                }
                Action::Log
            }
            other => {
                self.report(
                    Problem::UnknownAction {
                        name: other.into(),
                        suggestion: closest(other, &ACTIONS),
                    },
                    action.span.clone(),
                );
                return None;
            }
        };
        ok.then_some(ActionClause {
            side: side_value,
            action: value,
            scopes: scope_set,
        })
    }

    /// Warns about a clause whose every scope an earlier clause on the same
    /// side already decides (the engine takes the first that names it).
    fn unreachable_actions(&mut self, actions: &[(ActionClause, Span)]) {
        for (index, (clause, span)) in actions.iter().enumerate() {
            let earlier: Vec<&Span> = actions[..index]
                .iter()
                .filter(|(e, _)| {
                    e.side == clause.side && clause.scopes.iter().any(|s| e.scopes.contains(s))
                })
                .map(|(_, span)| span)
                .collect();
            let covered = clause.scopes.iter().all(|scope| {
                actions[..index]
                    .iter()
                    .any(|(e, _)| e.side == clause.side && e.scopes.contains(scope))
            });
            if covered && !earlier.is_empty() {
                let mut diagnostic = Diagnostic::new(
                    Problem::UnreachableAction {
                        side: clause.side.name(),
                        earlier: earlier.len(),
                    },
                    self.file,
                    span.clone(),
                );
                for span in earlier {
                    diagnostic = diagnostic.with_related(self.file, span.clone());
                }
                self.push(diagnostic);
            }
        }
    }
}

/// A bounded form of an unbounded repetition operator: `+` → `{1,200}`,
/// `*` → `{0,200}`, `{20,}` → `{20,200}`; a lazy `?` is kept.
fn bounded(operator: &str) -> String {
    let (greedy, lazy) = match operator.strip_suffix('?') {
        Some(greedy) => (greedy, "?"),
        None => (operator, ""),
    };
    let min: usize = match greedy {
        "+" => 1,
        "*" => 0,
        _ => greedy
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(1),
    };
    let max = (min * 10).max(200);
    format!("{{{min},{max}}}{lazy}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_suggested_for_each_operator() {
        assert_eq!(bounded("+"), "{1,200}");
        assert_eq!(bounded("*?"), "{0,200}?");
        assert_eq!(bounded("{20,}"), "{20,200}");
        assert_eq!(bounded("{40,}"), "{40,400}");
    }
}
