//! The shipped packs through both engine modes on realistic text: for any
//! slice of the seeded corpus and any cutting, streaming equals block on
//! every side and scope the proxy uses.

use proptest::prelude::*;
use rulegate_engine::{RuleSet, Scope, Side, Verdict};

fn shipped() -> &'static RuleSet {
    static SET: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
    SET.get_or_init(rulegate_benches::shipped_rule_set)
}

fn block(set: &RuleSet, side: Side, scope: Scope, text: &str) -> (String, Option<String>) {
    match set.apply(side, scope, text).verdict {
        Verdict::Clean => (text.to_string(), None),
        Verdict::Masked(out) => (out, None),
        Verdict::Rejected(r) => (String::new(), Some(r.rule_name)),
    }
}

fn streamed(
    set: &RuleSet,
    side: Side,
    scope: Scope,
    text: &[u8],
    sizes: &[usize],
) -> (String, Option<String>) {
    let mut scanner = set.scanner(side, scope);
    let mut out = Vec::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    while at < text.len() {
        let end = (at + sizes.next().copied().unwrap_or(1)).min(text.len());
        if let Err(r) = scanner.push(&text[at..end], &mut out) {
            return (String::new(), Some(r.rule_name));
        }
        at = end;
    }
    if let Err(r) = scanner.finish(&mut out) {
        return (String::new(), Some(r.rule_name));
    }
    (String::from_utf8(out).expect("valid UTF-8 out"), None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn streaming_equals_block_on_the_corpus(
        seed in any::<u64>(),
        sizes in prop::collection::vec(1usize..97, 1..8),
    ) {
        let set = shipped();
        let text = rulegate_benches::corpus(seed, 12 * 1024);
        for (side, scope) in [
            (Side::Response, Scope::Assistant),
            (Side::Request, Scope::ToolResult),
            (Side::Request, Scope::System),
        ] {
            let want = block(set, side, scope, &text);
            let got = streamed(set, side, scope, text.as_bytes(), &sizes);
            prop_assert_eq!(got, want);
        }
    }
}

#[test]
fn planted_values_are_masked_in_responses() {
    let set = shipped();
    let text = rulegate_benches::corpus(3, 256 * 1024);
    let (masked, rejected) = block(set, Side::Response, Scope::Assistant, &text);
    assert_eq!(rejected, None);
    assert!(masked.contains("[redacted:"));
    for planted in ["ghp_", "AKIA", "4539 7485 2605 7472"] {
        let before = text.matches(planted).count();
        let after = masked.matches(planted).count();
        assert!(
            before > 0 && after < before,
            "{planted}: {before} → {after}"
        );
    }
}

/// A token in a URL's user info is also the local part of an email-shaped
/// `token@host`, a longer match at the same start. The email rule only
/// logs on the request side, so were the longer match to win there, the
/// token would go upstream as it is; both engine modes and every view
/// must let the masking rule win.
#[test]
fn a_log_only_email_match_does_not_hide_a_token_in_a_url() {
    let set = shipped();
    let token = "ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh";
    for text in [
        format!("origin\thttps://x-access-token:{token}@github.com/acme/app.git (fetch)"),
        format!("{{\"remote\": \"https://x-access-token:{token}@github.com/acme/app.git\"}}"),
        format!("url = https%3A%2F%2Fbot%3A{token}%40github.com%2Facme"),
        "npm config set //registry.acme.io/:_authToken npm_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh@acme.io"
            .to_string(),
    ] {
        for scope in [Scope::User, Scope::ToolResult, Scope::System] {
            let (out, rejected) = block(set, Side::Request, scope, &text);
            assert!(
                rejected.is_some() || (!out.contains("a9U4UqGW") && out.contains("[redacted:")),
                "{scope:?}: {text} -> {out}"
            );
            for sizes in [&[1usize][..], &[7], &[64]] {
                let got = streamed(set, Side::Request, scope, text.as_bytes(), sizes);
                assert_eq!(got, (out.clone(), rejected.clone()), "{scope:?} {sizes:?}: {text}");
            }
        }
    }
}

/// Think like an attacker: put every log-only rule's example hit (an
/// email, a phone number, an IP or MAC address) next to every masking or
/// rejecting rule's example hit, with the separators text has between two
/// values, and check that the log-only rules never let through a secret
/// that the packs without them would have stopped: the secret's own
/// finding (found in its example alone) must not come out verbatim when
/// it does not without the log-only rules. Known limit, not covered: with
/// no separator, or a bare `.` or `:`, a log-only match can still run
/// into the next value and cover its start (`jane@acme.io.aws secret
/// access key: …` ends in the TLD `.aws`; an IPv6 address glued to digits
/// by `:`); only a candidate at the same start is ranked below a masking
/// one (see the README's matching semantics).
#[test]
fn log_only_rules_never_let_a_secret_through() {
    use rulegate_engine::{Action, Expect, RuleSetSpec};
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let spec: RuleSetSpec = rulegate_lang::load(&[dir])
        .expect("rules/ is readable")
        .spec()
        .expect("the shipped packs check clean")
        .clone();
    let hits = |rule: &rulegate_engine::RuleSpec| -> Vec<String> {
        rule.examples
            .iter()
            .filter(|e| e.expect == Expect::Hit)
            .map(|e| e.text.clone())
            .collect()
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for (side, scope) in [
        (Side::Request, Scope::User),
        (Side::Request, Scope::ToolResult),
        (Side::Response, Scope::Assistant),
    ] {
        let logs_only = |rule: &rulegate_engine::RuleSpec| {
            matches!(rule.action_for(side, scope), Some(Action::Log))
        };
        let mut acting_spec = spec.clone();
        acting_spec.rules.retain(|r| !logs_only(r));
        let all = RuleSet::build(spec.clone()).expect("builds");
        let acting = RuleSet::build(acting_spec).expect("builds");
        let logged: Vec<String> = spec
            .rules
            .iter()
            .filter(|r| logs_only(r))
            .flat_map(hits)
            .collect();
        for rule in spec
            .rules
            .iter()
            .filter(|r| r.action_for(side, scope).is_some() && !logs_only(r))
        {
            for example in hits(rule) {
                // The secret: what the rule itself finds in its example.
                let Some(secret) = acting
                    .findings(side, scope, example.as_bytes())
                    .into_iter()
                    .find(|f| acting.rule(f.rule).is_some_and(|r| r.name == rule.name))
                    .map(|f| example[f.start..f.end].to_string())
                else {
                    continue;
                };
                for log in &logged {
                    for glue in [" ", "\n", ", ", "; ", " | ", "\t"] {
                        for text in [
                            format!("{log}{glue}{example}"),
                            format!("{example}{glue}{log}"),
                        ] {
                            let (want, want_rejected) = block(&acting, side, scope, &text);
                            let (got, got_rejected) = block(&all, side, scope, &text);
                            checked += 1;
                            let stopped = |out: &str, rejected: &Option<String>| {
                                rejected.is_some() || !out.contains(&secret)
                            };
                            if stopped(&want, &want_rejected) && !stopped(&got, &got_rejected) {
                                failures.push(format!(
                                    "{side:?} {scope:?} [{}]: {text:?} -> {got:?}",
                                    rule.name
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked} texts");
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A response streamed in 1-, 3- and 64-byte chunks comes out as `out`,
/// the block result, with nothing rejected.
fn streams_as_block(set: &RuleSet, text: &str, out: &str) {
    for sizes in [&[1usize][..], &[3], &[64]] {
        let got = streamed(
            set,
            Side::Response,
            Scope::Assistant,
            text.as_bytes(),
            sizes,
        );
        assert_eq!(got, (out.to_string(), None), "{sizes:?}: {text}");
    }
}

/// A vendor key of a shape with no `prefix_` sits under whatever key name
/// its author chose, or in a URL as the password: generic-secret-assignment
/// and url-credentials leave it to its vendor rule, so the mask names what
/// the key is. The mask must still cover the whole key, in block and
/// stream; and a value the vendor rule would not take stays masked.
#[test]
fn a_vendor_key_under_a_generic_key_name_is_named_by_its_vendor_rule() {
    let set = shipped();
    let keys = [
        ("google-api-key", "AIzaSyD4kq9Vb2Lm7Tn3Xw8Pz1Rc6Hf0Jg5Ys2E"),
        ("twilio-api-key", "SK3f9a0c7e2b4d61f8a5c9e0b7d2f4a6c1"),
        ("databricks-token", "dapi4f9e1c3b7a2d8e6f0c5b9a1d3e7f2c8b"),
        ("aws-access-key-id", "AKIAQ3F7ZX2LMP5RTY6N"),
        (
            "sendgrid-api-key",
            "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",
        ),
        (
            "mailgun-api-key",
            "3f9a0c7e2b4d61f8a5c9e0b7d2f4a6c1-4f9e1c3b-7a2d8e6f",
        ),
    ];
    for (rule, key) in keys {
        for text in [
            format!("SERVICE_SECRET={key}\n"),
            format!("{{\"client_secret\": \"{key}\"}}"),
            format!("the api key is {key} for staging"),
            format!("curl https://svc:{key}@api.acme.io/v1/export"),
            format!("GET /v1/items?api_key={key}&limit=10 HTTP/1.1"),
        ] {
            let (out, rejected) = block(set, Side::Response, Scope::Assistant, &text);
            assert_eq!(rejected, None, "{text}");
            assert!(
                out.contains(&format!("[redacted:{rule}"))
                    && !out.contains(&key[8..])
                    && (!text.contains("&limit") || out.contains("&limit=10")),
                "{text} -> {out}"
            );
            streams_as_block(set, &text, &out);
        }
    }
    // Not an Azure key's shape: 88 base64 characters under a generic name
    // stay the generic rule's, which masks this one (the base64 of a
    // passphrase: 4.9 bits of entropy, under the bare Azure rule's 5).
    let value =
        "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZSwgY29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZSwgeWVzIQ==";
    let text = format!("SERVICE_SECRET={value}\n");
    let (out, _) = block(set, Side::Response, Scope::Assistant, &text);
    assert!(
        out.contains("[redacted:generic-secret-assignment]") && !out.contains("Y29y"),
        "{out}"
    );
    streams_as_block(set, &text, &out);
}

/// A JSON Web Token hard-wrapped at any common width, indented or not,
/// with `\n` or `\r\n`: no line of it comes out, in block and stream.
#[test]
fn a_hard_wrapped_jwt_is_masked_whole() {
    let set = shipped();
    let jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhY21lLWJvdCIsInNjb3BlIjoicmVwbyIsImV4cCI6MTcwMDAwMDAwMH0.Q1ZrdHZ0a0R4S2p6bVp3RkpVa2N6Y1FSRjRpN0Z2R2hY";
    for width in [40, 64, 76] {
        for (indent, newline) in [("", "\n"), ("    ", "\n"), ("  ", "\r\n")] {
            let lines: Vec<&str> = jwt
                .as_bytes()
                .chunks(width)
                .map(|c| std::str::from_utf8(c).expect("ASCII"))
                .collect();
            let body = lines.join(&format!("{newline}{indent}"));
            let text = format!("token: |{newline}{indent}{body}{newline}next: value{newline}");
            let (out, rejected) = block(set, Side::Response, Scope::Assistant, &text);
            assert_eq!(rejected, None);
            for line in &lines {
                assert!(!out.contains(line), "{width} {indent:?}: {line} in {out}");
            }
            assert!(out.contains("next: value"), "{out}");
            streams_as_block(set, &text, &out);
        }
    }
}

/// Found by the fuzzer: a shard's match (`token=9`) and a run pattern's
/// end (the bare AWS key) in one pushed chunk. The run tracker steps the
/// chunk before the shards, and the shards' earlier match end used to
/// overwrite the run's, so the stream, held at the key's start, never
/// came back to it.
#[test]
fn a_run_end_after_a_shard_match_in_one_chunk_is_kept() {
    let set = shipped();
    let text = "token=9 GMmjxWkIRWJ1Gk8cgSCifdFzctEq8oB7GVvouNnd%jFn";
    let (out, _) = block(set, Side::Response, Scope::Assistant, text);
    assert!(
        out.contains("[redacted:aws-secret-access-key-bare]"),
        "{out}"
    );
    streams_as_block(set, text, &out);
}
