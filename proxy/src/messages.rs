//! Inspection of Anthropic Messages API JSON bodies: which strings the
//! model sees, under which scope, and the body to forward.
//!
//! Invariants:
//! - Every string the model reads is scanned: `system`, message content
//!   (text, tool results, tool-use inputs, text documents) and tool
//!   definitions. A block type not known here is scanned whole under its
//!   message's scope, so a new API feature cannot smuggle text past the
//!   rules. Only base64/URL media and signed blocks (`thinking`,
//!   `redacted_thinking`, `signature`, `encrypted_*` fields) are skipped:
//!   changing them would break the conversation's next turn.
//! - A body with nothing to mask is returned as [`Outcome::Unchanged`]; a
//!   masked body differs from the original only inside the masked strings.
//! - The first rejecting string stops the walk: nothing else matters once
//!   the request will not be sent.

use rulegate_engine::{Disposition, Rejection, RuleSet, Scope, Side, Verdict};

use crate::json::{self, Edit, JsonError, JsonString, Value};

/// A rule that fired somewhere in a body (never the matched text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub rule: String,
    pub disposition: Disposition,
    pub scope: Scope,
    /// Where in the body, e.g. `messages[2].content[0].text`.
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Masked(Vec<u8>),
    Rejected {
        rejection: Rejection,
        location: String,
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
    #[error("the body is not valid JSON: {0}")]
    Json(#[from] JsonError),
    #[error("the body must be a JSON object")]
    NotAnObject,
}

/// Inspects a `POST /v1/messages` (or `count_tokens`) request body.
pub fn inspect_request(rules: &RuleSet, body: &[u8]) -> Result<Inspection, InspectError> {
    let document = json::parse(body)?;
    let Value::Object(members) = &document else {
        return Err(InspectError::NotAnObject);
    };
    let mut walk = Walk::new(rules, Side::Request);
    for (key, value) in members {
        let key_text = key.text();
        let name = key_text.as_ref();
        walk.enter_key(name);
        match name {
            "system" => walk.content(value, Scope::System),
            "messages" => walk.messages(value),
            "tools" => walk.all_strings(value, Scope::System, Skip::Structural),
            _ => {}
        }
        walk.leave();
        if walk.rejected.is_some() {
            break;
        }
    }
    Ok(walk.finish(body))
}

/// Inspects a non-streaming Messages API response: the `text` of each
/// `content` block, under the `assistant` scope.
pub fn inspect_response(rules: &RuleSet, body: &[u8]) -> Result<Inspection, InspectError> {
    let document = json::parse(body)?;
    if !matches!(document, Value::Object(_)) {
        return Err(InspectError::NotAnObject);
    }
    let mut walk = Walk::new(rules, Side::Response);
    if let Some(Value::Array(blocks)) = document.get("content") {
        walk.enter_key("content");
        for (index, block) in blocks.iter().enumerate() {
            walk.enter_index(index);
            if block.get("type").is_some_and(|t| t.is_str("text")) {
                if let Some(text) = block.get("text").and_then(Value::as_string) {
                    walk.enter_key("text");
                    walk.scan(text, Scope::Assistant);
                    walk.leave();
                }
            }
            walk.leave();
        }
        walk.leave();
    }
    Ok(walk.finish(body))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Every string value is user data (tool inputs): skip nothing.
    Nothing,
    /// Skip media and signed blocks and fields (unknown block types).
    Structural,
}

/// Block types whose content is never scanned: base64 media is not text,
/// and thinking blocks are signed by the API.
const SKIPPED_BLOCKS: &[&str] = &["image", "thinking", "redacted_thinking"];

/// Fields that are signed or encrypted by the API, or are API plumbing.
const SKIPPED_FIELDS: &[&str] = &[
    "signature",
    "encrypted_content",
    "encrypted_index",
    "cache_control",
];

enum Segment {
    Key(String),
    Index(usize),
}

struct Walk<'r> {
    rules: &'r RuleSet,
    side: Side,
    path: Vec<Segment>,
    edits: Vec<Edit>,
    fired: Vec<Fired>,
    rejected: Option<(Rejection, String)>,
}

impl<'r> Walk<'r> {
    fn new(rules: &'r RuleSet, side: Side) -> Walk<'r> {
        Walk {
            rules,
            side,
            path: Vec::new(),
            edits: Vec::new(),
            fired: Vec::new(),
            rejected: None,
        }
    }

    fn enter_key(&mut self, key: &str) {
        self.path.push(Segment::Key(key.to_owned()));
    }

    fn enter_index(&mut self, index: usize) {
        self.path.push(Segment::Index(index));
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    fn location(&self) -> String {
        let mut out = String::new();
        for segment in &self.path {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    fn finish(self, body: &[u8]) -> Inspection {
        let outcome = if let Some((rejection, location)) = self.rejected {
            Outcome::Rejected {
                rejection,
                location,
            }
        } else if self.edits.is_empty() {
            Outcome::Unchanged
        } else {
            let mut edits = self.edits;
            Outcome::Masked(json::splice(body, &mut edits))
        };
        Inspection {
            outcome,
            fired: self.fired,
        }
    }

    fn scan(&mut self, string: &JsonString<'_>, scope: Scope) {
        if self.rejected.is_some() {
            return;
        }
        let text = string.text();
        if text.is_empty() {
            return;
        }
        let applied = self.rules.apply(self.side, scope, &text);
        if !applied.findings.is_empty() {
            let location = self.location();
            for finding in &applied.findings {
                self.fired.push(Fired {
                    rule: self.rules.rule(finding.rule).name.clone(),
                    disposition: finding.disposition,
                    scope,
                    location: location.clone(),
                });
            }
        }
        match applied.verdict {
            Verdict::Clean => {}
            Verdict::Masked(masked) => self.edits.push(Edit {
                span: string.span.clone(),
                replacement: json::encode_string(&masked),
            }),
            Verdict::Rejected(rejection) => self.rejected = Some((rejection, self.location())),
        }
    }

    fn messages(&mut self, value: &Value<'_>) {
        let Value::Array(messages) = value else {
            self.all_strings(value, Scope::User, Skip::Structural);
            return;
        };
        for (index, message) in messages.iter().enumerate() {
            self.enter_index(index);
            // Claude Code sends mid-conversation `system` messages; an
            // unknown role gets the strictest common scope, `user`.
            let scope = match message.get("role").and_then(Value::as_string) {
                Some(role) if role.is("assistant") => Scope::Assistant,
                Some(role) if role.is("system") => Scope::System,
                _ => Scope::User,
            };
            match message.get("content") {
                Some(content) if matches!(message, Value::Object(_)) => {
                    self.enter_key("content");
                    self.content(content, scope);
                    self.leave();
                }
                _ => self.all_strings(message, scope, Skip::Structural),
            }
            self.leave();
        }
    }

    /// A `content` (or `system`) value: a string or an array of blocks.
    fn content(&mut self, value: &Value<'_>, scope: Scope) {
        match value {
            Value::String(text) => self.scan(text, scope),
            Value::Array(blocks) => {
                for (index, block) in blocks.iter().enumerate() {
                    self.enter_index(index);
                    self.block(block, scope);
                    self.leave();
                }
            }
            other => self.all_strings(other, scope, Skip::Structural),
        }
    }

    fn field(&mut self, block: &Value<'_>, key: &str, scope: Scope) {
        if let Some(value) = block.get(key) {
            self.enter_key(key);
            match value {
                Value::String(text) => self.scan(text, scope),
                other => self.all_strings(other, scope, Skip::Structural),
            }
            self.leave();
        }
    }

    fn block(&mut self, block: &Value<'_>, scope: Scope) {
        let kind = block.get("type").and_then(Value::as_string).map(|t| t.text());
        match kind.as_deref() {
            Some("text") => {
                self.field(block, "text", scope);
                self.field(block, "citations", scope);
            }
            Some(kind) if SKIPPED_BLOCKS.contains(&kind) => {}
            Some("document") => {
                self.field(block, "title", scope);
                self.field(block, "context", scope);
                if let Some(source) = block.get("source") {
                    self.enter_key("source");
                    self.document_source(source, scope);
                    self.leave();
                }
            }
            Some("tool_use" | "server_tool_use" | "mcp_tool_use") => {
                if let Some(input) = block.get("input") {
                    self.enter_key("input");
                    self.all_strings(input, Scope::ToolInput, Skip::Nothing);
                    self.leave();
                }
            }
            Some("tool_result" | "mcp_tool_result") => {
                if let Some(content) = block.get("content") {
                    self.enter_key("content");
                    self.content(content, Scope::ToolResult);
                    self.leave();
                }
            }
            _ => self.all_strings(block, scope, Skip::Structural),
        }
    }

    fn document_source(&mut self, source: &Value<'_>, scope: Scope) {
        let kind = source.get("type").and_then(Value::as_string).map(|t| t.text());
        match kind.as_deref() {
            Some("text") => self.field(source, "data", scope),
            Some("content") => {
                if let Some(content) = source.get("content") {
                    self.enter_key("content");
                    self.content(content, scope);
                    self.leave();
                }
            }
            // base64, url, file: bytes or references, not text.
            Some("base64" | "url" | "file") => {}
            _ => self.all_strings(source, scope, Skip::Structural),
        }
    }

    fn all_strings(&mut self, value: &Value<'_>, scope: Scope, skip: Skip) {
        if self.rejected.is_some() {
            return;
        }
        match value {
            Value::String(text) => self.scan(text, scope),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.enter_index(index);
                    self.all_strings(item, scope, skip);
                    self.leave();
                }
            }
            Value::Object(members) => {
                if skip == Skip::Structural {
                    let kind = value.get("type").and_then(Value::as_string).map(|t| t.text());
                    if let Some(kind) = kind.as_deref() {
                        if SKIPPED_BLOCKS.contains(&kind) || kind == "base64" {
                            return;
                        }
                    }
                }
                for (key, member) in members {
                    let key = key.text();
                    if skip == Skip::Structural && SKIPPED_FIELDS.contains(&key.as_ref()) {
                        continue;
                    }
                    self.enter_key(&key);
                    self.all_strings(member, scope, skip);
                    self.leave();
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}
