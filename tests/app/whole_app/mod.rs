//! The real services wired together, as `cargo run` starts them.

mod mesh_panel;
mod sessions;

use std::time::Duration;

use service_runtime::{Endpoint, Endpoints};

use crate::support::*;

fn endpoints(url: String) -> Endpoints {
    Endpoints::single(url.parse::<Endpoint>().unwrap())
}

const TEXT1: &str =
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
const TEXT2: &str = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.";

#[tokio::test]
async fn product_page_shows_every_needle_the_docs_grep_for() {
    let app = whole_app().await;
    let page = get(format!("{}/productpage", app.productpage.url())).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    for needle in [
        "<title>Simple Bookstore App</title>",
        "Book Details",
        "Book Reviews",
        "William Shakespeare",
        "PublisherA",
        TEXT1,
        TEXT2,
        "Reviewer1",
        "Reviewer2",
        "Reviews served by: reviews-v1",
        "id=\"sign-in-button\"",
        "<dialog id=\"dialog\"",
        "id=\"close-dialog\"",
        "name=\"username\"",
        "name=\"passwd\"",
    ] {
        assert!(page.body.contains(needle), "missing {needle:?}");
    }
    assert!(
        !page.body.contains("on cluster"),
        "no cluster is configured"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn refreshing_cycles_through_no_black_and_red_stars() {
    let app = whole_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let v1 = get(url.clone()).await.body;
    let v2 = get(url.clone()).await.body;
    let v3 = get(url.clone()).await.body;
    assert!(v1.contains("Reviews served by: reviews-v1"));
    assert_eq!((full_stars(&v1), empty_stars(&v1)), (0, 0));
    assert!(!v1.contains("text-black-500") && !v1.contains("text-red-500"));
    assert!(v2.contains("Reviews served by: reviews-v2"));
    assert_eq!((full_stars(&v2), empty_stars(&v2)), (9, 1));
    assert_eq!(count(&v2, "class=\"stars text-black-500\""), 2);
    assert!(v3.contains("Reviews served by: reviews-v3"));
    assert_eq!((full_stars(&v3), empty_stars(&v3)), (9, 1));
    assert_eq!(count(&v3, "class=\"stars text-red-500\""), 2);
    // The stylesheet never mentions the grep-able star class.
    let css = get(format!("{}/static/bookinfo.css", app.productpage.url()))
        .await
        .body;
    assert_eq!(full_stars(&css), 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn index_page_lists_the_configured_services() {
    let app = whole_app().await;
    for path in ["/", "/index.html"] {
        let page = get(format!("{}{path}", app.productpage.url())).await;
        assert_eq!(page.status, 200);
        assert!(
            page.body
                .lines()
                .any(|l| l == "    <title>Simple Bookstore App</title>"),
            "{path}"
        );
        assert!(page.body.contains(&format!(
            "<td>http://127.0.0.1:{}</td>",
            app.details.addr().port()
        )));
        assert!(page.body.contains(&format!(
            "<td>http://127.0.0.1:{}</td>",
            app.ratings.addr().port()
        )));
        for reviews in &app.reviews {
            assert!(page.body.contains(&format!(
                "<td>http://127.0.0.1:{}</td>",
                reviews.addr().port()
            )));
        }
        assert!(
            page.body.contains("/productpage?u=normal")
                && page.body.contains("/productpage?u=test")
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn api_answers_with_upstream_bytes() {
    let app = whole_app().await;
    let base = app.productpage.url();
    let products = get(format!("{base}/api/v1/products")).await;
    assert_eq!(products.headers["content-type"], "application/json");
    assert_eq!(
        products.body,
        r#"[{"id": 0, "title": "The Comedy of Errors", "descriptionHtml": "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play."}]"#
    );
    assert_eq!(
        get(format!("{base}/api/v1/products/0")).await.body,
        r#"{"id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback", "pages": 200, "publisher": "PublisherA", "language": "English", "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"}"#
    );
    assert_eq!(
        get(format!("{base}/api/v1/products/0/ratings")).await.body,
        r#"{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}"#
    );
    for id in ["0", "1", "2"] {
        assert_eq!(
            get(format!("{base}/api/v1/products/{id}")).await.status,
            200,
            "{id}"
        );
    }
    let reviews = get(format!("{base}/api/v1/products/0/reviews")).await;
    assert_eq!(reviews.status, 200);
    assert!(
        reviews
            .body
            .starts_with(r#"{"id": "0", "podname": "reviews-v"#),
        "{}",
        reviews.body
    );

    let details_error = get(format!("{base}/api/v1/products/abc")).await;
    assert_eq!(details_error.status, 400);
    assert_eq!(
        details_error.body,
        r#"{"error": "Sorry, product details are currently unavailable for this book."}"#
    );
    let reviews_error = get(format!("{base}/api/v1/products/abc/reviews")).await;
    assert_eq!(reviews_error.status, 404);
    assert_eq!(
        reviews_error.body,
        r#"{"error": "Sorry, product reviews are currently unavailable for this book."}"#
    );
    let ratings_error = get(format!("{base}/api/v1/products/abc/ratings")).await;
    assert_eq!(ratings_error.status, 400);
    assert_eq!(
        ratings_error.body,
        r#"{"error": "Sorry, product ratings are currently unavailable for this book."}"#
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn health_head_unknown_paths_and_metrics() {
    let app = whole_app().await;
    let base = app.productpage.url();
    let health = get(format!("{base}/health")).await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (200, "Product page is healthy")
    );
    let head = client()
        .head(format!("{base}/productpage"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let missing = get(format!("{base}/nope")).await;
    assert_eq!(missing.status, 404);
    assert!(
        missing.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let wrong_method = fetch(client().get(format!("{base}/login"))).await;
    assert_eq!(wrong_method.status, 405);

    // HEAD above rendered the page too: two logical calls to each backend, one per view.
    get(format!("{base}/productpage")).await;
    // A scraper that does not ask for OpenMetrics gets the classic text format.
    let metrics = get(format!("{base}/metrics")).await;
    assert_eq!(
        metrics.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(!metrics.body.contains("# EOF"), "{}", metrics.body);
    assert!(
        metrics
            .body
            .contains("# TYPE request_result_total counter\n")
    );
    for standard in [
        "process_start_time_seconds ",
        "process_open_fds ",
        "process_max_fds ",
        "process_virtual_memory_bytes ",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        // This scrape itself is in progress.
        "http_server_active_requests 1\n",
        // Both reasons from the start, before any refusal.
        "http_server_overload_rejections_total{reason=\"concurrency\"} 0\n",
        "http_server_overload_rejections_total{reason=\"connections\"} 0\n",
    ] {
        assert!(
            metrics.body.contains(standard),
            "{standard}: {}",
            metrics.body
        );
    }
    let open_metrics = fetch(client().get(format!("{base}/metrics")).header(
        "accept",
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ))
    .await;
    assert!(
        open_metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    assert!(open_metrics.body.ends_with("# EOF\n"));
    assert!(
        metrics
            .body
            .contains(r#"request_result_total{destination_app="details",response_code="200"} 2"#),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains(r#"request_result_total{destination_app="reviews",response_code="200"} 2"#)
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_asset_the_page_loads_is_under_static() {
    let app = whole_app().await;
    let base = app.productpage.url();
    let page = get(format!("{base}/productpage")).await.body;
    let assets: Vec<&str> = ["src=\"", "<link rel=\"stylesheet\" href=\""]
        .iter()
        .flat_map(|attr| {
            page.split(attr)
                .skip(1)
                .map(|rest| rest.split('"').next().unwrap())
        })
        .collect();
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        assert!(asset.starts_with("/static/"), "{asset}");
        let response = get(format!("{base}{asset}")).await;
        assert_eq!(response.status, 200, "{asset}");
        let etag = response.headers["etag"].to_str().unwrap().to_owned();
        let revalidated = fetch(
            client()
                .get(format!("{base}{asset}"))
                .header("if-none-match", etag),
        )
        .await;
        assert_eq!(revalidated.status, 304, "{asset}");
    }
    assert_eq!(get(format!("{base}/static/nope.css")).await.status, 404);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn ratings_down_shows_reviews_with_the_ratings_message() {
    let down = format!("http://127.0.0.1:{}", closed_port().await.unwrap());
    let reviews_v3 = serve(
        reviews::app(reviews::Config {
            ratings: Some(reviews::RatingsSettings {
                endpoints: endpoints(down.clone()),
                timeout: Duration::from_secs(2),
            }),
            star_color: "red".into(),
            podname: "reviews-v3".into(),
            clustername: "east".into(),
            tracing: service_runtime::TraceConfig::disabled("reviews"),
        })
        .unwrap(),
    )
    .await;
    let details = serve(details::app(details::Config::v1()).unwrap()).await;
    let server = productpage(config(details.url(), vec![reviews_v3.url()], down)).await;
    let page = get(format!("{}/productpage", server.url())).await.body;
    assert_eq!(count(&page, "Ratings service is currently unavailable"), 2);
    assert_eq!(full_stars(&page), 0);
    assert!(page.body_contains_cluster());
}

trait ClusterLine {
    fn body_contains_cluster(&self) -> bool;
}

impl ClusterLine for String {
    fn body_contains_cluster(&self) -> bool {
        self.contains(
            "Reviews served by: reviews-v3 on cluster <span class=\"cluster\">east</span>",
        )
    }
}

#[test]
fn the_launcher_has_help_version_and_no_positional_port() {
    let launcher = env!("CARGO_BIN_EXE_bookinfo");
    let help = test_kit::run_binary(launcher, &["--help"], &[]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for variable in [
        "BOOKINFO_PORT",
        "FLOOD_FACTOR",
        "BACKEND_CONNECTION_POOLING",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "RUST_LOG",
    ] {
        assert!(
            text.contains(&format!("[env: {variable}")),
            "{variable}:\n{text}"
        );
    }
    let version = test_kit::run_binary(launcher, &["--version"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("bookinfo {}", env!("CARGO_PKG_VERSION"))
    );
    let positional = test_kit::run_binary(launcher, &["9090"], &[]);
    assert_eq!(positional.status.code(), Some(2));
    let bad_port = test_kit::run_binary(launcher, &[], &[("BOOKINFO_PORT", "x")]);
    assert_eq!(bad_port.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_port.stderr).contains("BOOKINFO_PORT"));
}
