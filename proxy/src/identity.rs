//! Who a request is from: its team (named by a gateway token, by the
//! fingerprint of its API key, or by a header a trusted front sets), a
//! keyed fingerprint of the client's API key, Claude Code's session id,
//! the client address. Names no field of a request body.
//!
//! Invariants: a gateway token is never forwarded and never logged; an API
//! key is never logged, only a keyed fingerprint that cannot be reversed or
//! checked against a guessed key without the fingerprint key; what is
//! logged from a header is reduced to a fixed alphabet and length, so no
//! client can forge a log field. A request whose ways of naming a team
//! disagree, that names a team twice in one header, or that names a team
//! the gateway does not know, is refused rather than given a default.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::Hasher as _;

use http::HeaderMap;
use siphasher::sip128::{Hasher128, SipHasher13};

/// The header a client sends its gateway token in (Claude Code:
/// `ANTHROPIC_CUSTOM_HEADERS="x-rulegate-token: …"`).
pub const TOKEN_HEADER: &str = "x-rulegate-token";

/// Claude Code's per-session header, logged for correlation.
const SESSION_HEADER: &str = "x-claude-code-session-id";

/// Gateway tokens by team, read from a file of `TEAM TOKEN` lines.
#[derive(Clone, Debug, Default)]
pub struct TeamTokens {
    /// Keyed hash of each token → its team. Looking up a hash rather than
    /// the token keeps the comparison's timing independent of the token's
    /// bytes.
    teams: HashMap<u128, String>,
    key: [u8; 16],
}

impl TeamTokens {
    /// Parses `TEAM TOKEN` lines (`#` starts a comment). A team may have
    /// several tokens (to rotate one); a token may name only one team.
    pub fn parse(text: &str) -> Result<TeamTokens, String> {
        let mut key = [0u8; 16];
        getrandom::getrandom(&mut key).map_err(|e| format!("no randomness: {e}"))?;
        let mut tokens = TeamTokens {
            teams: HashMap::new(),
            key,
        };
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [team, token] = fields[..] else {
                return Err(format!("line {}: expected `TEAM TOKEN`", index + 1));
            };
            if !is_team_name(team) {
                return Err(format!(
                    "line {}: a team name is letters, digits, `-` and `_`",
                    index + 1
                ));
            }
            if token.len() < 16 {
                return Err(format!(
                    "line {}: a token must have at least 16 characters",
                    index + 1
                ));
            }
            if tokens
                .teams
                .insert(tokens.hash(token.as_bytes()), team.to_owned())
                .is_some()
            {
                return Err(format!("line {}: this token is already given", index + 1));
            }
        }
        if tokens.teams.is_empty() {
            return Err("no `TEAM TOKEN` line".to_owned());
        }
        Ok(tokens)
    }

    fn hash(&self, bytes: &[u8]) -> u128 {
        let mut hasher = SipHasher13::new_with_key(&self.key);
        hasher.write(bytes);
        hasher.finish128().as_u128()
    }

    /// The team whose token `headers` carry, if any (none when the
    /// header is sent twice).
    pub fn team(&self, headers: &HeaderMap) -> Option<&str> {
        let token = only_value(headers, TOKEN_HEADER)?.as_bytes();
        self.teams.get(&self.hash(token)).map(String::as_str)
    }

    fn team_names(&self) -> impl Iterator<Item = &str> {
        self.teams.values().map(String::as_str)
    }
}

/// The header's value when it is sent exactly once.
fn only_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h http::HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// Why a request was given no team.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TeamRefusal {
    #[error("the request carries no valid gateway token (the `x-rulegate-token` header)")]
    NoToken,
    #[error("the request names two different teams, by its {0} and by its {1}")]
    Conflict(&'static str, &'static str),
    #[error("the team header is sent twice, or names no team the gateway knows")]
    UnknownTeam,
    #[error("the request is from no known team: the gateway serves only requests with a team's gateway token, API key or team header")]
    NoTeam,
}

/// How a request's team is told. Each way is optional: a gateway token
/// (`--team-tokens`, required of every request once configured), the
/// fingerprint of the client's API key (`--team-keys`), a header whose
/// value is the team's name (`--team-header`, for a trusted front that
/// authenticates users and overwrites the header). When several name a
/// team they must agree.
#[derive(Clone, Debug, Default)]
pub struct TeamSelection {
    tokens: Option<TeamTokens>,
    /// API-key fingerprint (`fp:…`, as logged) → team.
    keys: HashMap<String, String>,
    header: Option<http::HeaderName>,
    /// Every team the gateway knows: what a team header may name.
    known: HashSet<String>,
    /// Refuse a request no way names a team of.
    require: bool,
}

impl TeamSelection {
    pub fn with_tokens(mut self, tokens: TeamTokens) -> TeamSelection {
        self.known.extend(tokens.team_names().map(str::to_owned));
        self.tokens = Some(tokens);
        self
    }

    /// Parses `TEAM fp:HEX` lines (`#` starts a comment): the fingerprints
    /// of API keys as the logs show them under the same fingerprint key.
    /// A team may have several keys; a key only one team.
    pub fn with_keys(mut self, text: &str) -> Result<TeamSelection, String> {
        let mut any = false;
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = index + 1;
            let [team, fingerprint] = fields[..] else {
                return Err(format!("line {at}: expected `TEAM fp:HEX`"));
            };
            if !is_team_name(team) {
                return Err(format!(
                    "line {at}: a team name is letters, digits, `-` and `_`"
                ));
            }
            let hex = fingerprint.strip_prefix("fp:").unwrap_or_default();
            if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "line {at}: `{fingerprint}` is not a fingerprint (`fp:` and 16 hex digits, as `--print-key-fingerprint` or the logs show it)"
                ));
            }
            let fingerprint = format!("fp:{}", hex.to_ascii_lowercase());
            if let Some(other) = self.keys.insert(fingerprint, team.to_owned()) {
                if other != team {
                    return Err(format!(
                        "line {at}: this key is already given to team `{other}`"
                    ));
                }
            }
            self.known.insert(team.to_owned());
            any = true;
        }
        if !any {
            return Err("no `TEAM fp:HEX` line".to_owned());
        }
        Ok(self)
    }

    /// Teams are also named by the value of header `name`.
    pub fn with_header(mut self, name: &str) -> Result<TeamSelection, String> {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a header name"))?;
        if name.as_str() == TOKEN_HEADER
            || name == http::header::AUTHORIZATION
            || name.as_str() == "x-api-key"
        {
            return Err(format!("`{name}` carries a credential, not a team name"));
        }
        self.header = Some(name);
        Ok(self)
    }

    /// Teams a header may name besides those of tokens and keys (the teams
    /// with rules of their own).
    pub fn with_teams<'a>(mut self, teams: impl IntoIterator<Item = &'a str>) -> TeamSelection {
        self.known.extend(teams.into_iter().map(str::to_owned));
        self
    }

    /// Refuse requests no way names a team of.
    pub fn requiring_a_team(mut self) -> TeamSelection {
        self.require = true;
        self
    }

    /// True when some way of naming a team is configured.
    pub fn names_teams(&self) -> bool {
        self.tokens.is_some() || !self.keys.is_empty() || self.header.is_some()
    }

    /// True when a request of `team` can be recognised: by a token, a key,
    /// or (with a team header) by name.
    pub fn can_name(&self, team: &str) -> bool {
        self.header.is_some()
            || self.keys.values().any(|t| t == team)
            || self
                .tokens
                .as_ref()
                .is_some_and(|tokens| tokens.team_names().any(|t| t == team))
    }

    /// The team of a request with `headers` whose API key has
    /// `fingerprint` (see [`Fingerprints::of`]); `None` for no team.
    pub fn select(
        &self,
        headers: &HeaderMap,
        fingerprint: &str,
    ) -> Result<Option<&str>, TeamRefusal> {
        let mut chosen: Option<(&str, &'static str)> = None;
        if let Some(tokens) = &self.tokens {
            let team = tokens.team(headers).ok_or(TeamRefusal::NoToken)?;
            chosen = Some((team, "gateway token"));
        }
        if let Some(team) = self.keys.get(fingerprint) {
            chosen = agreeing(chosen, team, "API key")?;
        }
        if let Some(name) = &self.header {
            if headers.contains_key(name) {
                let team = only_value(headers, name.as_str())
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| self.known.get(value.trim()))
                    .ok_or(TeamRefusal::UnknownTeam)?;
                chosen = agreeing(chosen, team, "team header")?;
            }
        }
        match chosen {
            Some((team, _)) => Ok(Some(team)),
            None if self.require => Err(TeamRefusal::NoTeam),
            None => Ok(None),
        }
    }

    /// Takes the gateway's own headers out of a request before it goes
    /// upstream.
    pub fn strip(&self, headers: &mut HeaderMap) {
        headers.remove(TOKEN_HEADER);
        if let Some(name) = &self.header {
            headers.remove(name);
        }
    }
}

/// `team` named `by` one way, given what the others named.
fn agreeing<'a>(
    chosen: Option<(&'a str, &'static str)>,
    team: &'a str,
    by: &'static str,
) -> Result<Option<(&'a str, &'static str)>, TeamRefusal> {
    match chosen {
        Some((other, other_by)) if other != team => Err(TeamRefusal::Conflict(other_by, by)),
        Some(earlier) => Ok(Some(earlier)),
        None => Ok(Some((team, by))),
    }
}

fn is_team_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Fingerprints of API keys, keyed so that a log reader cannot test a
/// guessed key against them. Replicas that share the key (a flag) give the
/// same fingerprint for the same key.
#[derive(Clone, Debug)]
pub struct Fingerprints {
    key: [u8; 16],
}

impl Fingerprints {
    /// Keyed by `secret` (any text; a random key when `None`).
    pub fn new(secret: Option<&str>) -> Fingerprints {
        let mut key = [0u8; 16];
        match secret {
            Some(secret) => {
                let mut hasher = SipHasher13::new_with_key(b"rulegate-fp-key!");
                hasher.write(secret.as_bytes());
                key = hasher.finish128().as_u128().to_le_bytes();
            }
            None => {
                // Without randomness the key stays zero: fingerprints are
                // then only unkeyed hashes, still never the key itself.
                let _ = getrandom::getrandom(&mut key);
            }
        }
        Fingerprints { key }
    }

    /// `fp:` and 16 hex digits for the client's `x-api-key` (or the
    /// credential of its `authorization` header); `-` without either.
    pub fn of(&self, headers: &HeaderMap) -> String {
        let credential = headers.get("x-api-key").map(|v| v.as_bytes()).or_else(|| {
            headers.get(http::header::AUTHORIZATION).map(|v| {
                let value = v.as_bytes();
                // The scheme (`Bearer `) is not part of the secret.
                value
                    .iter()
                    .position(|&b| b == b' ')
                    .map_or(value, |space| &value[space + 1..])
            })
        });
        match credential {
            Some(credential) => self.of_key(credential),
            None => "-".to_owned(),
        }
    }

    /// `fp:` and 16 hex digits for an API key (what `--team-keys` lists).
    pub fn of_key(&self, credential: &[u8]) -> String {
        let mut hasher = SipHasher13::new_with_key(&self.key);
        hasher.write(credential);
        let hash = hasher.finish128().as_u128();
        let mut out = String::from("fp:");
        let _ = write!(out, "{:016x}", (hash >> 64) as u64);
        out
    }
}

/// Claude Code's session id, if it is one (up to 64 characters of letters,
/// digits and `-`); anything else is logged as `invalid`.
pub fn session(headers: &HeaderMap) -> String {
    match headers.get(SESSION_HEADER) {
        None => "-".to_owned(),
        Some(value) => {
            let bytes = value.as_bytes();
            if !bytes.is_empty()
                && bytes.len() <= 64
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            {
                String::from_utf8_lossy(bytes).into_owned()
            } else {
                "invalid".to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn tokens_name_their_team_and_nothing_else_does() {
        let tokens = TeamTokens::parse(
            "# teams\npayments  tok-payments-0123456789\nsearch tok-search-0123456789 # old\nsearch tok-search-abcdefghij\n",
        )
        .unwrap();
        let team = |token: &str| {
            tokens
                .team(&headers(&[(TOKEN_HEADER, token)]))
                .map(str::to_owned)
        };
        assert_eq!(team("tok-payments-0123456789").as_deref(), Some("payments"));
        assert_eq!(team("tok-search-abcdefghij").as_deref(), Some("search"));
        assert_eq!(team("tok-payments-012345678"), None);
        assert_eq!(tokens.team(&HeaderMap::new()), None);
        for bad in ["team", "a b c", "t short", "t@ tok-0123456789abcdef", ""] {
            assert!(TeamTokens::parse(bad).is_err(), "{bad:?}");
        }
        assert!(TeamTokens::parse("a tok-0123456789abcdef\nb tok-0123456789abcdef").is_err());
    }

    #[test]
    fn fingerprints_are_keyed_stable_and_never_the_key() {
        let key = "sk-ant-api03-secret-value";
        let a = Fingerprints::new(Some("shared"));
        let b = Fingerprints::new(Some("shared"));
        let other = Fingerprints::new(Some("another"));
        let sent = headers(&[("x-api-key", key)]);
        assert_eq!(a.of(&sent), b.of(&sent));
        assert_ne!(a.of(&sent), other.of(&sent));
        assert!(a.of(&sent).starts_with("fp:") && !a.of(&sent).contains("sk-ant"));
        let bearer = headers(&[("authorization", &format!("Bearer {key}"))]);
        assert_eq!(a.of(&bearer), a.of(&sent));
        assert_eq!(a.of(&HeaderMap::new()), "-");
    }

    #[test]
    fn teams_are_told_by_token_key_or_header_and_must_agree() {
        let fingerprints = Fingerprints::new(Some("shared"));
        let payments_key = fingerprints.of_key(b"sk-ant-payments-key");
        let tokens = TeamTokens::parse("search tok-search-0123456789\n").unwrap();
        let keys = format!(
            "# keys\npayments {}\n",
            payments_key.to_uppercase().replace("FP:", "fp:")
        );
        let teams = TeamSelection::default()
            .with_tokens(tokens)
            .with_keys(&keys)
            .unwrap()
            .with_header("x-team")
            .unwrap()
            .with_teams(["research"]);
        let select = |pairs: &[(&'static str, &str)]| {
            let headers = headers(pairs);
            let fingerprint = fingerprints.of(&headers);
            teams
                .select(&headers, &fingerprint)
                .map(|t| t.map(str::to_owned))
        };
        let token = (TOKEN_HEADER, "tok-search-0123456789");
        let key = ("x-api-key", "sk-ant-payments-key");
        // Tokens are configured, so every request needs one.
        assert_eq!(select(&[key]), Err(TeamRefusal::NoToken));
        assert_eq!(select(&[token]), Ok(Some("search".into())));
        assert_eq!(
            select(&[token, ("x-team", "search")]),
            Ok(Some("search".into()))
        );
        assert_eq!(
            select(&[token, key]),
            Err(TeamRefusal::Conflict("gateway token", "API key"))
        );
        assert_eq!(
            select(&[token, ("x-team", "research")]),
            Err(TeamRefusal::Conflict("gateway token", "team header"))
        );
        assert_eq!(
            select(&[token, ("x-team", "nobody")]),
            Err(TeamRefusal::UnknownTeam)
        );

        // Without tokens: the key, the header, or no team at all.
        let open = TeamSelection::default()
            .with_keys(&format!("payments {payments_key}"))
            .unwrap()
            .with_header("x-team")
            .unwrap()
            .with_teams(["research"]);
        let select = |teams: &TeamSelection, pairs: &[(&'static str, &str)]| {
            let headers = headers(pairs);
            let fingerprint = fingerprints.of(&headers);
            teams
                .select(&headers, &fingerprint)
                .map(|t| t.map(str::to_owned))
        };
        assert_eq!(select(&open, &[key]), Ok(Some("payments".into())));
        assert_eq!(
            select(&open, &[("authorization", "Bearer sk-ant-payments-key")]),
            Ok(Some("payments".into()))
        );
        assert_eq!(
            select(&open, &[("x-team", " research ")]),
            Ok(Some("research".into()))
        );
        assert_eq!(select(&open, &[("x-api-key", "another")]), Ok(None));
        assert_eq!(
            select(&open, &[key, ("x-team", "research")]),
            Err(TeamRefusal::Conflict("API key", "team header"))
        );
        // A header sent twice names no team, whatever its values.
        let mut twice = headers(&[("x-team", "research")]);
        twice.append("x-team", HeaderValue::from_static("research"));
        assert_eq!(open.select(&twice, "-"), Err(TeamRefusal::UnknownTeam));
        let strict = open.clone().requiring_a_team();
        assert_eq!(
            select(&strict, &[("x-api-key", "another")]),
            Err(TeamRefusal::NoTeam)
        );
        assert_eq!(select(&strict, &[key]), Ok(Some("payments".into())));

        // The gateway's headers are taken out; the client's key is not.
        let mut sent = headers(&[token, key, ("x-team", "research")]);
        open.strip(&mut sent);
        assert_eq!(
            sent.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["x-api-key"]
        );

        for bad in [
            "",
            "payments",
            "payments fp:123",
            "payments fp:zzzzzzzzzzzzzzzz",
            "pay@ fp:0123456789abcdef",
        ] {
            assert!(TeamSelection::default().with_keys(bad).is_err(), "{bad:?}");
        }
        assert!(TeamSelection::default()
            .with_keys("a fp:0123456789abcdef\nb fp:0123456789ABCDEF")
            .is_err());
        for bad in ["x-api-key", "authorization", TOKEN_HEADER, "bad header"] {
            assert!(
                TeamSelection::default().with_header(bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_token_sent_twice_names_no_team() {
        let tokens = TeamTokens::parse("search tok-search-0123456789\n").unwrap();
        let mut sent = headers(&[(TOKEN_HEADER, "tok-search-0123456789")]);
        assert_eq!(tokens.team(&sent), Some("search"));
        sent.append(
            TOKEN_HEADER,
            HeaderValue::from_static("tok-search-0123456789"),
        );
        assert_eq!(tokens.team(&sent), None);
    }

    #[test]
    fn session_ids_are_logged_only_when_they_look_like_one() {
        let id = "0f9e8d7c-1111-4222-8333-444455556666";
        assert_eq!(session(&headers(&[(SESSION_HEADER, id)])), id);
        assert_eq!(
            session(&headers(&[(SESSION_HEADER, "a b=\"x\"")])),
            "invalid"
        );
        assert_eq!(session(&HeaderMap::new()), "-");
    }
}
