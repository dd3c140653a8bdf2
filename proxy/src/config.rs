//! Gateway settings, as the binary parses them from flags and environment.

use std::sync::Arc;

use crate::egress::EgressProxy;
use crate::identity::{Fingerprints, TeamSelection};
use crate::tls::ListenerTls;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::Uri;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::route::RoutePattern;

/// Where requests go: scheme, authority and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    scheme: Scheme,
    authority: Authority,
    /// Prefix put before every relayed path, without a trailing `/`.
    base_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("not a URL: {0}")]
    Invalid(String),
    #[error("the upstream URL must start with http:// or https://")]
    Scheme,
    #[error("the upstream URL has no host")]
    NoHost,
    #[error("the upstream URL must not have a query string")]
    Query,
}

impl FromStr for Upstream {
    type Err = UpstreamError;

    fn from_str(text: &str) -> Result<Upstream, UpstreamError> {
        let uri: Uri = text
            .parse()
            .map_err(|e: http::uri::InvalidUri| UpstreamError::Invalid(e.to_string()))?;
        let scheme = match uri.scheme() {
            Some(s) if *s == Scheme::HTTP || *s == Scheme::HTTPS => s.clone(),
            _ => return Err(UpstreamError::Scheme),
        };
        let authority = uri.authority().cloned().ok_or(UpstreamError::NoHost)?;
        if uri.query().is_some() {
            return Err(UpstreamError::Query);
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Upstream {
            scheme,
            authority,
            base_path,
        })
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.base_path)
    }
}

impl Upstream {
    /// The upstream URI for a request's path and query.
    pub fn uri_for(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{}", self.base_path, path_and_query))
            .build()
    }

    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }
}

/// Everything the gateway needs besides the rules.
#[derive(Debug, Clone)]
pub struct Config {
    pub upstream: Upstream,
    /// Larger inspected request bodies are refused with 413.
    pub max_body_bytes: u64,
    /// How long to wait for the upstream's response head.
    pub upstream_timeout: Duration,
    /// Certificates trusted for the upstream besides the webpki roots
    /// (a corporate TLS inspection CA, a test server).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Routes relayed besides the adapter's own (`GET /v1/organizations/**`).
    pub relayed: Vec<RoutePattern>,
    /// A client must send a whole request head within this, counted from
    /// its first byte.
    pub header_read_timeout: Duration,
    /// A connection idle between requests this long is closed.
    pub idle_timeout: Duration,
    /// Largest request head (request line and headers).
    pub max_header_bytes: usize,
    /// Open client connections at most, across every serving thread.
    pub max_connections: usize,
    /// An inspected request's body must arrive within this.
    pub body_read_timeout: Duration,
    /// Memory for bodies under inspection, across every serving thread
    /// (each costs `INSPECTION_COST_FACTOR` times its size).
    pub inspection_budget_bytes: u64,
    /// How long a request waits for inspection memory before a 503.
    pub inspection_queue_timeout: Duration,
    /// On shutdown, in-flight requests and streams get this long; streams
    /// still running then end with an error event.
    pub drain_timeout: Duration,
    /// A streamed reply longer than this ends with an error event.
    pub max_stream_duration: Option<Duration>,
    /// A streamed reply of more upstream bytes ends with an error event
    /// (0: no limit).
    pub max_stream_bytes: u64,
    /// Bytes of scan outcomes remembered for the rule set, shared by every
    /// serving thread, so a resent conversation is not scanned again (0:
    /// none).
    pub outcome_memory_bytes: u64,
    /// How a request's team is told (gateway token, API key, header);
    /// with gateway tokens, every request but the gateway's own endpoints
    /// must carry one (`x-rulegate-token`), which is never forwarded.
    pub teams: Arc<TeamSelection>,
    /// How API keys are fingerprinted in the logs.
    pub fingerprints: Fingerprints,
    /// The egress proxy the upstream is reached through, if any.
    pub egress_proxy: Option<EgressProxy>,
    /// TLS on the listener; plain HTTP when `None`.
    pub listener_tls: Option<Arc<ListenerTls>>,
}

impl Config {
    pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;
    pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(600);
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_INSPECTION_BUDGET_BYTES: u64 = 1024 * 1024 * 1024;
    pub const DEFAULT_INSPECTION_QUEUE_TIMEOUT: Duration = Duration::from_secs(2);
    pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_STREAM_DURATION: Duration = Duration::from_secs(3600);
    pub const DEFAULT_OUTCOME_MEMORY_MB: u64 = 64;

    /// Defaults for everything but the upstream.
    pub fn new(upstream: Upstream) -> Config {
        Config {
            upstream,
            max_body_bytes: Config::DEFAULT_MAX_BODY_BYTES,
            upstream_timeout: Config::DEFAULT_UPSTREAM_TIMEOUT,
            extra_roots: Vec::new(),
            relayed: Vec::new(),
            header_read_timeout: Config::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: Config::DEFAULT_IDLE_TIMEOUT,
            max_header_bytes: Config::DEFAULT_MAX_HEADER_BYTES,
            max_connections: Config::DEFAULT_MAX_CONNECTIONS,
            body_read_timeout: Config::DEFAULT_BODY_READ_TIMEOUT,
            inspection_budget_bytes: Config::DEFAULT_INSPECTION_BUDGET_BYTES,
            inspection_queue_timeout: Config::DEFAULT_INSPECTION_QUEUE_TIMEOUT,
            drain_timeout: Config::DEFAULT_DRAIN_TIMEOUT,
            max_stream_duration: Some(Config::DEFAULT_MAX_STREAM_DURATION),
            max_stream_bytes: 0,
            outcome_memory_bytes: Config::DEFAULT_OUTCOME_MEMORY_MB << 20,
            teams: Arc::new(TeamSelection::default()),
            fingerprints: Fingerprints::new(None),
            egress_proxy: None,
            listener_tls: None,
        }
    }
}

/// Reads every certificate of a PEM file.
pub fn read_pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if certificates.is_empty() {
        return Err("no CERTIFICATE block in the PEM file".to_owned());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let up: Upstream = "https://api.anthropic.com".parse().unwrap();
        assert_eq!(
            up.uri_for("/v1/messages?beta=true").unwrap().to_string(),
            "https://api.anthropic.com/v1/messages?beta=true"
        );
        let prefixed: Upstream = "http://127.0.0.1:9000/gw/".parse().unwrap();
        assert_eq!(
            prefixed.uri_for("/v1/models").unwrap().to_string(),
            "http://127.0.0.1:9000/gw/v1/models"
        );
        assert_eq!(prefixed.to_string(), "http://127.0.0.1:9000/gw");
        assert_eq!(
            "ftp://x".parse::<Upstream>().unwrap_err(),
            UpstreamError::Scheme
        );
        assert_eq!(
            "/just/a/path".parse::<Upstream>().unwrap_err(),
            UpstreamError::Scheme
        );
        assert_eq!(
            "https://x/?a=1".parse::<Upstream>().unwrap_err(),
            UpstreamError::Query
        );
    }

    #[test]
    fn pem_without_certificates_is_an_error() {
        assert!(read_pem_certificates(b"hello").is_err());
    }
}
