//! How productpage calls: round robin, fresh or pooled connections, IPv6 literals, and the
//! open-file limit.

use super::*;

#[tokio::test]
async fn reviews_addresses_are_used_round_robin() {
    let first = Stub::start(Answer::json(200, REVIEWS_V1)).await.unwrap();
    let second = Stub::start(Answer::json(200, REVIEWS_V1)).await.unwrap();
    let details = Stub::start(Answer::json(200, DETAILS)).await.unwrap();
    let server = productpage(config(
        details.url(),
        vec![first.url(), second.url()],
        details.url(),
    ))
    .await;
    for _ in 0..4 {
        get(format!("{}/productpage", server.url())).await;
    }
    assert_eq!((first.requests().len(), second.requests().len()), (2, 2));
}

#[tokio::test]
async fn each_call_opens_a_fresh_connection_unless_pooling_is_on() {
    for (pooling, expect_distinct) in [(false, 3), (true, 1)] {
        let backends = stubs().await;
        let mut config = backends.config();
        config.page.backend_connection_pooling = pooling;
        let server = productpage(config).await;
        for _ in 0..3 {
            get(format!("{}/productpage", server.url())).await;
        }
        let mut peers: Vec<_> = backends.details.requests().iter().map(|r| r.peer).collect();
        peers.dedup();
        assert_eq!(peers.len(), expect_distinct, "pooling={pooling}");
    }
}

/// Every `*_HOSTNAME` takes IPv6 literals, with or without a port; `SERVICES_DOMAIN` is never
/// appended to an address.
#[tokio::test]
async fn every_hostname_takes_ipv6_literals() {
    let args = test_kit::parse_flags::<productpage::ProductpageArgs>(&[
        "--details-hostname",
        "[::1]",
        "--reviews-hostname",
        "[fd00::5]:9081,reviews",
        "--ratings-hostname",
        "::1",
        "--services-domain",
        "svc.cluster.local",
    ])
    .unwrap();
    let config = productpage::Config::try_from(args).unwrap();
    let server = productpage(config).await;
    let index = get(format!("{}/", server.url())).await.body;
    for address in [
        "http://[::1]:9080</td><td>details",
        "http://[fd00::5]:9081</td><td>reviews",
        "http://reviews.svc.cluster.local:9080</td><td>reviews",
        "http://[::1]:9080</td><td>ratings",
    ] {
        assert!(index.contains(address), "{address} missing from\n{index}");
    }
}

/// Without pooling each call asks the backend to close first, so TIME_WAIT stays on the
/// backend's side, not on productpage's ephemeral ports.
#[tokio::test]
async fn one_shot_calls_ask_the_server_to_close_first() {
    for (pooling, close) in [(false, Some("close")), (true, None)] {
        let backends = stubs().await;
        let mut config = backends.config();
        config.page.backend_connection_pooling = pooling;
        let server = productpage(config).await;
        get(format!("{}/productpage", server.url())).await;
        for stub in [&backends.details, &backends.reviews] {
            let requests = stub.requests();
            let connection = requests
                .first()
                .and_then(|r| r.headers.get("connection"))
                .and_then(|v| v.to_str().ok());
            assert_eq!(connection, close, "pooling={pooling}");
        }
    }
}

/// 300 silent connections under an open-file limit of 256 used to make `/health`
/// unreachable: at the connection cap the oldest idle connection now makes room.
#[test]
fn health_answers_while_silent_connections_exceed_the_open_file_limit() {
    service_runtime::server::raise_open_file_limit();
    let productpage = test_kit::SpawnedBinary::start_with_open_file_limit(
        env!("CARGO_BIN_EXE_productpage"),
        256,
        &[],
    )
    .unwrap();
    let address = ("127.0.0.1", productpage.port);
    let silent: Vec<_> = (0..300)
        .map(|_| std::net::TcpStream::connect(address).unwrap())
        .collect();
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    use std::io::{Read, Write};
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

/// After a burst, pooled connections beyond the per-destination bound close as their calls
/// end (a 1,000-connection burst once left 1,907 descriptors open for minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_leaves_at_most_the_pool_bound_open() {
    let slow = |body: &str| Answer::json(200, body).delayed(Duration::from_millis(300));
    let details = Stub::start(slow(DETAILS)).await.unwrap();
    let reviews = Stub::start(slow(REVIEWS_V1)).await.unwrap();
    let (details_host, reviews_host) = (
        details.url().replace("http://", ""),
        reviews.url().replace("http://", ""),
    );
    let productpage = test_kit::SpawnedBinary::start(
        env!("CARGO_BIN_EXE_productpage"),
        &[
            ("BACKEND_CONNECTION_POOLING", "true"),
            // The burst is about the pool, not the request bound: all 150 go in at once.
            ("MAX_CONCURRENT_REQUESTS", "200"),
            ("DETAILS_HOSTNAME", &details_host),
            ("REVIEWS_HOSTNAME", &reviews_host),
            ("RATINGS_HOSTNAME", &reviews_host),
        ],
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", productpage.port);
    let open_fds = || {
        let base = base.clone();
        async move {
            let metrics = get(format!("{base}/metrics")).await.body;
            metrics
                .lines()
                .find_map(|line| line.strip_prefix("process_open_fds ")?.parse::<f64>().ok())
                .unwrap_or(f64::MAX)
        }
    };
    let before = open_fds().await;
    {
        let burst = client();
        let views: Vec<_> = (0..150)
            .map(|_| {
                let request = burst.get(format!("{base}/productpage")).send();
                tokio::spawn(request)
            })
            .collect();
        for view in views {
            assert!(view.await.unwrap().unwrap().status().is_success());
        }
    }
    // Two destinations, at most 32 idle connections each; the burst's own connections to
    // productpage close with its client.
    let bound = before + 2.0 * 32.0 + 8.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now_open = open_fds().await;
    while now_open > bound && Instant::now() < deadline {
        tokio::task::yield_now().await;
        now_open = open_fds().await;
    }
    assert!(
        now_open <= bound,
        "{now_open} descriptors open, {before} before the burst"
    );
}
