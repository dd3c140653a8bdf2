//! rulegate against Vectorscan (Hyperscan's portable fork) on the shipped
//! packs: block and 16-byte streaming throughput side by side, and the
//! state each keeps per stream.
//!
//! `benches/peer.sh` (installs `libvectorscan5` if `ldconfig` lacks it, then
//! `cargo bench -p rulegate-benches --bench peer`). Without the library the
//! bench still prints rulegate's figures.
//!
//! What is compared:
//! - the 170 patterns of `rules/`, each printed from the engine's HIR to
//!   Hyperscan syntax in byte mode (`peer::patterns`), compiled with
//!   `HS_FLAG_SOM_LEFTMOST` (the masker needs match starts) into one block
//!   and one streaming database (`HS_MODE_SOM_HORIZON_LARGE`); a pattern
//!   Vectorscan refuses is named, with the reason, and left out of its
//!   side only;
//! - with Vectorscan 5.4.9 (Debian 12), 149 of the 170 are compared: 19
//!   are "Pattern is too large" only because of `HS_FLAG_SOM_LEFTMOST`
//!   (long bounded repeats such as `[A-Za-z0-9_-]{79,159}` need start of
//!   match tracked through them; all but `pgp-private-key#1` compile
//!   without it), and `azure-storage-key#1` is left out because its
//!   database aborts `hs_scan` (see [`CRASH_HS_SCAN`]);
//! - rulegate does more per byte than Vectorscan here: it resolves
//!   overlaps (leftmost, longest, first rule), runs the rules' checks
//!   (Luhn, mod 97, entropy) and `unless preceded by` exceptions, and a
//!   stream releases masked output; Vectorscan only calls back once per
//!   match end of every pattern (the callback counts). The ratios are
//!   therefore what a masker built on Vectorscan would start from, not
//!   what it would end with.
//!
//! Inputs (seeded, deterministic; 4 MiB each, the corpus 8 MiB):
//! - `corpus`: the mixed LLM-traffic corpus of `rulegate_benches::corpus`
//!   (prose, code, JSON, .env, logs; a planted secret every ~10 KiB);
//! - the classes of `peer::inputs::CLASSES` (secret-dense text and the
//!   adversarial near misses; each row prints its description);
//! - `slow:<name>`: each find of the slow-input search committed in
//!   `benches/slow-inputs/` (`cargo run --release -p rulegate-benches
//!   --bin slow-inputs`), repeated to size. With `SLOW_SEARCH_SECS=N`
//!   set, the bench also runs a fresh search for N seconds and adds its
//!   slowest find as `slow:fresh`.
//!
//! Columns: MB/s (10^6 bytes per second, median of 5 runs) of rulegate
//! block and streaming with 16-byte pushes on the whole packs; then, on
//! the same patterns as Vectorscan (`rg=`: the shipped rules with only the
//! patterns Vectorscan took, checks and exceptions kept), rulegate block
//! and streaming, Vectorscan block and streaming with 16-byte writes;
//! `blk×` and `str×` are rulegate / Vectorscan on those same patterns
//! (below 1: rulegate is slower). Rows are sorted by the worse of the two
//! ratios, worst first. `rg state` is the scanner's
//! heap bytes after the whole input (`Scanner::memory_usage`), `hs state`
//! Vectorscan's fixed per-stream size (`hs_stream_size`); `findings` are
//! rulegate's block findings, `hs matches` Vectorscan's callbacks.

mod vectorscan;

use std::time::{Duration, Instant};

use rulegate_benches::peer::inputs::{repeat_to, CLASSES};
use rulegate_benches::peer::patterns::{export, to_hyperscan};
use rulegate_benches::peer::slow_inputs::{committed, search};
use rulegate_benches::peer::{block, stream};
use rulegate_benches::{corpus, shipped_rule_set};
use rulegate_engine::RuleSet;
use vectorscan::{Db, Hs, HS_FLAG_SOM_LEFTMOST};

const CHUNK: usize = 16;
const CLASS_BYTES: usize = 4 * 1024 * 1024;
const CORPUS_BYTES: usize = 8 * 1024 * 1024;
const RUNS: usize = 5;

/// Median throughput in MB/s of `run` over `bytes`, and its last result.
fn timed<T>(bytes: usize, mut run: impl FnMut() -> T) -> (f64, T) {
    let mut rates = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let result = std::hint::black_box(run());
        rates.push(bytes as f64 / started.elapsed().as_secs_f64() / 1e6);
        last = Some(result);
    }
    rates.sort_by(f64::total_cmp);
    (rates[RUNS / 2], last.expect("RUNS > 0"))
}

/// Patterns whose database aborts Vectorscan's `hs_scan` ("buffer
/// overflow detected" in `rvermicelliDoubleExecReal`, an unconditional
/// debug `snprintf` into a 255-byte stack buffer: VectorCamp/vectorscan
/// pull request 392, merged April 2026, after Debian's 5.4.9) on inputs of
/// a few hundred KiB. Left out for versions before 5.4.13 (the first that
/// can hold the fix) unless `PEER_KEEP_ALL=1`; found by bisecting the 150
/// patterns over the corpus.
const CRASH_HS_SCAN: &[&str] = &["azure-storage-key#1"];

fn has_scan_crash_bug(version: &str) -> bool {
    let numbers: Vec<u32> = version
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect();
    numbers.as_slice() < [5, 4, 13].as_slice() && std::env::var_os("PEER_KEEP_ALL").is_none()
}

struct Peer<'hs> {
    block: Db<'hs>,
    stream: Db<'hs>,
    /// rulegate built from the patterns both databases hold, nothing else.
    same: RuleSet,
}

/// Compiles `patterns` in one mode, leaving out each pattern Vectorscan
/// refuses (and saying why) until the rest compiles.
fn compile_leaving_out<'hs>(
    hs: &'hs Hs,
    names: &[String],
    patterns: &[String],
    streaming: bool,
    left_out: &mut Vec<(String, String)>,
) -> (Db<'hs>, Vec<usize>) {
    let mut kept: Vec<usize> = (0..patterns.len()).collect();
    loop {
        let chosen: Vec<String> = kept.iter().map(|&i| patterns[i].clone()).collect();
        match hs.compile(&chosen, HS_FLAG_SOM_LEFTMOST, streaming) {
            Ok(db) => return (db, kept),
            Err((Some(at), message)) => {
                let pattern = kept.remove(at);
                let mode = if streaming { "stream" } else { "block" };
                left_out.push((names[pattern].clone(), format!("{mode} mode: {message}")));
            }
            Err((None, message)) => panic!("hs_compile_multi failed on the whole set: {message}"),
        }
    }
}

fn main() {
    let started = Instant::now();
    let set = shipped_rule_set();
    let exported = export(&set);
    let mut names = Vec::new();
    let mut printed = Vec::new();
    let mut unprintable = Vec::new();
    for pattern in &exported {
        let name = format!("{}#{}", pattern.rule, pattern.index + 1);
        match to_hyperscan(&pattern.hir) {
            Ok(text) => {
                names.push(name);
                printed.push(text);
            }
            Err(why) => unprintable.push((name, why.to_string())),
        }
    }
    println!(
        "rulegate: {} rules, {} patterns, {} forward shards; built in {:.2?}",
        set.rules().len(),
        set.pattern_count(),
        set.forward_shards(),
        started.elapsed()
    );
    if let Ok(path) = std::env::var("PEER_DUMP_PATTERNS") {
        let lines: Vec<String> = names
            .iter()
            .zip(&printed)
            .map(|(name, text)| format!("{name}\t{text}\n"))
            .collect();
        std::fs::write(&path, lines.concat()).expect("PEER_DUMP_PATTERNS is writable");
        println!("printed patterns written to {path}");
        return;
    }
    for (name, why) in &unprintable {
        println!("  no Hyperscan spelling for {name}: {why}");
    }

    let hs = match Hs::load() {
        Ok(hs) => Some(hs),
        Err(why) => {
            println!(
                "Vectorscan skipped: libhs.so.5 not found (apt-get install libvectorscan5) [{why}]"
            );
            None
        }
    };
    let peer = hs.as_ref().map(|hs| {
        let mut left_out = Vec::new();
        let mut candidates: Vec<usize> = (0..printed.len()).collect();
        if has_scan_crash_bug(&hs.version()) {
            candidates.retain(|&i| {
                let crashes = CRASH_HS_SCAN.contains(&names[i].as_str());
                if crashes {
                    left_out.push((
                        names[i].clone(),
                        "aborts hs_scan in this version (VectorCamp/vectorscan#392)".into(),
                    ));
                }
                !crashes
            });
        }
        let names_in: Vec<String> = candidates.iter().map(|&i| names[i].clone()).collect();
        let printed_in: Vec<String> = candidates.iter().map(|&i| printed[i].clone()).collect();
        let compiling = Instant::now();
        let (_, block_kept) =
            compile_leaving_out(hs, &names_in, &printed_in, false, &mut left_out);
        let kept_printed: Vec<String> =
            block_kept.iter().map(|&i| printed_in[i].clone()).collect();
        let kept_names: Vec<String> = block_kept.iter().map(|&i| names_in[i].clone()).collect();
        // Both databases hold the same patterns: those both modes take.
        let (stream_db, both) =
            compile_leaving_out(hs, &kept_names, &kept_printed, true, &mut left_out);
        let final_printed: Vec<String> = both.iter().map(|&i| kept_printed[i].clone()).collect();
        let final_names: Vec<String> = both.iter().map(|&i| kept_names[i].clone()).collect();
        let block_db = hs
            .compile(&final_printed, HS_FLAG_SOM_LEFTMOST, false)
            .expect("a subset of compiled patterns compiles");
        println!(
            "Vectorscan {}: {} of {} patterns compared (compiled in {:.2?}); block database {} KiB, \
             streaming database {} KiB, {} bytes of state per stream",
            hs.version(),
            final_printed.len(),
            exported.len(),
            compiling.elapsed(),
            block_db.database_size() / 1024,
            stream_db.database_size() / 1024,
            stream_db.stream_size()
        );
        for (name, why) in &left_out {
            println!("  Vectorscan refused {name}: {why}");
        }
        let same = rulegate_benches::peer::with_patterns(&set, |name| {
            final_names.iter().any(|kept| kept == name)
        });
        println!(
            "rulegate on the same {} patterns: {} rules, {} forward shards",
            same.pattern_count(),
            same.rules().len(),
            same.forward_shards()
        );
        Peer {
            block: block_db,
            stream: stream_db,
            same,
        }
    });

    let mut inputs: Vec<(String, String, Vec<u8>)> = vec![(
        "corpus".into(),
        "mixed LLM traffic, a planted secret every ~10 KiB".into(),
        corpus(1, CORPUS_BYTES).into_bytes(),
    )];
    for (i, class) in CLASSES.iter().enumerate() {
        inputs.push((
            class.name.into(),
            class.about.into(),
            (class.make)(&set, 100 + i as u64, CLASS_BYTES),
        ));
    }
    for (name, seed) in committed() {
        inputs.push((
            format!("slow:{name}"),
            format!(
                "benches/slow-inputs/{name}.txt ({} bytes) repeated",
                seed.len()
            ),
            repeat_to(&seed, CLASS_BYTES),
        ));
    }
    let fresh_secs: u64 = std::env::var("SLOW_SEARCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if fresh_secs > 0 {
        let finds = search(&set, 1, Duration::from_secs(fresh_secs), 1, |_, _| {});
        if let Some(find) = finds.first() {
            inputs.push((
                "slow:fresh".into(),
                format!(
                    "a {fresh_secs} s search's slowest find ({:.1} MB/s in the search)",
                    find.mb_per_s
                ),
                repeat_to(&find.text, CLASS_BYTES),
            ));
        }
    }

    /// rulegate on the same patterns as Vectorscan, and Vectorscan.
    struct Peered {
        rg_block: f64,
        rg_stream: f64,
        hs_block: f64,
        hs_stream: f64,
        matches: usize,
    }
    impl Peered {
        /// The worse of the block and stream ratios (below 1: rulegate slower).
        fn worse(&self) -> f64 {
            (self.rg_block / self.hs_block).min(self.rg_stream / self.hs_stream)
        }
    }
    struct Row {
        name: String,
        rg_block: f64,
        rg_stream: f64,
        peer: Option<Peered>,
        rg_state: usize,
        findings: usize,
    }
    let mut rows = Vec::new();
    let mut scratch = peer
        .as_ref()
        .map(|peer| (peer.block.scratch(), peer.stream.scratch()));
    for (name, about, text) in &inputs {
        println!(
            "  {name:<20} {:.1} MiB: {about}",
            text.len() as f64 / 1048576.0
        );
        let (rg_block, findings) = timed(text.len(), || block(&set, text));
        let (rg_stream, streamed) = timed(text.len(), || stream(&set, text, CHUNK));
        let peered = peer.as_ref().zip(scratch.as_mut()).map(|(peer, (bs, ss))| {
            let (same_block, _) = timed(text.len(), || block(&peer.same, text));
            let (same_stream, _) = timed(text.len(), || stream(&peer.same, text, CHUNK));
            let (hs_block, matches) = timed(text.len(), || peer.block.scan(bs, text));
            let (hs_stream, _) = timed(text.len(), || peer.stream.scan_stream(ss, text, CHUNK));
            Peered {
                rg_block: same_block,
                rg_stream: same_stream,
                hs_block,
                hs_stream,
                matches,
            }
        });
        rows.push(Row {
            name: name.clone(),
            rg_block,
            rg_stream,
            peer: peered,
            rg_state: streamed.state_bytes,
            findings,
        });
    }
    rows.sort_by(|a, b| {
        let worse = |row: &Row| row.peer.as_ref().map_or(f64::MAX, Peered::worse);
        worse(a).total_cmp(&worse(b))
    });

    let hs_state = peer.as_ref().map(|peer| peer.stream.stream_size());
    println!();
    println!(
        "{:<20} {:>9} {:>9} | {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} | {:>8} {:>8} {:>9} {:>10}",
        "input (MB/s)",
        "rg block",
        "rg str16",
        "rg= blk",
        "rg= str",
        "hs block",
        "hs str16",
        "blk×",
        "str×",
        "rg state",
        "hs state",
        "findings",
        "hs matches"
    );
    for row in &rows {
        let peered = match &row.peer {
            Some(p) => format!(
                "{:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>6.2} {:>6.2}",
                p.rg_block,
                p.rg_stream,
                p.hs_block,
                p.hs_stream,
                p.rg_block / p.hs_block,
                p.rg_stream / p.hs_stream
            ),
            None => format!(
                "{:>9} {:>9} {:>9} {:>9} {:>6} {:>6}",
                "-", "-", "-", "-", "-", "-"
            ),
        };
        println!(
            "{:<20} {:>9.1} {:>9.1} | {} | {:>7}K {:>8} {:>9} {:>10}",
            row.name,
            row.rg_block,
            row.rg_stream,
            peered,
            row.rg_state / 1024,
            hs_state.map_or("-".into(), |s| format!("{s}B")),
            row.findings,
            row.peer
                .as_ref()
                .map_or("-".into(), |p| p.matches.to_string())
        );
    }
    println!("\ntotal {:.1?}", started.elapsed());
}
