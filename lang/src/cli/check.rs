//! `rulec check PATH...`: human diagnostics (or JSON lines) and a summary.
//!
//! Human diagnostics and the summary go to stderr. With `--format json`
//! the diagnostics go to stdout, one object per line, for editors and
//! scripts, and the summary still goes to stderr.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use super::{EXIT_ERRORS, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// `.rules` files, or directories of them
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// How to print diagnostics
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// When to colour human diagnostics (`auto`: on a terminal, unless
    /// NO_COLOR is set)
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            !no_color && io::stderr().is_terminal()
        }
    }
}

pub(crate) fn run(args: Args) -> ExitCode {
    let loaded = match rulegate_lang::load(&args.paths) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let written = match args.format {
        Format::Human => {
            let mut stderr = io::stderr().lock();
            rulegate_lang::render_human(&loaded, &mut stderr, use_color(args.color))
                .and_then(|()| stderr.flush())
        }
        Format::Json => {
            let mut stdout = io::stdout().lock();
            rulegate_lang::render_json(&loaded, &mut stdout)
                .and_then(|()| stdout.flush())
                .and_then(|()| writeln!(io::stderr(), "{}", loaded.summary()))
        }
    };
    if let Err(error) = written {
        // Stdout closed early (`| head`) is not worth a second message.
        if error.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write diagnostics: {error}");
        }
        return ExitCode::from(EXIT_USAGE);
    }
    if loaded.has_errors() {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::from(EXIT_OK)
    }
}
