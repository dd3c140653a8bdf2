//! The reply bodies the gateway hands to hyper.
//!
//! Invariants:
//! - Every reply body holds its connection's [`InFlight`] guard, so the
//!   connection counts as busy until the client has the whole reply (or
//!   went away).
//! - A streamed reply runs the adapter's rewriter as the client pulls:
//!   nothing is read from upstream faster than the client takes it, so a
//!   slow client holds at most one upstream frame and the rewriter's state.
//!   Dropping it (the client went away) drops the upstream body, which ends
//!   the upstream request.
//! - A stream ends with the API's error event when the gateway stops
//!   (drain deadline), when it has run longer than its time cap, or when
//!   the upstream sent more than its byte cap.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::adapter::StreamRewriter;
use crate::listener::InFlight;

/// The body type of every request and response the gateway produces.
pub type ProxyBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

/// A reply body that keeps its connection busy while it lives.
pub(crate) struct Guarded {
    inner: ProxyBody,
    _in_flight: Option<InFlight>,
}

impl Guarded {
    pub(crate) fn wrap(inner: ProxyBody, in_flight: Option<InFlight>) -> ProxyBody {
        Guarded {
            inner,
            _in_flight: in_flight,
        }
        .boxed()
    }
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A whole body handed out in frames of at most `frame` bytes, without
/// copying.
pub(crate) struct Frames {
    rest: Bytes,
    frame: usize,
}

impl Frames {
    pub(crate) fn new(bytes: Bytes, frame: usize) -> Frames {
        Frames {
            rest: bytes,
            frame: frame.max(1),
        }
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let take = self.frame.min(self.rest.len());
        let frame = self.rest.split_to(take);
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

type Stop = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

/// Why a stream was cut short, for the access log.
pub(crate) type OnEnd = Box<dyn FnMut(&mut dyn StreamRewriter, Option<&str>) + Send + Sync>;

/// Limits on one streamed reply.
pub(crate) struct StreamLimits {
    /// Resolves when the gateway's drain deadline has passed.
    pub stop: Stop,
    pub max_duration: Option<Duration>,
    /// Upstream bytes at most; 0 for no limit.
    pub max_bytes: u64,
}

/// A streamed reply run through the adapter's rewriter.
pub(crate) struct StreamBody {
    upstream: Incoming,
    rewriter: Box<dyn StreamRewriter>,
    ended: bool,
    /// Set after a frame went out: the next poll returns `Pending` once, so
    /// hyper writes that frame now. Without it, while upstream bytes are
    /// already waiting, hyper gathers many events into one late write.
    flush_next: bool,
    stop: Stop,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    max_bytes: u64,
    received: u64,
    /// Called once when the stream ends, however it ends.
    on_end: Option<OnEnd>,
}

impl StreamBody {
    pub(crate) fn new(
        upstream: Incoming,
        rewriter: Box<dyn StreamRewriter>,
        limits: StreamLimits,
        on_end: OnEnd,
    ) -> StreamBody {
        StreamBody {
            upstream,
            rewriter,
            ended: false,
            flush_next: false,
            stop: limits.stop,
            deadline: limits.max_duration.map(|d| Box::pin(tokio::time::sleep(d))),
            max_bytes: limits.max_bytes,
            received: 0,
            on_end: Some(on_end),
        }
    }

    fn end(&mut self, note: Option<&str>) {
        self.ended = true;
        if let Some(mut on_end) = self.on_end.take() {
            on_end(self.rewriter.as_mut(), note);
        }
    }

    /// Ends the stream with the API's error event.
    fn abort(&mut self, why: &str) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut out = Vec::new();
        self.rewriter.abort(why, &mut out);
        self.end(Some(why));
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))))
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        if !self.ended {
            self.end(Some("client went away before the stream ended"));
        }
    }
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        if this.stop.as_mut().poll(cx).is_ready() {
            return this.abort("the gateway is shutting down");
        }
        if let Some(deadline) = &mut this.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                return this.abort("the stream ran longer than the gateway allows");
            }
        }
        if std::mem::take(&mut this.flush_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            let mut out = Vec::new();
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.received += data.len() as u64;
                        if this.max_bytes > 0 && this.received > this.max_bytes {
                            return this.abort("the stream is longer than the gateway allows");
                        }
                        this.rewriter.push(&data, &mut out);
                    }
                    // Trailers carry no text.
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                Poll::Ready(Some(Err(error))) => {
                    // The client gets the API's error event, not a torn
                    // chunked body.
                    tracing::debug!("upstream stream broke off: {error}");
                    return this.abort("the upstream stream broke off");
                }
                Poll::Ready(None) => {
                    this.rewriter.finish(&mut out);
                    this.end(None);
                }
            }
            if this.rewriter.failed().is_some() && !this.ended {
                // Fail closed: the error event is the last thing sent, and
                // dropping the upstream body ends the upstream request.
                this.end(None);
            }
            if !out.is_empty() {
                this.flush_next = !this.ended;
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
            if this.ended {
                return Poll::Ready(None);
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
