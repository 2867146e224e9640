use std::time::{Duration, Instant};

use reviews::{Config, RatingsSettings, ReviewsArgs};
use service_runtime::{
    Endpoint, Endpoints, RunningServer, TraceConfig, propagation::SERVICE_FORWARDED,
};
use test_kit::{
    Answer, SpawnedBinary, Stub, closed_port, get_json, http_client, parse_flags, serve,
};

const RATINGS_OK: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;
const TEXT1: &str =
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
const TEXT2: &str = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.";

fn config(ratings_url: Option<String>, color: &str, timeout: Duration) -> Config {
    Config {
        ratings: ratings_url.map(|url| RatingsSettings {
            endpoints: Endpoints::single(url.parse::<Endpoint>().unwrap()),
            timeout,
        }),
        star_color: color.into(),
        podname: "reviews-v2-5b667bcbf8-abcde".into(),
        clustername: "null".into(),
        tracing: TraceConfig::disabled("reviews"),
    }
}

async fn start(config: Config) -> RunningServer {
    serve(reviews::app(config).unwrap()).await
}

fn expected(rating1: serde_json::Value, rating2: serde_json::Value) -> serde_json::Value {
    let mut r1 = serde_json::json!({"reviewer": "Reviewer1", "text": TEXT1});
    let mut r2 = serde_json::json!({"reviewer": "Reviewer2", "text": TEXT2});
    if !rating1.is_null() {
        r1["rating"] = rating1;
        r2["rating"] = rating2;
    }
    serde_json::json!({
        "id": "0",
        "podname": "reviews-v2-5b667bcbf8-abcde",
        "clustername": "null",
        "reviews": [r1, r2],
    })
}

fn unavailable() -> serde_json::Value {
    serde_json::json!({"error": "Ratings service is currently unavailable"})
}

#[tokio::test]
async fn v1_has_no_ratings_and_keys_in_upstream_order() {
    let server = start(config(None, "black", Duration::from_secs(10))).await;
    let body = http_client()
        .get(format!("{}/reviews/0", server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"id":"0","podname":"reviews-v2-5b667bcbf8-abcde","clustername":"null","reviews":[{{"reviewer":"Reviewer1","text":"{TEXT1}"}},{{"reviewer":"Reviewer2","text":"{TEXT2}"}}]}}"#
        )
    );
}

#[tokio::test]
async fn v2_shows_black_stars_and_v3_red_stars() {
    let ratings = Stub::start(Answer::json(200, RATINGS_OK)).await.unwrap();
    for color in ["black", "red"] {
        let server = start(config(Some(ratings.url()), color, Duration::from_secs(10))).await;
        let (status, body) = get_json(format!("{}/reviews/0", server.url())).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            expected(
                serde_json::json!({"stars": 5, "color": color}),
                serde_json::json!({"stars": 4, "color": color})
            )
        );
    }
    assert_eq!(ratings.requests()[0].uri, "/ratings/0");
}

#[tokio::test]
async fn any_ratings_failure_marks_both_reviews_unavailable() {
    let cases = [
        Answer::json(500, r#"{"error":"x"}"#),
        Answer::json(503, r#"{"error":"Service unavailable"}"#),
        Answer::json(200, "not json"),
        Answer::json(200, r#"{"id":0,"ratings":[5,4]}"#),
        Answer::json(
            200,
            r#"{"id":0,"ratings":{"Reviewer1":"five","Reviewer2":null}}"#,
        ),
    ];
    for answer in cases {
        let ratings = Stub::start(answer.clone()).await.unwrap();
        let server = start(config(Some(ratings.url()), "red", Duration::from_secs(5))).await;
        let (status, body) = get_json(format!("{}/reviews/0", server.url())).await;
        assert_eq!(status, 200, "{answer:?}");
        assert_eq!(body, expected(unavailable(), unavailable()), "{answer:?}");
    }
    let down = format!("http://127.0.0.1:{}", closed_port().await.unwrap());
    let server = start(config(Some(down), "red", Duration::from_secs(5))).await;
    assert_eq!(
        get_json(format!("{}/reviews/0", server.url())).await.1,
        expected(unavailable(), unavailable())
    );
}

#[tokio::test]
async fn a_reviewer_missing_from_ratings_is_unavailable_alone() {
    let ratings = Stub::start(Answer::json(200, r#"{"id":0,"ratings":{"Reviewer2":3}}"#))
        .await
        .unwrap();
    let server = start(config(Some(ratings.url()), "red", Duration::from_secs(5))).await;
    let body = get_json(format!("{}/reviews/0", server.url())).await.1;
    assert_eq!(
        body,
        expected(
            unavailable(),
            serde_json::json!({"stars": 3, "color": "red"})
        )
    );
}

#[tokio::test]
async fn slow_ratings_time_out_into_unavailable() {
    let ratings = Stub::start(Answer::json(200, RATINGS_OK).delayed(Duration::from_secs(10)))
        .await
        .unwrap();
    let server = start(config(
        Some(ratings.url()),
        "red",
        Duration::from_millis(300),
    ))
    .await;
    let started = Instant::now();
    let (status, body) = get_json(format!("{}/reviews/0", server.url())).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(body, expected(unavailable(), unavailable()));
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn reviews_forwards_all_twenty_headers_and_end_user_to_ratings() {
    let ratings = Stub::start(Answer::json(200, RATINGS_OK)).await.unwrap();
    let server = start(config(Some(ratings.url()), "black", Duration::from_secs(5))).await;
    let mut request = http_client().get(format!("{}/reviews/0", server.url()));
    for name in &SERVICE_FORWARDED {
        request = request.header(name.as_str(), format!("value-of-{}", name.as_str()));
    }
    let response = request
        .header("x-not-forwarded", "secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let arrived = &ratings.requests()[0].headers;
    assert_eq!(SERVICE_FORWARDED.len(), 20);
    for name in &SERVICE_FORWARDED {
        assert_eq!(
            arrived[name],
            format!("value-of-{}", name.as_str()).as_str(),
            "{name}"
        );
    }
    assert_eq!(arrived["end-user"], "value-of-end-user");
    assert_eq!(arrived["accept"], "application/json");
    assert!(arrived.get("x-not-forwarded").is_none());
}

/// Two `cookie` crumbs sent to reviews over h2c (as a sidecar on an `http2` port may send them)
/// reach ratings as one line, joined in order.
#[tokio::test]
async fn cookie_crumbs_over_http2_reach_ratings_as_one_line() {
    let ratings = Stub::start(Answer::json(200, RATINGS_OK)).await.unwrap();
    let server = start(config(Some(ratings.url()), "black", Duration::from_secs(5))).await;
    let answer = test_kit::get_over_h2c(
        &format!("{}/reviews/0", server.url()),
        &[("cookie", "session=s1"), ("cookie", "theme=dark")],
    )
    .await;
    assert_eq!(answer.status, 200);
    let arrived = &ratings.requests()[0].headers;
    let cookies: Vec<_> = arrived.get_all("cookie").iter().collect();
    assert_eq!(cookies, ["session=s1; theme=dark"]);
}

#[tokio::test]
async fn health_ids_and_unknown_paths() {
    let server = start(config(None, "black", Duration::from_secs(1))).await;
    let health = http_client()
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        health.text().await.unwrap(),
        r#"{"status": "Reviews is healthy"}"#
    );
    for (id, echoed) in [("+5", "5"), ("007", "7"), ("-1", "-1")] {
        let (status, body) = get_json(format!("{}/reviews/{id}", server.url())).await;
        assert_eq!((status, body["id"].as_str()), (200, Some(echoed)), "{id}");
    }
    for id in ["abc", "1.5", "99999999999"] {
        let response = http_client()
            .get(format!("{}/reviews/{id}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{id}");
    }
    let response = http_client()
        .get(format!("{}/nope", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn pod_and_cluster_names_come_from_env_and_stay_valid_json() {
    let reviews = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_reviews"),
        &[
            ("HOSTNAME", r#"pod "quoted" \ name"#),
            ("CLUSTER_NAME", "east"),
        ],
    )
    .unwrap();
    let (_, body) = get_json(format!("http://127.0.0.1:{}/reviews/0", reviews.port)).await;
    assert_eq!(body["podname"], r#"pod "quoted" \ name"#);
    assert_eq!(body["clustername"], "east");
}

fn parsed(flags: &[&str]) -> Config {
    Config::try_from(parse_flags::<ReviewsArgs>(flags).unwrap()).unwrap()
}

#[test]
fn versions_come_from_enable_ratings_and_star_color() {
    let v1 = parsed(&[]);
    assert!(v1.ratings.is_none());
    assert_eq!(
        (v1.podname.as_str(), v1.clustername.as_str()),
        ("null", "null")
    );
    let v2 = parsed(&["--enable-ratings"]).ratings.unwrap();
    assert_eq!(v2.timeout, Duration::from_secs(10));
    assert_eq!(v2.endpoints.pick().to_string(), "http://ratings:9080");
    let v3 = parsed(&["--enable-ratings=True", "--star-color", "red"]);
    assert_eq!(v3.star_color, "red");
    assert_eq!(v3.ratings.unwrap().timeout, Duration::from_millis(2500));
    // The launcher and the images build the versions from one table.
    for version in reviews::VERSIONS {
        let config = Config::new(version, Endpoints::single("http://r:1".parse().unwrap()));
        assert_eq!(config.ratings.is_some(), version.enable_ratings);
        assert_eq!(config.star_color, version.star_color);
    }
}

#[test]
fn ratings_hosts_may_be_ipv6_literals_and_lists() {
    let ratings = parsed(&[
        "--enable-ratings",
        "--ratings-hostname",
        "[fd00::5]:9081,ratings",
        "--services-domain",
        "svc.cluster.local",
    ])
    .ratings
    .unwrap();
    assert_eq!(
        ratings.endpoints.pick().to_string(),
        "http://[fd00::5]:9081"
    );
    assert_eq!(
        ratings.endpoints.pick().to_string(),
        "http://ratings.svc.cluster.local:9080"
    );
}

#[test]
fn help_version_and_bad_values_speak_to_the_user() {
    test_kit::assert_command_line(
        env!("CARGO_BIN_EXE_reviews"),
        &[
            "ENABLE_RATINGS",
            "STAR_COLOR",
            "RATINGS_HOSTNAME",
            "RATINGS_SERVICE_PORT",
            "SERVICES_DOMAIN",
            "HOSTNAME",
            "CLUSTER_NAME",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ],
        ("RATINGS_HOSTNAME", ","),
    );
}

/// An id that does not percent-decode to UTF-8 is not an integer: the documented 404.
#[tokio::test]
async fn an_undecodable_id_is_the_documented_404() {
    let server = start(config(None, "black", Duration::from_secs(1))).await;
    let (status, body) = test_kit::get_json(format!("{}/reviews/%ff", server.url())).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "product id must be an integer");
}
