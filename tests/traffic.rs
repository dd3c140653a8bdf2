//! The shipped packs over a fixture set of realistic traffic (Claude Code's
//! system prompt, files and command output it reads, replies): one reviewed
//! insta snapshot per fixture of what the gateway would forward or return,
//! and every finding. A fixture's first line may name the sides and scopes
//! to run (see `rulegate_lang::cases`).

#[test]
fn shipped_packs_over_realistic_traffic() {
    let rules = rulegate_benches::shipped_rule_set();
    insta::glob!("fixtures/traffic/*", |path| {
        let bytes = std::fs::read(path).unwrap();
        let snapshot = rulegate_lang::cases::snapshot(&rules, &bytes)
            .unwrap_or_else(|problem| panic!("{}: {problem}", path.display()));
        insta::assert_snapshot!(snapshot);
    });
}

/// The same fixtures with a team's policy loaded beside the packs
/// (`tests/fixtures/policy/team.rules`: a rule disabled, one overridden to
/// log, one to reject, a value allowed): what composition changes, pinned.
#[test]
fn a_team_policy_over_the_shipped_packs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = rulegate_lang::load(&[root.join("../rules"), root.join("fixtures/policy")])
        .expect("the packs and the policy load");
    assert!(!loaded.has_errors(), "the policy checks clean");
    let rules = loaded.compile().expect("compiles");
    insta::glob!("fixtures/traffic/0[2-5]*", |path| {
        let bytes = std::fs::read(path).unwrap();
        let snapshot = rulegate_lang::cases::snapshot(&rules, &bytes)
            .unwrap_or_else(|problem| panic!("{}: {problem}", path.display()));
        insta::assert_snapshot!(snapshot);
    });
}
