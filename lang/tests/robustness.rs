//! The checker never panics: not on arbitrary bytes, and not on valid rule
//! files with random edits (which reach far deeper into the grammar than
//! random bytes do). Rendering what it found must not panic either, and a
//! rule set comes out exactly when there is no error.

use proptest::prelude::*;

const SEEDS: &[&str] = &[
    include_str!("../../rules/policy-examples/language-tour.rules"),
    include_str!("diagnostics/clean.rules"),
    include_str!("diagnostics/many-errors.rules"),
    include_str!("diagnostics/E0008-invalid-regex.rules"),
    include_str!("diagnostics/E0021-unknown-placeholder.rules"),
];

/// Pieces that matter to the grammar, the escapes and the regex analysis.
const PIECES: &[&str] = &[
    "{",
    "}",
    "\"",
    "/",
    "\\",
    "\\/",
    "\\u{",
    ",",
    ",\n",
    "\n",
    "\r\n",
    " ",
    "#",
    "rule",
    "rule x {\n",
    "match",
    "where",
    "unless preceded by",
    "unless",
    "preceded by",
    "request",
    "response",
    "example hit",
    "example miss",
    "in",
    "user",
    "mask",
    "reject",
    "log",
    "nocase",
    "word",
    "luhn",
    "entropy >=",
    "3.5",
    "{rule}",
    "{last:4}",
    "{{",
    "}}",
    "(",
    ")",
    "[",
    "]",
    "+",
    "*",
    "?",
    "{3,}",
    "{2,5}",
    "(?=",
    "\\b",
    "é",
    "\u{feff}",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, piece: usize },
    DuplicateLine { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 0..PIECES.len()).prop_map(|(at, piece)| Edit::Insert { at, piece }),
        any::<usize>().prop_map(|at| Edit::DuplicateLine { at }),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, edit: &Edit) {
    match edit {
        Edit::Delete { at, len } => {
            let start = boundary(text, *at);
            let end = boundary(text, (start + len).min(text.len()));
            if start < end {
                text.replace_range(start..end, "");
            }
        }
        Edit::Insert { at, piece } => {
            let at = boundary(text, *at);
            text.insert_str(at, PIECES[*piece]);
        }
        Edit::DuplicateLine { at } => {
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let index = at % lines.len();
                let mut copy: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                copy.insert(index, lines[index].to_string());
                *text = copy.join("\n");
            }
        }
    }
}

fn check_all(bytes: Vec<u8>) {
    let loaded = rulegate_lang::check_sources([("input.rules".to_string(), bytes)]);
    assert_eq!(loaded.spec().is_some(), !loaded.has_errors());
    let mut sink = Vec::new();
    rulegate_lang::render_human(&loaded, &mut sink, false).unwrap();
    rulegate_lang::render_json(&loaded, &mut sink).unwrap();
    for diagnostic in loaded.diagnostics() {
        if let Some(location) = diagnostic.location() {
            let text = loaded.files()[location.file].text();
            assert!(location.span.start <= location.span.end);
            assert!(text.get(location.span.clone()).is_some(), "{diagnostic:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_all(bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check_all(text.into_bytes());
    }

    #[test]
    fn edited_rule_files_never_panic(
        seed in 0..SEEDS.len(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let mut text = SEEDS[seed].to_string();
        for edit in &edits {
            apply(&mut text, edit);
        }
        check_all(text.into_bytes());
    }
}
