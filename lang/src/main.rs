//! `rulec`: checks `.rules` files. Each subcommand lives in its own module
//! under `cli/`; this file only hands over to them.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
