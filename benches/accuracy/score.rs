//! Span-level scoring of findings against the labels.
//!
//! A finding is a true positive when it overlaps a label of its rule's
//! type (or a label whose type lists that rule in `also`); any other
//! finding is a false positive. A label that no such finding overlaps is a
//! false negative. "Recall (any rule)" counts a label as found when any
//! finding overlaps it, whatever its rule: the text was masked all the
//! same.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::corpus::{Corpus, Document};
use super::formats::{type_spec, Category, TYPES};

/// Rule names that differ from the corpus's type names between pack
/// versions: `(rule, type)`.
pub const ALIASES: &[(&str, &str)] = &[
    ("slack-webhook", "slack-webhook-url"),
    ("sendgrid-key", "sendgrid-api-key"),
    ("twilio-key", "twilio-api-key"),
    // The pack has a rule of its own for Slack's app-level `xapp-` tokens;
    // the corpus labels them as Slack tokens.
    ("slack-app-token", "slack-token"),
    // Passwords a person chose and credentials echoed in auth errors are
    // generic secrets, found by rules of their own.
    ("password-assignment", "generic-secret-assignment"),
    ("credential-in-auth-error", "generic-secret-assignment"),
    ("password-in-command", "generic-secret-assignment"),
    // Keys of a strict shape written with no key name are named by rules
    // of their own (their exceptions differ); they score as the keyed type.
    ("aws-secret-access-key-bare", "aws-secret-access-key"),
    ("azure-storage-key-bare", "azure-storage-key"),
    // A hard-wrapped JWT has a rule of its own (its match takes the line
    // break after it).
    ("jwt-wrapped", "jwt"),
];

/// Rules whose match holds a value it carries encoded: a key name over a
/// base64 value (a Kubernetes `Secret`, a Docker `auths` entry), a Basic
/// header. The value inside is found in the base64 view, but the
/// container's match starts further left and is the one reported, so by
/// type such a label counts as named by these rules too (by family it
/// always did).
pub const CONTAINERS: &[&str] = &["generic-secret-assignment", "http-basic-auth"];

/// Lets [`CONTAINERS`] name the labels `carried` marks (per document, per
/// label, in order).
pub fn credit_containers(corpus: &mut Corpus, carried: &[Vec<bool>]) {
    for (doc, carried) in corpus.documents.iter_mut().zip(carried) {
        for (label, &carried) in doc.labels.iter_mut().zip(carried) {
            if !carried || label.category != Category::Secret {
                continue;
            }
            // Labels seldom have an `also` of their own: share the list.
            label.also = if label.also.is_empty() {
                CONTAINERS
            } else {
                let mut also: Vec<&'static str> = label.also.to_vec();
                also.extend(CONTAINERS.iter().filter(|c| !label.also.contains(c)));
                Box::leak(also.into_boxed_slice())
            };
        }
    }
}

/// The corpus type a rule's findings are scored as.
pub fn canonical(rule: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == rule)
        .map_or(rule, |(_, name)| name)
}

/// One finding of a tool, in a document.
#[derive(Clone, Debug)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    /// Already passed through [`canonical`].
    pub rule: String,
    pub category: Category,
}

#[derive(Clone, Debug, Default)]
pub struct Row {
    pub labels: usize,
    /// Labels found by their own rule (or an `also` rule).
    pub detected: usize,
    /// Labels found by any rule.
    pub detected_any: usize,
    pub findings: usize,
    /// Findings on a label of their type.
    pub correct: usize,
    /// Wrong findings that sit on a label of another type.
    pub cross: usize,
    /// Of those, the ones on a label of the same family (a secret rule on
    /// another secret): right at the family level.
    pub cross_family: usize,
    /// Labels found by a rule of their own family.
    pub detected_family: usize,
}

impl Row {
    pub fn tp(&self) -> usize {
        self.correct
    }
    pub fn fp(&self) -> usize {
        self.findings - self.correct
    }
    pub fn fn_(&self) -> usize {
        self.labels - self.detected
    }
    pub fn precision(&self) -> Option<f64> {
        (self.findings > 0).then(|| self.correct as f64 / self.findings as f64)
    }
    pub fn recall(&self) -> Option<f64> {
        (self.labels > 0).then(|| self.detected as f64 / self.labels as f64)
    }
    pub fn recall_any(&self) -> Option<f64> {
        (self.labels > 0).then(|| self.detected_any as f64 / self.labels as f64)
    }
    /// Findings on a label of their family (their own type or another).
    pub fn precision_family(&self) -> Option<f64> {
        (self.findings > 0)
            .then(|| (self.correct + self.cross_family) as f64 / self.findings as f64)
    }
    /// Labels found by some rule of their family.
    pub fn recall_family(&self) -> Option<f64> {
        (self.labels > 0).then(|| self.detected_family as f64 / self.labels as f64)
    }
    fn add(&mut self, other: &Row) {
        self.labels += other.labels;
        self.detected += other.detected;
        self.detected_any += other.detected_any;
        self.findings += other.findings;
        self.correct += other.correct;
        self.cross += other.cross;
        self.cross_family += other.cross_family;
        self.detected_family += other.detected_family;
    }
}

#[derive(Default)]
pub struct Report {
    pub rows: BTreeMap<String, Row>,
    pub categories: BTreeMap<String, Category>,
    /// Per type: up to [`EXAMPLES`] missed labels and wrong findings, in
    /// corpus order, with context.
    pub missed: BTreeMap<String, Vec<String>>,
    pub wrong: BTreeMap<String, Vec<String>>,
    /// False positives by rule and by what they sat on (a hard negative's
    /// kind, another type's label, or filler).
    pub fp_causes: BTreeMap<(String, String), usize>,
    /// The types some loaded rule is named for (canonical names); when
    /// set, the table adds totals over those types only, which separate
    /// the quality of the rules from the gaps in their coverage.
    pub covered: Option<BTreeSet<String>>,
}

pub const EXAMPLES: usize = 6;

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Scores `findings[i]` against `corpus.documents[i]`.
pub fn score(corpus: &Corpus, findings: &[Vec<Found>]) -> Report {
    let mut report = Report::default();
    for spec in TYPES {
        report.rows.insert(spec.name.to_string(), Row::default());
        report
            .categories
            .insert(spec.name.to_string(), spec.category);
    }
    for (doc, found) in corpus.documents.iter().zip(findings) {
        for label in &doc.labels {
            let row = report.rows.entry(label.kind.to_string()).or_default();
            row.labels += 1;
            let span = (label.start, label.end);
            let mut any = false;
            let mut own = false;
            let mut family = false;
            let label_family = type_spec(label.kind).map(|spec| spec.category);
            for f in found.iter().filter(|f| overlaps((f.start, f.end), span)) {
                any = true;
                own |= f.rule == label.kind || label.also.contains(&f.rule.as_str());
                family |= label_family == Some(f.category);
            }
            let row = report.rows.entry(label.kind.to_string()).or_default();
            row.detected += usize::from(own);
            row.detected_any += usize::from(any);
            row.detected_family += usize::from(family || own);
            if !own {
                let examples = report.missed.entry(label.kind.to_string()).or_default();
                if examples.len() < EXAMPLES {
                    let note = if any { " (found by another rule)" } else { "" };
                    examples.push(format!(
                        "{}:{}{note}: {}",
                        doc.name,
                        doc.line_of(label.start),
                        context(doc, label.start, label.end)
                    ));
                }
            }
        }
        for f in found {
            report
                .categories
                .entry(f.rule.clone())
                .or_insert(f.category);
            let row = report.rows.entry(f.rule.clone()).or_default();
            row.findings += 1;
            let span = (f.start, f.end);
            let on_labels: Vec<_> = doc
                .labels
                .iter()
                .filter(|l| overlaps((l.start, l.end), span))
                .collect();
            let correct = on_labels
                .iter()
                .any(|l| l.kind == f.rule || l.also.contains(&f.rule.as_str()));
            if correct {
                row.correct += 1;
                continue;
            }
            let cause = if let Some(label) = on_labels.first() {
                row.cross += 1;
                let same_family = on_labels
                    .iter()
                    .any(|l| type_spec(l.kind).map(|spec| spec.category) == Some(f.category));
                row.cross_family += usize::from(same_family);
                format!("label of type {}", label.kind)
            } else if let Some(negative) = doc
                .negatives
                .iter()
                .find(|n| overlaps((n.start, n.end), span))
            {
                format!("hard negative: {}", negative.kind)
            } else {
                "filler text".to_string()
            };
            let examples = report.wrong.entry(f.rule.clone()).or_default();
            if examples.len() < EXAMPLES {
                examples.push(format!(
                    "{}:{} [{cause}]: {}",
                    doc.name,
                    doc.line_of(f.start),
                    context(doc, f.start, f.end)
                ));
            }
            *report.fp_causes.entry((f.rule.clone(), cause)).or_default() += 1;
        }
    }
    report
}

/// The finding or label in its line, marked `«…»`, newlines shown `⏎`,
/// long values shortened in the middle.
pub fn context(doc: &Document, start: usize, end: usize) -> String {
    let text = &doc.text;
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before_from = floor(line_start.max(start.saturating_sub(60)));
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let after_to = floor(line_end.min(end + 40));
    let value = &text[start..end];
    let shown = if value.len() > 120 {
        format!(
            "{}…{}",
            &value[..floor_in(value, 60)],
            &value[floor_in(value, value.len() - 40)..]
        )
    } else {
        value.to_string()
    };
    format!(
        "{}«{}»{}",
        &text[before_from..start],
        shown,
        &text[end..after_to]
    )
    .replace('\n', "⏎")
}

fn floor_in(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn pct(value: Option<f64>) -> String {
    value.map_or("—".to_string(), |v| format!("{:.1}%", 100.0 * v))
}

impl Report {
    /// Rows in corpus type order, then other rules by name.
    pub fn ordered(&self) -> Vec<(&str, &Row)> {
        let mut out: Vec<(&str, &Row)> = TYPES
            .iter()
            .filter_map(|t| self.rows.get(t.name).map(|r| (t.name, r)))
            .collect();
        for (name, row) in &self.rows {
            if !TYPES.iter().any(|t| t.name == name) {
                out.push((name, row));
            }
        }
        out
    }

    pub fn total(&self, category: Option<Category>) -> Row {
        self.total_where(category, false)
    }

    fn total_where(&self, category: Option<Category>, covered_only: bool) -> Row {
        let mut total = Row::default();
        for (name, row) in &self.rows {
            let in_category = category.is_none() || self.categories.get(name).copied() == category;
            let in_cover = !covered_only
                || self
                    .covered
                    .as_ref()
                    .is_none_or(|covered| covered.contains(name));
            if in_category && in_cover {
                total.add(row);
            }
        }
        total
    }

    /// The markdown table: one row per type and rule, then totals.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| type | labels | TP | FP | (FP on another type's label) | FN | precision | recall | recall (any rule) |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let mut line = |name: &str, row: &Row| {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.labels,
                row.tp(),
                row.fp(),
                row.cross,
                row.fn_(),
                pct(row.precision()),
                pct(row.recall()),
                pct(row.recall_any())
            );
        };
        for (name, row) in self.ordered() {
            let name = if TYPES.iter().any(|t| t.name == name) {
                name.to_string()
            } else {
                format!("{name} (rule with no generator)")
            };
            line(&name, row);
        }
        line("**all secrets**", &self.total(Some(Category::Secret)));
        line("**all PII**", &self.total(Some(Category::Pii)));
        line("**all**", &self.total(None));
        if self.covered.is_some() {
            line(
                "**all secrets, types with a rule**",
                &self.total_where(Some(Category::Secret), true),
            );
            line(
                "**all PII, types with a rule**",
                &self.total_where(Some(Category::Pii), true),
            );
        }
        out.push_str(
            "\nBy family: a finding counts as right when it sits on a label of its \
             family (a secret rule on another type's secret), a label as found when a \
             rule of its family finds it.\n\n\
             | family | precision (family) | recall (family) |\n|---|---:|---:|\n",
        );
        for (name, category) in [("secrets", Category::Secret), ("PII", Category::Pii)] {
            let row = self.total(Some(category));
            let _ = writeln!(
                out,
                "| {name} | {} | {} |",
                pct(row.precision_family()),
                pct(row.recall_family())
            );
        }
        out
    }

    /// Examples of misses and false positives per type, and the causes of
    /// false positives, as markdown.
    pub fn examples(&self) -> String {
        let mut out = String::from("# Accuracy: examples of misses and false positives\n\n");
        out.push_str("## False positives by cause\n\n| rule | on | count |\n|---|---|---:|\n");
        let mut causes: Vec<_> = self.fp_causes.iter().collect();
        causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for ((rule, cause), count) in causes {
            let _ = writeln!(out, "| {rule} | {cause} | {count} |");
        }
        for (name, _) in self.ordered() {
            let missed = self.missed.get(name);
            let wrong = self.wrong.get(name);
            if missed.is_none() && wrong.is_none() {
                continue;
            }
            let _ = writeln!(out, "\n## {name}\n");
            for (title, list) in [("missed (FN)", missed), ("false positives", wrong)] {
                if let Some(list) = list {
                    let _ = writeln!(out, "{title}:\n");
                    for example in list {
                        let _ = writeln!(out, "- `{}`", example.replace('`', "ˋ"));
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}
