//! HTTP/2 on the same port, and its attacks: shut windows, unread answers and refusals, PINGs,
//! trailers, control frames.

use super::{h2_client::*, *};

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_on_the_same_port() {
    let server = start(quick_shutdown()).await;
    let mut sender = http2_client(server.addr()).await;
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

/// RFC 9113 §8.2.3: `cookie` crumbs sent as separate HTTP/2 fields (as Envoy's HTTP/2 codec
/// sends them since 1.29) reach the application as one field, joined with "; " in order.
#[tokio::test]
async fn http2_cookie_crumbs_reach_the_application_as_one_field() {
    let server = start(quick_shutdown()).await;
    let mut sender = http2_client(server.addr()).await;
    let request = http::Request::get(format!("http://{}/cookies", server.addr()))
        .header("cookie", "theme=dark")
        .header("cookie", "session=s1")
        .header("cookie", "lang=en")
        .body(Empty::<Bytes>::new())
        .expect("a request");
    let response = sender.send_request(request).await.expect("answered");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    assert_eq!(body, "1 field(s): theme=dark; session=s1; lang=en");
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
async fn http2_answers_a_client_never_reads_keep_their_places_until_the_stall_timeout() {
    let server = start(ServerArgs {
        max_concurrent_requests: 2,
        request_queue_timeout: Duration::from_millis(100),
        stall_timeout: Duration::from_secs(2),
        unread_answer_timeout: Duration::from_secs(3600),
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
        // Two places, so two streams per connection (max_concurrent_streams follows).
        max_concurrent_requests: 2,
        request_queue_timeout: Duration::from_millis(50),
        stall_timeout: Duration::from_secs(60),
        unread_answer_timeout: Duration::from_secs(3600),
        ..quick_shutdown()
    })
    .await;
    let addr = server.addr();
    // Both places, held by answers whose window never opens.
    let mut holder = http2_asking(addr, 0, "/hello", 2).await;
    assert!(h2_read_until(&mut holder, 1, &[1], false).await, "answered");
    assert!(h2_read_until(&mut holder, 3, &[1], false).await, "answered");
    // Refusals whose bodies never move fill the room kept for them, one per connection;
    // each client gets its 503's HEADERS and keeps its connection.
    let mut unread = Vec::new();
    for _ in 0..2 * UNSENT_REFUSALS_PER_PLACE {
        let mut refused = http2_asking(addr, 0, "/hello", 1).await;
        assert!(h2_read_until(&mut refused, 1, &[1], false).await, "refused");
        unread.push(refused);
    }
    // A client that reads its answers still gets a 503 past the room, and keeps its
    // connection (a sidecar's carries other streams).
    let mut reading = http2_client(addr).await;
    for _ in 0..2 {
        let refused = reading
            .send_request(
                http::Request::get("http://x/hello")
                    .body(Empty::<Bytes>::new())
                    .expect("a request"),
            )
            .await
            .expect("answered on a connection kept open");
        assert_eq!(refused.status(), 503);
    }
    // A client asking two at once with its window shut gets one 503 at most past the room,
    // and is closed at once, not at the stall timeout.
    let mut past = http2_asking(addr, 0, "/hello", 2).await;
    let started = Instant::now();
    let (_, _) = read_until_closed(&mut past).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // An HTTP/1.1 client holds one refusal at most: it still gets its 503, room or not.
    let refused = ask(addr, b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
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

#[tokio::test]
async fn http2_clients_that_read_nothing_cannot_hold_every_place_while_others_wait() {
    let server = start(ServerArgs {
        max_concurrent_requests: 2,
        request_queue_timeout: Duration::from_millis(100),
        unread_answer_timeout: Duration::from_millis(300),
        stall_timeout: Duration::from_secs(3600),
        ..quick_shutdown()
    })
    .await;
    // Both places are held by answers handed to h2 that a shut window keeps unsent.
    let mut unread = http2_asking(server.addr(), 1, "/hello", 2).await;
    assert!(h2_read_until(&mut unread, 3, &[1], false).await, "answered");
    // Someone waiting for a place past UNREAD_ANSWER_TIMEOUT_MS closes that connection: the
    // places come back long before the stall timeout.
    ask_until(
        server.addr(),
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/1.1 200",
        "the places held by unread answers came back",
    )
    .await;
    let (_, _) = read_until_closed(&mut unread).await;
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn an_http2_connection_that_carried_a_large_head_goes_away_after_its_answers() {
    let server = start(quick_shutdown()).await;
    let mut sender = http2_client(server.addr()).await;
    let answer = sender
        .send_request(
            http::Request::get("http://x/hello")
                .header("x-pad", "a".repeat(20_000))
                .body(Empty::<Bytes>::new())
                .expect("a request"),
        )
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::OK);
    // GOAWAY, then the connection closes: h2's buffers the size of that head go with it.
    let deadline = Instant::now() + WITHIN;
    while !sender.is_closed() {
        assert!(Instant::now() < deadline, "still open after {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await.expect("stops");
}
