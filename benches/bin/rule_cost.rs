//! Which rules an input is slow for: the warm block time of the shipped
//! packs on 1 MiB of the input, then again with each rule left out, the
//! rules that saved the most first.
//!
//! `cargo run --release -p rulegate-benches --bin rule-cost -- INPUT`
//! where INPUT is a file (repeated to 1 MiB) or `class:NAME`, one of the
//! peer bench's input classes. Leaving a rule out also regroups the
//! forward shards (16 patterns each), so a large saving can come from the
//! grouping rather than from the rule itself; the profile of the input
//! (`profile-input`) tells which.

use std::time::Instant;

use rulegate_engine::{RuleSet, RuleSetSpec, Scope, Side};

fn main() {
    let Some(input) = std::env::args().nth(1) else {
        eprintln!("usage: rule-cost FILE|class:NAME");
        std::process::exit(2);
    };
    let text: Vec<u8> = match input.strip_prefix("class:") {
        Some(class) => {
            let Some(input) = rulegate_benches::peer::inputs::CLASSES
                .iter()
                .find(|c| c.name == class)
            else {
                eprintln!("no input class {class}");
                std::process::exit(2);
            };
            (input.make)(&rulegate_benches::shipped_rule_set(), 7, 1 << 20)
        }
        None => {
            let seed = std::fs::read(&input).unwrap_or_else(|error| {
                eprintln!("cannot read {input}: {error}");
                std::process::exit(2);
            });
            seed.iter().copied().cycle().take(1 << 20).collect()
        }
    };
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let loaded = rulegate_lang::load(&[dir]).expect("rules/ is readable");
    let spec = loaded
        .spec()
        .expect("the shipped packs check clean")
        .clone();
    let all = block_ms(spec.clone(), &text);
    println!("all {} rules: {all:.1} ms per MiB", spec.rules.len());
    let mut savings: Vec<(f64, String)> = (0..spec.rules.len())
        .map(|index| {
            let mut without = spec.clone();
            let name = without.rules.remove(index).name;
            (all - block_ms(without, &text), name)
        })
        .collect();
    savings.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (saved, name) in savings.iter().take(12) {
        println!("without {name}: {saved:.1} ms less");
    }
}

/// The best of three warm block scans, in milliseconds.
fn block_ms(spec: RuleSetSpec, text: &[u8]) -> f64 {
    let set = RuleSet::build(spec).expect("the packs compile");
    let mut cache = set.create_cache();
    let _ = set.findings_with(&mut cache, Side::Response, Scope::Assistant, text);
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let _ = set.findings_with(&mut cache, Side::Response, Scope::Assistant, text);
            started.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::MAX, f64::min)
}
