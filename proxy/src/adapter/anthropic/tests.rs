//! The request and reply walks: scopes, keys, opaque fields, the newest
//! turn, and strict JSON.

use rulegate_engine::{Disposition, RuleSet, Scope};

use super::{Anthropic, BATCH, COMPLETE, MESSAGES};
use crate::adapter::{ApiAdapter, Fired, InspectError, Inspection, Outcome};
use crate::outcome_memory::Generation;

/// Masks `SECRETn` with the name of the scope it was found in, so a test
/// sees which scope the walker gave each string.
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
rule halt {
  match /HALT/
  request reject "no halting" in user
}
"#;

fn rules() -> RuleSet {
    rulegate_lang::check_sources([("t.rules".to_owned(), SCOPED.as_bytes().to_vec())])
        .compile()
        .expect("test rules compile")
}

fn inspect(kind: &'static str, body: &str) -> Inspection {
    let inspection = Anthropic
        .inspect_request(kind, &rules().into(), body.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {body}"));
    // The same through an outcome memory, cold and warm.
    let remembering = Generation::new(rules(), 1 << 20);
    for _ in 0..2 {
        let again = Anthropic.inspect_request(kind, &remembering, body.as_bytes());
        assert_eq!(again.as_ref(), Ok(&inspection), "{body}");
    }
    inspection
}

fn masked_as(kind: &'static str, body: &str) -> String {
    match inspect(kind, body).outcome {
        Outcome::Masked(bytes) => String::from_utf8(bytes).unwrap(),
        other => panic!("expected a masked body, got {other:?}"),
    }
}

fn masked(body: &str) -> String {
    masked_as(MESSAGES, body)
}

fn rejected(body: &str) -> String {
    match inspect(MESSAGES, body).outcome {
        Outcome::Rejected { message } => message,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_clean_body_is_unchanged() {
    let body = r#"{"model":"m","system":"be nice","messages":[{"role":"user","content":"hi"}]}"#;
    let inspection = inspect(MESSAGES, body);
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
        ("\"user_id\": \"SECRET5\"", "\"user_id\": \"[system]\""),
    ] {
        assert!(
            out.contains(scope),
            "{original} should become {scope} in\n{out}"
        );
    }
    assert!(!out.contains("SECRET"), "{out}");
    // Only the masked strings changed.
    let mut undone = out.clone();
    for tag in ["system", "user", "assistant", "tool_result", "tool_input"] {
        undone = undone.replace(&format!("[{tag}]"), "SECRET#");
    }
    let normalized: String = body
        .split("SECRET")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_owned()
            } else {
                format!("SECRET#{}", &part[1..])
            }
        })
        .collect();
    assert_eq!(undone, normalized);
}

#[test]
fn object_keys_are_scanned_and_masked_in_place() {
    let body = r#"{"tools":[{"name":"t","input_schema":{"properties":{"SECRET1":{"type":"string"}}}}],"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"n","input":{"SECRET2":"v","ok":{"SECRET3 k":1}}}]}]}"#;
    let out = masked(body);
    assert_eq!(
        out,
        body.replace("\"SECRET1\"", "\"[system]\"")
            .replace("\"SECRET2\"", "\"[tool_input]\"")
            .replace("\"SECRET3 k\"", "\"[tool_input] k\"")
    );
    let fired = inspect(MESSAGES, body).fired;
    // A key is located by its member index, never by its text.
    assert_eq!(
        fired[1].location, "messages[0].content[0].input.#0 (key)",
        "{fired:?}"
    );
    assert!(fired.iter().all(|f| !f.location.contains("SECRET")));
}

#[test]
fn keys_masked_to_the_same_text_are_refused_not_sent_as_duplicates() {
    // Two keys of one object that differ only in their secret mask to
    // the same key: that body is not strict JSON, so it is refused.
    let body = r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"n","input":{"k SECRET1":1,"k SECRET2":2}}]}]}"#;
    match inspect(MESSAGES, body).outcome {
        Outcome::Rejected { message } => assert!(message.contains("keys"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Keys of different objects may mask alike.
    let body = r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"n","input":{"k SECRET1":1,"o":{"k SECRET2":2}}}]}]}"#;
    assert!(masked(body).contains(r#""k [tool_input]":1,"o":{"k [tool_input]":2}"#));
}

#[test]
fn opaque_fields_are_skipped_by_block_type_and_field_only() {
    let body = r#"{"messages":[
  {"role":"user","content":[
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"SECRET1FORBIDDEN"}},
    {"type":"image","source":{"type":"url","url":"https://x.io/SECRET2.png"}},
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"SECRET3"}},
    {"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"SECRET4"}}]}
  ]},
  {"role":"assistant","content":[
    {"type":"thinking","thinking":"SECRET5 FORBIDDEN","signature":"SECRET6"},
    {"type":"redacted_thinking","data":"SECRET7"},
    {"type":"tool_use","id":"u","name":"n","input":{"signature":"SECRET8","cache_control":{"x":"SECRET9"},"type":"thinking","thinking":"SECRET1"}},
    {"type":"future_block","signature":"SECRET2","encrypted_content":"SECRET3","text":"SECRET4"}
  ]},
  {"role":"user","content":[{"type":"thinking","thinking":"user SECRET5","signature":"SECRET6"}]},
  {"role":"user","content":"ok"}
]}"#;
    let out = masked(body);
    for kept in [
        "SECRET1FORBIDDEN",
        "\"data\":\"SECRET3\"",
        "\"data\":\"SECRET4\"",
        "SECRET5 FORBIDDEN",
        "SECRET6",
        "SECRET7",
    ] {
        assert!(out.contains(kept), "{kept} should be left alone in {out}");
    }
    for masked in [
        "https://x.io/[user].png",
        r#""signature":"[tool_input]""#,
        r#""x":"[tool_input]""#,
        r#""thinking":"[tool_input]""#,
        r#""signature":"[assistant]","encrypted_content":"[assistant]","text":"[assistant]""#,
        r#""thinking":"user [user]","signature":"[user]""#,
    ] {
        assert!(out.contains(masked), "{masked} missing in {out}");
    }
}

#[test]
fn a_reject_names_every_rule_and_where_in_words() {
    let message = rejected(
        r#"{"messages":[{"role":"user","content":"ok"},{"role":"user","content":[{"type":"text","text":"a FORBIDDEN word"},{"type":"text","text":"HALT"}]}]}"#,
    );
    assert!(message.contains("rules `stop`, `halt`"), "{message}");
    assert!(
        message.contains(
            "`stop` in your message (messages[1].content[0].text): that word is not allowed."
        ),
        "{message}"
    );
    assert!(
        message.contains("`halt` in your message (messages[1].content[1].text): no halting."),
        "{message}"
    );
    assert!(message.contains("Esc twice"), "{message}");
}

#[test]
fn a_reject_in_attached_context_says_so() {
    let message = rejected(
        r#"{"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>CLAUDE.md says HALT</system-reminder>"},{"type":"text","text":"hi"}]}]}"#,
    );
    assert!(
        message.contains("context attached to your message"),
        "{message}"
    );
    assert!(message.contains("CLAUDE.md"), "{message}");
}

#[test]
fn earlier_turns_get_the_mask_instead_of_the_reject() {
    // The rejected message stays in the client's history: the next turn
    // must go through with it masked.
    let body = r#"{"messages":[{"role":"user","content":"a FORBIDDEN word"},{"role":"assistant","content":"sorry"},{"role":"user","content":"hello"}]}"#;
    let inspection = inspect(MESSAGES, body);
    match &inspection.outcome {
        Outcome::Masked(bytes) => assert_eq!(
            std::str::from_utf8(bytes).unwrap(),
            body.replace("FORBIDDEN", "[redacted:stop]")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        inspection.fired,
        [Fired {
            rule: "stop".to_owned(),
            disposition: Disposition::Mask,
            scope: Scope::User,
            location: "messages[0].content".to_owned(),
            count: 1,
            instead_of: Some(Disposition::Reject),
        }]
    );
    // The system prompt is resent every turn too.
    let system = r#"{"system":"HALT","messages":[{"role":"user","content":"hi"}]}"#;
    assert!(matches!(
        inspect(MESSAGES, system).outcome,
        Outcome::Unchanged
    ));
    // A prefilled assistant turn after the newest user turn.
    let prefill =
        r#"{"messages":[{"role":"user","content":"HALT"},{"role":"assistant","content":"Sure"}]}"#;
    assert!(rejected(prefill).contains("`halt`"));
}

#[test]
fn log_findings_are_reported_without_changing_the_body() {
    let body = r#"{"messages":[{"role":"assistant","content":"FORBIDDEN in history"}]}"#;
    let inspection = inspect(MESSAGES, body);
    assert_eq!(inspection.outcome, Outcome::Unchanged);
    assert_eq!(inspection.fired[0].disposition, Disposition::Log);
    assert_eq!(inspection.fired[0].location, "messages[0].content");
}

#[test]
fn escapes_are_decoded_before_scanning_and_reencoded_when_masked() {
    let out = masked(r#"{"messages":[{"role":"user","content":"a\nSECRET\u0031 \"q\" \u00e9"}]}"#);
    assert_eq!(
        out,
        r#"{"messages":[{"role":"user","content":"a\n[user] \"q\" é"}]}"#
    );
}

#[test]
fn ambiguous_or_malformed_bodies_are_errors() {
    let set: Generation = rules().into();
    let err = |body: &str| Anthropic.inspect_request(MESSAGES, &set, body.as_bytes());
    assert!(matches!(
        err("{\"messages\": [}"),
        Err(InspectError::Json(_))
    ));
    assert_eq!(err("[1]"), Err(InspectError::NotAnObject));
    assert!(matches!(err(""), Err(InspectError::Json(_))));
    for duplicate in [
        r#"{"messages":[{"role":"user","content":"hello","content":"SECRET1"}]}"#,
        r#"{"messages":[{"role":"user","role":"assistant","content":"x"}]}"#,
        r#"{"messages":[{"role":"user","content":[{"type":"thinking","type":"text","text":"x"}]}]}"#,
        r#"{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","type":"url","data":"x"}}]}]}"#,
    ] {
        match err(duplicate) {
            Err(InspectError::Json(e)) => {
                assert_eq!(e.reason, "duplicate object key", "{duplicate}")
            }
            other => panic!("{duplicate}: {other:?}"),
        }
    }
    match err(r#"{"messages":[{"role":"user","content":"\ud800SECRET1"}]}"#) {
        Err(InspectError::Json(e)) => assert!(e.reason.contains("surrogate")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn batch_requests_and_text_completions_are_inspected() {
    let batch = r#"{"requests":[{"custom_id":"a","params":{"model":"m","messages":[{"role":"user","content":"x SECRET1"}]}},{"custom_id":"b","params":{"messages":[{"role":"user","content":"HALT"},{"role":"assistant","content":"k"},{"role":"user","content":"y"}]}}]}"#;
    let out = masked_as(BATCH, batch);
    assert!(out.contains("x [user]"), "{out}");
    assert!(out.contains("[redacted:halt]"), "{out}");
    let batch_reject = r#"{"requests":[{"custom_id":"a","params":{"messages":[{"role":"user","content":"HALT"}]}}]}"#;
    assert!(matches!(
        inspect(BATCH, batch_reject).outcome,
        Outcome::Rejected { .. }
    ));
    let complete = r#"{"model":"claude-2","prompt":"\n\nHuman: SECRET1\n\nAssistant:","max_tokens_to_sample":5}"#;
    assert!(masked_as(COMPLETE, complete).contains("Human: [user]"));
    let complete_reject = r#"{"prompt":"\n\nHuman: HALT\n\nAssistant:"}"#;
    assert!(matches!(
        inspect(COMPLETE, complete_reject).outcome,
        Outcome::Rejected { .. }
    ));
}

#[test]
fn replies_mask_text_tool_input_and_reject() {
    let set = Generation::new(rules(), 1 << 20);
    let body = r#"{"type":"message","content":[{"type":"text","text":"x SECRET1"},{"type":"tool_use","id":"t","name":"n","input":{"a":"SECRET2","SECRET3":1}},{"type":"thinking","thinking":"SECRET4","signature":"s"}]}"#;
    let inspection = Anthropic
        .inspect_reply(MESSAGES, &set, body.as_bytes())
        .unwrap();
    match inspection.outcome {
        Outcome::Masked(bytes) => assert_eq!(
            String::from_utf8(bytes).unwrap(),
            body.replace("x SECRET1", "x [response]")
                .replace("SECRET2", "[response]")
                .replace("SECRET3", "[response]")
        ),
        other => panic!("{other:?}"),
    }
    // Signed thinking: the mask is logged, not carried out.
    let thinking = inspection
        .fired
        .iter()
        .find(|f| f.location.contains("thinking"))
        .unwrap();
    assert_eq!(thinking.disposition, Disposition::Log);
    assert_eq!(thinking.instead_of, Some(Disposition::Mask));
    for rejected in [
        r#"{"content":[{"type":"text","text":"FORBIDDEN"}]}"#,
        r#"{"content":[{"type":"thinking","thinking":"FORBIDDEN","signature":"s"}]}"#,
    ] {
        assert!(matches!(
            Anthropic
                .inspect_reply(MESSAGES, &set, rejected.as_bytes())
                .unwrap()
                .outcome,
            Outcome::Rejected { .. }
        ));
    }
}

#[test]
fn findings_are_coalesced_and_a_reject_lists_a_few_places() {
    let many = "SECRET1 ".repeat(1000);
    let blocks: Vec<String> = (0..50)
        .map(|_| format!(r#"{{"type":"text","text":"{many}"}}"#))
        .collect();
    let body = format!(
        r#"{{"messages":[{{"role":"assistant","content":[{}]}},{{"role":"user","content":"ok"}}]}}"#,
        blocks.join(",")
    );
    let fired = inspect(MESSAGES, &body).fired;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].count, 50_000);
    assert_eq!(fired[0].location, "messages[0].content[0].text");
    let halts: Vec<String> = (0..20)
        .map(|_| r#"{"type":"text","text":"HALT HALT"}"#.to_owned())
        .collect();
    let body = format!(
        r#"{{"messages":[{{"role":"user","content":[{}]}}]}}"#,
        halts.join(",")
    );
    let message = rejected(&body);
    assert_eq!(
        message.matches("`halt` in your message").count(),
        8,
        "{message}"
    );
    assert!(message.contains("And 12 more."), "{message}");
}

#[test]
fn a_limited_inspection_gives_up_on_new_text_and_answers_for_known_text() {
    let generation = Generation::new(rules(), 1 << 20);
    let text = format!("a key SECRET1 in {}", "long text ".repeat(100));
    let body = serde_json::to_vec(&serde_json::json!({
        "messages": [{"role": "user", "content": text}],
    }))
    .unwrap();
    assert_eq!(
        Anthropic.inspect_request_within(MESSAGES, &generation, &body, 100),
        None
    );
    let full = Anthropic.inspect_request(MESSAGES, &generation, &body);
    assert!(matches!(
        &full,
        Ok(Inspection {
            outcome: Outcome::Masked(_),
            ..
        })
    ));
    // Now known: nothing left to scan but the short keys.
    assert_eq!(
        Anthropic.inspect_request_within(MESSAGES, &generation, &body, 100),
        Some(full)
    );
}

#[test]
fn a_clean_part_is_remembered_for_how_it_was_walked_not_only_its_bytes() {
    let generation = Generation::new(rules(), 1 << 20);
    // Opaque in a system prompt (a base64 image's data), scanned anywhere
    // a body's shape is not the API's.
    let part = r#"[{"type":"image","source":{"type":"base64","data":"SECRET1 in pixels"}}]"#;
    let as_system = format!(r#"{{"system":{part},"messages":[]}}"#);
    let as_other = format!(r#"{{"other":{part},"messages":[]}}"#);
    let first = Anthropic.inspect_request(MESSAGES, &generation, as_system.as_bytes());
    assert!(matches!(
        first,
        Ok(Inspection {
            outcome: Outcome::Unchanged,
            ..
        })
    ));
    let second = Anthropic.inspect_request(MESSAGES, &generation, as_other.as_bytes());
    let plain: Generation = rules().into();
    assert_eq!(
        second,
        Anthropic.inspect_request(MESSAGES, &plain, as_other.as_bytes())
    );
    assert!(matches!(
        second,
        Ok(Inspection {
            outcome: Outcome::Masked(_),
            ..
        })
    ));
}

/// A conversation resent turn after turn, its texts drawn from a small
/// pool so the same text comes back in other scopes, other turns and the
/// newest user turn (where a reject counts) and older ones (where it
/// becomes a mask).
mod remembered {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;

    /// Long enough to be remembered unless marked short; secrets that
    /// mask by scope, reject in the user's turn, or only log.
    fn pool() -> Vec<String> {
        let filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(3);
        vec![
            format!("clean text {filler}"),
            format!("clean \"quoted\"\nand escaped\t{filler}"),
            format!("a key SECRET1 in it {filler}"),
            format!("{filler} SECRET2 and SECRET3 at the end"),
            format!("FORBIDDEN words {filler}"),
            format!("HALT here {filler} SECRET4"),
            "SECRET5 short".to_owned(),
            "FORBIDDEN short".to_owned(),
            "SECRET6".to_owned(),
            format!("{filler}{filler}{filler}"),
        ]
    }

    #[derive(Debug, Clone)]
    struct Turn {
        /// Pool indices: the assistant's text, its tool call's input, the
        /// user's text, the tool result, a `system` message if any.
        said: usize,
        input: usize,
        typed: usize,
        result: usize,
        system: Option<usize>,
    }

    fn turn(size: usize) -> impl Strategy<Value = Turn> {
        (
            0..size,
            0..size,
            0..size,
            0..size,
            proptest::option::of(0..size),
        )
            .prop_map(|(said, input, typed, result, system)| Turn {
                said,
                input,
                typed,
                result,
                system,
            })
    }

    /// The request after `turns`: the system prompt, then each turn's
    /// user message (text and the previous tool call's result) and the
    /// assistant's reply; the last user message is the newest turn.
    fn request(system: usize, turns: &[Turn], pool: &[String]) -> Vec<u8> {
        let mut messages = Vec::new();
        for (n, turn) in turns.iter().enumerate() {
            let mut content = vec![json!({"type": "text", "text": pool[turn.typed]})];
            if n > 0 {
                content.push(json!({
                    "type": "tool_result",
                    "tool_use_id": format!("t{}", n - 1),
                    "content": pool[turn.result],
                }));
            }
            messages.push(json!({"role": "user", "content": content}));
            if let Some(system) = turn.system {
                messages.push(json!({"role": "system", "content": pool[system]}));
            }
            if n + 1 < turns.len() {
                messages.push(json!({"role": "assistant", "content": [
                    {"type": "text", "text": pool[turn.said]},
                    {"type": "tool_use", "id": format!("t{n}"), "name": "Read",
                     "input": {"path": pool[turn.input], pool[turn.input].clone(): 1}},
                ]}));
            }
        }
        let body: Value = json!({
            "model": "m",
            "system": [{"type": "text", "text": pool[system]}],
            "messages": messages,
        });
        serde_json::to_vec(&body).unwrap()
    }

    /// An inspection with the body as text, so a failure reads.
    fn shown(inspected: Result<Inspection, InspectError>) -> String {
        match inspected {
            Ok(Inspection { outcome, fired }) => {
                let outcome = match outcome {
                    Outcome::Masked(bytes) => format!("masked {}", String::from_utf8_lossy(&bytes)),
                    other => format!("{other:?}"),
                };
                format!("{outcome}\nfired {fired:?}")
            }
            Err(error) => format!("error {error}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// What goes upstream (or the refusal, and every rule that fired)
        /// with the memory is what it is without, for every request of a
        /// growing conversation, whatever the memory has room for.
        #[test]
        fn a_resent_conversation_inspects_the_same_with_the_memory(
            system in 0..10usize,
            turns in proptest::collection::vec(turn(10), 1..8),
            budget in prop::sample::select(vec![2 * 1024, 16 * 1024, 1 << 20]),
            scan_limit in prop::sample::select(vec![0, 300, 4096]),
        ) {
            let pool = pool();
            let plain: Generation = rules().into();
            let remembering = Generation::new(rules(), budget);
            for upto in 1..=turns.len() {
                let body = request(system, &turns[..upto], &pool);
                let expected = shown(Anthropic.inspect_request(MESSAGES, &plain, &body));
                // A limited inspection answers the same or not at all, and
                // giving up leaves the memory as right as it was.
                let limited = Anthropic.inspect_request_within(MESSAGES, &remembering, &body, scan_limit);
                if let Some(limited) = limited {
                    prop_assert_eq!(shown(limited), expected.clone(), "limited, request {}", upto);
                }
                let unlimited = Anthropic.inspect_request_within(MESSAGES, &plain, &body, usize::MAX);
                prop_assert_eq!(unlimited.map(shown), Some(expected.clone()), "unlimited, request {}", upto);
                let got = shown(Anthropic.inspect_request(MESSAGES, &remembering, &body));
                prop_assert_eq!(got, expected, "request {}", upto);
            }
            // Replies too (their side has rules of its own).
            let reply = serde_json::to_vec(&json!({
                "type": "message",
                "content": [{"type": "text", "text": pool[system]}],
            })).unwrap();
            prop_assert_eq!(
                shown(Anthropic.inspect_reply(MESSAGES, &remembering, &reply)),
                shown(Anthropic.inspect_reply(MESSAGES, &plain, &reply))
            );
        }
    }
}
