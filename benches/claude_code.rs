//! A Claude-Code-shaped Messages API request with no secret in it: Claude
//! Code's system prompt (with the co-author email it carries), tool
//! definitions, and a conversation of file reads, shell output and edits
//! with a signed thinking block, grown to a target size.
//!
//! The proxy's tests forward it and expect the exact bytes upstream; the
//! overhead harness times its inspection.

use serde_json::{json, Value};

use crate::Rng;

const SYSTEM_PROMPT: &str = "You are Claude Code, Anthropic's official CLI for Claude.\n\
You are an interactive CLI tool that helps users with software engineering tasks.\n\
When you commit, end the message with:\n\n\
\u{1F916} Generated with [Claude Code](https://claude.com/claude-code)\n\n\
Co-Authored-By: Claude <noreply@anthropic.com>\n\
IMPORTANT: Assist with defensive security tasks only.";

const TOOLS: &[(&str, &str)] = &[
    ("Bash", "Executes a given bash command in a persistent shell session with optional timeout, ensuring proper handling and security measures."),
    ("Read", "Reads a file from the local filesystem. You can access any file directly by using this tool. The file_path parameter must be an absolute path."),
    ("Edit", "Performs exact string replacements in files. You must use your `Read` tool at least once in the conversation before editing."),
    ("Grep", "A powerful search tool built on ripgrep. Supports full regex syntax (e.g., \"log.*Error\", \"function\\s+\\w+\")."),
    ("TodoWrite", "Use this tool to create and manage a structured task list for your current coding session."),
];

const SOURCE_LINES: &[&str] = &[
    "fn parse_config(path: &Path) -> Result<Config, Error> {",
    "    let text = std::fs::read_to_string(path).context(\"reading config\")?;",
    "    let config: Config = toml::from_str(&text)?;",
    "    for (index, rule) in rules.iter().enumerate() {",
    "        tracing::debug!(index, name = %rule.name, \"compiled\");",
    "    }",
    "}",
    "import { useState, useEffect } from 'react';",
    "export default function App({ items }) { return <List items={items} />; }",
    "def handle(request):  # retries with exponential backoff",
    "    return JSONResponse({\"status\": \"ok\", \"count\": len(rows)})",
    "SELECT id, created_at FROM orders WHERE status = 'shipped' LIMIT 50;",
    "// version 2.14.3, build 7f3a9c1e, uuid 123e4567-e89b-12d3-a456-426614174000",
    "    assert_eq!(sum, 4_111_111_111_111_112); // not a card: Luhn-invalid",
    "",
];

const SHELL_LINES: &[&str] = &[
    "   Compiling rulegate-engine v0.1.0 (/home/dev/rulegate/engine)",
    "    Finished `dev` profile [unoptimized + debuginfo] target(s) in 4.21s",
    "test result: ok. 42 passed; 0 failed; 0 ignored",
    "commit 3f9d2c4b8a7e6f5d4c3b2a1908f7e6d5c4b3a291",
    "On branch main\nYour branch is up to date with 'origin/main'.",
    "drwxr-xr-x  5 dev dev 4096 Nov 21 10:02 src",
    "npm WARN deprecated inflight@1.0.6: This module is not supported",
];

fn lines(rng: &mut Rng, pool: &[&str], count: usize) -> String {
    let mut out = String::new();
    for n in 0..count {
        out.push_str(&format!("{:>6}\u{2192}", n + 1));
        out.push_str(rng.pick(pool));
        out.push('\n');
    }
    out
}

/// A request of about `target_bytes` (at least one turn), deterministic in
/// `seed`. Serialized as compact JSON, as the SDK sends it.
pub fn claude_code_request(seed: u64, target_bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let tools: Vec<Value> = TOOLS
        .iter()
        .map(|(name, description)| {
            json!({
                "name": name,
                "description": description,
                "input_schema": {"type": "object", "properties": {"command": {"type": "string", "description": "The command to execute"}}, "required": ["command"]},
            })
        })
        .collect();
    let mut messages = vec![json!({
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>\nAs you answer the user's questions, you can use the following context.\n</system-reminder>"},
            {"type": "text", "text": "The tests in engine/ fail since yesterday; find out why and fix it.", "cache_control": {"type": "ephemeral"}},
        ],
    })];
    let mut size = 0;
    let mut turn = 0;
    while size < target_bytes || turn == 0 {
        let id = format!(
            "toolu_01{}",
            rng.string_from(
                b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789",
                22
            )
        );
        let (tool, input, output) = if turn % 2 == 0 {
            let path = format!("/home/dev/rulegate/src/module_{turn}.rs");
            let output = lines(&mut rng, SOURCE_LINES, 120);
            ("Read", json!({"file_path": path}), output)
        } else {
            let output = lines(&mut rng, SHELL_LINES, 60);
            (
                "Bash",
                json!({"command": "cargo test -p rulegate-engine 2>&1 | tail -40", "description": "Run the engine tests"}),
                output,
            )
        };
        size += output.len() + 400;
        messages.push(json!({
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should look at the failing module first.", "signature": "EqQBCkYIBxgCKkDLm0Fk7yZ2c8vJ3pQ+uT1wXb9sRzN4hK6oG2aE5dYfVjI0lMnBqCrStUvWx=="},
                {"type": "text", "text": format!("Let me check step {turn}.")},
                {"type": "tool_use", "id": id, "name": tool, "input": input},
            ],
        }));
        messages.push(json!({
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": id, "content": output}],
        }));
        turn += 1;
    }
    let body = json!({
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "stream": true,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}},
        ],
        "messages": messages,
        "tools": tools,
        "metadata": {"user_id": "user_5f2c8d1e9a7b4c3d_account__session_123e4567-e89b-12d3-a456-426614174000"},
        "thinking": {"type": "enabled", "budget_tokens": 31999},
    });
    serde_json::to_vec(&body).expect("a Value always serializes")
}
