//! Accepting client connections and keeping them bounded.
//!
//! Invariants:
//! - At most `max_connections` client connections are open across every
//!   serving thread; at the cap the accept loop stops accepting (the kernel
//!   queues or refuses), it does not accept and drop, and it never spins.
//! - A connection that has sent part of a request head for longer than
//!   `header_read_timeout`, or has sat idle between requests for longer
//!   than `idle_timeout`, is closed. A connection with a request in flight
//!   (its body being read or its reply being written) is never closed by
//!   these timers.
//! - On shutdown the listener closes at once; in-flight requests and
//!   streams get `drain_timeout`, after which every stream still running
//!   ends with the API's error event ([`Shared::stop_streams`]).
//! - Accept errors (out of file descriptors) are logged at most once a
//!   second, with a count, and back off.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::gateway::Gateway;
use crate::inspect_pool::InspectPool;

/// State shared by every serving thread of one gateway process.
pub struct Shared {
    /// One permit per open client connection.
    pub connections: Arc<Semaphore>,
    /// One permit per KiB of inspection memory.
    pub inspection: Arc<Semaphore>,
    pub inspection_kib: u32,
    /// Where large bodies are inspected: one thread fewer than the cores
    /// (at least one), at nice 19, so they leave a core to the serving
    /// threads.
    pub(crate) heavy_inspections: InspectPool,
    /// Set when the drain deadline has passed: streams end now.
    stop: watch::Sender<bool>,
    max_connections: usize,
    /// Whether a serving thread already runs the memory-trim watcher.
    trimming: AtomicBool,
    /// What `GET /metrics` shows, for every serving thread.
    pub metrics: Arc<Metrics>,
}

impl Shared {
    pub fn new(max_connections: usize, inspection_budget_bytes: u64) -> Shared {
        let kib = (inspection_budget_bytes / 1024).clamp(1, u32::MAX as u64) as u32;
        Shared {
            connections: Arc::new(Semaphore::new(
                max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
            inspection: Arc::new(Semaphore::new(kib as usize)),
            inspection_kib: kib,
            heavy_inspections: InspectPool::new(
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get().saturating_sub(1).max(1)),
            ),
            stop: watch::channel(false).0,
            max_connections: max_connections.clamp(1, Semaphore::MAX_PERMITS),
            trimming: AtomicBool::new(false),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Open connections and reserved inspection KiB, now.
    pub fn in_use(&self) -> (usize, usize) {
        let connections = self.max_connections - self.connections.available_permits();
        let kib = self.inspection_kib as usize - self.inspection.available_permits();
        (connections, kib)
    }

    /// Ends every running stream with an error event.
    pub fn stop_streams(&self) {
        self.stop.send_replace(true);
    }

    /// Resolves once [`Shared::stop_streams`] was called.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut receiver = self.stop.subscribe();
        async move {
            let _ = receiver.wait_for(|stopped| *stopped).await;
        }
    }
}

/// What a connection's watchdog knows of it. Times are milliseconds since
/// the connection was accepted.
pub(crate) struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    /// When the connection last became idle (accepted, or a reply ended).
    idle_since: AtomicU64,
    /// Whether a byte arrived since then, and when the first one did.
    reading: AtomicBool,
    head_started: AtomicU64,
    /// Wakes the watchdog when the state changes (its deadline moves).
    changed: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            reading: AtomicBool::new(false),
            head_started: AtomicU64::new(0),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn read_some(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && !self.reading.swap(true, Ordering::Relaxed)
        {
            self.head_started.store(self.now(), Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    /// A request started: the connection is busy until the guard drops
    /// (with the reply's body).
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// Held by a reply's body: the connection is busy while it lives.
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.reading.store(false, Ordering::Relaxed);
        activity.idle_since.store(activity.now(), Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::Relaxed);
        activity.changed.notify_one();
    }
}

/// A client socket (TCP, or TLS over it) that tells its watchdog when
/// bytes arrive.
struct Watched<S> {
    stream: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Resolves when the connection has overstayed: a head arriving too
/// slowly, or idle too long.
async fn watchdog(activity: Arc<Activity>, header_read: Duration, idle: Duration) -> &'static str {
    let header_read = header_read.as_millis() as u64;
    let idle = idle.as_millis() as u64;
    loop {
        let now = activity.now();
        let due = if activity.in_flight.load(Ordering::Relaxed) > 0 {
            // Busy: look again later; the guard resets the clock when done.
            now + header_read.min(idle).max(100)
        } else if activity.reading.load(Ordering::Relaxed) {
            let due = activity.head_started.load(Ordering::Relaxed) + header_read;
            if now >= due {
                return "the request head took too long";
            }
            due
        } else {
            let due = activity.idle_since.load(Ordering::Relaxed) + idle;
            if now >= due {
                return "idle";
            }
            due
        };
        // A state change (a head starts, a reply ends) moves the deadline.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(due - now + 1)) => {}
            () = activity.changed.notified() => {}
        }
    }
}

/// Logs accept errors at most once a second.
struct AcceptErrors {
    count: u64,
    since: Instant,
    backoff: Duration,
}

impl AcceptErrors {
    fn new() -> AcceptErrors {
        AcceptErrors {
            count: 0,
            since: Instant::now(),
            backoff: Duration::from_millis(10),
        }
    }

    async fn failed(&mut self, error: io::Error) {
        self.count += 1;
        if self.since.elapsed() >= Duration::from_secs(1) {
            tracing::warn!(
                "accept failed {} time(s) in the last {:.1} s, last: {error}",
                self.count,
                self.since.elapsed().as_secs_f64()
            );
            self.count = 0;
            self.since = Instant::now();
        }
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(Duration::from_secs(1));
    }

    fn succeeded(&mut self) {
        self.backoff = Duration::from_millis(10);
    }
}

/// What serving one accepted connection needs.
struct Connection {
    gateway: Arc<Gateway>,
    builder: hyper::server::conn::http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
    header_read: Duration,
    idle: Duration,
    peer: std::net::SocketAddr,
}

impl Connection {
    /// Serves requests on `stream` until the client goes, the watchdog
    /// closes it, or a graceful shutdown ends it.
    async fn run<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = {
            let (gateway, activity, peer) = (self.gateway.clone(), activity.clone(), self.peer);
            hyper::service::service_fn(move |request| {
                let gateway = gateway.clone();
                let in_flight = activity.begin();
                async move { Ok::<_, Infallible>(gateway.handle(request, in_flight, peer).await) }
            })
        };
        let io = TokioIo::new(Watched {
            stream,
            activity: activity.clone(),
        });
        let connection = self
            .watcher
            .watch(self.builder.serve_connection(io, service));
        tokio::select! {
            result = connection => {
                if let Err(error) = result {
                    tracing::debug!("connection ended: {error}");
                }
            }
            why = watchdog(activity, self.header_read, self.idle) => {
                tracing::debug!("connection closed: {why}");
            }
        }
    }
}

/// Serves connections from `listener` until `shutdown` resolves, then
/// stops accepting, gives in-flight requests and streams the drain
/// deadline, and ends the streams still running after it.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let config = gateway.config().clone();
    let shared = gateway.shared().clone();
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.max_buf_size(config.max_header_bytes.max(8192));
    let mut errors = AcceptErrors::new();
    if !shared.trimming.swap(true, Ordering::Relaxed) {
        tokio::spawn(crate::trim::watch(Arc::downgrade(&shared)));
    }
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = shared.connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    errors.succeeded();
                    (stream, peer)
                }
                Err(error) => {
                    errors.failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            gateway: gateway.clone(),
            builder: builder.clone(),
            watcher: graceful.watcher(),
            header_read: config.header_read_timeout,
            idle: config.idle_timeout,
            peer,
        };
        let tls = config.listener_tls.as_ref().map(|tls| tls.acceptor());
        tokio::spawn(async move {
            match tls {
                None => connection.run(stream).await,
                Some(acceptor) => {
                    // The handshake counts against the head's deadline: a
                    // client that opens and stalls holds a permit no longer.
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(connection.header_read, handshake).await {
                        Ok(Ok(stream)) => connection.run(stream).await,
                        Ok(Err(error)) => tracing::debug!("TLS handshake failed: {error}"),
                        Err(_) => tracing::debug!("TLS handshake took too long"),
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(config.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "drain deadline of {} s passed: ending the streams still running",
            config.drain_timeout.as_secs_f64()
        );
        shared.stop_streams();
        // Give the error events a moment to reach the clients.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
