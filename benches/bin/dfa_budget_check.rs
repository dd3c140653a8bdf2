//! CI, release build: the shipped packs fit every lazy DFA's cache on
//! every peer-bench input. Each input is generated as the peer bench does
//! (the corpus 8 MiB, each class 4 MiB at seed 100 + its index, each
//! committed slow input repeated to 4 MiB) and scanned twice in block on
//! a new cache; no DFA may have cleared its cache by then. A DFA that
//! outgrows its cache rebuilds states for ever and the scan falls 4x or
//! more: one `’` in an alternative of `canada-sin` did that to the
//! anchored DFA on secret-dense text (52 clears, 9.6 -> 2.4 MB/s), and
//! nothing else in the tests would have noticed. The packs are also
//! checked with the policy examples loaded (`rules/policy-examples`,
//! whose code names are written in Chinese, Japanese and Cyrillic too) on
//! secret-dense text and the corpus: any new byte in any rule widens the
//! anchored DFA's states, and one such rule made it outgrow a 16 MiB cache
//! (14 clears, 14 -> 3.3 MB/s).
//! `cargo run --release -p rulegate-benches --bin dfa-budget-check`

use rulegate_benches::peer::inputs::{repeat_to, CLASSES};
use rulegate_benches::peer::slow_inputs::committed;
use rulegate_benches::{corpus, shipped_rule_set};
use rulegate_engine::{RuleSet, Scope, Side};
use std::path::PathBuf;

const CLASS_BYTES: usize = 4 << 20;

fn main() {
    let set = shipped_rule_set();
    let mut inputs: Vec<(String, Vec<u8>)> = vec![("corpus".into(), corpus(1, 8 << 20).into())];
    for (i, class) in CLASSES.iter().enumerate() {
        let text = (class.make)(&set, 100 + i as u64, CLASS_BYTES);
        inputs.push((class.name.into(), text));
    }
    for (name, seed) in committed() {
        inputs.push((format!("slow:{name}"), repeat_to(&seed, CLASS_BYTES)));
    }
    let mut over = Vec::new();
    for (name, text) in &inputs {
        if outgrows(&set, name, text) {
            over.push(name.clone());
        }
    }
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let with_policies = rulegate_lang::load(&[rules.clone(), rules.join("policy-examples")])
        .expect("rules/ and rules/policy-examples are readable")
        .into_rule_set()
        .expect("the packs and the policy examples check clean together");
    // The corpus and secret-dense text (the first class), where the
    // anchored DFA is fullest.
    let with_policies_inputs = 2;
    for (name, text) in inputs.iter().take(with_policies_inputs) {
        let name = format!("{name} (with the policy examples)");
        if outgrows(&with_policies, &name, text) {
            over.push(name);
        }
    }
    if !over.is_empty() {
        eprintln!("a lazy DFA outgrew its cache on: {}", over.join(", "));
        std::process::exit(1);
    }
    println!(
        "every DFA fits its cache on all {} inputs ({} again with the policy examples)",
        inputs.len(),
        with_policies_inputs
    );
}

/// Scans `text` twice in block on a new cache; true when a lazy DFA had
/// to clear its cache.
fn outgrows(set: &RuleSet, name: &str, text: &[u8]) -> bool {
    let mut cache = set.create_cache();
    for _ in 0..2 {
        let _ = set.findings_with(&mut cache, Side::Response, Scope::Assistant, text);
    }
    let clears: Vec<(usize, usize)> = cache.clear_counts();
    println!("{name}: (clears, bytes) per DFA {clears:?}");
    clears.iter().any(|(count, _)| *count > 0)
}
