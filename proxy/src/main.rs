//! `proxy`: the rulegate gateway.
//!
//! Compiles the rules (printing their diagnostics exactly as `rulec check`
//! does, and refusing to start on an error), then serves until SIGINT or
//! SIGTERM, letting in-flight requests and streams finish.

use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rulegate_proxy::config::read_pem_certificates;
use rulegate_proxy::route::RoutePattern;
use rulegate_proxy::{Config, Upstream, Workers};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "proxy",
    version,
    about = "rulegate gateway for the Anthropic Messages API"
)]
struct Args {
    /// Directory (or files) of `.rules` to enforce
    #[arg(
        long,
        env = "RULEGATE_RULES",
        default_value = "rules",
        value_name = "DIR"
    )]
    rules: Vec<PathBuf>,
    /// Address to listen on (port 0 picks a free port)
    #[arg(
        long,
        env = "RULEGATE_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    listen: SocketAddr,
    /// Where requests are relayed to
    #[arg(
        long,
        env = "RULEGATE_UPSTREAM",
        default_value = "https://api.anthropic.com",
        value_name = "URL"
    )]
    upstream: Upstream,
    /// Largest inspected request body; larger ones get 413
    #[arg(long, env = "RULEGATE_MAX_BODY_BYTES", default_value_t = Config::DEFAULT_MAX_BODY_BYTES, value_name = "N")]
    max_body_bytes: u64,
    /// Seconds to wait for the upstream's response head before answering 504
    #[arg(long, env = "RULEGATE_UPSTREAM_TIMEOUT", default_value_t = Config::DEFAULT_UPSTREAM_TIMEOUT.as_secs_f64(), value_name = "SECS")]
    upstream_timeout: f64,
    /// PEM file of extra CA certificates to trust for the upstream
    #[arg(long, env = "RULEGATE_UPSTREAM_CA", value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Serving threads (default: one per core)
    #[arg(long, env = "RULEGATE_WORKERS", value_name = "N")]
    workers: Option<usize>,
    /// Also relay this route as it is, e.g. `GET /v1/organizations/**`
    /// (`*` one segment, a last `**` the rest); repeatable. Requests on no
    /// route are refused; a route the gateway inspects cannot be relayed.
    #[arg(
        long,
        env = "RULEGATE_RELAY",
        value_delimiter = ',',
        value_name = "METHOD /PATH"
    )]
    relay: Vec<RoutePattern>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();

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
    let rules = match loaded.compile() {
        Ok(rules) => rules,
        Err(error) => {
            eprintln!("error: refusing to start: {error}");
            return ExitCode::from(1);
        }
    };
    if !(args.upstream_timeout > 0.0 && args.upstream_timeout.is_finite()) {
        eprintln!("error: --upstream-timeout must be a positive number of seconds");
        return ExitCode::from(2);
    }
    let mut config = Config::new(args.upstream);
    config.max_body_bytes = args.max_body_bytes;
    config.upstream_timeout = Duration::from_secs_f64(args.upstream_timeout);
    config.relayed = args.relay;
    if let Some(path) = &args.upstream_ca {
        let certificates = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| read_pem_certificates(&pem));
        match certificates {
            Ok(certificates) => config.extra_roots = certificates,
            Err(error) => {
                eprintln!("error: --upstream-ca {}: {error}", path.display());
                return ExitCode::from(2);
            }
        }
    }

    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    match run(args.listen, workers, rules, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(
    listen: SocketAddr,
    workers: usize,
    rules: rulegate_engine::RuleSet,
    config: Config,
) -> Result<(), String> {
    let rule_count = rules.rules().len();
    let upstream = config.upstream.to_string();
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let workers = Workers::start(listener, workers, rules, config).map_err(|e| e.to_string())?;
    tracing::info!(
        "listening on http://{}, upstream {upstream}, {rule_count} rules",
        workers.address()
    );
    // The main thread only waits for signals; the workers serve.
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the signal handler: {e}"))?;
    signals.block_on(async move {
        shutdown_signal().await;
        workers.stop();
        tokio::task::spawn_blocking(move || workers.join())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM; a second one exits at once.
async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::info!("shutting down: no new connections; waiting for in-flight requests (signal again to exit now)");
    tokio::spawn(async {
        wait_for_signal().await;
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
