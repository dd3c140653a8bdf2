//! Chunk invariance, proven by property tests: for inputs built from
//! fragments that look like the patterns (near misses, overlaps, unicode),
//! cut anywhere (inside characters, empty chunks, 1-byte chunks), the
//! streamed output equals the block result, and the block result equals the
//! oracle's.

mod support;

use proptest::prelude::*;
use rulegate_engine::{Config, Disposition, RuleSet, Scope, Side, Verdict};
use support::{stream_with_cuts, tricky_set, tricky_spec, Oracle};

const FRAGMENTS: &[&str] = &[
    " ",
    " ",
    " ",
    "\n",
    "-",
    ".",
    "@",
    "#",
    "##",
    "sk-",
    "sk-ant",
    "AKIA",
    "abc",
    "abcd",
    "ab",
    "b",
    "bcd",
    "4111 1111 1111 1111",
    "4111111111111112",
    "79927398713",
    "1234-5678",
    "0",
    "7",
    "credit card",
    "Credit Card",
    "creditcard",
    "c++",
    "café",
    "CAFÉ",
    "é",
    "€",
    "日本",
    "🦀",
    "x@y.io",
    "john.doe@mail.com",
    "a1b2c3",
    "xyz123",
    "abc12",
    "hello",
    "the",
    "Ab",
    "_",
    "q",
    "1.2",
    "10.250",
    "127.0.0.1",
    "ver",
    "Ver: ",
    "revision ",
    "REVISION ",
    "pin=",
    "pw: ",
    "pw=",
    "tok",
    "aaaa",
    ".example",
    ".EXAMPLE",
    "_t",
    "_test",
    ":",
    ": \n",
    // Runs for the run patterns: long enough together, or alone.
    "abcd0123abcd0123",
    "dcba3210",
    "abcdefghijklmnop",
    "qrstuvwxyz",
    "thequickbrownfox",
    "QWERTYUPZX",
    "MNBVLKJHGF",
];

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|parts| parts.concat())
}

fn cuts_strategy(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..12).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts
    })
}

fn text_and_cuts() -> impl Strategy<Value = (String, Vec<usize>)> {
    text_strategy().prop_flat_map(|text| {
        let len = text.len();
        (Just(text), cuts_strategy(len))
    })
}

fn block_output(set: &RuleSet, side: Side, scope: Scope, text: &str) -> (Vec<u8>, Verdict) {
    let applied = set.apply(side, scope, text);
    let out = match &applied.verdict {
        Verdict::Clean => text.as_bytes().to_vec(),
        Verdict::Masked(masked) => masked.as_bytes().to_vec(),
        Verdict::Rejected(_) => Vec::new(),
    };
    (out, applied.verdict)
}

/// Checks one text under one cutting on both sides of the exchange.
fn check_invariance(set: &RuleSet, text: &str, cuts: &[usize]) -> Result<(), TestCaseError> {
    for side in Side::ALL {
        let scope = Scope::Assistant;
        let (expected, verdict) = block_output(set, side, scope, text);
        let block_findings = set.findings(side, scope, text.as_bytes());
        let (releases, finished, stream_findings) =
            stream_with_cuts(set, side, scope, text.as_bytes(), cuts);
        for release in &releases {
            prop_assert!(
                std::str::from_utf8(release).is_ok(),
                "release is not UTF-8: {release:?}"
            );
        }
        let streamed: Vec<u8> = releases.concat();
        match verdict {
            Verdict::Rejected(rejection) => {
                prop_assert_eq!(finished, Err(rejection));
            }
            _ => {
                prop_assert!(finished.is_ok());
                prop_assert_eq!(
                    String::from_utf8_lossy(&streamed),
                    String::from_utf8_lossy(&expected)
                );
                prop_assert_eq!(stream_findings, block_findings);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn streaming_equals_block_for_every_cutting((text, cuts) in text_and_cuts()) {
        let set = tricky_set();
        check_invariance(&set, &text, &cuts)?;
    }

    #[test]
    fn one_byte_chunks_equal_block(text in text_strategy()) {
        let set = tricky_set();
        let cuts: Vec<usize> = (1..text.len()).collect();
        check_invariance(&set, &text, &cuts)?;
    }

    /// The forward DFA in one shard (the scanner's single-shard loop).
    #[test]
    fn streaming_equals_block_with_one_shard((text, cuts) in text_and_cuts()) {
        let set = RuleSet::builder().configure(Config::new().patterns_per_shard(1000)).build(tricky_spec()).unwrap();
        prop_assert_eq!(set.forward_shards(), 1);
        check_invariance(&set, &text, &cuts)?;
    }

    /// A handful of shards (the stepping loops specialised for 2 to 6).
    #[test]
    fn streaming_equals_block_with_a_few_shards((text, cuts) in text_and_cuts(), per_shard in 4usize..=12) {
        let set = RuleSet::builder().configure(Config::new().patterns_per_shard(per_shard)).build(tricky_spec()).unwrap();
        prop_assert!((2..=6).contains(&set.forward_shards()), "{} shards", set.forward_shards());
        check_invariance(&set, &text, &cuts)?;
    }

    /// Caches at their smallest, so the lazy DFAs clear again and again
    /// while a stream is stepped, between its pushes and inside block
    /// searches on the same cache: the scanner's fast path (no clear since
    /// its last push) must never be taken after one, and every clear must
    /// restore the start-state tags.
    #[test]
    fn streaming_equals_block_with_caches_that_keep_clearing((text, cuts) in text_and_cuts(), per_shard in prop::sample::select(vec![1usize, 5, 1000])) {
        let set = RuleSet::builder().configure(Config::new().cache_capacity(0).patterns_per_shard(per_shard)).build(tricky_spec()).unwrap();
        check_invariance(&set, &text, &cuts)?;
    }

    /// The forward DFA split into one shard per pattern (the most the
    /// engine ever splits): streaming still equals block.
    #[test]
    fn streaming_equals_block_with_one_pattern_per_shard((text, cuts) in text_and_cuts()) {
        let set = RuleSet::builder().configure(Config::new().patterns_per_shard(1)).build(tricky_spec()).unwrap();
        check_invariance(&set, &text, &cuts)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn block_equals_the_oracle(text in text_strategy(), per_shard in prop::sample::select(vec![1usize, 2, 5, 16]), smallest_caches in any::<bool>()) {
        let spec = tricky_spec();
        // Also with the caches at their smallest, so that the anchored
        // walks and the shards clear their caches mid-search.
        let config = Config::new().patterns_per_shard(per_shard);
        let config = if smallest_caches { config.cache_capacity(0) } else { config };
        let set = RuleSet::builder().configure(config).build(spec.clone()).unwrap();
        let oracle = Oracle::new(&spec);
        for side in Side::ALL {
            let got: Vec<(usize, usize, usize)> = set
                .findings(side, Scope::User, text.as_bytes())
                .into_iter()
                .map(|f| (f.rule.index(), f.start, f.end))
                .collect();
            let want: Vec<(usize, usize, usize)> = oracle
                .findings(side, Scope::User, text.as_bytes())
                .into_iter()
                .map(|f| (f.rule, f.start, f.end))
                .collect();
            prop_assert_eq!(got, want, "side {}", side);
        }
    }
}

#[test]
fn every_two_way_cut_of_hand_picked_cases() {
    let set = tricky_set();
    let cases = [
        "pay with 4111 1111 1111 1111 today",
        "mail john.doe@mail.com, or x@y.io",
        "key sk-abc123def AKIA12345678 end",
        "Credit Card and credit cards and a c++ b",
        "abcd bcd ab café CAFÉ 日本 🦀",
        "##ab\n##abcd\n ##x",
        "xyz123 abc12 aaa11",
        "ver 1.2 at 3.4, revision 5.6 and 7.8.9 but xver 1.2",
    ];
    for text in cases {
        for cut in 0..=text.len() {
            check_invariance(&set, text, &[cut]).unwrap();
        }
        let ones: Vec<usize> = (1..text.len()).collect();
        check_invariance(&set, text, &ones).unwrap();
    }
}

#[test]
fn logged_findings_leave_text_alone() {
    let set = tricky_set();
    let applied = set.apply(Side::Response, Scope::Assistant, "ab x");
    assert_eq!(applied.verdict, Verdict::Clean);
    assert_eq!(applied.findings.len(), 1);
    assert_eq!(applied.findings[0].disposition, Disposition::Log);
}

/// What the test above relies on: with the smallest caches, scanning the
/// tricky set's kind of text clears the forward shards' caches (else it
/// would prove nothing about clears).
#[test]
fn the_smallest_caches_do_clear() {
    let set = RuleSet::builder()
        .configure(Config::new().cache_capacity(0).patterns_per_shard(5))
        .build(tricky_spec())
        .unwrap();
    let mut cache = set.create_cache();
    let text = "sk_test_4eC39HqLyjWDarjtT1zdp7dc key=AKIAIOSFODNN7EXAMPLE a@b.example.com 4111-1111-1111-1111 ".repeat(50);
    let mut scanner = set.scanner(Side::Request, Scope::User);
    let mut out = Vec::new();
    for piece in text.as_bytes().chunks(7) {
        let _ = scanner.push_with(&mut cache, piece, &mut out);
    }
    let forward_clears: usize = cache.clear_counts()[..set.forward_shards()]
        .iter()
        .map(|&(clears, _)| clears)
        .sum();
    assert!(forward_clears > 10, "{forward_clears} clears");
}
