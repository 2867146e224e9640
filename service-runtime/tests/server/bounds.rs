//! The connection cap, the request bound and the head budget, and the probes that pass them.

use super::*;

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

/// A GET of `path` with an `X-Pad` field of `pad` bytes.
fn padded_get(path: &str, pad: usize) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(pad)
    )
    .into_bytes()
}

#[tokio::test]
async fn a_connection_that_carried_a_large_head_closes_after_its_answer() {
    let server = start(quick_shutdown()).await;
    // Under 8 KiB, the connection stays open for the next request.
    let mut small = connect(server.addr()).await;
    for _ in 0..2 {
        small
            .write_all(&padded_get("/hello", 4_000))
            .await
            .expect("sends");
        let answer = read_answer(&mut small).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(!answer.to_ascii_lowercase().contains("connection: close"));
    }
    // Past it, the answer says so and the connection closes: its buffers go with it.
    let mut large = connect(server.addr()).await;
    large
        .write_all(&padded_get("/hello", 20_000))
        .await
        .expect("sends");
    let (answer, _) = read_until_closed(&mut large).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn large_heads_left_in_connection_buffers_are_bounded_together() {
    let server = start(ServerArgs {
        max_buffered_head_bytes: 65_536,
        ..quick_shutdown()
    })
    .await;
    // Each head leaves about 30 KB in its connection's buffer while /forever is handled:
    // 22 KB past the free 8 KiB each, so two fit 64 KiB and the third does not.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut connection = connect(server.addr()).await;
        connection
            .write_all(&padded_get("/forever", 30_000))
            .await
            .expect("sends");
        held.push(connection);
    }
    // Once both are being handled (a moment after their bytes arrive), a third large head
    // is not served: its connection closes at once (a 503 may get out first).
    let deadline = Instant::now() + WITHIN;
    loop {
        let mut third = connect(server.addr()).await;
        third
            .write_all(&padded_get("/hello", 30_000))
            .await
            .expect("sends");
        let (answer, _) = read_until_closed(&mut third).await;
        if !answer.starts_with("HTTP/1.1 200") {
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
                "{answer}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "always served: {answer}");
    }
    // Once those connections close, the budget is whole again.
    drop(held);
    let deadline = Instant::now() + WITHIN;
    loop {
        let mut again = connect(server.addr()).await;
        again
            .write_all(&padded_get("/hello", 30_000))
            .await
            .expect("sends");
        let (answer, _) = read_until_closed(&mut again).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the budget never came back");
    }
    server.stop().await.expect("stops");
}
