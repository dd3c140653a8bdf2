//! The rulegate gateway: a thin HTTP front end that applies compiled rules
//! to Anthropic Messages API traffic.
//!
//! Data flow: client request → [`gateway`] (routing, limits, headers) →
//! [`messages`] (which JSON strings the model sees, under which scope) →
//! engine → upstream; upstream reply → [`sse`] (incremental SSE, one
//! streaming scanner per content block) → client. The crate knows HTTP and
//! the API's JSON; the rule language and the automaton live in
//! `rulegate-lang` and `rulegate-engine`.

pub mod config;
pub mod gateway;
pub mod json;
pub mod messages;
pub mod sse;
pub mod workers;

pub use config::{Config, Upstream};
pub use gateway::{serve, Gateway, GatewayError};
pub use workers::Workers;
