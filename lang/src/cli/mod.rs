//! The `rulec` command line: argument parsing and dispatch.
//!
//! Exit statuses, the same for every subcommand: 0 when all is well, 1 when
//! the rules have errors, 2 for a usage or I/O error (clap also exits with
//! 2 on bad arguments).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod scan;

pub(crate) const EXIT_OK: u8 = 0;
pub(crate) const EXIT_ERRORS: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "rulec",
    version,
    about = "Check rulegate `.rules` files and run them over text"
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
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Scan(args) => scan::run(args),
    }
}
