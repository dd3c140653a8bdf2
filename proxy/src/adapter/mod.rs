//! The seam between the gateway core and one API's shape.
//!
//! The core (listener, route table, limits, upstream, streaming body, logs)
//! names no field of any API. An [`ApiAdapter`] says which routes its API
//! has, which strings of a request or reply body a model sees and under
//! which scope, how to rewrite a streamed reply, and how that API spells an
//! error. Anthropic Messages is the first adapter ([`anthropic`]).
//!
//! Invariants every adapter keeps:
//! - Fail closed: a body it cannot read the way the API would is an
//!   [`InspectError`], never passed through.
//! - Transparency: [`Outcome::Unchanged`] means forward the original bytes;
//!   a masked body differs only inside the masked strings.
//! - Locations in [`Fired`] are built from indices and field names the
//!   adapter knows; an object key from the body never appears in one.

pub mod anthropic;

use std::collections::HashMap;
use std::fmt;

use http::StatusCode;
use rulegate_engine::{Disposition, Finding, RuleId, RuleSet, Scope};

use crate::json::JsonError;
use crate::outcome_memory::Generation;
use crate::route::Route;

/// A rule that fired somewhere in a body (never the matched text), as
/// many times as `count`, first at `location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub rule: String,
    pub disposition: Disposition,
    pub scope: Scope,
    /// Where in the body it first fired, e.g. `messages[2].content[0].text`.
    pub location: String,
    pub count: u64,
    /// Set when the rule's action was not carried out as written: a reject
    /// outside the newest user turn became a mask, a mask on signed text
    /// was only logged.
    pub instead_of: Option<Disposition>,
}

/// Rules that fired, one entry per rule, action, scope and replaced
/// action: a body with a million phone numbers is one entry with a count,
/// so recording and logging cost the same whatever the body holds.
#[derive(Debug, Default)]
pub struct FiredLog {
    entries: Vec<Fired>,
    index: HashMap<(RuleId, Disposition, Scope, Option<Disposition>), usize>,
}

impl FiredLog {
    /// Records one finding; `location` is only built for a new entry.
    pub fn record(
        &mut self,
        rules: &RuleSet,
        rule: RuleId,
        disposition: Disposition,
        scope: Scope,
        instead_of: Option<Disposition>,
        location: impl FnOnce() -> String,
    ) {
        let key = (rule, disposition, scope, instead_of);
        match self.index.get(&key) {
            Some(&at) => self.entries[at].count += 1,
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push(Fired {
                    rule: rules.rule_name(rule).to_string(),
                    disposition,
                    scope,
                    location: location(),
                    count: 1,
                    instead_of,
                });
            }
        }
    }

    /// Records every finding of one text found at `location`; a finding
    /// whose disposition is `swap.0` is recorded as `swap.1`, with the
    /// original kept as `instead_of` (a reject that became a mask, a mask
    /// on signed text that was only logged).
    pub fn record_all(
        &mut self,
        rules: &RuleSet,
        findings: &[Finding],
        scope: Scope,
        swap: Option<(Disposition, Disposition)>,
        location: &str,
    ) {
        for finding in findings {
            let (disposition, instead_of) = match swap {
                Some((from, to)) if finding.disposition == from => (to, Some(from)),
                _ => (finding.disposition, None),
            };
            self.record(rules, finding.rule, disposition, scope, instead_of, || {
                location.to_owned()
            });
        }
    }

    /// Adds another log's entries to this one.
    pub fn absorb(&mut self, mut other: FiredLog) {
        let mut by_index: Vec<_> = other.index.drain().collect();
        by_index.sort_by_key(|(_, at)| *at);
        for (key, at) in by_index {
            let fired = std::mem::replace(
                &mut other.entries[at],
                Fired {
                    rule: String::new(),
                    disposition: key.1,
                    scope: key.2,
                    location: String::new(),
                    count: 0,
                    instead_of: key.3,
                },
            );
            match self.index.get(&key) {
                Some(&mine) => self.entries[mine].count += fired.count,
                None => {
                    self.index.insert(key, self.entries.len());
                    self.entries.push(fired);
                }
            }
        }
    }

    /// The entries so far, in the order they first fired; the log starts
    /// empty again.
    pub fn take(&mut self) -> Vec<Fired> {
        self.index.clear();
        std::mem::take(&mut self.entries)
    }
}

/// What to do with a body after inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Masked(Vec<u8>),
    /// Refuse it; the message is for the client, in the adapter's words
    /// (every rule that rejected, where, and how to recover).
    Rejected {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub outcome: Outcome,
    pub fired: Vec<Fired>,
}

/// Why a body could not be inspected; the gateway refuses to forward it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("the body is not JSON the gateway can read unambiguously: {0}")]
    Json(#[from] JsonError),
    #[error("the body must be a JSON object")]
    NotAnObject,
}

/// Rewrites one streamed reply as it arrives.
pub trait StreamRewriter: Send + Sync {
    /// Feeds bytes from upstream; appends what the client may get now.
    fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>);
    /// The upstream ended; appends what was held.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// Why the stream was ended early with the API's error event, if it
    /// was (nothing more is written after it).
    fn failed(&self) -> Option<&str>;
    /// Rules that fired since the last call.
    fn take_fired(&mut self) -> Vec<Fired>;
    /// Ends the stream now with the API's error event saying `why` (the
    /// gateway stops, a cap was reached); nothing more is written after.
    fn abort(&mut self, why: &str, out: &mut Vec<u8>);
}

/// Who is to blame for a request the gateway answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    Client,
    Upstream,
    Gateway,
}

/// Every answer the gateway gives instead of the upstream's, typed by
/// cause. Its status says who is to blame; the adapter words the body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the path is not in canonical form: {why}; the gateway refuses it rather than guess how the upstream would read it")]
    NotCanonical { why: String },
    #[error("`{method} {path}` is not a route the gateway inspects or relays")]
    UnknownRoute { method: String, path: String },
    #[error("`{method} {path}` is not allowed; the route takes {allowed}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: String,
    },
    #[error("the request body is larger than the gateway's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the request body could not be read")]
    BodyUnreadable,
    #[error("the request body did not arrive within {secs} s")]
    BodyTimeout { secs: f64 },
    #[error("the gateway is inspecting as much as it can hold; retry in {retry_after} s")]
    Overloaded { retry_after: u32 },
    #[error("the request was not forwarded: {0}")]
    Uninspectable(InspectError),
    /// A rule rejected the request; the message is the adapter's.
    #[error("{message}")]
    Rejected { message: String },
    #[error("the upstream API could not be reached")]
    UpstreamUnreachable,
    #[error("the upstream API did not answer within {secs} s")]
    UpstreamTimeout { secs: f64 },
    #[error("the upstream reply could not be inspected: {why}")]
    UpstreamUninspectable { why: String },
    #[error("the response was stopped: {message}")]
    ReplyRejected { message: String },
    #[error("the request could not be inspected")]
    Internal,
    #[error("the request carries no valid gateway token (the `x-rulegate-token` header)")]
    Unauthenticated,
    /// The request's team could not be told (conflicting, unknown, none
    /// where one is required).
    #[error("{why}")]
    NoTeam { why: String },
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NotCanonical { .. } | Refusal::UnknownRoute { .. } => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Refusal::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::BodyUnreadable | Refusal::Uninspectable(_) | Refusal::Rejected { .. } => {
                StatusCode::BAD_REQUEST
            }
            Refusal::UpstreamUnreachable
            | Refusal::UpstreamUninspectable { .. }
            | Refusal::ReplyRejected { .. } => StatusCode::BAD_GATEWAY,
            Refusal::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            Refusal::NoTeam { .. } => StatusCode::FORBIDDEN,
        }
    }

    pub fn blame(&self) -> Blame {
        match self.status().as_u16() {
            400..=499 => Blame::Client,
            500 | 503 => Blame::Gateway,
            _ => Blame::Upstream,
        }
    }
}

impl fmt::Display for Blame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Blame::Client => "client",
            Blame::Upstream => "upstream",
            Blame::Gateway => "gateway",
        })
    }
}

/// One API shape behind the gateway.
pub trait ApiAdapter: Send + Sync {
    /// The routes this API has: inspected and relayed. Everything else is
    /// refused.
    fn routes(&self) -> Vec<Route>;

    /// Inspects a request body of an inspected route of kind `kind`; the
    /// generation's memory answers for texts it has seen (the result is
    /// the same byte for byte).
    fn inspect_request(
        &self,
        kind: &'static str,
        rules: &Generation,
        body: &[u8],
    ) -> Result<Inspection, InspectError>;

    /// [`ApiAdapter::inspect_request`], the same to the byte, if it takes
    /// no more than `scan_limit` bytes of text scanned (texts the memory
    /// knows cost nothing); `None` when it would take more: then the
    /// caller runs [`ApiAdapter::inspect_request`] where a long scan does
    /// no harm. Cheap enough for a serving thread when it answers.
    fn inspect_request_within(
        &self,
        _kind: &'static str,
        _rules: &Generation,
        _body: &[u8],
        _scan_limit: usize,
    ) -> Option<Result<Inspection, InspectError>> {
        None
    }

    /// Inspects a whole (non-streamed) successful reply.
    fn inspect_reply(
        &self,
        kind: &'static str,
        rules: &Generation,
        body: &[u8],
    ) -> Result<Inspection, InspectError>;

    /// A rewriter for a streamed (`text/event-stream`) successful reply.
    fn stream_rewriter(&self, kind: &'static str, rules: &RuleSet) -> Box<dyn StreamRewriter>;

    /// The JSON body of an error answer in this API's shape.
    fn error_body(&self, refusal: &Refusal) -> String;
}
