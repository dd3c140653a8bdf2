//! The rulegate gateway: a thin HTTP core that applies compiled rules to
//! LLM API traffic through one adapter per API shape.
//!
//! Data flow: client request → [`gateway`] (core: [`route`] table, limits,
//! headers) → [`adapter`] (which JSON strings the model sees, under which
//! scope) → engine → upstream; upstream reply → the adapter's stream
//! rewriter ([`sse`] parsing, one streaming scanner per content block,
//! [`tool_json`] for streamed tool arguments) → client. The core knows HTTP
//! and no API field; the rule language and the automaton live in
//! `rulegate-lang` and `rulegate-engine`.

pub mod adapter;
mod body;
pub mod config;
pub mod egress;
pub mod gateway;
pub mod identity;
mod inspect_pool;
pub mod json;
pub mod listener;
pub mod metrics;
pub mod outcome_memory;
pub mod route;
pub mod sse;
pub mod tls;
pub mod tool_json;
mod trim;
pub mod workers;

pub use config::{Config, Upstream};
pub use gateway::{Gateway, GatewayError};
pub use listener::{serve, Shared};
pub use outcome_memory::{Generation, OutcomeMemory};
pub use workers::Workers;

/// Compiles rules written in a test, panicking with their diagnostics.
#[cfg(test)]
pub(crate) fn test_rules(source: &str) -> rulegate_engine::RuleSet {
    let loaded = rulegate_lang::check_sources([("t.rules".to_owned(), source.as_bytes().to_vec())]);
    let mut diagnostics = Vec::new();
    rulegate_lang::render_human(&loaded, &mut diagnostics, false).unwrap();
    loaded
        .compile()
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&diagnostics)))
}
