//! `rulec test --rules PATH... [--update] CASES...`: snapshot tests of what
//! the rules do to sample inputs, the way users test code.
//!
//! Every file under the CASES paths (directories are walked recursively;
//! `*.snap` and hidden files are skipped) is a case. It is run through the
//! rules and the result, the masked text (or the rejection) and the
//! findings, is compared with the snapshot stored next to it,
//! `<case>.snap`. A mismatch prints a unified diff and fails the run;
//! `--update` writes the snapshots instead. A summary line ends the run.
//!
//! What a case is (a first-line directive picks the sides and scopes) and
//! what a snapshot holds are in `rulegate_lang::cases`.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rulegate_engine::RuleSet;
use rulegate_lang::cases::snapshot;

use super::{load_rule_set, EXIT_ERRORS, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// `.rules` files, or directories of them
    #[arg(long, required = true, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Write the snapshots instead of comparing with them
    #[arg(long)]
    update: bool,
    /// Case files, or directories walked recursively for them
    #[arg(required = true, value_name = "CASES")]
    cases: Vec<PathBuf>,
}

const SNAPSHOT_EXTENSION: &str = "snap";

pub(crate) fn run(args: Args) -> ExitCode {
    let set = match load_rule_set(&args.rules) {
        Ok(set) => set,
        Err(code) => return code,
    };
    let cases = match collect_cases(&args.cases) {
        Ok(cases) => cases,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut out = io::stdout().lock();
    match test_all(&set, &cases, args.update, &mut out) {
        Ok(tally) => {
            let _ = writeln!(out, "{}", tally.summary(args.update));
            let unaccepted = !args.update && (tally.failed > 0 || tally.new > 0);
            if unaccepted || tally.invalid > 0 {
                ExitCode::from(EXIT_ERRORS)
            } else {
                ExitCode::from(EXIT_OK)
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Counts of a run, for the summary line.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Cases without a snapshot yet.
    new: usize,
    /// With `--update`: snapshots rewritten because they changed.
    updated: usize,
    /// Cases whose directive could not be read.
    invalid: usize,
}

impl Tally {
    fn summary(&self, update: bool) -> String {
        let total = self.passed + self.failed + self.new + self.updated + self.invalid;
        let cases = if total == 1 { "case" } else { "cases" };
        let mut line = if update {
            format!(
                "tested {total} {cases}: {} unchanged, {} updated, {} written",
                self.passed, self.updated, self.new
            )
        } else {
            format!(
                "tested {total} {cases}: {} passed, {} failed, {} without a snapshot",
                self.passed, self.failed, self.new
            )
        };
        if self.invalid > 0 {
            let _ = write!(line, ", {} with a bad directive", self.invalid);
        }
        if !update && (self.failed > 0 || self.new > 0) {
            line.push_str(" (review, then run with --update to accept)");
        }
        line
    }
}

fn test_all(
    set: &RuleSet,
    cases: &[PathBuf],
    update: bool,
    out: &mut dyn Write,
) -> io::Result<Tally> {
    let mut tally = Tally::default();
    for case in cases {
        let bytes = fs::read(case).map_err(|e| with_path(e, case))?;
        let actual = match snapshot(set, &bytes) {
            Ok(actual) => actual,
            Err(problem) => {
                writeln!(out, "INVALID {}: {problem}", case.display())?;
                tally.invalid += 1;
                continue;
            }
        };
        let path = snapshot_path(case);
        let stored = match fs::read_to_string(&path) {
            Ok(stored) => Some(stored),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(with_path(e, &path)),
        };
        match (stored, update) {
            (Some(stored), _) if stored == actual => tally.passed += 1,
            (Some(_), true) => {
                fs::write(&path, &actual).map_err(|e| with_path(e, &path))?;
                writeln!(out, "UPDATED {}", path.display())?;
                tally.updated += 1;
            }
            (None, true) => {
                fs::write(&path, &actual).map_err(|e| with_path(e, &path))?;
                writeln!(out, "WROTE {}", path.display())?;
                tally.new += 1;
            }
            (Some(stored), false) => {
                writeln!(out, "FAIL {}", case.display())?;
                let diff = similar::TextDiff::from_lines(&stored, &actual);
                let stored_name = path.display().to_string();
                write!(
                    out,
                    "{}",
                    diff.unified_diff()
                        .context_radius(3)
                        .header(&stored_name, "actual")
                )?;
                tally.failed += 1;
            }
            (None, false) => {
                writeln!(
                    out,
                    "NEW {} (no snapshot; this is what --update would write to {}):",
                    case.display(),
                    path.display()
                )?;
                for line in actual.lines() {
                    writeln!(out, "  | {line}")?;
                }
                tally.new += 1;
            }
        }
    }
    Ok(tally)
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

fn snapshot_path(case: &Path) -> PathBuf {
    let mut name = case.as_os_str().to_owned();
    name.push(".");
    name.push(SNAPSHOT_EXTENSION);
    PathBuf::from(name)
}

/// Case files under `paths`, sorted: files as given, directories walked
/// recursively, snapshots and hidden files skipped.
fn collect_cases(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut cases = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|e| with_path(e, path))?;
        if metadata.is_dir() {
            walk(path, &mut cases)?;
        } else {
            cases.push(path.clone());
        }
    }
    cases.sort();
    cases.dedup();
    Ok(cases)
}

fn walk(dir: &Path, cases: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| with_path(e, dir))? {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let kind = entry.file_type().map_err(|e| with_path(e, &path))?;
        if hidden {
            continue;
        }
        if kind.is_dir() {
            walk(&path, cases)?;
        } else if path.extension().is_none_or(|ext| ext != SNAPSHOT_EXTENSION) {
            cases.push(path);
        }
    }
    Ok(())
}
