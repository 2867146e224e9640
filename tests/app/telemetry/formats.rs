//! Trace-context formats and sampling: what is read and written with export on, and the
//! decisions that travel.

use super::*;

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
