//! Engine throughput on a seeded 16 MiB corpus: block scan and streaming at
//! 16 B and 4 KiB chunks, with the shipped packs and with 200 generated
//! rules, against the naive baseline (one `regex::Regex` per pattern,
//! looped). Before measuring, prints the streaming latency figures: the
//! share of bytes released in the same push and the largest hold.
//!
//! `cargo bench -p rulegate-benches --bench engine`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rulegate_benches::{
    corpus, generated_rule_set, shipped_rule_set, shipped_rule_set_without_decoding,
};
use rulegate_engine::{Cache, RuleSet, Scope, Side};

const CORPUS_BYTES: usize = 16 * 1024 * 1024;

fn stream(set: &RuleSet, cache: &mut Cache, text: &[u8], chunk: usize) -> usize {
    let mut scanner = set.scanner(Side::Response, Scope::Assistant);
    let mut out = Vec::with_capacity(chunk * 2);
    let mut written = 0;
    for piece in text.chunks(chunk) {
        out.clear();
        // Benchmarked rules mask; a reject would end the stream early.
        let _ = scanner.push_with(cache, piece, &mut out);
        written += out.len();
    }
    out.clear();
    let _ = scanner.finish_with(cache, &mut out);
    written + out.len()
}

/// One `regex::Regex` per pattern, each run over the whole text: what a
/// user without a multi-pattern engine writes.
fn naive_baseline(set: &RuleSet) -> Vec<regex::bytes::Regex> {
    set.rules()
        .iter()
        .flat_map(|rule| &rule.patterns)
        .map(|pattern| {
            let printed = rulegate_engine::pattern_regex(pattern).expect("shipped pattern");
            regex::bytes::Regex::new(&printed).expect("printed HIR parses")
        })
        .collect()
}

fn print_latency_figures(name: &str, set: &RuleSet, text: &[u8]) {
    let chunk = 16;
    let mut scanner = set.scanner(Side::Response, Scope::Assistant);
    let mut out = Vec::new();
    let (mut same_push, mut largest_hold) = (0usize, 0usize);
    for (index, piece) in text.chunks(chunk).enumerate() {
        out.clear();
        let _ = scanner.push(piece, &mut out);
        let chunk_start = index * chunk;
        let resolved = scanner.position() - scanner.held();
        same_push += resolved.saturating_sub(chunk_start).min(piece.len());
        largest_hold = largest_hold.max(scanner.held());
    }
    eprintln!(
        "{name}: {} patterns in {} forward shards; 16-byte chunks: {:.2}% of bytes released \
         in the push that brought them; largest hold {largest_hold} bytes (bound {} + 3); \
         scanner memory after the corpus {} KiB",
        set.pattern_count(),
        set.forward_shards(),
        100.0 * same_push as f64 / text.len() as f64,
        set.max_match_len(),
        scanner.memory_usage() / 1024
    );
}

fn bench_engine(c: &mut Criterion) {
    let text = corpus(1, CORPUS_BYTES);
    let text = text.as_bytes();
    let started = std::time::Instant::now();
    let shipped = shipped_rule_set();
    eprintln!(
        "shipped packs: checked and compiled in {:?}",
        started.elapsed()
    );
    let sets = [
        ("shipped", shipped),
        ("shipped-no-decode", shipped_rule_set_without_decoding()),
        ("generated-200", generated_rule_set(200)),
    ];
    for (name, set) in &sets {
        print_latency_figures(name, set, text);
    }
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    for (name, set) in &sets {
        // One cache per set, kept warm across iterations, as a server
        // keeps one per thread.
        let mut cache = set.create_cache();
        group.bench_with_input(BenchmarkId::new("block", name), set, |b, set| {
            b.iter(|| {
                black_box(set.findings_with(&mut cache, Side::Response, Scope::Assistant, text))
                    .len()
            })
        });
        for chunk in [16, 4096] {
            group.bench_with_input(
                BenchmarkId::new(format!("stream-{chunk}"), name),
                set,
                |b, set| b.iter(|| stream(set, &mut cache, black_box(text), chunk)),
            );
        }
        // The convenience path: each push borrows a cache from the set.
        group.bench_with_input(BenchmarkId::new("stream-16-pooled", name), set, |b, set| {
            b.iter(|| {
                let mut scanner = set.scanner(Side::Response, Scope::Assistant);
                let mut out = Vec::new();
                for piece in black_box(text).chunks(16) {
                    out.clear();
                    let _ = scanner.push(piece, &mut out);
                }
                out.clear();
                let _ = scanner.finish(&mut out);
                out.len()
            })
        });
    }
    let naive = naive_baseline(&sets[0].1);
    group.bench_function(BenchmarkId::new("naive-regex-loop", "shipped"), |b| {
        b.iter(|| {
            naive
                .iter()
                .map(|regex| regex.find_iter(black_box(text)).count())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
