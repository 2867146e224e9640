//! The HTTP server every service runs: HTTP/1.1 and HTTP/2 without TLS (prior knowledge, as a
//! sidecar told the port speaks `http2` or `grpc` sends it) on one port; connection timers,
//! a connection cap and body timeouts; `GET /ready`; and a bounded shutdown that answers
//! every request whose bytes arrived before SIGTERM.

mod body;
mod connection;
mod fd_limit;
mod frames;
mod lifecycle;
pub mod listener;
mod registry;
pub mod settings;

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    extract::ConnectInfo,
    http::{HeaderValue, Request, Response, StatusCode, Version, header},
    routing::get,
};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    net::{TcpListener, TcpStream},
    time::Instant,
};
use tower::ServiceExt;

pub use fd_limit::{connection_cap, open_file_limit, raise_open_file_limit};
pub use lifecycle::Lifecycle;
pub use settings::ServerArgs;

use crate::json::error_response;
use body::{BodyReadTimeout, TimedBody};
use connection::{RequestGuard, Timers, Tracker, WatchedIo};
use registry::{Admission, Registry};

/// What every connection of one server shares.
struct Shared {
    protocols: auto::Builder<TokioExecutor>,
    router: Router,
    lifecycle: Arc<Lifecycle>,
    timers: Timers,
    body_read_timeout: Duration,
}

/// Serves `app` (plus `GET /ready`) on `listener` until `shutdown` completes; then closes as
/// [`ServerArgs`] describes and returns. `connection_cap` comes from [`connection_cap`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    args: &ServerArgs,
    connection_cap: usize,
    shutdown: impl Future<Output = ()>,
) {
    let lifecycle = Arc::new(Lifecycle::default());
    let health = app.clone();
    let readiness = lifecycle.clone();
    let router = app.route(
        "/ready",
        get(move || {
            let (readiness, health) = (readiness.clone(), health.clone());
            async move { readiness.readiness(health).await }
        }),
    );
    let mut protocols = auto::Builder::new(TokioExecutor::new());
    // Our own timers replace hyper's header timer (see connection.rs).
    protocols.http1().header_read_timeout(None);
    let shared = Arc::new(Shared {
        protocols,
        router,
        lifecycle: lifecycle.clone(),
        timers: Timers {
            first_request: args.first_request_timeout,
            header_read: args.header_read_timeout,
            idle: args.idle_timeout,
            stall: args.stall_timeout,
        },
        body_read_timeout: args.body_read_timeout,
    });
    let registry = Registry::new(connection_cap);
    let closing = async {
        shutdown.await;
        lifecycle.start_closing();
        tracing::info!(
            delay_ms = args.shutdown_delay.as_millis(),
            "shutting down: /ready fails; still serving for the delay"
        );
        tokio::time::sleep(args.shutdown_delay).await;
    };
    tokio::select! {
        () = accept(&listener, &shared, &registry) => {}
        () = closing => {}
    }
    drop(listener);
    lifecycle.start_draining();
    if tokio::time::timeout(args.drain_timeout, registry.wait_empty())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = registry.len(),
            drain_timeout_ms = args.drain_timeout.as_millis(),
            "requests still in progress at the drain bound; dropping their connections"
        );
        registry.abort_all();
    }
}

/// Accepts connections for ever.
async fn accept(listener: &TcpListener, shared: &Arc<Shared>, registry: &Arc<Registry>) {
    loop {
        registry.wait_for_room().await;
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) if connection_error(&err) => continue,
            Err(err) => {
                // Out of descriptors, most likely: the error repeats until one is freed,
                // so pause rather than spin.
                tracing::warn!(%err, "accept failed; pausing 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Without TCP_NODELAY a small answer can wait ~40 ms for the peer's delayed ACK.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
        let Some(admission) = registry.admit() else {
            tracing::warn!(%peer, "connection cap reached and no connection can close; refused");
            continue;
        };
        let id = admission.id();
        let task = tokio::spawn(serve_connection(stream, peer, admission, shared.clone()));
        registry.attach(id, task.abort_handle());
    }
}

/// Errors of one incoming connection, not of the listener.
fn connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, a timer runs out, it is evicted, or draining finds
/// nothing in progress on it.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    admission: Admission,
    shared: Arc<Shared>,
) {
    let tracker = admission.tracker.clone();
    let io = TokioIo::new(WatchedIo::new(stream, tracker.clone()));
    let service = ConnectionService {
        shared: shared.clone(),
        tracker: tracker.clone(),
        peer,
    };
    let connection = shared.protocols.serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = shared.lifecycle.draining();
    let mut goaway_sent: Option<Instant> = None;
    // One timer for the connection's life, moved rather than made anew at each look.
    let check = tokio::time::sleep(shared.timers.header_read);
    tokio::pin!(check);
    loop {
        if *draining.borrow_and_update() {
            tracker.report_quiet();
            if tracker.is_http2() {
                match goaway_sent {
                    None => {
                        // GOAWAY: streams already open finish, no new ones start.
                        connection.as_mut().graceful_shutdown();
                        goaway_sent = Some(Instant::now());
                    }
                    // hyper then waits for the client to acknowledge a PING; a client that
                    // never does must not hold the drain when nothing is in progress.
                    Some(at) if at.elapsed() >= GOAWAY_GRACE && tracker.quiet() => break,
                    Some(_) => {}
                }
            } else if tracker.quiet() {
                // Nothing arrived and nothing is in progress: closing loses nothing.
                break;
            }
        }
        let look_again = match tracker.next_check(&shared.timers, Instant::now()) {
            Ok(at) => at,
            Err(reason) => {
                tracing::debug!(%peer, ?reason, "closing connection");
                break;
            }
        };
        let look_again = match goaway_sent {
            Some(at) => look_again.min(at + GOAWAY_GRACE),
            None => look_again,
        };
        check.as_mut().reset(look_again);
        tokio::select! {
            // The connection first: bytes already received are read (and counted) before
            // a drain decides the connection is quiet.
            biased;
            served = connection.as_mut() => {
                if let Err(err) = served {
                    tracing::debug!(%peer, %err, "connection ended with an error");
                }
                break;
            }
            () = &mut check => {}
            () = tracker.changed() => {}
            _ = draining.changed() => {}
        }
    }
    drop(admission);
}

/// How long an HTTP/2 connection with nothing in progress may stay after its GOAWAY, for
/// requests the client sent before it saw it.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// The service of one connection: counts requests for its timers, checks `Host`, times
/// request bodies, and marks answers `Connection: close` once the server is closing.
#[derive(Clone)]
struct ConnectionService {
    shared: Arc<Shared>,
    tracker: Arc<Tracker>,
    peer: SocketAddr,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<GuardedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let guard = self.tracker.request_started();
        let shared = self.shared.clone();
        let peer = self.peer;
        Box::pin(async move {
            let http1 = request.version() < Version::HTTP_2;
            let (mut response, close) = match host_problem(&request) {
                Some(problem) => (error_response(StatusCode::BAD_REQUEST, problem), true),
                None => handle(&shared, request, peer).await,
            };
            if http1 && (close || shared.lifecycle.closing()) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response.map(|body| GuardedBody {
                inner: body,
                _request: guard,
            }))
        })
    }
}

/// Runs the router; a request whose body stalled gets 408 and its connection closes (the
/// rest of the body may still be on its way).
async fn handle(
    shared: &Shared,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> (axum::response::Response, bool) {
    let (parts, body) = request.into_parts();
    // Most requests carry no body: they need no timer and no flag.
    let timed_out =
        (!body.is_end_stream()).then(|| Arc::new(std::sync::atomic::AtomicBool::new(false)));
    let body = match &timed_out {
        None => axum::body::Body::new(body),
        Some(flag) => {
            axum::body::Body::new(TimedBody::new(body, shared.body_read_timeout, flag.clone()))
        }
    };
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = match shared.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if timed_out.is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed)) {
        let message = BodyReadTimeout(shared.body_read_timeout).to_string();
        return (error_response(StatusCode::REQUEST_TIMEOUT, &message), true);
    }
    (response, false)
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host`. HTTP/2 carries
/// `:authority` instead, and HTTP/1.0 predates the rule.
fn host_problem<B>(request: &Request<B>) -> Option<&'static str> {
    if request.version() != Version::HTTP_11 {
        return None;
    }
    let mut hosts = request.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), None) => None,
        (None, _) => Some("an HTTP/1.1 request needs a Host header"),
        (Some(_), Some(_)) => Some("an HTTP/1.1 request carries one Host header, not several"),
    }
}

/// An answer's body, holding its request's place in the connection's count until hyper has
/// sent (or dropped) it.
struct GuardedBody {
    inner: axum::body::Body,
    _request: RequestGuard,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http11_needs_exactly_one_host() {
        let request = |version, hosts: &[&str]| {
            let mut builder = Request::get("/").version(version);
            for host in hosts {
                builder = builder.header(header::HOST, *host);
            }
            builder
                .body(())
                .map(|request| host_problem(&request).is_some())
        };
        assert_eq!(request(Version::HTTP_11, &["x"]).ok(), Some(false));
        assert_eq!(request(Version::HTTP_11, &[]).ok(), Some(true));
        assert_eq!(request(Version::HTTP_11, &["x", "y"]).ok(), Some(true));
        assert_eq!(request(Version::HTTP_10, &[]).ok(), Some(false));
        assert_eq!(request(Version::HTTP_2, &[]).ok(), Some(false));
    }
}
