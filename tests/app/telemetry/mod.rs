//! Distributed tracing across the real services: spans exported over OTLP form one tree per
//! request under the caller's trace; without export the caller's context passes unchanged.

mod dashboards;
mod exemplars;
mod formats;
mod metrics;
mod traces;

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
