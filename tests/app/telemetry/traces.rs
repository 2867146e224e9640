//! Spans from every hop into the caller's trace, over HTTP and gRPC, plain and TLS, and what an
//! unreachable collector costs.

use super::*;

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
    // OpenTelemetry's own resource attributes, which backends use to tell SDKs apart.
    for span in spans {
        let [name, language, version] = &span.sdk;
        assert_eq!(
            (name.as_str(), language.as_str()),
            ("opentelemetry", "rust"),
            "{}",
            span.service
        );
        assert!(!version.is_empty(), "{}", span.service);
    }
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

/// Span export to `https://` collectors, over both protocols, through the services' own TLS
/// configuration: the collector's certificate is trusted through SSL_CERT_FILE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_export_to_https_collectors_over_both_protocols() {
    let ca = test_kit::TestCa::new();
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
