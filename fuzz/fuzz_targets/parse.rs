//! Any bytes through the whole checker and both renderers: nothing may
//! panic, every diagnostic must point at characters of the file, and a
//! rule set comes out exactly when there is no error.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let loaded = rulegate_lang::check_sources([("fuzz.rules".to_string(), data.to_vec())]);
    assert_eq!(loaded.spec().is_some(), !loaded.has_errors());
    let mut sink = Vec::new();
    rulegate_lang::render_human(&loaded, &mut sink, false).expect("writing to a Vec");
    rulegate_lang::render_json(&loaded, &mut sink).expect("writing to a Vec");
    for diagnostic in loaded.diagnostics() {
        if let Some(location) = diagnostic.location() {
            let text = loaded.files()[location.file].text();
            assert!(text.get(location.span.clone()).is_some());
        }
    }
});
