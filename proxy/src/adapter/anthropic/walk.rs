//! Which strings of an Anthropic API body a model sees, under which scope.
//!
//! The walk is generic: every string of the document is scanned, object
//! keys included, and the only ones left alone are what the API defines as
//! opaque, named by block type and field, never by a property name found
//! anywhere:
//!
//! | block type | field | why |
//! |---|---|---|
//! | `image`, `document` | `source.data` of a `base64` source | media bytes |
//! | `thinking` | `thinking`, `signature` | signed by the API |
//! | `redacted_thinking` | `data` | encrypted by the API |
//! | `web_search_result` | `encrypted_content` | encrypted by the API |
//! | `web_search_result_location` | `encrypted_index` | encrypted by the API |
//!
//! Thinking blocks count as signed only in the assistant's turns (and in
//! replies). On the request side, signed text is skipped (changing it breaks the next
//! turn); on the response side it is *watched*: scanned, never altered, a
//! `reject` stops the reply and a `mask` is only logged.
//!
//! Scopes: `system` for the system prompt, tool definitions and every other
//! top-level field; a message's role for its content (`user`, `assistant`,
//! `system`); `tool_input` for a tool call's `input` (keys and values);
//! `tool_result` for a tool result's content. Tool inputs, tool schemas and
//! unknown fields are plain data: no type field inside them changes how
//! they are walked.
//!
//! Rejects: on the request side a reject counts only in the newest user
//! turn (the last message whose role is `user`, or the prompt of a text
//! completion); anywhere else the client resends it every turn, so it gets
//! the rule's mask instead and a session survives a rejected message.
//!
//! Remembering (with a generation's outcome memory): a string is looked up
//! by its JSON form before it is decoded and scanned; a short one is
//! scanned once per body and scope; and a whole message, or top-level
//! field, that was walked before in the same context (newest turn or not;
//! `system` or another field) and found nothing is not walked again: a
//! resent conversation walks its new turn only. The parse before any walk
//! still checks every byte.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use rulegate_engine::{Disposition, RuleSet, Scope, Side};

use crate::adapter::FiredLog;
use crate::json::{self, Edit, JsonString, Value};
use crate::outcome_memory::{Generation, OutcomeMemory, Remembered, MIN_REMEMBERED_LEN};

/// Field names the walk prints in locations; any other object key is
/// printed as its member index, since a key may hold anything.
const KNOWN_NAMES: &[&str] = &[
    "messages",
    "system",
    "tools",
    "tool_choice",
    "metadata",
    "model",
    "max_tokens",
    "stop_sequences",
    "output_format",
    "mcp_servers",
    "container",
    "role",
    "content",
    "type",
    "text",
    "source",
    "data",
    "url",
    "file_id",
    "title",
    "context",
    "citations",
    "cited_text",
    "input",
    "name",
    "id",
    "tool_use_id",
    "description",
    "input_schema",
    "thinking",
    "signature",
    "requests",
    "params",
    "custom_id",
    "prompt",
    "completion",
    "message",
    "delta",
    "content_block",
    "partial_json",
    "citation",
    "stop_reason",
    "stop_sequence",
    "usage",
    "error",
    "stdout",
    "stderr",
];

#[derive(Debug, Clone, Copy)]
enum Step {
    Name(&'static str),
    Index(usize),
    /// An object member whose key is not a known name.
    Member(usize),
}

/// Where a rejected text is, in the words a user reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    YourMessage,
    /// Text a client attached to the message (Claude Code puts CLAUDE.md
    /// and @-mentioned files in `<system-reminder>` text blocks).
    AttachedContext,
    AttachedFile,
    ToolOutput {
        tool_use_id: Option<String>,
    },
    /// Anything else the newest turn carries.
    Message,
}

/// One rejecting finding, for the client's message.
#[derive(Debug, Clone)]
pub(super) struct Rejected {
    pub rule: String,
    pub message: String,
    pub location: String,
    pub place: Place,
}

pub(super) struct Walk<'r> {
    rules: &'r RuleSet,
    /// What scanning texts of `rules` gave before, if remembered.
    memory: Option<&'r OutcomeMemory>,
    side: Side,
    path: Vec<Step>,
    pub edits: Vec<Edit>,
    pub fired: FiredLog,
    pub rejected: Vec<Rejected>,
    /// Rule and location of every rejection so far: each is listed once.
    rejected_at: HashSet<(String, String)>,
    /// Whether a reject here counts; otherwise it becomes a mask.
    rejectable: bool,
    place: Place,
    /// A string the caller handles itself (the text a stream's block
    /// start carries goes through the block's scanner).
    excluded: Option<std::ops::Range<usize>>,
    /// What the rules gave for the short strings of this body (keys and
    /// markers such as `type` or `text`, hundreds of times in a request),
    /// by scope and JSON form: each is scanned once per body, not once
    /// per occurrence. Too short for the outcome memory.
    short: HashMap<(Scope, u64), Remembered>,
    /// Bytes of text the walk may still scan, if limited (texts the
    /// memory knows cost nothing).
    scan_limit: Option<usize>,
    /// Set when a text would have taken the walk past its scan limit: it
    /// was not scanned, and the walk's result must not be used.
    pub over_limit: bool,
    /// Strings so far whose scan found something.
    found: usize,
    /// Whether an object key was masked: two keys of one object may then
    /// have become equal, and the masked body must be checked.
    pub masked_a_key: bool,
}

/// How a part of a body is walked, for [`Walk::unless_clean`]: all the
/// walk of a part depends on, besides its bytes and the side.
#[derive(Clone, Copy)]
enum Context {
    /// A Messages body's `system` value.
    SystemField = 0,
    /// Any other top-level value of a Messages body but `messages`.
    OtherField = 1,
    /// A message where a reject becomes a mask.
    OlderMessage = 2,
    /// The newest user turn, where a reject counts.
    NewestMessage = 3,
}

/// A JSON form shorter than [`MIN_REMEMBERED_LEN`] as one word: its bytes
/// and, in the top byte, its length.
fn short_form(raw: &str) -> Option<u64> {
    const _: () = assert!(MIN_REMEMBERED_LEN <= 8);
    let bytes = raw.as_bytes();
    if bytes.len() >= MIN_REMEMBERED_LEN {
        return None;
    }
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    word[7] = bytes.len() as u8;
    Some(u64::from_le_bytes(word))
}

impl<'r> Walk<'r> {
    pub fn new(rules: &'r RuleSet, side: Side) -> Walk<'r> {
        Walk {
            rules,
            memory: None,
            side,
            path: Vec::new(),
            edits: Vec::new(),
            fired: FiredLog::default(),
            rejected: Vec::new(),
            rejected_at: HashSet::new(),
            // A reply that breaks a rule is stopped wherever it does.
            rejectable: side == Side::Response,
            place: Place::Message,
            excluded: None,
            short: HashMap::new(),
            scan_limit: None,
            over_limit: false,
            found: 0,
            masked_a_key: false,
        }
    }

    /// A walk that asks the generation's memory before scanning a text.
    pub fn remembering(generation: &'r Generation, side: Side) -> Walk<'r> {
        Walk {
            memory: generation.memory(),
            ..Walk::new(generation.rules(), side)
        }
    }

    /// Scans no more than `bytes` bytes of text the memory does not know;
    /// past that, [`Walk::over_limit`] is set and nothing more is scanned.
    pub fn limit_scans(&mut self, bytes: usize) {
        self.scan_limit = Some(bytes);
    }

    /// Whether the walk may scan a text of `len` bytes now (and counts it).
    fn may_scan(&mut self, len: usize) -> bool {
        match &mut self.scan_limit {
            _ if self.over_limit => false,
            None => true,
            Some(left) if *left >= len => {
                *left -= len;
                true
            }
            Some(_) => {
                self.over_limit = true;
                false
            }
        }
    }

    /// What the rules give for a string's text: remembered (looked up by
    /// its JSON form, so a string seen before is not even decoded), or
    /// scanned. Over the scan limit, `Clean` (and the walk is void).
    fn apply_all(&mut self, scope: Scope, string: &JsonString<'_>) -> Remembered {
        let raw = string.raw();
        if let Some(form) = short_form(raw) {
            if let Some(known) = self.short.get(&(scope, form)) {
                return known.clone();
            }
            if !self.may_scan(raw.len()) {
                return Remembered::Clean;
            }
            let outcome: Remembered = self
                .rules
                .apply_all(self.side, scope, &string.text())
                .into();
            self.short.insert((scope, form), outcome.clone());
            return outcome;
        }
        match self.memory {
            Some(memory) => match memory.look_up_encoded(self.side, scope, raw) {
                Ok(known) => known,
                Err(miss) => {
                    if !self.may_scan(raw.len()) {
                        return Remembered::Clean;
                    }
                    let applied = self.rules.apply_all(self.side, scope, &string.text());
                    memory.remember(miss, applied)
                }
            },
            None => {
                if !self.may_scan(raw.len()) {
                    return Remembered::Clean;
                }
                self.rules
                    .apply_all(self.side, scope, &string.text())
                    .into()
            }
        }
    }

    /// Walks `value` with `walk`, unless the memory knows that this part
    /// (its bytes, walked in `context` on this side) found nothing: then
    /// there is nothing to scan, mask, log or reject in it. A part whose
    /// walk found nothing is remembered so.
    fn unless_clean(&mut self, context: Context, value: &Value<'_>, walk: impl FnOnce(&mut Self)) {
        // Parts are only ever walked from the top of a body, where nothing
        // but the context names how; elsewhere, walk.
        let top = self.place == Place::Message && self.excluded.is_none();
        let (Some(memory), Some(json), true) = (self.memory, value.extent(), top) else {
            return walk(self);
        };
        let miss = match memory.look_up_clean(self.side, context as u8, json) {
            Ok(()) => return,
            Err(miss) => miss,
        };
        let found = self.found;
        walk(self);
        if self.found == found && !self.over_limit {
            memory.remember_clean(miss);
        }
    }

    /// Leaves the string at `span` to the caller.
    pub fn exclude(&mut self, span: std::ops::Range<usize>) {
        self.excluded = Some(span);
    }

    fn location(&self) -> String {
        let mut out = String::new();
        for step in &self.path {
            match step {
                Step::Name(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Step::Index(index) => out.push_str(&format!("[{index}]")),
                Step::Member(index) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&format!("#{index}"));
                }
            }
        }
        out
    }

    fn enter_member(&mut self, index: usize, key: &str) {
        let step = match KNOWN_NAMES.iter().find(|name| **name == key) {
            Some(name) => Step::Name(name),
            None => Step::Member(index),
        };
        self.path.push(step);
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    /// Scans one string and records what to do with it.
    pub fn scan(&mut self, string: &JsonString<'_>, scope: Scope) {
        self.scan_text(string, scope, "");
    }

    /// An object key: scanned like any string, located as `…#3 (key)`.
    fn key(&mut self, key: &JsonString<'_>, scope: Scope) {
        let edits = self.edits.len();
        self.scan_text(key, scope, " (key)");
        self.masked_a_key |= self.edits.len() > edits;
    }

    fn scan_text(&mut self, string: &JsonString<'_>, scope: Scope, suffix: &str) {
        if self.excluded == Some(string.span()) {
            return;
        }
        if string.raw().is_empty() {
            return;
        }
        let Remembered::Found(applied) = self.apply_all(scope, string) else {
            return;
        };
        self.found += 1;
        let location = self.location() + suffix;
        let swap = (!self.rejectable).then_some((Disposition::Reject, Disposition::Mask));
        self.fired
            .record_all(self.rules, &applied.findings, scope, swap, &location);
        if self.rejectable && !applied.rejections.is_empty() {
            for rejection in &applied.rejections {
                self.reject(rejection, &location, self.place.clone());
            }
            return;
        }
        if let Some(masked) = &applied.masked {
            self.edits.push(Edit {
                span: string.span(),
                replacement: json::encode_string(masked),
            });
        }
    }

    /// Signed text of a reply: scanned, never altered. A reject stops the
    /// reply; a mask is logged as not carried out.
    fn watch(&mut self, string: &JsonString<'_>, scope: Scope) {
        if string.raw().is_empty() {
            return;
        }
        let Remembered::Found(applied) = self.apply_all(scope, string) else {
            return;
        };
        self.found += 1;
        let location = self.location();
        let swap = Some((Disposition::Mask, Disposition::Log));
        self.fired
            .record_all(self.rules, &applied.findings, scope, swap, &location);
        for rejection in &applied.rejections {
            self.reject(rejection, &location, Place::Message);
        }
    }

    /// Lists a rejection once per rule and location.
    fn reject(&mut self, rejection: &rulegate_engine::Rejection, location: &str, place: Place) {
        let key = (rejection.rule_name.clone(), location.to_owned());
        if self.rejected_at.insert(key.clone()) {
            self.rejected.push(Rejected {
                rule: key.0,
                message: rejection.message.clone(),
                location: key.1,
                place,
            });
        }
    }

    /// Every string and key, nothing skipped: data whose shape the API
    /// does not define (tool inputs, schemas, metadata, unknown fields).
    pub fn plain(&mut self, value: &Value<'_>, scope: Scope) {
        match value {
            Value::String(text) => self.scan(text, scope),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(index));
                    self.plain(&item, scope);
                    self.leave();
                }
            }
            Value::Object(_) => {
                self.members(value, scope, |walk, _, member| walk.plain(member, scope))
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Walks an object's members: each key scanned under `scope`, each
    /// value handed to `member` with its name. Not an object: plain.
    fn members(
        &mut self,
        value: &Value<'_>,
        scope: Scope,
        member: impl Fn(&mut Self, &str, &Value<'_>),
    ) {
        let Value::Object(members) = value else {
            return self.plain(value, scope);
        };
        for (index, (key, value)) in members.iter().enumerate() {
            let name = key.text();
            self.enter_member(index, &name);
            self.key(&key, scope);
            member(self, &name, &value);
            self.leave();
        }
    }

    /// A Messages API request body (also a batch request's `params`).
    pub fn messages_body(&mut self, body: &Value<'_>) {
        self.members(body, Scope::System, |walk, name, value| match name {
            "messages" => walk.messages(value),
            "system" => walk.unless_clean(Context::SystemField, value, |walk| {
                walk.blocks(value, Scope::System)
            }),
            _ => walk.unless_clean(Context::OtherField, value, |walk| {
                walk.plain(value, Scope::System)
            }),
        });
    }

    /// A Message Batches creation body: each request's `params` is a
    /// Messages body of its own (with its own newest turn).
    pub fn batch_body(&mut self, body: &Value<'_>) {
        self.members(body, Scope::System, |walk, name, value| {
            match (name, value) {
                ("requests", Value::Array(requests)) => {
                    for (i, request) in requests.iter().enumerate() {
                        walk.path.push(Step::Index(i));
                        walk.members(&request, Scope::System, |walk, name, value| {
                            if name == "params" {
                                walk.messages_body(value);
                            } else {
                                walk.plain(value, Scope::System);
                            }
                        });
                        walk.leave();
                    }
                }
                _ => walk.plain(value, Scope::System),
            }
        });
    }

    /// A legacy Text Completions body: the `prompt` is the newest turn.
    pub fn completion_body(&mut self, body: &Value<'_>) {
        self.members(body, Scope::System, |walk, name, value| {
            if name == "prompt" {
                let saved = std::mem::replace(&mut walk.rejectable, true);
                walk.place = Place::YourMessage;
                walk.plain(value, Scope::User);
                walk.rejectable = saved;
                walk.place = Place::Message;
            } else {
                walk.plain(value, Scope::System);
            }
        });
    }

    /// A reply (a Messages API message object, or any other JSON reply):
    /// `content` holds blocks, everything else is plain.
    pub fn reply_body(&mut self, body: &Value<'_>) {
        self.members(body, Scope::Assistant, |walk, name, value| {
            if name == "content" {
                walk.blocks(value, Scope::Assistant);
            } else {
                walk.plain(value, Scope::Assistant);
            }
        });
    }

    /// The data of one streamed event: a `message` is a reply, a
    /// `content_block` or `delta` a block, the rest plain.
    pub fn event(&mut self, data: &Value<'_>) {
        self.members(data, Scope::Assistant, |walk, name, value| match name {
            "message" => walk.reply_body(value),
            "content_block" | "delta" => walk.block(value, Scope::Assistant),
            _ => walk.plain(value, Scope::Assistant),
        });
    }

    fn messages(&mut self, value: &Value<'_>) {
        let Value::Array(messages) = value else {
            return self.plain(value, Scope::User);
        };
        let newest = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| role(m).as_deref() == Some("user"))
            .last()
            .map(|(index, _)| index);
        for (index, message) in messages.iter().enumerate() {
            self.path.push(Step::Index(index));
            let saved = self.rejectable;
            self.rejectable = self.side == Side::Response || Some(index) == newest;
            let context = if self.rejectable {
                Context::NewestMessage
            } else {
                Context::OlderMessage
            };
            self.unless_clean(context, &message, |walk| walk.message(&message));
            self.rejectable = saved;
            self.leave();
        }
    }

    fn message(&mut self, message: &Value<'_>) {
        // Claude Code sends mid-conversation `system` messages; an unknown
        // role gets the strictest common scope, `user`.
        let scope = match role(message).as_deref() {
            Some("assistant") => Scope::Assistant,
            Some("system") => Scope::System,
            _ => Scope::User,
        };
        self.members(message, scope, |walk, name, value| {
            if name == "content" {
                walk.place = Place::YourMessage;
                walk.blocks(value, scope);
                walk.place = Place::Message;
            } else {
                walk.plain(value, scope);
            }
        });
    }

    /// A content value: a string, a block, or an array of them.
    pub fn blocks(&mut self, value: &Value<'_>, scope: Scope) {
        match value {
            Value::String(text) => self.scan(text, scope),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(index));
                    self.block(&item, scope);
                    self.leave();
                }
            }
            Value::Object(_) => self.block(value, scope),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// One typed content block.
    pub fn block(&mut self, block: &Value<'_>, scope: Scope) {
        let Value::Object(members) = block else {
            return self.plain(block, scope);
        };
        let kind: Cow<'_, str> = block
            .get("type")
            .and_then(Value::as_string)
            .map_or(Cow::Borrowed(""), |t| t.text());
        let saved_place = self.place.clone();
        if self.place != Place::Message {
            self.place = match kind.as_ref() {
                "text" if text_is_attached(block) => Place::AttachedContext,
                "image" | "document" => Place::AttachedFile,
                "tool_result" | "mcp_tool_result" => Place::ToolOutput {
                    tool_use_id: block
                        .get("tool_use_id")
                        .and_then(Value::as_string)
                        .map(|id| id.text().into_owned()),
                },
                _ => self.place.clone(),
            };
        }
        for (index, (key, value)) in members.iter().enumerate() {
            let value = &value;
            let name = key.text();
            self.enter_member(index, &name);
            self.key(&key, scope);
            // Only the assistant's own turns carry signed thinking; the
            // same shape anywhere else is text a model may read.
            let signed_here = scope == Scope::Assistant;
            match (kind.as_ref(), name.as_ref()) {
                ("thinking", "thinking") if signed_here => self.signed(value, scope),
                ("thinking", "signature") | ("redacted_thinking", "data") if signed_here => {}
                ("web_search_result", "encrypted_content")
                | ("web_search_result_location", "encrypted_index") => {}
                ("image" | "document", "source") => self.source(value, scope),
                ("text" | "document" | "search_result", "citations") => self.blocks(value, scope),
                ("search_result", "content") => self.blocks(value, scope),
                ("citations_delta", "citation") => self.block(value, scope),
                ("tool_use" | "server_tool_use" | "mcp_tool_use", "input") => {
                    self.plain(value, Scope::ToolInput)
                }
                (kind, "content") if kind.ends_with("tool_result") => {
                    self.blocks(value, Scope::ToolResult)
                }
                (kind, "content") if kind.ends_with("_result") => self.blocks(value, scope),
                _ => self.plain(value, scope),
            }
            self.leave();
        }
        self.place = saved_place;
    }

    fn source(&mut self, source: &Value<'_>, scope: Scope) {
        let base64 = source.get("type").is_some_and(|t| t.is_str("base64"));
        let nested = source.get("type").is_some_and(|t| t.is_str("content"));
        self.members(source, scope, |walk, name, value| match name {
            "data" if base64 => {}
            "content" if nested => walk.blocks(value, scope),
            _ => walk.plain(value, scope),
        });
    }

    fn signed(&mut self, value: &Value<'_>, scope: Scope) {
        if self.side == Side::Request {
            return;
        }
        if let Value::String(text) = value {
            self.watch(text, scope);
        }
    }
}

fn role<'d>(message: &Value<'d>) -> Option<Cow<'d, str>> {
    message
        .get("role")
        .and_then(Value::as_string)
        .map(|r| r.text())
}

/// Whether a text block is context a client attached rather than what the
/// user typed.
fn text_is_attached(block: &Value<'_>) -> bool {
    block
        .get("text")
        .and_then(Value::as_string)
        .is_some_and(|t| t.text().trim_start().starts_with("<system-reminder>"))
}

/// A reject message names at most this many places.
const MAX_LISTED: usize = 8;

/// The client's message for a rejected request: every rule, where, why,
/// and how to recover.
pub(super) fn rejection_message(
    rules_set: &RuleSet,
    rejected: &[Rejected],
    document: &Value<'_>,
) -> String {
    let mut rules: Vec<&str> = Vec::new();
    for r in rejected {
        if !rules.contains(&r.rule.as_str()) {
            rules.push(&r.rule);
        }
    }
    let names = rules
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "rulegate: the request was not forwarded: {} {} found what {} forbid{}.",
        if rules.len() == 1 { "rule" } else { "rules" },
        names,
        if rules.len() == 1 { "it" } else { "they" },
        if rules.len() == 1 { "s" } else { "" },
    );
    // Entries are unique by rule and location; a few say where.
    for r in rejected.iter().take(MAX_LISTED) {
        let place = match &r.place {
            Place::YourMessage => "your message".to_owned(),
            Place::AttachedContext => {
                "context attached to your message (a file you mentioned, or CLAUDE.md)".to_owned()
            }
            Place::AttachedFile => "a file you attached".to_owned(),
            Place::ToolOutput { tool_use_id } => match tool_use_id
                .as_deref()
                .and_then(|id| tool_name(document, id))
                // Never echo a name that is itself what a rule looks for.
                .filter(|name| {
                    rules_set
                        .findings(Side::Request, Scope::System, name.as_bytes())
                        .is_empty()
                }) {
                Some(tool) => format!("tool output (the result of `{tool}`)"),
                None => "tool output".to_owned(),
            },
            Place::Message => "the newest message".to_owned(),
        };
        out.push_str(&format!(" `{}` in {place} ({})", r.rule, r.location));
        if !r.message.is_empty() {
            out.push_str(&format!(": {}", r.message.trim_end_matches('.')));
        }
        out.push('.');
    }
    if rejected.len() > MAX_LISTED {
        out.push_str(&format!(" And {} more.", rejected.len() - MAX_LISTED));
    }
    let fix = if rejected.iter().all(|r| r.place == Place::YourMessage) {
        " Edit your message and send it again (in Claude Code, press Esc twice to go back and edit it); the rest of the conversation is kept."
    } else {
        " Remove it from the file, context or tool output it came from, or go back before it (in Claude Code, press Esc twice), and send again; the rest of the conversation is kept."
    };
    out.push_str(fix);
    out
}

/// The name of the tool whose call had this id, if the body has it.
fn tool_name(document: &Value<'_>, id: &str) -> Option<String> {
    let messages = match document.get("messages") {
        Some(Value::Array(messages)) => messages,
        _ => return None,
    };
    let messages: Vec<Value<'_>> = messages.iter().collect();
    messages.iter().rev().find_map(|message| {
        let Some(Value::Array(blocks)) = message.get("content") else {
            return None;
        };
        blocks.iter().find_map(|block| {
            let matches = block
                .get("id")
                .and_then(Value::as_string)
                .is_some_and(|b| b.is(id));
            let name = block.get("name").and_then(Value::as_string)?;
            let name = name.text();
            // Tool names are identifiers; anything else is not repeated.
            let plain = name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            (matches && plain).then(|| name.into_owned())
        })
    })
}
