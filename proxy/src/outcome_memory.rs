//! What scanning a text gave, remembered, so a text seen before costs a
//! hash instead of a scan.
//!
//! Clients resend a whole conversation every turn: all but the newest text
//! of a request was scanned on the previous one. [`OutcomeMemory`] maps a
//! keyed 128-bit hash of (side, scope, text) to what
//! [`RuleSet::apply_all`] returned for it: a marker when nothing was
//! found, otherwise the [`AppliedAll`] itself.
//!
//! Invariants:
//! - A remembered outcome is the outcome: for one rule set, `apply_all`
//!   through the memory equals `RuleSet::apply_all`, hit or miss. The key
//!   is SipHash-1-3 (128-bit) under a key drawn from the OS for each
//!   memory, so a client cannot craft two texts that share an entry;
//!   side and scope are hashed with the text, so texts scanned under
//!   different actions never share one.
//! - One memory belongs to one compiled rule set: [`Generation`] holds the
//!   two together, and whatever replaces the rules replaces the memory.
//! - Bounded: the entries' bytes (each entry's heap, plus its slot and its
//!   share of the index) stay within the budget. Eviction is CLOCK (second
//!   chance) in each of a few shards under their own mutex: a text read
//!   since the hand last passed survives one more sweep, so one large
//!   request of new text does not wipe out the conversation in use.
//! - A caller may key a text by an encoded form that determines it (a
//!   JSON string's escaped bytes, [`OutcomeMemory::apply_all_encoded`]):
//!   a text seen before is then not even decoded. The form is hashed
//!   too, so an encoded form never meets a text with the same bytes.
//! - Texts shorter than [`MIN_REMEMBERED_LEN`] bytes are scanned, never
//!   remembered.
//! - A caller may also remember that a whole part of a JSON body (a
//!   message: every string in it) gave no finding when walked in a given
//!   context ([`OutcomeMemory::look_up_clean`]): keyed by the context and
//!   every byte of the part, so only the same bytes walked the same way
//!   skip their scans. Only clean parts are remembered; a part with a
//!   finding is walked string by string every time. The strict parse
//!   that precedes any walk still reads and checks every byte.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::size_of;
use std::sync::{Arc, Mutex, PoisonError};

use rulegate_engine::{AppliedAll, Finding, Rejection, RuleSet, Scope, Side};
use siphasher::sip128::{Hasher128, SipHasher13};

/// Texts shorter than this are scanned each time. `benches/conversation.rs`
/// measured, for clean text with the shipped packs, a scan at 140 ns for
/// 4 bytes and 210 ns for 16 (the engine's fixed cost) against 20-25 ns
/// for a look-up: remembering pays from the shortest texts on; below 8
/// bytes texts are mostly keys and markers not worth an entry each.
pub const MIN_REMEMBERED_LEN: usize = 8;

/// Shards of the memory, each under its own mutex: enough that two
/// threads rarely meet on one, few enough that a shard's budget holds a
/// large entry.
const SHARDS: usize = 8;

/// An entry costing more than this share of its shard's budget is not
/// remembered: one huge text must not evict a shard's worth of others.
const MAX_ENTRY_SHARE: usize = 4;

/// What scanning one text found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remembered {
    /// No finding at all.
    Clean,
    /// What `apply_all` returned (findings, rejections, the masked text).
    Found(Arc<AppliedAll>),
}

impl From<AppliedAll> for Remembered {
    fn from(applied: AppliedAll) -> Remembered {
        if applied.findings.is_empty() {
            Remembered::Clean
        } else {
            Remembered::Found(Arc::new(applied))
        }
    }
}

/// A look-up that found nothing, and where what a scan gives goes (nowhere
/// for a text too short to remember).
#[derive(Debug)]
pub struct Miss(Option<Key>);

/// One compiled rule set and the outcomes remembered for it: the unit a
/// gateway holds and a reload would swap, so a memory never answers for
/// rules other than its own.
#[derive(Clone)]
pub struct Generation {
    rules: RuleSet,
    memory: Option<Arc<OutcomeMemory>>,
}

impl Generation {
    /// `rules` with a memory of `memory_bytes` (0: none).
    pub fn new(rules: RuleSet, memory_bytes: u64) -> Generation {
        let memory = (memory_bytes > 0).then(|| {
            let bytes = usize::try_from(memory_bytes).unwrap_or(usize::MAX);
            Arc::new(OutcomeMemory::new(bytes))
        });
        Generation { rules, memory }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn memory(&self) -> Option<&OutcomeMemory> {
        self.memory.as_deref()
    }

    /// [`RuleSet::apply_all`], through the memory when there is one.
    pub fn apply_all(&self, side: Side, scope: Scope, text: &str) -> Remembered {
        match &self.memory {
            Some(memory) => memory.apply_all(&self.rules, side, scope, text),
            None => self.rules.apply_all(side, scope, text).into(),
        }
    }
}

/// A rule set without a memory.
impl From<RuleSet> for Generation {
    fn from(rules: RuleSet) -> Generation {
        Generation {
            rules,
            memory: None,
        }
    }
}

/// The bounded map from (side, scope, text) to what scanning it found.
pub struct OutcomeMemory {
    key: [u8; 16],
    shards: Box<[Mutex<Shard>]>,
    shard_budget: usize,
}

impl std::fmt::Debug for OutcomeMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the hash key.
        f.debug_struct("OutcomeMemory")
            .field("budget", &self.budget())
            .field("bytes", &self.bytes())
            .finish_non_exhaustive()
    }
}

impl OutcomeMemory {
    /// A memory of at most `budget` bytes, keyed from the OS's randomness.
    pub fn new(budget: usize) -> OutcomeMemory {
        let mut key = [0u8; 16];
        if getrandom::getrandom(&mut key).is_err() {
            // No OS randomness: fall back on the standard library's
            // per-process random hasher keys (also from the OS, or from
            // the clock and addresses where there is none).
            use std::hash::BuildHasher;
            let state = std::collections::hash_map::RandomState::new();
            key[..8].copy_from_slice(&state.hash_one(1u8).to_le_bytes());
            key[8..].copy_from_slice(&state.hash_one(2u8).to_le_bytes());
        }
        OutcomeMemory::with_key(budget, key)
    }

    /// A memory with a chosen hash key (tests).
    pub fn with_key(budget: usize, key: [u8; 16]) -> OutcomeMemory {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        OutcomeMemory {
            key,
            shards,
            shard_budget: budget / SHARDS,
        }
    }

    /// [`RuleSet::apply_all`] for `text`, remembered: `rules` must be the
    /// set this memory has always been used with.
    pub fn apply_all(&self, rules: &RuleSet, side: Side, scope: Scope, text: &str) -> Remembered {
        if text.len() < MIN_REMEMBERED_LEN {
            return rules.apply_all(side, scope, text).into();
        }
        let key = self.key_of(side, scope, Form::Text, text);
        self.lookup_or_scan(key, || rules.apply_all(side, scope, text))
    }

    /// Like [`OutcomeMemory::apply_all`] for the text `decode` gives, looked
    /// up by `encoded`, a form of it that determines it (a JSON string's
    /// bytes between the quotes, escapes and all), so a text seen before
    /// is not even decoded. Keys of encoded forms never meet keys of texts.
    pub fn apply_all_encoded<'t>(
        &self,
        rules: &RuleSet,
        side: Side,
        scope: Scope,
        encoded: &str,
        decode: impl FnOnce() -> std::borrow::Cow<'t, str>,
    ) -> Remembered {
        match self.look_up_encoded(side, scope, encoded) {
            Ok(known) => known,
            Err(miss) => self.remember(miss, rules.apply_all(side, scope, &decode())),
        }
    }

    /// The first half of [`OutcomeMemory::apply_all_encoded`], for a caller
    /// that decides whether to scan now: what is remembered for the text
    /// `encoded` encodes, or the [`Miss`] to hand to
    /// [`OutcomeMemory::remember`] with what `apply_all` gave for it.
    pub fn look_up_encoded(
        &self,
        side: Side,
        scope: Scope,
        encoded: &str,
    ) -> Result<Remembered, Miss> {
        if encoded.len() < MIN_REMEMBERED_LEN {
            return Err(Miss(None));
        }
        let key = self.key_of(side, scope, Form::Encoded, encoded);
        self.shard(key).get(key).ok_or(Miss(Some(key)))
    }

    /// Whether a part of a JSON body (its bytes `json`, walked in the
    /// caller's `context`) gave no finding at all when its strings were
    /// scanned; if not known, the [`Miss`] to hand to
    /// [`OutcomeMemory::remember_clean`] once a walk of it found nothing.
    /// The key holds the context and every byte of the part, so a clean
    /// part comes back clean only as the same bytes in the same context
    /// (every string of it scanned, by this rule set, before).
    pub fn look_up_clean(&self, side: Side, context: u8, json: &str) -> Result<(), Miss> {
        let mut hasher = SipHasher13::new_with_key(&self.key);
        hasher.write_u8(side_tag(side));
        hasher.write_u8(u8::MAX);
        hasher.write_u8(Form::Part as u8);
        hasher.write_u8(context);
        hasher.write(json.as_bytes());
        let hash = hasher.finish128();
        let key = [hash.h1, hash.h2];
        match self.shard(key).get(key) {
            Some(Remembered::Clean) => Ok(()),
            _ => Err(Miss(Some(key))),
        }
    }

    /// Remembers that the part of a [`OutcomeMemory::look_up_clean`] that
    /// missed gave no finding.
    pub fn remember_clean(&self, miss: Miss) {
        if let Miss(Some(key)) = miss {
            self.insert(key, &Remembered::Clean);
        }
    }

    /// Remembers what `apply_all` gave for the text of a look-up that
    /// missed, with this memory's rule set; the outcome.
    pub fn remember(&self, miss: Miss, applied: AppliedAll) -> Remembered {
        let outcome: Remembered = applied.into();
        if let Miss(Some(key)) = miss {
            self.insert(key, &outcome);
        }
        outcome
    }

    fn lookup_or_scan(&self, key: Key, scan: impl FnOnce() -> AppliedAll) -> Remembered {
        if let Some(known) = self.shard(key).get(key) {
            return known;
        }
        let outcome: Remembered = scan().into();
        self.insert(key, &outcome);
        outcome
    }

    fn insert(&self, key: Key, outcome: &Remembered) {
        let cost = cost(outcome);
        if cost <= self.shard_budget / MAX_ENTRY_SHARE {
            self.shard(key)
                .insert(key, outcome.clone(), cost, self.shard_budget);
        }
    }

    /// What is remembered for `text`, if anything.
    pub fn get(&self, side: Side, scope: Scope, text: &str) -> Option<Remembered> {
        let key = self.key_of(side, scope, Form::Text, text);
        self.shard(key).get(key)
    }

    /// Bytes the entries take, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| lock(s).bytes).sum()
    }

    /// Entries remembered.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).index.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn budget(&self) -> usize {
        self.shard_budget * SHARDS
    }

    fn key_of(&self, side: Side, scope: Scope, form: Form, text: &str) -> Key {
        let mut hasher = SipHasher13::new_with_key(&self.key);
        hasher.write_u8(side_tag(side));
        hasher.write_u8(scope_tag(scope));
        hasher.write_u8(form as u8);
        hasher.write(text.as_bytes());
        let hash = hasher.finish128();
        [hash.h1, hash.h2]
    }

    fn shard(&self, key: Key) -> std::sync::MutexGuard<'_, Shard> {
        // The low word feeds the index's hasher; the high word picks the shard.
        lock(&self.shards[(key[1] % SHARDS as u64) as usize])
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic under the lock leaves at worst an entry half evicted, whose
    // bytes are still counted: the memory stays correct and bounded.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the hashed bytes give the text: they are the text, or encode it,
/// or they are a part of a JSON body (whose outcome is only ever clean).
#[derive(Clone, Copy)]
enum Form {
    Text = 0,
    Encoded = 1,
    Part = 2,
}

fn side_tag(side: Side) -> u8 {
    match side {
        Side::Request => 0,
        Side::Response => 1,
    }
}

fn scope_tag(scope: Scope) -> u8 {
    match scope {
        Scope::System => 0,
        Scope::User => 1,
        Scope::Assistant => 2,
        Scope::ToolResult => 3,
        Scope::ToolInput => 4,
    }
}

/// A keyed 128-bit hash, as two words (8-byte aligned, unlike `u128`).
type Key = [u64; 2];

/// The index's hasher: the key already is a keyed hash; take a word.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached through `write_u64` for a `[u64; 2]`'s words (and
        // its length prefix); mix anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 ^= word;
    }

    fn write_usize(&mut self, _length: usize) {}
}

/// One remembered outcome in the CLOCK ring; `cost == 0` marks a free slot.
struct Slot {
    key: Key,
    /// `None`: clean.
    found: Option<Arc<AppliedAll>>,
    cost: u32,
    /// Read since the hand last passed.
    referenced: bool,
}

/// What an entry costs besides its outcome's heap: its slot and its
/// share of the index (a key, a slot number and a control byte, at the
/// index's load factor of 7/8).
const ENTRY_OVERHEAD: usize = size_of::<Slot>() + (size_of::<(Key, u32)>() + 1) * 8 / 7;

// A clean entry stays small: a slot of 32 bytes and an index entry.
const _: () = assert!(ENTRY_OVERHEAD <= 64);

/// An entry's bytes as counted against the budget.
fn cost(outcome: &Remembered) -> usize {
    let heap = match outcome {
        Remembered::Clean => 0,
        Remembered::Found(applied) => {
            // The Arc's counts, the struct, and what it owns.
            2 * size_of::<usize>()
                + size_of::<AppliedAll>()
                + applied.findings.capacity() * size_of::<Finding>()
                + applied.rejections.capacity() * size_of::<Rejection>()
                + applied
                    .rejections
                    .iter()
                    .map(|r| r.rule_name.capacity() + r.message.capacity())
                    .sum::<usize>()
                + applied.masked.as_ref().map_or(0, String::capacity)
        }
    };
    ENTRY_OVERHEAD + heap
}

#[derive(Default)]
struct Shard {
    index: HashMap<Key, u32, BuildHasherDefault<KeyHasher>>,
    slots: Vec<Slot>,
    /// Free slots, the most recently freed last.
    free: Vec<u32>,
    hand: usize,
    bytes: usize,
}

impl Shard {
    fn get(&mut self, key: Key) -> Option<Remembered> {
        let at = *self.index.get(&key)? as usize;
        let slot = &mut self.slots[at];
        slot.referenced = true;
        Some(match &slot.found {
            None => Remembered::Clean,
            Some(found) => Remembered::Found(found.clone()),
        })
    }

    fn insert(&mut self, key: Key, outcome: Remembered, cost: usize, budget: usize) {
        if self.index.contains_key(&key) {
            // Another thread scanned the same text meanwhile.
            return;
        }
        while self.bytes + cost > budget {
            if !self.evict_one() {
                return;
            }
        }
        let slot = Slot {
            key,
            found: match outcome {
                Remembered::Clean => None,
                Remembered::Found(found) => Some(found),
            },
            cost: u32::try_from(cost).unwrap_or(u32::MAX),
            referenced: false,
        };
        // The slot just freed is the one behind the hand: a new entry gets
        // a whole turn of the hand before it can go.
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at as usize] = slot;
                at
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, at);
        self.bytes += cost;
    }

    /// Evicts the first entry the hand finds unread since its last pass,
    /// clearing the marks it passes; false when the shard is empty.
    fn evict_one(&mut self) -> bool {
        if self.index.is_empty() {
            return false;
        }
        // Ends within two turns: the first clears every mark.
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let at = self.hand;
            self.hand += 1;
            let slot = &mut self.slots[at];
            if slot.cost == 0 {
                continue;
            }
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            self.bytes -= slot.cost as usize;
            slot.cost = 0;
            slot.found = None;
            let key = slot.key;
            self.index.remove(&key);
            self.free.push(at as u32);
            return true;
        }
    }
}

/// The generations serving new requests (the default one, and one per
/// team with rules of its own) and their number (1 for the rules loaded at
/// start). A reload swaps them all at once; a request takes its generation
/// when it starts and keeps it to its end (a stream to its last event), so
/// nothing in flight ever sees two rule sets.
pub struct LiveGeneration {
    current: std::sync::RwLock<Live>,
}

struct Live {
    number: u64,
    default: Generation,
    teams: HashMap<String, Generation>,
}

impl LiveGeneration {
    pub fn new(generation: Generation) -> LiveGeneration {
        LiveGeneration::with_teams(generation, HashMap::new())
    }

    /// `default`, and for each named team its own generation.
    pub fn with_teams(default: Generation, teams: HashMap<String, Generation>) -> LiveGeneration {
        LiveGeneration {
            current: std::sync::RwLock::new(Live {
                number: 1,
                default,
                teams,
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        match self.current.read() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The default generation, for a new request of no team with rules of
    /// its own.
    pub fn current(&self) -> Generation {
        self.read().default.clone()
    }

    /// The generation for a new request of `team`.
    pub fn current_for(&self, team: Option<&str>) -> Generation {
        let live = self.read();
        team.and_then(|team| live.teams.get(team))
            .unwrap_or(&live.default)
            .clone()
    }

    pub fn number(&self) -> u64 {
        self.read().number
    }

    /// Makes `default` and `teams` the generations new requests get;
    /// returns their number.
    pub fn swap(&self, default: Generation, teams: HashMap<String, Generation>) -> u64 {
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        let number = current.number + 1;
        *current = Live {
            number,
            default,
            teams,
        };
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rules;

    const RULES: &str = "rule key {\n  match /sk-[a-z0-9]{8}/\n  request mask \"[key]\"\n  response mask \"[key]\"\n}\n\
        rule user-only {\n  match /user-[0-9]{4}/\n  request mask \"[u]\" in user\n}\n";

    fn padded(text: &str) -> String {
        format!("{text} {}", "x".repeat(MIN_REMEMBERED_LEN))
    }

    #[test]
    fn a_remembered_outcome_is_the_scanned_one() {
        let rules = test_rules(RULES);
        let memory = OutcomeMemory::new(1 << 20);
        let text = padded("key sk-abcdef12 here");
        let first = memory.apply_all(&rules, Side::Request, Scope::User, &text);
        assert_eq!(memory.len(), 1);
        let again = memory.apply_all(&rules, Side::Request, Scope::User, &text);
        assert_eq!(first, again);
        let Remembered::Found(applied) = &again else {
            panic!("the key is found");
        };
        assert_eq!(
            **applied,
            rules.apply_all(Side::Request, Scope::User, &text)
        );
        assert_eq!(memory.len(), 1, "the second call was a hit");
    }

    #[test]
    fn clean_texts_are_markers() {
        let rules = test_rules(RULES);
        let memory = OutcomeMemory::new(1 << 20);
        let text = padded("nothing to see");
        let outcome = memory.apply_all(&rules, Side::Request, Scope::User, &text);
        assert_eq!(outcome, Remembered::Clean);
        assert_eq!(memory.bytes(), ENTRY_OVERHEAD);
    }

    #[test]
    fn side_scope_and_text_never_share_an_entry() {
        let rules = test_rules(RULES);
        let memory = OutcomeMemory::new(1 << 20);
        let text = padded("id user-1234");
        // Masked in the user's scope, not in the system's.
        let user = memory.apply_all(&rules, Side::Request, Scope::User, &text);
        assert!(matches!(user, Remembered::Found(_)));
        let system = memory.apply_all(&rules, Side::Request, Scope::System, &text);
        assert_eq!(system, Remembered::Clean);
        let response = memory.apply_all(&rules, Side::Response, Scope::User, &text);
        assert_eq!(response, Remembered::Clean, "rule acts on requests only");
        assert_eq!(memory.len(), 3);
        assert_eq!(memory.get(Side::Request, Scope::User, &text), Some(user));
        assert_eq!(
            memory.get(Side::Request, Scope::System, &text),
            Some(Remembered::Clean)
        );
        // One byte more is another text.
        let longer = format!("{text}.");
        assert_eq!(memory.get(Side::Request, Scope::User, &longer), None);
        // Every side and scope gets its own key.
        let mut keys = std::collections::HashSet::new();
        for side in Side::ALL {
            for scope in Scope::ALL {
                for form in [Form::Text, Form::Encoded] {
                    assert!(keys.insert(memory.key_of(side, scope, form, &text)));
                }
            }
        }
    }

    #[test]
    fn an_encoded_form_is_decoded_only_on_a_miss_and_never_meets_a_text() {
        let rules = test_rules(RULES);
        let memory = OutcomeMemory::new(1 << 20);
        let decoded = padded("a key\nsk-abcdef12");
        let encoded = decoded.replace('\n', "\\n");
        let decodes = std::cell::Cell::new(0);
        let decode = || {
            decodes.set(decodes.get() + 1);
            std::borrow::Cow::Borrowed(decoded.as_str())
        };
        let expected: Remembered = rules.apply_all(Side::Request, Scope::User, &decoded).into();
        for _ in 0..3 {
            let got =
                memory.apply_all_encoded(&rules, Side::Request, Scope::User, &encoded, decode);
            assert_eq!(got, expected);
        }
        assert_eq!(decodes.get(), 1);
        // The plain text with the encoded form's bytes is another entry.
        assert_eq!(memory.get(Side::Request, Scope::User, &encoded), None);
        let plain = memory.apply_all(&rules, Side::Request, Scope::User, &encoded);
        assert_eq!(
            plain,
            rules.apply_all(Side::Request, Scope::User, &encoded).into()
        );
        assert_eq!(memory.len(), 2);
    }

    #[test]
    fn short_texts_are_not_remembered() {
        let rules = test_rules(RULES);
        let memory = OutcomeMemory::new(1 << 20);
        let short = &"tiny text"[..MIN_REMEMBERED_LEN - 1];
        let outcome = memory.apply_all(&rules, Side::Request, Scope::User, short);
        assert_eq!(outcome, Remembered::Clean);
        assert!(memory.is_empty());
    }

    #[test]
    fn the_bound_holds_under_many_inserts() {
        let rules = test_rules(RULES);
        let budget = 64 * 1024;
        let memory = OutcomeMemory::new(budget);
        let mut most = 0;
        for n in 0..20_000 {
            // Clean, masked, and masked with a long text.
            let text = match n % 3 {
                0 => padded(&format!("clean {n}")),
                1 => padded(&format!("sk-abcdef12 {n}")),
                _ => format!("sk-abcdef12 {n} {}", "y".repeat(1000)),
            };
            memory.apply_all(&rules, Side::Request, Scope::User, &text);
            assert!(memory.bytes() <= budget, "{} > {budget}", memory.bytes());
            most = most.max(memory.len());
        }
        // Clean entries alone would be over a thousand.
        assert!(most > 100, "the memory is used: at most {most} entries");
        assert!(memory.bytes() > budget / 2);
        // The count agrees with the entries.
        for shard in memory.shards.iter() {
            let shard = lock(shard);
            let live: usize = shard
                .slots
                .iter()
                .filter(|s| s.cost > 0)
                .map(|s| s.cost as usize)
                .sum();
            assert_eq!(live, shard.bytes);
            assert_eq!(
                shard.slots.iter().filter(|s| s.cost > 0).count(),
                shard.index.len()
            );
        }
    }

    #[test]
    fn an_entry_too_large_for_its_shard_is_scanned_not_kept() {
        let rules = test_rules(RULES);
        let memory = OutcomeMemory::new(SHARDS * 4096);
        let huge = format!("sk-abcdef12 {}", "z".repeat(2000));
        let outcome = memory.apply_all(&rules, Side::Request, Scope::User, &huge);
        assert!(matches!(outcome, Remembered::Found(_)));
        assert!(memory.is_empty());
    }

    #[test]
    fn eviction_spares_texts_read_since_the_hand_passed() {
        let rules = test_rules(RULES);
        // One shard's worth: a few hundred clean entries in all.
        let memory = OutcomeMemory::with_key(SHARDS * 40 * ENTRY_OVERHEAD, [7; 16]);
        let warm: Vec<String> = (0..64).map(|n| padded(&format!("warm {n}"))).collect();
        for text in &warm {
            memory.apply_all(&rules, Side::Request, Scope::User, text);
        }
        // Read them again (a second turn), then scan as many new texts
        // as the memory holds.
        for text in &warm {
            assert!(memory.get(Side::Request, Scope::User, text).is_some());
        }
        for n in 0..SHARDS * 20 {
            let text = padded(&format!("cold {n}"));
            memory.apply_all(&rules, Side::Request, Scope::User, &text);
        }
        let kept = warm
            .iter()
            .filter(|t| memory.get(Side::Request, Scope::User, t).is_some())
            .count();
        assert_eq!(kept, warm.len(), "every warm text survived the scan");
        // An endless scan does evict them in the end.
        for n in 0..SHARDS * 400 {
            let text = padded(&format!("colder {n}"));
            memory.apply_all(&rules, Side::Request, Scope::User, &text);
        }
        let kept = warm
            .iter()
            .filter(|t| memory.get(Side::Request, Scope::User, t).is_some())
            .count();
        assert_eq!(kept, 0);
    }

    #[test]
    fn a_generation_without_memory_scans() {
        let rules = test_rules(RULES);
        let generation = Generation::new(rules.clone(), 0);
        assert!(generation.memory().is_none());
        let text = padded("sk-abcdef12");
        assert_eq!(
            generation.apply_all(Side::Request, Scope::User, &text),
            rules.apply_all(Side::Request, Scope::User, &text).into()
        );
        let remembering = Generation::new(rules, 1 << 20);
        remembering.apply_all(Side::Request, Scope::User, &text);
        assert_eq!(remembering.memory().map(OutcomeMemory::len), Some(1));
    }
}
