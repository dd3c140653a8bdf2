//! Snapshot of what `rulec check` shows for each case under
//! `tests/diagnostics/`: one `.rules` file, or one directory of them, per
//! case. Each snapshot holds the source and the rendered diagnostics
//! (no colour, paths relative to `lang/tests/`).

use std::fs;
use std::path::Path;

fn sources(path: &Path) -> Vec<(String, Vec<u8>)> {
    let case = path.file_name().unwrap().to_string_lossy().into_owned();
    if path.is_dir() {
        let mut files: Vec<_> = fs::read_dir(path)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rules"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|file| {
                let name = format!(
                    "diagnostics/{case}/{}",
                    file.file_name().unwrap().to_string_lossy()
                );
                (name, fs::read(&file).unwrap())
            })
            .collect()
    } else {
        vec![(format!("diagnostics/{case}"), fs::read(path).unwrap())]
    }
}

#[test]
fn rendered() {
    insta::glob!("diagnostics/*", |path| {
        let sources = sources(path);
        let mut shown = String::new();
        for (name, bytes) in &sources {
            shown.push_str(&format!("──── {name}\n{}", String::from_utf8_lossy(bytes)));
        }
        let loaded = rulegate_lang::check_sources(sources);
        let mut rendered = Vec::new();
        rulegate_lang::render_human(&loaded, &mut rendered, false).unwrap();
        shown.push_str("──── rulec check\n");
        shown.push_str(&String::from_utf8(rendered).unwrap());
        insta::assert_snapshot!(shown);
    });
}

/// The code in each case's name is the code it produces, so the table in
/// `docs/language.md` and the snapshots cannot drift apart.
#[test]
fn each_case_produces_the_code_in_its_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut seen = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(code) = name.split('-').next().filter(|c| c.len() == 5) else {
            continue;
        };
        let loaded = rulegate_lang::check_sources(sources(&path));
        let codes: Vec<&str> = loaded.diagnostics().iter().map(|d| d.code()).collect();
        assert!(codes.contains(&code), "{name}: {codes:?}");
        seen.push(code.to_string());
    }
    seen.sort();
    seen.dedup();
    let expected: Vec<String> = (1..=30)
        .map(|n| format!("E{n:04}"))
        .chain((1..=3).map(|n| format!("W{n:04}")))
        .collect();
    assert_eq!(seen, expected, "every code has a case");
}

/// `decode` reaches the engine: an example only a decoded view can find
/// passes with the clause and fails (E0023) without it.
#[test]
fn decode_clause_makes_examples_in_decoded_text_hit() {
    let rule = |decode: &str| {
        format!(
            "rule token {{\n  match /sk-[a-z0-9]{{8}}/\n{decode}  request mask \"[x]\"\n  example hit \"q=sk%2Dabcd1234\"\n  example hit \"ｓｋ－ａｂｃｄ１２３４\"\n  example hit \"{{\\\\\\\"k\\\\\\\":\\\\\\\"sk\\\\u002dabcd1234\\\\\\\"}}\"\n  example hit \"Basic c2stYWJjZDEyMzQ=\"\n}}\n"
        )
    };
    let codes = |text: String| -> Vec<&'static str> {
        let loaded = rulegate_lang::check_sources(vec![("t.rules".into(), text.into_bytes())]);
        loaded.diagnostics().iter().map(|d| d.code()).collect()
    };
    assert_eq!(
        codes(rule("  decode percent, json-escape, unicode, base64\n")),
        Vec::<&str>::new()
    );
    assert_eq!(codes(rule("")), ["E0023"; 4]);
    assert_eq!(codes(rule("  decode unicode\n")), ["E0023"; 3]);
    // A top-level `decode` line is the default of the rules after it; a
    // rule's own clause replaces it.
    let all = "decode percent, json-escape, unicode, base64\n";
    assert_eq!(codes(format!("{all}{}", rule(""))), Vec::<&str>::new());
    assert_eq!(codes(format!("{}{all}", rule(""))), ["E0023"; 4]);
    assert_eq!(
        codes(format!("{all}{}", rule("  decode unicode\n"))),
        ["E0023"; 3]
    );
    assert_eq!(
        codes(format!("decode percnt\n{}", rule(""))),
        ["E0028", "E0023", "E0023", "E0023", "E0023"]
    );
}

/// Composition: a policy file changes rules declared in another file
/// without copying them. `override` replaces actions and decodings and
/// adds allowed values and exceptions; `disable` leaves a rule out; a
/// top-level `allow` applies to every rule.
#[test]
fn a_policy_file_changes_rules_declared_elsewhere() {
    let base =
        "rule email {\n  match /[a-z.]{1,20}@[a-z]{1,20}\\.com/\n  request mask \"[email]\"\n}\n\
                rule key {\n  match /AKIA[A-Z0-9]{16}/\n  request reject \"key\"\n}\n\
                rule phone {\n  match /[0-9]{3}-[0-9]{4}/\n  request mask \"[phone]\"\n}\n";
    let policy = "disable phone\nallow \"AKIAIOSFODNN7EXAMPLE\"\n\
                  override email {\n  request mask \"[mail]\"\n  allow /[a-z]{1,20}@corp\\.com/\n\
                  unless followed by \" (bounced)\"\n}\n";
    let loaded = rulegate_lang::check_sources(vec![
        ("base.rules".to_string(), base.as_bytes().to_vec()),
        ("team.rules".to_string(), policy.as_bytes().to_vec()),
    ]);
    assert!(
        !loaded.has_errors(),
        "{:?}",
        loaded
            .diagnostics()
            .iter()
            .map(|d| d.message())
            .collect::<Vec<_>>()
    );
    let set = loaded.compile().unwrap();
    assert!(set.rule_id("phone").is_none(), "disabled");
    let text = "a.b@mail.com x@corp.com 555-1234 AKIAIOSFODNN7EXAMPLE q@r.com (bounced)";
    let applied = set.apply(
        rulegate_engine::Side::Request,
        rulegate_engine::Scope::User,
        text,
    );
    assert_eq!(
        applied.verdict,
        rulegate_engine::Verdict::Masked(
            "[mail] x@corp.com 555-1234 AKIAIOSFODNN7EXAMPLE q@r.com (bounced)".into()
        )
    );
    // Without the policy: the base rules as written.
    let base_only =
        rulegate_lang::check_sources(vec![("base.rules".to_string(), base.as_bytes().to_vec())]);
    let set = base_only.compile().unwrap();
    let applied = set.apply(
        rulegate_engine::Side::Request,
        rulegate_engine::Scope::User,
        text,
    );
    assert!(matches!(
        applied.verdict,
        rulegate_engine::Verdict::Rejected(_)
    ));
}
