//! Thread-per-core serving: `N` threads, each with its own single-threaded
//! tokio runtime, its own [`Gateway`] (and so its own upstream connection
//! pool), all accepting from one listening socket.
//!
//! Why not tokio's work-stealing runtime: a relayed request crosses several
//! tasks (client connection, handler, upstream connection), and on an idle
//! machine each hand-off between worker threads costs a thread wake-up.
//! Measured on the 2-vCPU machine, the gateway added about 300 µs to the
//! time to first byte with the multi-threaded runtime and about 100 µs with
//! one runtime per thread. Each connection now lives on one thread from
//! accept to close, and the cores still share the load.
//!
//! Invariant: [`Workers::stop`] makes every thread stop accepting; each
//! thread returns once its in-flight requests and streams have finished.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use rulegate_engine::RuleSet;
use tokio::sync::watch;

use crate::config::Config;
use crate::gateway::{Gateway, GatewayError};
use crate::listener::{serve, Shared};
use crate::outcome_memory::{Generation, LiveGeneration};

/// A running gateway on its own threads.
pub struct Workers {
    address: SocketAddr,
    threads: Vec<JoinHandle<io::Result<()>>>,
    stop: watch::Sender<bool>,
    live: Arc<LiveGeneration>,
    shared: Arc<Shared>,
    memory_bytes: u64,
}

impl Workers {
    /// Starts `count` serving threads (at least one) on `listener`.
    pub fn start(
        listener: TcpListener,
        count: usize,
        rules: RuleSet,
        config: Config,
    ) -> Result<Workers, GatewayError> {
        Workers::start_with_teams(listener, count, rules, HashMap::new(), config)
    }

    /// [`Workers::start`], with a rule set of their own for some teams
    /// (the team of a request's gateway token).
    pub fn start_with_teams(
        listener: TcpListener,
        count: usize,
        rules: RuleSet,
        team_rules: HashMap<String, RuleSet>,
        config: Config,
    ) -> Result<Workers, GatewayError> {
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            config.max_connections,
            config.inspection_budget_bytes,
        ));
        // One memory for every thread: a conversation's next turn may land
        // on any of them.
        let memory = config.outcome_memory_bytes;
        let live = Arc::new(LiveGeneration::with_teams(
            Generation::new(rules, memory),
            team_generations(team_rules, memory),
        ));
        let mut threads = Vec::new();
        for index in 0..count.max(1) {
            // Build every gateway up front so a bad TLS set-up fails here,
            // not in a thread.
            let gateway = Gateway::with_shared(live.clone(), config.clone(), shared.clone())?;
            let listener = listener.try_clone()?;
            let mut stopped = stopped.clone();
            let thread = std::thread::Builder::new()
                .name(format!("rulegate-{index}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        let shutdown = async move {
                            while !*stopped.borrow_and_update() {
                                if stopped.changed().await.is_err() {
                                    break;
                                }
                            }
                        };
                        serve(listener, Arc::new(gateway), shutdown).await
                    })
                })?;
            threads.push(thread);
        }
        Ok(Workers {
            address,
            threads,
            stop,
            live,
            shared,
            memory_bytes: config.outcome_memory_bytes,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves new requests with `rules` (and a fresh outcome memory: what
    /// was remembered is of the old rules); requests and streams in flight
    /// finish with the rules they started with. Returns the new
    /// generation's number.
    pub fn reload(&self, rules: RuleSet, team_rules: HashMap<String, RuleSet>) -> u64 {
        let count = rules.rules().len();
        let number = self.live.swap(
            Generation::new(rules, self.memory_bytes),
            team_generations(team_rules, self.memory_bytes),
        );
        self.shared.metrics.set_rule_set(number, count);
        number
    }

    /// Counts a rule set that could not be loaded (the old one serves on).
    pub fn reload_failed(&self) {
        self.shared.metrics.reload_failed();
    }

    /// Stops accepting on every thread; in-flight requests go on.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits for every thread to finish (after [`Workers::stop`]).
    pub fn join(self) -> io::Result<()> {
        let mut result = Ok(());
        for thread in self.threads {
            let outcome = thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a gateway thread panicked")));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}

/// Each team's rules with a memory of their own (what one set found says
/// nothing of another).
fn team_generations(
    team_rules: HashMap<String, RuleSet>,
    memory_bytes: u64,
) -> HashMap<String, Generation> {
    team_rules
        .into_iter()
        .map(|(team, rules)| (team, Generation::new(rules, memory_bytes)))
        .collect()
}
