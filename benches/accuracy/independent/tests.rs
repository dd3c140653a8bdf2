use std::collections::BTreeMap;

use super::values::{self, base62, crc24, crc32, iban_mod97, luhn_ok};
use super::{all_types, decode, generate, generate_planted, PII_TYPES, SECRET_TYPES};
use crate::accuracy::Category;

fn corpus() -> (super::Corpus, Vec<Vec<super::Planted>>) {
    generate_planted(11, 3000)
}

fn decoded(text: &str, encs: &[super::Enc]) -> Option<String> {
    let mut value = text.to_string();
    for &enc in encs.iter().rev() {
        value = decode(&value, enc)?;
    }
    Some(value)
}

#[test]
fn labels_lie_on_the_planted_bytes() {
    let (corpus, planted) = corpus();
    for (doc, planted) in corpus.documents.iter().zip(&planted) {
        assert_eq!(doc.labels.len(), planted.len(), "{}", doc.name);
        for p in planted {
            let label = &doc.labels[p.label];
            assert!(label.start < label.end && label.end <= doc.text.len());
            assert!(doc.text.is_char_boundary(label.start) && doc.text.is_char_boundary(label.end));
            let span = &doc.text[label.start..label.end];
            assert_eq!(
                decoded(span, &p.encs).as_deref(),
                Some(p.expect.as_str()),
                "{}: {} via {:?}",
                doc.name,
                label.kind,
                p.encs
            );
        }
        for n in &doc.negatives {
            assert!(n.start < n.end && n.end <= doc.text.len(), "{}", doc.name);
        }
        // Labels do not overlap one another.
        let mut spans: Vec<_> = doc.labels.iter().map(|l| (l.start, l.end)).collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "{}: overlapping labels", doc.name);
        }
    }
}

#[test]
fn every_type_has_enough_labels_and_its_category() {
    let (corpus, _) = corpus();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in &corpus.documents {
        for l in &doc.labels {
            *counts.entry(l.kind).or_default() += 1;
            let want = if PII_TYPES.contains(&l.kind) {
                Category::Pii
            } else {
                Category::Secret
            };
            assert_eq!(l.category, want, "{}", l.kind);
            assert!(all_types().contains(&l.kind), "unknown kind {}", l.kind);
        }
    }
    for kind in all_types() {
        let n = counts.get(kind).copied().unwrap_or(0);
        assert!(n >= 40, "{kind}: only {n} labels in 3000 documents");
    }
    assert_eq!(SECRET_TYPES.len() + PII_TYPES.len(), 38);
    assert!(super::carrier_names().len() >= 20);
    assert!(corpus.negatives() > 3000);
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Every planted positive, decoded, passes its format's checks.
#[test]
fn positives_are_valid_for_their_format() {
    let (corpus, planted) = corpus();
    for (doc, planted) in corpus.documents.iter().zip(&planted) {
        for p in planted {
            let kind = doc.labels[p.label].kind;
            // Basic-auth and Docker `auth` pairs: the value is after `user:`.
            let v = p.expect[p.user_prefix..].to_string();
            check(kind, &v, &doc.name);
        }
    }
}

fn check(kind: &str, v: &str, doc: &str) {
    let ctx = format!("{doc}: {kind} {v:?}");
    match kind {
        "payment-card" => {
            let d = digits(v);
            assert!(luhn_ok(&d), "{ctx}");
            let iin_ok = d.starts_with('4')
                || (51..=55).contains(&d[..2].parse::<u32>().unwrap())
                || (2221..=2720).contains(&d[..4].parse::<u32>().unwrap())
                || d.starts_with("34")
                || d.starts_with("37")
                || d.starts_with("6011")
                || d.starts_with("65")
                || (644..=649).contains(&d[..3].parse::<u32>().unwrap())
                || (3528..=3589).contains(&d[..4].parse::<u32>().unwrap());
            assert!(iin_ok, "{ctx}");
            assert!(d.len() == 15 || d.len() == 16, "{ctx}");
        }
        "iban" => assert_eq!(iban_mod97(v), 1, "{ctx}"),
        "us-ssn" => assert!(values::ssn_ok(v), "{ctx}"),
        "us-itin" => assert!(values::itin_ok(v), "{ctx}"),
        "uk-national-insurance-number" => assert!(values::nino_ok(v), "{ctx}"),
        "canada-sin" => assert!(values::sin_ok(v), "{ctx}"),
        "ipv4-address" => {
            let o: Vec<u8> = v.split('.').map(|p| p.parse().unwrap()).collect();
            assert!(values::ipv4_public([o[0], o[1], o[2], o[3]]), "{ctx}");
        }
        "ipv6-address" => assert!(values::ipv6_global(v), "{ctx}"),
        "phone-number" => {
            let d = digits(v);
            if !v.starts_with('+') || v.starts_with("+1") {
                let d = d.strip_prefix('1').filter(|d| d.len() == 10).unwrap_or(&d);
                assert_eq!(d.len(), 10, "{ctx}");
                assert!(values::nanp_ok(&d[..3], &d[3..6]), "{ctx}");
            } else {
                assert!(d.len() >= 10 && d.len() <= 13, "{ctx}");
            }
        }
        "mac-address" => {
            let hex: String = v.chars().filter(char::is_ascii_hexdigit).collect();
            assert_eq!(hex.len(), 12, "{ctx}");
            let first = u8::from_str_radix(&hex[..2], 16).unwrap();
            assert_eq!(first & 3, 0, "unicast, globally administered: {ctx}");
        }
        "email" => {
            let (local, domain) = v.split_once('@').expect("@");
            assert!(!local.is_empty() && domain.contains('.'), "{ctx}");
            assert!(
                !domain.ends_with("example.com") && domain != "localhost",
                "{ctx}"
            );
        }
        "github-token" => {
            let (_, rest) = v.split_once('_').expect("prefix");
            assert_eq!(rest.len(), 36, "{ctx}");
            let want = base62(u64::from(crc32(&rest.as_bytes()[..30])), 6);
            assert_eq!(&rest[30..], want, "{ctx}");
        }
        "github-fine-grained-token" => {
            assert!(v.starts_with("github_pat_") && v.len() == 93, "{ctx}")
        }
        "aws-access-key-id" => assert!(
            v.len() == 20
                && (v.starts_with("AKIA") || v.starts_with("ASIA"))
                && !v.contains("EXAMPLE"),
            "{ctx}"
        ),
        "aws-secret-access-key" => assert_eq!(v.len(), 40, "{ctx}"),
        "anthropic-api-key" => assert!(v.starts_with("sk-ant-") && v.ends_with("AA"), "{ctx}"),
        "openai-api-key" => assert!(v.starts_with("sk-") && v.contains("T3BlbkFJ"), "{ctx}"),
        "azure-storage-key" => assert!(v.len() == 88 && v.ends_with("=="), "{ctx}"),
        "pgp-private-key" => {
            let body: Vec<&str> = v.lines().collect();
            let check = body
                .iter()
                .find(|l| l.starts_with('=') && l.len() == 5)
                .expect("checksum line");
            let data: String = body
                .iter()
                .skip_while(|l| !l.is_empty())
                .skip(1)
                .take_while(|l| !l.starts_with('='))
                .copied()
                .collect();
            let bytes = values::base64_decode(&data).expect("base64");
            let crc = crc24(&bytes);
            let want = values::b64(&[(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]);
            assert_eq!(&check[1..], want, "{ctx}");
        }
        "jwt" => {
            let head = v.split('.').next().unwrap();
            let json = values::base64_decode(head).expect("base64url");
            assert!(
                String::from_utf8(json).unwrap().contains("\"alg\""),
                "{ctx}"
            );
            assert_eq!(v.split('.').count(), 3, "{ctx}");
        }
        "private-key" => assert!(
            v.starts_with("-----BEGIN ") && v.ends_with(" PRIVATE KEY-----"),
            "{ctx}"
        ),
        "database-url" => assert!(v.contains("://") && v.contains('@'), "{ctx}"),
        _ => assert!(!v.is_empty(), "{ctx}"),
    }
}

#[test]
fn negatives_fail_their_checks() {
    let mut rng = crate::Rng::new(5);
    for _ in 0..500 {
        let card = values::negative_of(&mut rng, "invalid-card");
        assert!(!luhn_ok(&digits(&card.text)));
        let iban = values::negative_of(&mut rng, "invalid-iban");
        assert_ne!(iban_mod97(&iban.text), 1, "{}", iban.text);
        let ssn = values::negative_of(&mut rng, "invalid-ssn");
        assert!(!values::ssn_ok(&ssn.text));
        let sin = values::negative_of(&mut rng, "bad-luhn-sin");
        assert!(!values::sin_ok(&sin.text));
        let ip = values::negative_of(&mut rng, "private-ipv4");
        let o: Vec<u8> = ip.text.split('.').map(|p| p.parse().unwrap()).collect();
        assert!(!values::ipv4_public([o[0], o[1], o[2], o[3]]));
        let v6 = values::negative_of(&mut rng, "special-ipv6");
        assert!(!values::ipv6_global(&v6.text), "{}", v6.text);
    }
}

#[test]
fn deterministic_for_a_seed() {
    let a = generate(3, 400);
    let b = generate(3, 400);
    let c = generate(4, 400);
    let texts = |c: &super::Corpus| {
        c.documents
            .iter()
            .map(|d| d.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(texts(&a), texts(&c));
    for (x, y) in a.documents.iter().zip(&b.documents) {
        assert_eq!(x.name, y.name);
        let spans = |d: &super::Document| {
            d.labels
                .iter()
                .map(|l| (l.start, l.end, l.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(x), spans(y));
    }
}

#[test]
fn checksums_match_published_vectors() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc24(b""), 0x00B7_04CE);
    assert_eq!(iban_mod97("GB82 WEST 1234 5698 7654 32"), 1);
    assert!(luhn_ok("4539 1488 0343 6467"));
    // The CRA example SIN: Luhn-valid, but 0 is never assigned.
    assert!(luhn_ok("046454286"));
    assert!(!values::sin_ok("046 454 286"));
}

#[test]
fn encodings_round_trip() {
    use super::{encode, Enc};
    let value = "postgres://app:p&ss<x>/\"q\"@db/0?a=1&b=2\n-----END-----";
    for enc in [
        Enc::Percent,
        Enc::Json,
        Enc::JsonSlash,
        Enc::JsonGo,
        Enc::Base64,
        Enc::Wrap(16, 2),
        Enc::Indent(4),
        Enc::Sql,
        Enc::Csv,
    ] {
        let out = encode(value, enc);
        assert_eq!(decode(&out, enc).as_deref(), Some(value), "{enc:?}: {out}");
    }
    assert!(encode("a&b", Enc::JsonGo).contains("\\u0026"));
}
