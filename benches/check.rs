//! `rulec check` throughput: 1,000 generated rules in one file, parsed,
//! checked, compiled, and every inline example run (two per rule). The
//! second case leaves the examples out, to show what they cost.
//!
//! cargo bench -p rulegate-benches --bench check

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const RULES: usize = 1000;

/// Rules in the shape of the shipped packs: a prefixed token with a
/// counted repetition, a literal list, a check on some, three actions.
fn generate(rules: usize, examples: bool) -> String {
    let mut text = String::from("# generated\n");
    for i in 0..rules {
        text.push_str(&format!("rule generated-{i} {{\n"));
        text.push_str(&format!("  description \"generated rule {i}\"\n"));
        text.push_str(&format!("  match /\\btok{i}_[A-Za-z0-9]{{20,40}}\\b/\n"));
        text.push_str(&format!(
            "  match \"secret-{i}-a\", \"secret-{i}-b\" nocase word\n"
        ));
        if i % 3 == 0 {
            text.push_str("  where entropy >= 2.5\n");
        }
        text.push_str(&format!(
            "  request  reject \"rule {i} found a secret\" in user\n"
        ));
        text.push_str("  request  mask \"[redacted:{rule} {last:4}]\"\n");
        text.push_str("  response mask \"[redacted:{rule}]\"\n");
        if examples {
            text.push_str(&format!(
                "  example hit  \"key tok{i}_aB3dE5gH7jK9mN1pQ3sT5v end\"\n"
            ));
            text.push_str(&format!("  example miss \"tok{i}_short\"\n"));
        }
        text.push_str("}\n\n");
    }
    text
}

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    for (name, examples) in [
        ("1000 rules, 2000 examples", true),
        ("1000 rules, no examples", false),
    ] {
        let source = generate(RULES, examples).into_bytes();
        let loaded =
            rulegate_lang::check_sources([("generated.rules".to_string(), source.clone())]);
        assert!(!loaded.has_errors(), "generated rules must be clean");
        assert_eq!(loaded.rule_count(), RULES);
        group.throughput(Throughput::Elements(RULES as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                rulegate_lang::check_sources([("generated.rules".to_string(), source.clone())])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, check);
criterion_main!(benches);
