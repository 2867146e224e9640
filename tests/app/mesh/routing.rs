//! The gateway's routes and Istio's traffic tasks behind the sidecars: end-user routing with
//! faults, HTTP/2 ports, a weighted split, and the retries that multiply a 503.

use super::*;

/// A page through the gateway, signed in as `user` when given.
pub(super) async fn page(mesh: &Mesh, user: Option<&str>) -> test_kit::Fetched {
    let mut request = client().get(mesh.url("/productpage"));
    if let Some(user) = user {
        let login = fetch(
            client()
                .post(mesh.url("/login"))
                .form(&[("username", user), ("passwd", "x")]),
        )
        .await;
        assert_eq!(login.status, 302, "{}", login.body);
        let cookie = login.headers["set-cookie"].to_str().unwrap();
        request = request.header("cookie", cookie.split(';').next().unwrap());
    }
    fetch(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_exactly_the_five_routes() {
    let Some(mesh) = Mesh::start(
        "the_gateway_serves_exactly_the_five_routes",
        MeshOptions::default(),
    )
    .await
    else {
        return;
    };
    for (method, path, status) in [
        ("GET", "/productpage", 200),
        ("GET", "/static/bookinfo.css", 200),
        ("POST", "/login", 302),
        ("GET", "/logout", 302),
        ("GET", "/api/v1/products", 200),
        ("GET", "/api/v1/products/0/reviews", 200),
        ("GET", "/", 404),
        ("GET", "/index.html", 404),
        ("GET", "/health", 404),
        ("GET", "/metrics", 404),
        ("GET", "/details/0", 404),
    ] {
        let request = if method == "POST" {
            client()
                .post(mesh.url(path))
                .form(&[("username", "jason"), ("passwd", "x")])
        } else {
            client().get(mesh.url(path))
        };
        let answer = fetch(request).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
    }
    mesh.stop().await;
}

/// The fault-injection task: jason goes to reviews v2, and ratings answers him 500 (abort) or
/// after 7 s (delay, which productpage's two 3 s attempts give up on after about 6 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_user_routing_with_an_abort_and_a_delay() {
    let with_ratings_rule = |file: &'static str| {
        Mesh::start(
            "end_user_routing_with_an_abort_and_a_delay",
            MeshOptions {
                virtual_services: vec![
                    ("reviews", "virtual-service-reviews-test-v2.yaml"),
                    ("ratings", file),
                ],
                ..MeshOptions::default()
            },
        )
    };
    let Some(mesh) = with_ratings_rule("virtual-service-ratings-test-abort.yaml").await else {
        return;
    };
    let jason = page(&mesh, Some("jason")).await;
    assert!(jason.body.contains("Reviews served by:"));
    assert!(jason.body.contains("reviews-v2"), "jason sees reviews v2");
    assert_eq!(
        jason
            .body
            .matches("Ratings service is currently unavailable")
            .count(),
        2
    );
    let anonymous = page(&mesh, None).await;
    assert!(anonymous.body.contains("reviews-v1"));
    assert!(
        !anonymous
            .body
            .contains("Ratings service is currently unavailable")
    );
    mesh.stop().await;

    let Some(mesh) = with_ratings_rule("virtual-service-ratings-test-delay.yaml").await else {
        return;
    };
    let started = Instant::now();
    let jason = page(&mesh, Some("jason")).await;
    let elapsed = started.elapsed();
    assert_eq!(jason.status, 200);
    assert!(
        jason
            .body
            .contains("Sorry, product reviews are currently unavailable for this book."),
        "the reviews error block"
    );
    assert!(
        (Duration::from_millis(5500)..Duration::from_secs(9)).contains(&elapsed),
        "{elapsed:?}"
    );
    mesh.stop().await;
}

/// A port declared HTTP/2 (`appProtocol: http2`): every sidecar speaks h2c to its app. The
/// services used to refuse it, and every request was a 503 UC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_behind_an_http2_port_are_served() {
    let Some(mesh) = Mesh::start(
        "apps_behind_an_http2_port_are_served",
        MeshOptions {
            app_protocol_http2: true,
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    for _ in 0..6 {
        let page = page(&mesh, None).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("Error fetching"), "{}", page.body);
    }
    mesh.stop().await;
}

/// `virtual-service-reviews-50-v3.yaml`: half the pages from v3 (red stars).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_50_split_holds_over_200_pages() {
    let Some(mesh) = Mesh::start(
        "a_50_50_split_holds_over_200_pages",
        MeshOptions {
            virtual_services: vec![("reviews", "virtual-service-reviews-50-v3.yaml")],
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    let mut red = 0;
    for _ in 0..200 {
        let page = page(&mesh, None).await;
        assert_eq!(page.status, 200);
        if page.body.contains("text-red-500") {
            red += 1;
        } else {
            assert!(page.body.contains("reviews-v1"));
        }
    }
    assert!((76..=124).contains(&red), "{red} of 200 pages from v3");
    mesh.stop().await;
}

/// Istio retries a 503 twice (whatever `Retry-After` says) and productpage retries reviews
/// once, so one page view refused by reviews' request bound reaches reviews six times. The
/// bound's wait (REQUEST_QUEUE_TIMEOUT_MS, 250 ms) keeps those six inside productpage's 3 s
/// reviews deadline: the page still answers 200, with the reviews error block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_multiplies_an_overload_503_and_the_page_still_answers() {
    let Some(mesh) = Mesh::start(
        "the_mesh_multiplies_an_overload_503_and_the_page_still_answers",
        MeshOptions {
            virtual_services: vec![
                ("reviews", "virtual-service-reviews-test-v2.yaml"),
                ("ratings", "virtual-service-ratings-test-delay.yaml"),
            ],
            reviews_max_concurrent_requests: Some(1),
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    let reviews_v2 = mesh.app_addrs["reviews-v2"];
    let metric = |name: &'static str| async move {
        let metrics = crate::support::get(format!("http://{reviews_v2}/metrics"))
            .await
            .body;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // jason's page holds reviews v2's one place: its ratings call waits on a 7 s delay.
    let (page_url, login_url) = (mesh.url("/productpage"), mesh.url("/login"));
    let holding = tokio::spawn(async move {
        let login = fetch(
            client()
                .post(login_url)
                .form(&[("username", "jason"), ("passwd", "x")]),
        )
        .await;
        let cookie = login.headers["set-cookie"].to_str().unwrap().to_owned();
        let session = cookie.split(';').next().unwrap().to_owned();
        fetch(client().get(page_url).header("cookie", session)).await
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    // The scrape itself is the other request in progress.
    while metric("http_server_active_requests ").await < 2.0 {
        assert!(Instant::now() < deadline, "the place was never taken");
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    let refused = page(&mesh, Some("jason")).await;
    let elapsed = started.elapsed();
    assert_eq!(refused.status, 200);
    assert!(
        refused
            .body
            .contains("Sorry, product reviews are currently unavailable for this book."),
        "the reviews error block"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "inside productpage's deadline: {elapsed:?}"
    );
    let rejections =
        metric(r#"http_server_overload_rejections_total{reason="concurrency"} "#).await;
    assert_eq!(
        rejections, 6.0,
        "3 attempts by Envoy for each of productpage's 2"
    );
    let held = holding.await.expect("the first page");
    assert_eq!(held.status, 200);
    mesh.stop().await;
}
