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
