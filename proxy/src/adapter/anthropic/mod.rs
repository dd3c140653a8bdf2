//! The Anthropic API: its routes, which strings of its bodies a model sees
//! ([`walk`]), its streamed replies ([`stream`]) and its error shape.
//!
//! Routes (everything else is refused by the core):
//!
//! | class | routes |
//! |---|---|
//! | inspected | `POST /v1/messages`, `POST /v1/messages/count_tokens`, `POST /v1/messages/batches`, `POST /v1/complete` |
//! | relayed | `HEAD /`, `GET /v1/models`, `GET /v1/models/*`, `GET /v1/messages/batches`, `GET /v1/messages/batches/*`, `GET /v1/messages/batches/*/results`, `POST /v1/messages/batches/*/cancel`, `DELETE /v1/messages/batches/*`, `GET /v1/files`, `GET /v1/files/*`, `GET /v1/files/*/content`, `DELETE /v1/files/*` |
//!
//! Not relayed by default, because a model may read what they carry and
//! the gateway cannot inspect it: file uploads (`POST /v1/files`,
//! multipart), skills, and the admin API. An operator can relay them.

mod stream;
mod walk;

use rulegate_engine::{RuleSet, Side};

use crate::adapter::{ApiAdapter, InspectError, Inspection, Outcome, Refusal, StreamRewriter};
use crate::json::{self, Value};
use crate::outcome_memory::Generation;
use crate::route::{Class, Route};

pub use stream::MessagesStream;

const MESSAGES: &str = "messages";
const BATCH: &str = "batch";
const COMPLETE: &str = "complete";

/// The Anthropic API adapter.
#[derive(Debug, Default, Clone, Copy)]
pub struct Anthropic;

impl ApiAdapter for Anthropic {
    fn routes(&self) -> Vec<Route> {
        let inspected = |kind| Class::Inspected { kind };
        vec![
            Route::fixed("POST /v1/messages", inspected(MESSAGES), "messages"),
            Route::fixed(
                "POST /v1/messages/count_tokens",
                inspected(MESSAGES),
                "count_tokens",
            ),
            Route::fixed(
                "POST /v1/messages/batches",
                inspected(BATCH),
                "batch-create",
            ),
            Route::fixed("POST /v1/complete", inspected(COMPLETE), "complete"),
            Route::fixed("HEAD /", Class::Relayed, "root"),
            Route::fixed("GET /v1/models", Class::Relayed, "models"),
            Route::fixed("GET /v1/models/*", Class::Relayed, "models"),
            Route::fixed("GET /v1/messages/batches", Class::Relayed, "batches"),
            Route::fixed("GET /v1/messages/batches/*", Class::Relayed, "batches"),
            Route::fixed(
                "GET /v1/messages/batches/*/results",
                Class::Relayed,
                "batch-results",
            ),
            Route::fixed(
                "POST /v1/messages/batches/*/cancel",
                Class::Relayed,
                "batches",
            ),
            Route::fixed("DELETE /v1/messages/batches/*", Class::Relayed, "batches"),
            Route::fixed("GET /v1/files", Class::Relayed, "files"),
            Route::fixed("GET /v1/files/*", Class::Relayed, "files"),
            Route::fixed("GET /v1/files/*/content", Class::Relayed, "files"),
            Route::fixed("DELETE /v1/files/*", Class::Relayed, "files"),
        ]
    }

    fn inspect_request(
        &self,
        kind: &'static str,
        rules: &Generation,
        body: &[u8],
    ) -> Result<Inspection, InspectError> {
        inspect_request(kind, rules, body, None)
            .unwrap_or_else(|| unreachable!("an unlimited walk always ends"))
    }

    fn inspect_request_within(
        &self,
        kind: &'static str,
        rules: &Generation,
        body: &[u8],
        scan_limit: usize,
    ) -> Option<Result<Inspection, InspectError>> {
        inspect_request(kind, rules, body, Some(scan_limit))
    }

    fn inspect_reply(
        &self,
        _kind: &'static str,
        rules: &Generation,
        body: &[u8],
    ) -> Result<Inspection, InspectError> {
        let parsed = json::parse(body)?;
        let document = parsed.root();
        let mut walk = walk::Walk::remembering(rules, Side::Response);
        walk.reply_body(&document);
        Ok(finish(rules.rules(), walk, Side::Response, body, &document))
    }

    fn stream_rewriter(&self, _kind: &'static str, rules: &RuleSet) -> Box<dyn StreamRewriter> {
        Box::new(MessagesStream::new(rules.clone()))
    }

    fn error_body(&self, refusal: &Refusal) -> String {
        let kind = match refusal.status().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            503 | 529 => "overloaded_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        };
        let message = match refusal {
            // The adapter's own words, already prefixed.
            Refusal::Rejected { message } => message.clone(),
            other => format!("rulegate: {other}"),
        };
        format!(
            r#"{{"type":"error","error":{{"type":{},"message":{}}}}}"#,
            json::encode_string(kind),
            json::encode_string(&message)
        )
    }
}

/// A request body inspected; `None` when it needed more than
/// `scan_limit` bytes of text scanned.
fn inspect_request(
    kind: &'static str,
    rules: &Generation,
    body: &[u8],
    scan_limit: Option<usize>,
) -> Option<Result<Inspection, InspectError>> {
    let parsed = match json::parse(body) {
        Ok(parsed) => parsed,
        Err(error) => return Some(Err(error.into())),
    };
    let document = parsed.root();
    if !matches!(document, Value::Object(_)) {
        return Some(Err(InspectError::NotAnObject));
    }
    let mut walk = walk::Walk::remembering(rules, Side::Request);
    if let Some(limit) = scan_limit {
        walk.limit_scans(limit);
    }
    match kind {
        BATCH => walk.batch_body(&document),
        COMPLETE => walk.completion_body(&document),
        _ => walk.messages_body(&document),
    }
    if walk.over_limit {
        return None;
    }
    Some(Ok(finish(
        rules.rules(),
        walk,
        Side::Request,
        body,
        &document,
    )))
}

fn finish(
    rules: &RuleSet,
    walk: walk::Walk<'_>,
    side: Side,
    body: &[u8],
    document: &Value<'_>,
) -> Inspection {
    let walk::Walk {
        mut edits,
        mut fired,
        rejected,
        masked_a_key,
        ..
    } = walk;
    let outcome = if let Some(first) = rejected.first() {
        let message = match side {
            Side::Request => walk::rejection_message(rules, &rejected, document),
            Side::Response => format!(
                "rule `{}` ({}): {}",
                first.rule, first.location, first.message
            ),
        };
        Outcome::Rejected { message }
    } else if edits.is_empty() {
        Outcome::Unchanged
    } else {
        let masked = json::splice(body, &mut edits);
        // Two object keys masked to the same text make a body no strict
        // reader takes (and a lax one reads either way): refuse to send it.
        if masked_a_key && json::parse(&masked).is_err() {
            Outcome::Rejected {
                message: "masking a secret in JSON object keys made two keys of one object \
                          equal, so the body cannot be sent masked. Remove the secret from \
                          the keys and retry."
                    .into(),
            }
        } else {
            Outcome::Masked(masked)
        }
    };
    Inspection {
        outcome,
        fired: fired.take(),
    }
}

#[cfg(test)]
mod tests;
