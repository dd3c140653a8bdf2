//! Run patterns: found by counting the runs of one byte class, in no
//! forward shard.
//!
//! A pattern is a *run pattern* when every byte of every match lies in one
//! class `C` (its looks aside), its shortest match is at least
//! [`MIN_RUN_LEN`] bytes, its longest is bounded, and its rule has an
//! `unless followed by` pattern that matches every single byte of `C` (a
//! key of 40 base64 characters not followed by another). Then a finding of
//! it ends where a maximal run of `C` ends: were the next byte in `C`, the
//! rule's exception would match there. It lies inside that run, so it
//! starts in `max(run start, end - longest) ..= end - shortest`. Only the
//! byte that ends a run, and only when the run is long enough, gives
//! anything to walk; for a pattern of one length, one start.
//!
//! Why not a forward shard: unanchored and without upper bounds (see
//! `automata`), such a pattern is alive in every word and counts its
//! length; in a shard with other patterns the counts multiply with their
//! states (the two bare-key patterns of `rules/policy-examples` in a broad
//! shard: 1.2 to 5.7 MB/s on PEM text), and in a shard of their own they
//! cost a table lookup per byte like any shard (ordinary text 114 -> 97
//! MB/s). Counting costs a lookup in a 256-entry table and, at a word's
//! edge, a few instructions.
//!
//! Invariant: the run ends reported over a text, cut into pieces anywhere,
//! are the same as over the whole text (a run's start and end do not
//! depend on where the text was cut), and every finding of a run pattern
//! starts in the range of one of them.

use std::ops::Range;

use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind};

/// The shortest match a run pattern must have: shorter ones would report
/// most words of prose.
const MIN_RUN_LEN: usize = 20;

/// Run patterns tracked at once (one bit each); more stay in the shards.
const MAX_RUN_PATTERNS: usize = 32;

/// The rule set's run patterns.
#[derive(Debug)]
pub(crate) struct RunPatterns {
    /// Per run pattern: its shortest and longest match.
    lens: Vec<(usize, usize)>,
    /// Per run pattern: its class, and the bytes a finding may end
    /// before (no `unless followed by` pattern of its rule matches them
    /// alone), byte by byte.
    classes: Vec<[bool; 256]>,
    follows: Vec<[bool; 256]>,
    /// Per run pattern: the bytes a finding may start after (those no
    /// `unless preceded by` pattern of its rule matches alone).
    after: Vec<[bool; 256]>,
    /// Per run pattern: its index among all patterns.
    patterns: Vec<usize>,
    /// The longest match of any of them.
    max_len: usize,
}

/// Where a finding of a run pattern may be: the starts to walk, and the
/// end of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunEnd {
    /// Which run pattern (among the run patterns).
    pub(crate) pattern: usize,
    pub(crate) starts: Range<usize>,
    pub(crate) end: usize,
}

impl RunEnd {
    pub(crate) fn shifted_back(&self, by: usize) -> RunEnd {
        RunEnd {
            pattern: self.pattern,
            starts: self.starts.start.max(by) - by..self.starts.end.max(by) - by,
            end: self.end - by,
        }
    }
}

/// The class every byte of every match of `hir` lies in; `None` when it
/// has a class beyond ASCII (matched as UTF-8 sequences, not one byte).
pub(crate) fn byte_class(hir: &Hir) -> Option<ClassBytes> {
    fn collect(hir: &Hir, class: &mut ClassBytes) -> Option<()> {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => Some(()),
            HirKind::Literal(literal) => {
                for &byte in literal.0.iter() {
                    class.push(ClassBytesRange::new(byte, byte));
                }
                Some(())
            }
            HirKind::Class(Class::Bytes(bytes)) => {
                class.union(bytes);
                Some(())
            }
            HirKind::Class(Class::Unicode(unicode)) => {
                class.union(&unicode.to_byte_class()?);
                Some(())
            }
            HirKind::Repetition(rep) => collect(&rep.sub, class),
            HirKind::Capture(cap) => collect(&cap.sub, class),
            HirKind::Concat(subs) | HirKind::Alternation(subs) => {
                subs.iter().try_for_each(|sub| collect(sub, class))
            }
        }
    }
    let mut class = ClassBytes::empty();
    collect(hir, &mut class)?;
    Some(class)
}

/// The bytes a pattern matches alone, when it is one byte long (a class
/// or a one-byte literal); `None` otherwise.
fn single_byte_class(hir: &Hir) -> Option<ClassBytes> {
    let props = hir.properties();
    if props.minimum_len() != Some(1) || props.maximum_len() != Some(1) {
        return None;
    }
    // Looks would make the byte conditional: not the whole class then.
    if !props.look_set().is_empty() {
        return None;
    }
    byte_class(hir)
}

/// True when `class` holds `byte`.
pub(crate) fn contains_byte(class: &ClassBytes, byte: u8) -> bool {
    contains(class, &ClassBytes::new([ClassBytesRange::new(byte, byte)]))
}

fn contains(outer: &ClassBytes, inner: &ClassBytes) -> bool {
    let mut both = outer.clone();
    both.intersect(inner);
    both == *inner
}

pub(crate) fn bits(class: &ClassBytes) -> [bool; 256] {
    let mut bits = [false; 256];
    for range in class.iter() {
        for byte in range.start()..=range.end() {
            bits[usize::from(byte)] = true;
        }
    }
    bits
}

impl RunPatterns {
    /// Which of `hirs` are run patterns. `followed_by[i]` and
    /// `preceded_by[i]`: the `unless followed by` and `unless preceded by`
    /// patterns of pattern `i`'s rule. Returns the run patterns (in order,
    /// at most [`MAX_RUN_PATTERNS`]) and the index of each among them, or
    /// `None` for the others.
    pub(crate) fn build(
        hirs: &[Hir],
        followed_by: &[&[Hir]],
        preceded_by: &[&[Hir]],
    ) -> (RunPatterns, Vec<Option<usize>>) {
        let mut lens = Vec::new();
        let mut classes = Vec::new();
        let mut follows = Vec::new();
        let mut after = Vec::new();
        let mut patterns = Vec::new();
        let mut which = Vec::with_capacity(hirs.len());
        for ((hir, followed_by), preceded_by) in hirs.iter().zip(followed_by).zip(preceded_by) {
            let run = (lens.len() < MAX_RUN_PATTERNS)
                .then(|| Self::analyze(hir, followed_by))
                .flatten();
            let Some((class, stop, min, max)) = run else {
                which.push(None);
                continue;
            };
            let (class, stop) = (bits(&class), bits(&stop));
            which.push(Some(lens.len()));
            patterns.push(which.len() - 1);
            lens.push((min, max));
            classes.push(class);
            follows.push(stop.map(|stops| !stops));
            let mut before = ClassBytes::empty();
            for pattern in preceded_by.iter() {
                if let Some(bytes) = single_byte_class(pattern) {
                    before.union(&bytes);
                }
            }
            after.push(bits(&before).map(|excepted| !excepted));
        }
        let max_len = lens.iter().map(|&(_, max)| max).max().unwrap_or(0);
        let patterns = RunPatterns {
            lens,
            classes,
            follows,
            after,
            patterns,
            max_len,
        };
        (patterns, which)
    }

    /// A run pattern's class, the bytes its rule's exceptions stop at, and
    /// its shortest and longest match; `None` when it is not one.
    fn analyze(hir: &Hir, followed_by: &[Hir]) -> Option<(ClassBytes, ClassBytes, usize, usize)> {
        let props = hir.properties();
        let (min, max) = (props.minimum_len()?, props.maximum_len()?);
        if min < MIN_RUN_LEN {
            return None;
        }
        let class = byte_class(hir)?;
        let mut stop = ClassBytes::empty();
        for pattern in followed_by {
            if let Some(bytes) = single_byte_class(pattern) {
                stop.union(&bytes);
            }
        }
        contains(&stop, &class).then_some((class, stop, min, max))
    }

    /// The run patterns (one bit each) for which `wanted` holds of their
    /// index among all patterns.
    pub(crate) fn mask(&self, wanted: impl Fn(usize) -> bool) -> u32 {
        self.patterns
            .iter()
            .enumerate()
            .filter(|&(_, &pattern)| wanted(pattern))
            .fold(0, |mask, (k, _)| mask | 1 << k)
    }

    /// The longest match of any run pattern.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// The run end of pattern `k`'s run `start..end`, if a match fits.
    fn end_of(&self, k: usize, start: usize, end: usize) -> Option<RunEnd> {
        let (min, max) = self.lens[k];
        (end - start >= min).then(|| RunEnd {
            pattern: k,
            starts: start.max(end.saturating_sub(max))..end - min + 1,
            end,
        })
    }

    /// False when a finding of run pattern `k` cannot start at `hay[at]`:
    /// the byte before it is one its rule's exceptions match alone.
    #[inline]
    pub(crate) fn may_start(&self, k: usize, hay: &[u8], at: usize) -> bool {
        at.checked_sub(1)
            .is_none_or(|before| self.after[k][usize::from(hay[before])])
    }
}

/// The run ends of a whole text from an offset on, in order of end (at
/// one end, in pattern order), for a block search: each pattern's runs
/// found by skipping, not byte by byte. A run of at least `min` bytes that
/// starts at or after `i` covers `i + min - 1`, so when that byte is not
/// in the class the search moves past it; in prose the test lands in a
/// word most of the time and the word's edges are found by looking a few
/// bytes either way, about 6 bytes looked at per 40 for a key of 40.
/// Runs are cut at the offset the search starts from, as the
/// [`RunTracker`] a stream keeps would cut them had the text begun there.
pub(crate) struct BlockRunEnds<'a> {
    runs: &'a RunPatterns,
    hay: &'a [u8],
    eoi: bool,
    /// Per pattern: where its search goes on, and its next end if found.
    at: Vec<usize>,
    next: Vec<Option<RunEnd>>,
}

impl<'a> BlockRunEnds<'a> {
    /// The ends of the run patterns in `mask` (see [`RunPatterns::mask`]).
    pub(crate) fn new(
        runs: &'a RunPatterns,
        mask: u32,
        hay: &'a [u8],
        from: usize,
        eoi: bool,
    ) -> Self {
        BlockRunEnds {
            runs,
            hay,
            eoi,
            // Patterns outside the mask start at the end: never searched.
            at: (0..runs.lens.len())
                .map(|k| if mask & 1 << k != 0 { from } else { hay.len() })
                .collect(),
            next: vec![None; runs.lens.len()],
        }
    }

    /// Pattern `k`'s next run end from `self.at[k]`.
    fn find(&mut self, k: usize) -> Option<RunEnd> {
        let (hay, runs) = (self.hay, self.runs);
        let (min, _) = runs.lens[k];
        let (class, follows) = (&runs.classes[k], &runs.follows[k]);
        loop {
            let from = self.at[k];
            // The byte every run of `min` bytes starting at `from` or
            // later (and ending in `hay`) covers.
            let probe = from + min - 1;
            if probe >= hay.len() {
                self.at[k] = hay.len();
                return None;
            }
            if !class[usize::from(hay[probe])] {
                self.at[k] = probe + 1;
                continue;
            }
            let mut start = probe;
            while start > from && class[usize::from(hay[start - 1])] {
                start -= 1;
            }
            let mut end = probe + 1;
            while end < hay.len() && class[usize::from(hay[end])] {
                end += 1;
            }
            // Past the byte that ended the run (not in the class).
            self.at[k] = end + 1;
            if end - start < min {
                continue;
            }
            if end == hay.len() {
                // Not at the text's end, a run still open has no finding
                // that starts before the caller's horizon.
                return if self.eoi {
                    runs.end_of(k, start, end)
                } else {
                    None
                };
            }
            if follows[usize::from(hay[end])] {
                return runs.end_of(k, start, end);
            }
        }
    }
}

impl Iterator for BlockRunEnds<'_> {
    type Item = RunEnd;

    fn next(&mut self) -> Option<RunEnd> {
        for k in 0..self.next.len() {
            if self.next[k].is_none() && self.at[k] < self.hay.len() {
                self.next[k] = self.find(k);
            }
        }
        let k = (0..self.next.len())
            .filter(|&k| self.next[k].is_some())
            .min_by_key(|&k| self.next[k].as_ref().map(|end| end.end))?;
        self.next[k].take()
    }
}

/// The runs open after some text: per run pattern, where its current run
/// started. Cheap to copy; a block search makes one, a stream keeps one.
#[derive(Clone, Debug)]
pub(crate) struct RunTracker {
    /// The run patterns tracked (see [`RunPatterns::mask`]).
    mask: u32,
    /// Bit `k`: the last byte was in pattern `k`'s class.
    open: u32,
    started: [usize; MAX_RUN_PATTERNS],
}

impl RunTracker {
    pub(crate) fn new(mask: u32) -> RunTracker {
        RunTracker {
            mask,
            open: 0,
            started: [0; MAX_RUN_PATTERNS],
        }
    }

    /// Steps over the byte at offset `at`, the reference
    /// [`RunTracker::advance`] is tested against: a run it ends is
    /// reported to `report` when a finding may end there.
    #[cfg(test)]
    fn step(&mut self, runs: &RunPatterns, byte: u8, at: usize, report: &mut impl FnMut(RunEnd)) {
        for k in 0..runs.lens.len() {
            let bit = 1u32 << k;
            if self.mask & bit == 0 {
                continue;
            }
            let inside = runs.classes[k][usize::from(byte)];
            if self.open & bit != 0 && !inside {
                self.open &= !bit;
                if runs.follows[k][usize::from(byte)] {
                    if let Some(end) = runs.end_of(k, self.started[k], at) {
                        report(end);
                    }
                }
            } else if self.open & bit == 0 && inside {
                self.open |= bit;
                self.started[k] = at;
            }
        }
    }

    /// Steps over `chunk`, whose first byte is at offset `base`: what
    /// [`RunTracker::step`] over each byte does, with each pattern's runs
    /// found by skipping as [`BlockRunEnds`] finds them. The ends go to
    /// `report` in order of end (at one end, in pattern order).
    pub(crate) fn advance(
        &mut self,
        runs: &RunPatterns,
        chunk: &[u8],
        base: usize,
        report: &mut impl FnMut(RunEnd),
    ) {
        if self.mask == 0 {
            return;
        }
        let mut found: Vec<RunEnd> = Vec::new();
        let mut each = self.mask;
        while each != 0 {
            let k = each.trailing_zeros() as usize;
            each &= each - 1;
            let bit = 1u32 << k;
            let (min, _) = runs.lens[k];
            let (class, follows) = (&runs.classes[k], &runs.follows[k]);
            let in_class = |at: usize| class[usize::from(chunk[at])];
            let mut i = 0;
            if self.open & bit != 0 {
                // The run open at the chunk's start goes on.
                while i < chunk.len() && in_class(i) {
                    i += 1;
                }
                if i == chunk.len() {
                    continue;
                }
                self.open &= !bit;
                if follows[usize::from(chunk[i])] {
                    found.extend(runs.end_of(k, self.started[k], base + i));
                }
                i += 1;
            }
            loop {
                let probe = i + min - 1;
                let (start, end) = if probe >= chunk.len() {
                    // No run of `min` bytes ends in the chunk; one may
                    // still be open at its end.
                    let mut start = chunk.len();
                    while start > i && in_class(start - 1) {
                        start -= 1;
                    }
                    (start, chunk.len())
                } else if !in_class(probe) {
                    i = probe + 1;
                    continue;
                } else {
                    let mut start = probe;
                    while start > i && in_class(start - 1) {
                        start -= 1;
                    }
                    let mut end = probe + 1;
                    while end < chunk.len() && in_class(end) {
                        end += 1;
                    }
                    (start, end)
                };
                if end == chunk.len() {
                    if start < end {
                        self.open |= bit;
                        self.started[k] = base + start;
                    }
                    break;
                }
                if follows[usize::from(chunk[end])] {
                    found.extend(runs.end_of(k, base + start, base + end));
                }
                i = end + 1;
            }
        }
        // Each pattern's ends came in order; across patterns, sorted.
        found.sort_by_key(|end| (end.end, end.pattern));
        found.into_iter().for_each(report);
    }

    /// The text ends at `at`: every open run ends there.
    pub(crate) fn finish(
        &mut self,
        runs: &RunPatterns,
        at: usize,
        report: &mut impl FnMut(RunEnd),
    ) {
        let mut ending = self.open;
        while ending != 0 {
            let k = ending.trailing_zeros() as usize;
            ending &= ending - 1;
            if let Some(end) = runs.end_of(k, self.started[k], at) {
                report(end);
            }
        }
        self.open = 0;
    }

    /// After the text up to `at`: the earliest offset a finding of a run
    /// pattern still to be reported can start at (`at` when none can).
    pub(crate) fn idle(&self, runs: &RunPatterns, at: usize) -> usize {
        let mut open = self.open;
        let mut idle = at;
        while open != 0 {
            let k = open.trailing_zeros() as usize;
            open &= open - 1;
            let (_, max) = runs.lens[k];
            idle = idle.min(self.started[k].max(at.saturating_sub(max)));
        }
        idle
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const NOTHING: &[&[Hir]] = &[&[], &[], &[]];

    /// A pattern as the engine parses it (bytes, no Unicode classes).
    pub(crate) fn hir(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap()
    }

    fn ends(runs: &RunPatterns, text: &[u8]) -> Vec<RunEnd> {
        let mut tracker = RunTracker::new(u32::MAX);
        let mut found = Vec::new();
        for (at, &byte) in text.iter().enumerate() {
            tracker.step(runs, byte, at, &mut |end| found.push(end));
        }
        tracker.finish(runs, text.len(), &mut |end| found.push(end));
        found
    }

    #[test]
    fn a_run_pattern_needs_an_exception_covering_its_class() {
        let key = hir(r"\b{start-half}[A-Za-z0-9+/]{38}[A-Za-z0-9]{2}\b");
        let stop = hir(r"[A-Za-z0-9+/=_-]");
        let narrow = hir(r"[A-Za-z0-9]");
        let (runs, which) = RunPatterns::build(
            &[key.clone(), key.clone(), hir(r"ab[a-z]{30}")],
            &[&[stop], &[narrow], &[]],
            NOTHING,
        );
        assert_eq!(which, vec![Some(0), None, None]);
        assert_eq!(runs.lens.len(), 1);
        assert_eq!(runs.max_len(), 40);
    }

    #[test]
    fn ends_only_where_a_long_enough_run_stops() {
        let (runs, _) =
            RunPatterns::build(&[hir(r"[a-z]{20,24}")], &[&[hir(r"[a-z0-9]")]], NOTHING);
        let text = b"short words here; abcdefghijklmnopqrstuvwxyz! abcdefghijklmnopqrst7 abcdefghijklmnopqrst";
        let found = ends(&runs, text);
        // The 26-letter run: starts from 26 - 24 = 2 bytes in to 26 - 20.
        // The next stops at `7`, which the exception matches: nothing.
        // The last ends with the text.
        let first = 18;
        let last = text.len() - 20;
        assert_eq!(
            found,
            vec![
                RunEnd {
                    pattern: 0,
                    starts: first + 2..first + 7,
                    end: first + 26,
                },
                RunEnd {
                    pattern: 0,
                    starts: last..last + 1,
                    end: text.len(),
                },
            ]
        );
    }

    /// Three run patterns whose classes overlap.
    fn overlapping() -> RunPatterns {
        RunPatterns::build(
            &[
                hir(r"[a-z]{20,24}"),
                hir(r"[a-f0-9]{20}"),
                hir(r"[a-z ]{20,30}"),
            ],
            &[&[hir(r"[a-z]")], &[hir(r"[a-z0-9]")], &[hir(r"[a-z ]")]],
            NOTHING,
        )
        .0
    }

    /// Short words and separators, with a long run now and then.
    fn words_and_runs(mut seed: u32, words: usize) -> Vec<u8> {
        let mut text = Vec::new();
        for _ in 0..words {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            text.push(b"abcdef0123 xyz-"[(seed >> 16) as usize % 15]);
            if seed.is_multiple_of(97) {
                text.extend_from_slice(b"abcdefabcdefabcdefabcdef0");
            }
        }
        text
    }

    #[test]
    fn skipping_finds_the_ends_stepping_does() {
        let runs = overlapping();
        let text = words_and_runs(7, 4000);
        for from in [0, 1, 17, 1000] {
            let mut tracker = RunTracker::new(u32::MAX);
            let mut stepped = Vec::new();
            for (at, &byte) in text.iter().enumerate().skip(from) {
                tracker.step(&runs, byte, at, &mut |end| stepped.push(end));
            }
            tracker.finish(&runs, text.len(), &mut |end| stepped.push(end));
            let skipped: Vec<RunEnd> =
                BlockRunEnds::new(&runs, u32::MAX, &text, from, true).collect();
            assert!(stepped.len() > 10, "{}", stepped.len());
            assert_eq!(skipped, stepped, "from {from}");
        }
    }

    #[test]
    fn advancing_by_chunks_finds_the_ends_stepping_does() {
        let runs = overlapping();
        let text = words_and_runs(11, 3000);
        let mut stepper = RunTracker::new(0b101);
        let mut stepped = Vec::new();
        for (at, &byte) in text.iter().enumerate() {
            stepper.step(&runs, byte, at, &mut |end| stepped.push(end));
        }
        stepper.finish(&runs, text.len(), &mut |end| stepped.push(end));
        assert!(stepped.len() > 10, "{}", stepped.len());
        for chunk_len in [1, 2, 7, 16, 19, 20, 21, 64, 5000] {
            let mut tracker = RunTracker::new(0b101);
            let mut advanced = Vec::new();
            let mut base = 0;
            for chunk in text.chunks(chunk_len) {
                tracker.advance(&runs, chunk, base, &mut |end| advanced.push(end));
                base += chunk.len();
                assert_eq!(
                    tracker.idle(&runs, base),
                    stepper_idle(&runs, &text[..base])
                );
            }
            tracker.finish(&runs, text.len(), &mut |end| advanced.push(end));
            assert_eq!(advanced, stepped, "chunks of {chunk_len}");
        }
    }

    fn stepper_idle(runs: &RunPatterns, text: &[u8]) -> usize {
        let mut tracker = RunTracker::new(0b101);
        for (at, &byte) in text.iter().enumerate() {
            tracker.step(runs, byte, at, &mut |_| {});
        }
        tracker.idle(runs, text.len())
    }

    #[test]
    fn idle_is_before_every_start_still_to_come() {
        let (runs, _) = RunPatterns::build(
            &[hir(r"[a-z]{20,24}"), hir(r"[a-f0-9]{32}")],
            &[&[hir(r"[a-z]")], &[hir(r"[a-z0-9]")]],
            NOTHING,
        );
        let text = b"0123456789abcdef0123456789abcdef abcdefghijklmnopqrstu 0123456789abcdef0123456789abcdefg";
        let mut tracker = RunTracker::new(u32::MAX);
        let mut reported: Vec<(usize, RunEnd)> = Vec::new();
        let mut idles = Vec::new();
        for (at, &byte) in text.iter().enumerate() {
            idles.push(tracker.idle(&runs, at));
            tracker.step(&runs, byte, at, &mut |end| reported.push((at, end)));
        }
        idles.push(tracker.idle(&runs, text.len()));
        tracker.finish(&runs, text.len(), &mut |end| {
            reported.push((text.len(), end))
        });
        assert_eq!(reported.len(), 2, "{reported:?}");
        for (when, end) in &reported {
            for idle in &idles[..=*when] {
                assert!(end.starts.start >= *idle, "{end:?} before idle {idle}");
            }
        }
        assert_eq!(
            reported
                .iter()
                .map(|(_, end)| end.clone())
                .collect::<Vec<_>>(),
            ends(&runs, text)
        );
    }
}
