//! The HTTP server every service runs: HTTP/1.1 and HTTP/2 without TLS (prior knowledge, as a
//! sidecar told the port speaks `http2` or `grpc` sends it) on one port; connection timers,
//! a connection cap with room kept for probes, a bound on requests in progress, one bound on
//! request heads, body timeouts; `GET /ready`; and a bounded shutdown that answers every
//! request whose bytes arrived before SIGTERM. docs/performance.md sums what these bounds
//! let memory reach.

mod answer_body;
mod body;
mod connection;
mod cookies;
mod fd_limit;
mod frames;
mod head_budget;
mod host;
pub(crate) mod lifecycle;
pub mod listener;
mod registry;
mod request_limit;
mod service;
pub mod settings;

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, http::Method, routing::get};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    net::{TcpListener, TcpStream},
    time::Instant,
};

pub use fd_limit::{connection_cap, open_file_limit, raise_open_file_limit};
pub use lifecycle::Lifecycle;
pub use request_limit::{Overload, UNSENT_REFUSALS_PER_PLACE};
pub use settings::ServerArgs;

use crate::metrics::ServerMetrics;
use connection::{Timers, WatchedIo};
use head_budget::HeadBudget;
use registry::{Admission, Registry};
use request_limit::RequestLimit;
use service::ConnectionService;

/// What every connection of one server shares.
struct Shared {
    protocols: auto::Builder<TokioExecutor>,
    router: Router,
    lifecycle: Arc<Lifecycle>,
    timers: Timers,
    body_read_timeout: Duration,
    body_deadline: Duration,
    requests: RequestLimit,
    overload: ServerMetrics,
    registry: Arc<Registry>,
}

/// Serves `app` (plus `GET /ready`) on `listener` until `shutdown` completes; then closes as
/// [`ServerArgs`] describes and returns. `connection_cap` comes from [`connection_cap`];
/// requests refused for load are counted in `overload`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    overload: ServerMetrics,
    args: &ServerArgs,
    connection_cap: usize,
    shutdown: impl Future<Output = ()>,
) {
    let lifecycle = Arc::new(Lifecycle::default());
    let health = app.clone();
    let readiness = lifecycle.clone();
    let counted = overload.clone();
    let router = app.route(
        "/ready",
        get(move |method: Method| {
            let (readiness, health, counted) = (readiness.clone(), health.clone(), counted.clone());
            async move {
                let started = Instant::now();
                let answer = readiness.readiness(health).await;
                // GET, or HEAD (which axum routes to the GET handler).
                let method = if method == Method::HEAD {
                    "HEAD"
                } else {
                    "GET"
                };
                let status = answer.status().as_u16();
                counted.record_request(method, "/ready", status, started.elapsed());
                answer
            }
        }),
    );
    let protocols = protocols(args);
    let head_budget = HeadBudget::new(args.max_buffered_head_bytes);
    let requests = RequestLimit::new(
        usize::try_from(args.max_concurrent_requests).unwrap_or(usize::MAX),
        args.request_queue_timeout,
        head_budget.clone(),
        HTTP2_STREAM_WINDOW,
    );
    let registry = Registry::new(connection_cap, head_budget, args.unread_answer_timeout);
    for why in Overload::ALL {
        overload.rejections(why.label());
    }
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
        body_deadline: args.body_deadline,
        requests,
        overload,
        registry: registry.clone(),
    });
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

/// HTTP/1.1 and HTTP/2 sized to the memory budget (docs/performance.md).
fn protocols(args: &ServerArgs) -> auto::Builder<TokioExecutor> {
    let mut protocols = auto::Builder::new(TokioExecutor::new());
    let head = usize::try_from(args.max_header_bytes).unwrap_or(usize::MAX);
    // Our own timers replace hyper's header timer (see connection.rs). The read buffer holds
    // the head, so its bound is the head bound (hyper's default is 400 KiB).
    protocols
        .http1()
        .header_read_timeout(None)
        .max_buf_size(head);
    protocols
        .http2()
        .max_header_list_size(args.max_header_bytes)
        // A stream past the request bound waits anyway: more streams only hold more heads,
        // and each answered stream a client keeps unread holds about 1.3 KiB.
        .max_concurrent_streams(args.max_concurrent_requests.min(HTTP2_MAX_STREAMS))
        // Small windows instead of hyper's 1 MiB: request bodies here are forms and JSON of a
        // few KB, and unread DATA (a stream waiting for a place) is memory the client chose
        // to fill.
        .initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .max_send_buf_size(HTTP2_SEND_BUFFER);
    protocols
}

/// HTTP/2 stream flow-control window, in bytes: Bookinfo's bodies are forms and JSON of a few
/// hundred bytes (ratings takes at most 4 KiB); a larger one still arrives, a window at a time.
const HTTP2_STREAM_WINDOW: u32 = 8 * 1024;

/// Concurrent streams per HTTP/2 connection at most; a sidecar opens more connections past
/// it.
const HTTP2_MAX_STREAMS: u32 = 16;

/// HTTP/2 connection flow-control window, in bytes: RFC 9113's initial 65,535.
const HTTP2_CONNECTION_WINDOW: u32 = 65_535;

/// Answer bytes buffered per HTTP/2 stream before the writer waits (hyper: 400 KiB).
const HTTP2_SEND_BUFFER: usize = 64 * 1024;

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
        let admission = registry.admit();
        if admission.tracker.overflow() {
            tracing::debug!(%peer, "connection cap reached; admitted for probes only");
        }
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
    let _open = shared.overload.open_connection();
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
        // Retiring is for good: the connection then closes as a draining one does.
        if *draining.borrow_and_update() || tracker.retired() {
            tracker.report_quiet();
            if tracker.is_http2() {
                match goaway_sent {
                    None => {
                        // GOAWAY: streams already open finish, no new ones start.
                        connection.as_mut().graceful_shutdown();
                        goaway_sent = Some(Instant::now());
                    }
                    // hyper then waits for the client to acknowledge a PING; a client that
                    // never does must not hold the drain when nothing is in progress. A
                    // connection in the room kept for probes goes after the grace whatever it
                    // still has unsent: that room must come free.
                    Some(at)
                        if at.elapsed() >= GOAWAY_GRACE
                            && (tracker.quiet() || tracker.overflow()) =>
                    {
                        break;
                    }
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
    tracker.closed();
    drop(admission);
}

/// How long an HTTP/2 connection with nothing in progress may stay after its GOAWAY, for
/// requests the client sent before it saw it.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);
