//! The peer benchmark's input classes, each a pure function of a seed and
//! a size: secret-dense text and adversarial near misses built from the
//! shapes of the shipped rules.

use rulegate_engine::{Expect, RuleSet};

use crate::Rng;

const DIGITS: &[u8] = b"0123456789";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const TOKEN: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A named input class.
pub struct InputClass {
    pub name: &'static str,
    /// One line: what the input holds.
    pub about: &'static str,
    pub make: fn(&RuleSet, u64, usize) -> Vec<u8>,
}

/// Every generated class (the corpus and the search's finds are added by
/// the bench).
pub const CLASSES: &[InputClass] = &[
    InputClass {
        name: "secret-dense",
        about: "the rules' own `example hit` texts and fresh tokens of the shipped shapes, a few words apart",
        make: secret_dense,
    },
    InputClass {
        name: "near-tokens",
        about: "token prefixes with bodies a few characters short, camelCase key words (myToken, apiKey)",
        make: |_, seed, size| fill(seed, size, near_tokens),
    },
    InputClass {
        name: "mixed-keys",
        about: "key-name fragments glued together with assignment separators and short values",
        make: |_, seed, size| fill(seed, size, mixed_keys),
    },
    InputClass {
        name: "upper-digit-groups",
        about: "IBAN-, NINO-, SIN-like groups of uppercase letters and digits that fail their checks",
        make: |_, seed, size| fill(seed, size, upper_digit_groups),
    },
    InputClass {
        name: "pem-soup",
        about: "BEGIN lines and base64 lines with no matching END",
        make: |_, seed, size| fill(seed, size, pem_soup),
    },
    InputClass {
        name: "email-like",
        about: "a@b.c fragments with long local parts, many labels and no valid TLD",
        make: |_, seed, size| fill(seed, size, email_like),
    },
    InputClass {
        name: "separated-runs",
        about: "digit, hex and base64 runs joined by - . : / _ and spaces",
        make: |_, seed, size| fill(seed, size, separated_runs),
    },
    InputClass {
        name: "bare-runs",
        about: "base64 runs of 38 to 42 and 86 to 90 characters (bare keys and near misses) a byte apart",
        make: |_, seed, size| fill(seed, size, bare_runs),
    },
    InputClass {
        name: "env-fragments",
        about: "${VAR, $KEY, echo output and process.env fragments without values",
        make: |_, seed, size| fill(seed, size, env_fragments),
    },
];

/// Calls `piece` until `size` bytes are written.
fn fill(seed: u64, size: usize, piece: fn(&mut Rng, &mut String)) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(size + 1024);
    while out.len() < size {
        piece(&mut rng, &mut out);
    }
    out.into_bytes()
}

/// `seed` repeated to at least `size` bytes (a search find as an input),
/// each copy varied: in every token-like run (eight or more ASCII letters
/// and digits, at least one of each) all but the first four characters,
/// and every run of four or more digits, are redrawn from the same class
/// (digit, upper, lower). Keywords and prefixes stay; the values change,
/// as they would in real traffic, so an automaton meets new states rather
/// than replaying one period of the text.
pub fn repeat_to(seed: &[u8], size: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed.len() as u64);
    let mut out = Vec::with_capacity(size + seed.len());
    while out.len() < size && !seed.is_empty() {
        let start = out.len();
        out.extend_from_slice(seed);
        vary(&mut rng, &mut out[start..]);
    }
    out
}

fn vary(rng: &mut Rng, text: &mut [u8]) {
    let mut at = 0;
    while at < text.len() {
        let len = text[at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if len == 0 {
            at += 1;
            continue;
        }
        let run = &mut text[at..at + len];
        let digits = run.iter().filter(|b| b.is_ascii_digit()).count();
        let keep = if digits == len && len >= 4 {
            0
        } else if len >= 8 && digits > 0 && digits < len {
            4
        } else {
            len
        };
        for byte in &mut run[keep..] {
            let alphabet = if byte.is_ascii_digit() {
                DIGITS
            } else if byte.is_ascii_uppercase() {
                UPPER
            } else {
                LOWER
            };
            *byte = alphabet[rng.below(alphabet.len())];
        }
        at += len;
    }
}

fn secret_dense(set: &RuleSet, seed: u64, size: usize) -> Vec<u8> {
    let examples: Vec<&str> = set
        .rules()
        .iter()
        .flat_map(|rule| &rule.examples)
        .filter(|example| example.expect == Expect::Hit)
        .map(|example| example.text.as_str())
        .collect();
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(size + 1024);
    while out.len() < size {
        if rng.below(2) == 0 {
            out.push_str(rng.pick(&examples));
        } else {
            fresh_secret(&mut rng, &mut out);
        }
        out.push_str(rng.pick(&[" ", "\n", " and ", ", then ", "\n\n# next\n"]));
    }
    out.into_bytes()
}

/// A secret or PII value with a random body.
fn fresh_secret(rng: &mut Rng, out: &mut String) {
    let body = match rng.below(12) {
        0 => format!("ghp_{}", rng.string_from(ALNUM, 36)),
        1 => format!("sk-ant-api03-{}AA", rng.string_from(TOKEN, 93)),
        2 => format!(
            "AKIA{}",
            rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
        3 => format!(
            "xoxb-{}-{}-{}",
            rng.string_from(DIGITS, 12),
            rng.string_from(DIGITS, 13),
            rng.string_from(ALNUM, 24)
        ),
        4 => format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----",
            rng.string_from(BASE64, 64),
            rng.string_from(BASE64, 40)
        ),
        5 => format!(
            "{}.{}@{}.com",
            rng.string_from(LOWER, 5),
            rng.string_from(LOWER, 7),
            rng.string_from(LOWER, 6)
        ),
        6 => rng
            .pick(&[
                "4111 1111 1111 1111",
                "5500-0000-0000-0004",
                "378282246310005",
            ])
            .to_string(),
        7 => rng
            .pick(&[
                "GB82 WEST 1234 5698 7654 32",
                "DE89370400440532013000",
                "FR1420041010050500013M02606",
            ])
            .to_string(),
        8 => format!("+4420{}", rng.string_from(DIGITS, 8)),
        9 => format!(
            "eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}",
            rng.string_from(ALNUM, 30),
            rng.string_from(TOKEN, 43)
        ),
        10 => format!("AWS_SECRET_ACCESS_KEY={}", rng.string_from(BASE64, 40)),
        _ => format!("api_key = \"{}\"", rng.string_from(ALNUM, 32)),
    };
    out.push_str(&body);
}

const KEY_WORDS: &[&str] = &[
    "myToken",
    "apiKey",
    "api_key",
    "API_KEY",
    "accessToken",
    "authToken",
    "secretKey",
    "client_secret",
    "password",
    "passwd",
    "GITHUB_TOKEN",
    "OPENAI_API_KEY",
    "aws_secret",
    "SECRET",
    "token",
    "Token",
    "bearer",
    "Authorization",
    "private_key",
    "MAILGUN_KEY",
    "AccountKey",
    "SharedAccessSignature",
    "AZURE_STORAGE_KEY",
    "DATABASE_URL",
];

const PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "sk-",
    "sk-ant-api03-",
    "sk-proj-",
    "AKIA",
    "ASIA",
    "xoxb-",
    "xoxp-",
    "xapp-",
    "SG.",
    "GOCSPX-",
    "AIza",
    "sk_live_",
    "rk_live_",
    "npm_",
    "pypi-",
    "dckr_pat_",
    "dapi",
    "shpat_",
    "dop_v1_",
    "hvs.",
    "r8_",
    "gsk_",
    "pplx-",
    "xai-",
    "hf_",
    "lin_api_",
    "secret_",
    "PMAK-",
    "glsa_",
    "eyJ",
];

fn near_tokens(rng: &mut Rng, out: &mut String) {
    match rng.below(3) {
        0 => {
            out.push_str(rng.pick(KEY_WORDS));
            out.push_str(rng.pick(&["", "Value", "s", "_id", "Name"]));
        }
        1 => {
            out.push_str(rng.pick(PREFIXES));
            let len = 8 + rng.below(28);
            out.push_str(&rng.string_from(TOKEN, len));
        }
        _ => {
            let len = 2 + rng.below(8);
            out.push_str(&rng.string_from(LOWER, len));
        }
    }
    out.push_str(rng.pick(&[" ", " ", ".", ", ", "(", ")\n", "_"]));
}

fn mixed_keys(rng: &mut Rng, out: &mut String) {
    let parts = 1 + rng.below(4);
    for _ in 0..parts {
        out.push_str(rng.pick(KEY_WORDS));
        out.push_str(rng.pick(&["", "_", "-", "."]));
    }
    out.push_str(rng.pick(&[
        "=",
        ": ",
        " := ",
        " => ",
        "\": \"",
        "=\"",
        " ?? \"",
        "\\\":\\\"",
    ]));
    let len = rng.below(12);
    let filler = rng.pick(&["xxxxxxxx", "0000", "abc", "changeme"]);
    out.push_str(&rng.string_from(filler.as_bytes(), len));
    out.push_str(rng.pick(&["\n", "\" ", "; ", " "]));
}

fn upper_digit_groups(rng: &mut Rng, out: &mut String) {
    match rng.below(4) {
        0 => {
            // IBAN-like: country, digits, groups of four.
            out.push_str(&rng.string_from(UPPER, 2));
            out.push_str(&rng.string_from(DIGITS, 2));
            for _ in 0..2 + rng.below(5) {
                out.push(' ');
                out.push_str(&rng.string_from(UPPER_DIGITS, 4));
            }
        }
        1 => {
            // NINO-like: two letters, three digit pairs, a letter.
            out.push_str(&rng.string_from(UPPER, 2));
            for _ in 0..3 {
                out.push(' ');
                out.push_str(&rng.string_from(DIGITS, 2));
            }
            out.push(' ');
            out.push_str(&rng.string_from(b"ABCDEFGH", 1));
        }
        2 => {
            out.push_str(&rng.string_from(DIGITS, 3));
            out.push_str(rng.pick(&["-", " ", ""]));
            out.push_str(&rng.string_from(DIGITS, 3));
            out.push_str(rng.pick(&["-", " ", ""]));
            out.push_str(&rng.string_from(DIGITS, 3));
        }
        _ => {
            let len = 6 + rng.below(30);
            out.push_str(&rng.string_from(UPPER_DIGITS, len));
        }
    }
    out.push_str(rng.pick(&[" ", "\n", ", "]));
}

fn pem_soup(rng: &mut Rng, out: &mut String) {
    if rng.below(4) == 0 {
        out.push_str("-----BEGIN ");
        out.push_str(rng.pick(&[
            "RSA PRIVATE KEY",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "PGP PRIVATE KEY BLOCK",
            "ENCRYPTED PRIVATE KEY",
            "CERTIFICATE",
        ]));
        out.push_str("-----\n");
    }
    let len = 40 + rng.below(25);
    out.push_str(&rng.string_from(BASE64, len));
    out.push_str(rng.pick(&["\n", "\n", "=\n", "==\n", "\r\n"]));
    if rng.below(50) == 0 {
        out.push_str("-----END CERTIFICATE-----\n");
    }
}

/// What the bare-key rules' run patterns see at their worst: every run
/// ends a byte later at a length a key can have, or nearly, and starts
/// after a byte no rule excepts, so most are walked and many are findings.
fn bare_runs(rng: &mut Rng, out: &mut String) {
    let len = if rng.below(2) == 0 {
        38 + rng.below(5)
    } else {
        86 + rng.below(5)
    };
    out.push_str(&rng.string_from(BASE64, len));
    if len >= 86 && rng.below(2) == 0 {
        out.push_str("==");
    }
    out.push_str(rng.pick(&[" ", "\n", ", ", "\t", "\"\n"]));
}

fn email_like(rng: &mut Rng, out: &mut String) {
    let local = 4 + rng.below(90);
    out.push_str(&rng.string_from(b"abcdefghijklmnopqrstuvwxyz0123456789._%+-", local));
    out.push('@');
    for _ in 0..1 + rng.below(6) {
        let len = 1 + rng.below(12);
        out.push_str(&rng.string_from(b"abcdefghijklmnopqrstuvwxyz0123456789-", len));
        out.push('.');
    }
    // No TLD: a digit-led label, or nothing after the last dot.
    if rng.below(2) == 0 {
        out.push_str(&rng.string_from(DIGITS, 1));
        let len = rng.below(6);
        out.push_str(&rng.string_from(LOWER, len));
    }
    out.push_str(rng.pick(&[" ", "@", "\n", ".."]));
}

fn separated_runs(rng: &mut Rng, out: &mut String) {
    let alphabet = rng.pick(&[
        "0123456789",
        "0123456789abcdef",
        "0123456789ABCDEF",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    ]);
    let len = 1 + rng.below(24);
    out.push_str(&rng.string_from(alphabet.as_bytes(), len));
    out.push_str(rng.pick(&["-", ".", ":", "/", "_", " ", " ", "\n", "=", "+"]));
}

fn env_fragments(rng: &mut Rng, out: &mut String) {
    let key = rng.pick(KEY_WORDS);
    match rng.below(5) {
        0 => {
            out.push_str("${");
            out.push_str(key);
        }
        1 => {
            out.push_str("echo $");
            out.push_str(key);
            out.push('\n');
        }
        2 => {
            out.push_str("process.env.");
            out.push_str(key);
            out.push_str(rng.pick(&[" ?? ", " || ", ";"]));
        }
        3 => {
            out.push_str("os.environ.get(\"");
            out.push_str(key);
            out.push_str("\", ");
        }
        _ => {
            out.push('`');
            out.push_str(key);
            out.push_str("` is ");
        }
    }
    out.push_str(rng.pick(&[" ", "\n", "} ", "}\n"]));
}
