//! Details from the external book service (ENABLE_EXTERNAL_BOOK_SERVICE): the mapping, its
//! failures and timeout, and HTTPS.

use super::*;

const VOLUMES: &str = r#"{"kind":"books#volumes","totalItems":1,"items":[{"volumeInfo":{
  "title":"The Comedy of Errors","authors":["William Shakespeare"],"publisher":"Courier Corporation",
  "publishedDate":"2002-07-23","industryIdentifiers":[{"type":"ISBN_10","identifier":"0486424618"},
  {"type":"ISBN_13","identifier":"9780486424613"}],"pageCount":80,"printType":"BOOK","language":"en"}}]}"#;

async fn external_details(stub_url: String, timeout: Duration) -> RunningServer {
    start(Config {
        book_source: BookSource::GoogleBooks {
            endpoint: stub_url.parse().unwrap(),
            timeout,
        },
        ..Config::v1()
    })
    .await
}

#[tokio::test]
async fn external_book_service_is_mapped_like_upstream() {
    let books = Stub::start(Answer::json(200, VOLUMES)).await.unwrap();
    let server = external_details(books.url(), Duration::from_secs(5)).await;
    let client = http_client();
    let response = client
        .get(format!("{}/details/3", server.url()))
        .header("x-request-id", "req-1")
        .header("end-user", "jason")
        .header("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"id":3,"author":"William Shakespeare","year":"2002-07-23","type":"paperback","pages":80,"publisher":"Courier Corporation","language":"English","ISBN-10":"0486424618","ISBN-13":"9780486424613"}"#
    );
    let requests = books.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].uri, "/books/v1/volumes?q=isbn:0486424618");
    assert_eq!(requests[0].headers["x-request-id"], "req-1");
    assert_eq!(requests[0].headers["end-user"], "jason");
    assert_eq!(
        requests[0].headers["x-b3-traceid"],
        "80f198ee56343ba864fe8b2a57d3eff7"
    );
}

#[tokio::test]
async fn external_failures_are_5xx_json_errors() {
    let cases = [
        (Answer::json(500, "{}"), 502),
        (Answer::json(200, "not json"), 502),
        (Answer::json(200, r#"{"items":[]}"#), 502),
    ];
    for (answer, expected) in cases {
        let books = Stub::start(answer).await.unwrap();
        let server = external_details(books.url(), Duration::from_secs(5)).await;
        let (status, content_type, body) = get(format!("{}/details/0", server.url())).await.parts();
        assert_eq!(status, expected, "{body}");
        assert_eq!(content_type, "application/json");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            error["error"].as_str().unwrap().contains("book service"),
            "{body}"
        );
    }
    let down = external_details(
        format!("http://127.0.0.1:{}", closed_port().await.unwrap()),
        Duration::from_secs(5),
    )
    .await;
    let refused = get(format!("{}/details/0", down.url())).await;
    assert_eq!(refused.status, 503);
    // The cause, not just "client error (Connect)".
    assert!(
        refused.body.to_lowercase().contains("refused"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn external_book_service_times_out() {
    let books = Stub::start(Answer::json(200, VOLUMES).delayed(Duration::from_secs(10)))
        .await
        .unwrap();
    let server = external_details(books.url(), Duration::from_millis(300)).await;
    let started = Instant::now();
    let (status, _, body) = get(format!("{}/details/0", server.url())).await.parts();
    let elapsed = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

/// An HTTPS book service on 127.0.0.1 whose certificate (for `localhost`) is signed by a test
/// CA, answering every request with `body` in HTTP/1.1 chunks. Returns its port and the CA's
/// PEM file, for `SSL_CERT_FILE`.
async fn https_book_service(body: Vec<u8>) -> (u16, std::path::PathBuf) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let ca = test_kit::TestCa::new();
    let ca_file = ca.write_pem(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    let mut tls = (*ca.server_config(&["localhost"])).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let mut answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for chunk in body.chunks(64 * 1024) {
                    answer.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
                    answer.extend(chunk);
                    answer.extend(b"\r\n");
                }
                answer.extend(b"0\r\n\r\n");
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, ca_file)
}

/// details v2 calls HTTPS through the one client stack: trusted through `SSL_CERT_FILE`, and
/// with the same 1 MiB cap on a chunked answer as on any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_book_service_is_trusted_through_ssl_cert_file_and_capped() {
    for (body, expected_status) in [
        (VOLUMES.as_bytes().to_vec(), 200),
        (
            format!(r#"{{"items":[],"pad":"{}"}}"#, "x".repeat(2 * 1024 * 1024)).into_bytes(),
            502,
        ),
    ] {
        let (port, ca_file) = https_book_service(body).await;
        let url = format!("https://localhost:{port}");
        let ca = ca_file.to_string_lossy().into_owned();
        let details = SpawnedBinary::start(
            env!("CARGO_BIN_EXE_details"),
            &[
                ("ENABLE_EXTERNAL_BOOK_SERVICE", "true"),
                ("BOOK_SERVICE_URL", &url),
                ("SSL_CERT_FILE", &ca),
            ],
        )
        .unwrap();
        let response = http_client()
            .get(format!("http://127.0.0.1:{}/details/0", details.port))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_eq!(status, expected_status, "{body}");
        if status == 200 {
            assert!(body.contains(r#""ISBN-13":"9780486424613""#), "{body}");
        } else {
            assert!(body.contains("larger than"), "{body}");
        }
    }
}

#[test]
fn external_service_address_follows_do_not_encrypt() {
    let BookSource::GoogleBooks { endpoint, timeout } =
        parsed(&["--enable-external-book-service"]).book_source
    else {
        panic!("the book service is on");
    };
    assert_eq!(endpoint.to_string(), "https://www.googleapis.com");
    assert_eq!(timeout, Duration::from_secs(5));
    let BookSource::GoogleBooks { endpoint, .. } = parsed(&[
        "--enable-external-book-service=TRUE",
        "--do-not-encrypt=true",
    ])
    .book_source
    else {
        panic!("the book service is on");
    };
    assert_eq!(endpoint.to_string(), "http://www.googleapis.com:80");
    assert_eq!(parsed(&[]).book_source, BookSource::Static);
    // The original's switches are on only for `true`.
    assert_eq!(
        parsed(&["--enable-external-book-service=yes"]).book_source,
        BookSource::Static
    );
}

fn parsed(flags: &[&str]) -> Config {
    Config::try_from(parse_flags::<DetailsArgs>(flags).unwrap()).unwrap()
}
