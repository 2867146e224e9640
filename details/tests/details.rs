use std::time::{Duration, Instant};

use details::{BookSource, Config, DetailsArgs};
use service_runtime::{
    RunningServer,
    testing::{Answer, SpawnedBinary, Stub, closed_port, get, http_client, parse_flags, serve},
};

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

fn parsed(flags: &[&str]) -> Config {
    Config::try_from(parse_flags::<DetailsArgs>(flags).unwrap()).unwrap()
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

#[test]
fn json_request_logs_carry_the_trace_id_and_span_id() {
    let mut details = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_details"),
        &[("LOG_FORMAT", "json"), ("RUST_LOG", "info,access=debug")],
    )
    .unwrap();
    let port = details.port;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = http_client()
            .get(format!("http://127.0.0.1:{port}/details/0"))
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    });
    let line = details
        .wait_for("\"target\":\"access\"")
        .expect("an access line");
    let access: serde_json::Value = serde_json::from_str(&line).unwrap();
    // Flat, where log pipelines look: no `fields` or `span` objects.
    assert!(
        access.get("fields").is_none() && access.get("span").is_none(),
        "{line}"
    );
    assert_eq!(access["status"], 200);
    assert_eq!(access["message"], "served");
    assert_eq!(access["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let span_id = access["span_id"].as_str().unwrap();
    assert_eq!(span_id.len(), 16);
    assert_ne!(
        span_id, "00f067aa0ba902b7",
        "our own server span, child of the caller's"
    );
    assert_eq!(access["route"], "/details/{id}");
}

#[test]
fn help_version_and_bad_values_speak_to_the_user() {
    service_runtime::testing::assert_command_line(
        env!("CARGO_BIN_EXE_details"),
        &[
            "ENABLE_EXTERNAL_BOOK_SERVICE",
            "DO_NOT_ENCRYPT",
            "BOOK_SERVICE_URL",
            "BOOK_SERVICE_TIMEOUT_MS",
            "SERVICE_VERSION",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "RUST_LOG",
            "LOG_FORMAT",
        ],
        ("BOOK_SERVICE_TIMEOUT_MS", "5s"),
    );
}

/// An HTTPS book service on 127.0.0.1 whose certificate (for `localhost`) is signed by a test
/// CA, answering every request with `body` in HTTP/1.1 chunks. Returns its port and the CA's
/// PEM file, for `SSL_CERT_FILE`.
async fn https_book_service(body: Vec<u8>) -> (u16, std::path::PathBuf) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let ca = service_runtime::testing::TestCa::new();
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

/// Templates often render unset values as "": an empty variable counts as unset.
#[test]
fn empty_variables_count_as_unset() {
    let details = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_details"),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            ("BOOK_SERVICE_TIMEOUT_MS", ""),
            ("LOG_FORMAT", ""),
            ("RUST_LOG", ""),
        ],
    );
    assert!(details.is_ok(), "details refused empty variables");
}

/// A switch takes its value only as `--switch=value`, so the port after it stays the port.
#[test]
fn a_switch_never_swallows_the_port() {
    let refused = service_runtime::testing::run_binary(
        env!("CARGO_BIN_EXE_details"),
        &["--enable-external-book-service", "not-a-port"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("[PORT]"),
        "{refused:?}"
    );
}

/// Every line logged while a request is served carries its trace and span ids, not only the
/// access line.
#[tokio::test]
async fn log_lines_written_while_serving_carry_the_trace_id() {
    let book_service = format!("http://127.0.0.1:{}", closed_port().await.unwrap());
    let mut details = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_details"),
        &[
            ("LOG_FORMAT", "json"),
            ("ENABLE_EXTERNAL_BOOK_SERVICE", "true"),
            ("BOOK_SERVICE_URL", &book_service),
        ],
    )
    .unwrap();
    let answer = http_client()
        .get(format!("http://127.0.0.1:{}/details/0", details.port))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    let line = details
        .wait_for("external book service failed")
        .expect("the failure is logged");
    let logged: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        logged["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "{line}"
    );
    assert_eq!(logged["span_id"].as_str().map(str::len), Some(16));
    assert!(
        logged["err"].as_str().is_some(),
        "event fields at the top level: {line}"
    );
}

/// One unfinished request head used to keep the process alive long after SIGTERM: the drain
/// is bounded, then the process flushes and exits 0.
#[test]
fn sigterm_with_an_unfinished_request_exits_zero_at_the_drain_bound() {
    use std::io::{Read, Write};
    let mut details = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_details"),
        &[("SHUTDOWN_DELAY_MS", "0"), ("DRAIN_TIMEOUT_MS", "1000")],
    )
    .unwrap();
    let address = ("127.0.0.1", details.port);
    let mut unfinished = std::net::TcpStream::connect(address).unwrap();
    unfinished
        .write_all(b"GET /details/0 HTTP/1.1\r\n")
        .unwrap();
    // Connections are accepted in order: once a later one is answered, the unfinished one
    // is being served.
    let mut later = std::net::TcpStream::connect(address).unwrap();
    later
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    later.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let started = Instant::now();
    details.terminate().unwrap();
    let status = details.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
}

/// A rolling update as a client sees it: through SIGTERM and the readiness delay, `/ready`
/// fails while every request is still answered.
#[test]
fn a_client_looping_through_sigterm_sees_no_failed_request() {
    let delay = Duration::from_millis(2000);
    let mut details = SpawnedBinary::start(
        env!("CARGO_BIN_EXE_details"),
        &[("SHUTDOWN_DELAY_MS", "2000")],
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", details.port);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (served, not_ready) = runtime.block_on(async {
        let client = http_client();
        let (mut served, mut not_ready) = (0, 0);
        let mut terminated: Option<Instant> = None;
        while terminated.is_none_or(|at| at.elapsed() < delay - Duration::from_millis(500)) {
            let answer = client.get(format!("{base}/details/0")).send().await;
            let status = answer.map(|a| a.status().as_u16());
            assert_eq!(status.as_ref().ok(), Some(&200), "{status:?}");
            served += 1;
            let ready = client.get(format!("{base}/ready")).send().await;
            match ready.map(|r| r.status().as_u16()) {
                Ok(200) => assert!(terminated.is_none(), "ready after SIGTERM"),
                Ok(503) => not_ready += 1,
                other => panic!("/ready: {other:?}"),
            }
            if terminated.is_none() && served == 20 {
                details.terminate().unwrap();
                // The signal is handled asynchronously: from this line on, /ready fails.
                assert!(details.wait_for("shutting down: /ready fails").is_some());
                terminated = Some(Instant::now());
            }
        }
        (served, not_ready)
    });
    assert!(
        served > 20 && not_ready > 0,
        "{served} served, {not_ready} not ready"
    );
    let status = details.wait_exit(Duration::from_secs(30));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

/// An id that does not percent-decode to UTF-8 is a bad id like any other: the documented
/// JSON error, not the framework's plain-text one.
#[tokio::test]
async fn an_undecodable_id_is_the_documented_bad_id() {
    let server = static_details().await;
    let (status, body) =
        service_runtime::testing::get_json(format!("{}/details/%ff", server.url())).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "please provide numeric product id");
}

/// OpenTelemetry's SDK configuration specification: an `OTEL_*` value the SDK does not know or
/// support is a warning and the default applies (each `OTEL_PROPAGATORS` entry on its own);
/// the same value typed as a flag, and our own settings, still stop start-up.
#[test]
fn unusable_otel_variables_are_warnings_and_flags_stay_strict() {
    use std::io::{BufRead, BufReader};
    let unusable = [
        ("OTEL_PROPAGATORS", "tracecontext,baggage,jaeger"),
        ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ("OTEL_SDK_DISABLED", "true"),
    ];
    let mut details = std::process::Command::new(env!("CARGO_BIN_EXE_details"))
        .arg("0")
        .env_clear()
        .envs(unusable)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = details.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|line| !line.contains("listening on"))
        .collect();
    let _ = details.kill();
    let _ = details.wait();
    let warnings: Vec<&String> = lines.iter().filter(|line| line.contains("WARN")).collect();
    for (variable, value) in &unusable[..5] {
        let named: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains(&format!("{variable}=")) || w.contains(&format!("{variable}:")))
            .collect();
        assert_eq!(
            named.len(),
            1,
            "one warning for {variable}={value}: {lines:#?}"
        );
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("ignoring jaeger") && w.contains("using tracecontext,baggage")),
        "{warnings:#?}"
    );
    let strict = service_runtime::testing::run_binary(
        env!("CARGO_BIN_EXE_details"),
        &["0", "--otel-traces-sampler=jaeger_remote"],
        &[],
    );
    assert_eq!(strict.status.code(), Some(2), "{strict:?}");
    let ours = service_runtime::testing::run_binary(
        env!("CARGO_BIN_EXE_details"),
        &["0"],
        &[("OTEL_SDK_DISABLED", "true"), ("MAX_CONNECTIONS", "many")],
    );
    assert_eq!(ours.status.code(), Some(2), "{ours:?}");
}
