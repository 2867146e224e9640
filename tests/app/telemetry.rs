//! Distributed tracing across the real services: spans exported over OTLP form one tree per
//! request under the caller's trace; without export the caller's context passes unchanged.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{
    otlp::{GrpcReceiver, ReceivedSpan, Receiver},
    *,
};
use bookinfo::LaunchOptions;
use service_runtime::{
    TelemetryArgs, TraceConfig,
    propagation::PropagatorKind,
    telemetry::{OtlpProtocol, SamplerKind},
};

const SERVER: i32 = 2;
const CLIENT: i32 = 3;

fn one<'a>(spans: &'a [ReceivedSpan], service: &str, kind: i32, name: &str) -> &'a ReceivedSpan {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.service == service && s.kind == kind && s.name == name)
        .collect();
    assert_eq!(found.len(), 1, "{service} {name}: {spans:#?}");
    found[0]
}

fn assert_child(child: &ReceivedSpan, parent: &ReceivedSpan) {
    assert_eq!(
        child.parent_span_id, parent.span_id,
        "{} should be a child of {}",
        child.name, parent.name
    );
}

/// Every span's parent is the caller's span or another span of the same trace.
fn assert_no_orphans(spans: &[ReceivedSpan], caller_span: &str) {
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    for span in spans {
        assert!(
            span.parent_span_id == caller_span || ids.contains(span.parent_span_id.as_str()),
            "orphan: {span:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hop_exports_spans_into_the_callers_trace() {
    // The default propagators (W3C) with a W3C caller, then b3multi with a B3 caller: each
    // service reads and writes exactly the configured format.
    let w3c = Receiver::start().await;
    let app = launch(LaunchOptions {
        telemetry: TelemetryArgs {
            otel_exporter_otlp_endpoint: Some(w3c.endpoint()),
            ..TelemetryArgs::default()
        },
        ..LaunchOptions::default()
    })
    .await;
    let page = format!("{}/productpage", app.productpage.url());
    // Round robin sends this one to reviews v1.
    let w3c_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let w3c_parent = "00f067aa0ba902b7";
    let first = fetch(
        client()
            .get(&page)
            .header("traceparent", format!("00-{w3c_trace}-{w3c_parent}-01")),
    )
    .await;
    assert_eq!(first.status, 200);
    app.stop().await.unwrap();

    let b3 = Receiver::start().await;
    let app = launch(LaunchOptions {
        telemetry: TelemetryArgs {
            otel_exporter_otlp_endpoint: Some(b3.endpoint()),
            otel_propagators: vec![PropagatorKind::B3Multi],
            ..TelemetryArgs::default()
        },
        ..LaunchOptions::default()
    })
    .await;
    let page = format!("{}/productpage", app.productpage.url());
    // B3 caller with a 64-bit trace id; the second page goes to reviews v2, which calls ratings.
    fetch(client().get(&page)).await;
    let b3_trace = "a2fb4a1d1a96d312";
    let b3_parent = "e457b5a2e4d86bd1";
    let second = fetch(
        client()
            .get(&page)
            .header("x-b3-traceid", b3_trace)
            .header("x-b3-spanid", b3_parent)
            .header("x-b3-sampled", "1"),
    )
    .await;
    assert_eq!(full_stars(&second.body), 9, "served by reviews v2");
    app.stop().await.unwrap();

    let mut spans = w3c.spans();
    let padded_b3 = format!("0000000000000000{b3_trace}");
    spans.extend(
        b3.spans()
            .into_iter()
            .filter(|span| span.trace_id == padded_b3),
    );
    let by_trace: BTreeMap<&str, Vec<ReceivedSpan>> =
        spans.iter().fold(BTreeMap::new(), |mut map, span| {
            map.entry(span.trace_id.as_str())
                .or_insert_with(Vec::new)
                .push(span.clone());
            map
        });
    assert_eq!(
        by_trace.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([w3c_trace, padded_b3.as_str()]),
        "one trace per request"
    );

    for (trace, caller, reviews_version) in [
        (w3c_trace, w3c_parent, "v1"),
        (padded_b3.as_str(), b3_parent, "v2"),
    ] {
        let spans = &by_trace[trace];
        let page = one(spans, "productpage", SERVER, "GET /productpage");
        assert_eq!(
            page.parent_span_id, caller,
            "the caller's span is the parent"
        );
        let to_details = one(spans, "productpage", CLIENT, "GET details");
        let to_reviews = one(spans, "productpage", CLIENT, "GET reviews");
        assert_child(to_details, page);
        assert_child(to_reviews, page);
        assert_child(
            one(spans, "productpage", 1, "render productpage.html"),
            page,
        );
        let details = one(spans, "details", SERVER, "GET /details/{id}");
        assert_child(details, to_details);
        let reviews = one(spans, "reviews", SERVER, "GET /reviews/{id}");
        assert_child(reviews, to_reviews);
        assert_eq!(reviews.version, reviews_version);
        if reviews_version == "v2" {
            let to_ratings = one(spans, "reviews", CLIENT, "GET ratings");
            assert_child(to_ratings, reviews);
            assert_child(
                one(spans, "ratings", SERVER, "GET /ratings/{id}"),
                to_ratings,
            );
        } else {
            assert!(
                spans.iter().all(|s| s.service != "ratings"),
                "reviews v1 never calls ratings"
            );
        }
        assert_no_orphans(spans, caller);
        assert!(spans.iter().all(|s| !s.error));
    }
    let services: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        services,
        BTreeSet::from(["details", "productpage", "ratings", "reviews"])
    );
    assert!(
        spans.iter().all(|s| !s.version.is_empty()),
        "service.version on every resource"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_reviews_attempts_show_as_client_spans() {
    let receiver = Receiver::start().await;
    let details = Stub::start(Answer::json(200, "{}")).await.unwrap();
    let reviews = Stub::start(Answer::json(503, "")).await.unwrap();
    let mut config = config(details.url(), vec![reviews.url()], details.url());
    config.tracing = TraceConfig {
        endpoint: Some(format!("{}/v1/traces", receiver.endpoint())),
        ..TraceConfig::disabled("productpage")
    };
    let server = productpage(config).await;
    let traceparent = "00-11111111111111111111111111111111-2222222222222222-01";
    fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("traceparent", traceparent),
    )
    .await;
    server.stop().await.unwrap();

    let spans = receiver.spans();
    let page = one(&spans, "productpage", SERVER, "GET /productpage");
    let attempts: Vec<_> = spans.iter().filter(|s| s.name == "GET reviews").collect();
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert_child(attempt, page);
        assert!(
            attempt.error,
            "a 503 answer marks the client span as an error"
        );
    }
    // Each attempt carried its own span as the parent for reviews.
    let arrived: Vec<String> = reviews
        .requests()
        .iter()
        .map(|r| r.headers["traceparent"].to_str().unwrap().to_owned())
        .collect();
    let sent: Vec<String> = attempts
        .iter()
        .map(|a| format!("00-11111111111111111111111111111111-{}-01", a.span_id))
        .collect();
    assert_eq!(
        arrived.iter().collect::<BTreeSet<_>>(),
        sent.iter().collect::<BTreeSet<_>>()
    );
    // Only the configured format (W3C by default): no B3 beside it.
    assert!(
        reviews
            .requests()
            .iter()
            .all(|r| r.headers.get("x-b3-spanid").is_none())
    );
}

#[tokio::test]
async fn without_export_backends_receive_the_callers_exact_span_id() {
    let details = Stub::start(Answer::json(200, "{}")).await.unwrap();
    let reviews = Stub::start(Answer::json(200, r#"{"reviews":[]}"#))
        .await
        .unwrap();
    let server = productpage(config(details.url(), vec![reviews.url()], details.url())).await;
    let url = format!("{}/productpage", server.url());
    fetch(client().get(&url).header(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ))
    .await;
    for stub in [&details, &reviews] {
        let headers = &stub.requests()[0].headers;
        assert_eq!(
            headers["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(headers["x-b3-traceid"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(headers["x-b3-spanid"], "00f067aa0ba902b7");
        assert_eq!(headers["x-b3-sampled"], "1");
    }
    fetch(
        client()
            .get(&url)
            .header("b3", "a2fb4a1d1a96d312-e457b5a2e4d86bd1-1"),
    )
    .await;
    for stub in [&details, &reviews] {
        let headers = &stub.requests()[1].headers;
        // As received, plus the W3C form with the same ids.
        assert_eq!(headers["b3"], "a2fb4a1d1a96d312-e457b5a2e4d86bd1-1");
        assert_eq!(
            headers["traceparent"],
            "00-0000000000000000a2fb4a1d1a96d312-e457b5a2e4d86bd1-01"
        );
    }
    // No incoming context: no trace headers at all, as upstream.
    fetch(client().get(&url)).await;
    assert!(details.requests()[2].headers.get("traceparent").is_none());
    assert!(details.requests()[2].headers.get("x-b3-traceid").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_never_slows_requests() {
    let nowhere = format!("http://127.0.0.1:{}", closed_port().await.unwrap());
    let app = launch(LaunchOptions {
        telemetry: TelemetryArgs {
            otel_exporter_otlp_endpoint: Some(nowhere),
            ..TelemetryArgs::default()
        },
        ..LaunchOptions::default()
    })
    .await;
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let page = get(format!("{}/productpage", app.productpage.url())).await;
        assert!(page.body.contains("Book Reviews"));
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    app.stop().await.unwrap();
}

/// `name{labels} value` lines, parsed; panics on a line that is not valid exposition text.
fn parse_metrics(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                    let labels = labels
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            (name.to_owned(), labels, value)
        })
        .collect()
}

#[tokio::test]
async fn every_service_serves_parseable_metrics_after_traffic() {
    let app = whole_app().await;
    for _ in 0..3 {
        get(format!("{}/productpage", app.productpage.url())).await;
    }
    let services = [
        (&app.productpage, "/productpage", Some("details")),
        (&app.details, "/details/{id}", None),
        (&app.ratings, "/ratings/{id}", None),
        (&app.reviews[1], "/reviews/{id}", Some("ratings")),
    ];
    for (server, route, calls) in services {
        let response = get(format!("{}/metrics", server.url())).await;
        assert!(
            response.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let samples = parse_metrics(&response.body);
        let find = |name: &str, label: (&str, &str)| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && l.get(label.0).map(String::as_str) == Some(label.1))
                .map(|s| s.2)
        };
        assert!(
            find("http_server_requests_total", ("route", route)).is_some_and(|v| v >= 1.0),
            "{route}"
        );
        assert!(
            find(
                "http_server_request_duration_seconds_count",
                ("route", route)
            )
            .is_some_and(|v| v >= 1.0),
            "{route}"
        );
        if let Some(destination) = calls {
            assert!(
                find("http_client_requests_total", ("destination", destination))
                    .is_some_and(|v| v >= 1.0),
                "{route} → {destination}"
            );
        }
        let rss = samples
            .iter()
            .find(|(n, _, _)| n == "process_resident_memory_bytes")
            .map(|s| s.2);
        assert!(rss.is_some_and(|v| v > 1_000_000.0), "{rss:?}");
        assert!(
            samples
                .iter()
                .any(|(n, _, _)| n == "process_cpu_seconds_total")
        );
    }
    let productpage = parse_metrics(&get(format!("{}/metrics", app.productpage.url())).await.body);
    let results = productpage.iter().find(|(n, l, _)| {
        n == "request_result_total"
            && l.get("destination_app").map(String::as_str) == Some("reviews")
    });
    assert_eq!(results.map(|r| r.2), Some(3.0));
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_also_export_over_grpc() {
    let receiver = GrpcReceiver::start().await;
    let app = launch(LaunchOptions {
        telemetry: TelemetryArgs {
            otel_exporter_otlp_endpoint: Some(receiver.endpoint()),
            otel_exporter_otlp_protocol: Some(OtlpProtocol::Grpc),
            ..TelemetryArgs::default()
        },
        ..LaunchOptions::default()
    })
    .await;
    let trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let page = format!("{}/productpage", app.productpage.url());
    fetch(
        client()
            .get(&page)
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01")),
    )
    .await;
    app.stop().await.unwrap();
    let spans = receiver.spans();
    assert!(spans.iter().all(|s| s.trace_id == trace), "{spans:#?}");
    let services: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        services,
        BTreeSet::from(["details", "productpage", "reviews"])
    );
    one(&spans, "details", SERVER, "GET /details/{id}");
}

/// details alone, exporting to `receiver` with `propagators` and `sampler`.
async fn exporting_details(
    receiver: &Receiver,
    propagators: Vec<PropagatorKind>,
    sampler: SamplerKind,
) -> service_runtime::RunningServer {
    let telemetry = TelemetryArgs {
        otel_exporter_otlp_endpoint: Some(receiver.endpoint()),
        otel_propagators: propagators,
        otel_traces_sampler: sampler,
        ..TelemetryArgs::default()
    };
    let config = details::Config {
        tracing: telemetry.trace_config("details", "v1"),
        ..details::Config::v1()
    };
    serve(details::app(config).unwrap()).await
}

/// Both formats arrive, as behind a sidecar whose tracer rewrote only one of them: the
/// server span's parent comes from the configured format, never from the stale other one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_on_reads_exactly_the_configured_format() {
    for (propagators, expected_parent) in [
        (vec![PropagatorKind::B3Multi], "b7ad6b7169203331"),
        (
            vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
            "00f067aa0ba902b7",
        ),
    ] {
        let receiver = Receiver::start().await;
        let details = exporting_details(
            &receiver,
            propagators.clone(),
            SamplerKind::ParentBasedAlwaysOn,
        )
        .await;
        let answer = fetch(
            client()
                .get(format!("{}/details/0", details.url()))
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .header("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736")
                .header("x-b3-spanid", "b7ad6b7169203331")
                .header("x-b3-sampled", "1"),
        )
        .await;
        assert_eq!(answer.status, 200);
        details.stop().await.unwrap();
        let spans = receiver.spans();
        let server = one(&spans, "details", SERVER, "GET /details/{id}");
        assert_eq!(server.parent_span_id, expected_parent, "{propagators:?}");
        assert_eq!(server.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}

/// B3 ids without a sampling flag leave the decision to us: with export on, the root sampler
/// decides (the default records), and the trace continues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b3_parent_without_a_sampling_flag_is_recorded_by_the_default_sampler() {
    let receiver = Receiver::start().await;
    let details = exporting_details(
        &receiver,
        vec![PropagatorKind::B3Multi],
        SamplerKind::ParentBasedAlwaysOn,
    )
    .await;
    fetch(
        client()
            .get(format!("{}/details/0", details.url()))
            .header("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")
            .header("x-b3-spanid", "e457b5a2e4d86bd1"),
    )
    .await;
    details.stop().await.unwrap();
    let spans = receiver.spans();
    let server = one(&spans, "details", SERVER, "GET /details/{id}");
    assert_eq!(server.trace_id, "80f198ee56343ba864fe8b2a57d3eff7");
    assert_eq!(server.parent_span_id, "e457b5a2e4d86bd1");
}

/// OTEL_TRACES_SAMPLER is honoured, and probes and scrapes are never traces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampler_is_honoured_and_probes_are_not_traced() {
    let receiver = Receiver::start().await;
    let details = exporting_details(
        &receiver,
        vec![PropagatorKind::TraceContext],
        SamplerKind::ParentBasedAlwaysOn,
    )
    .await;
    for path in ["/health", "/metrics", "/health", "/details/0"] {
        assert_eq!(get(format!("{}{path}", details.url())).await.status, 200);
    }
    details.stop().await.unwrap();
    let names: Vec<String> = receiver.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["GET /details/{id}"]);

    let receiver = Receiver::start().await;
    let details = exporting_details(
        &receiver,
        vec![PropagatorKind::TraceContext],
        SamplerKind::AlwaysOff,
    )
    .await;
    get(format!("{}/details/0", details.url())).await;
    details.stop().await.unwrap();
    assert!(receiver.spans().is_empty(), "always_off records nothing");
}

/// `bookinfo --port 0` as its own process with `envs`; returns the process and productpage's
/// base URL, read from the banner.
fn spawn_launcher(envs: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["--port", "0"])
        .env_clear()
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bookinfo starts");
    let stdout = child.stdout.take().expect("stdout");
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.trim()
                .strip_prefix("productpage")
                .map(|rest| rest.trim().to_owned())
        })
        .expect("the banner names productpage's address");
    (child, url)
}

/// Span export to `https://` collectors, over both protocols, through the services' own TLS
/// configuration: the collector's certificate is trusted through SSL_CERT_FILE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_export_to_https_collectors_over_both_protocols() {
    let ca = service_runtime::testing::TestCa::new();
    let ca_file = ca.write_pem(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    let ca_file = ca_file.to_string_lossy().into_owned();
    for protocol in ["http/protobuf", "grpc"] {
        let http = Receiver::start().await;
        let grpc = GrpcReceiver::start().await;
        let plain = if protocol == "grpc" {
            grpc.endpoint()
        } else {
            http.endpoint()
        };
        let backend = plain
            .trim_start_matches("http://")
            .parse()
            .expect("a receiver address");
        let front = ca.tls_front(backend).await.unwrap();
        let endpoint = format!("https://localhost:{front}");
        let (mut launcher, productpage) = spawn_launcher(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("SSL_CERT_FILE", &ca_file),
        ]);
        let page = get(format!("{productpage}/productpage")).await;
        assert_eq!(page.status, 200);
        // SIGTERM flushes the buffered spans.
        let stopped = std::process::Command::new("kill")
            .args(["-TERM", &launcher.id().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());
        assert_eq!(launcher.wait().unwrap().code(), Some(0));
        let spans = if protocol == "grpc" {
            grpc.spans()
        } else {
            http.spans()
        };
        let services: BTreeSet<String> = spans.iter().map(|s| s.service.clone()).collect();
        assert!(
            services.contains("productpage") && services.contains("details"),
            "{protocol}: {services:?}"
        );
    }
}

/// productpage in front of stubs, exporting (to a collector that is not there) with
/// `propagators`.
async fn exporting_productpage(
    propagators: Vec<PropagatorKind>,
) -> (Stub, Stub, service_runtime::RunningServer) {
    let details = Stub::start(Answer::json(200, "{}")).await.unwrap();
    let reviews = Stub::start(Answer::json(200, r#"{"reviews":[]}"#))
        .await
        .unwrap();
    let collector = format!("http://127.0.0.1:{}", closed_port().await.unwrap());
    let mut config = config(details.url(), vec![reviews.url()], details.url());
    config.tracing = TelemetryArgs {
        otel_exporter_otlp_endpoint: Some(collector),
        otel_propagators: propagators,
        ..TelemetryArgs::default()
    }
    .trace_config("productpage", "v1");
    let server = productpage(config).await;
    (details, reviews, server)
}

/// With export on, exactly the configured format is written, trace headers of every other
/// format are dropped (they would point the next hop at a stale parent), empty values are
/// absent, and the headers that are not trace context travel on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_on_writes_only_the_configured_format() {
    let (details, _reviews, server) = exporting_productpage(vec![PropagatorKind::B3Multi]).await;
    fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .header("tracestate", "vendor=1")
            .header("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736")
            .header("x-b3-spanid", "b7ad6b7169203331")
            .header("x-b3-sampled", "1")
            .header("x-b3-parentspanid", "")
            .header("sw8", "1-abc")
            .header("x-datadog-trace-id", "1")
            .header("x-ot-span-context", "x")
            .header("x-request-id", "r-1")
            .header("user-agent", ""),
    )
    .await;
    let arrived = &details.requests()[0].headers;
    assert_eq!(arrived["x-b3-traceid"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(
        arrived["x-b3-spanid"], "b7ad6b7169203331",
        "our client span"
    );
    assert_eq!(arrived["x-b3-sampled"], "1");
    assert_eq!(arrived["x-request-id"], "r-1");
    for dropped in [
        "traceparent",
        "tracestate",
        "sw8",
        "x-datadog-trace-id",
        "x-ot-span-context",
        "x-b3-parentspanid",
    ] {
        assert!(arrived.get(dropped).is_none(), "{dropped} was forwarded");
    }
    assert!(
        arrived
            .get("user-agent")
            .is_none_or(|agent| !agent.is_empty()),
        "an empty value counts as absent"
    );
}

/// A B3 parent without a sampling flag: our sampler decides, and the decision travels on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_decision_travels_on_once_made() {
    let (details, _reviews, server) = exporting_productpage(vec![PropagatorKind::B3Multi]).await;
    fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")
            .header("x-b3-spanid", "e457b5a2e4d86bd1"),
    )
    .await;
    let arrived = &details.requests()[0].headers;
    assert_eq!(arrived["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
    assert_eq!(arrived["x-b3-sampled"], "1");
}
