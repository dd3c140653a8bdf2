//! Checks that filter candidate matches. Each is a pure function of the
//! matched bytes, so block and streaming modes agree by construction.

use crate::spec::Check;

pub(crate) fn all_pass(checks: &[Check], matched: &[u8]) -> bool {
    checks.iter().all(|check| passes(*check, matched))
}

fn passes(check: Check, matched: &[u8]) -> bool {
    match check {
        Check::Luhn => luhn(matched),
        Check::Mod97 => mod97(matched),
        Check::Entropy { min_bits } => shannon_entropy(matched) >= min_bits,
    }
}

/// False when no part of `around` can pass the entropy checks among
/// `checks`: a text's entropy in bits never exceeds log2 of its number of
/// distinct bytes, and a part has no more distinct bytes than the whole.
/// Far cheaper than recovering the checked part: on text dense with
/// `password = xxxxxxxx` it spares most value-group searches.
pub(crate) fn entropy_may_pass(checks: &[Check], around: &[u8]) -> bool {
    let Some(min_bits) = checks
        .iter()
        .filter_map(|check| match check {
            Check::Entropy { min_bits } => Some(*min_bits),
            _ => None,
        })
        .reduce(f64::max)
    else {
        return true;
    };
    if min_bits <= 0.0 {
        return true;
    }
    let mut seen = [0u64; 4];
    let mut distinct = 0u32;
    for &byte in around {
        let (word, bit) = (usize::from(byte >> 6), 1u64 << (byte & 63));
        if seen[word] & bit == 0 {
            seen[word] |= bit;
            distinct += 1;
        }
    }
    // The margin covers rounding in `shannon_entropy`, which can exceed
    // log2(distinct) by a few ulps on a uniform text.
    f64::from(distinct).log2() + 1e-9 >= min_bits
}

/// The Luhn checksum over the ASCII digits of `text`; separators (spaces,
/// dashes, dots) are ignored. Fewer than two digits never pass.
pub fn luhn(text: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut count = 0usize;
    for &byte in text.iter().rev() {
        if !byte.is_ascii_digit() {
            continue;
        }
        let mut digit = u32::from(byte - b'0');
        if count % 2 == 1 {
            digit *= 2;
            if digit > 9 {
                digit -= 9;
            }
        }
        sum += digit;
        count += 1;
    }
    count >= 2 && sum.is_multiple_of(10)
}

/// The ISO 7064 mod-97-10 check of an IBAN: spaces are ignored, the first
/// four characters move to the end, letters become 10..35, and the number
/// must leave 1 modulo 97.
pub fn mod97(text: &[u8]) -> bool {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'-')
        .collect();
    if compact.len() < 5 || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder = 0u32;
    for &byte in tail.iter().chain(head) {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            _ => u32::from(byte.to_ascii_uppercase() - b'A') + 10,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Shannon entropy of the byte distribution, in bits per byte.
pub fn shannon_entropy(text: &[u8]) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &byte in text {
        counts[usize::from(byte)] += 1;
    }
    let len = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_a_changed_digit() {
        assert!(luhn(b"4111 1111 1111 1111"));
        assert!(luhn(b"5500-0000-0000-0004"));
        assert!(!luhn(b"4111 1111 1111 1112"));
        assert!(!luhn(b"0"));
    }

    #[test]
    fn mod97_accepts_valid_ibans() {
        assert!(mod97(b"GB82 WEST 1234 5698 7654 32"));
        assert!(mod97(b"DE89370400440532013000"));
        assert!(!mod97(b"DE89370400440532013001"));
        assert!(!mod97(b"DE89"));
    }

    #[test]
    fn the_entropy_bound_never_refuses_a_text_that_passes() {
        // Uniform texts reach the bound exactly (up to rounding); mixed
        // ones stay under it. Asking for exactly what a text has must pass.
        for distinct in 1..=200u8 {
            for repeat in 1..4 {
                let text: Vec<u8> = (0..distinct)
                    .cycle()
                    .take(usize::from(distinct) * repeat + 1)
                    .collect();
                let min_bits = shannon_entropy(&text);
                let checks = [Check::Entropy { min_bits }];
                assert!(entropy_may_pass(&checks, &text), "{distinct} x {repeat}");
                assert!(all_pass(&checks, &text));
            }
        }
        let checks = [Check::Entropy { min_bits: 3.3 }];
        // Three distinct bytes: log2(3) = 1.58 < 3.3, whatever their mix.
        assert!(!entropy_may_pass(
            &checks,
            b"password = 00000000"[7..].as_ref()
        ));
        assert!(entropy_may_pass(&checks, b"q8Zr2Lk9Xw4TbN7s"));
        assert!(entropy_may_pass(&[Check::Luhn], b""));
    }

    #[test]
    fn entropy_separates_keys_from_words() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(shannon_entropy(b"q8Zr2Lk9Xw4TbN7s") > 3.5);
    }
}
