//! The recording server: hyper 1 over plain TCP or rustls, HTTP/1.1 and h2.
//!
//! Invariants: a request is recorded (whole body read) before the responder
//! sees it, so `requests()` lists even a request whose reply hangs; a
//! streamed reply counts as aborted exactly when hyper drops its body before
//! the body reported its end; dropping the `MockUpstream` aborts the accept
//! task, which owns every connection task.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;

use crate::{Recorded, Reply, Responder};

/// How many recorded requests are kept (the oldest go first).
const KEPT_REQUESTS: usize = 256;

/// A running mock; see the crate docs.
pub struct MockUpstream {
    addr: SocketAddr,
    certificate_pem: Option<String>,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

struct Shared {
    responder: Responder,
    requests: Mutex<Vec<Recorded>>,
    aborted: AtomicUsize,
}

impl MockUpstream {
    /// Plain HTTP on 127.0.0.1:0.
    pub async fn start(responder: Responder) -> io::Result<MockUpstream> {
        Self::start_on((Ipv4Addr::LOCALHOST, 0).into(), responder).await
    }

    /// Plain HTTP on a chosen address (the binary's `--listen`; tests use `start`).
    pub async fn start_on(addr: SocketAddr, responder: Responder) -> io::Result<MockUpstream> {
        Self::bind(addr, responder, None).await
    }

    /// HTTPS on 127.0.0.1:0 with a fresh self-signed certificate for
    /// "localhost" and "127.0.0.1"; ALPN offers h2 and http/1.1.
    pub async fn start_tls(responder: Responder) -> io::Result<MockUpstream> {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let generated = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        let key = PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
        // The provider is named rather than taken from the process default, so
        // the mock works whatever else in the test binary installed one.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(
                vec![generated.cert.der().clone()],
                PrivateKeyDer::Pkcs8(key),
            )
            .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let tls = (TlsAcceptor::from(Arc::new(config)), generated.cert.pem());
        Self::bind((Ipv4Addr::LOCALHOST, 0).into(), responder, Some(tls)).await
    }

    async fn bind(
        addr: SocketAddr,
        responder: Responder,
        tls: Option<(TlsAcceptor, String)>,
    ) -> io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            responder,
            requests: Mutex::new(Vec::new()),
            aborted: AtomicUsize::new(0),
        });
        let (acceptor, certificate_pem) = tls.unzip();
        let accept = tokio::spawn(accept_loop(listener, acceptor, shared.clone()));
        Ok(MockUpstream {
            addr,
            certificate_pem,
            shared,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://127.0.0.1:PORT" or, for TLS, "https://localhost:PORT" (the
    /// name the certificate is for).
    pub fn url(&self) -> String {
        match self.certificate_pem {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// PEM of the self-signed certificate the TLS mock serves (None for plain).
    pub fn certificate_pem(&self) -> Option<String> {
        self.certificate_pem.clone()
    }

    /// Everything received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// How many replies were cut short because the client went away.
    pub fn aborted_streams(&self) -> usize {
        self.shared.aborted.load(Ordering::SeqCst)
    }

    /// Polls until `aborted_streams() >= n` or `timeout` passes; returns
    /// whether it happened.
    pub async fn wait_aborted(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.aborted_streams() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A test that panicked while holding the lock must not hide the requests
/// from the next assertion, so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    // Connection tasks live in this set so that aborting the accept task
    // (on drop) aborts them too.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            // Out of descriptors and the like: wait rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Frames are meant to leave one by one, not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let (tls, shared) = (tls.clone(), shared.clone());
        connections.spawn(async move {
            match tls {
                None => serve(TokioIo::new(tcp), shared).await,
                Some(tls) => {
                    if let Ok(stream) = tls.accept(tcp).await {
                        serve(TokioIo::new(stream), shared).await;
                    }
                }
            }
        });
    }
}

async fn serve<I>(io: I, shared: Arc<Shared>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle(request, shared.clone()));
    // A connection error is the client going away or misbehaving; the tests
    // see the former through aborted_streams and the latter client-side.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, service)
        .await;
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Frames>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let recorded = Recorded {
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
        method: parts.method,
        headers: parts.headers,
        body,
        version: parts.version,
    };
    {
        let mut requests = lock(&shared.requests);
        // A long benchmark run must not grow without bound (1 MiB bodies,
        // thousands of requests); tests look at far fewer.
        if requests.len() == KEPT_REQUESTS {
            requests.remove(0);
        }
        requests.push(recorded.clone());
    }
    let reply = (shared.responder)(&recorded);
    let Reply::Chunks {
        mut status,
        headers,
        mut frames,
        delay,
    } = reply
    else {
        // Hang: the connection stays open and silent until the client or
        // the drop of the mock ends it.
        return std::future::pending().await;
    };
    let mut header_map = HeaderMap::new();
    for (name, value) in headers {
        match (HeaderName::try_from(&name), HeaderValue::try_from(&value)) {
            (Ok(name), Ok(value)) => {
                header_map.append(name, value);
            }
            // A typo in a test's reply should fail loudly, not vanish.
            _ => {
                let message = format!("mock-upstream: invalid reply header {name:?}: {value:?}");
                (status, frames) = (500, vec![Bytes::from(message)]);
                header_map.clear();
                break;
            }
        }
    }
    // hyper never polls a HEAD reply's body; dropping it is not an abort.
    if recorded.method == http::Method::HEAD {
        frames.clear();
    }
    let mut response = Response::new(Frames::new(frames, delay, shared));
    // Only a status outside 100..=999 fails; 501 marks the test's mistake.
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_IMPLEMENTED);
    *response.headers_mut() = header_map;
    Ok(response)
}

/// A reply body that yields the given frames, sleeping `delay` between them.
///
/// States: frames left → (sleep | yield) → frame → ... → end (`finished`).
/// Dropped before `finished` means the connection went away mid-reply.
struct Frames {
    frames: std::collections::VecDeque<Bytes>,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// With no delay, return Pending once between frames so hyper flushes
    /// each frame as its own write instead of coalescing them.
    yield_next: bool,
    /// The first frame went out (the delay is a pause between frames, so
    /// the time to first byte is not a timer's).
    started: bool,
    finished: bool,
    shared: Arc<Shared>,
}

impl Frames {
    fn new(frames: Vec<Bytes>, delay: Duration, shared: Arc<Shared>) -> Frames {
        Frames {
            finished: frames.is_empty(),
            frames: frames.into(),
            delay,
            sleep: None,
            yield_next: false,
            started: false,
            shared,
        }
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.frames.is_empty() {
            this.finished = true;
            return Poll::Ready(None);
        }
        if this.delay.is_zero() {
            if this.yield_next {
                this.yield_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        } else if this.started {
            let delay = this.delay;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        this.yield_next = true;
        this.started = true;
        Poll::Ready(this.frames.pop_front().map(|frame| Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        // Only an empty reply is known to be over up front; otherwise hyper
        // polls once more past the last frame, which marks it finished.
        self.finished
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.aborted.fetch_add(1, Ordering::SeqCst);
        }
    }
}
