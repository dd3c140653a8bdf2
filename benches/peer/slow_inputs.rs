//! A search for inputs the engine scans slowly: texts built from pieces of
//! the patterns themselves (their literal prefixes and keywords, runs of
//! the classes they use, separators), timed by the block scan of the text
//! repeated to [`EVAL_BYTES`] (copies varied as
//! [`super::inputs::repeat_to`] varies them), hill-climbed from a fixed seed within a time
//! budget. The finds are at most [`MAX_SEED`] bytes; a benchmark repeats
//! one to size ([`super::inputs::repeat_to`]).
//!
//! Deterministic only in what it tries, not in what it keeps: the timings
//! decide, and they vary from run to run.

use std::time::{Duration, Instant};

use regex_syntax::hir::{Class, Hir, HirKind};
use rulegate_engine::RuleSet;

use super::inputs::{repeat_to, CLASSES};
use super::patterns::{export, prefixes};
use crate::Rng;

/// Largest find, in bytes.
pub const MAX_SEED: usize = 4096;
/// Each candidate is timed on this many bytes.
pub const EVAL_BYTES: usize = 256 * 1024;
/// How many of the slowest candidates the search keeps and breeds from.
const POPULATION: usize = 12;

const CLASS_ALPHABETS: &[&[u8]] = &[
    b"0123456789",
    b"0123456789abcdef",
    b"0123456789ABCDEF",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    b"abcdefghijklmnopqrstuvwxyz",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
];
const SEPARATORS: &[u8] = b" -._:=/@\"'\n";

/// A slow text the search found.
pub struct Find {
    pub text: Vec<u8>,
    /// Block-scan throughput of the text repeated to [`EVAL_BYTES`],
    /// median of five runs.
    pub mb_per_s: f64,
}

/// The pieces candidates are built from.
pub struct Material {
    fragments: Vec<Vec<u8>>,
    /// Slices of the hand-written adversarial classes, split at spaces and
    /// line breaks: the starting population.
    starts: Vec<Vec<Vec<u8>>>,
}

impl Material {
    pub fn of(set: &RuleSet) -> Material {
        let mut fragments: Vec<Vec<u8>> = Vec::new();
        for pattern in export(set) {
            fragments.extend(prefixes(&pattern.hir));
            words_inside(&pattern.hir, &mut fragments);
        }
        fragments.sort();
        fragments.dedup();
        let starts = CLASSES
            .iter()
            .enumerate()
            .map(|(i, class)| {
                let text = (class.make)(set, 1000 + i as u64, MAX_SEED / 2);
                text.split_inclusive(|&b| b == b' ' || b == b'\n')
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .collect();
        Material { fragments, starts }
    }

    pub fn fragment_count(&self) -> usize {
        self.fragments.len()
    }

    fn piece(&self, rng: &mut Rng) -> Vec<u8> {
        match rng.below(3) {
            0 => self.fragments[rng.below(self.fragments.len())].clone(),
            1 => {
                let alphabet = CLASS_ALPHABETS[rng.below(CLASS_ALPHABETS.len())];
                let longest = [8, 40, 160][rng.below(3)];
                let len = 1 + rng.below(longest);
                rng.string_from(alphabet, len).into_bytes()
            }
            _ => vec![SEPARATORS[rng.below(SEPARATORS.len())]],
        }
    }

    fn mutate(&self, rng: &mut Rng, parent: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut child = parent.to_vec();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(child.len().max(1));
            match rng.below(6) {
                0 | 1 => child.insert(at.min(child.len()), self.piece(rng)),
                2 if child.len() > 1 => {
                    child.remove(at);
                }
                3 if !child.is_empty() => child[at] = self.piece(rng),
                4 if !child.is_empty() => stretch(rng, &mut child[at]),
                _ if child.len() > 2 => {
                    // Repeat a span: periodic structure is what keeps a
                    // lazy DFA's cache busy or its matches alive.
                    let len = 1 + rng.below(8.min(child.len() - at));
                    let span: Vec<Vec<u8>> = child[at..at + len].to_vec();
                    for (k, piece) in span.into_iter().enumerate() {
                        child.insert(at + len + k, piece);
                    }
                }
                _ => child.push(self.piece(rng)),
            }
        }
        // Keep the text within MAX_SEED by dropping pieces from the end.
        while render(&child).len() > MAX_SEED && child.len() > 1 {
            child.pop();
        }
        child
    }
}

/// Longer or shorter by characters of the class of its last byte.
fn stretch(rng: &mut Rng, piece: &mut Vec<u8>) {
    let Some(&last) = piece.last() else { return };
    if rng.below(2) == 0 && piece.len() > 1 {
        let cut = 1 + rng.below(piece.len() / 2 + 1);
        piece.truncate(piece.len().saturating_sub(cut).max(1));
        return;
    }
    let alphabet: &[u8] = if last.is_ascii_digit() {
        b"0123456789"
    } else if last.is_ascii_uppercase() {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    } else if last.is_ascii_lowercase() {
        b"abcdefghijklmnopqrstuvwxyz"
    } else {
        std::slice::from_ref(&last)
    };
    let more = 1 + rng.below(piece.len() + 8);
    piece.extend(rng.string_from(alphabet, more).into_bytes());
}

fn render(pieces: &[Vec<u8>]) -> Vec<u8> {
    pieces.concat()
}

/// Case-insensitive keywords (`(?i:token)` is a concatenation of two-letter
/// classes) and plain literals of three bytes or more, anywhere in `hir`.
fn words_inside(hir: &Hir, out: &mut Vec<Vec<u8>>) {
    match hir.kind() {
        HirKind::Concat(parts) => {
            let mut word = Vec::new();
            for part in parts {
                match letter(part) {
                    Some(bytes) => word.extend(bytes),
                    None => {
                        if word.len() >= 3 {
                            out.push(std::mem::take(&mut word));
                        }
                        word.clear();
                        words_inside(part, out);
                    }
                }
            }
            if word.len() >= 3 {
                out.push(word);
            }
        }
        HirKind::Alternation(branches) => branches.iter().for_each(|b| words_inside(b, out)),
        HirKind::Repetition(rep) => words_inside(&rep.sub, out),
        HirKind::Capture(capture) => words_inside(&capture.sub, out),
        HirKind::Literal(literal) if literal.0.len() >= 3 => out.push(literal.0.to_vec()),
        _ => {}
    }
}

/// The bytes a HIR node spells when it is a literal or a letter in either
/// case (lowercase then).
fn letter(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(literal) => Some(literal.0.to_vec()),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges: Vec<(char, char)> = class.iter().map(|r| (r.start(), r.end())).collect();
            match ranges.as_slice() {
                [(a, a2), (b, b2)] if a == a2 && b == b2 && a.to_ascii_lowercase() == *b => {
                    Some(vec![*b as u8])
                }
                // `k` folds to K, k and the Kelvin sign.
                [(a, a2), (b, b2), (c, c2)]
                    if a == a2
                        && b == b2
                        && c == c2
                        && a.to_ascii_lowercase() == *b
                        && !c.is_ascii() =>
                {
                    Some(vec![*b as u8])
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Block-scan throughput in MB/s of `text` repeated to [`EVAL_BYTES`],
/// best of `runs`.
fn throughput(set: &RuleSet, text: &[u8], runs: usize) -> f64 {
    let full = repeat_to(text, EVAL_BYTES);
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(super::block(set, std::hint::black_box(&full)));
        best = best.min(started.elapsed());
    }
    full.len() as f64 / best.as_secs_f64() / 1e6
}

fn median_throughput(set: &RuleSet, text: &[u8]) -> f64 {
    let full = repeat_to(text, EVAL_BYTES);
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(super::block(set, std::hint::black_box(&full)));
            full.len() as f64 / started.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[2]
}

/// Hill-climbs for `budget` from `seed`, on one island per hand-written
/// class and one of random pieces (each its own population, so that the
/// finds differ rather than all descend from the first slow text); returns
/// each island's slowest find, the `keep` slowest first. `progress` is told
/// of each island's new worst.
pub fn search(
    set: &RuleSet,
    seed: u64,
    budget: Duration,
    keep: usize,
    mut progress: impl FnMut(f64, &[u8]),
) -> Vec<Find> {
    let material = Material::of(set);
    let mut rng = Rng::new(seed);
    let mut islands: Vec<Vec<Vec<Vec<u8>>>> = material
        .starts
        .iter()
        .map(|start| vec![start.clone()])
        .collect();
    islands.push(
        (0..8)
            .map(|_| {
                (0..4 + rng.below(40))
                    .map(|_| material.piece(&mut rng))
                    .collect()
            })
            .collect(),
    );
    let share = budget / islands.len() as u32;
    let mut finds: Vec<Find> = islands
        .into_iter()
        .filter_map(|starts| {
            let best = climb(set, &material, &mut rng, starts, share, &mut progress)?;
            let text = render(&best);
            let mb_per_s = median_throughput(set, &text);
            Some(Find { text, mb_per_s })
        })
        .collect();
    finds.sort_by(|a, b| a.mb_per_s.total_cmp(&b.mb_per_s));
    finds.truncate(keep);
    finds
}

/// One island: the slowest candidate bred from `starts` within `budget`.
fn climb(
    set: &RuleSet,
    material: &Material,
    rng: &mut Rng,
    starts: Vec<Vec<Vec<u8>>>,
    budget: Duration,
    progress: &mut impl FnMut(f64, &[u8]),
) -> Option<Vec<Vec<u8>>> {
    let deadline = Instant::now() + budget;
    // (pieces, MB/s), slowest first.
    let mut population: Vec<(Vec<Vec<u8>>, f64)> = Vec::new();
    let mut worst = f64::MAX;
    let mut consider = |pieces: Vec<Vec<u8>>, population: &mut Vec<(Vec<Vec<u8>>, f64)>| {
        let text = render(&pieces);
        if text.is_empty() || population.iter().any(|(p, _)| render(p) == text) {
            return;
        }
        let mut rate = throughput(set, &text, 1);
        let slowest_kept = population.last().map_or(f64::MAX, |(_, r)| *r);
        if population.len() >= POPULATION && rate >= slowest_kept {
            return;
        }
        // A candidate that looks slow is timed again: one run is noisy.
        rate = rate.max(throughput(set, &text, 2));
        if population.len() < POPULATION || rate < slowest_kept {
            if rate < worst {
                worst = rate;
                progress(rate, &text);
            }
            population.push((pieces, rate));
            population.sort_by(|a, b| a.1.total_cmp(&b.1));
            population.truncate(POPULATION);
        }
    };
    for start in starts {
        consider(start, &mut population);
    }
    while Instant::now() < deadline && !population.is_empty() {
        // Slower parents breed more often.
        let bound = rng.below(population.len()) + 1;
        let parent = rng.below(bound);
        let child = material.mutate(rng, &population[parent].0);
        consider(child, &mut population);
    }
    population.into_iter().next().map(|(pieces, _)| pieces)
}

/// The finds committed in `benches/slow-inputs/`, by file name.
pub fn committed() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("slow-inputs");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "txt"))
        .filter_map(|entry| {
            let name = entry.path().file_stem()?.to_string_lossy().into_owned();
            Some((name, std::fs::read(entry.path()).ok()?))
        })
        .collect();
    files.sort();
    files
}
