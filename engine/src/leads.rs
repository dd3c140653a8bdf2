//! Class-run leads: a pattern that begins with a short run of one byte
//! class and then a literal byte outside that class (an email address: a
//! local part of `[A-Za-z0-9._%+-]`, then `@`) is stepped in its forward
//! shard from the literal on; the run before it, its *lead*, is found by
//! looking back from where the shard was last idle.
//!
//! Why: unanchored, such a pattern is alive inside every word of its class,
//! so its shard is never idle in prose or base64 and a block search walks
//! every start of every word before a match end (a long run before an `@`:
//! 17 MB/s). From the literal on it is alive only after an `@`.
//!
//! Invariant: a match `[s, e)` of the whole pattern has a match `[q, e)` of
//! the shard's part with `q - s <= lead` and every byte of `[s, q)` in the
//! lead's class. The shard was idle at some `i <= q` (no match of its part
//! that starts before `i` is alive after it), so `s` is at least
//! [`Leads::back`] of `i`: the later of `i - lead` and the start of the
//! class run that ends at `i` (both only grow as `i` does, so the least
//! `q`, `i` itself, gives the bound). Every window and idle point a search
//! or a stream takes from a shard is moved back so, which loses no match;
//! the anchored DFA still has the whole pattern, so what is found is
//! exact.

use regex_syntax::hir::{ClassBytes, Hir, HirKind};

use crate::runs::{bits, byte_class, contains_byte};

/// The longest lead split off: a longer one would widen every window by as
/// much.
const MAX_LEAD: usize = 128;

/// The rule set's leads: per forward shard the longest lead of its
/// patterns, and the bytes any lead may hold.
#[derive(Debug)]
pub(crate) struct Leads {
    per_shard: Vec<usize>,
    /// The longest of them (0: no pattern has a lead).
    max: usize,
    class: Option<Box<[bool; 256]>>,
    /// The bytes of the class, and the first bytes of the shards' parts:
    /// a match's lead can reach past an offset only if the byte there is
    /// one of them.
    reaching: Box<[bool; 256]>,
}

/// A pattern split at its lead: what its shard steps, the lead's longest
/// length, and the lead's class.
#[derive(Debug)]
pub(crate) struct Split {
    pub(crate) rest: Hir,
    pub(crate) lead: usize,
    class: ClassBytes,
    /// The first byte of the shard's part.
    next: u8,
}

/// `hir` split after a leading run of one class, when it is a
/// concatenation whose first items match only bytes of one class and at
/// most [`MAX_LEAD`] of them, followed by a literal whose first byte is
/// outside that class, and does not begin with a literal. Looks in the
/// lead are dropped with it (the shard's part then matches more, never
/// less).
pub(crate) fn split(hir: &Hir) -> Option<Split> {
    let HirKind::Concat(items) = hir.kind() else {
        return None;
    };
    let mut class = ClassBytes::empty();
    let mut lead = 0usize;
    for (index, item) in items.iter().enumerate() {
        if let HirKind::Literal(literal) = item.kind() {
            // A pattern that begins with a literal is alive only after it
            // already.
            if lead == 0 {
                return None;
            }
            // The literal's bytes in the class join the lead (the parser
            // joins `x` and `@` of `[a-z]{1,8}x@` into one literal).
            if let Some(at) = literal.0.iter().position(|&b| !contains_byte(&class, b)) {
                if !broad(&class) || !rare(literal.0[at]) {
                    return None;
                }
                let mut rest = vec![Hir::literal(literal.0[at..].to_vec())];
                rest.extend_from_slice(&items[index + 1..]);
                return Some(Split {
                    next: literal.0[at],
                    rest: Hir::concat(rest),
                    lead: lead.checked_add(at).filter(|&lead| lead <= MAX_LEAD)?,
                    class,
                });
            }
        }
        lead = lead.checked_add(item.properties().maximum_len()?)?;
        if lead > MAX_LEAD {
            return None;
        }
        class.union(&byte_class(item)?);
    }
    None
}

/// True for a class that a word of prose keeps a pattern alive in (ten
/// bytes or more): a narrow one (`[Cc][Rr]…`, a spelled-out keyword) dies
/// soon anyway, and splitting it off would only make the rest (` card`,
/// alive after every space) the common case.
fn broad(class: &ClassBytes) -> bool {
    class
        .iter()
        .map(|range| usize::from(range.end() - range.start()) + 1)
        .sum::<usize>()
        >= 10
}

/// True for a byte that seldom appears in prose, code or base64 (`@`,
/// `#`, `~`): the rest of a pattern split off before it is then seldom
/// alive. Split before a common byte (a letter, `.`, `:`, `-`), the rest
/// is alive after each one and the shard's states multiply with its
/// neighbours' (splitting before those too cost text of near-tokens 8%
/// more instructions and gained nothing measured).
fn rare(byte: u8) -> bool {
    byte.is_ascii_punctuation() && !b".,:;-_/=+*!?&|\"'()[]{}<>`".contains(&byte)
}

impl Leads {
    /// `shards[k]`: the splits of shard `k`'s patterns (`None` for a
    /// pattern stepped whole).
    pub(crate) fn new<'a>(
        shards: impl IntoIterator<Item = impl IntoIterator<Item = Option<&'a Split>>>,
    ) -> Leads {
        let mut class = ClassBytes::empty();
        let mut reaching = Box::new([false; 256]);
        let per_shard: Vec<usize> = shards
            .into_iter()
            .map(|splits| {
                splits
                    .into_iter()
                    .flatten()
                    .map(|split| {
                        class.union(&split.class);
                        reaching[usize::from(split.next)] = true;
                        split.lead
                    })
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let max = per_shard.iter().copied().max().unwrap_or(0);
        let class = bits(&class);
        for (reaching, &in_class) in reaching.iter_mut().zip(&class) {
            *reaching |= in_class;
        }
        Leads {
            per_shard,
            max,
            class: (max > 0).then(|| Box::new(class)),
            reaching,
        }
    }

    /// The longest lead of any shard (0: none).
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Each shard's idle offset in `idle` moved back over its lead (see
    /// [`Leads::back`]), not before `floor`.
    pub(crate) fn widen(&self, idle: &mut [usize], hay: &[u8], floor: usize) {
        if self.max == 0 {
            return;
        }
        for (idle, &lead) in idle.iter_mut().zip(&self.per_shard) {
            if lead > 0 {
                *idle = self.back(lead, hay, *idle, floor);
            }
        }
    }

    /// The earliest start of a match whose shard part starts at or after
    /// `idle`, for leads of at most `lead` bytes: back from `idle` over
    /// bytes of the leads' class, at most `lead` of them and not before
    /// `floor` (where nothing earlier counts). `hay` holds `floor..idle`,
    /// and the byte at `idle` if there is one: unless it is in the class
    /// or begins a shard's part, no lead reaches past `idle`.
    #[inline]
    pub(crate) fn back(&self, lead: usize, hay: &[u8], idle: usize, floor: usize) -> usize {
        let Some(class) = &self.class else {
            return idle;
        };
        if hay
            .get(idle)
            .is_some_and(|&byte| !self.reaching[usize::from(byte)])
        {
            return idle;
        }
        let stop = idle.saturating_sub(lead).max(floor);
        let mut at = idle;
        while at > stop && class[usize::from(hay[at - 1])] {
            at -= 1;
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::tests::hir;

    #[test]
    fn an_email_is_stepped_from_its_at_sign() {
        let split = split(&hir(r"\b[a-z0-9.]{1,64}@[a-z]+\.[a-z]{2,4}\b")).unwrap();
        assert_eq!(split.lead, 64);
        assert_eq!(split.rest, hir(r"@[a-z]+\.[a-z]{2,4}\b"));
    }

    #[test]
    fn a_literal_inside_the_class_stays_in_the_lead() {
        // `x` is a byte of the lead's class: the split is at `@`.
        let split = split(&hir(r"[a-z]{1,8}x@y")).unwrap();
        assert_eq!(split.lead, 9);
        assert_eq!(split.rest, hir(r"@y"));
    }

    #[test]
    fn unbounded_long_narrow_or_literal_first_patterns_are_not_split() {
        for pattern in [
            r"[a-z]+@x",
            r"[a-z]{1,200}@x",
            r"ghp_[A-Za-z0-9]{36}",
            r"[a-z]{4}",
            r"(?i)\bcredit card",
            r"[a-z]{1,9} x",
            r"[a-c]{1,9}@x",
            r"\b[0-9A-Za-z]{14}\.atlasv1\.[a-z]{60}",
        ] {
            assert!(split(&hir(pattern)).is_none(), "{pattern}");
        }
    }

    #[test]
    fn back_stops_at_the_class_run_start_the_lead_or_the_floor() {
        let split = split(&hir(r"[a-z]{1,4}@x")).unwrap();
        let leads = Leads::new([[Some(&split)]]);
        let hay = b"12 abcdefg@x";
        // At a byte that neither continues a lead nor begins `@x`: none.
        assert_eq!(leads.back(4, hay, 2, 0), 2);
        // From the `@` (offset 10): four bytes back at most.
        assert_eq!(leads.back(4, hay, 10, 0), 6);
        // The run starts at 3.
        assert_eq!(leads.back(8, hay, 10, 0), 3);
        assert_eq!(leads.back(8, hay, 10, 5), 5);
        // At the end of what is known, the next byte may be `@`.
        assert_eq!(leads.back(8, hay, 12, 0), 11);
        let mut idle = [10];
        leads.widen(&mut idle, hay, 0);
        assert_eq!(idle, [6]);
    }
}
