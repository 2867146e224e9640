//! `bookinfo traffic` against the whole application and against stubs: what it reads off the
//! pages, whom it signs in, its checks, and its command line as a user meets it.

mod ending;
mod report;

use std::collections::BTreeMap;

use test_kit::{Answer, Stub, closed_port, parse_flags, run_binary};
use traffic::{TrafficArgs, expect::Expectation, summary::Report};

use crate::support::*;

const BOOKINFO: &str = env!("CARGO_BIN_EXE_bookinfo");

fn args(flags: &[&str]) -> TrafficArgs {
    parse_flags(flags).expect("valid flags")
}

async fn run(flags: &[&str]) -> Report {
    traffic::run(&args(flags), std::future::pending())
        .await
        .expect("the run starts")
}

fn holds(report: &Report, check: &str) -> bool {
    let expectation: Expectation = check.parse().expect("a valid check");
    expectation.evaluate(report).is_ok()
}

/// Runs the `bookinfo` binary without blocking the test's runtime (the app under test is
/// served by it).
async fn bookinfo(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_binary(BOOKINFO, &args, &[])
    })
    .await
    .expect("the binary runs")
}

/// productpage in front of stubs: details answering as told, reviews (also standing in for
/// ratings) a page without reviews served by the given pod.
struct PageOverStubs {
    details: Stub,
    reviews: Stub,
    page: service_runtime::RunningServer,
}

impl PageOverStubs {
    async fn start(details: Answer, reviews_pod: &str) -> Self {
        let details = Stub::start(details).await.unwrap();
        let reviews =
            format!(r#"{{"id":"0","podname":"{reviews_pod}","clustername":"null","reviews":[]}}"#);
        let reviews = Stub::start(Answer::json(200, &reviews)).await.unwrap();
        let page = productpage(config(details.url(), vec![reviews.url()], reviews.url())).await;
        Self {
            details,
            reviews,
            page,
        }
    }

    fn page_url(&self) -> String {
        format!("{}/productpage", self.page.url())
    }
}

#[tokio::test]
async fn the_round_robin_over_three_versions_reads_as_thirds_with_each_versions_stars() {
    let app = whole_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let report = run(&[&url, "--requests", "90", "--concurrency", "4"]).await;
    let total = &report.total;
    assert_eq!(total.requests(), 90);
    assert_eq!(total.failed, 0);
    for (version, stars) in [
        ("reviews-v1", "none"),
        ("reviews-v2", "black"),
        ("reviews-v3", "red"),
    ] {
        let pod = &total.reviews[version];
        assert!((29..=31).contains(&pod.pages), "{version}: {pod:?} of 90");
        let colours: Vec<&str> = pod.stars.keys().map(|s| s.name()).collect();
        assert_eq!(colours, [stars], "{version}");
        assert!(holds(&report, &format!("served-by={version}:33.3%±1.2")));
        assert!(holds(&report, &format!("stars={stars}:33.3%±1.2")));
    }
    let failing: Expectation = "stars=red:50%±10".parse().unwrap();
    let failure = failing.evaluate(&report).unwrap_err();
    assert!(failure.contains("stars=red:50%±10"), "{failure}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_details_reads_as_details_error_on_every_page() {
    let stubs =
        PageOverStubs::start(Answer::json(503, r#"{"error":"down"}"#), "reviews-v1-x").await;
    let url = stubs.page_url();
    let report = run(&[&url, "--requests", "10", "--rate", "200"]).await;
    assert_eq!(report.total.details_error, 10);
    for check in [
        "details-error=100%",
        "reviews-error=0%",
        "errors=0%",
        "p100<5s",
    ] {
        assert!(holds(&report, check), "{check}\n{}", report.table());
    }
    assert!(!holds(&report, "degraded=0%"));
}

#[tokio::test]
async fn jasons_cookie_reaches_the_backends_as_end_user_jason() {
    let details = Answer::json(
        200,
        r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#,
    );
    let stubs = PageOverStubs::start(details, "reviews-v2-x").await;
    let url = stubs.page_url();
    let report = run(&[&url, "--requests", "20", "--user", "jason:30%"]).await;
    assert_eq!(report.user("jason").map(|s| s.requests()), Some(6));
    assert_eq!(report.user("anonymous").map(|s| s.requests()), Some(14));
    for backend in [&stubs.details, &stubs.reviews] {
        let mut end_users = BTreeMap::new();
        for request in backend.requests() {
            let end_user = request
                .headers
                .get("end-user")
                .map(|v| v.to_str().unwrap_or("?").to_owned());
            *end_users.entry(end_user).or_insert(0) += 1;
        }
        assert_eq!(
            end_users,
            BTreeMap::from([(None, 14), (Some("jason".to_owned()), 6)]),
            "{}",
            backend.url()
        );
    }
}

#[tokio::test]
async fn a_sign_in_the_target_refuses_names_the_user_and_the_form() {
    let stub = Stub::start(Answer::json(404, "{}")).await.unwrap();
    let url = format!("{}/bookinfo/productpage", stub.url());
    let err = traffic::run(&args(&[&url, "--user", "jason"]), std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    let login = format!("{}/bookinfo/login", stub.url());
    assert!(err.starts_with("--user jason: signing in at "), "{err}");
    assert!(err.contains(&login) && err.contains("404"), "{err}");
}
