//! Positive values and hard negatives, each generated from the vendor's or
//! standard's published format (see `README.md` beside this file for the
//! sources), plus the checksums they carry.

use crate::Rng;

pub const SECRET_TYPES: [&str; 27] = [
    "anthropic-api-key",
    "openai-api-key",
    "aws-access-key-id",
    "aws-secret-access-key",
    "github-token",
    "github-fine-grained-token",
    "gitlab-token",
    "slack-token",
    "slack-webhook-url",
    "stripe-key",
    "google-api-key",
    "gcp-service-account",
    "azure-storage-key",
    "azure-connection-string",
    "twilio-api-key",
    "sendgrid-api-key",
    "npm-token",
    "pypi-token",
    "huggingface-token",
    "databricks-token",
    "shopify-token",
    "mailgun-api-key",
    "jwt",
    "private-key",
    "pgp-private-key",
    "database-url",
    "generic-secret-assignment",
];

pub const PII_TYPES: [&str; 11] = [
    "email",
    "payment-card",
    "us-ssn",
    "phone-number",
    "iban",
    "us-itin",
    "uk-national-insurance-number",
    "canada-sin",
    "mac-address",
    "ipv4-address",
    "ipv6-address",
];

pub fn is_pii(kind: &str) -> bool {
    PII_TYPES.contains(&kind)
}

pub const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const DIGITS: &[u8] = b"0123456789";
pub const HEX: &[u8] = b"0123456789abcdef";
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// GitHub's base62 order: digits, upper, lower.
pub const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const URLSAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A value to plant: `text` as written before any carrier encoding;
/// `mark` is the byte range of `text` that must be masked.
#[derive(Clone, Debug)]
pub struct Item {
    pub kind: &'static str,
    pub also: &'static [&'static str],
    pub positive: bool,
    pub text: String,
    pub mark: (usize, usize),
    /// The marked bytes before zero-width/fullwidth/soft-hyphen noise.
    pub clean: String,
    pub obfuscated: bool,
    /// Bytes of `user:` in front of the value (see [`Item::with_user`]).
    pub user_prefix: usize,
    /// Other labeled spans inside `text` (a service account's
    /// `client_email`), as `(start, end, kind)`.
    pub extra: Vec<(usize, usize, &'static str)>,
    /// SCREAMING_SNAKE variable name a config would use for it.
    pub name: &'static str,
    /// Words a person would use for it in chat.
    pub desc: &'static str,
}

impl Item {
    fn new(kind: &'static str, text: String, name: &'static str, desc: &'static str) -> Item {
        Item {
            kind,
            also: &[],
            positive: true,
            mark: (0, text.len()),
            clean: text.clone(),
            text,
            obfuscated: false,
            user_prefix: 0,
            extra: Vec::new(),
            name,
            desc,
        }
    }

    pub fn negative(kind: &'static str, text: String, name: &'static str) -> Item {
        let mut item = Item::new(kind, text, name, "value");
        item.positive = false;
        item
    }

    pub fn multiline(&self) -> bool {
        self.text.contains('\n')
    }

    /// `user:` + this value, as a Basic-auth or Docker `auth` credential
    /// (the whole pair is what gets base64-encoded and masked).
    pub fn with_user(&self, user: &str) -> Item {
        let mut item = self.clone();
        item.text = format!("{user}:{}", self.clean);
        item.clean = item.text.clone();
        item.mark = (0, item.text.len());
        item.obfuscated = false;
        item.user_prefix = user.len() + 1;
        item.extra.clear();
        item
    }
}

pub fn chance(rng: &mut Rng, percent: usize) -> bool {
    rng.below(100) < percent
}

pub fn range(rng: &mut Rng, lo: usize, hi: usize) -> usize {
    lo + rng.below(hi - lo + 1)
}

fn digits(rng: &mut Rng, n: usize) -> String {
    rng.string_from(DIGITS, n)
}

// ---------------------------------------------------------------- checksums

// CRC-32 (GitHub's token checksum) and CRC-24 (OpenPGP armor, RFC 4880
// §6.1) are standard algorithms, checked against their published test
// vectors here and in `formats.rs`: one copy serves both generators.
pub use crate::accuracy::check::{crc24, crc32};

pub fn base62(mut n: u64, width: usize) -> String {
    let mut out = Vec::new();
    while n > 0 {
        out.push(B62[(n % 62) as usize]);
        n /= 62;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// The Luhn check over the ASCII digits of `number` (one copy, in
/// `accuracy::check`, serves both generators).
pub fn luhn_ok(number: &str) -> bool {
    crate::accuracy::check::luhn_valid(number)
}

/// Appends the Luhn check digit to `body`.
pub fn luhn_complete(body: &str) -> String {
    for d in 0..10 {
        let candidate = format!("{body}{d}");
        if luhn_ok(&candidate) {
            return candidate;
        }
    }
    unreachable!("one digit always completes a Luhn sum")
}

/// ISO 7064 mod 97-10 over an IBAN (spaces ignored): 1 when valid.
pub fn iban_mod97(iban: &str) -> u32 {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() < 5 {
        return 0;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut rem = 0u32;
    for c in rearranged.chars() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return 0,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem
}

pub fn base64_encode(data: &[u8], alphabet: &[u8], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

pub fn b64(data: &[u8]) -> String {
    base64_encode(data, B64, true)
}

pub fn b64url(data: &[u8]) -> String {
    base64_encode(data, URLSAFE, false)
}

pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

// ---------------------------------------------------------------- ranges

/// Public (globally routable, non-documentation) IPv4 per the IANA
/// special-purpose registry (RFC 6890 and successors).
pub fn ipv4_public(o: [u8; 4]) -> bool {
    let [a, b, c, _] = o;
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113))
}

#[cfg_attr(not(test), allow(dead_code))]
pub fn ssn_ok(ssn: &str) -> bool {
    let d: String = ssn.chars().filter(char::is_ascii_digit).collect();
    if d.len() != 9 {
        return false;
    }
    let area: u32 = d[..3].parse().unwrap_or(0);
    let group: u32 = d[3..5].parse().unwrap_or(0);
    let serial: u32 = d[5..].parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

#[cfg_attr(not(test), allow(dead_code))]
pub fn itin_ok(itin: &str) -> bool {
    let d: String = itin.chars().filter(char::is_ascii_digit).collect();
    if d.len() != 9 || !d.starts_with('9') {
        return false;
    }
    let group: u32 = d[3..5].parse().unwrap_or(0);
    matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

pub const NINO_FIRST: &[u8] = b"ABCEGHJKLMNOPRSTWXYZ";
pub const NINO_SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
pub const NINO_BAD_PREFIX: [&str; 7] = ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"];

#[cfg_attr(not(test), allow(dead_code))]
pub fn nino_ok(nino: &str) -> bool {
    let c: Vec<u8> = nino.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    c.len() == 9
        && NINO_FIRST.contains(&c[0])
        && NINO_SECOND.contains(&c[1])
        && !NINO_BAD_PREFIX.contains(&std::str::from_utf8(&c[..2]).unwrap_or(""))
        && c[2..8].iter().all(u8::is_ascii_digit)
        && (b'A'..=b'D').contains(&c[8])
}

#[cfg_attr(not(test), allow(dead_code))]
pub fn sin_ok(sin: &str) -> bool {
    let d: String = sin.chars().filter(char::is_ascii_digit).collect();
    d.len() == 9 && !d.starts_with('0') && !d.starts_with('8') && luhn_ok(&d)
}

/// NANP: area code and exchange NXX (N = 2-9), neither N11, area not N9X,
/// exchange not 555 (reserved in part for fiction; avoided whole).
pub fn nanp_ok(area: &str, exchange: &str) -> bool {
    let a = area.as_bytes();
    let e = exchange.as_bytes();
    a.len() == 3
        && e.len() == 3
        && a[0] >= b'2'
        && e[0] >= b'2'
        && !(a[1] == b'1' && a[2] == b'1')
        && !(e[1] == b'1' && e[2] == b'1')
        && a[1] != b'9'
        && exchange != "555"
}

#[cfg_attr(not(test), allow(dead_code))]
pub fn ipv6_global(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let first = lower.split(':').next().unwrap_or("");
    let Ok(v) = u16::from_str_radix(first, 16) else {
        return false;
    };
    (0x2000..0x4000).contains(&v) && !lower.starts_with("2001:db8:") && !lower.starts_with("2002:")
}

// ---------------------------------------------------------------- positives

const FIRST: &[&str] = &[
    "maria", "jonas", "li", "aisha", "pierre", "sofia", "kenji", "olga", "diego", "emma", "noah",
    "fatima", "lukas", "chloe", "ravi", "hannah", "mateo", "yuki", "amelie", "omar",
];
const LAST: &[&str] = &[
    "schmidt",
    "garcia",
    "nguyen",
    "dubois",
    "tanaka",
    "kowalski",
    "rossi",
    "okafor",
    "smith",
    "johansson",
    "fernandez",
    "muller",
    "cohen",
    "patel",
    "novak",
    "silva",
    "brown",
    "kim",
];
const MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.co.jp",
    "web.de",
    "gmx.de",
    "orange.fr",
    "protonmail.com",
    "icloud.com",
    "acme-corp.io",
    "stripe-partners.net",
    "uni-heidelberg.de",
    "bbc.co.uk",
    "telefonica.es",
    "fastmail.fm",
    "mail.ru",
    "shopify-merchants.ca",
];

pub fn person(rng: &mut Rng) -> (String, String) {
    (rng.pick(FIRST).to_string(), rng.pick(LAST).to_string())
}

fn email(rng: &mut Rng) -> String {
    let (f, l) = person(rng);
    let local = match rng.below(6) {
        0 => format!("{f}.{l}"),
        1 => format!("{f}{}", range(rng, 1, 99)),
        2 => format!(
            "{}.{l}+{}",
            &f[..1],
            rng.pick(&["billing", "github", "news", "test"])
        ),
        3 => format!("{f}_{l}"),
        4 => format!("{l}.{f}"),
        _ => format!("{}{l}", &f[..1]),
    };
    let mut out = format!("{local}@{}", rng.pick(MAIL_DOMAINS));
    if chance(rng, 10) {
        let (a, b) = out.split_once('@').expect("has @");
        out = format!("{}{}@{b}", a[..1].to_ascii_uppercase(), &a[1..]);
    }
    out
}

fn card(rng: &mut Rng) -> String {
    let (prefix, len) = match rng.below(7) {
        0 | 1 => ("4".to_string(), 16),
        2 => (format!("5{}", range(rng, 1, 5)), 16),
        3 => (format!("{}", range(rng, 2221, 2720)), 16),
        4 => (rng.pick(&["34", "37"]).to_string(), 15),
        5 => (
            rng.pick(&["6011", "644", "645", "649", "65"]).to_string(),
            16,
        ),
        _ => (format!("{}", range(rng, 3528, 3589)), 16),
    };
    let body = format!("{prefix}{}", digits(rng, len - 1 - prefix.len()));
    let number = luhn_complete(&body);
    let groups: Vec<&str> = if len == 15 {
        vec![&number[..4], &number[4..10], &number[10..]]
    } else {
        vec![&number[..4], &number[4..8], &number[8..12], &number[12..]]
    };
    match rng.below(4) {
        0 => number.clone(),
        1 => groups.join("-"),
        _ => groups.join(" "),
    }
}

fn ssn_digits(rng: &mut Rng) -> (String, String, String) {
    loop {
        let area = range(rng, 1, 899);
        if area == 666 {
            continue;
        }
        let group = range(rng, 1, 99);
        let serial = range(rng, 1, 9999);
        let (a, g, s) = (
            format!("{area:03}"),
            format!("{group:02}"),
            format!("{serial:04}"),
        );
        if (a.as_str(), g.as_str(), s.as_str()) == ("078", "05", "1120") {
            continue;
        }
        return (a, g, s);
    }
}

fn ssn(rng: &mut Rng) -> String {
    let (a, g, s) = ssn_digits(rng);
    match rng.below(10) {
        0 => format!("{a} {g} {s}"),
        1 => format!("{a}{g}{s}"),
        _ => format!("{a}-{g}-{s}"),
    }
}

fn itin(rng: &mut Rng) -> String {
    let groups: Vec<usize> = (50..=65)
        .chain(70..=88)
        .chain(90..=92)
        .chain(94..=99)
        .collect();
    let group = groups[rng.below(groups.len())];
    format!("9{}-{group:02}-{:04}", digits(rng, 2), range(rng, 1, 9999))
}

const AREA_CODES: &[&str] = &[
    "212", "213", "310", "312", "404", "415", "503", "512", "617", "646", "702", "713", "718",
    "720", "805", "818", "917", "206", "303", "305", "408", "469", "510", "571", "602", "614",
    "678", "703", "732", "773", "786", "813", "832", "858", "914", "949", "972", "416", "604",
    "514",
];

fn phone(rng: &mut Rng) -> String {
    if chance(rng, 22) {
        return match rng.below(4) {
            0 => format!(
                "+44 7{}{} {}",
                range(rng, 4, 9),
                digits(rng, 2),
                digits(rng, 6)
            ),
            1 => format!(
                "+49 {} {}",
                rng.pick(&["151", "160", "170", "176", "157"]),
                digits(rng, 8)
            ),
            2 => format!(
                "+33 {} {} {} {} {}",
                range(rng, 6, 7),
                digits(rng, 2),
                digits(rng, 2),
                digits(rng, 2),
                digits(rng, 2)
            ),
            _ => format!(
                "+61 4{} {} {}",
                digits(rng, 2),
                digits(rng, 3),
                digits(rng, 3)
            ),
        };
    }
    let area = rng.pick(AREA_CODES);
    let exchange = loop {
        let e = format!("{}{}", range(rng, 2, 9), digits(rng, 2));
        if nanp_ok(area, &e) {
            break e;
        }
    };
    let line = digits(rng, 4);
    match rng.below(7) {
        0 => format!("({area}) {exchange}-{line}"),
        1 => format!("{area}-{exchange}-{line}"),
        2 => format!("{area}.{exchange}.{line}"),
        3 => format!("+1 {area} {exchange} {line}"),
        4 => format!("+1-{area}-{exchange}-{line}"),
        5 => format!("+1 ({area}) {exchange}-{line}"),
        _ => format!("1-{area}-{exchange}-{line}"),
    }
}

pub fn iban_check(country: &str, bban: &str) -> String {
    let probe = format!("{country}00{bban}");
    let rem = iban_mod97(&probe);
    format!("{:02}", 98 - rem)
}

fn iban_compact(rng: &mut Rng) -> String {
    let (country, bban) = match rng.below(8) {
        0 | 1 => ("DE", digits(rng, 18)),
        2 => (
            "GB",
            format!(
                "{}{}",
                rng.pick(&["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]),
                digits(rng, 14)
            ),
        ),
        3 => (
            "NL",
            format!(
                "{}{}",
                rng.pick(&["ABNA", "INGB", "RABO", "TRIO"]),
                digits(rng, 10)
            ),
        ),
        4 => ("CH", digits(rng, 17)),
        5 => ("AT", digits(rng, 16)),
        6 => {
            // Belgium: 3-digit bank, 7-digit account, national mod 97.
            let first: u64 = digits(rng, 10).parse().expect("digits");
            let check = match first % 97 {
                0 => 97,
                r => r,
            };
            ("BE", format!("{first:010}{check:02}"))
        }
        _ => {
            // France: RIB key = 97 - (89*bank + 15*branch + 3*account) mod 97.
            let bank = digits(rng, 5);
            let branch = digits(rng, 5);
            let account = digits(rng, 11);
            let sum = 89 * bank.parse::<u128>().expect("d")
                + 15 * branch.parse::<u128>().expect("d")
                + 3 * account.parse::<u128>().expect("d");
            let key = 97 - sum % 97;
            ("FR", format!("{bank}{branch}{account}{key:02}"))
        }
    };
    format!("{country}{}{bban}", iban_check(country, &bban))
}

pub fn group4(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn iban(rng: &mut Rng) -> String {
    let compact = iban_compact(rng);
    if chance(rng, 50) {
        group4(&compact)
    } else {
        compact
    }
}

fn nino(rng: &mut Rng) -> String {
    let prefix = loop {
        let p = format!(
            "{}{}",
            char::from(NINO_FIRST[rng.below(NINO_FIRST.len())]),
            char::from(NINO_SECOND[rng.below(NINO_SECOND.len())])
        );
        if !NINO_BAD_PREFIX.contains(&p.as_str()) {
            break p;
        }
    };
    let d = digits(rng, 6);
    let suffix = rng.pick(&["A", "B", "C", "D"]);
    if chance(rng, 50) {
        format!("{prefix} {} {} {} {suffix}", &d[..2], &d[2..4], &d[4..])
    } else {
        format!("{prefix}{d}{suffix}")
    }
}

fn sin(rng: &mut Rng) -> String {
    let first = rng.pick(&["1", "2", "3", "4", "5", "6", "7", "9"]);
    let n = luhn_complete(&format!("{first}{}", digits(rng, 7)));
    match rng.below(3) {
        0 => format!("{} {} {}", &n[..3], &n[3..6], &n[6..]),
        1 => format!("{}-{}-{}", &n[..3], &n[3..6], &n[6..]),
        _ => n,
    }
}

/// Real, unicast, globally administered OUIs (IEEE registry).
const OUIS: &[[u8; 3]] = &[
    [0x00, 0x50, 0x56],
    [0x00, 0x0C, 0x29],
    [0xB8, 0x27, 0xEB],
    [0xDC, 0xA6, 0x32],
    [0x3C, 0x22, 0xFB],
    [0xF4, 0x5C, 0x89],
    [0x00, 0x1B, 0x63],
    [0x00, 0x1A, 0x11],
    [0x00, 0x25, 0x90],
    [0x8C, 0x85, 0x90],
    [0x00, 0x16, 0x3E],
    [0xF0, 0x18, 0x98],
    [0x44, 0x38, 0x39],
];

fn mac(rng: &mut Rng) -> String {
    let oui = OUIS[rng.below(OUIS.len())];
    let bytes = [
        oui[0],
        oui[1],
        oui[2],
        rng.next_u64() as u8,
        rng.next_u64() as u8,
        rng.next_u64() as u8,
    ];
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match rng.below(5) {
        0 => hex.join("-").to_ascii_uppercase(),
        1 => hex.join(":").to_ascii_uppercase(),
        2 => format!(
            "{}{}.{}{}.{}{}",
            hex[0], hex[1], hex[2], hex[3], hex[4], hex[5]
        ),
        _ => hex.join(":"),
    }
}

fn ipv4(rng: &mut Rng) -> String {
    loop {
        let o = [
            range(rng, 1, 223) as u8,
            rng.below(256) as u8,
            rng.below(256) as u8,
            range(rng, 1, 254) as u8,
        ];
        if ipv4_public(o) {
            return format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]);
        }
    }
}

const V6_PREFIXES: &[&str] = &[
    "2001:4860",
    "2606:4700",
    "2a00:1450",
    "2a03:2880",
    "2600:1f18",
    "2620:fe",
    "2a01:4f8",
    "2400:cb00",
    "2a02:26f0",
    "2604:a880",
    "2a05:d014",
    "2001:67c",
];

fn ipv6(rng: &mut Rng) -> String {
    let prefix = rng.pick(V6_PREFIXES);
    let mut groups: Vec<String> = prefix.split(':').map(str::to_string).collect();
    let compress = chance(rng, 60);
    while groups.len() < 8 {
        let g = rng.below(0x10000);
        groups.push(format!("{g:x}"));
    }
    if compress {
        // Zero a run in the middle and write it as `::`.
        let start = 3;
        let len = range(rng, 2, 4);
        let head = groups[..start].join(":");
        let tail = groups[start + len..].join(":");
        return format!("{head}::{tail}");
    }
    let out = groups.join(":");
    if chance(rng, 15) {
        out.to_ascii_uppercase()
    } else {
        out
    }
}

fn github_classic(rng: &mut Rng) -> String {
    let prefix = rng.pick(&["ghp", "ghp", "ghp", "gho", "ghu", "ghs", "ghr"]);
    let body = rng.string_from(B62, 30);
    let check = base62(u64::from(crc32(body.as_bytes())), 6);
    format!("{prefix}_{body}{check}")
}

fn pem(rng: &mut Rng) -> String {
    let (label, lead, total, width) = match rng.below(6) {
        0 => ("RSA PRIVATE KEY", "MIIEowIBAAKCAQEA", 1592, 64),
        1 => ("RSA PRIVATE KEY", "MIICXQIBAAKBgQ", 812, 64),
        2 => ("EC PRIVATE KEY", "MHcCAQEEI", 160, 64),
        3 => (
            "PRIVATE KEY",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ",
            1624,
            64,
        ),
        4 => ("PRIVATE KEY", "MC4CAQAwBQYDK2VwBCIEI", 64, 64),
        _ => (
            "OPENSSH PRIVATE KEY",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
            400,
            70,
        ),
    };
    let mut body = lead.to_string();
    body.push_str(&rng.string_from(B64, total - lead.len()));
    if label.starts_with("RSA") && chance(rng, 50) {
        body.truncate(body.len() - 1);
        body.push('=');
    }
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(width)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----",
        lines.join("\n")
    )
}

fn pgp(rng: &mut Rng) -> String {
    let mut data = vec![0x95u8, 0x03];
    let n = range(rng, 280, 520);
    data.extend(random_bytes(rng, n));
    let body = b64(&data);
    let crc = crc24(&data);
    let check = b64(&[(crc >> 16) as u8, (crc >> 8) as u8, crc as u8]);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    let header = match rng.below(3) {
        0 => "Version: GnuPG v2\n",
        1 => "Comment: https://gnupg.org\n",
        _ => "",
    };
    format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n{header}\n{}\n={check}\n-----END PGP PRIVATE KEY BLOCK-----",
        lines.join("\n")
    )
}

fn jwt(rng: &mut Rng) -> String {
    let rs = chance(rng, 40);
    let header = if rs {
        format!(
            "{{\"alg\":\"RS256\",\"kid\":\"{}\",\"typ\":\"JWT\"}}",
            rng.string_from(HEX, 16)
        )
    } else {
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}".to_string()
    };
    let iat = 1_690_000_000 + rng.below(60_000_000);
    let (f, l) = person(rng);
    let payload = format!(
        "{{\"sub\":\"{}\",\"name\":\"{f} {l}\",\"iss\":\"https://auth.{}\",\"iat\":{iat},\"exp\":{}}}",
        digits(rng, 10),
        rng.pick(&["acme-corp.io", "example-saas.net", "login.contoso.app"]),
        iat + 3600
    );
    let sig = random_bytes(rng, if rs { 256 } else { 32 });
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes()),
        b64url(&sig)
    )
}

fn password(rng: &mut Rng) -> String {
    const WORDS: &[&str] = &[
        "Sunset", "Kaffee", "Dragon", "Montagne", "Lluvia", "Sakura", "Falcon", "Winter", "Otter",
    ];
    match rng.below(5) {
        0 => format!(
            "{}{}{}{}",
            rng.pick(WORDS),
            rng.pick(&["#", "!", "_", "@", "$", "%", "*"]),
            digits(rng, 4),
            rng.pick(&["!", "?", "", "x", "&"])
        ),
        1 => {
            let n = range(rng, 14, 28);
            rng.string_from(
                b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%*+-_",
                n,
            )
        }
        2 => rng.string_from(HEX, 32),
        3 => rng.string_from(b"abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)", 50),
        _ => {
            let n = range(rng, 20, 40);
            rng.string_from(ALNUM, n)
        }
    }
}

fn database_url(rng: &mut Rng) -> String {
    let (scheme, port, host) = match rng.below(7) {
        0 => (
            "postgres",
            ":5432",
            format!(
                "prod-db.{}.us-east-1.rds.amazonaws.com",
                rng.string_from(LOWER, 10)
            ),
        ),
        1 => ("postgresql", "", "db.internal.acme-corp.io".to_string()),
        2 => ("mysql", ":3306", "mysql-primary.corp.local".to_string()),
        3 => (
            "mongodb+srv",
            "",
            format!("cluster0.{}.mongodb.net", rng.string_from(LOWER, 5)),
        ),
        4 => ("redis", ":6379", "cache.acme-corp.io".to_string()),
        5 => ("amqps", ":5671", "rabbit.queue.acme-corp.io".to_string()),
        _ => ("mongodb", ":27017", "mongo-0.mongo.svc".to_string()),
    };
    let user = rng.pick(&[
        "app",
        "admin",
        "svc_orders",
        "postgres",
        "root",
        "reporting",
    ]);
    let n = range(rng, 12, 24);
    let mut pass = rng.string_from(ALNUM, n);
    if chance(rng, 25) {
        pass.push_str(rng.pick(&["%40", "%23", "%21", "-", "_", "~"]));
        pass.push_str(&digits(rng, 2));
    }
    let db = rng.pick(&[
        "orders",
        "app_production",
        "analytics",
        "users",
        "0",
        "billing",
    ]);
    let query = if chance(rng, 30) {
        rng.pick(&[
            "?sslmode=require",
            "?retryWrites=true&w=majority",
            "?ssl=true",
        ])
    } else {
        ""
    };
    format!("{scheme}://{user}:{pass}@{host}{port}/{db}{query}")
}

fn gcp(rng: &mut Rng) -> Item {
    let project = format!(
        "{}-{}",
        rng.pick(&["acme-prod", "data-lake", "ml-pipeline", "billing-svc"]),
        digits(rng, 6)
    );
    let key = {
        let body = rng.string_from(B64, 1624 - 49);
        let mut lines = vec![String::from(
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ",
        )];
        lines[0].push_str(&body[..14]);
        for chunk in body.as_bytes()[14..].chunks(64) {
            lines.push(String::from_utf8(chunk.to_vec()).expect("ascii"));
        }
        format!(
            "-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n",
            lines.join("\\n")
        )
    };
    let head = format!(
        "{{\"type\": \"service_account\", \"project_id\": \"{project}\", \"private_key_id\": \"{}\", \"private_key\": \"",
        rng.string_from(HEX, 40)
    );
    let account = rng.pick(&["deployer", "etl-runner", "github-actions", "terraform"]);
    let tail = format!(
        "\", \"client_email\": \"{account}@{project}.iam.gserviceaccount.com\", \"client_id\": \"{}\", \"auth_uri\": \"https://accounts.google.com/o/oauth2/auth\", \"token_uri\": \"https://oauth2.googleapis.com/token\"}}",
        digits(rng, 21)
    );
    let email_at = tail.find("\"client_email\": \"").expect("client_email") + 17;
    let email_end = email_at + tail[email_at..].find('"').expect("closing quote");
    let text = format!("{head}{key}{tail}");
    let mark = (head.len(), head.len() + key.len());
    let mut item = Item::new(
        "gcp-service-account",
        text,
        "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        "GCP service account JSON",
    );
    item.also = &["private-key"];
    item.mark = mark;
    item.clean = key;
    let base = head.len() + item.clean.len();
    item.extra = vec![(base + email_at, base + email_end, "email")];
    item
}

/// A fresh positive of type `kind`.
pub fn positive(rng: &mut Rng, kind: &'static str) -> Item {
    let (text, name, desc): (String, &'static str, &'static str) = match kind {
        "anthropic-api-key" => (
            format!(
                "sk-ant-{}-{}AA",
                rng.pick(&["api03", "api03", "api03", "admin01"]),
                rng.string_from(URLSAFE, 93)
            ),
            "ANTHROPIC_API_KEY",
            "Anthropic key",
        ),
        "openai-api-key" => {
            let text = match rng.below(4) {
                0 => format!(
                    "sk-{}T3BlbkFJ{}",
                    rng.string_from(ALNUM, 20),
                    rng.string_from(ALNUM, 20)
                ),
                1 => format!(
                    "sk-svcacct-{}T3BlbkFJ{}",
                    rng.string_from(URLSAFE, 74),
                    rng.string_from(URLSAFE, 74)
                ),
                _ => format!(
                    "sk-proj-{}T3BlbkFJ{}",
                    rng.string_from(URLSAFE, 74),
                    rng.string_from(URLSAFE, 74)
                ),
            };
            (text, "OPENAI_API_KEY", "OpenAI key")
        }
        "aws-access-key-id" => (
            format!(
                "{}{}",
                rng.pick(&["AKIA", "AKIA", "ASIA"]),
                rng.string_from(BASE32, 16)
            ),
            "AWS_ACCESS_KEY_ID",
            "AWS access key id",
        ),
        "aws-secret-access-key" => (
            rng.string_from(B64, 40),
            "AWS_SECRET_ACCESS_KEY",
            "AWS secret access key",
        ),
        "github-token" => (github_classic(rng), "GITHUB_TOKEN", "GitHub token"),
        "github-fine-grained-token" => (
            format!(
                "github_pat_11{}_{}",
                rng.string_from(B62, 20),
                rng.string_from(B62, 59)
            ),
            "GH_PAT",
            "GitHub fine-grained PAT",
        ),
        "gitlab-token" => (
            if chance(rng, 80) {
                format!("glpat-{}", rng.string_from(URLSAFE, 20))
            } else {
                format!("glptt-{}", rng.string_from(HEX, 40))
            },
            "GITLAB_TOKEN",
            "GitLab token",
        ),
        "slack-token" => (
            match rng.below(3) {
                0 => format!(
                    "xoxb-{}-{}-{}",
                    {
                        let n = range(rng, 10, 13);
                        digits(rng, n)
                    },
                    digits(rng, 13),
                    rng.string_from(ALNUM, 24)
                ),
                1 => format!(
                    "xoxp-{}-{}-{}-{}",
                    digits(rng, 11),
                    digits(rng, 11),
                    digits(rng, 13),
                    rng.string_from(HEX, 32)
                ),
                _ => format!(
                    "xapp-1-A{}-{}-{}",
                    rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
                    digits(rng, 13),
                    rng.string_from(HEX, 64)
                ),
            },
            "SLACK_BOT_TOKEN",
            "Slack token",
        ),
        "slack-webhook-url" => (
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
                rng.string_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
                rng.string_from(ALNUM, 24)
            ),
            "SLACK_WEBHOOK_URL",
            "Slack webhook",
        ),
        "stripe-key" => (
            format!(
                "{}{}",
                rng.pick(&["sk_live_", "sk_live_", "rk_live_", "sk_test_"]),
                {
                    let n = if chance(rng, 50) { 24 } else { 99 };
                    rng.string_from(ALNUM, n)
                }
            ),
            "STRIPE_SECRET_KEY",
            "Stripe secret key",
        ),
        "google-api-key" => (
            format!("AIza{}", rng.string_from(URLSAFE, 35)),
            "GOOGLE_API_KEY",
            "Google API key",
        ),
        "gcp-service-account" => return gcp(rng),
        "azure-storage-key" => (
            format!("{}==", rng.string_from(B64, 86)),
            "AZURE_STORAGE_KEY",
            "Azure storage account key",
        ),
        "azure-connection-string" => {
            let account = format!(
                "{}{}",
                rng.pick(&["stprod", "acmelogs", "mldata", "backups"]),
                digits(rng, 3)
            );
            let key = format!("{}==", rng.string_from(B64, 86));
            let text = if chance(rng, 70) {
                format!("DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};EndpointSuffix=core.windows.net")
            } else {
                format!("BlobEndpoint=https://{account}.blob.core.windows.net/;AccountName={account};AccountKey={key}")
            };
            let mut item = Item::new(
                kind,
                text,
                "AZURE_STORAGE_CONNECTION_STRING",
                "Azure connection string",
            );
            item.also = &["azure-storage-key"];
            return item;
        }
        "twilio-api-key" => (
            format!("SK{}", rng.string_from(HEX, 32)),
            "TWILIO_API_KEY",
            "Twilio API key",
        ),
        "sendgrid-api-key" => (
            format!(
                "SG.{}.{}",
                rng.string_from(URLSAFE, 22),
                rng.string_from(URLSAFE, 43)
            ),
            "SENDGRID_API_KEY",
            "SendGrid key",
        ),
        "npm-token" => (
            format!("npm_{}", rng.string_from(ALNUM, 36)),
            "NPM_TOKEN",
            "npm token",
        ),
        "pypi-token" => (
            format!("pypi-AgEIcHlwaS5vcmcCJ{}", {
                let n = range(rng, 140, 190);
                rng.string_from(URLSAFE, n)
            }),
            "PYPI_API_TOKEN",
            "PyPI token",
        ),
        "huggingface-token" => (
            format!(
                "{}{}",
                if chance(rng, 85) { "hf_" } else { "api_org_" },
                rng.string_from(LETTERS, 34)
            ),
            "HF_TOKEN",
            "Hugging Face token",
        ),
        "databricks-token" => (
            format!(
                "dapi{}{}",
                rng.string_from(HEX, 32),
                if chance(rng, 30) { "-2" } else { "" }
            ),
            "DATABRICKS_TOKEN",
            "Databricks token",
        ),
        "shopify-token" => (
            format!(
                "{}{}",
                rng.pick(&["shpat_", "shpat_", "shpca_", "shppa_", "shpss_"]),
                rng.string_from(HEX, 32)
            ),
            "SHOPIFY_ACCESS_TOKEN",
            "Shopify token",
        ),
        "mailgun-api-key" => (
            if chance(rng, 70) {
                format!("key-{}", rng.string_from(HEX, 32))
            } else {
                format!(
                    "{}-{}-{}",
                    rng.string_from(HEX, 32),
                    rng.string_from(HEX, 8),
                    rng.string_from(HEX, 8)
                )
            },
            "MAILGUN_API_KEY",
            "Mailgun key",
        ),
        "jwt" => (jwt(rng), "ACCESS_TOKEN", "JWT"),
        "private-key" => (pem(rng), "TLS_PRIVATE_KEY", "private key"),
        "pgp-private-key" => (pgp(rng), "GPG_PRIVATE_KEY", "PGP private key"),
        "database-url" => (database_url(rng), "DATABASE_URL", "database URL"),
        "generic-secret-assignment" => (password(rng), "DB_PASSWORD", "password"),
        "email" => (email(rng), "CONTACT_EMAIL", "email"),
        "payment-card" => (card(rng), "CARD_NUMBER", "card number"),
        "us-ssn" => (ssn(rng), "SSN", "SSN"),
        "phone-number" => (phone(rng), "PHONE", "phone number"),
        "iban" => (iban(rng), "IBAN", "IBAN"),
        "us-itin" => (itin(rng), "ITIN", "ITIN"),
        "uk-national-insurance-number" => (nino(rng), "NI_NUMBER", "NI number"),
        "canada-sin" => (sin(rng), "SIN", "SIN"),
        "mac-address" => (mac(rng), "MAC_ADDRESS", "MAC address"),
        "ipv4-address" => (ipv4(rng), "CLIENT_IP", "IP address"),
        "ipv6-address" => (ipv6(rng), "CLIENT_IPV6", "IPv6 address"),
        other => panic!("no generator for {other}"),
    };
    let mut item = Item::new(kind, text, name, desc);
    if chance(rng, 4) && !item.multiline() {
        obfuscate(rng, &mut item);
    }
    item
}

pub const ZERO_WIDTH: [char; 4] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}'];
pub const SOFT_HYPHEN: char = '\u{00AD}';

/// Copy-paste and evasion noise inside the value: a zero-width character
/// or soft hyphen in the middle, or fullwidth digits in PII.
fn obfuscate(rng: &mut Rng, item: &mut Item) {
    let chars: Vec<char> = item.text.chars().collect();
    let noisy: String = if is_pii(item.kind)
        && chars.iter().filter(|c| c.is_ascii_digit()).count() >= 6
        && chance(rng, 50)
    {
        chars
            .iter()
            .map(|&c| {
                if c.is_ascii_digit() {
                    char::from_u32(c as u32 - '0' as u32 + 0xFF10).expect("fullwidth")
                } else {
                    c
                }
            })
            .collect()
    } else {
        let at = range(rng, 1, chars.len() - 1);
        let noise = if chance(rng, 50) {
            SOFT_HYPHEN
        } else {
            ZERO_WIDTH[rng.below(ZERO_WIDTH.len())]
        };
        chars[..at]
            .iter()
            .chain(std::iter::once(&noise))
            .chain(chars[at..].iter())
            .collect()
    };
    item.text = noisy;
    item.mark = (0, item.text.len());
    item.obfuscated = true;
}

// ---------------------------------------------------------------- negatives

const NEGATIVE_KINDS: &[&str] = &[
    "uuid",
    "git-sha",
    "sha256",
    "md5",
    "base64-blob",
    "aws-example-key",
    "placeholder",
    "version",
    "private-ipv4",
    "documentation-ip",
    "special-ipv6",
    "order-id",
    "timestamp",
    "invalid-card",
    "invalid-iban",
    "fictional-phone",
    "local-email",
    "invalid-ssn",
    "test-card",
    "special-mac",
    "docker-digest",
    "bad-luhn-sin",
];

/// The kinds agent traffic is full of (ids, hashes, blobs, versions,
/// internal addresses, timestamps) come three times as often as the
/// rarer look-alikes (test cards, 555 numbers, special MACs).
const COMMON_NEGATIVES: &[&str] = &[
    "uuid",
    "git-sha",
    "sha256",
    "md5",
    "base64-blob",
    "version",
    "private-ipv4",
    "order-id",
    "timestamp",
    "placeholder",
    "docker-digest",
];

pub fn negative(rng: &mut Rng) -> Item {
    let total = NEGATIVE_KINDS.len() + 2 * COMMON_NEGATIVES.len();
    let pick = rng.below(total);
    let kind = if pick < NEGATIVE_KINDS.len() {
        NEGATIVE_KINDS[pick]
    } else {
        COMMON_NEGATIVES[(pick - NEGATIVE_KINDS.len()) % COMMON_NEGATIVES.len()]
    };
    negative_of(rng, kind)
}

pub fn negative_of(rng: &mut Rng, kind: &'static str) -> Item {
    let (text, name): (String, &'static str) = match kind {
        "uuid" => {
            let h = rng.string_from(HEX, 32);
            (
                format!(
                    "{}-{}-4{}-{}{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[13..16],
                    rng.pick(&["8", "9", "a", "b"]),
                    &h[17..20],
                    &h[20..]
                ),
                "REQUEST_ID",
            )
        }
        "git-sha" => (rng.string_from(HEX, 40), "COMMIT_SHA"),
        "sha256" => (rng.string_from(HEX, 64), "CHECKSUM"),
        "md5" => (rng.string_from(HEX, 32), "ETAG"),
        "base64-blob" => {
            let (f, l) = person(rng);
            let json = format!(
                "{{\"user\":\"{f}\",\"theme\":\"dark\",\"lang\":\"{}\",\"last\":\"{l}\",\"v\":{}}}",
                rng.pick(&["de", "fr", "ja", "es", "en"]),
                range(rng, 1, 9)
            );
            (b64(json.as_bytes()), "PAYLOAD")
        }
        "aws-example-key" => {
            if chance(rng, 50) {
                ("AKIAIOSFODNN7EXAMPLE".to_string(), "AWS_ACCESS_KEY_ID")
            } else {
                (
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string(),
                    "AWS_SECRET_ACCESS_KEY",
                )
            }
        }
        "placeholder" => {
            let options: &[(&str, &'static str)] = &[
                ("sk-...xxxx", "OPENAI_API_KEY"),
                (
                    "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "OPENAI_API_KEY",
                ),
                ("your_api_key_here", "API_KEY"),
                ("<YOUR_API_KEY>", "ANTHROPIC_API_KEY"),
                ("XXXXXXXXXXXXXXXXXXXX", "AWS_ACCESS_KEY_ID"),
                ("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "GITHUB_TOKEN"),
                ("sk-ant-api03-...", "ANTHROPIC_API_KEY"),
                ("${OPENAI_API_KEY}", "OPENAI_API_KEY"),
                ("REPLACE_ME", "STRIPE_SECRET_KEY"),
                ("********", "DB_PASSWORD"),
                ("<password>", "DB_PASSWORD"),
                ("your-password-here", "DB_PASSWORD"),
                ("sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "STRIPE_SECRET_KEY"),
                ("hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "HF_TOKEN"),
                ("{{ secrets.NPM_TOKEN }}", "NPM_TOKEN"),
                ("xoxb-your-bot-token", "SLACK_BOT_TOKEN"),
            ];
            let (t, n) = options[rng.below(options.len())];
            (t.to_string(), n)
        }
        "version" => (
            match rng.below(3) {
                0 => format!(
                    "{}.{}.{}",
                    range(rng, 0, 20),
                    range(rng, 0, 40),
                    range(rng, 0, 99)
                ),
                1 => format!(
                    "v{}.{}.{}-rc.{}",
                    range(rng, 1, 9),
                    range(rng, 0, 30),
                    range(rng, 0, 9),
                    range(rng, 1, 5)
                ),
                _ => format!(
                    "{}.{}.{}.{}",
                    range(rng, 1, 9),
                    range(rng, 0, 9),
                    range(rng, 0, 9),
                    range(rng, 1000, 9999)
                ),
            },
            "VERSION",
        ),
        "private-ipv4" => (
            match rng.below(6) {
                0 => format!(
                    "10.{}.{}.{}",
                    rng.below(256),
                    rng.below(256),
                    range(rng, 1, 254)
                ),
                1 => format!("192.168.{}.{}", rng.below(256), range(rng, 1, 254)),
                2 => format!(
                    "172.{}.{}.{}",
                    range(rng, 16, 31),
                    rng.below(256),
                    range(rng, 1, 254)
                ),
                3 => "127.0.0.1".to_string(),
                4 => format!("169.254.{}.{}", rng.below(256), range(rng, 1, 254)),
                _ => format!(
                    "100.{}.{}.{}",
                    range(rng, 64, 127),
                    rng.below(256),
                    range(rng, 1, 254)
                ),
            },
            "DB_HOST",
        ),
        "documentation-ip" => (
            format!(
                "{}.{}",
                rng.pick(&["192.0.2", "198.51.100", "203.0.113"]),
                range(rng, 1, 254)
            ),
            "UPSTREAM_IP",
        ),
        "special-ipv6" => (
            match rng.below(4) {
                0 => "::1".to_string(),
                1 => format!("fe80::{:x}:{:x}", rng.below(0x10000), rng.below(0x10000)),
                2 => format!("2001:db8::{:x}", range(rng, 1, 0xffff)),
                _ => format!(
                    "fd{:02x}:{:x}::{:x}",
                    rng.below(256),
                    rng.below(0x10000),
                    range(rng, 1, 0xffff)
                ),
            },
            "BIND_ADDR",
        ),
        "order-id" => (
            format!(
                "{}-{}-{}",
                rng.pick(&["ORD", "INV", "PO", "TKT"]),
                range(rng, 2019, 2026),
                digits(rng, 6)
            ),
            "ORDER_ID",
        ),
        "timestamp" => (
            if chance(rng, 50) {
                format!(
                    "{}",
                    1_600_000_000_000u64 + rng.next_u64() % 200_000_000_000
                )
            } else {
                format!(
                    "20{}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
                    range(rng, 19, 26),
                    range(rng, 1, 12),
                    range(rng, 1, 28),
                    rng.below(24),
                    rng.below(60),
                    rng.below(60),
                    digits(rng, 3)
                )
            },
            "CREATED_AT",
        ),
        "invalid-card" => {
            let valid = luhn_complete(&format!("4{}", digits(rng, 14)));
            let last = valid.as_bytes()[15] - b'0';
            let bad = format!("{}{}", &valid[..15], (last + range(rng, 1, 9) as u8) % 10);
            (group4(&bad), "CARD_NUMBER")
        }
        "invalid-iban" => {
            let valid = iban_compact(rng);
            let cd: u32 = valid[2..4].parse().expect("digits");
            let bad = format!(
                "{}{:02}{}",
                &valid[..2],
                (cd + range(rng, 1, 50) as u32) % 97 + 2,
                &valid[4..]
            );
            let bad = if iban_mod97(&bad) == 1 {
                format!("{}{:02}{}", &valid[..2], (cd + 1) % 97 + 2, &valid[4..])
            } else {
                bad
            };
            (group4(&bad), "IBAN")
        }
        "fictional-phone" => (
            format!("({}) 555-01{}", rng.pick(AREA_CODES), digits(rng, 2)),
            "PHONE",
        ),
        "local-email" => (
            format!(
                "{}@{}",
                rng.pick(&["root", "admin", "postgres", "user", "jenkins"]),
                rng.pick(&[
                    "localhost",
                    "example.com",
                    "example.org",
                    "test.invalid",
                    "localhost.localdomain"
                ])
            ),
            "ADMIN_EMAIL",
        ),
        "invalid-ssn" => (
            match rng.below(4) {
                0 => format!("000-{}-{}", digits(rng, 2), digits(rng, 4)),
                1 => format!("666-{}-{}", digits(rng, 2), digits(rng, 4)),
                2 => format!("{:03}-00-{}", range(rng, 1, 899), digits(rng, 4)),
                _ => format!("{:03}-{:02}-0000", range(rng, 1, 899), range(rng, 1, 99)),
            },
            "SSN",
        ),
        "test-card" => (
            rng.pick(&[
                "4242 4242 4242 4242",
                "4111 1111 1111 1111",
                "5555 5555 5555 4444",
                "4000 0566 5566 5556",
                "3782 822463 10005",
            ])
            .to_string(),
            "TEST_CARD",
        ),
        "special-mac" => (
            rng.pick(&[
                "00:00:00:00:00:00",
                "ff:ff:ff:ff:ff:ff",
                "01:00:5e:00:00:fb",
                "33:33:00:00:00:01",
            ])
            .to_string(),
            "MAC_ADDRESS",
        ),
        "docker-digest" => (
            format!("sha256:{}", rng.string_from(HEX, 64)),
            "IMAGE_DIGEST",
        ),
        "bad-luhn-sin" => {
            let valid = luhn_complete(&format!("{}{}", range(rng, 1, 7), digits(rng, 7)));
            let last = valid.as_bytes()[8] - b'0';
            let bad = format!("{}{}", &valid[..8], (last + 5) % 10);
            (format!("{} {} {}", &bad[..3], &bad[3..6], &bad[6..]), "SIN")
        }
        other => panic!("no negative {other}"),
    };
    Item::negative(kind, text, name)
}
