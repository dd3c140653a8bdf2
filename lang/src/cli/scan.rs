//! `rulec scan --rules DIR [--side request|response] [--scope SCOPE]
//! [--chunk-size N] [--format text|json] [FILE...|-]`: runs the rules over
//! files or standard input.
//!
//! Text mode prints the masked text of each input; JSON mode one object per
//! finding (`file`, `rule`, `start`, `end` as byte offsets into that input,
//! 1-based `line` and byte `column`, `action`). A rejection prints
//! `rejected by RULE: MESSAGE` on stderr and exits 3. As a CI gate,
//! `--fail-on mask` (or `any`) also fails (exit 4) when a finding would be
//! masked (or found at all), after every input was scanned.
//!
//! Input always goes through the streaming scanner, read `chunk_size` bytes
//! at a time, so a file of any size streams from disk in bounded memory;
//! by chunk invariance the output does not depend on the chunk size, which
//! is exactly what `--chunk-size 1` against the default lets a user check
//! from the shell.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use rulegate_engine::{Disposition, Finding, Rejection, RuleSet, Scanner, Scope, Side};

use super::{load_rule_set, EXIT_OK, EXIT_USAGE};

/// A rule rejected an input.
const EXIT_REJECTED: u8 = 3;
/// A finding at the `--fail-on` level (and no rejection).
const EXIT_FOUND: u8 = 4;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// `.rules` files, or directories of them
    #[arg(long, required = true, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Which side's actions to apply
    #[arg(long, value_enum, default_value_t = SideArg::Response)]
    side: SideArg,
    /// Where the text sits in a conversation (default: `user` on the
    /// request side, `assistant` on the response side)
    #[arg(long, value_enum)]
    scope: Option<ScopeArg>,
    /// Feed the streaming masker N bytes at a time (the output is the same
    /// for every N)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CHUNK_SIZE,
          value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    chunk_size: u64,
    /// Print the masked text, or one JSON object per finding
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Exit with a failure status when a finding is at least this serious:
    /// `reject` (exit 3, the scan stops there), `mask` (exit 4 if a finding
    /// would be masked), `any` (exit 4 if anything was found, `log` too)
    #[arg(long, value_enum, default_value_t = FailOn::Reject)]
    fail_on: FailOn,
    /// Files to scan; `-` or none reads standard input
    #[arg(value_name = "FILE")]
    inputs: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SideArg {
    Request,
    Response,
}

/// Spelled as in the language (`in tool_result`); the kebab-case
/// spelling clap would give is accepted too.
#[derive(Clone, Copy, ValueEnum)]
enum ScopeArg {
    System,
    User,
    Assistant,
    #[value(name = "tool_result", alias = "tool-result")]
    ToolResult,
    #[value(name = "tool_input", alias = "tool-input")]
    ToolInput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Reject,
    Mask,
    Any,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let set = match load_rule_set(&args.rules) {
        Ok(set) => set,
        Err(code) => return code,
    };
    let side = match args.side {
        SideArg::Request => Side::Request,
        SideArg::Response => Side::Response,
    };
    let scope = match (args.scope, side) {
        (Some(ScopeArg::System), _) => Scope::System,
        (Some(ScopeArg::User), _) | (None, Side::Request) => Scope::User,
        (Some(ScopeArg::Assistant), _) | (None, Side::Response) => Scope::Assistant,
        (Some(ScopeArg::ToolResult), _) => Scope::ToolResult,
        (Some(ScopeArg::ToolInput), _) => Scope::ToolInput,
    };
    let options = ScanOptions {
        side,
        scope,
        // Bounded to 1 GiB by the parser, so it fits in memory and usize.
        chunk_size: usize::try_from(args.chunk_size).unwrap_or(DEFAULT_CHUNK_SIZE as usize),
        format: match args.format {
            FormatArg::Text => ScanFormat::Text,
            FormatArg::Json => ScanFormat::Json,
        },
        inputs: args.inputs,
        fail_on: args.fail_on,
    };
    let mut stdout = io::stdout().lock();
    let mut stderr = io::stderr();
    match scan(&set, &options, &mut stdout, &mut stderr) {
        Ok(ScanOutcome::Clean) => ExitCode::from(EXIT_OK),
        Ok(ScanOutcome::Rejected) => ExitCode::from(EXIT_REJECTED),
        Ok(ScanOutcome::Found) => ExitCode::from(EXIT_FOUND),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Inputs larger than this get a progress line on a terminal.
const PROGRESS_THRESHOLD: u64 = 64 * 1024 * 1024;
const DEFAULT_CHUNK_SIZE: u64 = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanFormat {
    /// The masked text of each input.
    Text,
    /// One JSON object per finding.
    Json,
}

#[derive(Clone, Debug)]
struct ScanOptions {
    side: Side,
    scope: Scope,
    chunk_size: usize,
    format: ScanFormat,
    /// Files to scan; `-` (or none) is standard input.
    inputs: Vec<PathBuf>,
    fail_on: FailOn,
}

/// How a scan ended, for the exit status.
#[derive(Debug, PartialEq, Eq)]
enum ScanOutcome {
    Clean,
    /// A rule rejected an input (exit 3); what was before it was printed.
    Rejected,
    /// A finding at the `--fail-on` level, no rejection (exit 4).
    Found,
}

/// What the findings of the inputs so far call for.
#[derive(Default)]
struct Tally {
    masked: usize,
    logged: usize,
}

/// Scans every input in turn, writing masked text or findings to `out` and
/// rejections and progress to `err`.
fn scan(
    set: &RuleSet,
    options: &ScanOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<ScanOutcome> {
    let stdin_only = [PathBuf::from("-")];
    let inputs = if options.inputs.is_empty() {
        &stdin_only[..]
    } else {
        &options.inputs[..]
    };
    let show_progress = io::stderr().is_terminal();
    let mut tally = Tally::default();
    for path in inputs {
        let (mut reader, size): (Box<dyn Read>, Option<u64>) = if path == Path::new("-") {
            (Box::new(io::stdin().lock()), None)
        } else {
            let file = File::open(path).map_err(|e| with_path(e, path))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        };
        let progress = (show_progress && size.is_some_and(|s| s > PROGRESS_THRESHOLD))
            .then(|| Progress::new(path, size.unwrap_or(0)));
        let name = path.display().to_string();
        let rejected = scan_one(set, options, &name, &mut reader, progress, out, &mut tally)
            .map_err(|e| with_path(e, path))?;
        if let Some(rejection) = rejected {
            writeln!(
                err,
                "rejected by {}: {}",
                rejection.rule_name, rejection.message
            )?;
            return Ok(ScanOutcome::Rejected);
        }
    }
    let found = match options.fail_on {
        FailOn::Reject => false,
        FailOn::Mask => tally.masked > 0,
        FailOn::Any => tally.masked + tally.logged > 0,
    };
    Ok(if found {
        ScanOutcome::Found
    } else {
        ScanOutcome::Clean
    })
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

fn scan_one(
    set: &RuleSet,
    options: &ScanOptions,
    name: &str,
    reader: &mut dyn Read,
    mut progress: Option<Progress>,
    out: &mut dyn Write,
    tally: &mut Tally,
) -> io::Result<Option<Rejection>> {
    let mut scanner = set.scanner(options.side, options.scope);
    let mut lines = LineIndex::default();
    let mut chunk = vec![0; options.chunk_size.max(1)];
    let mut released = Vec::new();
    let mut offset = 0u64;
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        lines.note(&chunk[..read], offset);
        offset += read as u64;
        released.clear();
        let pushed = scanner.push(&chunk[..read], &mut released);
        emit(
            options,
            name,
            &mut scanner,
            &mut lines,
            &released,
            out,
            tally,
        )?;
        if let Err(rejection) = pushed {
            finish_progress(progress.as_mut());
            return Ok(Some(rejection));
        }
        if let Some(progress) = progress.as_mut() {
            progress.update(offset);
        }
    }
    released.clear();
    let finished = scanner.finish(&mut released);
    emit(
        options,
        name,
        &mut scanner,
        &mut lines,
        &released,
        out,
        tally,
    )?;
    finish_progress(progress.as_mut());
    out.flush()?;
    Ok(finished.err())
}

fn emit(
    options: &ScanOptions,
    name: &str,
    scanner: &mut Scanner,
    lines: &mut LineIndex,
    released: &[u8],
    out: &mut dyn Write,
    tally: &mut Tally,
) -> io::Result<()> {
    // Taken in text mode too: a long input would pile them up.
    let findings = scanner.take_findings();
    for finding in &findings {
        match finding.disposition {
            Disposition::Mask => tally.masked += 1,
            Disposition::Log => tally.logged += 1,
            Disposition::Reject => {}
        }
    }
    match options.format {
        ScanFormat::Text => out.write_all(released),
        ScanFormat::Json => {
            for finding in &findings {
                write_finding(out, name, scanner, lines, finding)?;
            }
            Ok(())
        }
    }
}

fn write_finding(
    out: &mut dyn Write,
    name: &str,
    scanner: &Scanner,
    lines: &mut LineIndex,
    finding: &Finding,
) -> io::Result<()> {
    let (line, column) = lines.locate(finding.start as u64);
    let record = serde_json::json!({
        "file": name,
        "rule": scanner.rule_set().rule_name(finding.rule),
        "start": finding.start,
        "end": finding.end,
        "line": line,
        "column": column,
        "action": finding.disposition.name(),
    });
    writeln!(out, "{record}")
}

/// Line numbers of stream offsets, for findings that arrive in order. Only
/// the newlines after the last located offset are kept, so memory stays
/// bounded by what the scanner holds plus one chunk.
#[derive(Default)]
struct LineIndex {
    pending_newlines: VecDeque<u64>,
    line: u64,
    line_start: u64,
}

impl LineIndex {
    fn note(&mut self, chunk: &[u8], offset: u64) {
        self.pending_newlines.extend(
            chunk
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| offset + i as u64),
        );
    }

    /// 1-based line and byte column of `offset`; offsets must not decrease.
    fn locate(&mut self, offset: u64) -> (u64, u64) {
        while let Some(&newline) = self.pending_newlines.front() {
            if newline >= offset {
                break;
            }
            self.pending_newlines.pop_front();
            self.line += 1;
            self.line_start = newline + 1;
        }
        (self.line + 1, offset - self.line_start + 1)
    }
}

/// A single self-overwriting line on the terminal, at most every 200 ms.
struct Progress {
    name: String,
    total: u64,
    started: Instant,
    last_draw: Option<Instant>,
}

impl Progress {
    fn new(path: &Path, total: u64) -> Progress {
        Progress {
            name: path.display().to_string(),
            total,
            started: Instant::now(),
            last_draw: None,
        }
    }

    fn update(&mut self, done: u64) {
        let now = Instant::now();
        if self
            .last_draw
            .is_some_and(|last| now - last < Duration::from_millis(200))
        {
            return;
        }
        self.last_draw = Some(now);
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let elapsed = (now - self.started).as_secs_f64().max(1e-9);
        eprint!(
            "\rscanning {}: {:>3}% ({:.0} / {:.0} MiB, {:.0} MiB/s)",
            self.name,
            done * 100 / self.total.max(1),
            mib(done),
            mib(self.total),
            mib(done) / elapsed
        );
    }
}

fn finish_progress(progress: Option<&mut Progress>) {
    if let Some(progress) = progress {
        progress.last_draw = None;
        progress.update(progress.total);
        eprintln!();
    }
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn line_index_locates_offsets_across_chunks() {
        let mut lines = LineIndex::default();
        lines.note(b"ab\ncd", 0);
        lines.note(b"e\n\nfg", 5);
        assert_eq!(lines.locate(0), (1, 1));
        assert_eq!(lines.locate(3), (2, 1));
        assert_eq!(lines.locate(5), (2, 3));
        assert_eq!(lines.locate(8), (4, 1));
        assert_eq!(lines.locate(9), (4, 2));
    }
}
