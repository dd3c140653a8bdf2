//! Seeded generators shared by the benchmarks: a realistic mixed corpus
//! (prose, source code, JSON tool output, `.env` files, logs) with a planted
//! secret or PII value about every 10 KiB, and synthetic rule sets.
//!
//! Everything is a pure function of the seed, so figures are comparable
//! across runs and machines.

use std::fmt::Write as _;
use std::path::PathBuf;

use rulegate_engine::RuleSet;

pub mod accuracy;
mod claude_code;
pub mod peer;
pub use claude_code::claude_code_request;

/// The packs shipped in `rules/`, compiled as the gateway compiles them.
pub fn shipped_rule_set() -> RuleSet {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let loaded = rulegate_lang::load(&[dir]).expect("rules/ is readable");
    loaded
        .into_rule_set()
        .expect("the shipped packs check clean (rulec check rules)")
}

/// The shipped packs without their `decode` lines: the text as it is
/// only, to measure what the decoded views cost.
pub fn shipped_rule_set_without_decoding() -> RuleSet {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let loaded = rulegate_lang::load(&[dir]).expect("rules/ is readable");
    let mut spec = loaded
        .spec()
        .expect("the shipped packs check clean (rulec check rules)")
        .clone();
    for rule in &mut spec.rules {
        rule.decode = rulegate_engine::DecodingSet::NONE;
    }
    RuleSet::build(spec).expect("the shipped packs compile")
}

/// `count` generated rules (see [`generated_rules`]), compiled.
pub fn generated_rule_set(count: usize) -> RuleSet {
    let source = generated_rules(42, count);
    let loaded =
        rulegate_lang::check_sources([("generated.rules".to_string(), source.into_bytes())]);
    loaded.into_rule_set().expect("generated rules check clean")
}

/// A small, fast, seeded PRNG (xorshift64*); statistical quality is ample
/// for choosing words.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    pub fn string_from(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "request",
    "response",
    "service",
    "deploy",
    "config",
    "customer",
    "account",
    "pipeline",
    "refactor",
    "function",
    "module",
    "database",
    "cluster",
    "token",
    "session",
    "review",
    "commit",
    "branch",
    "test",
    "latency",
    "throughput",
    "memory",
    "stream",
    "gateway",
    "policy",
    "rule",
    "engine",
    "café",
    "naïve",
    "résumé",
    "Zürich",
    "日本語",
    "emoji 🚀",
];

const CODE_LINES: &[&str] = &[
    "fn main() -> Result<(), Box<dyn Error>> {",
    "    let config = Config::from_env()?;",
    "    for (i, item) in items.iter().enumerate() {",
    "        if item.len() > MAX_LEN { return Err(TooLong(i)); }",
    "    }",
    "}",
    "def handler(event, context):",
    "    body = json.loads(event['body'])",
    "    return {'statusCode': 200, 'body': json.dumps(result)}",
    "const client = new Client({ baseURL: process.env.API_URL, timeout: 30_000 });",
    "import { useState, useEffect } from 'react';",
    "SELECT id, email, created_at FROM users WHERE org_id = $1 ORDER BY id LIMIT 100;",
    "// TODO: retry with exponential backoff when the upstream returns 529",
    "    assert_eq!(parse(\"a=1\"), Ok(Pair { key: \"a\", value: 1 }));",
    "git commit -m \"Fix off-by-one in chunk boundary handling\"",
    "commit 3f2c9a1b7e4d5c6f8a9b0c1d2e3f4a5b6c7d8e9f",
    "uuid = \"123e4567-e89b-12d3-a456-426614174000\"",
    "version = \"1.42.0\"  # pinned after regression in 1.41.3",
];

const LOG_LEVELS: &[&str] = &["INFO", "WARN", "DEBUG", "ERROR"];

/// Planted values: real formats of the shipped packs' secrets and PII.
fn planted(rng: &mut Rng) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    match rng.below(8) {
        0 => format!("AKIA{}", rng.string_from(UPPER32, 16)),
        1 => format!("ghp_{}", rng.string_from(ALNUM, 36)),
        2 => format!(
            "sk-ant-api03-{}AA",
            rng.string_from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                93
            )
        ),
        3 => format!(
            "{}.{}@{}.com",
            rng.pick(&["jane", "john", "ops", "li"]),
            rng.pick(&["doe", "smith", "wang"]),
            rng.pick(&["initech", "acme", "corp"])
        ),
        4 => "4539 7485 2605 7472".to_string(),
        5 => format!(
            "xoxb-{}-{}",
            rng.string_from(b"0123456789", 12),
            rng.string_from(ALNUM, 24)
        ),
        6 => format!("AWS_SECRET_ACCESS_KEY={}", rng.string_from(B64, 40)),
        _ => "GB82 WEST 1234 5698 7654 32".to_string(),
    }
}

/// `count` words picked from `words`, space-separated, the first one
/// capitalized: the body of a sentence.
pub fn push_words(rng: &mut Rng, words: &[&str], count: usize, out: &mut String) {
    for i in 0..count {
        let word = rng.pick(words);
        if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(word);
        }
    }
}

fn prose(rng: &mut Rng, out: &mut String, bytes: usize) {
    let goal = out.len() + bytes;
    while out.len() < goal {
        let sentence_len = 6 + rng.below(14);
        push_words(rng, WORDS, sentence_len, out);
        out.push_str(if rng.below(5) == 0 { ".\n\n" } else { ". " });
    }
}

fn code(rng: &mut Rng, out: &mut String, bytes: usize) {
    let goal = out.len() + bytes;
    while out.len() < goal {
        out.push_str(rng.pick(CODE_LINES));
        out.push('\n');
    }
}

fn json_tool_output(rng: &mut Rng, out: &mut String, bytes: usize) {
    let goal = out.len() + bytes;
    out.push_str("{\"results\":[");
    while out.len() < goal {
        let _ = write!(
            out,
            "{{\"id\":{},\"name\":\"{} {}\",\"status\":\"{}\",\"score\":{}.{}}},",
            rng.below(1_000_000),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(&["ok", "pending", "failed"]),
            rng.below(100),
            rng.below(100)
        );
    }
    out.push_str("{}]}\n");
}

fn env_file(rng: &mut Rng, out: &mut String, bytes: usize) {
    let goal = out.len() + bytes;
    while out.len() < goal {
        let key = rng.pick(&[
            "DATABASE_HOST",
            "PORT",
            "LOG_LEVEL",
            "FEATURE_FLAG",
            "REGION",
        ]);
        let value = rng.pick(&["localhost", "8080", "debug", "true", "eu-west-1"]);
        let _ = writeln!(out, "{key}={value}");
    }
}

fn logs(rng: &mut Rng, out: &mut String, bytes: usize) {
    let goal = out.len() + bytes;
    while out.len() < goal {
        let _ = writeln!(
            out,
            "2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z {} [{}] {} {} took {}ms",
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.below(1000),
            rng.pick(LOG_LEVELS),
            rng.pick(&["api", "worker", "scheduler"]),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.below(2000)
        );
    }
}

/// A mixed corpus of at least `size` bytes: segments of each kind of text,
/// with one planted secret or PII value about every 10 KiB.
pub fn corpus(seed: u64, size: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(size + 16 * 1024);
    let mut next_plant = 10 * 1024;
    while out.len() < size {
        let segment = 512 + rng.below(3 * 1024);
        match rng.below(5) {
            0 => prose(&mut rng, &mut out, segment),
            1 => code(&mut rng, &mut out, segment),
            2 => json_tool_output(&mut rng, &mut out, segment),
            3 => env_file(&mut rng, &mut out, segment),
            _ => logs(&mut rng, &mut out, segment),
        }
        if out.len() >= next_plant {
            out.push(' ');
            out.push_str(&planted(&mut rng));
            out.push('\n');
            next_plant += 8 * 1024 + rng.below(4 * 1024);
        }
    }
    out
}

/// `count` synthetic rules in the `.rules` language: prefixed tokens,
/// keyword lists and bounded regexes, as a large company pack would have.
pub fn generated_rules(seed: u64, count: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for i in 0..count {
        let _ = writeln!(out, "rule generated-{i} {{");
        match i % 3 {
            0 => {
                let len = 3 + rng.below(3);
                let prefix = rng.string_from(b"abcdefghijklmnopqrstuvwxyz", len);
                let _ = writeln!(out, "  match /{prefix}_[A-Za-z0-9]{{{},{}}}/", 16, 40);
            }
            1 => {
                let (len_a, len_b) = (5 + rng.below(6), 5 + rng.below(6));
                let a = rng.string_from(b"abcdefghijklmnopqrstuvwxyz", len_a);
                let b = rng.string_from(b"abcdefghijklmnopqrstuvwxyz", len_b);
                let _ = writeln!(out, "  match \"project {a}\", \"{b}\" nocase word");
            }
            _ => {
                let tag = rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 3);
                let _ = writeln!(out, "  match /\\b{tag}-\\d{{4,8}}\\b/");
            }
        }
        let _ = writeln!(out, "  request mask \"[redacted:{{rule}}]\"");
        let _ = writeln!(out, "  response mask \"[redacted:{{rule}}]\"");
        let _ = writeln!(out, "}}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic_and_planted() {
        let a = corpus(7, 64 * 1024);
        assert_eq!(a, corpus(7, 64 * 1024));
        assert!(a.len() >= 64 * 1024);
        assert_ne!(a, corpus(8, 64 * 1024));
    }
}
