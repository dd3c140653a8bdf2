//! `accuracy`: writes the seeded, labeled corpus under `target/accuracy/`,
//! scans every document with the packs (response side, assistant scope, so
//! that every rule's mask applies) and prints precision and recall per
//! type as a markdown table.
//!
//! ```text
//! cargo run --release -p rulegate-benches --bin accuracy -- \
//!     [--seed 7] [--docs 2400] [--rules rules] [--out target/accuracy] \
//!     [--corpus own|independent|own-unencoded] \
//!     [--also rules/policy-examples/bare-keys.rules]
//! ```
//!
//! `--also FILE` loads a rule file beside the packs: what an opt-in pack
//! changes.
//!
//! `--corpus own-unencoded` deals the own corpus among the carriers that
//! add no encoding of their own (no HTTP dumps, JSON in JSON or
//! Kubernetes Secrets): the corpus of the by-type accuracy test.
//!
//! `--corpus independent` scores the packs on `accuracy::independent`, a
//! corpus written from public format facts without reading the packs
//! (default output directory `target/accuracy-independent`).
//!
//! Files written: `corpus/*` (the documents), `labels.jsonl`,
//! `negatives.jsonl`, `ours-findings.jsonl` (read by `compare.sh`) and
//! `examples.md` (misses and false positives per type, with context).

use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use rulegate_benches::accuracy::{self, Category, Found};
use rulegate_engine::{Scope, Side};
use serde_json::json;

struct Args {
    seed: u64,
    docs: usize,
    rules: PathBuf,
    /// Measure the packs as committed at this revision instead.
    rules_at: Option<String>,
    /// Rule files loaded beside the packs (an opt-in example pack).
    also: Vec<PathBuf>,
    out: PathBuf,
    /// `own` (the corpus the packs were developed with) or `independent`.
    corpus: String,
}

fn parse_args() -> Result<Args, String> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf);
    let mut args = Args {
        seed: 7,
        docs: 2400,
        rules: root.join("rules"),
        rules_at: None,
        also: Vec::new(),
        out: root.join("target/accuracy"),
        corpus: "own".to_string(),
    };
    let mut out_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--docs" => args.docs = value()?.parse().map_err(|e| format!("--docs: {e}"))?,
            "--rules" => args.rules = PathBuf::from(value()?),
            "--rules-at" => args.rules_at = Some(value()?),
            "--also" => args.also.push(PathBuf::from(value()?)),
            "--out" => {
                args.out = PathBuf::from(value()?);
                out_given = true;
            }
            "--corpus" => {
                args.corpus = value()?;
                if !matches!(args.corpus.as_str(), "own" | "independent" | "own-unencoded") {
                    return Err(format!(
                        "--corpus: `{}` is not `own`, `independent` or `own-unencoded`",
                        args.corpus
                    ));
                }
            }
            "-h" | "--help" => {
                return Err("usage: accuracy [--seed N] [--docs N] [--rules DIR | --rules-at GIT-REV] [--also FILE]... [--out DIR] [--corpus own|independent|own-unencoded]".into())
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    if args.corpus == "independent" && !out_given {
        args.out = root.join("target/accuracy-independent");
    }
    Ok(args)
}

/// The last commit that touched `dir`, and whether the tree differs.
fn revision(dir: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["log", "-1", "--format=%h %cs %s", "--", "."]) {
        Some(commit) if !commit.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--", "."]).is_some_and(|s| !s.is_empty());
            let short: String = commit.chars().take(90).collect();
            if dirty {
                format!("{short} (+ uncommitted changes)")
            } else {
                short
            }
        }
        _ => "unknown (not a git checkout)".to_string(),
    }
}

/// Writes the `*.rules` files directly inside `rules` as committed at
/// `rev` into a directory of their own; returns it and a description.
fn checkout_rules(rules: &Path, rev: &str, out: &Path) -> Result<(PathBuf, String), String> {
    let git = |args: &[&str]| -> Result<Vec<u8>, String> {
        let output = Command::new("git")
            .arg("-C")
            .arg(rules)
            .args(args)
            .output()
            .map_err(|e| format!("running git: {e}"))?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    };
    let commit = String::from_utf8_lossy(&git(&[
        "rev-parse",
        "--short",
        &format!("{rev}^{{commit}}"),
    ])?)
    .trim()
    .to_string();
    let dir = out.join(format!("rules-{commit}"));
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let listing = git(&["ls-tree", "--name-only", &commit, "./"])?;
    for name in String::from_utf8_lossy(&listing).lines() {
        if name.ends_with(".rules") {
            let text = git(&["show", &format!("{commit}:./{name}")])?;
            fs::write(dir.join(name), text).map_err(|e| format!("writing {name}: {e}"))?;
        }
    }
    let changed = String::from_utf8_lossy(&git(&[
        "log",
        "-1",
        "--format=%h %cs %s",
        &commit,
        "--",
        ".",
    ])?)
    .trim()
    .chars()
    .take(90)
    .collect::<String>();
    Ok((
        dir,
        format!("{changed} (as committed at {commit}, via --rules-at {rev})"),
    ))
}

fn write_jsonl(path: &Path, rows: impl Iterator<Item = serde_json::Value>) -> std::io::Result<()> {
    let mut out = BufWriter::new(fs::File::create(path)?);
    for row in rows {
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("accuracy: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let corpus = match args.corpus.as_str() {
        "independent" => accuracy::independent::generate_scored(args.seed, args.docs),
        "own-unencoded" => {
            accuracy::generate_in(args.seed, args.docs, &accuracy::DocKind::UNENCODED)
        }
        _ => accuracy::generate_scored(args.seed, args.docs),
    };
    let generated = started.elapsed();

    let written_at = Instant::now();
    let dir = args.out.join("corpus");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for doc in &corpus.documents {
        fs::write(dir.join(&doc.name), &doc.text)
            .map_err(|e| format!("writing {}: {e}", doc.name))?;
    }
    let io = |e: std::io::Error| e.to_string();
    write_jsonl(
        &args.out.join("labels.jsonl"),
        corpus.documents.iter().flat_map(|doc| {
            doc.labels.iter().map(move |l| {
                json!({
                    "file": doc.name, "start": l.start, "end": l.end, "type": l.kind,
                    "also": l.also, "secret": l.category == Category::Secret,
                    "line": doc.line_of(l.start), "end_line": doc.line_of(l.end.saturating_sub(1)),
                    "text": &doc.text[l.start..l.end],
                })
            })
        }),
    )
    .map_err(io)?;
    write_jsonl(
        &args.out.join("negatives.jsonl"),
        corpus.documents.iter().flat_map(|doc| {
            doc.negatives.iter().map(move |n| {
                json!({
                    "file": doc.name, "start": n.start, "end": n.end, "kind": n.kind,
                    "line": doc.line_of(n.start), "end_line": doc.line_of(n.end.saturating_sub(1)),
                })
            })
        }),
    )
    .map_err(io)?;
    let written = written_at.elapsed();

    let (rules, rules_revision) = match &args.rules_at {
        Some(rev) => checkout_rules(&args.rules, rev, &args.out)?,
        None => (args.rules.clone(), revision(&args.rules)),
    };
    let compiled_at = Instant::now();
    let sources: Vec<PathBuf> = std::iter::once(rules.clone())
        .chain(args.also.iter().cloned())
        .collect();
    let loaded =
        rulegate_lang::load(&sources).map_err(|e| format!("loading {}: {e}", rules.display()))?;
    if loaded.has_errors() {
        let _ = rulegate_lang::render_human(&loaded, &mut std::io::stderr(), false);
        return Err(format!("{} do not check clean", rules.display()));
    }
    let set = loaded
        .compile()
        .map_err(|e| format!("compiling {}: {e}", rules.display()))?;
    let compiled = compiled_at.elapsed();
    // Each rule's category: its type's, else its file's (pii.rules → PII).
    let categories: Vec<Category> = set
        .rules()
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let name = accuracy::canonical(&rule.name);
            if let Some(spec) = accuracy::type_spec(name) {
                return spec.category;
            }
            let file = loaded
                .rule_location(i)
                .and_then(|loc| loaded.files().get(loc.file))
                .map_or("", |f| f.name());
            if file.ends_with("pii.rules") {
                Category::Pii
            } else {
                Category::Secret
            }
        })
        .collect();

    let scanned_at = Instant::now();
    let findings: Vec<Vec<Found>> = corpus
        .documents
        .iter()
        .map(|doc| {
            set.findings(Side::Response, Scope::Assistant, doc.text.as_bytes())
                .into_iter()
                .map(|f| Found {
                    start: f.start,
                    end: f.end,
                    rule: accuracy::canonical(set.rule_name(f.rule)).to_string(),
                    category: categories[f.rule.index()],
                })
                .collect()
        })
        .collect();
    let scanned = scanned_at.elapsed();

    write_jsonl(
        &args.out.join("ours-findings.jsonl"),
        corpus
            .documents
            .iter()
            .zip(&findings)
            .flat_map(|(doc, found)| {
                found.iter().map(move |f| {
                json!({
                    "file": doc.name, "start": f.start, "end": f.end, "rule": f.rule,
                    "secret": f.category == Category::Secret,
                    "line": doc.line_of(f.start), "end_line": doc.line_of(f.end.saturating_sub(1)),
                })
            })
            }),
    )
    .map_err(io)?;

    let mut report = accuracy::score(&corpus, &findings);
    report.covered = Some(
        set.rules()
            .iter()
            .map(|rule| accuracy::canonical(&rule.name).to_string())
            .collect(),
    );
    let examples_path = args.out.join("examples.md");
    fs::write(&examples_path, report.examples()).map_err(io)?;

    let mib = corpus.bytes() as f64 / (1024.0 * 1024.0);
    println!(
        "## rulegate packs: accuracy on the {} corpus\n",
        if args.corpus == "independent" {
            "independent (accuracy::independent)"
        } else {
            "generated"
        }
    );
    println!(
        "- rules: `{}` ({} rules), last commit {rules_revision}",
        rules.display(),
        set.rules().len()
    );
    println!(
        "- corpus: seed {}, {} documents, {:.1} MiB, {} labels, {} hard negatives (`{}`)",
        args.seed,
        corpus.documents.len(),
        mib,
        corpus.labels(),
        corpus.negatives(),
        dir.display()
    );
    println!(
        "- time: generate {:.2} s, write {:.2} s, load+compile rules {:.2} s, scan {:.2} s ({:.1} MiB/s, one thread)",
        generated.as_secs_f64(),
        written.as_secs_f64(),
        compiled.as_secs_f64(),
        scanned.as_secs_f64(),
        mib / scanned.as_secs_f64()
    );
    println!("- scan: `RuleSet::findings(Side::Response, Scope::Assistant, document)`, span level");
    println!(
        "- rule names scored as another type: {}\n",
        accuracy::ALIASES
            .iter()
            .map(|(rule, ty)| format!("{rule} → {ty}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    print!("{}", report.table());
    println!(
        "\nTP/FP count findings, FN counts labels; a finding on a label of another type is an FP \
         for its rule but counts in \"recall (any rule)\". Examples: `{}`",
        examples_path.display()
    );
    Ok(())
}
