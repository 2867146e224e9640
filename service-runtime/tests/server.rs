//! The server's connection handling over real sockets: the three connection timers, the
//! body timer, h2c, the Host rule, the connection cap, `/ready`, and shutdown.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{Router, http::StatusCode, routing::get};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use service_runtime::{
    RunningServer,
    server::{ServerArgs, UNSENT_REFUSALS_PER_PLACE},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Larger than any socket buffer pair, so a client that stops reading stalls the answer.
const BIG_ANSWER: usize = 32 * 1024 * 1024;

/// Generous: these tests show that a timer fires, not how precisely.
const WITHIN: Duration = Duration::from_secs(10);

fn app() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/hello",
            get(|| async { "hello" }).post(|body: Bytes| async move { body }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route("/big", get(|| async { vec![b'x'; BIG_ANSWER] }))
        .route(
            "/forever",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
}

fn quick_shutdown() -> ServerArgs {
    ServerArgs {
        shutdown_delay: Duration::ZERO,
        drain_timeout: Duration::from_secs(5),
        ..ServerArgs::default()
    }
}

async fn start(args: ServerArgs) -> RunningServer {
    start_app(app(), args).await
}

async fn start_app(app: Router, args: ServerArgs) -> RunningServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    RunningServer::start_with(listener, app, args).expect("the server starts")
}

/// Reads until the server closes the connection; returns what arrived and when it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (String, Instant) {
    let mut received = Vec::new();
    let read = tokio::time::timeout(WITHIN, stream.read_to_end(&mut received)).await;
    assert!(
        read.is_ok(),
        "the connection is still open after {WITHIN:?}"
    );
    (
        String::from_utf8_lossy(&received).into_owned(),
        Instant::now(),
    )
}

/// Reads one whole answer (headers and a Content-Length body) off a keep-alive connection.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let n = tokio::time::timeout(WITHIN, stream.read(&mut chunk))
            .await
            .expect("an answer in time")
            .expect("the connection reads");
        assert!(n > 0, "closed before a whole answer: {text:?}");
        received.extend_from_slice(&chunk[..n]);
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("the server accepts")
}

#[tokio::test]
async fn a_head_cut_short_is_closed_at_the_header_timeout() {
    let server = start(ServerArgs {
        header_read_timeout: Duration::from_millis(300),
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: a")
        .await
        .expect("sends");
    let (_, closed) = read_until_closed(&mut stream).await;
    assert!(closed - started >= Duration::from_millis(250));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_first_request_timeout() {
    let server = start(ServerArgs {
        first_request_timeout: Duration::from_millis(300),
        ..quick_shutdown()
    })
    .await;
    let started = Instant::now();
    let mut stream = connect(server.addr()).await;
    let (received, closed) = read_until_closed(&mut stream).await;
    assert_eq!(received, "");
    assert!(closed - started >= Duration::from_millis(250));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_keep_alive_connection_outlives_the_header_timeout_and_closes_when_idle() {
    let header_read = Duration::from_millis(200);
    let idle = Duration::from_millis(1500);
    let server = start(ServerArgs {
        header_read_timeout: header_read,
        first_request_timeout: header_read,
        idle_timeout: idle,
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    let request = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request).await.expect("sends");
    assert!(read_answer(&mut stream).await.ends_with("hello"));
    // Waiting between requests is not reading a head: the header timer must not fire.
    tokio::time::sleep(header_read * 3).await;
    stream.write_all(request).await.expect("sends");
    assert!(read_answer(&mut stream).await.ends_with("hello"));
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut stream).await;
    assert!(closed - answered >= idle - Duration::from_millis(100));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_stalled_body_is_answered_408() {
    let server = start(ServerArgs {
        body_read_timeout: Duration::from_millis(300),
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    stream
        .write_all(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .expect("sends");
    let (received, _) = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(
        received.contains("no request body data for 300 ms"),
        "{received}"
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn http1_requests_need_exactly_one_host() {
    let server = start(quick_shutdown()).await;
    for (request, status) in [
        (&b"GET /hello HTTP/1.1\r\n\r\n"[..], "400"),
        (b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        (b"GET /hello HTTP/1.0\r\n\r\n", "200"),
        (
            b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "200",
        ),
    ] {
        let mut stream = connect(server.addr()).await;
        stream.write_all(request).await.expect("sends");
        let (received, _) = read_until_closed(&mut stream).await;
        assert!(
            received.starts_with(&format!("HTTP/1.1 {status}"))
                || received.starts_with(&format!("HTTP/1.0 {status}")),
            "{:?} → {received}",
            String::from_utf8_lossy(request)
        );
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_on_the_same_port() {
    let server = start(quick_shutdown()).await;
    let stream = connect(server.addr()).await;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("the HTTP/2 handshake succeeds");
    tokio::spawn(connection);
    for _ in 0..2 {
        let request = http::Request::get(format!("http://{}/hello", server.addr()))
            .body(Empty::<Bytes>::new())
            .expect("a request");
        let response = sender.send_request(request).await.expect("answered");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), http::Version::HTTP_2);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        assert_eq!(body, "hello");
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_http2_headers_frame_cut_short_is_closed_at_the_header_timeout() {
    let server = start(ServerArgs {
        header_read_timeout: Duration::from_millis(300),
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
    bytes.extend_from_slice(&[0, 0, 40, 1, 4, 0, 0, 0, 1, 0x82]); // HEADERS, 1 of 40 bytes
    let started = Instant::now();
    stream.write_all(&bytes).await.expect("sends");
    let (_, closed) = read_until_closed(&mut stream).await;
    assert!(closed - started >= Duration::from_millis(250));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn at_the_connection_cap_silent_connections_make_room() {
    let server = start(ServerArgs {
        max_connections: 8,
        ..quick_shutdown()
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..30 {
        silent.push(connect(server.addr()).await);
    }
    let started = Instant::now();
    let mut stream = connect(server.addr()).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("sends");
    let (received, _) = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    // Silent connections become evictable once quiet for a second (a keep-alive client's
    // next request might be on its way before that), then make room one after another.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn ready_follows_health() {
    let unhealthy = Router::new().route(
        "/health",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
    );
    for (app, status) in [(app(), "200"), (unhealthy, "503")] {
        let server = start_app(app, quick_shutdown()).await;
        let mut stream = connect(server.addr()).await;
        stream
            .write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("sends");
        let (received, _) = read_until_closed(&mut stream).await;
        assert!(
            received.starts_with(&format!("HTTP/1.1 {status}")),
            "{received}"
        );
        server.stop().await.expect("stops");
    }
}

/// During the shutdown delay `/ready` fails while every request is still answered, with
/// `Connection: close`; then the server stops.
#[tokio::test]
async fn shutdown_fails_readiness_first_and_keeps_serving_through_the_delay() {
    let delay = Duration::from_millis(1500);
    let server = start(ServerArgs {
        shutdown_delay: delay,
        ..quick_shutdown()
    })
    .await;
    let addr = server.addr();
    let mut keep_alive = connect(addr).await;
    keep_alive
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("sends");
    let first = read_answer(&mut keep_alive).await;
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    let stopping = tokio::spawn(server.stop());
    let started = Instant::now();
    let mut saw_not_ready = false;
    while started.elapsed() < delay - Duration::from_millis(500) {
        let mut stream = connect(addr).await;
        stream
            .write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("sends");
        let ready = read_answer(&mut stream).await;
        saw_not_ready |= ready.starts_with("HTTP/1.1 503");
        let mut stream = connect(addr).await;
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("sends");
        let answer = read_answer(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
    }
    assert!(saw_not_ready);
    // The keep-alive connection opened before is told to go, too.
    keep_alive
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("sends");
    let (last, _) = read_until_closed(&mut keep_alive).await;
    assert!(
        last.starts_with("HTTP/1.1 200") && last.contains("connection: close"),
        "{last}"
    );
    stopping.await.expect("joins").expect("stops");
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

/// A request whose bytes arrived before shutdown is answered, on a keep-alive connection too.
#[tokio::test]
async fn requests_sent_before_shutdown_are_answered() {
    for _ in 0..20 {
        let server = start(quick_shutdown()).await;
        let mut stream = connect(server.addr()).await;
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("sends");
        read_answer(&mut stream).await;
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("sends");
        let stopping = tokio::spawn(server.stop());
        let (answer, _) = read_until_closed(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(
            answer.contains("connection: close") && answer.ends_with("slow"),
            "{answer}"
        );
        stopping.await.expect("joins").expect("stops");
    }
}

#[tokio::test]
async fn the_drain_is_bounded() {
    let server = start(ServerArgs {
        drain_timeout: Duration::from_millis(500),
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    stream
        .write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("sends");
    let mut unfinished = connect(server.addr()).await;
    unfinished
        .write_all(b"GET /hello HTTP/1.1\r\n")
        .await
        .expect("sends");
    let started = Instant::now();
    tokio::time::timeout(WITHIN, server.stop())
        .await
        .expect("the drain ends")
        .expect("stops");
    assert!(started.elapsed() >= Duration::from_millis(450));
    let (answer, _) = read_until_closed(&mut stream).await;
    assert_eq!(answer, "", "dropped, not answered");
}

/// A client that stops reading its answer (or, on HTTP/2, never opens its window) held its
/// connection, and a place under the cap, for ever.
#[tokio::test]
async fn an_answer_nobody_reads_is_closed_at_the_stall_timeout() {
    let server = start(ServerArgs {
        stall_timeout: Duration::from_millis(500),
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("sends");
    // Not reading: the server's writes block once the socket buffers are full. Then the
    // stall timer closes the connection, and what was buffered is all that arrives.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(WITHIN, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "still open");
    assert!(
        received.len() < BIG_ANSWER,
        "{} bytes: the whole answer",
        received.len()
    );
    server.stop().await.expect("stops");
}

/// hyper waits for a PING acknowledgement after its GOAWAY; a client that never sends one
/// used to hold the drain to its bound with nothing in progress.
#[tokio::test]
async fn an_idle_http2_client_does_not_hold_the_drain() {
    let server = start(ServerArgs {
        drain_timeout: Duration::from_secs(20),
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
    // HEADERS, END_STREAM | END_HEADERS, stream 1: GET http://x/ (HPACK static entries).
    bytes.extend_from_slice(&[
        0, 0, 6, 1, 5, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 0x01, b'x',
    ]);
    stream.write_all(&bytes).await.expect("sends");
    let mut answer = [0_u8; 256];
    let n = tokio::time::timeout(WITHIN, stream.read(&mut answer))
        .await
        .expect("an answer")
        .expect("reads");
    assert!(n > 0);
    let started = Instant::now();
    tokio::time::timeout(WITHIN, server.stop())
        .await
        .expect("the drain ends")
        .expect("stops");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(stream);
}

/// `count` new connections, each having sent `bytes`.
async fn open_sending(addr: SocketAddr, count: usize, bytes: &[u8]) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for _ in 0..count {
        let mut stream = connect(addr).await;
        stream.write_all(bytes).await.expect("sends");
        streams.push(stream);
    }
    streams
}

/// Sends `request` on a new connection and reads the whole answer.
async fn ask(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.expect("sends");
    read_answer(&mut stream).await
}

#[tokio::test]
async fn past_the_request_bound_a_request_waits_then_gets_a_cheap_503_and_probes_pass() {
    let server = start(ServerArgs {
        max_concurrent_requests: 1,
        request_queue_timeout: Duration::from_millis(200),
        ..quick_shutdown()
    })
    .await;
    let mut holding = connect(server.addr()).await;
    holding
        .write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("sends");
    // The one place is taken once /forever is being handled: a request behind it queues.
    let deadline = Instant::now() + WITHIN;
    let refused = loop {
        let started = Instant::now();
        let answer = ask(server.addr(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
        if answer.starts_with("HTTP/1.1 503") {
            break (answer, started.elapsed());
        }
        assert!(Instant::now() < deadline, "never refused: {answer}");
    };
    let (answer, waited) = refused;
    assert!(waited >= Duration::from_millis(200), "waited {waited:?}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("application/json"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"overloaded: too many requests in progress; retry later"}"#)
    );
    for probe in ["/health", "/ready"] {
        let request = format!("GET {probe} HTTP/1.1\r\nHost: x\r\n\r\n");
        let answer = ask(server.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{probe}: {answer}");
    }
    drop(holding);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn when_every_connection_is_serving_probes_still_find_room() {
    let server = start(ServerArgs {
        max_connections: 2,
        ..quick_shutdown()
    })
    .await;
    let serving = open_sending(
        server.addr(),
        2,
        b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    // Wait until both are being handled (a third connection then goes past the cap).
    let deadline = Instant::now() + WITHIN;
    loop {
        let answer = ask(server.addr(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
        if answer.starts_with("HTTP/1.1 503") {
            assert!(answer.contains("too many open connections"), "{answer}");
            assert!(
                answer.to_ascii_lowercase().contains("connection: close"),
                "{answer}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never past the cap: {answer}");
    }
    let answer = ask(server.addr(), b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(serving);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn at_the_cap_a_connection_held_by_a_slow_body_makes_room() {
    let server = start(ServerArgs {
        max_connections: 2,
        ..quick_shutdown()
    })
    .await;
    let slow_body = b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\na";
    let mut slow = open_sending(server.addr(), 2, slow_body).await;
    // Each slow body's handler is waiting for bytes: a new connection evicts the oldest.
    let deadline = Instant::now() + WITHIN;
    loop {
        let answer = ask(server.addr(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no room made: {answer}");
    }
    let (_, _) = read_until_closed(&mut slow[0]).await;
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_body_trickling_inside_the_gap_timer_still_ends_at_the_body_deadline() {
    let server = start(ServerArgs {
        body_read_timeout: Duration::from_secs(5),
        body_deadline: Duration::from_millis(800),
        ..quick_shutdown()
    })
    .await;
    let mut stream = connect(server.addr()).await;
    let started = Instant::now();
    stream
        .write_all(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .await
        .expect("sends");
    let reader = tokio::spawn(async move {
        let mut stream = stream;
        let mut trickle = tokio::time::interval(Duration::from_millis(200));
        let mut received = Vec::new();
        let mut chunk = [0_u8; 1024];
        loop {
            tokio::select! {
                _ = trickle.tick() => { let _ = stream.write_all(b"a").await; }
                read = stream.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received.extend_from_slice(&chunk[..n]),
                },
            }
        }
        String::from_utf8_lossy(&received).into_owned()
    });
    let answer = tokio::time::timeout(WITHIN, reader)
        .await
        .expect("an answer in time")
        .expect("the reader ends");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 800 ms"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(800));
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn heads_are_bounded_each_and_together() {
    let server = start(ServerArgs {
        max_header_bytes: 16_384,
        max_buffered_head_bytes: 65_536,
        ..quick_shutdown()
    })
    .await;
    // One head past MAX_HEADER_BYTES: hyper's 431.
    let mut big = b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    big.resize(big.len() + 20_000, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    let mut stream = connect(server.addr()).await;
    let _ = stream.write_all(&big).await;
    let (answer, _) = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Unfinished heads under the bound: beyond the first 8 KiB of each, 64 KiB in all. Ten
    // of 15 KB cannot all be held.
    let mut pad = b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    pad.resize(15_000, b'a');
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut stream = connect(server.addr()).await;
        let _ = stream.write_all(&pad).await;
        held.push(stream);
    }
    let mut closed = 0;
    for stream in &mut held {
        let mut byte = [0_u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(500), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    assert!((1..10).contains(&closed), "{closed} of 10 closed");
    // A small request still goes through.
    let answer = ask(server.addr(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_invalid_host_value_is_a_json_400() {
    let server = start(quick_shutdown()).await;
    for host in ["a b", "::::", "user@evil:80"] {
        let request = format!("GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let mut stream = connect(server.addr()).await;
        stream.write_all(request.as_bytes()).await.expect("sends");
        let (answer, _) = read_until_closed(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{host}: {answer}");
        assert!(answer.contains("application/json"), "{host}: {answer}");
    }
    for host in ["", "[::1]:9080", "my_host", "caf%C3%A9"] {
        let request = format!("GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let answer = ask(server.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{host:?}: {answer}");
    }
    let absolute = ask(
        server.addr(),
        b"GET http://x/hello HTTP/1.1\r\nHost: a b\r\n\r\n",
    )
    .await;
    assert!(absolute.starts_with("HTTP/1.1 200"), "{absolute}");
    let http10 = ask(server.addr(), b"GET /hello HTTP/1.0\r\nHost: a b\r\n\r\n").await;
    assert!(http10.starts_with("HTTP/1.0 400"), "{http10}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let server = start(quick_shutdown()).await;
    let answer = ask(server.addr(), b"DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let lower = answer.to_ascii_lowercase();
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(lower.contains("allow: get,head,post"), "{answer}");
    assert!(lower.contains("content-type: application/json"), "{answer}");
    assert!(
        answer.ends_with(r#"{"error":"method not allowed"}"#),
        "{answer}"
    );
    server.stop().await.expect("stops");
}

/// One HTTP/2 frame.
fn h2_frame(stream: u8, kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    bytes.extend_from_slice(&[0, 0, 0, stream]);
    bytes.extend_from_slice(payload);
    bytes
}

/// The preface and SETTINGS with SETTINGS_INITIAL_WINDOW_SIZE `window`.
fn h2_preface(window: u8) -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(h2_frame(0, 4, 0, &[0, 4, 0, 0, 0, window]));
    bytes
}

/// A HEADERS block for `GET http://x{path}` (HPACK, nothing indexed).
fn h2_get(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 1, b'x']);
    block
}

/// Reads frames until one of `kind` on `stream` (and, with `end`, END_STREAM set); `false`
/// if the connection closed first.
async fn h2_read_until(connection: &mut TcpStream, stream: u8, kinds: &[u8], end: bool) -> bool {
    let mut header = [0_u8; 9];
    loop {
        match tokio::time::timeout(WITHIN, connection.read_exact(&mut header)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return false,
            Err(_) => panic!("no frame in {WITHIN:?}"),
        }
        let len =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let mut payload = vec![0_u8; len];
        if connection.read_exact(&mut payload).await.is_err() {
            return false;
        }
        if kinds.contains(&header[3]) && (!end || header[4] & 1 != 0) && header[8] == stream {
            return true;
        }
    }
}

/// Reads frames until the server ends `stream` (END_STREAM on HEADERS or DATA).
async fn h2_read_until_end(connection: &mut TcpStream, stream: u8) {
    assert!(
        h2_read_until(connection, stream, &[0, 1], true).await,
        "closed before stream {stream} ended"
    );
}

/// A new HTTP/2 connection whose client grants each stream `window` bytes
/// (SETTINGS_INITIAL_WINDOW_SIZE) and asks for `path` on streams 1, 3, …, `requests` of them.
/// With a window of 0 no answer body moves; with 1, hyper hands h2 the whole answer, which
/// then waits for window updates that never come.
async fn http2_asking(addr: SocketAddr, window: u8, path: &str, requests: u8) -> TcpStream {
    let mut bytes = h2_preface(window);
    for stream in (0..requests).map(|n| 2 * n + 1) {
        bytes.extend(h2_frame(stream, 1, 5, &h2_get(path)));
    }
    let mut connection = connect(addr).await;
    connection.write_all(&bytes).await.expect("sends");
    connection
}

/// Sends `frame` every 100 ms until the server closes the connection (`true`) or
/// [`WITHIN`] passes (`false`), reading what arrives meanwhile.
async fn closed_while_sending_every_100_ms(connection: &mut TcpStream, frame: &[u8]) -> bool {
    let started = Instant::now();
    let mut buffer = [0_u8; 4096];
    loop {
        if connection.write_all(frame).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        match tokio::time::timeout(Duration::from_millis(10), connection.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            _ if started.elapsed() > WITHIN => return false,
            _ => {}
        }
    }
}

/// Asks `request` on new connections until the answer starts with `status_line`; fails
/// after [`WITHIN`].
async fn ask_until(addr: SocketAddr, request: &[u8], status_line: &str, why: &str) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let answer = ask(addr, request).await;
        if answer.starts_with(status_line) {
            return;
        }
        assert!(Instant::now() < deadline, "{why}: {answer}");
    }
}

#[tokio::test]
async fn http2_answers_a_client_never_reads_keep_their_places_until_the_stall_timeout() {
    let server = start(ServerArgs {
        max_concurrent_requests: 2,
        request_queue_timeout: Duration::from_millis(100),
        stall_timeout: Duration::from_secs(2),
        ..quick_shutdown()
    })
    .await;
    let mut unread = http2_asking(server.addr(), 1, "/hello", 2).await;
    // Both answers are handed to h2; all but a byte of each waits for a window that never
    // opens, and their places with them.
    ask_until(
        server.addr(),
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/1.1 503",
        "the unread answers gave their places back",
    )
    .await;
    let (_, _) = read_until_closed(&mut unread).await;
    let answer = ask(server.addr(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn http2_refusals_nobody_reads_are_bounded_and_a_client_past_the_bound_is_closed() {
    let server = start(ServerArgs {
        max_concurrent_requests: 1,
        request_queue_timeout: Duration::from_millis(50),
        stall_timeout: Duration::from_secs(60),
        ..quick_shutdown()
    })
    .await;
    let addr = server.addr();
    // The one place, held by an answer whose window never opens.
    let mut holder = http2_asking(addr, 0, "/hello", 1).await;
    assert!(h2_read_until(&mut holder, 1, &[1], false).await, "answered");
    // Refusals whose bodies never move fill the room kept for them, one per connection;
    // each client gets its 503's HEADERS and keeps its connection.
    let mut unread = Vec::new();
    for _ in 0..UNSENT_REFUSALS_PER_PLACE {
        let mut refused = http2_asking(addr, 0, "/hello", 1).await;
        assert!(h2_read_until(&mut refused, 1, &[1], false).await, "refused");
        unread.push(refused);
    }
    // One more is closed at once, not at the stall timeout.
    let mut past = http2_asking(addr, 0, "/hello", 1).await;
    let started = Instant::now();
    let (_, _) = read_until_closed(&mut past).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Those within the room are still served: a PING is acknowledged.
    for connection in &mut unread {
        connection
            .write_all(&h2_frame(0, 6, 0, &[0; 8]))
            .await
            .expect("sends");
        assert!(h2_read_until(connection, 0, &[6], false).await, "closed");
    }
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn clients_trickling_their_heads_do_not_keep_probes_out_at_the_cap() {
    let server = start(ServerArgs {
        max_connections: 2,
        ..quick_shutdown()
    })
    .await;
    let addr = server.addr();
    // The cap, and the one connection of room kept for probes past it.
    let tricklers: Vec<_> = open_sending(addr, 3, b"GET /hello HTTP/1.1\r\nX-Pad: ")
        .await
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                // A byte every 50 ms: always heard from within the eviction quiet time.
                while stream.write_all(b"a").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        })
        .collect();
    let started = Instant::now();
    let answer = ask(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The header-read timeout (30 s) would have freed a place too; the slow head rule does
    // it after a second.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    tricklers.iter().for_each(|task| task.abort());
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn pings_do_not_keep_an_http2_stream_with_a_shut_window_past_the_stall_timeout() {
    let server = start(ServerArgs {
        max_concurrent_requests: 2,
        stall_timeout: Duration::from_millis(500),
        ..quick_shutdown()
    })
    .await;
    let mut pinging = http2_asking(server.addr(), 0, "/hello", 2).await;
    // Each PING is acknowledged: writes, but no answer moves.
    let ping = h2_frame(0, 6, 0, &[0; 8]);
    let closed = closed_while_sending_every_100_ms(&mut pinging, &ping).await;
    assert!(closed, "still open after {WITHIN:?}");
    let answer = ask(server.addr(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn trailers_after_an_answer_hold_no_place() {
    let server = start(ServerArgs {
        max_concurrent_requests: 2,
        request_queue_timeout: Duration::from_millis(100),
        ..quick_shutdown()
    })
    .await;
    let mut client = connect(server.addr()).await;
    client.write_all(&h2_preface(255)).await.expect("sends");
    for stream in [1, 3] {
        // The request without END_STREAM; once answered, trailers on the closed stream.
        client
            .write_all(&h2_frame(stream, 1, 4, &h2_get("/hello")))
            .await
            .expect("sends");
        h2_read_until_end(&mut client, stream).await;
        let trailers = h2_frame(stream, 1, 5, &[0x00, 1, b'x', 1, b'y']);
        client.write_all(&trailers).await.expect("sends");
    }
    // Two more requests, read whole: had the trailers counted as new streams, these answers'
    // places would be held as if unsent.
    for stream in [5, 7] {
        client
            .write_all(&h2_frame(stream, 1, 5, &h2_get("/hello")))
            .await
            .expect("sends");
        h2_read_until_end(&mut client, stream).await;
    }
    for _ in 0..3 {
        let answer = ask(server.addr(), b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    drop(client);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn http2_probes_count_under_the_request_bound_and_http1_probes_do_not() {
    let server = start(ServerArgs {
        max_concurrent_requests: 2,
        request_queue_timeout: Duration::from_millis(100),
        ..quick_shutdown()
    })
    .await;
    // Two HTTP/2 probes whose answers cannot move: a shut window.
    let holding = http2_asking(server.addr(), 0, "/health", 2).await;
    ask_until(
        server.addr(),
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/1.1 503",
        "HTTP/2 probes took no place",
    )
    .await;
    let probe = ask(server.addr(), b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(probe.starts_with("HTTP/1.1 200"), "{probe}");
    drop(holding);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_http2_answer_dripped_a_byte_at_a_time_is_closed_at_the_stall_timeout() {
    let server = start(ServerArgs {
        stall_timeout: Duration::from_secs(1),
        ..quick_shutdown()
    })
    .await;
    let mut dripping = http2_asking(server.addr(), 0, "/big", 1).await;
    // A byte of window every 100 ms: the answer always moves, and never ends.
    let update = h2_frame(1, 8, 0, &[0, 0, 0, 1]);
    let closed = closed_while_sending_every_100_ms(&mut dripping, &update).await;
    assert!(closed, "still open after {WITHIN:?}");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn http2_control_frames_do_not_keep_a_connection_from_eviction() {
    let server = start(ServerArgs {
        max_connections: 2,
        ..quick_shutdown()
    })
    .await;
    let addr = server.addr();
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut connection = connect(addr).await;
        let mut bytes = h2_preface(255);
        bytes.extend(h2_frame(1, 1, 5, &h2_get("/hello")));
        connection.write_all(&bytes).await.expect("sends");
        h2_read_until_end(&mut connection, 1).await;
        holders.push(tokio::spawn(async move {
            // PRIORITY for an idle stream every 50 ms: bytes, but no request.
            let priority = h2_frame(3, 2, 0, &[0, 0, 0, 0, 16]);
            while connection.write_all(&priority).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    ask_until(
        addr,
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/1.1 200",
        "never evicted",
    )
    .await;
    holders.iter().for_each(|task| task.abort());
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn http2_answers_that_never_get_a_window_are_closed_at_the_stall_timeout() {
    let server = start(ServerArgs {
        stall_timeout: Duration::from_secs(1),
        ..quick_shutdown()
    })
    .await;
    let mut stuck = http2_asking(server.addr(), 0, "/hello", 2).await;
    let started = Instant::now();
    // Every 300 ms a new stream whose answer's HEADERS go out (movement), reset at once:
    // the two first answers never get a byte of window.
    let mut stream = 5_u8;
    let closed = loop {
        let request = h2_frame(stream, 1, 5, &h2_get("/hello"));
        if stuck.write_all(&request).await.is_err()
            || !h2_read_until(&mut stuck, stream, &[1], false).await
            || stuck
                .write_all(&h2_frame(stream, 3, 0, &[0, 0, 0, 8]))
                .await
                .is_err()
        {
            break true;
        }
        if started.elapsed() > WITHIN {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream += 2;
    };
    assert!(closed, "still open after {WITHIN:?}");
    server.stop().await.expect("stops");
}
