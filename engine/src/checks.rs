//! Checks that filter candidate matches. Each is a pure function of the
//! matched bytes, so block and streaming modes agree by construction.

use crate::spec::Check;

#[cfg(test)]
pub(crate) fn all_pass(checks: &[Check], matched: &[u8]) -> bool {
    all_pass_with(checks, matched, &mut || shannon_entropy(matched))
}

/// [`all_pass`] with the entropy of `matched` known another way (see
/// [`SpanHistogram`]): `entropy` is asked only when a check needs it.
pub(crate) fn all_pass_with(
    checks: &[Check],
    matched: &[u8],
    entropy: &mut dyn FnMut() -> f64,
) -> bool {
    checks.iter().all(|check| match *check {
        Check::Luhn => luhn(matched),
        Check::Mod97 => mod97(matched),
        Check::Entropy { min_bits } => entropy() >= min_bits,
        Check::Classes { min } => char_classes(matched) >= min,
    })
}

/// The highest entropy any check asks for, when one asks for more than 0.
pub(crate) fn min_entropy(checks: &[Check]) -> Option<f64> {
    checks
        .iter()
        .filter_map(|check| match check {
            Check::Entropy { min_bits } => Some(*min_bits),
            _ => None,
        })
        .reduce(f64::max)
        .filter(|&min_bits| min_bits > 0.0)
}

/// False when a text of `distinct` distinct bytes, or any part of it,
/// cannot have `min_bits` of entropy: a text's entropy in bits never
/// exceeds log2 of its number of distinct bytes, and a part has no more
/// distinct bytes than the whole. Far cheaper than recovering the checked
/// part: on text dense with `password = xxxxxxxx` it spares most
/// value-group searches.
pub(crate) fn entropy_may_reach(min_bits: f64, distinct: u32) -> bool {
    // The margin covers the rounding of the fixed-point terms (at most
    // 256 half-units of 2^-24 bits per byte, over at least one byte).
    f64::from(distinct).log2() + 1e-5 >= min_bits
}

/// The fewest distinct bytes a text needs for [`entropy_may_reach`] to
/// hold (257: none suffice), so that a search compares integers.
pub(crate) fn min_distinct(min_bits: f64) -> u32 {
    (0..=256)
        .find(|&d| entropy_may_reach(min_bits, d))
        .unwrap_or(257)
}

#[cfg(test)]
fn entropy_may_pass(checks: &[Check], around: &[u8]) -> bool {
    min_entropy(checks)
        .is_none_or(|min_bits| entropy_may_reach(min_bits, Histogram::of(around).distinct))
}

/// The scale of the fixed-point `c * log2(c)` terms of the entropy: their
/// sums are exact integers, so an entropy kept up as bytes are taken away
/// (or counted in any order) is the same to the bit as one computed at
/// once, and block and streaming searches, which check the same bytes,
/// agree.
const TERM_SCALE: f64 = (1u64 << 24) as f64;

/// Counts below this have their term in a table.
const TERM_TABLE_LEN: usize = 1024;

fn term(count: u32) -> u64 {
    static TABLE: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| (0..TERM_TABLE_LEN as u32).map(term_of).collect());
    table
        .get(count as usize)
        .copied()
        .unwrap_or_else(|| term_of(count))
}

/// `(len as f64).log2()`, from a table for the lengths checks meet.
fn log2_of(len: u64) -> f64 {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..TERM_TABLE_LEN as u64)
            .map(|n| (n as f64).log2())
            .collect()
    });
    usize::try_from(len)
        .ok()
        .and_then(|index| table.get(index))
        .copied()
        .unwrap_or_else(|| (len as f64).log2())
}

fn term_of(count: u32) -> u64 {
    if count < 2 {
        return 0;
    }
    let c = f64::from(count);
    (c * c.log2() * TERM_SCALE).round() as u64
}

/// Byte counts of a text, with what its entropy needs kept up to date.
/// Cheap to reset: only the counts of bytes seen are cleared.
#[derive(Clone)]
pub(crate) struct Histogram {
    /// Boxed: a `Cache` holding two histograms is moved in and out of its
    /// thread's slot on every `push`, and 2 KiB more to copy each time
    /// cost 16-byte pushes a fifth of their speed.
    counts: Box<[u32; 256]>,
    /// Every byte whose count was raised from 0 since the last reset.
    seen: Vec<u8>,
    len: u64,
    distinct: u32,
    /// Sum of `term(count)` over the bytes, once asked for (a histogram
    /// asked only for its distinct bytes never computes it).
    sum: Option<u128>,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: Box::new([0; 256]),
            seen: Vec::new(),
            len: 0,
            distinct: 0,
            sum: None,
        }
    }
}

impl Histogram {
    fn of(text: &[u8]) -> Histogram {
        let mut histogram = Histogram::default();
        histogram.reset(text);
        histogram
    }

    fn reset(&mut self, text: &[u8]) {
        for &byte in &self.seen {
            self.counts[usize::from(byte)] = 0;
        }
        self.seen.clear();
        for &byte in text {
            let count = &mut self.counts[usize::from(byte)];
            if *count == 0 {
                self.seen.push(byte);
            }
            *count += 1;
        }
        self.len = text.len() as u64;
        self.distinct = self.seen.len() as u32;
        self.sum = None;
    }

    fn remove(&mut self, byte: u8) {
        let count = &mut self.counts[usize::from(byte)];
        if let Some(sum) = &mut self.sum {
            *sum = *sum - u128::from(term(*count)) + u128::from(term(*count - 1));
        }
        *count -= 1;
        if *count == 0 {
            self.distinct -= 1;
        }
        self.len -= 1;
    }

    pub(crate) fn distinct(&self) -> u32 {
        self.distinct
    }

    /// Shannon entropy, in bits per byte: log2(n) - sum(c log2 c) / n.
    pub(crate) fn shannon_entropy(&mut self) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        let counts = &self.counts;
        let sum = *self.sum.get_or_insert_with(|| {
            self.seen
                .iter()
                .map(|&byte| u128::from(term(counts[usize::from(byte)])))
                .sum()
        });
        let n = self.len as f64;
        (log2_of(self.len) - sum as f64 / (n * TERM_SCALE)).max(0.0)
    }
}

/// The histogram of one span of a text, kept as the span's end moves
/// left: the candidates at one start come longest first, and most share
/// where their checked part starts, so checking a hundred ends of a long
/// value costs one count and a hundred removals, not a hundred counts.
#[derive(Clone, Default)]
pub(crate) struct SpanHistogram {
    histogram: Histogram,
    span: Option<std::ops::Range<usize>>,
}

impl SpanHistogram {
    /// Forget the span: the next text may be another.
    pub(crate) fn forget(&mut self) {
        self.span = None;
    }

    /// The histogram of `text[span]` (the same `text` as since the last
    /// [`SpanHistogram::forget`]).
    pub(crate) fn of(&mut self, text: &[u8], span: std::ops::Range<usize>) -> &mut Histogram {
        match &self.span {
            Some(held)
                if held.start == span.start
                    && span.end <= held.end
                    && held.end - span.end <= span.len() =>
            {
                for &byte in &text[span.end..held.end] {
                    self.histogram.remove(byte);
                }
            }
            _ => self.histogram.reset(&text[span.clone()]),
        }
        self.span = Some(span);
        &mut self.histogram
    }
}

/// How many of four classes `text` has a byte of: ASCII uppercase
/// letters, ASCII lowercase letters, ASCII digits, and any other byte.
/// Random keys over a base64 or alphanumeric alphabet have three or four
/// almost always; random ids of one case and digits, which reach a key's
/// entropy just as often, have two.
pub fn char_classes(text: &[u8]) -> u8 {
    let mut seen = 0u8;
    for &byte in text {
        seen |= match byte {
            b'A'..=b'Z' => 1,
            b'a'..=b'z' => 2,
            b'0'..=b'9' => 4,
            _ => 8,
        };
        if seen == 15 {
            break;
        }
    }
    seen.count_ones() as u8
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

/// Shannon entropy of the byte distribution, in bits per byte, to within
/// 1e-5 (the terms are summed in fixed point, so the value does not
/// depend on how the bytes were counted).
pub fn shannon_entropy(text: &[u8]) -> f64 {
    Histogram::of(text).shannon_entropy()
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
    fn char_classes_counts_upper_lower_digits_and_the_rest() {
        assert_eq!(char_classes(b""), 0);
        assert_eq!(char_classes(b"k3j9x0q7w2"), 2);
        assert_eq!(char_classes(b"K3J9X0Q7W2"), 2);
        assert_eq!(char_classes(b"Fj2kQ9xWm"), 3);
        assert_eq!(char_classes(b"Fj2kQ9xWm+Lr"), 4);
        assert_eq!(char_classes("é".as_bytes()), 1);
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
    fn an_entropy_kept_up_while_shrinking_is_the_same_to_the_bit() {
        let text = b"client_secret: 1457567600751230378536154018953357821028862381273010330605442722082567702134993144662294739575144995056 q8Zr2Lk9Xw4TbN7s";
        let mut held = SpanHistogram::default();
        for start in [0, 15, 40] {
            for end in (start + 1..=text.len()).rev() {
                let kept = held.of(text, start..end);
                let mut fresh = Histogram::of(&text[start..end]);
                assert_eq!(kept.distinct(), fresh.distinct);
                assert_eq!(
                    kept.shannon_entropy().to_bits(),
                    fresh.shannon_entropy().to_bits()
                );
                assert_eq!(kept.distinct(), fresh.distinct);
            }
        }
        // Exact where the entropy is a whole number of bits.
        assert_eq!(shannon_entropy(b"aabb"), 1.0);
        assert_eq!(shannon_entropy(b"abcdefgh"), 3.0);
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"zzzz"), 0.0);
    }

    #[test]
    fn entropy_separates_keys_from_words() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(shannon_entropy(b"q8Zr2Lk9Xw4TbN7s") > 3.5);
    }
}
