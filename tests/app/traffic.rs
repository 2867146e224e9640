//! `bookinfo traffic` against the whole application and against a failing backend: what it
//! reads off the pages, and its checks.

use bookinfo::traffic::{self, TrafficArgs, expect::Expectation};
use clap::Parser;
use service_runtime::testing::{Answer, Stub};

use crate::support::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrafficArgs,
}

fn args(flags: &[&str]) -> TrafficArgs {
    let argv = std::iter::once("traffic").chain(flags.iter().copied());
    Cli::try_parse_from(argv).expect("valid flags").args
}

#[tokio::test]
async fn the_round_robin_over_three_versions_reads_as_thirds() {
    let app = whole_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let args = args(&[&url, "--requests", "90", "--concurrency", "4"]);
    let summary = traffic::run(&args, std::future::pending()).await.unwrap();
    assert_eq!(summary.requests(), 90);
    assert_eq!(summary.failed, 0);
    for version in ["reviews-v1", "reviews-v2", "reviews-v3"] {
        let pages = summary.pods.get(version).copied().unwrap_or(0);
        assert!((29..=31).contains(&pages), "{version}: {pages} of 90");
    }
    for (stars, check) in [
        ("none", "stars=none:33.3%±1.2"),
        ("black", "stars=black:33.3%±1.2"),
        ("red", "stars=red:33.3%±1.2"),
    ] {
        let expectation: Expectation = check.parse().unwrap();
        assert!(
            expectation.evaluate(&summary).is_ok(),
            "{stars}: {}",
            summary.table()
        );
    }
    let failing: Expectation = "stars=red:50%±10".parse().unwrap();
    let failure = failing.evaluate(&summary).unwrap_err();
    assert!(failure.contains("stars=red:50%±10"), "{failure}");
    let json = summary.json();
    assert_eq!(json["requests"], 90);
    assert_eq!(
        json["reviews_served_by"]["reviews-v2"],
        summary.pods["reviews-v2"]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_details_reads_as_details_error_on_every_page() {
    let details = Stub::start(Answer::json(503, r#"{"error":"down"}"#))
        .await
        .unwrap();
    let reviews = Stub::start(Answer::json(
        200,
        r#"{"id":"0","podname":"reviews-v1-x","clustername":"null","reviews":[]}"#,
    ))
    .await
    .unwrap();
    let server = productpage(productpage::testing::config(
        details.url(),
        vec![reviews.url()],
        reviews.url(),
    ))
    .await;
    let url = format!("{}/productpage", server.url());
    let args = args(&[&url, "--requests", "10", "--rate", "200"]);
    let summary = traffic::run(&args, std::future::pending()).await.unwrap();
    assert_eq!(summary.details_error, 10);
    for check in [
        "details-error=100%",
        "reviews-error=0%",
        "errors=0%",
        "p100<5s",
    ] {
        let expectation: Expectation = check.parse().unwrap();
        assert!(expectation.evaluate(&summary).is_ok(), "{check}");
    }
    assert!(
        "degraded=0%"
            .parse::<Expectation>()
            .unwrap()
            .evaluate(&summary)
            .is_err()
    );
}
