//! Failed backends: the page's error blocks after the original's attempts, the API's statuses,
//! and answers too large to keep.

use super::*;

const DETAILS_ERROR: [&str; 2] = [
    "Error fetching product details",
    "Sorry, product details are currently unavailable for this book.",
];

const REVIEWS_ERROR: [&str; 2] = [
    "Error fetching product reviews",
    "Sorry, product reviews are currently unavailable for this book.",
];

fn failures() -> Vec<(&'static str, Answer)> {
    vec![
        ("403 RBAC", Answer::json(403, "RBAC: access denied")),
        ("401", Answer::json(401, "")),
        ("503", Answer::json(503, "no healthy upstream")),
        ("555", Answer::json(555, "fault filter abort")),
        ("200 not JSON", Answer::json(200, "<html>")),
        (
            "hanging",
            Answer::json(200, DETAILS).delayed(Duration::from_secs(30)),
        ),
    ]
}

#[tokio::test]
async fn details_failures_degrade_the_page_after_exactly_one_attempt() {
    for (case, answer) in failures() {
        let backends = stubs().await;
        backends.details.set_answer(answer);
        let server = productpage(backends.config()).await;
        let page = get(format!("{}/productpage", server.url())).await;
        assert_eq!(page.status, 200, "{case}");
        for needle in DETAILS_ERROR {
            assert!(page.body.contains(needle), "{case}: {needle}");
        }
        assert!(!page.body.contains("Book Details"), "{case}");
        assert!(
            page.body.contains("Book Reviews"),
            "{case}: reviews unaffected"
        );
        assert_eq!(backends.details.requests().len(), 1, "{case}");
    }
}

#[tokio::test]
async fn reviews_failures_degrade_the_page_after_exactly_two_attempts() {
    for (case, answer) in failures() {
        let backends = stubs().await;
        backends.reviews.set_answer(answer);
        let server = productpage(backends.config()).await;
        let page = get(format!("{}/productpage", server.url())).await;
        assert_eq!(page.status, 200, "{case}");
        for needle in REVIEWS_ERROR {
            assert!(page.body.contains(needle), "{case}: {needle}");
        }
        assert!(!page.body.contains("Book Reviews"), "{case}");
        assert!(
            page.body.contains("Book Details"),
            "{case}: details unaffected"
        );
        // A 200 answer ends the attempts even when its body is not JSON (as upstream).
        let attempts = if case == "200 not JSON" { 1 } else { 2 };
        assert_eq!(backends.reviews.requests().len(), attempts, "{case}");
    }
}

#[tokio::test]
async fn unreachable_backends_degrade_the_page() {
    let down = format!("http://127.0.0.1:{}", closed_port().await.unwrap());
    let server = productpage(config(down.clone(), vec![down.clone()], down)).await;
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(page.status, 200);
    for needle in DETAILS_ERROR.iter().chain(&REVIEWS_ERROR) {
        assert!(page.body.contains(needle), "{needle}");
    }
    let api = get(format!("{}/api/v1/products/0", server.url())).await;
    assert_eq!(api.status, 500);
}

#[tokio::test]
async fn api_passes_backend_statuses_through() {
    for status in [403u16, 503, 555] {
        let backends = stubs().await;
        backends.details.set_answer(Answer::json(status, "x"));
        backends.reviews.set_answer(Answer::json(status, "x"));
        backends.ratings.set_answer(Answer::json(status, "x"));
        let server = productpage(backends.config()).await;
        for (route, message) in [
            ("", "details"),
            ("/reviews", "reviews"),
            ("/ratings", "ratings"),
        ] {
            let response = get(format!("{}/api/v1/products/0{route}", server.url())).await;
            assert_eq!(response.status, status, "{route}");
            assert_eq!(
                response.body,
                format!(
                    r#"{{"error": "Sorry, product {message} are currently unavailable for this book."}}"#
                )
            );
        }
        assert_eq!(
            backends.reviews.requests().len(),
            2,
            "the API retries reviews too"
        );
        assert_eq!(backends.ratings.requests().len(), 1);
    }
}

/// The real deadlines: details gives up after 3 s, reviews after two 3 s attempts (≈6 s).
#[tokio::test]
async fn real_timeouts_are_three_seconds_per_attempt() {
    let hanging = Answer::json(200, DETAILS).delayed(Duration::from_secs(30));
    let details = Stub::start(hanging.clone()).await.unwrap();
    let reviews = Stub::start(Answer::json(200, REVIEWS_V1)).await.unwrap();
    // The real policies, as the binary builds them.
    let mut config = productpage::Config::new(
        endpoints(details.url()),
        endpoints(reviews.url()),
        endpoints(reviews.url()),
    );
    let server = productpage(config.clone()).await;
    let started = Instant::now();
    let page = get(format!("{}/productpage", server.url())).await;
    let elapsed = started.elapsed();
    assert!(page.body.contains(DETAILS_ERROR[0]));
    assert!(
        (Duration::from_millis(2900)..Duration::from_millis(4500)).contains(&elapsed),
        "{elapsed:?}"
    );

    let slow_reviews = Stub::start(hanging).await.unwrap();
    config.details = endpoints(reviews.url());
    config.reviews = endpoints(slow_reviews.url());
    let server = productpage(config).await;
    let started = Instant::now();
    let page = get(format!("{}/productpage", server.url())).await;
    let elapsed = started.elapsed();
    assert!(page.body.contains(REVIEWS_ERROR[0]));
    assert_eq!(slow_reviews.requests().len(), 2);
    assert!(
        (Duration::from_millis(5900)..Duration::from_millis(8000)).contains(&elapsed),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn an_oversized_backend_answer_is_a_failed_call() {
    let backends = stubs().await;
    let huge = format!(r#"{{"author":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    backends.details.set_answer(Answer::json(200, &huge));
    let server = productpage(backends.config()).await;
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(DETAILS_ERROR[0]));
    assert_eq!(
        get(format!("{}/api/v1/products/0", server.url()))
            .await
            .status,
        500
    );
}

/// A 990 KB reviews answer once became a 20.8 MB page, and a 1 MiB answer of `<` texts a
/// 4.7-7 MB one: answers between services are capped at 16 KiB (a bigger one is a failed
/// call), and cards and colours are capped, so the page stays within a few times the answers.
#[tokio::test]
async fn a_huge_reviews_answer_is_not_amplified_into_the_page() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let answer_cap = service_runtime::outbound::client::SERVICE_ANSWER_BYTES;
    let reviews_answer = |reviews: &[String]| {
        format!(
            r#"{{"id":"0","podname":"p","clustername":"null","reviews":[{}]}}"#,
            reviews.join(",")
        )
    };
    let review = r#"{"reviewer":"R","text":"t","rating":{"stars":5,"color":"red"}}"#.to_owned();
    let many = reviews_answer(&vec![review; 15_000]);
    assert!(many.len() > 900_000 && many.len() < 1024 * 1024);
    backends.reviews.set_answer(Answer::json(200, &many));
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Sorry, product reviews are currently unavailable")
    );
    let fitting = vec![
        r#"{"reviewer":"R","text":"t","rating":{"stars":5,"color":"red"}}"#
            .to_owned();
        answer_cap / 80
    ];
    backends
        .reviews
        .set_answer(Answer::json(200, &reviews_answer(&fitting)));
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(full_stars(&page.body), 5 * productpage::MAX_REVIEW_CARDS);
    let long_colour = format!(
        r#"{{"reviewer":"R","text":"t","rating":{{"stars":5,"color":"{}"}}}}"#,
        "r".repeat(answer_cap - 200)
    );
    backends
        .reviews
        .set_answer(Answer::json(200, &reviews_answer(&[long_colour])));
    let page = get(format!("{}/productpage", server.url())).await;
    assert!(page.body.len() < 20_000, "{} bytes", page.body.len());
    // The worst escaping: texts of `<` (5 bytes each as `&#60;`) filling the answer cap.
    let escaped = format!(
        r#"{{"reviewer":"<","text":"{}","rating":{{"stars":5,"color":"red"}}}}"#,
        "<".repeat(answer_cap - 250)
    );
    let answer = reviews_answer(&[escaped]);
    assert!(answer.len() < answer_cap);
    backends.reviews.set_answer(Answer::json(200, &answer));
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("&#60;&#60;&#60;"));
    assert!(
        page.body.len() < productpage::MAX_PAGE_BYTES,
        "{} bytes",
        page.body.len()
    );
    // Both answers built to amplify: past MAX_PAGE_BYTES the page keeps its 200 and shows
    // the error blocks instead.
    let details = format!(r#"{{"author":"{}"}}"#, "<".repeat(answer_cap - 100));
    backends.details.set_answer(Answer::json(200, &details));
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.len() < 20_000, "{} bytes", page.body.len());
    assert!(
        page.body
            .contains("Sorry, product reviews are currently unavailable")
    );
    assert!(page.body.contains("Error fetching product details"));
}
