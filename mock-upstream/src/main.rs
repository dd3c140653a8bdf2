//! `mock-upstream`: the Anthropic mock as a process, for the Python SDK
//! end-to-end run and manual use. Prints exactly one line,
//! `listening on http://ADDR`, once bound, then serves until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use rulegate_mock_upstream::{anthropic_responder, Block, MockUpstream, Script};

const USAGE: &str = "usage: mock-upstream [--listen 127.0.0.1:0] [--text TEXT]... \
                     [--delta-size N] [--frame-size N] [--delay-ms N]";

fn main() {
    let (listen, script) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("mock-upstream: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => fail(&e),
    };
    runtime.block_on(async {
        let mock = match MockUpstream::start_on(listen, anthropic_responder(script)).await {
            Ok(mock) => mock,
            Err(e) => fail(&e),
        };
        let mut stdout = std::io::stdout();
        // The caller waits for this line to learn the port, so it must not sit in a buffer.
        if writeln!(stdout, "listening on {}", mock.url())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            std::process::exit(1);
        }
        std::future::pending::<()>().await;
    });
}

fn fail(error: &std::io::Error) -> ! {
    eprintln!("mock-upstream: {error}");
    std::process::exit(1);
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, Script), String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut script = Script::default();
    let mut texts = Vec::new();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--listen" => {
                listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?;
            }
            "--text" => texts.push(Block::Text(value)),
            "--delta-size" => script.delta_size = number()?,
            "--frame-size" => script.frame_size = number()?,
            "--delay-ms" => script.delay = Duration::from_millis(number()? as u64),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if !texts.is_empty() {
        script.blocks = texts;
    }
    Ok((listen, script))
}
