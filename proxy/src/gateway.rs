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

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use rulegate_engine::{Disposition, RuleSet};
use tokio::net::TcpListener;

use crate::adapter::anthropic::Anthropic;
use crate::adapter::{ApiAdapter, Fired, Inspection, Outcome, Refusal, StreamRewriter};
use crate::config::Config;
use crate::route::{Class, Decision, RouteTable, ShadowError};

/// The body type of every request and response the gateway produces.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

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
/// big request does not stall the other streams of its thread.
const INLINE_INSPECTION_LIMIT: usize = 64 * 1024;

/// The shared state of a running gateway.
pub struct Gateway {
    rules: RuleSet,
    config: Config,
    client: UpstreamClient,
    adapter: Arc<dyn ApiAdapter>,
    routes: RouteTable,
}

impl Gateway {
    pub fn new(rules: RuleSet, config: Config) -> Result<Gateway, GatewayError> {
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
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let adapter: Arc<dyn ApiAdapter> = Arc::new(Anthropic);
        let mut routes = RouteTable::new(adapter.routes());
        for pattern in &config.relayed {
            routes.add_relayed(pattern.clone())?;
        }
        Ok(Gateway {
            rules,
            config,
            client,
            adapter,
            routes,
        })
    }

    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one client request.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        let mut log = AccessLog {
            id: NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed),
            method: request.method().clone(),
            route: "-",
            status: 0,
            started: Instant::now(),
            fired: Vec::new(),
            note: None,
        };
        let response = self.route(request, &mut log).await;
        match response {
            Routed::Done(response) => {
                log.status = response.status().as_u16();
                log.emit();
                response
            }
            Routed::Stream(response) => response,
        }
    }

    /// The gateway's own answer, in the API's error shape.
    fn refuse(&self, refusal: Refusal, log: &mut AccessLog) -> Routed {
        log.note = Some(format!("refused ({} to blame)", refusal.blame()));
        let mut response = json_response(
            refusal.status(),
            Bytes::from(self.adapter.error_body(&refusal)),
        );
        if let Refusal::MethodNotAllowed { allowed, .. } = &refusal {
            if let Ok(value) = HeaderValue::from_str(allowed) {
                response.headers_mut().insert(header::ALLOW, value);
            }
        }
        Routed::Done(response)
    }

    async fn route(&self, request: Request<Incoming>, log: &mut AccessLog) -> Routed {
        let path = request.uri().path();
        if path == "/healthz" && matches!(*request.method(), Method::GET | Method::HEAD) {
            log.route = "healthz";
            return Routed::Done(json_response(
                StatusCode::OK,
                Bytes::from_static(b"{\"status\":\"ok\"}"),
            ));
        }
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
        headers.remove(header::HOST);
        headers.remove(header::ACCEPT_ENCODING);

        let upstream_body = match kind {
            Some(kind) => {
                let declared = headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let limit = self.config.max_body_bytes;
                let bytes = match read_limited(body, declared, limit).await {
                    Ok(bytes) => bytes,
                    Err(BodyError::TooLarge) => {
                        return self.refuse(Refusal::TooLarge { limit }, log)
                    }
                    Err(BodyError::Read(error)) => {
                        let refused = self.refuse(Refusal::BodyUnreadable, log);
                        log.note = Some(format!("client body: {error}"));
                        return refused;
                    }
                };
                let inspected = if bytes.len() < INLINE_INSPECTION_LIMIT {
                    self.adapter.inspect_request(kind, &self.rules, &bytes)
                } else {
                    let (adapter, rules, body) =
                        (self.adapter.clone(), self.rules.clone(), bytes.clone());
                    let task = move || adapter.inspect_request(kind, &rules, &body);
                    match tokio::task::spawn_blocking(task).await {
                        Ok(inspected) => inspected,
                        Err(_) => return self.refuse(Refusal::Internal, log),
                    }
                };
                let inspection = match inspected {
                    Ok(inspection) => inspection,
                    Err(error) => return self.refuse(Refusal::Uninspectable(error), log),
                };
                let forwarded = match settle(inspection, bytes, "request", log) {
                    Ok(forwarded) => forwarded,
                    Err(message) => return self.refuse(Refusal::Rejected { message }, log),
                };
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(forwarded.len()));
                full(forwarded)
            }
            None => body.boxed(),
        };

        let mut upstream_request = Request::new(upstream_body);
        *upstream_request.method_mut() = parts.method;
        *upstream_request.uri_mut() = uri;
        *upstream_request.headers_mut() = headers;

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
                let body = SseBody {
                    upstream: body,
                    rewriter: self.adapter.stream_rewriter(kind, &self.rules),
                    ended: false,
                    flush_next: false,
                    log: Some(log.take()),
                };
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
                let inspection = match self.adapter.inspect_reply(kind, &self.rules, &bytes) {
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

/// Serves connections from `listener` until `shutdown` resolves, then
/// stops accepting and waits for in-flight requests (and streams) to end.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let builder = hyper::server::conn::http1::Builder::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of file descriptors and the like: back off
                        // rather than spin.
                        tracing::warn!("accept failed: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let gateway = gateway.clone();
                let service = hyper::service::service_fn(move |request| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, Infallible>(gateway.handle(request).await) }
                });
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!("connection ended: {error}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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
    Read(hyper::Error),
}

/// Reads a whole body, giving up as soon as it is known to exceed `limit`
/// (from its declared length, before reading anything).
async fn read_limited(
    mut body: Incoming,
    declared: Option<u64>,
    limit: u64,
) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    let capacity = declared.unwrap_or(0).min(limit) as usize;
    let mut buf = BytesMut::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if (buf.len() + data.len()) as u64 > limit {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
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
    side: &str,
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

/// One decision: which rule did what, where; never the matched text.
fn audit(log: &mut AccessLog, side: &str, fired: &Fired) {
    tracing::info!(
        target: "rulegate::audit",
        request = log.id,
        rule = %fired.rule,
        action = %fired.disposition.name(),
        side = %side,
        scope = %fired.scope.name(),
        location = %fired.location,
        instead_of = %fired.instead_of.map_or("-", Disposition::name),
    );
    log.fired
        .push(format!("{}:{}", fired.rule, fired.disposition.name()));
}

/// The one line logged per request.
struct AccessLog {
    id: u64,
    method: Method,
    /// The route's fixed name (`-` when none matched), never the raw path.
    route: &'static str,
    status: u16,
    started: Instant,
    /// `rule:action` of every rule that fired, in order.
    fired: Vec<String>,
    note: Option<String>,
}

impl AccessLog {
    fn take(&mut self) -> AccessLog {
        AccessLog {
            id: self.id,
            method: self.method.clone(),
            route: self.route,
            status: self.status,
            started: self.started,
            fired: std::mem::take(&mut self.fired),
            note: self.note.take(),
        }
    }

    fn emit(&self) {
        let mut rules: Vec<&str> = Vec::new();
        for fired in &self.fired {
            if !rules.contains(&fired.as_str()) {
                rules.push(fired);
            }
        }
        tracing::info!(
            target: "rulegate::access",
            request = self.id,
            method = %self.method,
            route = %self.route,
            status = self.status,
            latency_ms = %format_args!("{:.1}", self.started.elapsed().as_secs_f64() * 1000.0),
            rules = %rules.join(","),
            note = %self.note.as_deref().unwrap_or("-"),
        );
    }
}

/// A streamed reply run through the response rules. Dropping it (the client
/// went away) drops the upstream body, which ends the upstream request.
struct SseBody {
    upstream: Incoming,
    rewriter: Box<dyn StreamRewriter>,
    ended: bool,
    /// Set after a frame went out: the next poll returns `Pending` once, so
    /// hyper writes that frame now. Without it, while upstream bytes are
    /// already waiting, hyper gathers many events into one late write.
    flush_next: bool,
    log: Option<AccessLog>,
}

impl SseBody {
    fn finish_log(&mut self, note: Option<&str>) {
        if let Some(mut log) = self.log.take() {
            for fired in self.rewriter.take_fired() {
                audit(&mut log, "response", &fired);
            }
            if let Some(failed) = self.rewriter.failed() {
                log.note = Some(failed.to_owned());
            } else if let Some(note) = note {
                log.note = Some(note.to_owned());
            }
            log.emit();
        }
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        self.finish_log(Some("client went away before the stream ended"));
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if std::mem::take(&mut this.flush_next) && !this.ended {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let mut out = Vec::new();
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.rewriter.push(&data, &mut out),
                    // Trailers carry no text.
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                Poll::Ready(Some(Err(error))) => {
                    this.ended = true;
                    this.finish_log(Some("upstream stream broke off"));
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => {
                    this.rewriter.finish(&mut out);
                    this.ended = true;
                    this.finish_log(None);
                }
            }
            if this.rewriter.failed().is_some() && !this.ended {
                // Fail closed: the error event is the last thing sent, and
                // dropping the upstream body ends the upstream request.
                this.ended = true;
                this.finish_log(None);
            }
            if !out.is_empty() {
                this.flush_next = true;
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
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
