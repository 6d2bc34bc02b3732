//! The TCP connections the server holds, and for how long: a connection
//! must finish a request's headers within the header timeout of its first
//! byte (or of being accepted), may stay idle between requests for the idle
//! timeout, and at most `max` are open at once (past that, new ones wait in
//! the listen backlog). hyper's one `header_read_timeout` also runs while a
//! keep-alive connection idles, so it cannot give the two their own
//! durations; this module does, by watching reads and responses.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::Service;

use crate::sync::lock;

/// How long connections may take and how many may be open.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max: usize,
}

/// The open connections, for the listener that admits them and the metrics
/// that count them.
#[derive(Debug)]
pub struct OpenConnections {
    permits: Arc<Semaphore>,
    max: usize,
}

impl OpenConnections {
    pub fn new(max: usize) -> Self {
        OpenConnections {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    pub fn open(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

/// A listener that admits at most `limits.max` connections and gives each
/// its deadlines.
pub struct LimitedListener {
    listener: TcpListener,
    open: Arc<OpenConnections>,
    limits: ConnectionLimits,
}

impl LimitedListener {
    pub fn new(
        listener: TcpListener,
        open: Arc<OpenConnections>,
        limits: ConnectionLimits,
    ) -> Self {
        LimitedListener {
            listener,
            open,
            limits,
        }
    }
}

impl Listener for LimitedListener {
    type Io = TimedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permits = &self.open.permits;
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::warn!(
                    max = self.open.max,
                    "MAX_CONNECTIONS reached: new connections wait until one closes"
                );
                // The semaphore is never closed.
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return std::future::pending().await;
                };
                permit
            }
        };
        let (stream, address) = Listener::accept(&mut self.listener).await;
        (TimedStream::new(stream, permit, self.limits), address)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Makes each connection's service: the router, told when the
/// connection's requests start and when their responses end.
#[derive(Clone)]
pub struct PerConnection(pub Router);

impl Service<IncomingStream<'_, LimitedListener>> for PerConnection {
    type Response = WatchedRouter;
    type Error = Infallible;
    type Future = std::future::Ready<Result<WatchedRouter, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: IncomingStream<'_, LimitedListener>) -> Self::Future {
        std::future::ready(Ok(WatchedRouter {
            router: self.0.clone(),
            clock: incoming.io().clock.clone(),
        }))
    }
}

/// Where a connection is between requests, and so which deadline holds.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Accepted, or a request's first bytes arrived: its headers are due.
    Headers(Instant),
    /// Between requests.
    Idle(Instant),
    /// A request is being answered; the request timeout bounds it.
    Busy(usize),
    /// A WebSocket now: its pings bound it.
    Upgraded,
}

/// One connection's phase, shared by its stream and its service.
#[derive(Debug)]
struct Clock {
    limits: ConnectionLimits,
    state: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    phase: Phase,
    /// The task waiting to read, woken when a deadline starts from outside a
    /// read (a response ending), so that it arms the deadline.
    reader: Option<Waker>,
}

impl Clock {
    fn new(limits: ConnectionLimits) -> Self {
        Clock {
            limits,
            state: Mutex::new(ClockState {
                phase: Phase::Headers(Instant::now() + limits.header_timeout),
                reader: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        lock(&self.state)
    }

    fn bytes_arrived(&self) {
        let mut state = self.state();
        if let Phase::Idle(_) = state.phase {
            state.phase = Phase::Headers(Instant::now() + self.limits.header_timeout);
        }
    }

    fn request_started(&self) {
        let mut state = self.state();
        state.phase = match state.phase {
            Phase::Busy(requests) => Phase::Busy(requests + 1),
            Phase::Upgraded => Phase::Upgraded,
            Phase::Headers(_) | Phase::Idle(_) => Phase::Busy(1),
        };
    }

    fn response_ended(&self) {
        let mut state = self.state();
        state.phase = match state.phase {
            Phase::Busy(1) => Phase::Idle(Instant::now() + self.limits.idle_timeout),
            Phase::Busy(requests) => Phase::Busy(requests.saturating_sub(1)),
            other => other,
        };
        if let Phase::Idle(_) = state.phase
            && let Some(reader) = state.reader.take()
        {
            reader.wake();
        }
    }

    fn upgraded(&self) {
        self.state().phase = Phase::Upgraded;
    }

    /// The deadline in force, if any, with what it is for; remembers who
    /// waits to read.
    fn deadline(&self, reader: &Waker) -> Option<(Instant, &'static str)> {
        let mut state = self.state();
        if !state
            .reader
            .as_ref()
            .is_some_and(|waiting| waiting.will_wake(reader))
        {
            state.reader = Some(reader.clone());
        }
        match state.phase {
            Phase::Headers(at) => Some((at, "the request headers took too long")),
            Phase::Idle(at) => Some((at, "the connection was idle too long")),
            Phase::Busy(_) | Phase::Upgraded => None,
        }
    }
}

/// A TCP stream that fails its reads once its deadline passes (which closes
/// the connection), and holds its place among the open connections.
pub struct TimedStream {
    stream: TcpStream,
    clock: Arc<Clock>,
    timer: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
    _open: OwnedSemaphorePermit,
}

impl TimedStream {
    fn new(stream: TcpStream, open: OwnedSemaphorePermit, limits: ConnectionLimits) -> Self {
        let clock = Arc::new(Clock::new(limits));
        TimedStream {
            stream,
            clock,
            timer: Box::pin(tokio::time::sleep(limits.header_timeout)),
            armed_for: None,
            _open: open,
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some((deadline, reason)) = self.clock.deadline(cx.waker()) else {
            return Poll::Pending;
        };
        if self.armed_for != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed_for = Some(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, reason))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for TimedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => this.expired(cx),
        }
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router of one connection, which tells the connection's clock when a
/// request starts and when its response has been sent.
#[derive(Clone)]
pub struct WatchedRouter {
    router: Router,
    clock: Arc<Clock>,
}

impl Service<Request> for WatchedRouter {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <Router as Service<Request>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.clock.request_started();
        let clock = self.clock.clone();
        let answer = self.router.call(request);
        Box::pin(async move {
            let response = answer.await?;
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                clock.upgraded();
            }
            let sent = ResponseSent(clock);
            Ok(response.map(|body| Body::new(Sending { body, _sent: sent })))
        })
    }
}

/// A response body that tells the clock when hyper is done with it.
struct Sending {
    body: Body,
    _sent: ResponseSent,
}

struct ResponseSent(Arc<Clock>);

impl Drop for ResponseSent {
    fn drop(&mut self) {
        self.0.response_ended();
    }
}

impl HttpBody for Sending {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The default cap: what the file-descriptor limit leaves once the
/// database pool (a socket, or three files per SQLite connection), webhook
/// deliveries and the process's own files have theirs. The soft limit is
/// raised to the hard one first, as servers commonly do.
pub fn default_max(pool_size: usize) -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .ok()
        .or_else(|| {
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        })
        .unwrap_or(1024);
    let reserved = 3 * pool_size as u64 + 128;
    usize::try_from(limit.saturating_sub(reserved).max(16)).unwrap_or(usize::MAX)
}
