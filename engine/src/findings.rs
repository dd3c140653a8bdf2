//! What a scan reports: findings, rejections and the results of applying
//! the actions. Plain data; nothing here knows how matches are found.

use crate::spec::Action;

/// A rule of one [`RuleSet`](crate::RuleSet), in declaration order. Only
/// the rule set makes them, so an id names a rule of the set that gave it;
/// asking another set about it returns `None`, never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(u32);

impl RuleId {
    pub(crate) fn new(index: usize) -> RuleId {
        RuleId(u32::try_from(index).expect("fewer than 2^32 rules"))
    }

    /// The rule's position in declaration order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What happens to a finding's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    Reject,
    Mask,
    Log,
}

impl Disposition {
    pub(crate) fn of(action: &Action) -> Disposition {
        match action {
            Action::Reject { .. } => Disposition::Reject,
            Action::Mask { .. } => Disposition::Mask,
            Action::Log => Disposition::Log,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Disposition::Reject => "reject",
            Disposition::Mask => "mask",
            Disposition::Log => "log",
        }
    }
}

/// One match that counted: byte offsets into the scanned text (or stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Finding {
    pub rule: RuleId,
    pub start: usize,
    pub end: usize,
    pub disposition: Disposition,
}

/// The first rejecting finding of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub rule: RuleId,
    pub rule_name: String,
    pub message: String,
    pub finding: Finding,
}

/// The result of [`RuleSet::apply`](crate::RuleSet::apply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to change (there may still be `log` findings).
    Clean,
    Masked(String),
    Rejected(Rejection),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub verdict: Verdict,
    /// Every finding up to the rejection, if any.
    pub findings: Vec<Finding>,
}

/// The result of [`RuleSet::apply_all`](crate::RuleSet::apply_all): every
/// rejection, and the text as it would read with every reject turned into a
/// mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedAll {
    /// Every finding, rejecting ones included, in text order.
    pub findings: Vec<Finding>,
    /// One per rejecting finding, in text order.
    pub rejections: Vec<Rejection>,
    /// The masked text, each rejecting finding replaced by its rule's
    /// [fallback mask](crate::RuleSet::fallback_mask); `None` when nothing
    /// would change.
    pub masked: Option<String>,
}
