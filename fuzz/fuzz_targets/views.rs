//! See `rulegate_tests::fuzz_targets::views` for the invariant checked.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rulegate_tests::fuzz_targets::views(data));
