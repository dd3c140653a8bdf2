//! By hand, on the shipped packs and 512 KiB of every peer-bench input
//! class: a stream whose pushes rotate among three caches (one also used
//! by block searches of other text in between) and the thread cache, cut
//! at 1, 7, 16 and 300 bytes, writes exactly the block result.
//! `cargo run --release -p rulegate-benches --bin cache-switch-check`
use rulegate_benches::peer::inputs::CLASSES;
use rulegate_benches::shipped_rule_set;
use rulegate_engine::{Scope, Side, Verdict};
fn main() {
    let set = shipped_rule_set();
    let mut caches = [set.create_cache(), set.create_cache(), set.create_cache()];
    for class in CLASSES {
        let raw = (class.make)(&set, 11, 1 << 19);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let expected = match set.apply(Side::Response, Scope::Assistant, &text).verdict {
            Verdict::Clean => text.clone(),
            Verdict::Masked(m) => m,
            Verdict::Rejected(r) => panic!("{r:?}"),
        };
        for chunk in [1usize, 7, 16, 300] {
            let mut sc = set.scanner(Side::Response, Scope::Assistant);
            let mut out = Vec::new();
            for (i, piece) in text.as_bytes().chunks(chunk).enumerate() {
                match i % 5 {
                    4 => sc.push(piece, &mut out).unwrap(),
                    k => {
                        if k == 2 {
                            let _ = set.findings_with(
                                &mut caches[2],
                                Side::Request,
                                Scope::User,
                                piece,
                            );
                        }
                        sc.push_with(&mut caches[k % 3], piece, &mut out).unwrap()
                    }
                }
            }
            sc.finish_with(&mut caches[0], &mut out).unwrap();
            assert!(
                out == expected.as_bytes(),
                "{} chunk {chunk}: stream differs from block",
                class.name
            );
        }
        eprintln!("{}: ok", class.name);
    }
}
