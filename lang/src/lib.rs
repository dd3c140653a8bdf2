//! The `.rules` language: grammar, syntax tree, checker, diagnostics, and
//! compilation to the engine's rule set.
//!
//! ```no_run
//! # use std::path::PathBuf;
//! let loaded = rulegate_lang::load(&[PathBuf::from("rules/")])?;
//! rulegate_lang::render_human(&loaded, &mut std::io::stderr(), false)?;
//! // Fails when any diagnostic is an error.
//! let rule_set = loaded.compile()?;
//! # let _ = rule_set;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Invariants:
//! - checking never panics and never stops at the first problem: every
//!   file is parsed, every line of every rule is checked, and all
//!   diagnostics are kept, sorted by file and position;
//! - [`Loaded::spec`] is `Some` exactly when there is no error (warnings
//!   allowed); every rule of it has then compiled on its own and passed its
//!   inline examples, and [`Loaded::compile`] builds the whole set;
//! - rules are in declaration order: files sorted by path, then in order
//!   within each file.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod ast;
pub mod cases;
mod checker;
mod diagnostic;
mod load;
mod parser;
mod render;
mod suggest;
mod template;

use std::path::PathBuf;
use std::sync::OnceLock;

use rulegate_engine::{BuildError, RuleSet, RuleSetSpec};

pub use diagnostic::{Diagnostic, FileId, Location, Severity, Wording};
pub use load::LoadError;
pub use render::{render_human, render_json};

/// Why [`Loaded::compile`] gave no rule set.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("the rules have {0} error(s)")]
    HasErrors(usize),
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// A file that was checked. Text that is not UTF-8 is kept with the bad
/// bytes replaced by U+FFFD, so that its diagnostic can show the line.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: String,
}

impl SourceFile {
    /// The path as given (joined with the directory it was found in).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The outcome of checking a set of `.rules` files.
pub struct Loaded {
    files: Vec<SourceFile>,
    diagnostics: Vec<Diagnostic>,
    spec: Option<RuleSetSpec>,
    /// Built by the first call to [`Loaded::rule_set`].
    rule_set: OnceLock<Option<RuleSet>>,
    locations: Vec<Location>,
    rule_count: usize,
}

impl Loaded {
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// Every diagnostic, sorted by file and position.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// What the rules mean, in declaration order; `None` on any error.
    pub fn spec(&self) -> Option<&RuleSetSpec> {
        self.spec.as_ref()
    }

    /// Compiles every rule into the engine's one automaton. This is the
    /// expensive step, so `rulec check` does not take it: each rule was
    /// already compiled on its own to run its examples. A failure here
    /// (only the size of the whole set can cause one) comes with the
    /// engine's reason.
    pub fn compile(&self) -> Result<RuleSet, CompileError> {
        match &self.spec {
            Some(spec) => Ok(RuleSet::build(spec.clone())?),
            None => Err(CompileError::HasErrors(self.error_count())),
        }
    }

    /// The compiled rules, built on the first call and kept; `None` on any
    /// error, or when the whole set does not compile ([`Loaded::compile`]
    /// says why).
    pub fn rule_set(&self) -> Option<&RuleSet> {
        self.rule_set.get_or_init(|| self.compile().ok()).as_ref()
    }

    /// [`Loaded::rule_set`], by value.
    pub fn into_rule_set(self) -> Option<RuleSet> {
        let Loaded { rule_set, spec, .. } = self;
        match rule_set.into_inner() {
            Some(built) => built,
            None => spec.and_then(|spec| RuleSet::build(spec).ok()),
        }
    }

    /// Where rule `index` of [`Loaded::spec`] is declared (its name).
    pub fn rule_location(&self, index: usize) -> Option<&Location> {
        self.locations.get(index)
    }

    /// Rules declared, including those with errors.
    pub fn rule_count(&self) -> usize {
        self.rule_count
    }

    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    pub fn error_count(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warning_count(&self) -> usize {
        self.count(Severity::Warning)
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity() == severity)
            .count()
    }

    /// `checked 12 rules in 3 files: 0 errors, 1 warning`
    pub fn summary(&self) -> String {
        fn counted(n: usize, what: &str) -> String {
            if n == 1 {
                format!("1 {what}")
            } else {
                format!("{n} {what}s")
            }
        }
        format!(
            "checked {} in {}: {}, {}",
            counted(self.rule_count, "rule"),
            counted(self.file_count(), "file"),
            counted(self.error_count(), "error"),
            counted(self.warning_count(), "warning"),
        )
    }
}

/// Reads and checks `paths`: files as given, and the `*.rules` files
/// directly inside each directory given (subdirectories are not loaded);
/// all sorted by path. Fails only when a path
/// cannot be read; everything wrong inside the files is a diagnostic.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
    let files = load::collect(paths)?;
    let mut sources = Vec::with_capacity(files.len());
    for path in files {
        let bytes = load::read(&path)?;
        sources.push((path.display().to_string(), bytes));
    }
    Ok(check_sources(sources))
}

/// Checks files already in memory, as `(name, contents)`, in the order
/// given (which is the rules' declaration order).
pub fn check_sources<I>(sources: I) -> Loaded
where
    I: IntoIterator<Item = (String, Vec<u8>)>,
{
    let mut files = Vec::new();
    let mut trees = Vec::new();
    let mut diagnostics = Vec::new();
    for (id, (name, bytes)) in sources.into_iter().enumerate() {
        let text = match String::from_utf8(bytes) {
            Ok(text) => {
                trees.push((id, parser::parse(id, &text, &mut diagnostics)));
                text
            }
            Err(error) => {
                let offset = error.utf8_error().valid_up_to();
                let bytes = error.into_bytes();
                let byte = bytes.get(offset).copied().unwrap_or_default();
                // The replacement character stands where the bad bytes were.
                diagnostics.push(Diagnostic::new(
                    diagnostic::Problem::NotUtf8 { byte, offset },
                    id,
                    offset..offset + char::REPLACEMENT_CHARACTER.len_utf8(),
                ));
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        files.push(SourceFile { name, text });
    }
    let checked = checker::check(&trees, &mut diagnostics);
    diagnostics.sort_by_key(|d| {
        d.location()
            .map_or((usize::MAX, usize::MAX), |l| (l.file, l.span.start))
    });
    Loaded {
        files,
        diagnostics,
        spec: checked.spec,
        rule_set: OnceLock::new(),
        locations: checked.locations,
        rule_count: checked.rule_count,
    }
}
