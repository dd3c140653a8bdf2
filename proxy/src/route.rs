//! Deny by default: every request is classified before anything is
//! forwarded. A route is *inspected* (its body goes through an API adapter),
//! *relayed* (it carries nothing a model reads) or the request is *refused*.
//!
//! Invariants:
//! - Paths are compared in one canonical form, and a path that is not in it
//!   is refused, never normalized: no percent-escape, no empty segment
//!   (`//`, a trailing `/`), no `.` or `..` segment. The upstream may decode
//!   or collapse what the gateway would not, so an alias of an inspected
//!   route must never be relayed.
//! - Comparison is exact and case-sensitive; a path no route names is
//!   refused (404), and a known path with another method too (405).
//! - An operator's relayed route can never cover an inspected one.
//! - The table knows no API: an adapter supplies the routes.

use std::fmt;
use std::str::FromStr;

use http::Method;

/// What happens to the requests of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The body is read whole and inspected by the adapter; `kind` is the
    /// adapter's own name for the body shape.
    Inspected { kind: &'static str },
    /// Forwarded as it is, both ways.
    Relayed,
}

/// `METHOD /path/with/*/segments`: `*` matches one segment, a last `**`
/// one or more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    method: Method,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("expected `METHOD /path`, e.g. `GET /v1/organizations/*`")]
    Shape,
    #[error("`{0}` is not an HTTP method")]
    Method(String),
    #[error("the path must be canonical: {0}")]
    Path(NotCanonical),
    #[error("`**` may only be the last segment")]
    Rest,
}

impl FromStr for RoutePattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<RoutePattern, PatternError> {
        let mut words = text.split_whitespace();
        let (Some(method), Some(path), None) = (words.next(), words.next(), words.next()) else {
            return Err(PatternError::Shape);
        };
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| PatternError::Method(method.to_owned()))?;
        let segments = canonical_segments(path).map_err(PatternError::Path)?;
        let count = segments.len();
        let segments = segments
            .into_iter()
            .enumerate()
            .map(|(i, s)| match s {
                "*" => Ok(Segment::One),
                "**" if i + 1 == count => Ok(Segment::Rest),
                "**" => Err(PatternError::Rest),
                literal => Ok(Segment::Literal(literal.to_owned())),
            })
            .collect::<Result<_, _>>()?;
        Ok(RoutePattern { method, segments })
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.method)?;
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => write!(f, "/{text}")?,
                Segment::One => f.write_str("/*")?,
                Segment::Rest => f.write_str("/**")?,
            }
        }
        Ok(())
    }
}

impl RoutePattern {
    fn matches_path(&self, path: &[&str]) -> bool {
        let mut rest = path;
        for segment in &self.segments {
            match segment {
                Segment::Rest => return !rest.is_empty(),
                _ if rest.is_empty() => return false,
                Segment::One => {}
                Segment::Literal(text) if text == rest[0] => {}
                Segment::Literal(_) => return false,
            }
            rest = &rest[1..];
        }
        rest.is_empty()
    }

    /// Whether some path matches both patterns (same method).
    fn overlaps(&self, other: &RoutePattern) -> bool {
        if self.method != other.method {
            return false;
        }
        let (a, b) = (&self.segments, &other.segments);
        let mut i = 0;
        loop {
            match (a.get(i), b.get(i)) {
                (None, None) => return true,
                (Some(Segment::Rest), Some(_)) | (Some(_), Some(Segment::Rest)) => return true,
                (None, Some(_)) | (Some(_), None) => return false,
                (Some(Segment::Literal(x)), Some(Segment::Literal(y))) if x != y => return false,
                _ => i += 1,
            }
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub pattern: RoutePattern,
    pub class: Class,
    /// A short fixed name for logs and metrics (`messages`, `models`, …):
    /// never the request's own path, which may hold anything.
    pub name: &'static str,
}

impl Route {
    /// A route from a pattern written in the code (panics if malformed).
    pub fn fixed(pattern: &str, class: Class, name: &'static str) -> Route {
        Route {
            pattern: pattern.parse().expect("a well-formed route pattern"),
            class,
            name,
        }
    }
}

/// Why a path is not in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotCanonical {
    #[error("it does not start with `/`")]
    Relative,
    #[error("it has an empty segment (`//` or a trailing `/`)")]
    EmptySegment,
    #[error("it has a `.` or `..` segment")]
    DotSegment,
    #[error("it has a percent-escape")]
    Escaped,
    #[error("it has a character outside the URL path alphabet")]
    Character,
}

/// The segments of a canonical path (none for `/`).
pub fn canonical_segments(path: &str) -> Result<Vec<&str>, NotCanonical> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(NotCanonical::Relative);
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut segments = Vec::new();
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err(NotCanonical::EmptySegment);
        }
        if segment == "." || segment == ".." {
            return Err(NotCanonical::DotSegment);
        }
        if segment.contains('%') {
            return Err(NotCanonical::Escaped);
        }
        // RFC 3986 pchar, less `%` (refused above).
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
        if !segment.bytes().all(allowed) {
            return Err(NotCanonical::Character);
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// How the table answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<'t> {
    Route(&'t Route),
    NotCanonical(NotCanonical),
    /// No route has this path.
    NotFound,
    /// Routes have this path, but not with this method.
    MethodNotAllowed {
        allowed: Vec<Method>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the relayed route `{relayed}` would cover the inspected route `{inspected}`")]
pub struct ShadowError {
    pub relayed: String,
    pub inspected: String,
}

/// Every route the gateway serves; the first matching row wins.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    pub fn new(routes: Vec<Route>) -> RouteTable {
        RouteTable { routes }
    }

    /// Adds an operator's relayed route, refusing one that would relay a
    /// request some inspected route covers.
    pub fn add_relayed(&mut self, pattern: RoutePattern) -> Result<(), ShadowError> {
        for route in &self.routes {
            if matches!(route.class, Class::Inspected { .. }) && route.pattern.overlaps(&pattern) {
                return Err(ShadowError {
                    relayed: pattern.to_string(),
                    inspected: route.pattern.to_string(),
                });
            }
        }
        self.routes.push(Route {
            pattern,
            class: Class::Relayed,
            name: "operator-relayed",
        });
        Ok(())
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn decide(&self, method: &Method, path: &str) -> Decision<'_> {
        let segments = match canonical_segments(path) {
            Ok(segments) => segments,
            Err(why) => return Decision::NotCanonical(why),
        };
        let mut allowed: Vec<Method> = Vec::new();
        for route in &self.routes {
            if !route.pattern.matches_path(&segments) {
                continue;
            }
            if route.pattern.method == *method {
                return Decision::Route(route);
            }
            if !allowed.contains(&route.pattern.method) {
                allowed.push(route.pattern.method.clone());
            }
        }
        if allowed.is_empty() {
            Decision::NotFound
        } else {
            Decision::MethodNotAllowed { allowed }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGES: Class = Class::Inspected { kind: "messages" };

    fn table() -> RouteTable {
        RouteTable::new(vec![
            Route::fixed("POST /v1/messages", MESSAGES, "messages"),
            Route::fixed("POST /v1/messages/batches", MESSAGES, "batches"),
            Route::fixed("GET /v1/messages/batches/*", Class::Relayed, "batch"),
            Route::fixed("GET /v1/models", Class::Relayed, "models"),
            Route::fixed("GET /v1/models/*", Class::Relayed, "model"),
            Route::fixed("HEAD /", Class::Relayed, "root"),
        ])
    }

    fn name(decision: Decision<'_>) -> Option<&'static str> {
        match decision {
            Decision::Route(route) => Some(route.name),
            _ => None,
        }
    }

    #[test]
    fn exact_paths_and_one_segment_wildcards() {
        let t = table();
        assert_eq!(
            name(t.decide(&Method::POST, "/v1/messages")),
            Some("messages")
        );
        assert_eq!(
            name(t.decide(&Method::GET, "/v1/models/claude-x")),
            Some("model")
        );
        assert_eq!(name(t.decide(&Method::HEAD, "/")), Some("root"));
        assert_eq!(t.decide(&Method::GET, "/v1/models/a/b"), Decision::NotFound);
        assert_eq!(t.decide(&Method::POST, "/v1/complete"), Decision::NotFound);
        assert_eq!(
            t.decide(&Method::GET, "/v1/messages"),
            Decision::MethodNotAllowed {
                allowed: vec![Method::POST]
            }
        );
    }

    #[test]
    fn aliases_of_an_inspected_route_are_refused() {
        let t = table();
        for (path, why) in [
            ("/v1/messages/", NotCanonical::EmptySegment),
            ("//v1/messages", NotCanonical::EmptySegment),
            ("/v1/%6Dessages", NotCanonical::Escaped),
            ("/v1/./messages", NotCanonical::DotSegment),
            ("/v1/x/../messages", NotCanonical::DotSegment),
            ("/v1/mess\\ages", NotCanonical::Character),
            ("v1/messages", NotCanonical::Relative),
        ] {
            assert_eq!(
                t.decide(&Method::POST, path),
                Decision::NotCanonical(why),
                "{path}"
            );
        }
        for path in ["/V1/messages", "/v1/Messages", "/v1/messages.json"] {
            assert_eq!(t.decide(&Method::POST, path), Decision::NotFound, "{path}");
        }
    }

    #[test]
    fn an_operator_route_cannot_shadow_an_inspected_one() {
        let mut t = table();
        for pattern in ["POST /v1/**", "POST /v1/*", "POST /**", "post /v1/messages"] {
            let pattern: RoutePattern = pattern.parse().unwrap();
            assert!(t.add_relayed(pattern.clone()).is_err(), "{pattern}");
        }
        t.add_relayed("GET /v1/organizations/**".parse().unwrap())
            .unwrap();
        t.add_relayed("POST /v1/files".parse().unwrap()).unwrap();
        assert_eq!(
            name(t.decide(&Method::GET, "/v1/organizations/o/users")),
            Some("operator-relayed")
        );
        assert_eq!(
            t.decide(&Method::GET, "/v1/organizations"),
            Decision::NotFound
        );
    }

    #[test]
    fn patterns_parse_and_print() {
        for (text, shown) in [
            ("get /v1/models/*", "GET /v1/models/*"),
            ("HEAD /", "HEAD /"),
            ("DELETE /v1/files/**", "DELETE /v1/files/**"),
        ] {
            assert_eq!(text.parse::<RoutePattern>().unwrap().to_string(), shown);
        }
        assert_eq!("/v1/x".parse::<RoutePattern>(), Err(PatternError::Shape));
        assert_eq!("GET /**/x".parse::<RoutePattern>(), Err(PatternError::Rest));
        assert!(matches!(
            "GET /v1//x".parse::<RoutePattern>(),
            Err(PatternError::Path(NotCanonical::EmptySegment))
        ));
        assert!(matches!(
            "G{T /x".parse::<RoutePattern>(),
            Err(PatternError::Method(_))
        ));
    }
}
