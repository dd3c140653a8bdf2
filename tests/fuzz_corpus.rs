//! Every fuzz seed and every input that once crashed a target, replayed
//! through the same targets on the stable toolchain (`fuzz/run.sh` runs
//! them coverage-guided where nightly is available). A crash found by the
//! fuzzer is added to `fuzz/regressions/TARGET/` and stays a test here.

use std::path::Path;

use rulegate_tests::fuzz_targets;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{} failed", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no seeds for {target}");
}

#[test]
fn json_seeds_and_regressions() {
    replay("json", fuzz_targets::json);
}

#[test]
fn sse_seeds_and_regressions() {
    replay("sse", fuzz_targets::sse);
}

#[test]
fn tool_json_seeds_and_regressions() {
    replay("tool_json", fuzz_targets::tool_json);
}

#[test]
fn views_seeds_and_regressions() {
    replay("views", fuzz_targets::views);
}

#[test]
fn request_seeds_and_regressions() {
    replay("request", fuzz_targets::request);
}
