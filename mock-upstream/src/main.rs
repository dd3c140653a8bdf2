//! `mock-upstream`: the Anthropic mock as a process, for the end-to-end runs
//! with real clients (`tests/sdk/run.sh`, `tests/claude-code/run.sh`) and
//! manual use. Prints exactly one line, `listening on http://ADDR`, once
//! bound, then serves until killed.
//!
//! The answer is the blocks given by `--text` and `--tool-use`, in command
//! line order (default: one text block). A request whose last message
//! carries a `tool_result` is answered with the text blocks only, so
//! `--tool-use Bash '{"command":"ls"}' --text Done.` scripts one tool round
//! trip: first the `tool_use` (and its text), then, with the tool's output,
//! the text alone.
//!
//! `--record-dir DIR` (created if missing) writes every request as it
//! arrives, before it is answered, numbered from 1 in arrival order:
//! `DIR/NNNN-<path>.json` holds the body exactly as received (empty for a
//! GET, whatever the content type) and `DIR/NNNN-<path>.head` the request
//! line and headers, one `name: value` a line; `<path>` is the path without
//! the query, its leading `/` dropped and every other character outside
//! `[A-Za-z0-9._-]` made `_` (`0001-v1_messages.json`; `/` is `root`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rulegate_mock_upstream::{
    anthropic_responder, Block, MockUpstream, Recorded, Responder, Script,
};

const USAGE: &str = "usage: mock-upstream [--listen 127.0.0.1:0] [--text TEXT]... \
                     [--tool-use NAME INPUT_JSON]... [--delta-size N] [--frame-size N] \
                     [--delay-ms N] [--record-dir DIR]";

struct Options {
    listen: SocketAddr,
    script: Script,
    record_dir: Option<PathBuf>,
}

fn main() {
    let options = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("mock-upstream: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut responder = anthropic_responder(options.script);
    if let Some(dir) = options.record_dir {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("mock-upstream: --record-dir {}: {e}", dir.display());
            std::process::exit(1);
        }
        responder = recording(dir, responder);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => fail(&e),
    };
    runtime.block_on(async {
        let mock = match MockUpstream::start_on(options.listen, responder).await {
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

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        listen: ([127, 0, 0, 1], 0).into(),
        script: Script::default(),
        record_dir: None,
    };
    let mut blocks = Vec::new();
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
                options.listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?;
            }
            "--text" => blocks.push(Block::Text(value)),
            "--tool-use" => {
                let input_json = args
                    .next()
                    .ok_or_else(|| format!("--tool-use {value} needs an input JSON"))?;
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&input_json)
                    .map_err(|e| format!("--tool-use {value}: input is not a JSON object: {e}"))?;
                blocks.push(Block::ToolUse {
                    // Unique within the answer; Claude Code matches its
                    // tool_result to the tool_use by this id.
                    id: format!("toolu_01MockUpstream{}", blocks.len()),
                    name: value,
                    input_json,
                });
            }
            "--delta-size" => options.script.delta_size = number()?,
            "--frame-size" => options.script.frame_size = number()?,
            "--delay-ms" => options.script.delay = Duration::from_millis(number()? as u64),
            "--record-dir" => options.record_dir = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if !blocks.is_empty() {
        options.script.blocks = blocks;
    }
    Ok(options)
}

/// `inner`, after writing each request to `dir` (see the module docs). A
/// write that fails is reported on stderr and does not stop the answer.
fn recording(dir: PathBuf, inner: Responder) -> Responder {
    let count = AtomicUsize::new(0);
    Arc::new(move |request: &Recorded| {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        let stem = format!("{n:04}-{}", file_name(request.path()));
        if let Err(e) = record(&dir, &stem, request) {
            eprintln!("mock-upstream: recording {stem}: {e}");
        }
        inner(request)
    })
}

fn record(dir: &Path, stem: &str, request: &Recorded) -> std::io::Result<()> {
    let mut head = format!(
        "{} {} {:?}\n",
        request.method, request.path_and_query, request.version
    );
    for (name, value) in &request.headers {
        head.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    std::fs::write(dir.join(format!("{stem}.head")), head)?;
    std::fs::write(dir.join(format!("{stem}.json")), &request.body)
}

/// `/v1/messages` → `v1_messages`; `/` → `root`.
fn file_name(path: &str) -> String {
    let name: String = path
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "root".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn blocks_keep_the_command_line_order() {
        let options = parse(args(&[
            "--text",
            "a",
            "--tool-use",
            "Bash",
            r#"{"command":"ls"}"#,
            "--text",
            "b",
            "--record-dir",
            "/tmp/x",
        ]))
        .unwrap();
        let names: Vec<String> = options
            .script
            .blocks
            .iter()
            .map(|block| match block {
                Block::Text(text) => format!("text {text}"),
                Block::ToolUse {
                    id,
                    name,
                    input_json,
                } => format!("{id} {name} {input_json}"),
                Block::Thinking { .. } => "thinking".to_owned(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "text a",
                r#"toolu_01MockUpstream1 Bash {"command":"ls"}"#,
                "text b"
            ]
        );
        assert_eq!(options.record_dir, Some(PathBuf::from("/tmp/x")));
    }

    #[test]
    fn a_tool_input_must_be_a_json_object() {
        assert!(parse(args(&["--tool-use", "Bash", "[1]"])).is_err());
        assert!(parse(args(&["--tool-use", "Bash", "{"])).is_err());
        assert!(parse(args(&["--tool-use", "Bash"])).is_err());
    }

    #[test]
    fn file_names_from_paths() {
        assert_eq!(file_name("/v1/messages"), "v1_messages");
        assert_eq!(
            file_name("/v1/messages/count_tokens"),
            "v1_messages_count_tokens"
        );
        assert_eq!(file_name("/"), "root");
        assert_eq!(file_name("/a b/../ü"), "a_b_.._ü".replace('ü', "_"));
    }
}
