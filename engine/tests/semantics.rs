//! The block semantics and the streaming latency contract, on named cases.

mod support;

use rulegate_engine::{
    Action, ActionClause, Check, RuleSet, RuleSetSpec, Scope, ScopeSet, Side, Template, Verdict,
};
use support::{literal, regex, rule, tricky_set};

fn masked(set: &RuleSet, text: &str) -> String {
    match set.apply(Side::Response, Scope::Assistant, text).verdict {
        Verdict::Masked(out) => out,
        Verdict::Clean => text.to_string(),
        Verdict::Rejected(r) => panic!("unexpected rejection {r:?}"),
    }
}

#[test]
fn leftmost_then_longest_then_first_declared() {
    let set = tricky_set();
    // `abcd` and `b` overlap: the leftmost start wins, so `b` never shows.
    assert_eq!(masked(&set, "xabcdx"), "x[x:abcd]x");
    // Same start, `ab` (logged) vs `abcd`: the longer wins.
    assert_eq!(masked(&set, "abcd"), "[x:abcd]");
    // Equal start and length: the rule declared first.
    let spec = RuleSetSpec {
        rules: vec![
            rule("first", vec![literal("same", false, false)], vec![]),
            rule("second", vec![regex("s[a-z]{3}")], vec![]),
        ],
    };
    let set = RuleSet::build(spec).unwrap();
    assert_eq!(masked(&set, "same"), "[x:first]");
    assert_eq!(masked(&set, "sane"), "[x:second]");
}

#[test]
fn an_allowed_value_does_not_count_and_hides_nothing() {
    let mut long = rule("long", vec![regex("key-[a-z]{4,8}")], vec![]);
    long.allow = vec![
        literal("key-example", false, false),
        regex("key-test[a-z]{0,4}"),
    ];
    let short = rule("short", vec![regex("key-[a-z]{2}")], vec![]);
    let set = RuleSet::build(RuleSetSpec {
        rules: vec![long, short],
    })
    .unwrap();
    assert_eq!(masked(&set, "key-abcdefg"), "[x:long]");
    // Allowed (a literal, a whole-text regex): the rule's own shorter
    // matches (prefixes of the allowed value) do not count either; another
    // rule's match at the same start does.
    assert_eq!(masked(&set, "key-example"), "[x:short]ample");
    assert_eq!(masked(&set, "key-testab"), "[x:short]stab");
    // An allow pattern must match the whole candidate, not a part of it.
    assert_eq!(masked(&set, "key-testabcd"), "[x:short]stabcd");
    assert_eq!(masked(&set, "key-xtestab"), "[x:long]");
}

#[test]
fn a_failed_check_does_not_hide_an_overlapping_valid_match() {
    let spec = RuleSetSpec {
        rules: vec![rule("card", vec![regex(r"\d{4,6}")], vec![Check::Luhn])],
    };
    let set = RuleSet::build(spec).unwrap();
    // At offset 0 every candidate ("1000", "10001", "100018") fails Luhn;
    // the search goes on from offset 1, where "00018" passes, although it
    // lies inside the failed candidates.
    for failing in ["1000", "10001", "100018"] {
        assert!(!rulegate_engine::luhn(failing.as_bytes()));
    }
    assert!(rulegate_engine::luhn(b"00018"));
    assert_eq!(masked(&set, "100018"), "1[x:card]");
    // A valid card right after a near miss that shares its first digits.
    let text = "4111111111111112 79927398713";
    let spec = RuleSetSpec {
        rules: vec![rule(
            "card",
            vec![regex(r"\b\d{11,16}\b")],
            vec![Check::Luhn],
        )],
    };
    let set = RuleSet::build(spec).unwrap();
    assert_eq!(masked(&set, text), "4111111111111112 [x:card]");
}

#[test]
fn rules_without_an_action_for_the_side_hide_nothing() {
    let set = tricky_set();
    // `bcd` acts only on requests; on responses `b` (declared later) wins.
    let out = set.apply(Side::Response, Scope::Assistant, "xbcd");
    assert_eq!(out.verdict, Verdict::Masked("x[x:b]cd".into()));
    let out = set.apply(Side::Request, Scope::User, "xbcd");
    assert_eq!(out.verdict, Verdict::Masked("x[x:request-only]".into()));
}

#[test]
fn word_literals_need_boundaries_only_at_word_edges() {
    let set = tricky_set();
    assert_eq!(
        masked(&set, "no creditcard, a Credit Card."),
        "no creditcard, a [x:terms]."
    );
    assert_eq!(masked(&set, "credit cards"), "credit cards");
    // `+` is not a word character, so only the start needs a boundary.
    assert_eq!(
        masked(&set, "c++ and c++x and ac++"),
        "[x:terms] and [x:terms]x and ac++"
    );
}

#[test]
fn reject_reports_the_first_rejecting_rule_and_its_message() {
    let mut reject = rule("secret", vec![literal("s3cr3t", false, false)], vec![]);
    reject.actions = vec![ActionClause {
        side: Side::Request,
        action: Action::Reject {
            message: "no secrets".into(),
        },
        scopes: [Scope::User].into_iter().collect(),
    }];
    let spec = RuleSetSpec {
        rules: vec![rule("b", vec![literal("b", false, false)], vec![]), reject],
    };
    let set = RuleSet::build(spec).unwrap();
    match set.apply(Side::Request, Scope::User, "b s3cr3t b").verdict {
        Verdict::Rejected(r) => {
            assert_eq!(r.rule_name, "secret");
            assert_eq!(r.message, "no secrets");
            assert_eq!((r.finding.start, r.finding.end), (2, 8));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Out of scope, the rule does nothing.
    assert_eq!(
        set.apply(Side::Request, Scope::ToolResult, "s3cr3t")
            .verdict,
        Verdict::Clean
    );
    // A stream stops at the rejection; what came before it was released.
    let mut scanner = set.scanner(Side::Request, Scope::User);
    let mut out = Vec::new();
    scanner.push(b"hello s3c", &mut out).unwrap();
    let err = scanner.push(b"r3t and more", &mut out).unwrap_err();
    assert_eq!(err.rule_name, "secret");
    assert_eq!(out, b"hello ");
    assert!(scanner.push(b"x", &mut out).is_err());
    let _ = ScopeSet::ALL;
}

#[test]
fn apply_all_lists_every_reject_and_masks_them_with_the_fallback() {
    let with_mask = |name: &str, lit: &str| {
        let mut r = rule(name, vec![literal(lit, false, false)], vec![]);
        r.actions = vec![
            ActionClause {
                side: Side::Request,
                action: Action::Reject {
                    message: format!("no {name}"),
                },
                scopes: [Scope::User].into_iter().collect(),
            },
            ActionClause {
                side: Side::Request,
                action: Action::Mask {
                    template: Template::text("[M]"),
                },
                scopes: ScopeSet::ALL,
            },
        ];
        r
    };
    let mut bare = rule("bare", vec![literal("zz", false, false)], vec![]);
    bare.actions = vec![ActionClause {
        side: Side::Request,
        action: Action::Reject {
            message: "no zz".into(),
        },
        scopes: ScopeSet::ALL,
    }];
    let spec = RuleSetSpec {
        rules: vec![
            with_mask("one", "s3cr3t"),
            with_mask("two", "t0ken"),
            bare,
            rule("plain", vec![literal("pw", false, false)], vec![]),
        ],
    };
    let set = RuleSet::build(spec).unwrap();
    let all = set.apply_all(Side::Request, Scope::User, "a s3cr3t b t0ken c zz d pw");
    let names: Vec<&str> = all
        .rejections
        .iter()
        .map(|r| r.rule_name.as_str())
        .collect();
    assert_eq!(names, ["one", "two", "bare"]);
    assert_eq!(all.findings.len(), 4);
    assert_eq!(
        all.masked.as_deref(),
        Some("a [M] b [M] c [redacted:bare] d [x:plain]")
    );
    // The block verdict still stops at the first reject.
    match set
        .apply(Side::Request, Scope::User, "a s3cr3t b t0ken")
        .verdict
    {
        Verdict::Rejected(r) => assert_eq!(r.rule_name, "one"),
        other => panic!("{other:?}"),
    }
    let clean = set.apply_all(Side::Request, Scope::User, "nothing here");
    assert_eq!((clean.masked, clean.rejections.len()), (None, 0));
}

#[test]
fn prose_with_no_candidate_flows_out_in_the_same_push() {
    let set = support::tricky_set_without_look_ahead();
    let mut scanner = set.scanner(Side::Response, Scope::Assistant);
    let mut out = Vec::new();
    // Ends on a space: nothing can be live.
    let prose = "The quick rown fox jumps over the lazy dog. ";
    scanner.push(prose.as_bytes(), &mut out).unwrap();
    assert_eq!(out, prose.as_bytes());
    assert_eq!(scanner.held(), 0);
    // Ends inside a word that could begin an email: only that word is held.
    out.clear();
    scanner.push(b"Then it sle", &mut out).unwrap();
    assert_eq!(out, b"Then it ");
    assert_eq!(scanner.held(), 3);
}

#[test]
fn a_key_split_across_two_chunks_is_never_partly_released() {
    let set = support::tricky_set_without_look_ahead();
    for cut in 1.."sk-abc123def".len() {
        let text = "key: sk-abc123def.";
        let split = "key: ".len() + cut;
        let mut scanner = set.scanner(Side::Response, Scope::Assistant);
        let mut first = Vec::new();
        scanner.push(&text.as_bytes()[..split], &mut first).unwrap();
        assert_eq!(first, b"key: ", "cut {cut}");
        let mut second = Vec::new();
        scanner
            .push(&text.as_bytes()[split..], &mut second)
            .unwrap();
        scanner.finish(&mut second).unwrap();
        assert_eq!(second, b"[x:key].", "cut {cut}");
    }
}

#[test]
fn text_after_a_match_can_make_it_not_count() {
    let set = tricky_set();
    // `.example` after the key, `_t` then a boundary, a colon at the end
    // of a line: excepted, and the shorter keys inside are not reported
    // either. `_tx` has no boundary; `.exam` is not `.example`.
    assert_eq!(
        masked(
            &set,
            "sk-x1y2z3w4.EXAMPLE sk-abc1_t sk-abc1_tx sk-abc1 :\nsk-abc1.exam"
        ),
        "sk-x1y2z3w4.EXAMPLE sk-abc1_t [x:key]_tx sk-abc1 :\n[x:key].exam"
    );
    // At the end of the text, `$` matches: excepted there too.
    assert_eq!(masked(&set, "AKIA12345678:"), "AKIA12345678:");
}

#[test]
fn the_text_after_is_awaited_across_chunks() {
    let set = tricky_set();
    for (text, expected) in [
        ("see sk-x1y2z3w4.example now", "see sk-x1y2z3w4.example now"),
        ("see sk-x1y2z3w4.exampl", "see [x:key].exampl"),
        ("see sk-x1y2z3w4 :\nnext", "see sk-x1y2z3w4 :\nnext"),
    ] {
        assert_every_two_way_cut_gives(&set, text, expected);
    }
    // A byte at a time, the hold stays within the bound, and text after
    // the look-ahead flows out.
    let mut scanner = set.scanner(Side::Response, Scope::Assistant);
    let mut out = Vec::new();
    for byte in "sk-x1y2z3w4.example and then some prose. ".as_bytes() {
        scanner.push(std::slice::from_ref(byte), &mut out).unwrap();
        assert!(scanner.held() <= set.max_held());
    }
    assert_eq!(scanner.held(), 0);
    // What the scanner keeps to find the look-ahead's idle points stays
    // bounded too, through a long stream with no match near its end.
    for _ in 0..20_000 {
        scanner.push(b"some prose ", &mut out).unwrap();
    }
    assert!(
        scanner.memory_usage() < 64 * 1024,
        "{}",
        scanner.memory_usage()
    );
}

#[test]
fn held_bytes_stay_bounded_on_an_endless_candidate() {
    // Every letter may start an email local part, so the forward DFA is
    // never idle, and `e` keeps the `ranged-run` pattern's run open to the
    // end; the hold must still not grow.
    let set = tricky_set();
    let mut scanner = set.scanner(Side::Response, Scope::Assistant);
    let mut out = Vec::new();
    for _ in 0..10_000 {
        scanner.push(b"eeeeeeeeee", &mut out).unwrap();
        assert!(scanner.held() <= set.max_held());
    }
    scanner.finish(&mut out).unwrap();
    assert_eq!(out, vec![b'e'; 100_000]);
}

#[test]
fn checks_apply_to_the_value_group_when_there_is_one() {
    let spec = RuleSetSpec {
        rules: vec![rule(
            "assignment",
            vec![regex(r"password\s?=\s?(?P<value>[A-Za-z0-9]{8,20})")],
            vec![Check::Entropy { min_bits: 3.0 }],
        )],
    };
    let set = RuleSet::build(spec).unwrap();
    // The whole match has high entropy either way; only the value decides.
    assert_eq!(
        masked(&set, "password = aaaaaaaaaa"),
        "password = aaaaaaaaaa"
    );
    assert_eq!(masked(&set, "password = q8Zr2Lk9Xw"), "[x:assignment]");
}

#[test]
fn text_before_a_match_can_make_it_not_count() {
    let set = tricky_set();
    // `ver ` and `revision ` are exceptions, so is a digit and a dot
    // (the middle of a longer dotted run); `xver` is not `\bver`.
    assert_eq!(
        masked(&set, "ver 1.2 at 3.4, Revision 5.6, 7.8.9, xver 1.2"),
        "ver 1.2 at [x:dotted], Revision 5.6, [x:dotted].9, xver [x:dotted]"
    );
    // An exception hides nothing: `1.23` is excepted, then `23.4` is not
    // preceded by a digit and a dot... but by `1.`, so it is excepted too;
    // after `Ver:` the next dotted pair stands on its own.
    assert_eq!(
        masked(&set, "Ver:1.23.4 then 5.6"),
        "Ver:1.23.4 then [x:dotted]"
    );
}

#[test]
fn the_text_before_is_kept_across_chunks() {
    let set = tricky_set();
    let text = "revision 5.6 and 7.8";
    let mut scanner = set.scanner(Side::Response, Scope::Assistant);
    let mut out = Vec::new();
    for byte in text.as_bytes() {
        scanner.push(std::slice::from_ref(byte), &mut out).unwrap();
    }
    scanner.finish(&mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "revision 5.6 and [x:dotted]"
    );
}

#[test]
fn a_walk_that_merges_with_an_excepted_one_still_finds_its_match() {
    // From `abc` the match is excepted (`no:` before it); from `bc` it is
    // not. Both anchored walks are in the same state after `@` (past
    // the counted local part), and the first one died (at `!!`) after its
    // match: its death proves nothing about offsets before that match.
    let mut email = rule("mail", vec![regex(r"\w{1,20}@ex\.com")], vec![]);
    email.unless_preceded_by = vec![regex("no:")];
    let set = RuleSet::build(RuleSetSpec { rules: vec![email] }).unwrap();
    assert_eq!(masked(&set, "no:abc@ex.com!!"), "no:a[x:mail]!!");
    // Chunked, through a scanner, whatever the cut.
    let text = "no:abc@ex.com!! and no:xy@ex.com!!";
    let expected = "no:a[x:mail]!! and no:x[x:mail]!!";
    assert_eq!(masked(&set, text), expected);
    assert_every_two_way_cut_gives(&set, text, expected);
}

/// Streamed in two chunks, cut anywhere, `text` comes out as `expected`.
fn assert_every_two_way_cut_gives(set: &RuleSet, text: &str, expected: &str) {
    for cut in 0..=text.len() {
        let (releases, finished, _) = support::stream_with_cuts(
            set,
            Side::Response,
            Scope::Assistant,
            text.as_bytes(),
            &[cut],
        );
        finished.unwrap();
        assert_eq!(
            String::from_utf8(releases.concat()).unwrap(),
            expected,
            "cut {cut}"
        );
    }
}

/// What one start's candidates learn about their pattern's prefix is not
/// carried to another text scanned with the same cache: in `ab=aaaa` the
/// prefix may end after `a`, `ab` or `ab=`, so the group is where the
/// capturing search puts it (`aaaa`, which fails the check), not after
/// the only prefix end `aq7x2`, scanned first, had (`b=aaaa` would pass).
#[test]
fn a_cache_carries_no_value_group_split_from_one_text_to_the_next() {
    let spec = RuleSetSpec {
        rules: vec![rule(
            "assigned",
            vec![regex(r"(?:ab|a)=?(?P<value>[=a-z0-9]{2,8})")],
            vec![Check::Entropy { min_bits: 1.0 }],
        )],
    };
    let set = RuleSet::build(spec).unwrap();
    let mut cache = set.create_cache();
    let scan = |cache: &mut rulegate_engine::Cache, text: &str| {
        set.findings_with(cache, Side::Response, Scope::Assistant, text.as_bytes())
            .into_iter()
            .map(|f| (f.start, f.end))
            .collect::<Vec<_>>()
    };
    assert_eq!(scan(&mut cache, "aq7x2"), vec![(0, 5)]);
    // `ab=aaaa` to `ab=aa` check `aaaa` to `aa`; `ab=a` checks `=a`.
    assert_eq!(scan(&mut cache, "ab=aaaa"), vec![(0, 4)]);
    assert_eq!(scan(&mut set.create_cache(), "ab=aaaa"), vec![(0, 4)]);
}
