//! "Did you mean": the closest known name to a misspelt one.

/// The candidate closest to `word`, if it is close enough to be what the
/// user meant: at most one edit for short words, two up to eight
/// characters, three beyond. Case is ignored, so `Luhn` suggests `luhn`.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = match word.chars().count() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    candidates
        .iter()
        .map(|candidate| (distance(&word, candidate), *candidate))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions,
/// substitutions and swaps of two neighbours each cost one.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Names are short; a long input is not a typo of one.
    if a.len().abs_diff(b.len()) > 3 || a.len() > 64 {
        return usize::MAX;
    }
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// [`closest`] among names known only at run time.
pub(crate) fn closest_owned(word: &str, candidates: &[&str]) -> Option<String> {
    closest(word, candidates).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_and_typos_are_close() {
        assert_eq!(distance("reqeust", "request"), 1);
        assert_eq!(distance("luhn", "lunh"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(closest("Luhn", &["luhn", "mod97"]), Some("luhn"));
        assert_eq!(
            closest("entropie", &["luhn", "mod97", "entropy"]),
            Some("entropy")
        );
        assert_eq!(
            closest("tool-result", &["tool_result", "user"]),
            Some("tool_result")
        );
    }

    #[test]
    fn far_words_suggest_nothing() {
        assert_eq!(closest("banana", &["luhn", "mod97", "entropy"]), None);
        assert_eq!(closest("x", &["in"]), None);
    }
}
