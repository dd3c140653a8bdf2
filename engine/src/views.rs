//! Decoded views: a rule that declares `decode …` is matched in the text
//! with those escapes undone, and its findings map back to the original
//! bytes.
//!
//! # Semantics
//!
//! The rules that declare no text decoding are matched in the text as it
//! is (the *plain* view). Each distinct set of text decodings that rules
//! declare makes one view: the text decoded by [`TextDecoder`], in which
//! exactly the rules that declared that set are matched, instead of in the
//! plain text. Decoding changes nothing in text without escapes, so such a
//! rule finds all it finds in plain text, and also what escapes hid.
//! `base64` makes one more view for the rules that declare it: each base64
//! run of text decoded on its own, a finding in it masking the whole run.
//! A view's findings are found by the block semantics of
//! [`crate::search`] on its text, then mapped back: a finding covers the
//! original bytes of every unit (escape, character) it touches. All views'
//! findings are then merged by the block rule once more: leftmost start,
//! then a text-changing action before a log, then longest, then the rule
//! declared first, then the view (plain first); a finding overlapping one
//! already chosen is dropped.
//!
//! A block scan of a text in which no byte can start an escape scans the
//! text itself for a view's rules: decoding would give the same bytes.
//!
//! # Streaming
//!
//! [`Viewed`] runs one [`Core`] per view that has rules (findings only)
//! and keeps the original bytes. Each view has a *watermark*: every
//! finding it will still report starts at or after it (a core's decided
//! offset mapped back through the decoder's map, or the decoder's next
//! undecoded byte; an open base64 run's start). A finding is chosen once
//! it starts before every watermark: then every finding that could precede
//! it is known, so the merge chooses exactly as the block merge does, and
//! a stream gives the block result for every cutting. When every rule
//! declares the same decodings (the shipped packs), a stream runs one
//! core, over the decoded text.

use std::cmp::Reverse;

use crate::cache::Cache;
use crate::decode::{
    decode_base64_text, Base64Runs, OriginMap, TextDecoder, BASE64_MAX, MAX_SOURCE_PER_BYTE,
    MAX_UNIT,
};
use crate::findings::{Disposition, Finding, Rejection, RuleId};
use crate::ruleset::{Compiled, RuleSet};
use crate::search::BlockSearch;
use crate::spec::{Action, Decoding, DecodingSet, RuleSpec, Scope, Side};
use crate::stream::{utf8_safe_end, Core};

/// Which rules a scan matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// The text as it is: the rules that declare no text decoding.
    Raw,
    /// The text decoded by the `n`th set of text decodings.
    Text(usize),
    /// Decoded base64 runs.
    Base64,
}

/// The views a rule set's rules declare.
#[derive(Debug, Default)]
pub(crate) struct Views {
    /// The rules matched in the text as it is; `None` when there is none.
    raw: Option<Vec<bool>>,
    /// One per distinct set of text decodings, in order of first use; each
    /// with its rules.
    text: Vec<(DecodingSet, Vec<bool>)>,
    /// The rules that declare `base64`, if any does.
    base64: Option<Vec<bool>>,
}

impl Views {
    pub(crate) fn new(rules: &[RuleSpec]) -> Views {
        let mut views = Views::default();
        for (index, rule) in rules.iter().enumerate() {
            let text = rule.decode.text_only();
            if text.is_empty() {
                views.raw.get_or_insert_with(|| vec![false; rules.len()])[index] = true;
            } else {
                let position = match views.text.iter().position(|(set, _)| *set == text) {
                    Some(position) => position,
                    None => {
                        views.text.push((text, vec![false; rules.len()]));
                        views.text.len() - 1
                    }
                };
                views.text[position].1[index] = true;
            }
            if rule.decode.contains(Decoding::Base64) {
                views.base64.get_or_insert_with(|| vec![false; rules.len()])[index] = true;
            }
        }
        views
    }

    /// What a stream holds at most when a scan of one view holds at most
    /// `held` bytes (see [`crate::RuleSet::max_held`]).
    pub(crate) fn max_held(&self, held: usize) -> usize {
        let text = if self.text.is_empty() {
            held
        } else {
            held * MAX_SOURCE_PER_BYTE + MAX_UNIT
        };
        let base64 = if self.base64.is_some() {
            BASE64_MAX + 3
        } else {
            0
        };
        text.max(base64)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty() && self.base64.is_none()
    }

    pub(crate) fn contains(&self, view: View, rule: RuleId) -> bool {
        match view {
            // With no view at all (`raw` unset), every rule is plain.
            View::Raw => self.raw.as_ref().is_none_or(|rules| rules[rule.index()]),
            View::Text(n) => self.text[n].1[rule.index()],
            View::Base64 => self
                .base64
                .as_ref()
                .is_some_and(|rules| rules[rule.index()]),
        }
    }
}

/// A finding of some view, in original offsets, with the view's rank for
/// breaking ties (raw first).
#[derive(Clone, Copy, Debug)]
struct Candidate {
    finding: Finding,
    rank: usize,
}

impl Candidate {
    fn key(&self) -> (usize, bool, Reverse<usize>, RuleId, usize) {
        (
            self.finding.start,
            self.finding.disposition == Disposition::Log,
            Reverse(self.finding.end),
            self.finding.rule,
            self.rank,
        )
    }
}

type Eligible<'a> = dyn Fn(RuleId) -> Option<&'a Action> + 'a;

impl Compiled {
    /// The run patterns whose rules are matched in `view`.
    pub(crate) fn run_mask(&self, view: View) -> u32 {
        self.automata
            .runs
            .mask(|pattern| self.views.contains(view, self.pattern_rule[pattern]))
    }

    /// Every finding of `text` in the view, by the block semantics, in the
    /// view's own (decoded) offsets.
    fn view_findings(
        &self,
        cache: &mut Cache,
        text: &[u8],
        view: View,
        eligible: &Eligible<'_>,
    ) -> Vec<Finding> {
        let in_view = |rule: RuleId| {
            if self.views.contains(view, rule) {
                eligible(rule)
            } else {
                None
            }
        };
        let mut findings = Vec::new();
        let mut at = 0;
        let mut search = BlockSearch::new(self, self.run_mask(view), text, true);
        while let Some((rule, span)) =
            self.next_finding(cache, text, at, text.len(), true, &in_view, &mut search)
        {
            let disposition = in_view(rule).map_or(Disposition::Log, Disposition::of);
            findings.push(Finding {
                rule,
                start: span.start,
                end: span.end,
                disposition,
            });
            at = span.end;
        }
        findings
    }

    /// Every finding of `text` over all views, merged: the block result.
    pub(crate) fn block_findings(
        &self,
        cache: &mut Cache,
        text: &[u8],
        eligible: &Eligible<'_>,
    ) -> Vec<Finding> {
        if self.views.is_empty() {
            return self.view_findings(cache, text, View::Raw, eligible);
        }
        let mut candidates: Vec<Candidate> = Vec::new();
        if self.views.raw.is_some() {
            for finding in self.view_findings(cache, text, View::Raw, eligible) {
                candidates.push(Candidate { finding, rank: 0 });
            }
        }
        for n in 0..self.views.text.len() {
            let mut decoder = TextDecoder::new(self.views.text[n].0);
            let view = View::Text(n);
            if !decoder.may_change(text) {
                // The decoded text would be the text itself.
                for finding in self.view_findings(cache, text, view, eligible) {
                    candidates.push(Candidate {
                        finding,
                        rank: n + 1,
                    });
                }
                continue;
            }
            let (mut decoded, mut map) = (Vec::with_capacity(text.len()), OriginMap::default());
            decoder.feed(text, true, &mut decoded, &mut map);
            for finding in self.view_findings(cache, &decoded, view, eligible) {
                let finding = mapped(&map, finding);
                candidates.push(Candidate {
                    finding,
                    rank: n + 1,
                });
            }
        }
        if self.views.base64.is_some() {
            let rank = self.views.text.len() + 1;
            let mut runs = Vec::new();
            let mut finder = Base64Runs::default();
            finder.feed(text, |start, end| runs.push((start, end)));
            finder.finish(|start, end| runs.push((start, end)));
            for (start, end) in runs {
                if let Some(finding) = self.base64_finding(cache, text, start, end, eligible) {
                    candidates.push(Candidate { finding, rank });
                }
            }
        }
        if candidates.len() > 1 {
            candidates.sort_by_key(Candidate::key);
        }
        let mut findings: Vec<Finding> = Vec::with_capacity(candidates.len());
        let mut covered = 0;
        for candidate in candidates {
            if candidate.finding.start >= covered {
                covered = candidate.finding.end;
                findings.push(candidate.finding);
            }
        }
        findings
    }

    /// The finding a base64 run `text[start..end]` makes: the strongest
    /// action among the findings of its decoded text (the first of them at
    /// equal strength), over the whole run.
    fn base64_finding(
        &self,
        cache: &mut Cache,
        text: &[u8],
        start: usize,
        end: usize,
        eligible: &Eligible<'_>,
    ) -> Option<Finding> {
        let decoded = decode_base64_text(&text[start..end])?;
        let strength = |d: Disposition| match d {
            Disposition::Reject => 2,
            Disposition::Mask => 1,
            Disposition::Log => 0,
        };
        let best = self
            .view_findings(cache, &decoded, View::Base64, eligible)
            .into_iter()
            .rev()
            .max_by_key(|f| strength(f.disposition))?;
        Some(Finding { start, end, ..best })
    }
}

/// A text view's finding in original offsets.
fn mapped(map: &OriginMap, finding: Finding) -> Finding {
    let (start, end) = map.span(finding.start, finding.end);
    Finding {
        start,
        end,
        ..finding
    }
}

/// A text view of a stream.
struct TextStream {
    decoder: TextDecoder,
    map: OriginMap,
    core: Core,
    decoded: Vec<u8>,
}

/// The streaming scanner of a rule set with decoded views.
pub(crate) struct Viewed {
    set: RuleSet,
    side: Side,
    scope: Scope,
    /// The plain view, when some rule declares no text decoding.
    raw: Option<Core>,
    texts: Vec<TextStream>,
    base64: Option<Base64Runs>,
    /// Original bytes `buf_start..total`: those not written out yet.
    buf: Vec<u8>,
    buf_start: usize,
    /// Every original byte before this offset has been written out.
    emitted: usize,
    total: usize,
    /// Findings of the views not chosen or dropped yet.
    candidates: Vec<Candidate>,
    /// Chosen findings not taken yet.
    findings: Vec<Finding>,
    rejection: Option<Rejection>,
    /// Scratch: base64 runs ended in the current chunk.
    runs: Vec<(usize, usize)>,
    scratch: Vec<u8>,
}

impl Viewed {
    pub(crate) fn new(set: &RuleSet, side: Side, scope: Scope) -> Viewed {
        let views = &set.inner.views;
        Viewed {
            set: set.clone(),
            side,
            scope,
            raw: views
                .raw
                .is_some()
                .then(|| Core::new(set, side, scope, View::Raw, true)),
            texts: (0..views.text.len())
                .map(|n| TextStream {
                    decoder: TextDecoder::new(views.text[n].0),
                    map: OriginMap::default(),
                    core: Core::new(set, side, scope, View::Text(n), true),
                    decoded: Vec::new(),
                })
                .collect(),
            base64: views.base64.as_ref().map(|_| Base64Runs::default()),
            buf: Vec::new(),
            buf_start: 0,
            emitted: 0,
            total: 0,
            candidates: Vec::new(),
            findings: Vec::new(),
            rejection: None,
            runs: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub(crate) fn push_with(
        &mut self,
        cache: &mut Cache,
        chunk: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        self.step(cache, chunk, false, out)
    }

    pub(crate) fn finish_with(
        &mut self,
        cache: &mut Cache,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        self.step(cache, &[], true, out)
    }

    fn step(
        &mut self,
        cache: &mut Cache,
        chunk: &[u8],
        eoi: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        if let Some(rejection) = &self.rejection {
            return Err(rejection.clone());
        }
        self.buf.extend_from_slice(chunk);
        self.total += chunk.len();
        // Findings-only cores never reject and write nothing.
        let sink = &mut self.scratch;
        if let Some(raw) = &mut self.raw {
            let _ = raw.push_with(cache, chunk, sink);
            if eoi {
                let _ = raw.finish_with(cache, sink);
            }
            sink.clear();
            for finding in raw.take_findings() {
                self.candidates.push(Candidate { finding, rank: 0 });
            }
        }
        for (n, text) in self.texts.iter_mut().enumerate() {
            text.decoded.clear();
            text.decoder
                .feed(chunk, eoi, &mut text.decoded, &mut text.map);
            let _ = text.core.push_with(cache, &text.decoded, sink);
            if eoi {
                let _ = text.core.finish_with(cache, sink);
            }
            sink.clear();
            for finding in text.core.take_findings() {
                let finding = mapped(&text.map, finding);
                self.candidates.push(Candidate {
                    finding,
                    rank: n + 1,
                });
            }
            text.map.forget_before(text.core.decided());
        }
        if let Some(finder) = &mut self.base64 {
            let runs = &mut self.runs;
            finder.feed(chunk, |start, end| runs.push((start, end)));
            if eoi {
                finder.finish(|start, end| runs.push((start, end)));
            }
            let rank = self.texts.len() + 1;
            let inner = &*self.set.inner;
            let (side, scope) = (self.side, self.scope);
            let eligible = |rule: RuleId| inner.rule(rule).action_for(side, scope);
            for (start, end) in self.runs.drain(..) {
                // A run that starts inside a chosen finding would be
                // dropped by the merge: its bytes are gone, and so is the
                // need to decode it.
                if start < self.emitted {
                    continue;
                }
                let local = start - self.buf_start..end - self.buf_start;
                if let Some(finding) =
                    inner.base64_finding(cache, &self.buf, local.start, local.end, &eligible)
                {
                    let finding = Finding {
                        start,
                        end,
                        ..finding
                    };
                    self.candidates.push(Candidate { finding, rank });
                }
            }
        }
        self.choose(eoi, out)
    }

    /// Every finding a view may still report starts at or after this.
    fn watermark(&self) -> usize {
        let mut watermark = self.raw.as_ref().map_or(self.total, Core::decided);
        for text in &self.texts {
            let decided = text.core.decided();
            let view = if decided < text.core.total() {
                text.map.origin(decided)
            } else {
                text.decoder.next_origin()
            };
            watermark = watermark.min(view);
        }
        if let Some(finder) = &self.base64 {
            watermark = watermark.min(finder.watermark());
        }
        watermark
    }

    /// Chooses the findings that start before every watermark, in the
    /// merge order, and writes out what is decided.
    fn choose(&mut self, eoi: bool, out: &mut Vec<u8>) -> Result<(), Rejection> {
        let watermark = if eoi { self.total } else { self.watermark() };
        let inner = &*self.set.inner;
        let (side, scope) = (self.side, self.scope);
        while let Some(best) = (0..self.candidates.len())
            .filter(|&i| eoi || self.candidates[i].finding.start < watermark)
            .min_by_key(|&i| self.candidates[i].key())
        {
            let finding = self.candidates.swap_remove(best).finding;
            if finding.start < self.emitted {
                continue;
            }
            let base = self.buf_start;
            out.extend_from_slice(&self.buf[self.emitted - base..finding.start - base]);
            self.findings.push(finding);
            if finding.disposition == Disposition::Reject {
                let rejection = inner.rejection(side, scope, finding);
                self.rejection = Some(rejection.clone());
                self.emitted = finding.start;
                return Err(rejection);
            }
            let local = Finding {
                start: finding.start - base,
                end: finding.end - base,
                ..finding
            };
            inner.write_finding(side, scope, &local, &self.buf, out);
            self.emitted = finding.end;
        }
        let base = self.buf_start;
        if watermark > self.emitted {
            let end = if eoi {
                watermark
            } else {
                base + utf8_safe_end(&self.buf, watermark - base).max(self.emitted - base)
            };
            out.extend_from_slice(&self.buf[self.emitted - base..end - base]);
            self.emitted = end;
        }
        self.buf.drain(..self.emitted - base);
        self.buf_start = self.emitted;
        Ok(())
    }

    pub(crate) fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.findings)
    }

    pub(crate) fn held(&self) -> usize {
        if self.rejection.is_some() {
            return 0;
        }
        self.total - self.emitted
    }

    pub(crate) fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    pub(crate) fn position(&self) -> usize {
        self.total
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.raw.as_ref().map_or(0, Core::memory_usage)
            + self
                .texts
                .iter()
                .map(|t| {
                    t.core.memory_usage()
                        + t.map.memory_usage()
                        + t.decoder.memory_usage()
                        + t.decoded.capacity()
                })
                .sum::<usize>()
            + self.buf.capacity()
            + self.candidates.capacity() * std::mem::size_of::<Candidate>()
            + self.findings.capacity() * std::mem::size_of::<Finding>()
            + self.scratch.capacity()
    }
}
