//! The `rulec` command line: argument parsing and dispatch.
//!
//! Exit statuses, the same for every subcommand: 0 when all is well, 1 when
//! the rules have errors, 2 for a usage or I/O error (clap also exits with
//! 2 on bad arguments).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rulegate_engine::RuleSet;

mod check;
mod scan;
mod test;

pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_ERRORS: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "rulec",
    version,
    about = "Check rulegate `.rules` files, run them over text, and snapshot-test them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check rule files and report every problem, with inline examples run
    Check(check::Args),
    /// Run the rules over files or standard input: masked text or findings
    Scan(scan::Args),
    /// Compare what the rules do to case files with stored snapshots
    Test(test::Args),
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Test(args) => test::run(args),
    }
}

/// Loads and compiles the rules for a command that runs them; on failure
/// prints why (diagnostics as `rulec check` prints them) and gives the
/// exit status.
pub(crate) fn load_rule_set(paths: &[PathBuf]) -> Result<RuleSet, ExitCode> {
    let loaded = match rulegate_lang::load(paths) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return Err(ExitCode::from(EXIT_USAGE));
        }
    };
    loaded.compile().map_err(|error| {
        let mut stderr = io::stderr().lock();
        let _ = rulegate_lang::render_human(&loaded, &mut stderr, false);
        let _ = writeln!(stderr, "error: {error}");
        ExitCode::from(EXIT_ERRORS)
    })
}
