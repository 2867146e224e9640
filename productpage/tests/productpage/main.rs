//! productpage against recording stubs and real backends: headers, degradation, attempts.

mod connections;
mod degraded;
mod flooding;
mod headers;

use std::time::{Duration, Instant};

use productpage::MAX_FLOOD_CALLS_IN_FLIGHT;
use service_runtime::{Endpoint, Endpoints, RunningServer, propagation::PRODUCTPAGE_FORWARDED};
use test_kit::{
    Answer, Stub, closed_port, fetch, get, http_client as client,
    page::{config, empty_stars, full_stars, sign_in},
    serve,
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

#[test]
fn help_version_and_bad_values_speak_to_the_user() {
    let binary = env!("CARGO_BIN_EXE_productpage");
    test_kit::assert_command_line(
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
    let refused = test_kit::run_binary(binary, &["0"], &[("REVIEWS_HOSTNAME", ",")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("REVIEWS_HOSTNAME"));
    // A blank key would sign sessions anyone can forge.
    let blank = test_kit::run_binary(binary, &["0"], &[("SESSION_SECRET", "  ")]);
    assert_eq!(blank.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&blank.stderr).contains("SESSION_SECRET"));
    // The session key never shows in --help, even when set.
    let help = test_kit::run_binary(binary, &["--help"], &[("SESSION_SECRET", "s3cr3t")]);
    assert!(!String::from_utf8_lossy(&help.stdout).contains("s3cr3t"));
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
