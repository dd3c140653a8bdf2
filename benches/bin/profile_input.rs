//! Runs one input class of the peer bench through the engine in a loop,
//! for `perf record`: `profile-input CLASS [block|stream] [seconds]`.
//! With 0 seconds: one warm scan in `measured_once`, for callgrind.
//! A class is generated as 1 MiB at seed 7 unless `RG_SIZE` and `RG_SEED`
//! say otherwise; the peer bench uses 4 MiB at seed 100 + the class's
//! index, and some pack edits are slow only there.

use std::time::{Duration, Instant};

use rulegate_benches::peer::inputs::CLASSES;
use rulegate_benches::peer::{block, stream};
use rulegate_benches::{corpus, shipped_rule_set};

#[inline(never)]
fn measured_once(set: &rulegate_engine::RuleSet, text: &[u8], mode: &str) {
    if mode == "stream" {
        std::hint::black_box(stream(set, text, 16).written);
    } else {
        std::hint::black_box(block(set, text));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let class = args.next().unwrap_or_else(|| "secret-dense".into());
    let mode = args.next().unwrap_or_else(|| "block".into());
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    // `RG_PPS=N` (patterns per shard) and `RG_CACHE_MIB=N` (each lazy
    // DFA's cache cap) build the packs with another `Config`.
    let per_shard = std::env::var("RG_PPS").ok().and_then(|v| v.parse().ok());
    let cache_mib: Option<usize> = std::env::var("RG_CACHE_MIB")
        .ok()
        .and_then(|v| v.parse().ok());
    let set = if per_shard.is_some() || cache_mib.is_some() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
        let loaded = rulegate_lang::load(&[dir]).expect("rules/");
        let mut config = rulegate_engine::Config::new();
        if let Some(per_shard) = per_shard {
            config = config.patterns_per_shard(per_shard);
        }
        if let Some(mib) = cache_mib {
            config = config.cache_capacity(mib << 20);
        }
        rulegate_engine::RuleSet::builder()
            .configure(config)
            .build(loaded.spec().expect("checks").clone())
            .expect("builds")
    } else {
        shipped_rule_set()
    };
    // `RG_WITHOUT=FILE`: leave out the patterns named in FILE (`rule#n`,
    // one per line), as the peer bench's `rg=` set does.
    let set = match std::env::var("RG_WITHOUT") {
        Ok(file) => {
            let names = std::fs::read_to_string(file).expect("RG_WITHOUT is readable");
            let left_out: Vec<&str> = names.lines().map(str::trim).collect();
            rulegate_benches::peer::with_patterns(&set, |name| !left_out.contains(&name))
        }
        Err(_) => set,
    };
    let env_number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let size = env_number("RG_SIZE", 1 << 20) as usize;
    let seed = env_number("RG_SEED", 7);
    let text = if let Some(file) = class.strip_prefix("file:") {
        let sample = std::fs::read(file).expect("readable input");
        sample.iter().copied().cycle().take(size).collect()
    } else if class == "corpus" {
        corpus(1, size).into_bytes()
    } else {
        let input = CLASSES
            .iter()
            .find(|c| c.name == class)
            .unwrap_or_else(|| panic!("no class {class}"));
        (input.make)(&set, seed, size)
    };
    // Some classes are built from the rule set's own literals, so a rule
    // change changes them too: `RG_DUMP=PATH` writes the input out, for an
    // A/B of two rule sets on the same bytes (`file:PATH`).
    if let Ok(path) = std::env::var("RG_DUMP") {
        std::fs::write(&path, &text).expect("RG_DUMP is writable");
        return;
    }
    // Warm the thread's cache first: the figure is the steady state.
    std::hint::black_box(block(&set, &text));
    std::hint::black_box(stream(&set, &text, 16).written);
    if seconds == 0 {
        // One warm scan, alone, for `valgrind --tool=callgrind
        // --collect-atstart=no --toggle-collect='*measured_once*'`: an
        // instruction count does not move with the machine's load.
        measured_once(&set, &text, &mode);
        return;
    }
    let started = Instant::now();
    let mut bytes = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        if mode == "stream" {
            std::hint::black_box(stream(&set, &text, 16).written);
        } else {
            std::hint::black_box(block(&set, &text));
        }
        bytes += text.len();
    }
    let mut cache = set.create_cache();
    let _ = set.findings_with(
        &mut cache,
        rulegate_engine::Side::Response,
        rulegate_engine::Scope::Assistant,
        &text,
    );
    let _ = set.findings_with(
        &mut cache,
        rulegate_engine::Side::Response,
        rulegate_engine::Scope::Assistant,
        &text,
    );
    eprintln!(
        "after two block scans (clears, bytes) per DFA: {:?}",
        cache.clear_counts()
    );
    let rate = bytes as f64 / started.elapsed().as_secs_f64() / 1e6;
    eprintln!("{class} {mode}: {rate:.1} MB/s");
}
