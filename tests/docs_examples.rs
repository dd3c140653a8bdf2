//! The `.rules` examples of the documentation are real: every fenced
//! block marked `rules` in the README and `docs/language.md` checks clean
//! (no error, and its inline examples pass), as `rulec check` would say;
//! a block marked `rules-policy` is checked loaded beside the shipped
//! packs, whose rules it changes.

use std::path::Path;

/// The fenced blocks of `text` whose info string is `info`, with the
/// line each starts on.
fn blocks_marked(text: &str, info: &str) -> Vec<(usize, String)> {
    let fence = format!("```{info}");
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        match &mut open {
            None if line.trim_start() == fence => open = Some((index + 1, String::new())),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(open.take()),
            Some((_, block)) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(open.is_none(), "an unclosed ```{info} block");
    blocks
}

fn rules_blocks(text: &str) -> Vec<(usize, String)> {
    blocks_marked(text, "rules")
}

/// The shipped packs' files, as sources.
fn shipped_sources() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn every_rules_block_of_the_docs_checks_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for doc in ["README.md", "docs/language.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let alone = rules_blocks(&text).into_iter().map(|b| (b, false));
        let policies = blocks_marked(&text, "rules-policy")
            .into_iter()
            .map(|b| (b, true));
        for ((line, block), with_packs) in alone.chain(policies) {
            let name = format!("{doc}:{line}");
            let mut sources = if with_packs {
                shipped_sources()
            } else {
                Vec::new()
            };
            sources.push((name.clone(), block.into_bytes()));
            let loaded = rulegate_lang::check_sources(sources);
            let errors: Vec<String> = loaded
                .diagnostics()
                .iter()
                .filter(|d| d.severity() == rulegate_lang::Severity::Error)
                .map(|d| format!("{}: {}", d.code(), d.message()))
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
            assert!(loaded.rule_count() > 0, "{name}: no rule");
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} rules blocks found");
}

#[test]
fn a_broken_example_is_caught() {
    let block = "```rules\nrule a {\n  match /sk-[a-z]{20}/\n  request log\n  example hit \"sk-…\"\n}\n```\n";
    let (_, text) = rules_blocks(block).remove(0);
    let loaded = rulegate_lang::check_sources(vec![("t".to_string(), text.into_bytes())]);
    assert!(loaded.has_errors());
}
