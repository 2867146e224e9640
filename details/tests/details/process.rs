//! The binary as a user runs it: flags and variables, logs, and SIGTERM.

use super::*;

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
    test_kit::assert_command_line(
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
    let refused = test_kit::run_binary(
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
    let strict = test_kit::run_binary(
        env!("CARGO_BIN_EXE_details"),
        &["0", "--otel-traces-sampler=jaeger_remote"],
        &[],
    );
    assert_eq!(strict.status.code(), Some(2), "{strict:?}");
    let ours = test_kit::run_binary(
        env!("CARGO_BIN_EXE_details"),
        &["0"],
        &[("OTEL_SDK_DISABLED", "true"), ("MAX_CONNECTIONS", "many")],
    );
    assert_eq!(ours.status.code(), Some(2), "{ours:?}");
}
