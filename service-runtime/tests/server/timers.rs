//! The connection timers: first request, header read, idle, stall, body gap and deadline.

use super::*;

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
