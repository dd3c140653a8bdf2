//! `proxy`: the rulegate gateway.
//!
//! Today it does the first thing the gateway does at start: compile the
//! rules, print their diagnostics exactly as `rulec check` does, and refuse
//! to go on if any rule is broken. Serving HTTP (relaying the Anthropic
//! Messages API) is issue 4 and not built yet; until then it says so and
//! exits.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "proxy", version, about = "rulegate gateway for LLM APIs")]
struct Args {
    /// Directory (or files) of `.rules` to enforce
    #[arg(
        long,
        env = "RULEGATE_RULES",
        default_value = "rules",
        value_name = "DIR"
    )]
    rules: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match rulegate_lang::load(&args.rules) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let color = io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if let Err(error) = rulegate_lang::render_human(&loaded, &mut io::stderr().lock(), color) {
        eprintln!("error: cannot write diagnostics: {error}");
        return ExitCode::from(2);
    }
    let set = match loaded.compile() {
        Ok(set) => set,
        Err(error) => {
            eprintln!("error: refusing to start: {error}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "rules compiled: {} rules, {} patterns, longest match {} bytes",
        set.rules().len(),
        set.pattern_count(),
        set.max_match_len()
    );
    eprintln!(
        "the HTTP gateway is not built yet (issue 4); use `rulec scan --rules DIR` to apply these rules to text"
    );
    ExitCode::SUCCESS
}
