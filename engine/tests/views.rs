//! Decoded views: what each decoding finds, where the mask lands in the
//! original bytes, and chunk invariance (every cutting of a stream, cuts
//! inside escapes and characters included, gives the block result) for a
//! rule set with several views.

mod support;

use proptest::prelude::*;
use rulegate_engine::{
    Action, ActionClause, Decoding, DecodingSet, RuleSet, RuleSetSpec, RuleSpec, Scope, ScopeSet,
    Side, Verdict,
};
use support::{literal, mask_all, regex, rule, stream_with_cuts};

fn with_decode(mut rule: RuleSpec, decodings: &[Decoding]) -> RuleSpec {
    rule.decode = decodings.iter().copied().collect::<DecodingSet>();
    rule
}

/// Masks as `<name>` (mask_all's `[x:name]` with `x` = `<` and the
/// brackets taken off in `masked`).
fn masking(name: &str, mut rule: RuleSpec) -> RuleSpec {
    rule.actions = mask_all(name);
    rule
}

const TEXT: [Decoding; 3] = [Decoding::Percent, Decoding::JsonEscape, Decoding::Unicode];

/// Views of every kind, with rules that overlap across them.
fn views_spec() -> RuleSetSpec {
    let mut reject_pw = with_decode(
        rule("pw", vec![regex("pw=[a-z0-9]{4,8}")], vec![]),
        &[Decoding::Percent],
    );
    reject_pw.actions = vec![ActionClause {
        side: Side::Request,
        action: Action::Reject {
            message: "no passwords".into(),
        },
        scopes: ScopeSet::ALL,
    }];
    reject_pw.actions.extend(mask_all("pw"));
    // What follows a key is read in the key's views too: `%2Etest`,
    // `\u002etest` and a zero-width space inside `.test` all except it.
    let mut key = rule("key", vec![regex("sk-[a-z0-9]{6,10}")], vec![]);
    key.unless_followed_by = vec![regex(r"\.test\b")];
    // A run pattern (counted, in no shard; see the engine's `runs`) whose
    // runs the decoded views join up: `%4D` or a zero-width space inside.
    let mut run = rule("run", vec![regex("[A-Z]{20}")], vec![]);
    run.unless_preceded_by = vec![regex("[A-Z]")];
    run.unless_followed_by = vec![regex("[A-Z]")];
    RuleSetSpec {
        rules: vec![
            masking("key", with_decode(key, &TEXT)),
            reject_pw,
            masking(
                "word",
                with_decode(
                    rule("word", vec![literal("secret", true, true)], vec![]),
                    &[Decoding::Unicode],
                ),
            ),
            masking(
                "basic",
                with_decode(
                    rule("basic", vec![regex("alice:[a-z0-9]{3,8}")], vec![]),
                    &[Decoding::Base64],
                ),
            ),
            masking("raw", rule("raw", vec![regex("ab[0-9]{2}")], vec![])),
            // A pattern with a lead (see the engine's `leads`): its shard
            // steps it from the `@`, and each view's windows and hold
            // reach back over the local part.
            masking(
                "mail",
                with_decode(
                    rule(
                        "mail",
                        vec![regex(r"\b[a-z0-9.]{1,12}@[a-z]{2,8}\.[a-z]{2,3}\b")],
                        vec![],
                    ),
                    &TEXT,
                ),
            ),
            masking(
                "run",
                with_decode(
                    run,
                    &[Decoding::Percent, Decoding::Unicode, Decoding::Base64],
                ),
            ),
        ],
    }
}

fn views_set() -> RuleSet {
    RuleSet::build(views_spec()).expect("views spec builds")
}

fn masked(set: &RuleSet, text: &str) -> String {
    match set.apply(Side::Response, Scope::Assistant, text).verdict {
        Verdict::Clean => text.to_string(),
        Verdict::Masked(masked) => {
            let mut shown = masked;
            for name in ["key", "pw", "word", "basic", "raw", "mail"] {
                shown = shown.replace(&format!("[{name}:{name}]"), &format!("<{name}>"));
            }
            shown
        }
        Verdict::Rejected(rejection) => format!("rejected by {}", rejection.rule_name),
    }
}

#[test]
fn each_decoding_finds_what_it_hides_and_masks_the_encoded_bytes() {
    let set = views_set();
    let cases = [
        // Percent-encoded, in a query string.
        ("GET /?k=sk%2Dabc123def&x=1", "GET /?k=<key>&x=1"),
        ("pw%3Dhunter22 end", "<pw> end"),
        // JSON inside a JSON string: escapes, and escaped twice.
        (r#"{\"k\":\"sk\u002dabc123def\"}"#, r#"{\"k\":\"<key>\"}"#),
        (r"line\\nsk-abc123def", r"line\\n<key>"),
        // Invisible and look-alike characters inside the secret.
        ("sk-abc\u{200B}123def!", "<key>!"),
        ("ｓｋ－ａｂｃ１２３ｄｅｆ.", "<key>."),
        ("a S\u{AD}ECRET b", "a <word> b"),
        ("the sеcret (Cyrillic e)", "the <word> (Cyrillic e)"),
        // Base64 of "alice:pw1234": the whole run.
        (
            "Authorization: Basic YWxpY2U6cHcxMjM0 ok",
            "Authorization: Basic <basic> ok",
        ),
        // A lead read in a view: the local part's `.` percent-encoded.
        ("write to jo%2Edoe@acme.io now", "write to <mail> now"),
        // Nothing decoded: the raw view alone.
        ("sk-abc123def and ab12", "<key> and <raw>"),
        // Excepted by what follows, read decoded too.
        (
            "sk-abc123def.test sk-abc123def%2Etest",
            "sk-abc123def.test sk-abc123def%2Etest",
        ),
        (
            r"sk-abc123def\u002etest, sk-abc123def.tests",
            r"sk-abc123def\u002etest, <key>.tests",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(masked(&set, text), want, "{text:?}");
    }
}

#[test]
fn a_rule_is_matched_only_in_the_views_it_declares() {
    let set = views_set();
    // `word` declares unicode only: percent-encoding hides it.
    assert_eq!(masked(&set, "a s%65cret b"), "a s%65cret b");
    // `pw` declares percent only: a zero-width space hides it.
    assert_eq!(masked(&set, "pw=\u{200B}hunter22"), "pw=\u{200B}hunter22");
    // `raw` declares nothing.
    assert_eq!(masked(&set, "a%62%31%32"), "a%62%31%32");
    // Base64 that is not text, or too short, is not decoded.
    assert_eq!(masked(&set, "YWxpY2U6"), "YWxpY2U6");
}

#[test]
fn a_rule_with_decodings_is_matched_in_the_decoded_text_instead() {
    let mut spec = views_spec();
    spec.rules.push(masking(
        "escape",
        with_decode(
            rule("escape", vec![literal("%41", false, false)], vec![]),
            &[Decoding::Percent],
        ),
    ));
    let set = RuleSet::build(spec).unwrap();
    // `%41` reads `A` in the percent view: the literal is not there.
    assert_eq!(
        set.findings(Side::Response, Scope::Assistant, b"x %41 y")
            .len(),
        0
    );
    // Without escapes the decoded text is the text: the rule finds what
    // it finds there.
    assert_eq!(masked(&set, "sk-abc123def"), "<key>");
}

#[test]
fn a_reject_found_in_a_view_rejects_on_its_side() {
    let set = views_set();
    let applied = set.apply(Side::Request, Scope::User, "login?pw%3Dhunter22");
    match applied.verdict {
        Verdict::Rejected(rejection) => {
            assert_eq!(rejection.rule_name, "pw");
            assert_eq!((rejection.finding.start, rejection.finding.end), (6, 19));
        }
        other => panic!("not rejected: {other:?}"),
    }
}

#[test]
fn overlapping_findings_of_two_views_merge_leftmost_then_longest() {
    let set = views_set();
    // `raw` finds ab12 at 3; the percent-decoded key starts at 0 and wins.
    assert_eq!(masked(&set, "sk%2Dab12cdef"), "<key>");
    // Side by side, both count.
    assert_eq!(masked(&set, "ab12sk%2Dabcdefgh"), "<raw><key>");
}

#[test]
fn a_log_only_finding_of_another_view_does_not_hide_a_mask_at_its_start() {
    // `logged` (plain view) is longer at the same start than `key`
    // (decoded view), but only logs: the mask wins, in block and stream.
    let mut logged = rule(
        "logged",
        vec![regex("sk-[a-z0-9]{6,10}@[a-z]{2,8}")],
        vec![],
    );
    logged.actions = vec![ActionClause {
        side: Side::Response,
        action: Action::Log,
        scopes: ScopeSet::ALL,
    }];
    let set = RuleSet::build(RuleSetSpec {
        rules: vec![
            logged,
            masking(
                "key",
                with_decode(rule("key", vec![regex("sk-[a-z0-9]{6,10}")], vec![]), &TEXT),
            ),
        ],
    })
    .expect("builds");
    for text in ["sk-abcdef12@host", "sk%2Dabcdef12@host"] {
        assert_eq!(masked(&set, text), "<key>@host", "{text}");
        let cuts: Vec<usize> = (1..text.len()).collect();
        let (releases, _, _) = stream_with_cuts(
            &set,
            Side::Response,
            Scope::Assistant,
            text.as_bytes(),
            &cuts,
        );
        let streamed = String::from_utf8(releases.concat()).expect("UTF-8");
        assert_eq!(
            streamed.replace("[key:key]", "<key>"),
            "<key>@host",
            "{text}"
        );
    }
    // With nothing to mask there, the log finding stands and hides nothing.
    assert_eq!(masked(&set, "sk-abc@host"), "sk-abc@host");
}

const FRAGMENTS: &[&str] = &[
    " ",
    "\n",
    "sk",
    "-",
    "sk-",
    "abc",
    "123",
    "def",
    "ab12",
    r"\u002d",
    r"\u002",
    "%2D",
    "%2",
    "%",
    "\\",
    r"\n",
    r"\\n",
    r#"\""#,
    "u",
    "0",
    "\u{200B}",
    "\u{AD}",
    "ｓ",
    "ｋ",
    "－",
    "é",
    "€",
    "pw",
    "pw=",
    "%3D",
    "hunter22",
    "secret",
    "SECRET",
    "sеcret",
    "YWxpY2U6cHcxMjM0",
    "YWxpY2U6",
    "cHcx",
    "==",
    "=",
    "alice:",
    "Basic ",
    ".test",
    "%2Etest",
    r"\u002etest",
    ".te",
    "st",
    "QWERTYUPZX",
    "MNBVLKJHGF",
    "%4D",
    "\u{200b}",
    // Addresses for the lead pattern, whole and in pieces.
    "@",
    "%40",
    "jo.doe@acme.io",
    "@acme",
    ".io",
    "%2Eio",
];

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..30).prop_map(|parts| parts.concat())
}

fn text_and_cuts() -> impl Strategy<Value = (String, Vec<usize>)> {
    text_strategy().prop_flat_map(|text| {
        let len = text.len();
        let cuts = prop::collection::vec(0..=len, 0..10).prop_map(|mut cuts| {
            cuts.sort_unstable();
            cuts
        });
        (Just(text), cuts)
    })
}

fn check_invariance(set: &RuleSet, text: &str, cuts: &[usize]) -> Result<(), TestCaseError> {
    for (side, scope) in [
        (Side::Request, Scope::User),
        (Side::Response, Scope::Assistant),
    ] {
        let applied = set.apply(side, scope, text);
        let block_findings = set.findings(side, scope, text.as_bytes());
        let (releases, finished, stream_findings) =
            stream_with_cuts(set, side, scope, text.as_bytes(), cuts);
        for release in &releases {
            prop_assert!(
                std::str::from_utf8(release).is_ok(),
                "release is not UTF-8: {release:?}"
            );
        }
        let streamed = String::from_utf8_lossy(&releases.concat()).into_owned();
        match applied.verdict {
            Verdict::Rejected(rejection) => prop_assert_eq!(finished, Err(rejection)),
            Verdict::Clean => {
                prop_assert!(finished.is_ok());
                prop_assert_eq!(&streamed, text);
                prop_assert_eq!(stream_findings, block_findings);
            }
            Verdict::Masked(masked) => {
                prop_assert!(finished.is_ok());
                prop_assert_eq!(streamed, masked);
                prop_assert_eq!(stream_findings, block_findings);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn streaming_with_views_equals_block_for_every_cutting((text, cuts) in text_and_cuts()) {
        check_invariance(&views_set(), &text, &cuts)?;
    }

    /// Caches at their smallest: every view's scanner keeps clearing
    /// them, one after another, on one shared cache.
    #[test]
    fn streaming_with_views_and_caches_that_keep_clearing((text, cuts) in text_and_cuts()) {
        let set = RuleSet::builder()
            .configure(rulegate_engine::Config::new().cache_capacity(0))
            .build(views_spec())
            .expect("views spec builds");
        check_invariance(&set, &text, &cuts)?;
    }

    #[test]
    fn one_byte_chunks_with_views_equal_block(text in text_strategy()) {
        let cuts: Vec<usize> = (1..text.len()).collect();
        check_invariance(&views_set(), &text, &cuts)?;
    }
}

#[test]
fn every_two_way_cut_of_hand_picked_cases() {
    let set = views_set();
    let cases = [
        r#"{\"k\":\"sk\u002dabc123def\"} and pw%3Dhunter22"#,
        "ｓｋ－ａｂｃ１２３ｄｅｆ sk-abc\u{200B}123def",
        "Basic YWxpY2U6cHcxMjM0== sk%2Dab12cdef",
        r"\\\\nsk-abc123def\",
    ];
    for text in cases {
        for cut in 0..=text.len() {
            check_invariance(&set, text, &[cut]).unwrap();
        }
    }
}

#[test]
fn invisible_runs_do_not_grow_the_hold() {
    let set = views_set();
    let mut scanner = set.scanner(Side::Response, Scope::Assistant);
    let mut out = Vec::new();
    scanner.push(b"sk-abc", &mut out).unwrap();
    for _ in 0..10_000 {
        scanner.push("\u{200B}".as_bytes(), &mut out).unwrap();
        assert!(scanner.held() <= set.max_held());
    }
    scanner.finish(&mut out).unwrap();
    assert_eq!(out.len(), 6 + 3 * 10_000);
}
