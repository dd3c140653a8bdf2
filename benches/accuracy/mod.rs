//! Accuracy of the shipped packs on a seeded, labeled corpus (issue 5,
//! item 7): generators written from each secret's and PII's published
//! format, documents shaped like LLM-agent traffic with planted positives
//! and hard negatives, and span-level scoring. The `accuracy` binary
//! (`bin/accuracy.rs`) writes the corpus and reports; `compare.sh` scores
//! detect-secrets on the same files. See `README.md` beside this file.

mod corpus;
mod formats;
pub mod independent;
mod score;

pub use corpus::{
    generate, generate_in, generate_scored, Corpus, DocKind, Document, Label, Negative, Written,
};
pub use formats::{type_spec, Category, Shape, TypeSpec, TYPES};
pub use score::{
    canonical, context, credit_containers, score, Found, Report, Row, ALIASES, CONTAINERS,
};

/// Format validators and checksums, public for the tests and the binary.
pub mod check {
    pub use super::formats::{
        base62, base64, crc24, crc32, iban_remainder, ipv4_is_special, luhn_valid, IBAN_COUNTRIES,
    };
}

#[cfg(test)]
mod tests;
