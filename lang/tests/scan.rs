//! `rulec scan` as a user runs it: masked text, chunk sizes that must not
//! change the output, JSON findings, rejections and their exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const RULES: &str = r#"
rule key {
  match /AKIA[A-Z2-7]{16}/
  request reject "AWS key in prompt" in user
  request mask "[key]"
  response mask "[redacted:{rule}]"
}
rule email {
  match /\b[a-z.]{1,20}@[a-z]{1,20}\.(?:com|org)\b/
  response mask "[email]"
}
rule codename {
  match "project falcon" nocase word
  response log
}
"#;

const INPUT: &str = "Keys: AKIAHBRPOIGF3CBFNOBM, mail jane.doe@example.com.\n\
Project Falcon ships; café ☕ and 日本語 survive. Split AKIA at the end: AKIAHBRPOIGF3CBFNOBN";

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("scan-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("test.rules"), RULES).unwrap();
    std::fs::write(dir.join("input.txt"), INPUT).unwrap();
    dir
}

fn rulec(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rulec"))
        .current_dir(dir)
        .arg("scan")
        .args(["--rules", "test.rules"])
        .args(args)
        .output()
        .expect("rulec runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn masks_the_response_side_by_default() {
    let dir = scratch("default");
    let output = rulec(&dir, &["input.txt"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "Keys: [redacted:key], mail [email].\n\
         Project Falcon ships; café ☕ and 日本語 survive. Split AKIA at the end: [redacted:key]"
    );
}

#[test]
fn every_chunk_size_gives_the_same_output() {
    let dir = scratch("chunks");
    let reference = rulec(&dir, &["input.txt"]).stdout;
    for size in ["1", "2", "3", "7", "16", "4096"] {
        let output = rulec(&dir, &["--chunk-size", size, "input.txt"]);
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(text(&output.stdout), text(&reference), "chunk size {size}");
    }
    let output = rulec(&dir, &["--chunk-size", "0", "input.txt"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a zero chunk size is a usage error"
    );
}

#[test]
fn json_lists_findings_with_offsets_lines_and_columns() {
    let dir = scratch("json");
    let output = rulec(
        &dir,
        &["--format", "json", "--chunk-size", "5", "input.txt"],
    );
    assert_eq!(output.status.code(), Some(0));
    let findings: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary: Vec<(String, u64, u64, u64, u64, String)> = findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["start"].as_u64().unwrap(),
                f["end"].as_u64().unwrap(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let second_line = INPUT.find('\n').unwrap() as u64 + 1;
    let falcon = INPUT.find("Project Falcon").unwrap() as u64;
    let last_key = INPUT.rfind("AKIA").unwrap() as u64;
    assert_eq!(
        summary,
        vec![
            ("key".into(), 6, 26, 1, 7, "mask".into()),
            ("email".into(), 33, 53, 1, 34, "mask".into()),
            (
                "codename".into(),
                falcon,
                falcon + 14,
                2,
                falcon - second_line + 1,
                "log".into()
            ),
            (
                "key".into(),
                last_key,
                last_key + 20,
                2,
                last_key - second_line + 1,
                "mask".into()
            ),
        ]
    );
    assert!(findings.iter().all(|f| f["file"] == "input.txt"));
}

#[test]
fn a_request_side_reject_exits_3_and_names_the_rule() {
    let dir = scratch("reject");
    let output = rulec(&dir, &["--side", "request", "input.txt"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(text(&output.stderr), "rejected by key: AWS key in prompt\n");
    assert_eq!(
        text(&output.stdout),
        "Keys: ",
        "only what precedes the key is released"
    );
    // In a tool result the same key is masked, not rejected.
    let output = rulec(
        &dir,
        &["--side", "request", "--scope", "tool-result", "input.txt"],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).starts_with("Keys: [key], mail jane.doe@example.com."));
}

#[test]
fn reads_standard_input_and_reports_missing_files() {
    let dir = scratch("stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rulec"))
        .current_dir(&dir)
        .args(["scan", "--rules", "test.rules", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"write to jane@example.org")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(text(&output.stdout), "write to [email]");
    let output = rulec(&dir, &["missing.txt"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("missing.txt"));
}

#[test]
fn broken_rules_are_reported_and_nothing_is_scanned() {
    let dir = scratch("broken");
    std::fs::write(
        dir.join("test.rules"),
        "rule bad {\n  match /a+/\n  response log\n}\n",
    )
    .unwrap();
    let output = rulec(&dir, &["input.txt"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("error["));
    assert!(output.stdout.is_empty());
}

#[test]
fn unless_preceded_by_spares_matches_after_the_named_text_at_every_chunk_size() {
    let dir = scratch("unless");
    std::fs::write(
        dir.join("ip.rules"),
        r#"
rule ip {
  match /\b(?:\d{1,3}\.){3}\d{1,3}\b/
  unless preceded by /(?i)version[ :="]{0,4}/
  response mask "[ip]"
}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("ips.txt"),
        "host 93.184.216.34 runs VERSION=5.9.118.8 and \"version\": \"1.2.3.4\", then 8.8.8.8",
    )
    .unwrap();
    for size in ["1", "2", "7", "65536"] {
        let output = Command::new(env!("CARGO_BIN_EXE_rulec"))
            .current_dir(&dir)
            .args([
                "scan",
                "--rules",
                "ip.rules",
                "--chunk-size",
                size,
                "ips.txt",
            ])
            .output()
            .expect("rulec runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert_eq!(
            text(&output.stdout),
            "host [ip] runs VERSION=5.9.118.8 and \"version\": \"1.2.3.4\", then [ip]",
            "chunk size {size}"
        );
    }
}

/// `--fail-on` makes `rulec scan` a CI gate: the default fails only on a
/// reject (3), `mask` also on a masked finding and `any` on a logged one
/// (4), after the whole input was scanned and printed.
#[test]
fn fail_on_gates_by_the_most_serious_finding() {
    let dir = scratch("fail-on");
    std::fs::write(dir.join("logged.txt"), "Project Falcon ships.").unwrap();
    std::fs::write(dir.join("clean.txt"), "nothing to see").unwrap();
    let status = |args: &[&str]| rulec(&dir, args).status.code();
    assert_eq!(status(&["input.txt"]), Some(0));
    assert_eq!(status(&["--fail-on", "reject", "input.txt"]), Some(0));
    assert_eq!(status(&["--fail-on", "mask", "input.txt"]), Some(4));
    assert_eq!(status(&["--fail-on", "any", "input.txt"]), Some(4));
    assert_eq!(status(&["--fail-on", "mask", "logged.txt"]), Some(0));
    assert_eq!(status(&["--fail-on", "any", "logged.txt"]), Some(4));
    assert_eq!(status(&["--fail-on", "any", "clean.txt"]), Some(0));
    // Every input is scanned and printed before the verdict.
    let output = rulec(&dir, &["--fail-on", "mask", "input.txt", "clean.txt"]);
    assert!(text(&output.stdout).ends_with("nothing to see"));
    // A reject still wins, with its own status.
    let rejected = rulec(
        &dir,
        &["--side", "request", "--fail-on", "any", "input.txt"],
    );
    assert_eq!(rejected.status.code(), Some(3));
    assert_eq!(status(&["--fail-on", "sometimes", "input.txt"]), Some(2));
}

/// Scopes are spelled as in the language.
#[test]
fn scopes_are_spelled_as_in_the_language() {
    let dir = scratch("scopes");
    for scope in ["tool_result", "tool_input", "tool-result"] {
        let output = rulec(&dir, &["--side", "request", "--scope", scope, "input.txt"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{scope}: {}",
            text(&output.stderr)
        );
        assert!(text(&output.stdout).contains("[key]"));
    }
}
