//! productpage against recording stubs and real backends: headers, degradation, attempts.

use std::time::{Duration, Instant};

use productpage::{
    MAX_FLOOD_CALLS_IN_FLIGHT,
    testing::{config, empty_stars, full_stars, sign_in},
};
use service_runtime::{
    Endpoint, Endpoints, RunningServer,
    propagation::PRODUCTPAGE_FORWARDED,
    testing::{Answer, Stub, closed_port, fetch, get, http_client as client, serve},
};

async fn productpage(config: productpage::Config) -> RunningServer {
    serve(productpage::app(config).unwrap()).await
}

fn endpoints(url: String) -> Endpoints {
    Endpoints::single(url.parse::<Endpoint>().unwrap())
}

const REVIEWS_V1: &str = r#"{"id": "0","podname": "reviews-v1-abc","clustername": "null","reviews": [{"reviewer": "Reviewer1","text": "Good"},{"reviewer": "Reviewer2","text": "Fine"}]}"#;
const DETAILS: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;

struct Backends {
    details: Stub,
    reviews: Stub,
    ratings: Stub,
}

async fn stubs() -> Backends {
    Backends {
        details: Stub::start(Answer::json(200, DETAILS)).await.unwrap(),
        reviews: Stub::start(Answer::json(200, REVIEWS_V1)).await.unwrap(),
        ratings: Stub::start(Answer::json(
            200,
            r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#,
        ))
        .await
        .unwrap(),
    }
}

impl Backends {
    fn config(&self) -> productpage::Config {
        config(
            self.details.url(),
            vec![self.reviews.url()],
            self.ratings.url(),
        )
    }
}

#[tokio::test]
async fn signed_in_user_reaches_details_and_reviews_as_end_user() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let cookie = sign_in(&server.url(), "jason").await;
    let page = fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(page.status, 200);
    for stub in [&backends.details, &backends.reviews] {
        let request = &stub.requests()[0];
        assert_eq!(request.headers["end-user"], "jason");
        // The whole Cookie header travels on, session included, as the original's forwarding
        // list does (docs/behaviour.md#forwarded-headers).
        assert_eq!(request.headers["cookie"], cookie.as_str());
    }
    assert_eq!(backends.details.requests()[0].uri, "/details/0");
    assert_eq!(backends.reviews.requests()[0].uri, "/reviews/0");
    assert!(
        backends.ratings.requests().is_empty(),
        "the page never calls ratings itself"
    );
}

#[tokio::test]
async fn a_client_supplied_end_user_header_is_dropped() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("end-user", "jason"),
    )
    .await;
    assert!(
        backends.details.requests()[0]
            .headers
            .get("end-user")
            .is_none()
    );
    assert!(
        backends.reviews.requests()[0]
            .headers
            .get("end-user")
            .is_none()
    );
}

/// The original's two header-propagation unit tests, ported, against recording stubs
/// (docs/behaviour.md#forwarded-headers).
#[tokio::test]
async fn upstream_header_propagation_tests() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    for (route, stub, request_id) in [
        (
            "reviews",
            &backends.reviews,
            "34eeb41d-d267-9e49-8b84-dde403fc5b72",
        ),
        (
            "ratings",
            &backends.ratings,
            "34eeb41d-d267-9e49-8b84-dde403fc5b73",
        ),
    ] {
        let response = fetch(
            client()
                .get(format!("{}/api/v1/products/0/{route}", server.url()))
                .header("x-request-id", request_id)
                .header("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")
                .header("x-b3-spanid", "e457b5a2e4d86bd1")
                .header("x-b3-sampled", "1")
                .header("sw8", "40c7fdf104e3de67"),
        )
        .await;
        assert_eq!(response.status, 200, "{route}");
        let arrived = &stub.requests()[0].headers;
        assert_eq!(arrived["x-request-id"], request_id);
        assert_eq!(arrived["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(arrived["x-b3-spanid"], "e457b5a2e4d86bd1");
        assert_eq!(arrived["x-b3-sampled"], "1");
        assert_eq!(arrived["sw8"], "40c7fdf104e3de67");
    }
}

/// Without span export, trace headers travel as received (non-empty ones), whatever their
/// format, and the W3C form is added beside B3 when the sampling decision is known
/// (docs/behaviour.md#trace-context).
#[tokio::test]
async fn every_listed_header_is_forwarded_and_trace_headers_travel_as_received() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let mut request = client().get(format!("{}/productpage", server.url()));
    for name in &PRODUCTPAGE_FORWARDED {
        request = request.header(name.as_str(), format!("v-{}", name.as_str()));
    }
    fetch(
        request
            .header("x-b3-traceid", "a2fb4a1d1a96d312")
            .header("x-b3-spanid", "e457b5a2e4d86bd1")
            .header("x-b3-parentspanid", "05e3ac9a4f6e3b90")
            .header("x-b3-flags", "1")
            .header("x-b3-sampled", "")
            .header("x-unlisted", "no"),
    )
    .await;
    for stub in [&backends.details, &backends.reviews] {
        let arrived = &stub.requests()[0].headers;
        for name in &PRODUCTPAGE_FORWARDED {
            assert_eq!(
                arrived[name],
                format!("v-{}", name.as_str()).as_str(),
                "{name}"
            );
        }
        assert_eq!(arrived["x-b3-traceid"], "a2fb4a1d1a96d312");
        assert_eq!(arrived["x-b3-spanid"], "e457b5a2e4d86bd1");
        assert_eq!(arrived["x-b3-parentspanid"], "05e3ac9a4f6e3b90");
        assert_eq!(arrived["x-b3-flags"], "1");
        assert!(arrived.get("x-b3-sampled").is_none(), "empty means absent");
        assert!(arrived.get("x-unlisted").is_none());
    }
    // A single b3 header goes on as it came, with the W3C form beside it.
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"),
    )
    .await;
    let arrived = &backends.details.requests()[0].headers;
    assert_eq!(
        arrived["b3"],
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"
    );
    assert_eq!(
        arrived["traceparent"],
        "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-00"
    );
}

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

#[tokio::test]
async fn review_text_and_names_are_escaped() {
    let backends = stubs().await;
    backends.reviews.set_answer(Answer::json(
        200,
        r#"{"id":"0","podname":"<b>pod</b>","clustername":"null","reviews":[{"reviewer":"<script>alert(1)</script>","text":"\"quoted\" & <i>tagged</i>","rating":{"stars":2,"color":"red\" onmouseover=\"x"}}]}"#,
    ));
    let server = productpage(backends.config()).await;
    let page = get(format!("{}/productpage", server.url())).await.body;
    assert!(!page.contains("<script>alert(1)</script>"));
    // askama escapes with numeric character references.
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(
        page.contains("&#34;quoted&#34; &#38; &#60;i&#62;tagged&#60;/i&#62;"),
        "{page}"
    );
    assert!(
        page.contains("Reviews served by: &#60;b&#62;pod&#60;/b&#62;"),
        "{page}"
    );
    assert!(
        !page.contains("onmouseover="),
        "the colour cannot add attributes"
    );
    assert_eq!((full_stars(&page), empty_stars(&page)), (2, 3));
}

#[tokio::test]
async fn flood_factor_sends_extra_reviews_calls() {
    let backends = stubs().await;
    let mut config = backends.config();
    config.page.flood_factor = 5;
    let server = productpage(config).await;
    get(format!("{}/productpage", server.url())).await;
    assert_eq!(backends.reviews.requests().len(), 6);
    assert_eq!(backends.details.requests().len(), 1);
    get(format!("{}/api/v1/products/0/reviews", server.url())).await;
    assert_eq!(backends.reviews.requests().len(), 7, "only the page floods");
}

#[tokio::test]
async fn flood_calls_take_turns_under_a_bound_shared_by_every_page_view() {
    let backends = stubs().await;
    backends
        .reviews
        .set_answer(Answer::json(200, REVIEWS_V1).delayed(Duration::from_millis(100)));
    let mut config = backends.config();
    config.page.flood_factor = 60;
    let server = productpage(config).await;
    let pages = (0..2).map(|_| get(format!("{}/productpage", server.url())));
    futures::future::join_all(pages).await;
    assert_eq!(
        backends.reviews.requests().len(),
        2 * 61,
        "every call is sent"
    );
    let most = backends.reviews.most_in_progress();
    // The flood calls, plus each page's own reviews call.
    assert!(most <= MAX_FLOOD_CALLS_IN_FLIGHT + 2, "{most} at once");
}

/// One reviews call's time at most (here 400 ms × 2 attempts), not one per round of turns.
#[tokio::test]
async fn a_slow_reviews_holds_a_flooding_page_no_longer_than_one_call() {
    let backends = stubs().await;
    backends
        .reviews
        .set_answer(Answer::json(200, REVIEWS_V1).delayed(Duration::from_secs(5)));
    let mut config = backends.config();
    config.page.flood_factor = 4 * MAX_FLOOD_CALLS_IN_FLIGHT as u32;
    let server = productpage(config).await;
    let started = Instant::now();
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Sorry, product reviews are currently unavailable"),
        "{}",
        page.body
    );
    // Four rounds of turns would take 3.2 s.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

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

#[test]
fn help_version_and_bad_values_speak_to_the_user() {
    let binary = env!("CARGO_BIN_EXE_productpage");
    service_runtime::testing::assert_command_line(
        binary,
        &[
            "DETAILS_HOSTNAME",
            "DETAILS_SERVICE_PORT",
            "REVIEWS_HOSTNAME",
            "REVIEWS_SERVICE_PORT",
            "RATINGS_HOSTNAME",
            "RATINGS_SERVICE_PORT",
            "SERVICES_DOMAIN",
            "FLOOD_FACTOR",
            "BACKEND_CONNECTION_POOLING",
            "SESSION_SECRET",
            "SERVICE_VERSION",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
        ("FLOOD_FACTOR", "lots"),
    );
    // An empty list of reviews hosts used to start a service that answered 503 to everything.
    let refused =
        service_runtime::testing::run_binary(binary, &["0"], &[("REVIEWS_HOSTNAME", ",")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("REVIEWS_HOSTNAME"));
    // A blank key would sign sessions anyone can forge.
    let blank = service_runtime::testing::run_binary(binary, &["0"], &[("SESSION_SECRET", "  ")]);
    assert_eq!(blank.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&blank.stderr).contains("SESSION_SECRET"));
    // The session key never shows in --help, even when set.
    let help =
        service_runtime::testing::run_binary(binary, &["--help"], &[("SESSION_SECRET", "s3cr3t")]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("s3cr3t"));
}

/// Every `*_HOSTNAME` takes IPv6 literals, with or without a port; `SERVICES_DOMAIN` is never
/// appended to an address.
#[tokio::test]
async fn every_hostname_takes_ipv6_literals() {
    let args = service_runtime::testing::parse_flags::<productpage::ProductpageArgs>(&[
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

/// Only a small, well-formed HTML form signs in.
#[tokio::test]
async fn login_refuses_what_is_not_a_small_utf8_form() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let login = format!("{}/login", server.url());
    let form = |body: String| {
        client()
            .post(&login)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    assert_eq!(fetch(form("username=%ff%fe".into())).await.status, 400);
    let huge = format!("username=jason&passwd={}", "x".repeat(3 * 1024 * 1024));
    assert_eq!(fetch(form(huge)).await.status, 413);
    for content_type in [
        "application/json",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let answer = fetch(
            client()
                .post(&login)
                .header("content-type", content_type)
                .body("username=jason"),
        )
        .await;
        assert_eq!(answer.status, 415, "{content_type}");
    }
    // The page's own form still signs in, charset and all.
    let answer = fetch(
        client()
            .post(&login)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .body("username=jason&passwd=x"),
    )
    .await;
    assert_eq!(answer.status, 302);
}

/// A 990 KB reviews answer once became a 20.8 MB page, and a 1 MiB answer of `<` texts a
/// 4.7-7 MB one: answers between services are capped at 16 KiB (a bigger one is a failed
/// call), and cards and colours are capped, so the page stays within a few times the answers.
#[tokio::test]
async fn a_huge_reviews_answer_is_not_amplified_into_the_page() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let answer_cap = service_runtime::client::SERVICE_ANSWER_BYTES;
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
    let productpage = service_runtime::testing::SpawnedBinary::start_with_open_file_limit(
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
    let productpage = service_runtime::testing::SpawnedBinary::start(
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
