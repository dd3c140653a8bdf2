//! Who a request is from: the team its gateway token names, a keyed
//! fingerprint of the client's API key, Claude Code's session id, the
//! client address. Names no field of a request body.
//!
//! Invariants: a gateway token is never forwarded and never logged; an API
//! key is never logged, only a keyed fingerprint that cannot be reversed or
//! checked against a guessed key without the fingerprint key; what is
//! logged from a header is reduced to a fixed alphabet and length, so no
//! client can forge a log field.

use std::collections::HashMap;
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
            if !team
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
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

    /// The team whose token `headers` carry, if any.
    pub fn team(&self, headers: &HeaderMap) -> Option<&str> {
        let token = headers.get(TOKEN_HEADER)?.as_bytes();
        self.teams.get(&self.hash(token)).map(String::as_str)
    }
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
        let Some(credential) = credential else {
            return "-".to_owned();
        };
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
