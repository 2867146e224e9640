mod book_service;
mod process;

use std::time::{Duration, Instant};

use details::{BookSource, Config, DetailsArgs};
use service_runtime::RunningServer;
use test_kit::{Answer, SpawnedBinary, Stub, closed_port, get, http_client, parse_flags, serve};

const GOLDEN_BOOK: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;

async fn start(config: Config) -> RunningServer {
    serve(details::app(config).unwrap()).await
}

async fn static_details() -> RunningServer {
    start(Config::v1()).await
}

#[tokio::test]
async fn details_answers_the_golden_book() {
    let server = static_details().await;
    let (status, content_type, body) = get(format!("{}/details/0", server.url())).await.parts();
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, GOLDEN_BOOK);
}

#[tokio::test]
async fn details_echoes_any_integer_id_as_a_number() {
    let server = static_details().await;
    for (id, echoed) in [("12345", "12345"), ("-1", "-1"), ("007", "7"), ("+3", "3")] {
        let (status, _, body) = get(format!("{}/details/{id}", server.url())).await.parts();
        assert_eq!(status, 200, "{id}");
        assert!(
            body.starts_with(&format!(r#"{{"id":{echoed},"author""#)),
            "{id}: {body}"
        );
    }
}

#[tokio::test]
async fn details_rejects_non_numeric_or_missing_ids() {
    let server = static_details().await;
    for path in [
        "/details/abc",
        "/details/0x1A",
        "/details/1.5",
        "/details",
        "/details/",
    ] {
        let (status, content_type, body) = get(format!("{}{path}", server.url())).await.parts();
        assert_eq!(status, 400, "{path}");
        assert_eq!(content_type, "application/json");
        assert_eq!(
            body, r#"{"error":"please provide numeric product id"}"#,
            "{path}"
        );
    }
}

#[tokio::test]
async fn details_health_unknown_path_and_wrong_method() {
    let server = static_details().await;
    let (status, _, body) = get(format!("{}/health", server.url())).await.parts();
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"status":"Details is healthy"}"#)
    );
    assert_eq!(get(format!("{}/nope", server.url())).await.status, 404);
    assert_eq!(
        get(format!("{}/details/1/2", server.url())).await.status,
        404
    );
    let post = http_client()
        .post(format!("{}/details/0", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

/// An id that does not percent-decode to UTF-8 is a bad id like any other: the documented
/// JSON error, not the framework's plain-text one.
#[tokio::test]
async fn an_undecodable_id_is_the_documented_bad_id() {
    let server = static_details().await;
    let (status, body) = test_kit::get_json(format!("{}/details/%ff", server.url())).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "please provide numeric product id");
}
