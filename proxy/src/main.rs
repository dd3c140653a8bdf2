//! `proxy`: the rulegate gateway.
//!
//! Compiles the rules (printing their diagnostics exactly as `rulec check`
//! does, and refusing to start on an error), then serves until SIGINT or
//! SIGTERM, letting in-flight requests and streams finish. On SIGHUP, and
//! when a file under the rules paths changes, it compiles them again and
//! swaps the new set in; a set with errors is refused, its diagnostics
//! logged, and the old one serves on.

use std::collections::HashMap;
use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rulegate_proxy::config::read_pem_certificates;
use rulegate_proxy::identity::{TeamSelection, TeamTokens};
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
    /// TOML file with any of these settings, keyed by flag name
    /// (`max_body_bytes = 1048576`); flags and environment override it
    #[arg(long, env = "RULEGATE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directories (or files) of `.rules` to enforce; repeatable (in the
    /// environment, comma-separated)
    #[arg(
        long,
        env = "RULEGATE_RULES",
        default_value = "rules",
        value_delimiter = ',',
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
    /// Seconds a client has to send a whole request head, from its first
    /// byte
    #[arg(long, env = "RULEGATE_HEADER_READ_TIMEOUT", default_value_t = Config::DEFAULT_HEADER_READ_TIMEOUT.as_secs_f64(), value_name = "SECS")]
    header_read_timeout: f64,
    /// Seconds a connection may sit idle between requests
    #[arg(long, env = "RULEGATE_IDLE_TIMEOUT", default_value_t = Config::DEFAULT_IDLE_TIMEOUT.as_secs_f64(), value_name = "SECS")]
    idle_timeout: f64,
    /// Largest request head in bytes (request line and headers; at least 8192)
    #[arg(long, env = "RULEGATE_MAX_HEADER_BYTES", default_value_t = Config::DEFAULT_MAX_HEADER_BYTES, value_name = "N")]
    max_header_bytes: usize,
    /// Open client connections at most; at the cap the gateway stops accepting
    #[arg(long, env = "RULEGATE_MAX_CONNECTIONS", default_value_t = Config::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    max_connections: usize,
    /// Seconds an inspected request's body has to arrive (408 after)
    #[arg(long, env = "RULEGATE_BODY_READ_TIMEOUT", default_value_t = Config::DEFAULT_BODY_READ_TIMEOUT.as_secs_f64(), value_name = "SECS")]
    body_read_timeout: f64,
    /// Bytes of memory for bodies under inspection (each costs 4x its size)
    #[arg(long, env = "RULEGATE_INSPECTION_BUDGET_BYTES", default_value_t = Config::DEFAULT_INSPECTION_BUDGET_BYTES, value_name = "N")]
    inspection_budget_bytes: u64,
    /// Seconds a request waits for inspection memory before a 503
    #[arg(long, env = "RULEGATE_INSPECTION_QUEUE_TIMEOUT", default_value_t = Config::DEFAULT_INSPECTION_QUEUE_TIMEOUT.as_secs_f64(), value_name = "SECS")]
    inspection_queue_timeout: f64,
    /// Seconds in-flight requests get on shutdown; streams then end with an error event
    #[arg(long, env = "RULEGATE_DRAIN_TIMEOUT", default_value_t = Config::DEFAULT_DRAIN_TIMEOUT.as_secs_f64(), value_name = "SECS")]
    drain_timeout: f64,
    /// Seconds a streamed reply may last (0: no limit)
    #[arg(long, env = "RULEGATE_MAX_STREAM_SECS", default_value_t = Config::DEFAULT_MAX_STREAM_DURATION.as_secs_f64(), value_name = "SECS")]
    max_stream_secs: f64,
    /// Upstream bytes a streamed reply may have (0: no limit)
    #[arg(
        long,
        env = "RULEGATE_MAX_STREAM_BYTES",
        default_value_t = 0,
        value_name = "N"
    )]
    max_stream_bytes: u64,
    /// MiB of scan outcomes remembered, so text a client resends is not
    /// scanned again (0: off)
    #[arg(long, env = "RULEGATE_OUTCOME_MEMORY_MB", default_value_t = Config::DEFAULT_OUTCOME_MEMORY_MB, value_name = "MIB")]
    outcome_memory_mb: u64,
    /// File of `TEAM TOKEN` lines: every request must then carry one of
    /// the tokens in `x-rulegate-token` (401 otherwise); the header is
    /// never forwarded, and the team is in the logs
    #[arg(long, env = "RULEGATE_TEAM_TOKENS", value_name = "FILE")]
    team_tokens: Option<PathBuf>,
    /// File of `TEAM fp:HEX` lines: a request whose API key has that
    /// fingerprint (see --print-key-fingerprint) is that team's; needs
    /// --fingerprint-key
    #[arg(long, env = "RULEGATE_TEAM_KEYS", value_name = "FILE")]
    team_keys: Option<PathBuf>,
    /// Header whose value names the request's team, for a trusted front
    /// that authenticates users and sets it (the client's own value must
    /// not reach the gateway); never forwarded. A value naming no known
    /// team is refused (403)
    #[arg(long, env = "RULEGATE_TEAM_HEADER", value_name = "NAME")]
    team_header: Option<String>,
    /// Refuse (403) a request that no token, key or header names a team of
    #[arg(long, env = "RULEGATE_REQUIRE_TEAM")]
    require_team: bool,
    /// `TEAM=PATH`: the team (named by a token, key or header) is served
    /// with the rules of --rules and of PATH, compiled once (a policy file
    /// there can disable, override and allow); repeatable
    #[arg(
        long,
        env = "RULEGATE_TEAM_RULES",
        value_delimiter = ',',
        value_name = "TEAM=PATH"
    )]
    team_rules: Vec<String>,
    /// Key of the API-key fingerprints in the logs; give replicas the same
    /// one so their fingerprints agree (default: random per process)
    #[arg(
        long,
        env = "RULEGATE_FINGERPRINT_KEY",
        value_name = "TEXT",
        hide_env_values = true
    )]
    fingerprint_key: Option<String>,
    /// Read an API key from standard input, print its fingerprint under
    /// --fingerprint-key (for --team-keys) and exit
    #[arg(long)]
    print_key_fingerprint: bool,
    /// PEM certificate chain (leaf first) to serve HTTPS with; needs
    /// --tls-key. Read again on every rules reload
    #[arg(
        long,
        env = "RULEGATE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(
        long,
        env = "RULEGATE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Log lines as text or as one JSON object each
    #[arg(long, env = "RULEGATE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

/// A flag's seconds as a duration; `zero_ok` lets 0 mean "no limit".
fn seconds(flag: &str, value: f64, zero_ok: bool) -> Result<Option<Duration>, String> {
    if !value.is_finite() || value < 0.0 || (value == 0.0 && !zero_ok) {
        let what = if zero_ok {
            "a number of seconds (0: no limit)"
        } else {
            "a positive number of seconds"
        };
        return Err(format!("--{flag} must be {what}, not {value}"));
    }
    Ok((value > 0.0).then(|| Duration::from_secs_f64(value)))
}

/// Applies the limit flags to `config`.
fn limits(args: &Args, config: &mut Config) -> Result<(), String> {
    let required = |flag: &str, value: f64| -> Result<Duration, String> {
        Ok(seconds(flag, value, false)?.unwrap_or_default())
    };
    config.upstream_timeout = required("upstream-timeout", args.upstream_timeout)?;
    config.header_read_timeout = required("header-read-timeout", args.header_read_timeout)?;
    config.idle_timeout = required("idle-timeout", args.idle_timeout)?;
    config.body_read_timeout = required("body-read-timeout", args.body_read_timeout)?;
    config.inspection_queue_timeout =
        required("inspection-queue-timeout", args.inspection_queue_timeout)?;
    config.drain_timeout = required("drain-timeout", args.drain_timeout)?;
    config.max_stream_duration = seconds("max-stream-secs", args.max_stream_secs, true)?;
    if args.max_header_bytes < 8192 {
        return Err("--max-header-bytes must be at least 8192".to_owned());
    }
    if args.max_connections == 0 {
        return Err("--max-connections must be at least 1".to_owned());
    }
    if args.inspection_budget_bytes < args.max_body_bytes {
        return Err(format!(
            "--inspection-budget-bytes ({}) must hold at least one body of --max-body-bytes ({})",
            args.inspection_budget_bytes, args.max_body_bytes
        ));
    }
    config.max_header_bytes = args.max_header_bytes;
    config.max_connections = args.max_connections;
    config.inspection_budget_bytes = args.inspection_budget_bytes;
    config.max_stream_bytes = args.max_stream_bytes;
    config.max_body_bytes = args.max_body_bytes;
    config.outcome_memory_bytes = args
        .outcome_memory_mb
        .checked_mul(1 << 20)
        .ok_or("--outcome-memory-mb is too large")?;
    config.relayed = args.relay.clone();
    Ok(())
}

/// Parses the flags, then the config file they name: each key of the file
/// that no flag or environment variable set is added as that flag, so the
/// file's values go through the same checks.
fn parse_args() -> Result<Args, String> {
    use clap::parser::ValueSource;
    use clap::{CommandFactory, FromArgMatches};
    let matches = Args::command().get_matches();
    let args = Args::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    let Some(path) = &args.config else {
        return Ok(args);
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--config {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("--config {}: {e}", path.display()))?;
    let known: Vec<String> = Args::command()
        .get_arguments()
        .map(|a| a.get_id().to_string())
        // A one-off action, not a setting.
        .filter(|id| id != "config" && id != "print_key_fingerprint")
        .collect();
    let mut extra: Vec<String> = Vec::new();
    for (key, value) in &table {
        if !known.contains(key) {
            return Err(format!(
                "--config {}: unknown key `{key}` (the keys are the flags' names with `_`: {})",
                path.display(),
                known.join(", ")
            ));
        }
        if matches!(
            matches.value_source(key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let values = match value {
            toml::Value::Array(items) => items.iter().collect(),
            // A switch: on is the flag alone, off is its absence.
            toml::Value::Boolean(on) => {
                if *on {
                    extra.push(format!("--{}", key.replace('_', "-")));
                }
                continue;
            }
            single => vec![single],
        };
        for value in values {
            let text = match value {
                toml::Value::String(text) => text.clone(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(x) => x.to_string(),
                other => {
                    return Err(format!(
                        "--config {}: `{key}` must be a string, a number, a boolean or a list of them, not {}",
                        path.display(),
                        other.type_str()
                    ))
                }
            };
            extra.push(format!("--{}={text}", key.replace('_', "-")));
        }
    }
    let argv = std::env::args_os().chain(extra.into_iter().map(Into::into));
    Args::try_parse_from(argv).map_err(|e| format!("--config {}: {e}", path.display()))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if args.print_key_fingerprint {
        return match print_key_fingerprint(args.fingerprint_key.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
        };
    }
    // Log lines are written by a thread of their own: a burst of audit
    // lines never stalls a request. The guard flushes them at exit.
    let (writer, _flush) = tracing_appender::non_blocking(io::stderr());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if args.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(writer)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .with_ansi(io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init();
    }

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
    let team_paths = match team_paths(&args.team_rules) {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let teams = match team_selection(&args, &team_paths) {
        Ok(teams) => teams,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let team_rules = match compile_teams(&args.rules, &team_paths) {
        Ok(sets) => sets,
        Err(error) => {
            eprintln!("{error}");
            eprintln!("error: refusing to start: a team's rules have errors");
            return ExitCode::from(1);
        }
    };
    let mut config = Config::new(args.upstream.clone());
    if let Err(error) = limits(&args, &mut config) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    // The upstream through the egress proxy the environment names, as
    // curl would (HTTPS_PROXY, NO_PROXY).
    if let Ok(uri) = args.upstream.to_string().parse::<http::Uri>() {
        config.egress_proxy = rulegate_proxy::egress::EgressProxy::from_env(&uri);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        match rulegate_proxy::tls::ListenerTls::load(cert, key) {
            Ok(tls) => config.listener_tls = Some(std::sync::Arc::new(tls)),
            Err(error) => {
                eprintln!("error: --tls-cert/--tls-key: {error}");
                return ExitCode::from(2);
            }
        }
    }
    config.fingerprints =
        rulegate_proxy::identity::Fingerprints::new(args.fingerprint_key.as_deref());
    config.teams = std::sync::Arc::new(teams);
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
    let rules = Rules {
        base: rules,
        teams: team_rules,
        paths: args.rules.clone(),
        team_paths,
    };
    match run(args.listen, workers, rules, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// The rules served, and where they come from (for reloads).
struct Rules {
    base: rulegate_engine::RuleSet,
    teams: HashMap<String, rulegate_engine::RuleSet>,
    paths: Vec<PathBuf>,
    team_paths: HashMap<String, Vec<PathBuf>>,
}

/// How requests' teams are told, from the team flags; every team with
/// rules of its own must be one a request can be recognised as.
fn team_selection(
    args: &Args,
    team_paths: &HashMap<String, Vec<PathBuf>>,
) -> Result<TeamSelection, String> {
    let read = |flag: &str, path: &PathBuf| {
        std::fs::read_to_string(path).map_err(|e| format!("--{flag} {}: {e}", path.display()))
    };
    let mut teams = TeamSelection::default();
    if let Some(path) = &args.team_tokens {
        let tokens = TeamTokens::parse(&read("team-tokens", path)?)
            .map_err(|e| format!("--team-tokens {}: {e}", path.display()))?;
        teams = teams.with_tokens(tokens);
    }
    if let Some(path) = &args.team_keys {
        if args.fingerprint_key.is_none() {
            return Err("--team-keys needs --fingerprint-key: without it fingerprints change with every start".into());
        }
        teams = teams
            .with_keys(&read("team-keys", path)?)
            .map_err(|e| format!("--team-keys {}: {e}", path.display()))?;
    }
    if let Some(name) = &args.team_header {
        teams = teams
            .with_header(name)
            .map_err(|e| format!("--team-header: {e}"))?;
    }
    teams = teams.with_teams(team_paths.keys().map(String::as_str));
    if (args.require_team || !team_paths.is_empty()) && !teams.names_teams() {
        return Err("--team-rules and --require-team need a way to tell teams apart: --team-tokens, --team-keys or --team-header".into());
    }
    if let Some(team) = team_paths.keys().find(|team| !teams.can_name(team)) {
        return Err(format!(
            "--team-rules {team}=…: no token or key of --team-tokens or --team-keys names team `{team}`"
        ));
    }
    if args.require_team {
        teams = teams.requiring_a_team();
    }
    Ok(teams)
}

/// `--print-key-fingerprint`: the fingerprint of the API key on standard
/// input, as the logs show it and `--team-keys` lists it.
fn print_key_fingerprint(secret: Option<&str>) -> Result<(), String> {
    let Some(secret) = secret else {
        return Err(
            "--print-key-fingerprint needs --fingerprint-key (the one the gateway runs with)"
                .into(),
        );
    };
    let mut key = String::new();
    io::Read::read_to_string(&mut io::stdin(), &mut key)
        .map_err(|e| format!("cannot read the key from standard input: {e}"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err("no API key on standard input".into());
    }
    let fingerprints = rulegate_proxy::identity::Fingerprints::new(Some(secret));
    println!("{}", fingerprints.of_key(key.as_bytes()));
    Ok(())
}

/// `TEAM=PATH` flags by team.
fn team_paths(flags: &[String]) -> Result<HashMap<String, Vec<PathBuf>>, String> {
    let mut paths: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for flag in flags {
        let Some((team, path)) = flag.split_once('=') else {
            return Err(format!("--team-rules {flag}: expected TEAM=PATH"));
        };
        paths
            .entry(team.to_owned())
            .or_default()
            .push(PathBuf::from(path));
    }
    Ok(paths)
}

/// Each team's set: the base paths and its own, compiled; the diagnostics
/// of the first that fails.
fn compile_teams(
    base: &[PathBuf],
    teams: &HashMap<String, Vec<PathBuf>>,
) -> Result<HashMap<String, rulegate_engine::RuleSet>, String> {
    let mut sets = HashMap::new();
    for (team, own) in teams {
        let paths: Vec<PathBuf> = base.iter().chain(own).cloned().collect();
        let loaded = rulegate_lang::load(&paths).map_err(|e| format!("team {team}: {e}"))?;
        let mut shown = Vec::new();
        let _ = rulegate_lang::render_human(&loaded, &mut shown, false);
        match loaded.compile() {
            Ok(set) => {
                sets.insert(team.clone(), set);
            }
            Err(error) => {
                return Err(format!(
                    "team {team}: {error}\n{}",
                    String::from_utf8_lossy(&shown).trim_end()
                ))
            }
        }
    }
    Ok(sets)
}

fn run(listen: SocketAddr, workers: usize, rules: Rules, config: Config) -> Result<(), String> {
    let Rules {
        base: rules,
        teams,
        paths: rule_paths,
        team_paths,
    } = rules;
    let rule_count = rules.rules().len();
    let upstream = match &config.egress_proxy {
        // The proxy's address only: its credentials stay out of the log.
        Some(proxy) => format!(
            "{} through the egress proxy {}",
            config.upstream,
            proxy
                .uri
                .authority()
                .map_or("?", |a| a.as_str().rsplit('@').next().unwrap_or("?"))
        ),
        None => config.upstream.to_string(),
    };
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let tls = config.listener_tls.clone();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let team_count = teams.len();
    let workers = Workers::start_with_teams(listener, workers, rules, teams, config)
        .map_err(|e| e.to_string())?;
    // The main thread only waits for signals; the workers serve. The
    // handlers are registered before the line that says the gateway is
    // listening: a SIGTERM or SIGHUP sent as soon as it appears (by a
    // supervisor, a test, a reload script) is handled, not fatal.
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the signal handler: {e}"))?;
    let (stop_signals, mut hangup) = {
        let _in_runtime = signals.enter();
        (StopSignals::register(), hangup_signals())
    };
    tracing::info!(
        "listening on {scheme}://{}, upstream {upstream}, {rule_count} rules{}",
        workers.address(),
        if team_count > 0 {
            format!(", {team_count} teams with rules of their own")
        } else {
            String::new()
        }
    );
    let watched: Vec<PathBuf> = rule_paths
        .iter()
        .chain(team_paths.values().flatten())
        .cloned()
        .collect();
    signals.block_on(async move {
        let shutdown = shutdown_signal(stop_signals);
        tokio::pin!(shutdown);
        let mut seen = rules_fingerprint(&watched);
        let mut poll = tokio::time::interval(RULES_POLL);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(()) = hangup.recv() => {
                    tracing::info!("SIGHUP: reloading the rules");
                    seen = rules_fingerprint(&watched);
                    reload(&workers, &rule_paths, &team_paths, tls.as_deref());
                }
                _ = poll.tick() => {
                    let now = rules_fingerprint(&watched);
                    if now != seen {
                        seen = now;
                        tracing::info!("a rules file changed: reloading the rules");
                        reload(&workers, &rule_paths, &team_paths, tls.as_deref());
                    }
                }
            }
        }
        workers.stop();
        tokio::task::spawn_blocking(move || workers.join())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// How often the rules paths are looked at for a change.
const RULES_POLL: Duration = Duration::from_secs(1);

/// Compiles the rules again and swaps them in, or logs why not; reads the
/// listener's certificate and key again too.
fn reload(
    workers: &Workers,
    paths: &[PathBuf],
    team_paths: &HashMap<String, Vec<PathBuf>>,
    tls: Option<&rulegate_proxy::tls::ListenerTls>,
) {
    if let Some(tls) = tls {
        match tls.reload() {
            Ok(()) => tracing::info!("TLS certificate and key read again"),
            Err(error) => {
                workers.reload_failed();
                tracing::error!("TLS reload refused, the previous certificate serves on: {error}");
            }
        }
    }
    let loaded = match rulegate_lang::load(paths) {
        Ok(loaded) => loaded,
        Err(error) => {
            workers.reload_failed();
            tracing::error!("reload refused, the previous rules serve on: {error}");
            return;
        }
    };
    let mut shown = Vec::new();
    let _ = rulegate_lang::render_human(&loaded, &mut shown, false);
    let shown = String::from_utf8_lossy(&shown);
    match loaded.compile() {
        Ok(rules) => {
            if loaded.warning_count() > 0 {
                tracing::warn!("{}", shown.trim_end());
            }
            let teams = match compile_teams(paths, team_paths) {
                Ok(teams) => teams,
                Err(error) => {
                    workers.reload_failed();
                    tracing::error!("reload refused, the previous rules serve on: {error}");
                    return;
                }
            };
            let count = rules.rules().len();
            let generation = workers.reload(rules, teams);
            tracing::info!("rule set generation {generation} live: {count} rules");
        }
        Err(error) => {
            workers.reload_failed();
            tracing::error!(
                "reload refused ({error}), the previous rules serve on:\n{}",
                shown.trim_end()
            );
        }
    }
}

/// What the rules paths hold now: each file's path, length and change
/// time (a directory's `*.rules` directly in it, as the loader reads).
fn rules_fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_dir(path) {
            Ok(entries) => files.extend(
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "rules")),
            ),
            Err(_) => files.push(path.clone()),
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let meta = std::fs::metadata(&file).ok();
            let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            (file, len, modified)
        })
        .collect()
}

/// SIGHUP as a stream; one that never fires where there is none.
fn hangup_signals() -> tokio::sync::mpsc::UnboundedReceiver<()> {
    let (send, receive) = tokio::sync::mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut hangup) = signal(SignalKind::hangup()) {
            tokio::spawn(async move {
                while hangup.recv().await.is_some() {
                    if send.send(()).is_err() {
                        break;
                    }
                }
            });
        }
    }
    #[cfg(not(unix))]
    drop(send);
    receive
}

/// Resolves on the first SIGINT or SIGTERM; a second one exits at once.
async fn shutdown_signal(mut signals: StopSignals) {
    signals.first().await;
    tracing::info!("shutting down: no new connections; waiting for in-flight requests (signal again to exit now)");
    tokio::spawn(async move {
        signals.first().await;
        std::process::exit(130);
    });
}

/// SIGINT and SIGTERM, registered when made (inside a runtime), so that
/// one arriving before anything waits on them is still seen.
struct StopSignals {
    #[cfg(unix)]
    registered: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn register() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let registered = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok();
            StopSignals { registered }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn first(&mut self) {
        #[cfg(unix)]
        if let Some((term, interrupt)) = &mut self.registered {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
