//! The generators produce format-valid values, the labels point at exactly
//! the planted bytes, the hard negatives fail the formats they imitate, and
//! the scorer counts as documented. The validators here are written again
//! from the published formats (regexes, checksums recomputed another way)
//! rather than calling the generators' own helpers where that matters.

use std::net::{Ipv4Addr, Ipv6Addr};

use regex::Regex;
use serde_json::Value;

use super::check::{base62, base64, crc24, crc32, ipv4_is_special, IBAN_COUNTRIES};
use super::corpus::{generate, generate_in, Corpus, DocKind, Document, Written};
use super::formats::{self, type_spec, TYPES};
use super::score::{score, Found};
use super::Category;
use crate::Rng;

/// Luhn, written independently of the generator's.
fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    let mut double = false;
    for c in digits.chars().rev() {
        let mut d = c.to_digit(10).expect("digit");
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    sum % 10 == 0
}

/// ISO 13616 check with big-number arithmetic on the decimal string.
fn iban_ok(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(&(_, len, _)) = IBAN_COUNTRIES
        .iter()
        .find(|(cc, _, _)| compact.starts_with(cc))
    else {
        return false;
    };
    if compact.len() != len {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let decimal: String = rearranged
        .chars()
        .map(|c| c.to_digit(36).expect("alphanumeric").to_string())
        .collect();
    decimal.as_bytes().chunks(7).fold(0u64, |rem, chunk| {
        let part: u64 = std::str::from_utf8(chunk)
            .expect("ASCII")
            .parse()
            .expect("digits");
        (rem * 10u64.pow(chunk.len() as u32) + part) % 97
    }) == 1
}

fn decode64(text: &str) -> Vec<u8> {
    let alphabet = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            other => panic!("not base64: {other}"),
        }
    };
    let clean: Vec<u8> = text.bytes().filter(|&b| b != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= alphabet(c) << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn checksum_ok(token: &str, prefix_len: usize) -> bool {
    let body = &token[prefix_len..];
    body.len() == 36 && base62(crc32(&body.as_bytes()[..30]), 6) == body[30..]
}

/// The carrier's encoding undone, then [`unwritten`].
fn unencoded(written: Written, text: &str) -> String {
    let text = match written {
        Written::Plain => text.to_string(),
        Written::Percent => {
            let bytes = text.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut at = 0;
            while at < bytes.len() {
                if bytes[at] == b'%' {
                    let hex = std::str::from_utf8(&bytes[at + 1..at + 3]).expect("ASCII");
                    out.push(u8::from_str_radix(hex, 16).expect("percent escape"));
                    at += 3;
                } else {
                    out.push(bytes[at]);
                    at += 1;
                }
            }
            String::from_utf8(out).expect("UTF-8")
        }
        Written::Base64 => String::from_utf8(decode64(text)).expect("UTF-8"),
        Written::BasicAuth => {
            let pair = String::from_utf8(decode64(text)).expect("UTF-8");
            let (_user, value) = pair.split_once(':').expect("user:value");
            value.to_string()
        }
        Written::Json(times) => {
            let mut text = text.to_string();
            for _ in 0..times {
                text = serde_json::from_str::<String>(&format!("\"{text}\""))
                    .expect("escaped JSON string");
            }
            text
        }
    };
    unwritten(&text)
}

/// The written form back to the value: JSON-escaped strings decoded,
/// `\n` escapes and YAML block indentation undone.
fn unwritten(text: &str) -> String {
    if text.starts_with('{') && !text.contains("\\\"") {
        // A JSON object written raw or compacted: JSON reads it as it is.
        return text.to_string();
    }
    let decoded = if text.contains("\\\"") {
        serde_json::from_str::<String>(&format!("\"{text}\"")).expect("escaped JSON string")
    } else {
        text.replace("\\n", "\n")
    };
    if decoded.contains('\n') && !decoded.starts_with('{') {
        decoded
            .lines()
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        decoded
    }
}

/// True when `value` is a well-formed `kind` by its published format.
fn valid(kind: &str, value: &str) -> bool {
    let re = |pattern: &str| Regex::new(pattern).expect("test regex").is_match(value);
    match kind {
        "anthropic-api-key" => re(r"^sk-ant-(api03|admin01)-[A-Za-z0-9_-]{93}AA$"),
        "openai-api-key" => re(
            r"^sk-([A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|(proj|svcacct|admin)-([A-Za-z0-9_-]{58}T3BlbkFJ[A-Za-z0-9_-]{58}|[A-Za-z0-9_-]{74}T3BlbkFJ[A-Za-z0-9_-]{74}))$",
        ),
        "aws-access-key-id" => re(r"^(AKIA|ASIA)[A-Z2-7]{16}$"),
        "aws-secret-access-key" => re(r"^[A-Za-z0-9+/]{40}$"),
        "github-token" => re(r"^gh[pousr]_[A-Za-z0-9]{36}$") && checksum_ok(value, 4),
        "github-fine-grained-token" => re(r"^github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}$"),
        "gitlab-token" => re(r"^glpat-[A-Za-z0-9_-]{20}$"),
        "slack-token" => re(
            r"^(xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}|xoxp-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[0-9a-f]{32}|xapp-1-A[A-Z0-9]{10}-[0-9]{13}-[0-9a-f]{64})$",
        ),
        "slack-webhook-url" => re(
            r"^https://hooks\.slack\.com/services/T[A-Z0-9]{8,10}/B[A-Z0-9]{8,10}/[A-Za-z0-9]{24}$",
        ),
        "stripe-key" => re(r"^(sk|rk)_live_([A-Za-z0-9]{24}|51[A-Za-z0-9]{97})$"),
        "google-api-key" => re(r"^AIza[A-Za-z0-9_-]{35}$"),
        "gcp-service-account" => {
            let json: Value = serde_json::from_str(value).expect("key file is JSON");
            json["type"] == "service_account"
                && json["private_key"]
                    .as_str()
                    .is_some_and(|k| valid("private-key", k.trim_end()))
                && json["client_email"]
                    .as_str()
                    .is_some_and(|e| e.ends_with(".iam.gserviceaccount.com"))
                && json["private_key_id"]
                    .as_str()
                    .is_some_and(|id| id.len() == 40)
        }
        "azure-storage-key" => re(r"^[A-Za-z0-9+/]{86}==$") && decode64(value).len() == 64,
        "azure-connection-string" => re(
            r"^(DefaultEndpointsProtocol=https;AccountName=[a-z0-9]{3,24};AccountKey=[A-Za-z0-9+/]{86}==;EndpointSuffix=core\.windows\.net|Endpoint=sb://[a-z0-9]+\.servicebus\.windows\.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=[A-Za-z0-9+/]{43}=)$",
        ),
        "twilio-api-key" => re(r"^SK[0-9a-f]{32}$"),
        "sendgrid-api-key" => re(r"^SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$"),
        "npm-token" => re(r"^npm_[A-Za-z0-9]{36}$") && checksum_ok(value, 4),
        "pypi-token" => {
            re(r"^pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{60,}$") && {
                let raw = decode64(&value[5..]);
                // Ends with the signature field: type 6, length 32.
                raw.len() > 40 && raw[raw.len() - 34..raw.len() - 32] == [0x06, 0x20]
            }
        }
        "huggingface-token" => re(r"^hf_[A-Za-z]{34}$"),
        "databricks-token" => re(r"^dapi[0-9a-f]{32}(-[0-9])?$"),
        "shopify-token" => re(r"^shp(at|ca|pa|ss)_[0-9a-f]{32}$"),
        "mailgun-api-key" => re(r"^(key-[0-9a-f]{32}|[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})$"),
        "jwt" => {
            let parts: Vec<&str> = value.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| re(r"^[A-Za-z0-9._-]+$") && !p.is_empty())
                && serde_json::from_slice::<Value>(&decode64(parts[0]))
                    .is_ok_and(|h| h["alg"].is_string())
                && serde_json::from_slice::<Value>(&decode64(parts[1]))
                    .is_ok_and(|c| c["iat"].is_number())
        }
        "private-key" => {
            let Some(caps) = Regex::new(
                r"^-----BEGIN ((?:RSA |EC |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----\n((?:[A-Za-z0-9+/=]{1,70}\n)+)-----END ((?:RSA |EC |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----$",
            )
            .expect("test regex")
            .captures(value) else {
                return false;
            };
            caps[1] == caps[3] && !decode64(&caps[2].replace('\n', "")).is_empty()
        }
        "pgp-private-key" => {
            let Some(caps) = Regex::new(
                r"^-----BEGIN PGP PRIVATE KEY BLOCK-----\n(?:Comment: [^\n]*\n)?\n((?:[A-Za-z0-9+/=]{1,64}\n)+)=([A-Za-z0-9+/]{4})\n-----END PGP PRIVATE KEY BLOCK-----$",
            )
            .expect("test regex")
            .captures(value) else {
                return false;
            };
            let packet = decode64(&caps[1].replace('\n', ""));
            let crc = decode64(&caps[2]);
            packet[0] & 0x80 != 0
                && crc24(&packet)
                    == (u32::from(crc[0]) << 16) | (u32::from(crc[1]) << 8) | u32::from(crc[2])
        }
        "database-url" => re(
            r"^(postgres|postgresql|mysql|mongodb\+srv|redis|amqp)://[a-z_]*:[A-Za-z0-9!*~._-]{14,}@[a-z0-9.-]+\.[a-z]+(:[0-9]+)?/\S*$",
        ),
        "generic-secret-assignment" => re(r"^[A-Za-z0-9+/=!*~._-]{14,}$"),
        "email" => re(r"^[a-z0-9._+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"),
        "payment-card" => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            let prefix = |p: &str| digits.starts_with(p);
            let n2: u32 = digits[..2].parse().expect("digits");
            let n4: u32 = digits[..4].parse().expect("digits");
            let iin_len = match digits.len() {
                16 => {
                    prefix("4")
                        || (51..=55).contains(&n2)
                        || (2221..=2720).contains(&n4)
                        || prefix("6011")
                        || prefix("65")
                        || (644..=649).contains(&(n4 / 10))
                        || (3528..=3589).contains(&n4)
                }
                15 => prefix("34") || prefix("37"),
                14 => prefix("36"),
                _ => false,
            };
            re(r"^[0-9]+([ -][0-9]+)*$") && iin_len && luhn(&digits)
        }
        "us-ssn" => {
            let Some(caps) = Regex::new(r"^([0-9]{3})([- ])([0-9]{2})([- ])([0-9]{4})$")
                .expect("test regex")
                .captures(value)
            else {
                return false;
            };
            let area: u32 = caps[1].parse().expect("digits");
            caps[2] == caps[4]
                && (1..=899).contains(&area)
                && area != 666
                && &caps[3] != "00"
                && &caps[5] != "0000"
        }
        "phone-number" => re(
            r"^(\+1 ?[2-9][0-9]{2} ?[2-9][0-9]{2} ?[0-9]{4}|\([2-9][0-9]{2}\) [2-9][0-9]{2}-[0-9]{4}|[2-9][0-9]{2}-[2-9][0-9]{2}-[0-9]{4}|\+44 7[0-9]{3} [0-9]{6}|07[0-9]{3} [0-9]{6}|\+44 20 [3-8][0-9]{3} [0-9]{4}|\+49 1?[0-9]{2} [0-9]{8}|0[0-9]{2} [0-9]{8}|\+33 [1-7]( [0-9]{2}){4}|0[167]( [0-9]{2}){4})$",
        ),
        "iban" => re(r"^[A-Z]{2}[0-9]{2}( ?[A-Z0-9]{1,4})+$") && iban_ok(value),
        "ipv4-address" => value
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| !ipv4_is_special(ip.octets()) && !ip.is_private() && !ip.is_loopback()),
        "ipv6-address" => value.parse::<Ipv6Addr>().is_ok_and(|ip| {
            let s = ip.segments();
            s[0] & 0xe000 == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }),
        "us-itin" => {
            let Some(caps) = Regex::new(r"^9([0-9]{2})-?([0-9]{2})-?([0-9]{4})$")
                .expect("test regex")
                .captures(value)
            else {
                return false;
            };
            let group: u32 = caps[2].parse().expect("digits");
            [(50, 65), (70, 88), (90, 92), (94, 99)]
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&group))
        }
        "uk-national-insurance-number" => {
            re(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]( ?[0-9]{2}){3} ?[A-D]$")
                && !["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&&value[..2])
        }
        "canada-sin" => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            re(r"^[1-79][0-9]{2}([ -]?)[0-9]{3}([ -]?)[0-9]{3}$") && luhn(&digits)
        }
        "mac-address" => {
            re(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$|^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$")
                && {
                    let first = u8::from_str_radix(&value[..2], 16).expect("hex");
                    first & 1 == 0
                }
        }
        other => panic!("no validator for {other}"),
    }
}

#[test]
fn encodings_match_their_references() {
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"M"), "TQ==");
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc24(b"123456789"), 0x0021_CF02);
    assert_eq!(base62(61, 6), "00000z");
    assert_eq!(
        formats::ipv6_text([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
        "2001:db8::1"
    );
    assert_eq!(
        formats::ipv6_text([0x2a03, 0, 1, 0, 0, 5, 0, 0]),
        "2a03:0:1::5:0:0"
    );
    assert!(iban_ok("GB82 WEST 1234 5698 7654 32"));
    assert!(!iban_ok("GB83 WEST 1234 5698 7654 32"));
    assert!(luhn("4111111111111111") && !luhn("4111111111111112"));
}

#[test]
fn every_generator_makes_format_valid_values() {
    let mut rng = Rng::new(11);
    for spec in TYPES {
        for _ in 0..500 {
            let value = (spec.generate)(&mut rng);
            assert!(
                valid(spec.name, &value),
                "{}: not valid: {value:?}",
                spec.name
            );
        }
    }
}

#[test]
fn cards_cover_every_brand_and_separator() {
    let mut rng = Rng::new(3);
    let cards: Vec<String> = (0..2000).map(|_| formats::payment_card(&mut rng)).collect();
    for (brand, prefix, len) in [
        ("visa", "4", 16),
        ("amex", "3", 15),
        ("diners", "36", 14),
        ("discover", "6", 16),
    ] {
        assert!(
            cards.iter().any(|c| {
                let d: String = c.chars().filter(char::is_ascii_digit).collect();
                d.starts_with(prefix) && d.len() == len
            }),
            "no {brand} card"
        );
    }
    assert!(cards.iter().any(|c| c.contains(' ')));
    assert!(cards.iter().any(|c| c.contains('-')));
    assert!(cards
        .iter()
        .any(|c| c.chars().all(|ch| ch.is_ascii_digit())));
}

#[test]
fn ibans_have_each_countrys_length_and_check() {
    let mut rng = Rng::new(5);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..2000 {
        let iban = formats::iban(&mut rng);
        let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
        let (cc, len, _) = IBAN_COUNTRIES
            .iter()
            .find(|(cc, _, _)| compact.starts_with(cc))
            .expect("known country");
        assert_eq!(compact.len(), *len, "{iban}");
        assert!(iban_ok(&iban), "{iban}");
        seen.insert(*cc);
    }
    assert_eq!(seen.len(), IBAN_COUNTRIES.len());
}

fn corpus() -> Corpus {
    generate(99, 400)
}

#[test]
fn labels_point_at_the_planted_values() {
    let corpus = corpus();
    let mut per_type = std::collections::BTreeMap::<&str, usize>::new();
    for doc in &corpus.documents {
        for label in &doc.labels {
            let written = &doc.text[label.start..label.end];
            let value = unencoded(label.written, written);
            assert!(
                valid(label.kind, &value),
                "{}:{}: label {} does not hold a valid value: {written:?}",
                doc.name,
                doc.line_of(label.start),
                label.kind
            );
            // The label covers the whole value: the bytes either side are
            // not part of it.
            let mut before = doc.text[..label.start].chars().next_back();
            let mut after = doc.text[label.end..].chars().next();
            if label.written == Written::Percent {
                // A neighbour that is part of a `%XX` escape is the escape.
                let head = &doc.text.as_bytes()[..label.start];
                if head.len() >= 3 && head[head.len() - 3] == b'%' {
                    before = None;
                }
                if doc.text[label.end..].starts_with('%') {
                    after = None;
                }
            }
            for neighbour in [before, after].into_iter().flatten() {
                assert!(
                    !neighbour.is_ascii_alphanumeric(),
                    "{}: label {} is cut inside a word: {:?}",
                    doc.name,
                    label.kind,
                    super::context(doc, label.start, label.end)
                );
            }
            *per_type.entry(label.kind).or_default() += 1;
        }
    }
    for spec in TYPES {
        assert!(
            per_type.get(spec.name).copied().unwrap_or(0) >= 30,
            "{} is rare",
            spec.name
        );
    }
}

#[test]
fn hard_negatives_fail_the_formats_they_imitate() {
    let corpus = corpus();
    let negatives = |kind: &str| -> Vec<(&Document, String)> {
        corpus
            .documents
            .iter()
            .flat_map(|d| {
                d.negatives
                    .iter()
                    .filter(move |n| n.kind == kind)
                    .map(move |n| (d, unencoded(n.written, &d.text[n.start..n.end])))
            })
            .collect()
    };
    let checks: &[(&str, &str)] = &[
        ("Luhn-invalid card", "payment-card"),
        ("IBAN with a wrong check", "iban"),
        ("SSN in an unissued range", "us-ssn"),
        ("private or loopback IPv4", "ipv4-address"),
        ("private or link-local IPv6", "ipv6-address"),
        ("wrong length", "github-token"),
        ("order number", "payment-card"),
        ("SSN in an unissued range", "us-itin"),
        (
            "NINO with an unallocated prefix",
            "uk-national-insurance-number",
        ),
        ("Luhn-invalid SIN", "canada-sin"),
    ];
    for (negative, kind) in checks {
        let found = negatives(negative);
        assert!(found.len() >= 3, "too few `{negative}` negatives");
        for (doc, value) in found {
            assert!(
                !valid(kind, &value),
                "{}: `{negative}` {value:?} is a valid {kind}",
                doc.name
            );
        }
    }
    // No hard negative overlaps a label.
    for doc in &corpus.documents {
        for n in &doc.negatives {
            assert!(
                !doc.labels
                    .iter()
                    .any(|l| l.start < n.end && n.start < l.end),
                "{}: negative {} overlaps a label",
                doc.name,
                n.kind
            );
        }
    }
}

#[test]
fn the_corpus_is_a_function_of_the_seed() {
    let a = generate(1, 50);
    let b = generate(1, 50);
    let c = generate(2, 50);
    let texts = |corpus: &Corpus| {
        corpus
            .documents
            .iter()
            .map(|d| d.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(texts(&a), texts(&c));
}

#[test]
fn scoring_counts_overlaps_by_type() {
    let corpus = generate(4, 1);
    let doc = &corpus.documents[0];
    let first = doc.labels[0].clone();
    let other = doc
        .labels
        .iter()
        .find(|l| l.kind != first.kind)
        .expect("two types in a document")
        .clone();
    let category = type_spec(first.kind).expect("known").category;
    let found = vec![
        // Same type, partly overlapping: a TP.
        Found {
            start: first.start + 1,
            end: first.end,
            rule: first.kind.into(),
            category,
        },
        // Another type's rule on `other`: an FP on another type's label.
        Found {
            start: other.start,
            end: other.end,
            rule: first.kind.into(),
            category,
        },
        // On nothing at all: an FP (byte 0 is the document's header).
        Found {
            start: 0,
            end: 1,
            rule: first.kind.into(),
            category,
        },
    ];
    let report = score(&corpus, &[found]);
    let row = &report.rows[first.kind];
    let labels_of_first = doc.labels.iter().filter(|l| l.kind == first.kind).count();
    assert_eq!(row.findings, 3);
    assert_eq!(row.correct, 1);
    assert_eq!(row.cross, 1);
    assert_eq!(row.labels, labels_of_first);
    assert_eq!(row.detected, 1);
    let other_row = &report.rows[other.kind];
    assert_eq!(other_row.detected, 0);
    assert_eq!(other_row.detected_any, 1);
    // By family: the finding on `other` is right (and `other` found) only
    // when both types are of one family.
    let same_family = type_spec(other.kind).expect("known").category == category;
    assert_eq!(row.cross_family, usize::from(same_family));
    assert_eq!(other_row.detected_family, usize::from(same_family));
    assert_eq!(row.detected_family, 1);
    assert_eq!(
        report.total(Some(Category::Pii)).labels + report.total(Some(Category::Secret)).labels,
        doc.labels.len()
    );
}

/// A container's rule on a label it carries counts for both the label and
/// the finding; on a label it does not carry, for neither.
#[test]
fn a_container_rule_names_only_the_labels_it_carries() {
    let mut corpus = generate(4, 1);
    let doc = &corpus.documents[0];
    let secrets: Vec<usize> = (0..doc.labels.len())
        .filter(|&i| doc.labels[i].category == Category::Secret)
        .collect();
    assert!(secrets.len() >= 2, "two secrets in the document");
    let (carried, plain) = (secrets[0], secrets[1]);
    let mut marks = vec![false; doc.labels.len()];
    marks[carried] = true;
    super::credit_containers(&mut corpus, &[marks]);
    let doc = &corpus.documents[0];
    let container = super::CONTAINERS[0];
    let on = |i: usize| Found {
        start: doc.labels[i].start,
        end: doc.labels[i].end,
        rule: container.into(),
        category: Category::Secret,
    };
    let report = score(&corpus, &[vec![on(carried), on(plain)]]);
    assert_eq!(report.rows[container].correct, 1);
    assert_eq!(report.rows[doc.labels[carried].kind].detected, 1);
    assert_eq!(
        report.rows[doc.labels[plain].kind].detected,
        usize::from(doc.labels[plain].kind == doc.labels[carried].kind)
    );
}

/// The accuracy goal of the shipped packs, held to on a seed the README's
/// figures do not use: overall precision and recall at least 0.97, and no
/// corpus type below 0.9 on either. A rule change that breaks it fails
/// here, not only in the accuracy report.
#[test]
fn the_shipped_packs_meet_the_accuracy_goal_on_a_held_out_seed() {
    // By type: every finding named by its value's own rule. In an encoded
    // carrier the rule of the container (a Basic header, a key name over a
    // base64 value) names a vendor key it masks, so those carriers are
    // held by family below.
    let corpus = generate_in(2026, 600, &DocKind::UNENCODED);
    let report = score(&corpus, &shipped_findings(&corpus));
    let all = report.total(None);
    let (precision, recall) = (all.precision().unwrap(), all.recall().unwrap());
    assert!(
        precision >= 0.97 && recall >= 0.97,
        "overall precision {precision:.3}, recall {recall:.3}\n{}",
        report.table()
    );
    every_type_at_least(&report, 0.9, false);
}

/// Every type with enough labels for a ratio to mean something (40; about
/// 75 per type at the tests' sizes) at `floor` precision and recall, by
/// type or by family.
fn every_type_at_least(report: &super::score::Report, floor: f64, by_family: bool) {
    for (name, row) in report.ordered() {
        if row.labels < 40 {
            continue;
        }
        let (precision, recall) = if by_family {
            (row.precision_family(), row.recall_family())
        } else {
            (row.precision(), row.recall())
        };
        let (precision, recall) = (precision.unwrap_or(1.0), recall.unwrap_or(0.0));
        assert!(
            precision >= floor && recall >= floor,
            "{name} (by family: {by_family}): precision {precision:.3}, recall {recall:.3}\n{}",
            report.table()
        );
    }
}

#[test]
fn the_shipped_packs_meet_the_accuracy_goal_by_family_in_every_carrier() {
    let corpus = super::generate_scored(2026, 780);
    let report = score(&corpus, &shipped_findings(&corpus));
    for category in [Category::Secret, Category::Pii] {
        let row = report.total(Some(category));
        let (precision, recall) = (
            row.precision_family().unwrap(),
            row.recall_family().unwrap(),
        );
        assert!(
            precision >= 0.97 && recall >= 0.97,
            "{category:?}: precision {precision:.3}, recall {recall:.3}\n{}",
            report.table()
        );
    }
    every_type_at_least(&report, 0.9, true);
    // By type too, now that a base64-carried value may be named by its
    // container's rule: every vendor key in the encoded carriers is named
    // by its own rule or its container's.
    every_type_at_least(&report, 0.9, false);
}

/// Every finding of the shipped packs in each document, as the scorer
/// wants them.
fn shipped_findings(corpus: &Corpus) -> Vec<Vec<Found>> {
    let set = crate::shipped_rule_set();
    corpus
        .documents
        .iter()
        .map(|doc| {
            set.findings(
                rulegate_engine::Side::Response,
                rulegate_engine::Scope::Assistant,
                doc.text.as_bytes(),
            )
            .into_iter()
            .map(|f| {
                let rule = super::canonical(set.rule_name(f.rule)).to_string();
                let category = type_spec(&rule).map_or(Category::Secret, |spec| spec.category);
                Found {
                    start: f.start,
                    end: f.end,
                    rule,
                    category,
                }
            })
            .collect()
        })
        .collect()
}

/// The independent corpus (held out: the packs are not tuned on it) on a
/// seed the README does not use, scored by family (a finding on a label of
/// its family is right). The issue's goal for it is 0.97 per family, which
/// the packs reach on this seed and on the README's (secrets recall 97.0%
/// there, round 10); these floors are what they reach today (secrets
/// 98.9% / 97.9%) less about a point, and the issue's 0.97 for secrets
/// recall, so a rule change that loses ground on traffic nobody tuned for
/// fails here.
#[test]
fn the_shipped_packs_keep_their_figures_on_the_independent_corpus() {
    let corpus = super::independent::generate_scored(2026, 600);
    let report = score(&corpus, &shipped_findings(&corpus));
    for (category, floor_precision, floor_recall) in [
        (Category::Secret, FLOOR_SECRET.0, FLOOR_SECRET.1),
        (Category::Pii, FLOOR_PII.0, FLOOR_PII.1),
    ] {
        let row = report.total(Some(category));
        let precision = row.precision_family().unwrap();
        let recall = row.recall_family().unwrap();
        assert!(
            precision >= floor_precision && recall >= floor_recall,
            "{category:?}: precision {precision:.3} (floor {floor_precision}), recall {recall:.3} (floor {floor_recall})\n{}",
            report.table()
        );
    }
}

/// (precision, recall) floors of the independent corpus test, by family.
const FLOOR_SECRET: (f64, f64) = (0.985, 0.97);
const FLOOR_PII: (f64, f64) = (0.99, 0.98);

/// The types of the independent corpus below 0.9 by type at the README's
/// seed or on others (round 10), and why. Every other type with enough
/// labels must hold 0.9 precision and recall by type.
const BELOW_BY_TYPE: &[(&str, &str)] = &[
    // Precision: the bare rule names any random 40-character base64
    // value (a bearer token, a URL password) as an AWS key. Recall: the
    // corpus plants AWS keys under those names too, where url-credentials
    // and bearer-token name them.
    (
        "aws-secret-access-key",
        "a 40-character base64 value has no owner",
    ),
    // Precision: random 64-byte base64 blobs are what an Azure key is.
    // Recall: under a generic key name the generic rule names it (the
    // bare rule asks for more entropy, so it may not take it over).
    ("azure-storage-key", "a 64-byte base64 blob has no owner"),
    // Passwords and keys under names no rule knows; values of other
    // types under a generic name in a base64 container count as right.
    (
        "generic-secret-assignment",
        "unknown key names, human passwords",
    ),
    // Nine digits with no SIN label the rule knows.
    ("canada-sin", "unlabelled or unknown labels"),
];

/// The independent corpus by type: a finding is right only when its rule
/// is the label's own (a container's rule may name a base64-carried
/// value). Every type with 40 labels or more holds 0.9, but for
/// [`BELOW_BY_TYPE`].
#[test]
fn the_shipped_packs_name_each_type_on_the_independent_corpus() {
    let corpus = super::independent::generate_scored(2026, 600);
    let report = score(&corpus, &shipped_findings(&corpus));
    let mut below = Vec::new();
    for (name, row) in report.ordered() {
        let (precision, recall) = (row.precision().unwrap_or(1.0), row.recall().unwrap_or(0.0));
        if row.labels >= 40 && (precision < 0.9 || recall < 0.9) {
            below.push(format!(
                "{name}: precision {precision:.3}, recall {recall:.3}"
            ));
        }
    }
    let unexpected: Vec<_> = below
        .iter()
        .filter(|line| {
            !BELOW_BY_TYPE
                .iter()
                .any(|(name, _)| line.starts_with(&format!("{name}:")))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}\n{}", report.table());
}
