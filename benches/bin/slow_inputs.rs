//! Searches for inputs the engine scans slowly and writes the slowest
//! finds to `benches/slow-inputs/slowest-N.txt` (each at most 4 KiB; the
//! peer bench repeats them to size).
//!
//! `SLOW_SEARCH_SECS=60 cargo run --release -p rulegate-benches --bin slow-inputs`
//! (`SLOW_SEARCH_SEED` picks another search; `SLOW_SEARCH_KEEP` how many
//! finds to write, default 3.)

use std::time::{Duration, Instant};

use rulegate_benches::peer::slow_inputs::{search, Material, EVAL_BYTES};
use rulegate_benches::shipped_rule_set;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs = env_number("SLOW_SEARCH_SECS", 60);
    let seed = env_number("SLOW_SEARCH_SEED", 1);
    let keep = env_number("SLOW_SEARCH_KEEP", 3) as usize;
    let set = shipped_rule_set();
    println!(
        "slow-input search: {} fragments from {} patterns, {secs} s, seed {seed}, \
         each candidate timed on {} KiB",
        Material::of(&set).fragment_count(),
        set.pattern_count(),
        EVAL_BYTES / 1024
    );
    let started = Instant::now();
    let finds = search(&set, seed, Duration::from_secs(secs), keep, |rate, text| {
        println!(
            "{:6.1} s  slowest yet on this island {rate:7.2} MB/s  {}",
            started.elapsed().as_secs_f64(),
            snippet(text, 80)
        );
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("slow-inputs");
    std::fs::create_dir_all(&dir).expect("benches/slow-inputs is writable");
    for (i, find) in finds.iter().enumerate() {
        let path = dir.join(format!("slowest-{}.txt", i + 1));
        std::fs::write(&path, &find.text).expect("a find is written");
        println!(
            "{}: {:.2} MB/s (median of 5), {} bytes; first 200 bytes:\n{}\n",
            path.display(),
            find.mb_per_s,
            find.text.len(),
            snippet(&find.text, 200)
        );
    }
}

/// The first `len` bytes, with control characters escaped.
fn snippet(text: &[u8], len: usize) -> String {
    String::from_utf8_lossy(&text[..len.min(text.len())])
        .escape_debug()
        .to_string()
}
