//! The gateway core: accepts client connections, classifies every request
//! by the route table, relays or inspects it through the API adapter, and
//! streams the reply back. It names no field of any API: what a body means
//! is the adapter's business ([`crate::adapter`]).
//!
//! Invariants:
//! - Deny by default: a request whose route is not in the table (or whose
//!   path is not canonical) is refused before anything is read or sent.
//! - An inspected request is forwarded only after its whole body was read
//!   and inspected; anything that could not be inspected (ambiguous JSON,
//!   over the size limit, a compressed upstream reply) is refused: the
//!   gateway fails closed.
//! - Relayed routes stream through untouched, except for hop-by-hop
//!   headers, `host` (set from the upstream) and `accept-encoding` (so
//!   replies arrive readable).
//! - Logs name the route class, status, timings and rules; never a body, a
//!   header value, a raw path or a matched text.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rulegate_engine::{Disposition, RuleSet, Scope};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::adapter::anthropic::Anthropic;
use crate::adapter::{ApiAdapter, Fired, Inspection, Outcome, Refusal};
use crate::body::{Guarded, OnEnd, StreamBody, StreamLimits};
use crate::config::Config;
use crate::egress::Egress;
use crate::identity;
use crate::listener::{InFlight, Shared};
use crate::metrics::{self, Metrics, RequestRecord};
use crate::outcome_memory::{Generation, LiveGeneration};
use crate::route::{Class, Decision, RouteTable, ShadowError};

pub use crate::body::ProxyBody;

type UpstreamClient = Client<HttpsConnector<Egress>, ProxyBody>;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("TLS set-up failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error(transparent)]
    Route(#[from] ShadowError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Request ids for the logs, unique across every gateway of the process.
static NEXT_REQUEST_ID: AtomicU64 = AtomicU64::new(1);

/// A non-streaming reply larger than this is refused (502) rather than
/// buffered: real Messages API replies are at most a few MiB.
const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;

/// Bodies at least this large are inspected on the blocking pool, so one
/// big request does not stall the other requests of its thread. Small:
/// hostile text can cost the engine a few milliseconds per 10 KiB.
const INLINE_INSPECTION_LIMIT: usize = 4 * 1024;

/// Larger bodies are inspected on the serving thread as long as the
/// outcome memory knows all but this many bytes of their text: parsing and
/// looking up cost about a microsecond per KiB, predictably, and the text
/// scanned is bounded as for a small body. A body with more new text goes
/// to the blocking pool (its inline attempt wasted, at most, a parse).
/// Handing a body to another thread and back cost 20-40 µs of the time to
/// first byte, a tenth of a warm conversation turn's inspection.
const INLINE_SCAN_LIMIT: usize = 4 * 1024;

/// Bodies at least this large are inspected on the low-priority pool.
const HEAVY_INSPECTION: usize = 256 * 1024;

/// Inspecting a body costs this many times its size: the body, and the
/// parsed document (string spans and structure) while the walk runs.
pub const INSPECTION_COST_FACTOR: u64 = 4;

/// The shared state of a running gateway.
pub struct Gateway {
    /// The rules and what the gateway remembers of scanning with them, as
    /// the last reload left them.
    live: Arc<LiveGeneration>,
    config: Config,
    client: UpstreamClient,
    adapter: Arc<dyn ApiAdapter>,
    routes: RouteTable,
    shared: Arc<Shared>,
}

impl Gateway {
    /// A gateway with limits and an outcome memory of its own (one
    /// serving thread).
    pub fn new(rules: RuleSet, config: Config) -> Result<Gateway, GatewayError> {
        let shared = Arc::new(Shared::new(
            config.max_connections,
            config.inspection_budget_bytes,
        ));
        let generation = Generation::new(rules, config.outcome_memory_bytes);
        Gateway::with_shared(Arc::new(LiveGeneration::new(generation)), config, shared)
    }

    /// A gateway whose connection and memory limits, and whose rules with
    /// their outcome memory, are shared with the other serving threads of
    /// the process.
    pub fn with_shared(
        live: Arc<LiveGeneration>,
        config: Config,
        shared: Arc<Shared>,
    ) -> Result<Gateway, GatewayError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for certificate in &config.extra_roots {
            roots.add(certificate.clone())?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        // ALPN offers h2 and http/1.1; hyper speaks what the server picks.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(Egress::new(http, config.egress_proxy.as_ref()));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let adapter: Arc<dyn ApiAdapter> = Arc::new(Anthropic);
        let mut routes = RouteTable::new(adapter.routes());
        for pattern in &config.relayed {
            routes.add_relayed(pattern.clone())?;
        }
        shared
            .metrics
            .set_rule_set(live.number(), live.current().rules().rules().len());
        Ok(Gateway {
            live,
            config,
            client,
            adapter,
            routes,
            shared,
        })
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// The rule set new requests are served with.
    pub fn rules(&self) -> RuleSet {
        self.live.current().rules().clone()
    }

    /// What new requests are served with: the rules and their memory.
    pub fn generation(&self) -> Generation {
        self.live.current()
    }

    /// Where reloads swap the rules in.
    pub fn live(&self) -> &Arc<LiveGeneration> {
        &self.live
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one client request; `in_flight` keeps its connection busy
    /// until the reply's body is done.
    pub(crate) async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        in_flight: InFlight,
        client: std::net::SocketAddr,
    ) -> Response<ProxyBody> {
        let mut log = AccessLog::new(request.method().clone(), self.shared.metrics.clone());
        log.client = Some(client);
        let response = match self.route(request, &mut log).await {
            Routed::Done(response) => {
                log.status = response.status().as_u16();
                log.emit();
                response
            }
            Routed::Stream(response) => response,
        };
        response.map(|body| Guarded::wrap(body, Some(in_flight)))
    }

    /// The gateway's own answer, in the API's error shape.
    fn refuse(&self, refusal: Refusal, log: &mut AccessLog) -> Routed {
        log.note = Some(format!("refused ({} to blame)", refusal.blame()));
        log.class = "refused";
        let mut response = json_response(
            refusal.status(),
            Bytes::from(self.adapter.error_body(&refusal)),
        );
        if let Refusal::MethodNotAllowed { allowed, .. } = &refusal {
            if let Ok(value) = HeaderValue::from_str(allowed) {
                response.headers_mut().insert(header::ALLOW, value);
            }
        }
        if let Refusal::Overloaded { retry_after } = &refusal {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        Routed::Done(response)
    }

    async fn route(&self, request: Request<Incoming>, log: &mut AccessLog) -> Routed {
        let path = request.uri().path();
        let local = matches!(*request.method(), Method::GET | Method::HEAD);
        if local && path == "/healthz" {
            log.route = "healthz";
            log.class = "local";
            return Routed::Done(json_response(
                StatusCode::OK,
                Bytes::from_static(b"{\"status\":\"ok\"}"),
            ));
        }
        if local && path == "/readyz" {
            let generation = self.live.current();
            // Serving means a rule set is loaded: the gateway refuses to
            // start without one, and a reload keeps the old one on error.
            log.route = "readyz";
            log.class = "local";
            let body = serde_json::json!({
                "status": "ready",
                "rules": generation.rules().rules().len(),
                "generation": self.live.number(),
            });
            return Routed::Done(json_response(StatusCode::OK, Bytes::from(body.to_string())));
        }
        if local && path == "/metrics" {
            log.route = "metrics";
            log.class = "local";
            let mut response = Response::new(full(Bytes::from(self.shared.metrics.render())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return Routed::Done(response);
        }
        // Who it is from, before anything about routes is answered.
        let headers = request.headers();
        log.key = self.config.fingerprints.of(headers);
        log.session = identity::session(headers);
        let team = match self.config.teams.select(headers, &log.key) {
            Ok(team) => team,
            Err(identity::TeamRefusal::NoToken) => {
                return self.refuse(Refusal::Unauthenticated, log)
            }
            Err(other) => {
                let why = other.to_string();
                return self.refuse(Refusal::NoTeam { why }, log);
            }
        };
        if let Some(name) = team {
            log.team = name.to_owned();
        }
        // The team's rules (or the default ones), taken once: a reload
        // meanwhile does not change this request.
        let generation = self.live.current_for(team);
        let route = match self.routes.decide(request.method(), path) {
            Decision::Route(route) => route,
            Decision::NotCanonical(why) => {
                return self.refuse(
                    Refusal::NotCanonical {
                        why: why.to_string(),
                    },
                    log,
                )
            }
            Decision::NotFound => {
                let refusal = Refusal::UnknownRoute {
                    method: request.method().to_string(),
                    path: shown_path(path),
                };
                return self.refuse(refusal, log);
            }
            Decision::MethodNotAllowed { allowed } => {
                let allowed: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                let refusal = Refusal::MethodNotAllowed {
                    method: request.method().to_string(),
                    path: shown_path(path),
                    allowed: allowed.join(", "),
                };
                return self.refuse(refusal, log);
            }
        };
        log.route = route.name;
        let kind = match route.class {
            Class::Inspected { kind } => Some(kind),
            Class::Relayed => None,
        };
        log.class = if kind.is_some() {
            "inspected"
        } else {
            "relayed"
        };
        let (parts, body) = request.into_parts();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let Ok(uri) = self.config.upstream.uri_for(&path_and_query) else {
            return self.refuse(
                Refusal::NotCanonical {
                    why: "it cannot be put after the upstream URL".to_owned(),
                },
                log,
            );
        };
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        // The gateway's own credential and team header never go upstream.
        self.config.teams.strip(&mut headers);
        headers.remove(header::HOST);
        headers.remove(header::ACCEPT_ENCODING);

        let upstream_body = match kind {
            Some(kind) => {
                let declared = headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let limit = self.config.max_body_bytes;
                let budget = Budget {
                    semaphore: &self.shared.inspection,
                    capacity: self.shared.inspection_kib,
                    wait: self.config.inspection_queue_timeout,
                };
                let read = read_limited(body, declared, limit, budget);
                let read = tokio::time::timeout(self.config.body_read_timeout, read);
                let (bytes, _permit) = match read.await {
                    Err(_) => {
                        let secs = self.config.body_read_timeout.as_secs_f64();
                        return self.refuse(Refusal::BodyTimeout { secs }, log);
                    }
                    Ok(Ok(read)) => read,
                    Ok(Err(BodyError::Overloaded)) => {
                        return self.refuse(Refusal::Overloaded { retry_after: 1 }, log)
                    }
                    Ok(Err(BodyError::TooLarge)) => {
                        return self.refuse(Refusal::TooLarge { limit }, log)
                    }
                    Ok(Err(BodyError::Read(error))) => {
                        let refused = self.refuse(Refusal::BodyUnreadable, log);
                        log.note = Some(format!("client body: {error}"));
                        return refused;
                    }
                };
                let inspection_started = Instant::now();
                let remembered = generation.memory().is_some()
                    && bytes.len() < HEAVY_INSPECTION
                    && bytes.len() >= INLINE_INSPECTION_LIMIT;
                let inline = remembered
                    .then(|| {
                        self.adapter.inspect_request_within(
                            kind,
                            &generation,
                            &bytes,
                            INLINE_SCAN_LIMIT,
                        )
                    })
                    .flatten();
                let inspected = if let Some(inspected) = inline {
                    inspected
                } else if bytes.len() < INLINE_INSPECTION_LIMIT {
                    self.adapter.inspect_request(kind, &generation, &bytes)
                } else if bytes.len() >= HEAVY_INSPECTION {
                    let (adapter, rules, body) =
                        (self.adapter.clone(), generation.clone(), bytes.clone());
                    let task = move || adapter.inspect_request(kind, &rules, &body);
                    match self.shared.heavy_inspections.run(task).await {
                        Some(inspected) => inspected,
                        None => return self.refuse(Refusal::Internal, log),
                    }
                } else {
                    let (adapter, rules, body) =
                        (self.adapter.clone(), generation.clone(), bytes.clone());
                    let task = move || adapter.inspect_request(kind, &rules, &body);
                    match tokio::task::spawn_blocking(task).await {
                        Ok(inspected) => inspected,
                        Err(_) => return self.refuse(Refusal::Internal, log),
                    }
                };
                let metrics = &self.shared.metrics;
                metrics.request_inspection(inspection_started.elapsed());
                metrics.inspected("request", bytes.len());
                let inspection = match inspected {
                    Ok(inspection) => inspection,
                    Err(error) => return self.refuse(Refusal::Uninspectable(error), log),
                };
                let forwarded = match settle(inspection, bytes, "request", log) {
                    Ok(forwarded) => forwarded,
                    Err(message) => return self.refuse(Refusal::Rejected { message }, log),
                };
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(forwarded.len()));
                in_frames(forwarded)
            }
            None => body.boxed(),
        };

        let mut upstream_request = Request::new(upstream_body);
        *upstream_request.method_mut() = parts.method;
        *upstream_request.uri_mut() = uri;
        *upstream_request.headers_mut() = headers;

        self.shared
            .metrics
            .added_before_upstream(log.started.elapsed());
        let timeout = self.config.upstream_timeout;
        let response =
            match tokio::time::timeout(timeout, self.client.request(upstream_request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => {
                    let refused = self.refuse(Refusal::UpstreamUnreachable, log);
                    log.note = Some(format!("upstream error: {}", error_chain(&error)));
                    return refused;
                }
                Err(_) => {
                    let secs = timeout.as_secs_f64();
                    return self.refuse(Refusal::UpstreamTimeout { secs }, log);
                }
            };

        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        let Some(kind) = kind.filter(|_| parts.status.is_success()) else {
            // Error replies carry no model text; relayed routes pass.
            return Routed::Done(Response::from_parts(parts, body.boxed()));
        };
        let encoded = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        if encoded {
            let why = "it is compressed".to_owned();
            return self.refuse(Refusal::UpstreamUninspectable { why }, log);
        }
        let media_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media_type.as_str() {
            "text/event-stream" => {
                parts.headers.remove(header::CONTENT_LENGTH);
                log.status = parts.status.as_u16();
                let mut log = log.take();
                log.metrics.stream_started();
                let on_end: OnEnd = Box::new(move |rewriter, note| {
                    log.metrics.stream_ended();
                    for fired in rewriter.take_fired() {
                        audit(&mut log, "response", &fired);
                    }
                    if let Some(failed) = rewriter.failed() {
                        log.note = Some(failed.to_owned());
                    } else if let Some(note) = note {
                        log.note = Some(note.to_owned());
                    }
                    log.emit();
                });
                let limits = StreamLimits {
                    stop: Box::pin(self.shared.stopped()),
                    max_duration: self.config.max_stream_duration,
                    max_bytes: self.config.max_stream_bytes,
                };
                let rewriter = self.adapter.stream_rewriter(kind, generation.rules());
                let body = StreamBody::new(body, rewriter, limits, on_end);
                Routed::Stream(Response::from_parts(parts, body.boxed()))
            }
            "application/json" => {
                let limited = http_body_util::Limited::new(body, MAX_REPLY_BYTES);
                let bytes = match limited.collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(_) => {
                        let why = "it broke off or is too large".to_owned();
                        return self.refuse(Refusal::UpstreamUninspectable { why }, log);
                    }
                };
                self.shared.metrics.inspected("response", bytes.len());
                let inspection = match self.adapter.inspect_reply(kind, &generation, &bytes) {
                    Ok(inspection) => inspection,
                    Err(error) => {
                        let why = error.to_string();
                        return self.refuse(Refusal::UpstreamUninspectable { why }, log);
                    }
                };
                let body = match settle(inspection, bytes, "response", log) {
                    Ok(body) => body,
                    Err(message) => return self.refuse(Refusal::ReplyRejected { message }, log),
                };
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                Routed::Done(Response::from_parts(parts, full(body)))
            }
            _ => {
                let why = "its content type is not one the gateway can read".to_owned();
                self.refuse(Refusal::UpstreamUninspectable { why }, log)
            }
        }
    }
}

enum Routed {
    /// A response whose access line can be written now.
    Done(Response<ProxyBody>),
    /// A streamed response; its body writes the access line at its end.
    Stream(Response<ProxyBody>),
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

#[derive(Debug)]
enum BodyError {
    TooLarge,
    /// The inspection budget stayed exhausted for the whole wait.
    Overloaded,
    Read(hyper::Error),
}

/// Memory under inspection, shared by every request of the process.
struct Budget<'a> {
    semaphore: &'a Arc<Semaphore>,
    /// The semaphore's permits when none is taken.
    capacity: u32,
    wait: Duration,
}

/// What inspecting a body of `bytes` costs, in budget permits (KiB): the
/// body and the parsed document the adapter keeps while it walks it. A
/// body that alone exceeds the budget waits for all of it, not forever.
fn inspection_cost(bytes: u64, capacity: u32) -> u32 {
    let kib = (bytes * INSPECTION_COST_FACTOR).div_ceil(1024).max(1);
    kib.min(capacity as u64) as u32
}

/// Reads a whole body, giving up as soon as it is known to exceed `limit`
/// (from its declared length, before reading anything), and holding its
/// share of the inspection budget as it grows. Over budget for the whole
/// wait: [`BodyError::Overloaded`].
async fn read_limited(
    mut body: Incoming,
    declared: Option<u64>,
    limit: u64,
    budget: Budget<'_>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), BodyError> {
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    let deadline = tokio::time::Instant::now() + budget.wait;
    let mut held: Option<OwnedSemaphorePermit> = None;
    // Takes what a body of `size` bytes costs beyond what is held.
    let reserve = |size: u64, held: &mut Option<OwnedSemaphorePermit>| {
        let have = held.as_ref().map_or(0, |p| p.num_permits() as u32);
        let more = inspection_cost(size, budget.capacity).saturating_sub(have);
        let semaphore = budget.semaphore.clone();
        let held = held.take();
        async move {
            if more == 0 {
                return Ok(held);
            }
            match tokio::time::timeout_at(deadline, semaphore.acquire_many_owned(more)).await {
                Ok(Ok(mut permit)) => {
                    if let Some(held) = held {
                        permit.merge(held);
                    }
                    Ok(Some(permit))
                }
                _ => Err(BodyError::Overloaded),
            }
        }
    };
    let capacity = declared.unwrap_or(0).min(limit);
    held = reserve(capacity, &mut held).await?;
    let mut buf = BytesMut::with_capacity(capacity as usize);
    let mut since_yield = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            let len = (buf.len() + data.len()) as u64;
            if len > limit {
                return Err(BodyError::TooLarge);
            }
            held = reserve(len, &mut held).await?;
            buf.extend_from_slice(&data);
            // Let the thread's other requests run while a large body
            // streams in.
            since_yield += data.len();
            if since_yield >= BODY_STEP {
                since_yield = 0;
                tokio::task::yield_now().await;
            }
        }
    }
    Ok((buf.freeze(), held))
}

/// A large body moves through a serving thread this many bytes at a time
/// (read, then a yield; forwarded as frames, and hyper yields after a few),
/// so it never holds the thread long from the other requests.
const BODY_STEP: usize = 64 * 1024;

/// A body as frames of at most [`BODY_STEP`] bytes (no copy).
fn in_frames(bytes: Bytes) -> ProxyBody {
    if bytes.len() <= BODY_STEP {
        return full(bytes);
    }
    crate::body::Frames::new(bytes, BODY_STEP).boxed()
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn json_response(status: StatusCode, body: Bytes) -> Response<ProxyBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A request path for an error message: cut short, and only if it is
/// printable ASCII (it comes from the client and is echoed to it).
fn shown_path(path: &str) -> String {
    const MAX: usize = 200;
    let printable = path.bytes().all(|b| b.is_ascii_graphic());
    match (printable, path.len() > MAX) {
        (false, _) => "(a path with unprintable characters)".to_owned(),
        (true, true) => format!("{}…", &path[..MAX]),
        (true, false) => path.to_owned(),
    }
}

/// A log value with every control character escaped, so no text can
/// start a line of its own.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(char::escape_default)
        .collect::<String>()
        .replace("\\'", "'")
        .replace("\\\"", "\"")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Logs an inspection and turns its outcome into the bytes to pass on, or
/// the adapter's message when a rule rejected.
fn settle(
    inspection: Inspection,
    original: Bytes,
    side: &'static str,
    log: &mut AccessLog,
) -> Result<Bytes, String> {
    for fired in &inspection.fired {
        audit(log, side, fired);
    }
    match inspection.outcome {
        Outcome::Unchanged => Ok(original),
        Outcome::Masked(masked) => Ok(Bytes::from(masked)),
        Outcome::Rejected { message } => Err(message),
    }
}

/// Records one decision (which rule did what, where; never the matched
/// text). Decisions are written as audit lines when the request ends, one
/// per side, rule, action and scope, with a count and the first location:
/// a body full of phone numbers is one line, not a million.
fn audit(log: &mut AccessLog, side: &'static str, fired: &Fired) {
    let same = |d: &&mut AuditLine| {
        d.side == side
            && d.rule == fired.rule
            && d.action == fired.disposition
            && d.scope == fired.scope
            && d.instead_of == fired.instead_of
    };
    match log.decisions.iter_mut().find(same) {
        Some(decision) => decision.count += fired.count,
        None => log.decisions.push(AuditLine {
            side,
            rule: fired.rule.clone(),
            action: fired.disposition,
            scope: fired.scope,
            instead_of: fired.instead_of,
            first_location: fired.location.clone(),
            count: fired.count,
        }),
    }
}

struct AuditLine {
    side: &'static str,
    rule: String,
    action: Disposition,
    scope: Scope,
    instead_of: Option<Disposition>,
    first_location: String,
    count: u64,
}

/// The one line logged per request.
struct AccessLog {
    id: u64,
    decisions: Vec<AuditLine>,
    method: Method,
    /// The route's fixed name (`-` when none matched), never the raw path.
    route: &'static str,
    /// `inspected`, `relayed`, `local` (the gateway's own endpoints) or
    /// `refused` (answered by the gateway with an error).
    class: &'static str,
    metrics: Arc<Metrics>,
    /// The team of the gateway token (`-` when tokens are off).
    team: String,
    /// A keyed fingerprint of the client's API key, or `-`.
    key: String,
    /// Claude Code's session id, `-` or `invalid`.
    session: String,
    client: Option<std::net::SocketAddr>,
    status: u16,
    started: Instant,
    note: Option<String>,
}

impl AccessLog {
    fn new(method: Method, metrics: Arc<Metrics>) -> AccessLog {
        AccessLog {
            id: NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed),
            decisions: Vec::new(),
            method,
            route: "-",
            class: "refused",
            metrics,
            team: "-".to_owned(),
            key: "-".to_owned(),
            session: "-".to_owned(),
            client: None,
            status: 0,
            started: Instant::now(),
            note: None,
        }
    }

    fn take(&mut self) -> AccessLog {
        AccessLog {
            id: self.id,
            decisions: std::mem::take(&mut self.decisions),
            method: self.method.clone(),
            route: self.route,
            class: self.class,
            metrics: self.metrics.clone(),
            team: std::mem::take(&mut self.team),
            key: std::mem::take(&mut self.key),
            session: std::mem::take(&mut self.session),
            client: self.client,
            status: self.status,
            started: self.started,
            note: self.note.take(),
        }
    }

    fn emit(&self) {
        let record = RequestRecord {
            route: self.route,
            class: self.class,
            status: self.status,
        };
        let decisions = self.decisions.iter().map(|d| metrics::Decision {
            side: d.side,
            rule: &d.rule,
            action: d.action.name(),
            scope: d.scope.name(),
            count: d.count,
        });
        self.metrics.request_done(record, decisions);
        let mut rules: Vec<String> = Vec::new();
        for d in &self.decisions {
            tracing::info!(
                target: "rulegate::audit",
                request = self.id,
                team = %self.team,
                key = %self.key,
                session = %self.session,
                rule = %d.rule,
                action = %d.action.name(),
                side = %d.side,
                scope = %d.scope.name(),
                location = %d.first_location,
                count = d.count,
                instead_of = %d.instead_of.map_or("-", Disposition::name),
            );
            let fired = format!("{}:{}", d.rule, d.action.name());
            if !rules.contains(&fired) {
                rules.push(fired);
            }
        }
        let note = self.note.as_deref().map(printable);
        tracing::info!(
            target: "rulegate::access",
            request = self.id,
            client = %self.client.map_or("-".to_owned(), |c| c.ip().to_string()),
            team = %self.team,
            key = %self.key,
            session = %self.session,
            method = %self.method,
            route = %self.route,
            status = self.status,
            latency_ms = %format_args!("{:.1}", self.started.elapsed().as_secs_f64() * 1000.0),
            rules = %rules.join(","),
            note = %note.as_deref().unwrap_or("-"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_connection_listed_ones_go() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("x-api-key", HeaderValue::from_static("k"));
        headers.insert("anthropic-beta", HeaderValue::from_static("b"));
        strip_hop_by_hop(&mut headers);
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["anthropic-beta", "x-api-key"]);
    }
}
