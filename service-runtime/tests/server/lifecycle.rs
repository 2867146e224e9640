//! Readiness, shutdown and the drain.

use super::*;

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
