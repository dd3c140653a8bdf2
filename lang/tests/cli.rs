//! `rulec` as a user runs it: exit statuses, the summary line, JSON lines,
//! and the paths that cannot be read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rulec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rulec"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("rulec runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A fresh directory under the target dir, removed first if it exists.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn case(name: &str) -> String {
    format!("{}/tests/diagnostics/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn clean_rules_exit_zero_with_a_summary() {
    let output = rulec(&["check", &case("clean.rules")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "checked 1 rule in 1 file: 0 errors, 0 warnings\n"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn warnings_alone_exit_zero() {
    let output = rulec(&["check", &case("W0001-unreachable-action.rules")]);
    assert_eq!(output.status.code(), Some(0));
    let text = stderr(&output);
    assert!(text.contains("warning[W0001]"), "{text}");
    assert!(
        text.ends_with("checked 1 rule in 1 file: 0 errors, 1 warning\n"),
        "{text}"
    );
}

#[test]
fn errors_exit_one_and_are_not_coloured_off_a_terminal() {
    let output = rulec(&["check", &case("E0014-unknown-check.rules")]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.starts_with("error[E0014]: unknown check `lunh`\n"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no escape codes when piped");
    assert!(text.ends_with("checked 1 rule in 1 file: 1 error, 0 warnings\n"));
}

#[test]
fn colour_can_be_forced() {
    let output = rulec(&[
        "check",
        "--color",
        "always",
        &case("E0014-unknown-check.rules"),
    ]);
    assert!(stderr(&output).contains('\u{1b}'));
}

#[test]
fn a_directory_loads_its_own_files_not_its_subdirectories() {
    let dir = scratch("recursive");
    std::fs::create_dir_all(dir.join("nested/deeper")).unwrap();
    let rule = |name: &str| format!("rule {name} {{\n  match \"{name}\"\n  request log\n}}\n");
    std::fs::write(dir.join("a.rules"), rule("a")).unwrap();
    std::fs::write(dir.join("nested/deeper/b.rules"), rule("b")).unwrap();
    std::fs::write(dir.join("nested/ignored.txt"), "not rules").unwrap();
    std::fs::write(dir.join("c.rules"), rule("c")).unwrap();
    let output = rulec(&["check", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "checked 2 rules in 2 files: 0 errors, 0 warnings\n"
    );
    // Named, a subdirectory loads.
    let nested = dir.join("nested/deeper");
    let output = rulec(&["check", nested.to_str().unwrap()]);
    assert_eq!(
        stderr(&output),
        "checked 1 rule in 1 file: 0 errors, 0 warnings\n"
    );
}

#[test]
fn json_prints_one_object_per_diagnostic_on_stdout() {
    let output = rulec(&["check", "--format", "json", &case("many-errors.rules")]);
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let first = &lines[0];
    assert_eq!(first["code"], "E0010");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["message"], "pattern has no maximum length");
    assert!(first["file"]
        .as_str()
        .unwrap()
        .ends_with("many-errors.rules"));
    assert_eq!(first["line"], 3);
    assert_eq!(first["column"], 11);
    assert_eq!(first["end"]["line"], 3);
    assert_eq!(first["end"]["column"], 15);
    assert!(stderr(&output).ends_with("checked 2 rules in 1 file: 5 errors, 0 warnings\n"));
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let output = rulec(&["check", "no/such/rules"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output), "error: `no/such/rules` does not exist\n");
}

#[test]
fn a_directory_without_rules_files_is_an_error() {
    let dir = scratch("no-rules");
    std::fs::write(
        dir.join("company.rule"),
        "rule a {\n  match \"x\"\n  request log\n}\n",
    )
    .unwrap();
    let output = rulec(&["check", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("holds no `*.rules` file; found `company.rule`"),
        "{text}"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_eq!(rulec(&["check"]).status.code(), Some(2));
    assert_eq!(rulec(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        rulec(&["check", "--format", "xml", "x.rules"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(rulec(&["--help"]).status.code(), Some(0));
}

#[test]
fn a_file_that_is_not_utf8_gets_a_diagnostic() {
    let dir = scratch("latin1");
    let path = dir.join("latin1.rules");
    std::fs::write(&path, b"rule a {\n  match \"caf\xe9\"\n  request log\n}\n").unwrap();
    let output = rulec(&["check", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("error[E0026]: file is not valid UTF-8: byte 0xe9 at offset 21"),
        "{text}"
    );
    assert!(text.contains("latin1.rules:2:13"), "{text}");
}

#[test]
fn the_shipped_examples_are_clean() {
    let rules = format!(
        "{}/../rules/policy-examples/language-tour.rules",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = rulec(&["check", &rules]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains(": 0 errors, 0 warnings"));
}

/// A rules file and a cases directory for `rulec test`.
fn test_project(name: &str, template: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("t.rules"),
        format!(
            "rule token {{\n  match /tok_[a-z0-9]{{8}}/\n  request reject \"no tokens\" in user\n  request mask \"{template}\"\n  response mask \"{template}\"\n}}\n"
        ),
    )
    .unwrap();
    let cases = dir.join("cases");
    std::fs::create_dir_all(cases.join("nested")).unwrap();
    std::fs::write(cases.join("reply.txt"), "here: tok_abcd1234\nbye\n").unwrap();
    std::fs::write(
        cases.join("nested/prompt.txt"),
        "#! rulegate: request user, request tool_result\nmy tok_abcd1234 is\n",
    )
    .unwrap();
    (rules, cases)
}

fn rulec_test(rules: &Path, cases: &Path, update: bool) -> Output {
    let mut args = vec!["test", "--rules", rules.to_str().unwrap()];
    if update {
        args.push("--update");
    }
    args.push(cases.to_str().unwrap());
    rulec(&args)
}

#[test]
fn rulec_test_writes_then_passes_then_shows_a_diff() {
    let (rules, cases) = test_project("test-cycle", "[masked]");

    let first = rulec_test(&rules, &cases, false);
    assert_eq!(first.status.code(), Some(1), "{}", stdout(&first));
    let out = stdout(&first);
    assert!(out.contains("NEW "), "{out}");
    assert!(out.ends_with(
        "tested 2 cases: 0 passed, 0 failed, 2 without a snapshot (review, then run with --update to accept)\n"
    ), "{out}");
    assert!(!cases.join("reply.txt.snap").exists());

    let update = rulec_test(&rules, &cases, true);
    assert_eq!(update.status.code(), Some(0), "{}", stdout(&update));
    assert!(stdout(&update).ends_with("tested 2 cases: 0 unchanged, 0 updated, 2 written\n"));
    let snap = std::fs::read_to_string(cases.join("nested/prompt.txt.snap")).unwrap();
    assert_eq!(
        snap,
        "=== request user: rejected by token ===\nno tokens\n=== request user: findings ===\n1:4-1:16 token reject \"tok_abcd1234\"\n=== request tool_result: output ===\nmy [masked] is\n=== request tool_result: findings ===\n1:4-1:16 token mask \"tok_abcd1234\"\n"
    );

    let again = rulec_test(&rules, &cases, false);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert_eq!(
        stdout(&again),
        "tested 2 cases: 2 passed, 0 failed, 0 without a snapshot\n"
    );

    // The rules change: the diff shows the old and new lines.
    let (rules, _) = test_project("test-cycle-changed", "[gone]");
    let changed = rulec_test(&rules, &cases, false);
    assert_eq!(changed.status.code(), Some(1));
    let out = stdout(&changed);
    assert!(out.contains("FAIL "), "{out}");
    assert!(out.contains("-here: [masked]\n+here: [gone]\n"), "{out}");
    assert!(out.contains("-my [masked] is\n+my [gone] is\n"), "{out}");
    assert!(out.ends_with("tested 2 cases: 0 passed, 2 failed, 0 without a snapshot (review, then run with --update to accept)\n"), "{out}");

    let accept = rulec_test(&rules, &cases, true);
    assert_eq!(accept.status.code(), Some(0));
    assert!(stdout(&accept).ends_with("tested 2 cases: 0 unchanged, 2 updated, 0 written\n"));
    assert_eq!(rulec_test(&rules, &cases, false).status.code(), Some(0));
}

#[test]
fn rulec_test_reports_a_bad_directive_and_broken_rules() {
    let (rules, cases) = test_project("test-bad", "[m]");
    std::fs::write(cases.join("bad.txt"), "#! rulegate: request nowhere\nx\n").unwrap();
    let output = rulec_test(&rules, &cases, true);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("INVALID "), "{out}");
    assert!(out.contains("unknown scope `nowhere`"), "{out}");
    assert!(out.ends_with(", 1 with a bad directive\n"), "{out}");

    std::fs::write(rules.join("broken.rules"), "rule {\n").unwrap();
    let output = rulec_test(&rules, &cases, false);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("error"), "{}", stderr(&output));

    std::fs::remove_file(rules.join("broken.rules")).unwrap();
    let missing = rulec(&["test", "--rules", rules.to_str().unwrap(), "/no/such/cases"]);
    assert_eq!(missing.status.code(), Some(2));
}
