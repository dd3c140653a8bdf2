//! Value generators for every labeled type, written from each type's
//! published format (vendor documentation and announcements), never from
//! the packs' patterns, so that the evaluation stays independent of them;
//! and the hard negatives: near misses that a pack must not report.
//!
//! Invariant: every generated positive is format-valid for its type (right
//! prefix, length, alphabet, checksum where the format has one: Luhn for
//! cards, mod 97 for IBANs, CRC-32 for GitHub and npm tokens, CRC-24 for
//! PGP armor); every hard negative fails at least one of those rules or is
//! a documented placeholder.

use std::fmt::Write as _;

use crate::Rng;

pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub const DIGITS: &[u8] = b"0123456789";
pub const HEX: &[u8] = b"0123456789abcdef";
pub const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Secrets are compared with detect-secrets; PII is not (it looks for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Secret,
    Pii,
}

/// How a value spreads over lines, which decides how it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One line, no quotes or backslashes.
    Token,
    /// A PEM or armored block: its newlines are content; inside a quoted
    /// string they are written `\n`.
    Block,
    /// A pretty-printed JSON object: its newlines are whitespace and can
    /// be dropped to write it on one line.
    JsonObject,
}

/// One labeled type, named like the rule that should find it.
pub struct TypeSpec {
    pub name: &'static str,
    pub category: Category,
    pub shape: Shape,
    /// Variable or config key names this value is stored under, in
    /// `UPPER_SNAKE` (converted to each language's style when written).
    pub keys: &'static [&'static str],
    /// The value cannot be recognized without its key (bare base64, hex or
    /// a password): it is never written bare.
    pub needs_key: bool,
    /// Other rules whose finding on this value also protects it (a
    /// composite value whose part has a rule of its own).
    pub also: &'static [&'static str],
    /// Sentences that carry the value in chat, `{}` where it goes.
    pub prose: &'static [&'static str],
    pub generate: fn(&mut Rng) -> String,
}

const SECRET_PROSE: &[&str] = &[
    "Here is the key I'm using: {} — the request still fails with 401.",
    "I rotated it yesterday, the new one is {} if you need it.",
    "Can you check why `{}` gets rejected by the API?",
    "The CI secret was set to {} but the job cannot authenticate.",
    "found this in the old repo: {}",
];

/// Every type the corpus labels, secrets first.
pub static TYPES: &[TypeSpec] = &[
    TypeSpec {
        name: "anthropic-api-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "X_API_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: anthropic_api_key,
    },
    TypeSpec {
        name: "openai-api-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["OPENAI_API_KEY", "OPENAI_KEY", "LLM_API_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: openai_api_key,
    },
    TypeSpec {
        name: "aws-access-key-id",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["AWS_ACCESS_KEY_ID", "ACCESS_KEY_ID", "ACCESS_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: aws_access_key_id,
    },
    TypeSpec {
        name: "aws-secret-access-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &[
            "AWS_SECRET_ACCESS_KEY",
            "SECRET_ACCESS_KEY",
            "AWS_SECRET_KEY",
            // Terraform's and the SDKs' own names, and detect-secrets'
            // test shape (`aws` and any name).
            "AWS_SECRET",
            "AWS_KEY",
        ],
        needs_key: true,
        also: &[],
        prose: SECRET_PROSE,
        generate: aws_secret_access_key,
    },
    TypeSpec {
        name: "github-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT", "TOKEN"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: github_token,
    },
    TypeSpec {
        name: "github-fine-grained-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: github_fine_grained_token,
    },
    TypeSpec {
        name: "gitlab-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &[
            "GITLAB_TOKEN",
            "CI_JOB_TOKEN_OVERRIDE",
            "GL_TOKEN",
            "PRIVATE_TOKEN",
        ],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: gitlab_token,
    },
    TypeSpec {
        name: "slack-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["SLACK_BOT_TOKEN", "SLACK_TOKEN", "SLACK_APP_TOKEN"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: slack_token,
    },
    TypeSpec {
        name: "slack-webhook-url",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["SLACK_WEBHOOK_URL", "WEBHOOK_URL", "ALERT_WEBHOOK"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: slack_webhook_url,
    },
    TypeSpec {
        name: "stripe-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["STRIPE_SECRET_KEY", "STRIPE_API_KEY", "STRIPE_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: stripe_key,
    },
    TypeSpec {
        name: "google-api-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &[
            "GOOGLE_API_KEY",
            "GEMINI_API_KEY",
            "MAPS_API_KEY",
            "FIREBASE_API_KEY",
        ],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: google_api_key,
    },
    TypeSpec {
        name: "gcp-service-account",
        category: Category::Secret,
        shape: Shape::JsonObject,
        keys: &["GOOGLE_CREDENTIALS", "GCP_SA_KEY", "SERVICE_ACCOUNT_JSON"],
        needs_key: false,
        also: &["private-key"],
        prose: SECRET_PROSE,
        generate: gcp_service_account,
    },
    TypeSpec {
        name: "azure-storage-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &[
            "AZURE_STORAGE_KEY",
            "AZURE_STORAGE_ACCOUNT_KEY",
            "STORAGE_ACCOUNT_KEY",
        ],
        needs_key: true,
        also: &[],
        prose: SECRET_PROSE,
        generate: azure_storage_key,
    },
    TypeSpec {
        name: "azure-connection-string",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &[
            "AZURE_STORAGE_CONNECTION_STRING",
            "AZURE_SERVICEBUS_CONNECTION_STRING",
            "CONNECTION_STRING",
        ],
        needs_key: false,
        also: &["azure-storage-key"],
        prose: SECRET_PROSE,
        generate: azure_connection_string,
    },
    TypeSpec {
        name: "twilio-api-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["TWILIO_API_KEY", "TWILIO_API_KEY_SID", "TWILIO_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: twilio_api_key,
    },
    TypeSpec {
        name: "sendgrid-api-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["SENDGRID_API_KEY", "SMTP_PASSWORD", "MAIL_API_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: sendgrid_api_key,
    },
    TypeSpec {
        name: "npm-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["NPM_TOKEN", "NODE_AUTH_TOKEN", "NPM_AUTH_TOKEN"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: npm_token,
    },
    TypeSpec {
        name: "pypi-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["PYPI_TOKEN", "TWINE_PASSWORD", "PYPI_API_TOKEN"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: pypi_token,
    },
    TypeSpec {
        name: "huggingface-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: huggingface_token,
    },
    TypeSpec {
        name: "databricks-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["DATABRICKS_TOKEN", "DATABRICKS_PAT", "DBX_TOKEN"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: databricks_token,
    },
    TypeSpec {
        name: "shopify-token",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &[
            "SHOPIFY_ACCESS_TOKEN",
            "SHOPIFY_API_SECRET",
            "SHOPIFY_ADMIN_TOKEN",
        ],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: shopify_token,
    },
    TypeSpec {
        name: "mailgun-api-key",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["MAILGUN_API_KEY", "MAILGUN_KEY", "MG_API_KEY"],
        needs_key: true,
        also: &[],
        prose: SECRET_PROSE,
        generate: mailgun_api_key,
    },
    TypeSpec {
        name: "jwt",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["ID_TOKEN", "ACCESS_TOKEN", "SESSION_JWT", "AUTH_TOKEN"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: jwt,
    },
    TypeSpec {
        name: "private-key",
        category: Category::Secret,
        shape: Shape::Block,
        keys: &["PRIVATE_KEY", "SSH_PRIVATE_KEY", "TLS_KEY", "SIGNING_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: private_key,
    },
    TypeSpec {
        name: "pgp-private-key",
        category: Category::Secret,
        shape: Shape::Block,
        keys: &["GPG_PRIVATE_KEY", "PGP_SECRET_KEY", "SIGNING_KEY"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: pgp_private_key,
    },
    TypeSpec {
        name: "database-url",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &["DATABASE_URL", "DB_URL", "REDIS_URL", "MONGO_URI"],
        needs_key: false,
        also: &[],
        prose: SECRET_PROSE,
        generate: database_url,
    },
    TypeSpec {
        name: "generic-secret-assignment",
        category: Category::Secret,
        shape: Shape::Token,
        keys: &[
            "PASSWORD",
            "DB_PASSWORD",
            "SECRET",
            "API_KEY",
            "CLIENT_SECRET",
            "APP_SECRET",
            "SECRET_KEY",
            "AUTH_TOKEN",
            "ACCESS_TOKEN",
            "ADMIN_PASSWORD",
            // Keys named for what they do (Rails, Laravel, JWT libraries,
            // Vault), and a stage suffix.
            "ENCRYPTION_KEY",
            "SIGNING_KEY",
            "MASTER_KEY",
            "JWT_SECRET",
            "SECRET_KEY_BASE",
            "CREDENTIALS",
            "API_KEY_PROD",
        ],
        needs_key: true,
        also: &[],
        prose: SECRET_PROSE,
        generate: generic_secret,
    },
    TypeSpec {
        name: "email",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["EMAIL", "CONTACT_EMAIL", "USER_EMAIL", "REPLY_TO"],
        needs_key: false,
        also: &[],
        prose: &[
            "You can reach me at {} any time.",
            "Forwarding the thread from {} — see below.",
            "Please add {} to the on-call rotation.",
            "The invoice went to {} instead of billing.",
        ],
        generate: email,
    },
    TypeSpec {
        name: "payment-card",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["CARD_NUMBER", "PAN", "CC_NUMBER"],
        needs_key: false,
        also: &[],
        prose: &[
            "My card number is {} and it keeps getting declined.",
            "Charge it to {} please, expiry 09/28.",
            "Customer paid with {} — refund requested.",
        ],
        generate: payment_card,
    },
    TypeSpec {
        name: "us-ssn",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["SSN", "SOCIAL_SECURITY_NUMBER", "TAX_ID"],
        needs_key: false,
        also: &[],
        prose: &[
            "My SSN is {} if the form needs it.",
            "Applicant SSN: {}",
            "social security number {} was rejected by the IRS check",
        ],
        generate: us_ssn,
    },
    TypeSpec {
        name: "phone-number",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["PHONE", "MOBILE", "CONTACT_PHONE", "TEL"],
        needs_key: false,
        also: &[],
        prose: &[
            "Call me on {} after 5pm.",
            "Her mobile is {} — text first.",
            "Support line: {} (weekdays).",
            "reached the customer at {} this morning",
        ],
        generate: phone_number,
    },
    TypeSpec {
        name: "iban",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["IBAN", "BANK_ACCOUNT", "PAYOUT_IBAN"],
        needs_key: false,
        also: &[],
        prose: &[
            "Please wire the refund to {} by Friday.",
            "My IBAN is {} (account holder: same as invoice).",
            "Payout account updated to {}.",
        ],
        generate: iban,
    },
    TypeSpec {
        name: "us-itin",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["ITIN", "TAX_ID", "TAXPAYER_ID"],
        needs_key: false,
        also: &[],
        prose: &[
            "My ITIN is {} — I do not have an SSN yet.",
            "Taxpayer identification: {}",
            "the W-7 came back with ITIN {} last week",
        ],
        generate: us_itin,
    },
    TypeSpec {
        name: "uk-national-insurance-number",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["NI_NUMBER", "NINO", "NATIONAL_INSURANCE"],
        needs_key: false,
        also: &[],
        prose: &[
            "My National Insurance number is {} if payroll needs it.",
            "NI number: {}",
            "HMRC has {} on file for her",
        ],
        generate: uk_national_insurance_number,
    },
    TypeSpec {
        name: "canada-sin",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["SIN", "SOCIAL_INSURANCE_NUMBER", "employee_sin", "NAS"],
        needs_key: false,
        also: &[],
        prose: &[
            "My SIN is {} for the T4.",
            "Social insurance number: {}",
            "the employee's SIN {} failed validation at the bank",
            "Numéro d’assurance sociale : {}",
            "S.I.N. {} (verified)",
            "SIN no. {}, expires never",
            "SIN (social insurance number): {}",
        ],
        generate: canada_sin,
    },
    TypeSpec {
        name: "mac-address",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["MAC", "HW_ADDR", "DEVICE_MAC"],
        needs_key: false,
        also: &[],
        prose: &[
            "The laptop's MAC is {}, please add it to the allowlist.",
            "DHCP leased 10.0.0.23 to {} at 09:12.",
            "device {} keeps reconnecting to the guest network",
        ],
        generate: mac_address,
    },
    TypeSpec {
        name: "ipv4-address",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["CLIENT_IP", "REMOTE_ADDR", "SERVER_IP", "PUBLIC_IP"],
        needs_key: false,
        also: &[],
        prose: &[
            "The attacks came from {} according to the WAF.",
            "My home IP is {}, can you allowlist it?",
            "ssh into {} and restart the service",
        ],
        generate: ipv4_public,
    },
    TypeSpec {
        name: "ipv6-address",
        category: Category::Pii,
        shape: Shape::Token,
        keys: &["CLIENT_IP", "REMOTE_ADDR", "SERVER_IPV6"],
        needs_key: false,
        also: &[],
        prose: &[
            "The requests came from {} according to the WAF.",
            "Allowlist {} for the office, please.",
            "The AAAA record points at {} now.",
        ],
        generate: ipv6_public,
    },
];

/// The spec of the type named `name`.
pub fn type_spec(name: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().find(|spec| spec.name == name)
}

fn weighted<'a>(rng: &mut Rng, items: &[(u32, &'a str)]) -> &'a str {
    let total: u32 = items.iter().map(|(w, _)| w).sum();
    let mut at = rng.below(total as usize) as u32;
    for (weight, item) in items {
        if at < *weight {
            return item;
        }
        at -= weight;
    }
    items[items.len() - 1].1
}

fn digits(rng: &mut Rng, min: usize, max: usize) -> String {
    let len = min + rng.below(max - min + 1);
    let mut out = String::with_capacity(len);
    out.push(char::from(b'1' + rng.below(9) as u8));
    out.push_str(&rng.string_from(DIGITS, len - 1));
    out
}

fn bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    encode64(data, B64, true)
}

/// URL-safe base64 without padding (RFC 4648 §5), as JWTs and macaroons use.
pub fn base64url(data: &[u8]) -> String {
    encode64(data, B64URL, false)
}

fn encode64(data: &[u8], alphabet: &[u8], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        let emit = chunk.len() + 1;
        for i in 0..4 {
            if i < emit {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// CRC-32 (IEEE 802.3, as zlib), the checksum of GitHub and npm tokens.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// CRC-24 of OpenPGP ASCII armor (RFC 4880 §6.1).
pub fn crc24(data: &[u8]) -> u32 {
    let mut crc = 0x00B7_04CEu32;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

/// `value` in base 62 (0-9A-Za-z), left-padded with `0` to `width`.
pub fn base62(mut value: u32, width: usize) -> String {
    const DIGITS62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while value > 0 {
        out.push(DIGITS62[(value % 62) as usize]);
        value /= 62;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// GitHub's 2021 token format, shared by npm: prefix, 30 random base62
/// characters, and the CRC-32 of those in 6 base62 characters.
fn checksummed(rng: &mut Rng, prefix: &str) -> String {
    let random = rng.string_from(ALNUM, 30);
    let check = base62(crc32(random.as_bytes()), 6);
    format!("{prefix}{random}{check}")
}

// --- secrets -------------------------------------------------------------

/// `sk-ant-api03-` (or an admin key's `sk-ant-admin01-`), 93 base64url
/// characters and `AA`: 108 characters in all.
pub fn anthropic_api_key(rng: &mut Rng) -> String {
    let prefix = weighted(rng, &[(4, "sk-ant-api03-"), (1, "sk-ant-admin01-")]);
    format!("{prefix}{}AA", rng.string_from(B64URL, 93))
}

/// Legacy user keys `sk-` 20 + `T3BlbkFJ` (base64 of "OpenAI") + 20
/// alphanumerics; project, service-account and admin keys put 74 (or 58)
/// base64url characters either side of the marker.
pub fn openai_api_key(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!(
            "sk-{}T3BlbkFJ{}",
            rng.string_from(ALNUM, 20),
            rng.string_from(ALNUM, 20)
        ),
        1 => format!(
            "sk-proj-{}T3BlbkFJ{}",
            rng.string_from(B64URL, 58),
            rng.string_from(B64URL, 58)
        ),
        2 => format!(
            "sk-svcacct-{}T3BlbkFJ{}",
            rng.string_from(B64URL, 74),
            rng.string_from(B64URL, 74)
        ),
        3 => format!(
            "sk-admin-{}T3BlbkFJ{}",
            rng.string_from(B64URL, 58),
            rng.string_from(B64URL, 58)
        ),
        _ => format!(
            "sk-proj-{}T3BlbkFJ{}",
            rng.string_from(B64URL, 74),
            rng.string_from(B64URL, 74)
        ),
    }
}

/// `AKIA` (long-term) or `ASIA` (STS) and 16 base32 characters.
pub fn aws_access_key_id(rng: &mut Rng) -> String {
    let prefix = weighted(rng, &[(3, "AKIA"), (1, "ASIA")]);
    format!("{prefix}{}", rng.string_from(BASE32, 16))
}

/// 40 characters of standard base64 (30 random bytes).
pub fn aws_secret_access_key(rng: &mut Rng) -> String {
    base64(&bytes(rng, 30))
}

pub fn github_token(rng: &mut Rng) -> String {
    let prefix = weighted(
        rng,
        &[
            (4, "ghp_"),
            (1, "gho_"),
            (1, "ghu_"),
            (2, "ghs_"),
            (1, "ghr_"),
        ],
    );
    checksummed(rng, prefix)
}

/// `github_pat_`, 22 characters (an id, starting `11`), `_`, 59.
pub fn github_fine_grained_token(rng: &mut Rng) -> String {
    format!(
        "github_pat_11{}_{}",
        rng.string_from(UPPER_ALNUM, 20),
        rng.string_from(ALNUM, 59)
    )
}

/// `glpat-` and 20 characters of `[0-9A-Za-z_-]`.
pub fn gitlab_token(rng: &mut Rng) -> String {
    format!("glpat-{}", rng.string_from(B64URL, 20))
}

/// Bot `xoxb-`, user `xoxp-` and app-level `xapp-` tokens, as Slack's
/// token-types page shows them.
pub fn slack_token(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 | 1 => format!(
            "xoxb-{}-{}-{}",
            digits(rng, 10, 13),
            digits(rng, 10, 13),
            rng.string_from(ALNUM, 24)
        ),
        2 => format!(
            "xoxp-{}-{}-{}-{}",
            digits(rng, 10, 13),
            digits(rng, 10, 13),
            digits(rng, 10, 13),
            rng.string_from(HEX, 32)
        ),
        _ => format!(
            "xapp-1-A{}-{}-{}",
            rng.string_from(UPPER_ALNUM, 10),
            digits(rng, 13, 13),
            rng.string_from(HEX, 64)
        ),
    }
}

/// `https://hooks.slack.com/services/T…/B…/` and a 24-character secret.
pub fn slack_webhook_url(rng: &mut Rng) -> String {
    let team = 8 + rng.below(3);
    let bot = 8 + rng.below(3);
    format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        rng.string_from(UPPER_ALNUM, team),
        rng.string_from(UPPER_ALNUM, bot),
        rng.string_from(ALNUM, 24)
    )
}

/// Live secret `sk_live_` and restricted `rk_live_` keys: 24 characters
/// (older accounts) or 99 (current ones, starting with `51`).
pub fn stripe_key(rng: &mut Rng) -> String {
    let prefix = weighted(rng, &[(3, "sk_live_"), (1, "rk_live_")]);
    if rng.below(2) == 0 {
        format!("{prefix}{}", rng.string_from(ALNUM, 24))
    } else {
        format!("{prefix}51{}", rng.string_from(ALNUM, 97))
    }
}

/// `AIza` and 35 characters of `[0-9A-Za-z_-]` (nearly always `AIzaSy…`).
pub fn google_api_key(rng: &mut Rng) -> String {
    if rng.below(5) == 0 {
        format!("AIza{}", rng.string_from(B64URL, 35))
    } else {
        format!("AIzaSy{}", rng.string_from(B64URL, 33))
    }
}

/// A service-account key file as the Cloud console downloads it.
pub fn gcp_service_account(rng: &mut Rng) -> String {
    let project = format!(
        "{}-{}-{}",
        rng.pick(&["acme", "data", "billing", "ml", "prod", "analytics"]),
        rng.pick(&["platform", "pipeline", "core", "infra", "web"]),
        digits(rng, 6, 6)
    );
    let account = rng.pick(&["deployer", "ci-runner", "etl", "terraform", "backend"]);
    let key = pem_body(rng, Pem::Pkcs8).replace('\n', "\\n");
    format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"{project}\",\n  \
         \"private_key_id\": \"{}\",\n  \"private_key\": \"{key}\",\n  \
         \"client_email\": \"{account}@{project}.iam.gserviceaccount.com\",\n  \
         \"client_id\": \"{}\",\n  \"auth_uri\": \"https://accounts.google.com/o/oauth2/auth\",\n  \
         \"token_uri\": \"https://oauth2.googleapis.com/token\",\n  \
         \"auth_provider_x509_cert_url\": \"https://www.googleapis.com/oauth2/v1/certs\",\n  \
         \"universe_domain\": \"googleapis.com\"\n}}",
        rng.string_from(HEX, 40),
        digits(rng, 21, 21),
    )
}

/// A storage account key: 64 random bytes in base64, 88 characters.
pub fn azure_storage_key(rng: &mut Rng) -> String {
    base64(&bytes(rng, 64))
}

/// A storage account connection string (with its account key) or a
/// Service Bus / Event Hubs one (with a 32-byte shared access key).
pub fn azure_connection_string(rng: &mut Rng) -> String {
    let name = format!(
        "{}{}",
        rng.pick(&["acme", "prod", "logs", "media", "backup", "stg"]),
        {
            let len = 6 + rng.below(8);
            rng.string_from(b"abcdefghijklmnopqrstuvwxyz0123456789", len)
        }
    );
    match rng.below(3) {
        0 => format!(
            "Endpoint=sb://{name}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={}",
            base64(&bytes(rng, 32))
        ),
        _ => format!(
            "DefaultEndpointsProtocol=https;AccountName={name};AccountKey={};EndpointSuffix=core.windows.net",
            base64(&bytes(rng, 64))
        ),
    }
}

/// API key SIDs: `SK` and 32 lowercase hex digits.
pub fn twilio_api_key(rng: &mut Rng) -> String {
    format!("SK{}", rng.string_from(HEX, 32))
}

/// `SG.`, a 22-character key id, `.`, a 43-character secret (base64url).
pub fn sendgrid_api_key(rng: &mut Rng) -> String {
    format!(
        "SG.{}.{}",
        rng.string_from(B64URL, 22),
        rng.string_from(B64URL, 43)
    )
}

/// Granular and automation tokens: `npm_`, 30 base62, a 6-character CRC.
pub fn npm_token(rng: &mut Rng) -> String {
    checksummed(rng, "npm_")
}

/// `pypi-` and a macaroon in its v2 binary serialization, base64url:
/// location `pypi.org`, an identifier, a caveat, the 32-byte signature.
/// The fixed start makes every token begin `pypi-AgEIcHlwaS5vcmc`.
pub fn pypi_token(rng: &mut Rng) -> String {
    let mut raw = vec![0x02, 0x01, 0x08];
    raw.extend_from_slice(b"pypi.org");
    let identifier = uuid(rng);
    raw.extend_from_slice(&[0x02, identifier.len() as u8]);
    raw.extend_from_slice(identifier.as_bytes());
    raw.push(0x00);
    let caveat = if rng.below(2) == 0 {
        "{\"permissions\": \"user\", \"version\": 1}".to_string()
    } else {
        format!(
            "{{\"permissions\": {{\"projects\": [\"{}\"]}}, \"version\": 1}}",
            rng.pick(&["requests-extra", "acme-sdk", "fastlib", "toolbelt"])
        )
    };
    raw.extend_from_slice(&[0x02, caveat.len() as u8]);
    raw.extend_from_slice(caveat.as_bytes());
    raw.extend_from_slice(&[0x00, 0x00, 0x06, 0x20]);
    raw.extend(bytes(rng, 32));
    format!("pypi-{}", base64url(&raw))
}

/// User access tokens: `hf_` and 34 letters.
pub fn huggingface_token(rng: &mut Rng) -> String {
    format!("hf_{}", rng.string_from(ALPHA, 34))
}

/// `dapi` and 32 hex digits; Azure workspaces may append `-2`, `-3`.
pub fn databricks_token(rng: &mut Rng) -> String {
    let suffix = weighted(rng, &[(3, ""), (1, "-2"), (1, "-3")]);
    format!("dapi{}{suffix}", rng.string_from(HEX, 32))
}

/// Admin API `shpat_`, custom app `shpca_`, private app `shppa_` tokens
/// and shared secrets `shpss_`, each with 32 hex digits.
pub fn shopify_token(rng: &mut Rng) -> String {
    let prefix = rng.pick(&["shpat_", "shpca_", "shppa_", "shpss_"]);
    format!("{prefix}{}", rng.string_from(HEX, 32))
}

/// The older `key-` and 32 hex digits, or the current 32 hex, `-`, 8 hex,
/// `-`, 8 hex.
pub fn mailgun_api_key(rng: &mut Rng) -> String {
    if rng.below(5) < 2 {
        format!("key-{}", rng.string_from(HEX, 32))
    } else {
        format!(
            "{}-{}-{}",
            rng.string_from(HEX, 32),
            rng.string_from(HEX, 8),
            rng.string_from(HEX, 8)
        )
    }
}

/// A signed JWT (RFC 7519): base64url header, claims and signature.
pub fn jwt(rng: &mut Rng) -> String {
    let (header, signature_len) = match rng.below(3) {
        0 => ("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".to_string(), 32),
        1 => (
            format!(
                "{{\"alg\":\"RS256\",\"kid\":\"{}\",\"typ\":\"JWT\"}}",
                rng.string_from(HEX, 40)
            ),
            256,
        ),
        _ => ("{\"alg\":\"ES256\",\"typ\":\"JWT\"}".to_string(), 64),
    };
    let iat = 1_700_000_000 + rng.below(60_000_000);
    let claims = format!(
        "{{\"sub\":\"{}\",\"name\":\"{} {}\",\"iss\":\"https://{}\",\"iat\":{iat},\"exp\":{}}}",
        uuid(rng),
        rng.pick(FIRST_NAMES),
        rng.pick(LAST_NAMES),
        rng.pick(&["auth.acme.io", "login.example-corp.net", "id.shopwise.app"]),
        iat + 3600
    );
    format!(
        "{}.{}.{}",
        base64url(header.as_bytes()),
        base64url(claims.as_bytes()),
        base64url(&bytes(rng, signature_len))
    )
}

#[derive(Clone, Copy)]
enum Pem {
    Rsa,
    Ec,
    OpenSsh,
    Pkcs8,
    EncryptedPkcs8,
}

/// A PEM block: its DER starts as a real key of that kind does (so the
/// base64 starts `MIIE…`, `MHcC…`, `b3BlbnNzaC1rZXktdjE…`), then random.
fn pem_body(rng: &mut Rng, kind: Pem) -> String {
    let (label, prefix, len, width): (&str, &[u8], usize, usize) = match kind {
        Pem::Rsa => (
            "RSA PRIVATE KEY",
            &[
                0x30, 0x82, 0x04, 0xa4, 0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00,
            ],
            1190,
            64,
        ),
        Pem::Ec => (
            "EC PRIVATE KEY",
            &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20],
            121,
            64,
        ),
        Pem::OpenSsh => ("OPENSSH PRIVATE KEY", b"openssh-key-v1\0", 400, 70),
        Pem::Pkcs8 => (
            "PRIVATE KEY",
            &[
                0x30, 0x82, 0x04, 0xbd, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48,
                0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00, 0x04, 0x82, 0x04, 0xa7,
            ],
            1217,
            64,
        ),
        Pem::EncryptedPkcs8 => (
            "ENCRYPTED PRIVATE KEY",
            &[0x30, 0x82, 0x05, 0x2f, 0x30, 0x59, 0x06, 0x09, 0x2a, 0x86],
            1331,
            64,
        ),
    };
    let mut der = prefix.to_vec();
    der.extend(bytes(rng, len - prefix.len()));
    let body = base64(&der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    let _ = write!(out, "-----END {label}-----");
    out
}

/// PEM private keys: PKCS#1 RSA, SEC1 EC, OpenSSH, PKCS#8 (plain and
/// encrypted).
pub fn private_key(rng: &mut Rng) -> String {
    let kind = match rng.below(6) {
        0 | 1 => Pem::Rsa,
        2 => Pem::Ec,
        3 => Pem::OpenSsh,
        4 => Pem::Pkcs8,
        _ => Pem::EncryptedPkcs8,
    };
    pem_body(rng, kind)
}

/// An armored OpenPGP secret key (RFC 4880): headers, a blank line, the
/// base64 of a secret-key packet (tag 5), and the `=` CRC-24 line.
pub fn pgp_private_key(rng: &mut Rng) -> String {
    let mut packet = vec![0x95, 0x03, 0xc6, 0x04];
    let len = 900 + rng.below(200);
    packet.extend(bytes(rng, len));
    let body = base64(&packet);
    let crc = crc24(&packet);
    let mut out = String::from("-----BEGIN PGP PRIVATE KEY BLOCK-----\n");
    if rng.below(2) == 0 {
        out.push_str("Comment: exported with gpg --export-secret-keys --armor\n");
    }
    out.push('\n');
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    let crc_bytes = [(crc >> 16) as u8, (crc >> 8) as u8, crc as u8];
    let _ = write!(
        out,
        "={}\n-----END PGP PRIVATE KEY BLOCK-----",
        base64(&crc_bytes)
    );
    out
}

fn password(rng: &mut Rng) -> String {
    const PASSWORD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*-_~.";
    loop {
        let candidate = {
            let len = 14 + rng.below(14);
            rng.string_from(PASSWORD, len)
        };
        let classes = [UPPER, LOWER, DIGITS]
            .iter()
            .filter(|class| candidate.bytes().any(|b| class.contains(&b)))
            .count();
        if classes == 3 {
            return candidate;
        }
    }
}

/// A connection URL with credentials (RFC 3986 userinfo).
pub fn database_url(rng: &mut Rng) -> String {
    let host = format!(
        "{}.{}",
        rng.pick(&["db", "pg-primary", "mysql-01", "cluster0", "cache", "mq"]),
        rng.pick(&[
            "internal.acme.io",
            "c9akciq32.us-east-1.rds.amazonaws.com",
            "prod.svc.cluster.local",
            "mongodb.net",
            "eu-west-2.compute.amazonaws.com",
        ])
    );
    let user = rng.pick(&["app", "admin", "postgres", "svc_orders", "root", "etl"]);
    let db = rng.pick(&["orders", "app_production", "analytics", "users", "main"]);
    let pw = password(rng);
    match rng.below(7) {
        0 | 1 => format!("postgres://{user}:{pw}@{host}:5432/{db}"),
        2 => format!("postgresql://{user}:{pw}@{host}/{db}?sslmode=require"),
        3 => format!("mysql://{user}:{pw}@{host}:3306/{db}"),
        4 => format!("mongodb+srv://{user}:{pw}@{host}/{db}?retryWrites=true&w=majority"),
        5 => format!("redis://:{pw}@{host}:6379/0"),
        _ => format!("amqp://{user}:{pw}@{host}:5672/%2F"),
    }
}

/// A random high-entropy value of the kind assigned to `password=`,
/// `secret=`, `api_key=`.
pub fn generic_secret(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => {
            let len = 32 + 32 * rng.below(2);
            rng.string_from(HEX, len)
        }
        1 => {
            let len = 24 + rng.below(17);
            rng.string_from(ALNUM, len)
        }
        2 => {
            let len = 24 + 3 * rng.below(6);
            base64(&bytes(rng, len))
        }
        _ => password(rng),
    }
}

// --- PII -----------------------------------------------------------------

pub const FIRST_NAMES: &[&str] = &[
    "james", "maria", "wei", "olga", "ahmed", "sofia", "liam", "chloe", "raj", "yuki", "lucas",
    "amara", "noah", "ines", "mateo", "hannah", "omar", "freya", "diego", "priya",
];
pub const LAST_NAMES: &[&str] = &[
    "smith", "garcia", "chen", "ivanova", "haddad", "rossi", "murphy", "dubois", "patel", "tanaka",
    "silva", "okafor", "weber", "nguyen", "kowalski", "larsen", "moreau", "khan",
];

pub fn email(rng: &mut Rng) -> String {
    let first = rng.pick(FIRST_NAMES);
    let last = rng.pick(LAST_NAMES);
    let local = match rng.below(5) {
        0 => format!("{first}.{last}"),
        1 => format!("{first}{last}{}", rng.below(100)),
        2 => format!("{}{last}", &first[..1]),
        3 => format!("{first}_{last}"),
        _ => format!("{first}+{}", rng.pick(&["billing", "news", "github"])),
    };
    let domain = rng.pick(&[
        "gmail.com",
        "outlook.com",
        "yahoo.co.uk",
        "proton.me",
        "acme-corp.io",
        "fastmail.fm",
        "web.de",
        "orange.fr",
        "stanford.edu",
        "bigbank.com",
        "mail.shopwise.app",
    ]);
    format!("{local}@{domain}")
}

/// The Luhn check digit that completes `partial`.
pub fn luhn_check_digit(partial: &str) -> u8 {
    let mut sum = 0u32;
    for (i, c) in partial.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10) as u8
}

/// True when the digits of `text` (separators ignored) pass Luhn.
pub fn luhn_valid(text: &str) -> bool {
    let digits: Vec<u32> = text
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| u32::from(b - b'0'))
        .collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let d = d * 2;
                if d > 9 {
                    d - 9
                } else {
                    d
                }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A Luhn-valid card number in a real IIN range (Visa 4, Mastercard
/// 51–55 and 2221–2720, Amex 34/37, Discover 6011/644–649/65, JCB
/// 3528–3589, Diners 36), compact or grouped by spaces or dashes.
pub fn payment_card(rng: &mut Rng) -> String {
    let (iin, len) = match rng.below(10) {
        0..=3 => ("4".to_string(), 16),
        4 => ((51 + rng.below(5)).to_string(), 16),
        5 => ((2221 + rng.below(500)).to_string(), 16),
        6 => (rng.pick(&["34", "37"]).to_string(), 15),
        7 => (
            rng.pick(&["6011", "644", "645", "646", "647", "648", "649", "65"])
                .to_string(),
            16,
        ),
        8 => ((3528 + rng.below(62)).to_string(), 16),
        _ => ("36".to_string(), 14),
    };
    let mut number = iin;
    while number.len() < len - 1 {
        number.push(char::from(b'0' + rng.below(10) as u8));
    }
    let check = luhn_check_digit(&number);
    number.push(char::from(b'0' + check));
    let separator = weighted(rng, &[(2, ""), (3, " "), (1, "-")]);
    if separator.is_empty() {
        return number;
    }
    let groups: &[usize] = match len {
        15 => &[4, 6, 5],
        14 => &[4, 6, 4],
        _ => &[4, 4, 4, 4],
    };
    let mut out = String::new();
    let mut at = 0;
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(&number[at..at + g]);
        at += g;
    }
    out
}

/// A US SSN in the issued ranges: area 001–899 except 666, group 01–99,
/// serial 0001–9999; mostly written `AAA-GG-SSSS`.
pub fn us_ssn(rng: &mut Rng) -> String {
    let area = loop {
        let a = 1 + rng.below(899);
        if a != 666 {
            break a;
        }
    };
    let group = 1 + rng.below(99);
    let serial = 1 + rng.below(9999);
    match rng.below(10) {
        0 => format!("{area:03} {group:02} {serial:04}"),
        _ => format!("{area:03}-{group:02}-{serial:04}"),
    }
}

/// E.164 and national forms for the US, UK, Germany and France.
pub fn phone_number(rng: &mut Rng) -> String {
    let d = |rng: &mut Rng, n: usize| rng.string_from(DIGITS, n);
    // NANP: area and exchange codes start 2–9 and are not N11.
    let nanp = |rng: &mut Rng| {
        let area = format!("{}{}{}", 2 + rng.below(8), rng.below(10), 1 + rng.below(9));
        let exchange = format!("{}{}{}", 2 + rng.below(8), 1 + rng.below(9), rng.below(10));
        (area, exchange)
    };
    match rng.below(12) {
        0 => {
            let (a, e) = nanp(rng);
            format!("+1{a}{e}{}", d(rng, 4))
        }
        1 => {
            let (a, e) = nanp(rng);
            format!("+1 {a} {e} {}", d(rng, 4))
        }
        2 => {
            let (a, e) = nanp(rng);
            format!("({a}) {e}-{}", d(rng, 4))
        }
        3 => {
            let (a, e) = nanp(rng);
            format!("{a}-{e}-{}", d(rng, 4))
        }
        4 => format!("+44 7{} {}", d(rng, 3), d(rng, 6)),
        5 => format!("07{} {}", d(rng, 3), d(rng, 6)),
        6 => format!("+44 20 {}{} {}", 3 + rng.below(6), d(rng, 3), d(rng, 4)),
        7 => format!("+49 {} {}", rng.pick(&["30", "89", "40", "69"]), d(rng, 8)),
        8 => format!(
            "+49 1{} {}",
            rng.pick(&["51", "52", "60", "70", "76"]),
            d(rng, 8)
        ),
        9 => format!("0{} {}", rng.pick(&["30", "89", "40", "69"]), d(rng, 8)),
        10 => format!(
            "+33 {} {} {} {} {}",
            1 + rng.below(7),
            d(rng, 2),
            d(rng, 2),
            d(rng, 2),
            d(rng, 2)
        ),
        _ => format!(
            "0{} {} {} {} {}",
            rng.pick(&["1", "6", "7"]),
            d(rng, 2),
            d(rng, 2),
            d(rng, 2),
            d(rng, 2)
        ),
    }
}

/// An ITIN (IRS): `9XX-YY-ZZZZ` with the middle digits in 50–65, 70–88,
/// 90–92 or 94–99.
pub fn us_itin(rng: &mut Rng) -> String {
    const GROUPS: &[(usize, usize)] = &[(50, 65), (70, 88), (90, 92), (94, 99)];
    let (low, high) = GROUPS[rng.below(GROUPS.len())];
    let group = low + rng.below(high - low + 1);
    let area = rng.below(100);
    let serial = rng.below(10_000);
    match rng.below(8) {
        0 => format!("9{area:02}{group:02}{serial:04}"),
        _ => format!("9{area:02}-{group:02}-{serial:04}"),
    }
}

/// A National Insurance number (HMRC): two prefix letters (first not D,
/// F, I, Q, U, V; second not those nor O; not BG, GB, KN, NK, NT, TN, ZZ),
/// six digits, a suffix A–D; compact or spaced in pairs.
pub fn uk_national_insurance_number(rng: &mut Rng) -> String {
    const FIRST: &[u8] = b"ABCEGHJKLMNOPRSTWXYZ";
    const SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    let prefix = loop {
        let p = format!(
            "{}{}",
            char::from(FIRST[rng.below(FIRST.len())]),
            char::from(SECOND[rng.below(SECOND.len())])
        );
        if !["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&p.as_str()) {
            break p;
        }
    };
    let d = rng.string_from(DIGITS, 6);
    let suffix = char::from(b"ABCD"[rng.below(4)]);
    if rng.below(2) == 0 {
        format!("{prefix}{d}{suffix}")
    } else {
        format!("{prefix} {} {} {} {suffix}", &d[..2], &d[2..4], &d[4..])
    }
}

/// A Canadian SIN: nine digits passing Luhn, first digit 1–7 or 9;
/// grouped 3-3-3 by dashes or spaces, or compact.
pub fn canada_sin(rng: &mut Rng) -> String {
    let first = *b"12345679".get(rng.below(8)).expect("in range");
    let mut number = String::from(char::from(first));
    number.push_str(&rng.string_from(DIGITS, 7));
    let check = luhn_check_digit(&number);
    number.push(char::from(b'0' + check));
    match rng.below(4) {
        0 => number,
        1 => format!("{} {} {}", &number[..3], &number[3..6], &number[6..]),
        _ => format!("{}-{}-{}", &number[..3], &number[3..6], &number[6..]),
    }
}

/// A unicast MAC (EUI-48): six octets by colons or dashes, or Cisco's
/// dotted triples.
pub fn mac_address(rng: &mut Rng) -> String {
    let mut octets = [0u8; 6];
    for o in &mut octets {
        *o = rng.next_u64() as u8;
    }
    octets[0] &= 0xfe;
    let hex: Vec<String> = octets.iter().map(|o| format!("{o:02x}")).collect();
    match rng.below(5) {
        0 => hex.join("-").to_ascii_uppercase(),
        1 => format!(
            "{}{}.{}{}.{}{}",
            hex[0], hex[1], hex[2], hex[3], hex[4], hex[5]
        ),
        2 => hex.join(":").to_ascii_uppercase(),
        _ => hex.join(":"),
    }
}

/// IBAN countries: code, total length, and the BBAN as character classes
/// (`n` digit, `a` upper letter, `c` upper alphanumeric).
pub const IBAN_COUNTRIES: &[(&str, usize, &str)] = &[
    ("DE", 22, "nnnnnnnnnnnnnnnnnn"),
    ("GB", 22, "aaaannnnnnnnnnnnnn"),
    ("FR", 27, "nnnnnnnnnncccccccccccnn"),
    ("ES", 24, "nnnnnnnnnnnnnnnnnnnn"),
    ("IT", 27, "annnnnnnnnncccccccccccc"),
    ("NL", 18, "aaaannnnnnnnnn"),
    ("BE", 16, "nnnnnnnnnnnn"),
    ("CH", 21, "nnnnncccccccccccc"),
    ("AT", 20, "nnnnnnnnnnnnnnnn"),
    ("PL", 28, "nnnnnnnnnnnnnnnnnnnnnnnn"),
    ("SE", 24, "nnnnnnnnnnnnnnnnnnnn"),
    ("IE", 22, "aaaannnnnnnnnnnnnn"),
];

/// ISO 13616 mod-97 remainder of `country + check + bban`, rearranged.
pub fn iban_remainder(iban: &str) -> u32 {
    let compact: Vec<u8> = iban.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let (head, tail) = compact.split_at(4.min(compact.len()));
    let mut rem = 0u32;
    for &b in tail.iter().chain(head) {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b.to_ascii_uppercase() - b'A') + 10
        };
        rem = if value >= 10 {
            (rem * 100 + value) % 97
        } else {
            (rem * 10 + value) % 97
        };
    }
    rem
}

fn iban_with_check(rng: &mut Rng, valid: bool) -> String {
    let (country, _, pattern) = IBAN_COUNTRIES[rng.below(IBAN_COUNTRIES.len())];
    let bban: String = pattern
        .bytes()
        .map(|class| {
            let alphabet = match class {
                b'n' => DIGITS,
                b'a' => UPPER,
                _ => UPPER_ALNUM,
            };
            char::from(alphabet[rng.below(alphabet.len())])
        })
        .collect();
    let rem = iban_remainder(&format!("{country}00{bban}"));
    let mut check = 98 - rem;
    if !valid {
        check = (check + 1 + rng.below(96) as u32) % 97 + 1;
        if check == 98 - rem {
            check = check % 97 + 1;
        }
    }
    let compact = format!("{country}{check:02}{bban}");
    if rng.below(2) == 0 {
        compact
    } else {
        compact
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).expect("ASCII"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub fn iban(rng: &mut Rng) -> String {
    iban_with_check(rng, true)
}

/// True for IPv4 addresses that are not public: RFC 1918, loopback,
/// link-local, CGNAT, documentation, benchmarking, multicast, reserved.
pub fn ipv4_is_special(a: [u8; 4]) -> bool {
    matches!(
        a,
        [0, ..]
            | [10, ..]
            | [127, ..]
            | [169, 254, ..]
            | [192, 168, ..]
            | [192, 0, 0 | 2, _]
            | [198, 51, 100, _]
            | [203, 0, 113, _]
            | [198, 18 | 19, ..]
            | [224..=255, ..]
    ) || (a[0] == 172 && (16..=31).contains(&a[1]))
        || (a[0] == 100 && (64..=127).contains(&a[1]))
}

pub fn ipv4_public(rng: &mut Rng) -> String {
    loop {
        let a = (rng.next_u64() as u32).to_be_bytes();
        // A last octet of 0 or 255 reads as a network or broadcast address.
        if !ipv4_is_special(a) && a[3] != 0 && a[3] != 255 {
            return format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
    }
}

/// Writes eight 16-bit groups the RFC 5952 way: lowercase, no leading
/// zeros, the longest run of two or more zero groups as `::`.
pub fn ipv6_text(groups: [u16; 8]) -> String {
    let (mut best, mut best_len, mut run, mut run_len) = (0, 0, 0, 0);
    for (i, &g) in groups.iter().enumerate() {
        if g == 0 {
            if run_len == 0 {
                run = i;
            }
            run_len += 1;
            if run_len > best_len {
                best = run;
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    let hex = |gs: &[u16]| {
        gs.iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best_len >= 2 {
        format!(
            "{}::{}",
            hex(&groups[..best]),
            hex(&groups[best + best_len..])
        )
    } else {
        hex(&groups)
    }
}

/// A global unicast address (2000::/3), not documentation (2001:db8::/32).
pub fn ipv6_public(rng: &mut Rng) -> String {
    loop {
        let mut groups = [0u16; 8];
        for g in &mut groups {
            *g = rng.next_u64() as u16;
        }
        groups[0] = 0x2000 | (groups[0] & 0x1fff);
        if groups[0] == 0x2001 && groups[1] == 0x0db8 {
            continue;
        }
        // Real addresses often have zero runs (a /64 and a short host part).
        match rng.below(3) {
            0 => {
                groups[4] = 0;
                groups[5] = 0;
                groups[6] = 0;
            }
            1 => groups[3] = 0,
            _ => {}
        }
        return ipv6_text(groups);
    }
}

pub fn uuid(rng: &mut Rng) -> String {
    let h = rng.string_from(HEX, 32);
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        rng.pick(&["8", "9", "a", "b"]),
        &h[17..20],
        &h[20..]
    )
}

// --- hard negatives ------------------------------------------------------

/// A near miss: a value and the key it is written under.
pub struct Negative {
    pub key: &'static str,
    pub value: String,
    /// What it imitates and why it is not one (for the examples file).
    pub kind: &'static str,
}

fn neg(key: &'static str, kind: &'static str, value: String) -> Negative {
    Negative { key, value, kind }
}

/// One hard negative, chosen at random.
pub fn negative(rng: &mut Rng) -> Negative {
    match rng.below(53) {
        0 => neg("REQUEST_ID", "uuid", uuid(rng)),
        1 => neg("TRACE_ID", "uuid", uuid(rng).replace('-', "")),
        2 => neg("GIT_SHA", "git sha-1", rng.string_from(HEX, 40)),
        3 => neg("COMMIT", "git sha-256", rng.string_from(HEX, 64)),
        4 => neg(
            "IMAGE_DIGEST",
            "sha256 digest",
            format!("sha256:{}", rng.string_from(HEX, 64)),
        ),
        5 => neg("THUMBNAIL", "base64 blob", {
            let mut data = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
            let len = 60 + rng.below(120);
            data.extend(bytes(rng, len));
            base64(&data)
        }),
        6 => neg(
            "AWS_ACCESS_KEY_ID",
            "documented placeholder",
            "AKIAIOSFODNN7EXAMPLE".into(),
        ),
        7 => neg(
            "AWS_SECRET_ACCESS_KEY",
            "documented placeholder",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        ),
        8 => neg(
            "ANTHROPIC_API_KEY",
            "placeholder",
            rng.pick(&[
                "sk-ant-xxxx",
                "sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxx",
                "sk-ant-...",
                "<your-anthropic-key>",
            ])
            .into(),
        ),
        9 => neg(
            "OPENAI_API_KEY",
            "placeholder",
            rng.pick(&[
                "your-api-key-here",
                "sk-...",
                "sk-proj-xxxxxxxxxxxxxxxxxxxx",
                "<REDACTED>",
            ])
            .into(),
        ),
        10 => neg(
            "API_KEY",
            "placeholder",
            rng.pick(&[
                "your-api-key-here",
                "<REDACTED>",
                "changeme-in-prod",
                "********",
                "${API_KEY}",
                "{{ secrets.API_KEY }}",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "REPLACE_ME",
            ])
            .into(),
        ),
        11 => neg(
            "GITHUB_TOKEN",
            "placeholder",
            rng.pick(&[
                "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
                "${{ secrets.GITHUB_TOKEN }}",
                "ghp_...",
            ])
            .into(),
        ),
        12 => neg(
            "GITHUB_TOKEN",
            "wrong length",
            format!("ghp_{}", {
                let len = 16 + rng.below(12);
                rng.string_from(ALNUM, len)
            }),
        ),
        13 => neg(
            "GITLAB_TOKEN",
            "wrong length",
            format!("glpat-{}", {
                let len = 8 + rng.below(8);
                rng.string_from(ALNUM, len)
            }),
        ),
        14 => neg(
            "AWS_ACCESS_KEY_ID",
            "wrong length",
            format!("AKIA{}", {
                let len = 8 + rng.below(6);
                rng.string_from(BASE32, len)
            }),
        ),
        15 => neg(
            "HF_TOKEN",
            "wrong length",
            format!("hf_{}", {
                let len = 8 + rng.below(12);
                rng.string_from(ALPHA, len)
            }),
        ),
        16 => neg(
            "STRIPE_PUBLISHABLE_KEY",
            "publishable key (public by design)",
            format!("pk_live_{}", rng.string_from(ALNUM, 24)),
        ),
        17 => neg("CARD_NUMBER", "Luhn-invalid card", luhn_invalid_card(rng)),
        18 => neg("ORDER_ID", "order number", {
            let mut n = digits(rng, 12, 16);
            if luhn_valid(&n) {
                let last = n.pop().expect("non-empty");
                n.push(if last == '9' {
                    '0'
                } else {
                    char::from(last as u8 + 1)
                });
            }
            n
        }),
        19 => neg(
            "TRACKING_NUMBER",
            "UPS tracking number",
            format!(
                "1Z{}{}",
                rng.string_from(UPPER_ALNUM, 6),
                digits(rng, 10, 10)
            ),
        ),
        20 => neg(
            "VERSION",
            "four-part version",
            format!(
                "{}.{}.{}.{}",
                1 + rng.below(12),
                rng.below(40),
                rng.below(300),
                rng.below(10)
            ),
        ),
        21 => neg(
            "CREATED_AT",
            "timestamp",
            format!(
                "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.below(1000)
            ),
        ),
        22 => neg(
            "TIMESTAMP_MS",
            "epoch milliseconds",
            format!("17{}", rng.string_from(DIGITS, 11)),
        ),
        23 => neg("DB_HOST", "private or loopback IPv4", private_ipv4(rng)),
        24 => neg("BIND_ADDR", "private or link-local IPv6", private_ipv6(rng)),
        25 => neg("SSN", "SSN in an unissued range", invalid_ssn(rng)),
        26 => neg(
            "IBAN",
            "IBAN with a wrong check",
            iban_with_check(rng, false),
        ),
        27 => neg(
            "DECORATOR",
            "decorator, not an email",
            rng.pick(&[
                "@app.route",
                "@pytest.fixture",
                "@dataclass",
                "@Override",
                "@staticmethod",
            ])
            .into(),
        ),
        28 => neg(
            "EMAIL",
            "address with no public domain",
            format!(
                "{}@{}",
                rng.pick(&["root", "user", "postgres", "admin", "deploy"]),
                rng.pick(&["localhost", "127.0.0.1", "db", "localhost.localdomain"])
            ),
        ),
        29 => neg(
            "REMOTE",
            "git ssh remote",
            format!(
                "git@github.com:{}/{}.git",
                rng.pick(&["acme", "torvalds", "rust-lang", "octo-org"]),
                rng.pick(&["api", "linux", "regex", "infra"])
            ),
        ),
        30 => neg(
            "PACKAGE",
            "scoped package with version",
            format!(
                "@{}/{}@{}.{}.{}",
                rng.pick(&["types", "angular", "babel", "aws-sdk"]),
                rng.pick(&["node", "core", "parser", "client-s3"]),
                rng.below(20),
                rng.below(30),
                rng.below(10)
            ),
        ),
        31 => neg(
            "AWS_ROLE_ARN",
            "ARN with account id",
            format!(
                "arn:aws:iam::{}:role/{}",
                rng.string_from(DIGITS, 12),
                rng.pick(&["deploy", "ci", "lambda-exec"])
            ),
        ),
        32 => neg(
            "PUBLIC_KEY",
            "public key",
            format!(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} {}@laptop",
                rng.string_from(B64, 43),
                rng.pick(FIRST_NAMES)
            ),
        ),
        33 => neg("TLS_CERT", "certificate block", {
            let mut der = vec![0x30, 0x82, 0x03, 0x1d, 0x30, 0x82, 0x02, 0x05, 0xa0];
            der.extend(bytes(rng, 600));
            let body = base64(&der);
            let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
            for line in body.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(line).expect("ASCII"));
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----");
            out
        }),
        34 => neg(
            "DATABASE_URL",
            "URL with no or templated password",
            rng.pick(&[
                "postgres://localhost:5432/app_dev",
                "postgres://app@db:5432/app",
                "postgres://user:${DB_PASSWORD}@db:5432/app",
                "postgresql://app:{{ .Values.db.password }}@db/app",
                "redis://localhost:6379/0",
                "mongodb://user:<password>@cluster0.mongodb.net/app",
            ])
            .into(),
        ),
        35 => neg(
            "PASSWORD",
            "password reference, not a value",
            rng.pick(&[
                "os.environ[\"DB_PASSWORD\"]",
                "settings.SECRET_KEY",
                "None",
                "\"\"",
                "get_secret(\"db-password\")",
                "process.env.API_KEY",
                "true",
                "${{ secrets.DB_PASSWORD }}",
            ])
            .into(),
        ),
        36 => neg("MESSAGE_ID", "base64 id", base64url(&bytes(rng, 12))),
        37 => neg(
            "SLACK_BOT_TOKEN",
            "truncated token",
            format!("xoxb-{}-...", digits(rng, 10, 12)),
        ),
        38 => neg(
            "PHONE",
            "number that is no phone (build or invoice number)",
            format!(
                "{}-{}",
                rng.pick(&["INV", "BLD", "PR", "JIRA"]),
                digits(rng, 6, 10)
            ),
        ),
        39 => neg(
            "DATE",
            "date",
            format!(
                "{:02}/{:02}/20{:02}",
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(30)
            ),
        ),
        40 => neg("CHECKSUM", "md5 digest", rng.string_from(HEX, 32)),
        41 => neg(
            "NETMASK",
            "netmask",
            rng.pick(&["255.255.255.0", "255.255.0.0", "255.255.255.252"])
                .into(),
        ),
        42 => neg(
            "JWT",
            "truncated JWT",
            format!("eyJhbGciOiJIUzI1NiJ9.{}...", rng.string_from(B64URL, 8)),
        ),
        43 => neg(
            "NI_NUMBER",
            "documented placeholder",
            rng.pick(&["QQ123456C", "QQ 12 34 56 C", "QQ123456A"])
                .into(),
        ),
        44 => neg(
            "NI_NUMBER",
            "NINO with an unallocated prefix",
            format!(
                "{}{}{}",
                rng.pick(&["BG", "GB", "NK", "TN", "ZZ", "DA", "FI", "QV"]),
                rng.string_from(DIGITS, 6),
                rng.pick(&["A", "B", "C", "D"])
            ),
        ),
        45 => neg("SIN", "Luhn-invalid SIN", {
            let mut number = format!("{}", 1 + rng.below(7));
            number.push_str(&rng.string_from(DIGITS, 7));
            let bad = (luhn_check_digit(&number) + 1 + rng.below(9) as u8) % 10;
            number.push(char::from(b'0' + bad));
            format!("{}-{}-{}", &number[..3], &number[3..6], &number[6..])
        }),
        46 => neg(
            "TIME",
            "clock time",
            format!(
                "{:02}:{:02}:{:02}",
                rng.below(24),
                rng.below(60),
                rng.below(60)
            ),
        ),
        47 => neg(
            "TEST_CARD",
            "published test card number",
            rng.pick(&[
                "4242 4242 4242 4242",
                "4242424242424242",
                "4111-1111-1111-1111",
                "4012888888881881",
                "5555 5555 5555 4444",
                "5105105105105100",
                "378282246310005",
                "3714 496353 98431",
                "6011 1111 1111 1117",
                "3566002020360505",
                "4000 0000 0000 0002",
                "4000 0000 0000 9995",
            ])
            .into(),
        ),
        48 => neg(
            "SUPPORT_EMAIL",
            "address at a reserved domain (RFC 2606)",
            {
                let domain =
                    rng.pick(&["example.com", "example.org", "mail.example.net", "qa.test"]);
                format!(
                    "{}@{domain}",
                    rng.pick(&["jane.doe", "support", "ops+alerts", "li_wang"])
                )
            },
        ),
        49 => neg("HWADDR", "group or zero MAC address", {
            let mut octets = [0u8; 6];
            for o in &mut octets {
                *o = rng.next_u64() as u8;
            }
            octets[0] |= 1;
            let mac: Vec<String> = octets.iter().map(|o| format!("{o:02x}")).collect();
            match rng.below(5) {
                0 => "ff:ff:ff:ff:ff:ff".to_string(),
                1 => "00:00:00:00:00:00".to_string(),
                2 => format!("01:00:5e:{}:{}:{}", mac[3], mac[4], mac[5]),
                3 => format!("33:33:{}:{}:{}:{}", mac[2], mac[3], mac[4], mac[5]),
                _ => mac.join(":"),
            }
        }),
        50 => neg(
            "GOOGLE_KEY_ID",
            "service-account key id (public: the kid of its tokens)",
            format!("{{\"private_key_id\": \"{}\"}}", rng.string_from(HEX, 40)),
        ),
        51 => neg(
            "AWS_SECRET_ACCESS_KEY",
            "documented placeholder, base64",
            base64(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ),
        _ => neg(
            "STRIPE_KEY",
            "placeholder",
            "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx".into(),
        ),
    }
}

fn luhn_invalid_card(rng: &mut Rng) -> String {
    let mut number = String::from(rng.pick(&["4", "51", "52", "37", "6011"]));
    let len = if number.starts_with('3') { 15 } else { 16 };
    while number.len() < len - 1 {
        number.push(char::from(b'0' + rng.below(10) as u8));
    }
    let good = luhn_check_digit(&number);
    let bad = (good + 1 + rng.below(9) as u8) % 10;
    number.push(char::from(b'0' + bad));
    if rng.below(2) == 0 && len == 16 {
        format!(
            "{} {} {} {}",
            &number[..4],
            &number[4..8],
            &number[8..12],
            &number[12..]
        )
    } else {
        number
    }
}

fn private_ipv4(rng: &mut Rng) -> String {
    let o = |rng: &mut Rng| rng.below(256);
    match rng.below(9) {
        0 => format!("10.{}.{}.{}", o(rng), o(rng), 1 + rng.below(254)),
        1 => format!("192.168.{}.{}", o(rng), 1 + rng.below(254)),
        2 => format!(
            "172.{}.{}.{}",
            16 + rng.below(16),
            o(rng),
            1 + rng.below(254)
        ),
        3 => "127.0.0.1".into(),
        4 => format!("169.254.{}.{}", o(rng), 1 + rng.below(254)),
        5 => format!(
            "100.{}.{}.{}",
            64 + rng.below(64),
            o(rng),
            1 + rng.below(254)
        ),
        6 => format!("192.0.2.{}", 1 + rng.below(254)),
        7 => format!("198.51.100.{}", 1 + rng.below(254)),
        _ => format!("203.0.113.{}", 1 + rng.below(254)),
    }
}

fn private_ipv6(rng: &mut Rng) -> String {
    let mut groups = [0u16; 8];
    for g in &mut groups[4..] {
        *g = rng.next_u64() as u16;
    }
    match rng.below(4) {
        0 => "::1".into(),
        1 => {
            groups[0] = 0xfe80;
            ipv6_text(groups)
        }
        2 => {
            groups[0] = 0xfd00 | (rng.next_u64() as u16 & 0xff);
            groups[1] = rng.next_u64() as u16;
            ipv6_text(groups)
        }
        _ => {
            groups[0] = 0x2001;
            groups[1] = 0x0db8;
            ipv6_text(groups)
        }
    }
}

fn invalid_ssn(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("000-{:02}-{:04}", 1 + rng.below(99), 1 + rng.below(9999)),
        1 => format!("666-{:02}-{:04}", 1 + rng.below(99), 1 + rng.below(9999)),
        // 9xx with a middle pair no ITIN uses either (01–49, 66–69, 89, 93).
        2 => format!(
            "9{:02}-{:02}-{:04}",
            rng.below(100),
            [1 + rng.below(49), 66 + rng.below(4), 89, 93][rng.below(4)],
            1 + rng.below(9999)
        ),
        3 => format!("{:03}-00-{:04}", 1 + rng.below(665), 1 + rng.below(9999)),
        _ => format!("{:03}-{:02}-0000", 1 + rng.below(665), 1 + rng.below(99)),
    }
}
