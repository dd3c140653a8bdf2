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
        let kind = block
            .get("type")
            .and_then(Value::as_string)
            .map(|t| t.text());
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
        let kind = source
            .get("type")
            .and_then(Value::as_string)
            .map(|t| t.text());
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
                    let kind = value
                        .get("type")
                        .and_then(Value::as_string)
                        .map(|t| t.text());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Masks `SECRETn` with the name of the scope it was found in, so a
    /// test sees which scope the walker gave each string.
    const SCOPED: &str = r#"
rule marker {
  match /SECRET[0-9]/
  request mask "[system]" in system
  request mask "[user]" in user
  request mask "[assistant]" in assistant
  request mask "[tool_result]" in tool_result
  request mask "[tool_input]" in tool_input
  response mask "[response]"
}
rule stop {
  match /FORBIDDEN/
  request reject "that word is not allowed" in user
  request log
  response reject "not in replies either"
}
"#;

    fn rules() -> RuleSet {
        rulegate_lang::check_sources([("t.rules".to_owned(), SCOPED.as_bytes().to_vec())])
            .compile()
            .expect("test rules compile")
    }

    fn masked(body: &str) -> String {
        match inspect_request(&rules(), body.as_bytes()).unwrap().outcome {
            Outcome::Masked(bytes) => String::from_utf8(bytes).unwrap(),
            other => panic!("expected a masked body, got {other:?}"),
        }
    }

    #[test]
    fn a_clean_body_is_unchanged() {
        let body =
            r#"{"model":"m","system":"be nice","messages":[{"role":"user","content":"hi"}]}"#;
        let inspection = inspect_request(&rules(), body.as_bytes()).unwrap();
        assert_eq!(inspection.outcome, Outcome::Unchanged);
        assert!(inspection.fired.is_empty());
    }

    #[test]
    fn every_scope_is_tagged() {
        let body = r#"{
  "model": "claude",
  "system": [{"type": "text", "text": "sys SECRET1", "cache_control": {"type": "ephemeral"}}],
  "tools": [{"name": "Read", "description": "tool doc SECRET2", "input_schema": {"type": "object"}}],
  "messages": [
    {"role": "user", "content": "plain SECRET3"},
    {"role": "assistant", "content": [
      {"type": "text", "text": "answer SECRET4"},
      {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "echo SECRET5", "args": ["SECRET6", 3, {"deep": "SECRET7"}]}}
    ]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_1", "content": "out SECRET8"},
      {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "blk SECRET9"}]},
      {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc SECRET1"}, "title": "t SECRET2"},
      {"type": "brand_new_block", "payload": {"note": "new SECRET3"}}
    ]},
    {"role": "system", "content": "reminder SECRET4"}
  ],
  "metadata": {"user_id": "SECRET5"}
}"#;
        let out = masked(body);
        for (original, scope) in [
            ("sys SECRET1", "sys [system]"),
            ("tool doc SECRET2", "tool doc [system]"),
            ("plain SECRET3", "plain [user]"),
            ("answer SECRET4", "answer [assistant]"),
            ("echo SECRET5", "echo [tool_input]"),
            ("\"SECRET6\"", "\"[tool_input]\""),
            ("\"deep\": \"SECRET7\"", "\"deep\": \"[tool_input]\""),
            ("out SECRET8", "out [tool_result]"),
            ("blk SECRET9", "blk [tool_result]"),
            ("doc SECRET1", "doc [user]"),
            ("t SECRET2", "t [user]"),
            ("new SECRET3", "new [user]"),
            ("reminder SECRET4", "reminder [system]"),
        ] {
            assert!(
                out.contains(scope),
                "{original} should become {scope} in\n{out}"
            );
        }
        // Not seen by the model: metadata.
        assert!(out.contains(r#""user_id": "SECRET5""#));
        // Only the masked strings changed: undo the masks and get the input.
        let undone = out
            .replace("[system]", "SECRETx")
            .replace("[user]", "SECRETx")
            .replace("[assistant]", "SECRETx")
            .replace("[tool_result]", "SECRETx")
            .replace("[tool_input]", "SECRETx");
        let normalized: String = body
            .chars()
            .collect::<String>()
            .split("SECRET")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part.to_owned()
                } else {
                    format!("SECRETx{}", &part[1..])
                }
            })
            .collect::<String>()
            .replace(r#""user_id": "SECRETx""#, r#""user_id": "SECRET5""#);
        assert_eq!(undone, normalized);
    }

    #[test]
    fn media_and_signed_blocks_are_skipped() {
        let body = r#"{"messages":[
  {"role":"user","content":[
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"SECRET1FORBIDDEN"}},
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"SECRET2"}},
    {"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"SECRET3"}}]}
  ]},
  {"role":"assistant","content":[
    {"type":"thinking","thinking":"SECRET4 FORBIDDEN","signature":"SECRET5"},
    {"type":"redacted_thinking","data":"SECRET6"},
    {"type":"future_block","signature":"SECRET7","encrypted_content":"SECRET8","text":"SECRET9"}
  ]}
]}"#;
        let out = masked(body);
        for kept in [
            "SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6", "SECRET7", "SECRET8",
        ] {
            assert!(out.contains(kept), "{kept} should be left alone");
        }
        assert!(out.contains(r#""text":"[assistant]""#));
    }

    #[test]
    fn a_reject_names_the_rule_and_where() {
        let body = r#"{"messages":[{"role":"user","content":"ok"},{"role":"user","content":[{"type":"text","text":"a FORBIDDEN word"}]}]}"#;
        let inspection = inspect_request(&rules(), body.as_bytes()).unwrap();
        match inspection.outcome {
            Outcome::Rejected {
                rejection,
                location,
            } => {
                assert_eq!(rejection.rule_name, "stop");
                assert_eq!(rejection.message, "that word is not allowed");
                assert_eq!(location, "messages[1].content[0].text");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn log_findings_are_reported_without_changing_the_body() {
        let body = r#"{"messages":[{"role":"assistant","content":"FORBIDDEN in history"}]}"#;
        let inspection = inspect_request(&rules(), body.as_bytes()).unwrap();
        assert_eq!(inspection.outcome, Outcome::Unchanged);
        assert_eq!(
            inspection.fired,
            [Fired {
                rule: "stop".to_owned(),
                disposition: Disposition::Log,
                scope: Scope::Assistant,
                location: "messages[0].content".to_owned(),
            }]
        );
    }

    #[test]
    fn escapes_are_decoded_before_scanning_and_reencoded_when_masked() {
        let out =
            masked(r#"{"messages":[{"role":"user","content":"a\nSECRET\u0031 \"q\" \u00e9"}]}"#);
        assert_eq!(
            out,
            r#"{"messages":[{"role":"user","content":"a\n[user] \"q\" é"}]}"#
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let set = rules();
        assert!(matches!(
            inspect_request(&set, b"{\"messages\": [}"),
            Err(InspectError::Json(_))
        ));
        assert_eq!(
            inspect_request(&set, b"[1]"),
            Err(InspectError::NotAnObject)
        );
        assert!(matches!(
            inspect_request(&set, b""),
            Err(InspectError::Json(_))
        ));
    }

    #[test]
    fn responses_mask_text_blocks_and_reject() {
        let set = rules();
        let body = r#"{"type":"message","content":[{"type":"text","text":"x SECRET1"},{"type":"tool_use","id":"t","name":"n","input":{"a":"SECRET2"}}]}"#;
        match inspect_response(&set, body.as_bytes()).unwrap().outcome {
            Outcome::Masked(bytes) => assert_eq!(
                String::from_utf8(bytes).unwrap(),
                body.replace("x SECRET1", "x [response]")
            ),
            other => panic!("{other:?}"),
        }
        let rejected = r#"{"content":[{"type":"text","text":"FORBIDDEN"}]}"#;
        assert!(matches!(
            inspect_response(&set, rejected.as_bytes()).unwrap().outcome,
            Outcome::Rejected { .. }
        ));
    }
}
