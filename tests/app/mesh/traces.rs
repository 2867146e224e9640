//! One complete trace tree per page behind the sidecars, for both of Istio's tracers, with the
//! apps' own span export off and on, and with and without a client `traceparent`.

use std::collections::BTreeSet;

use super::{Mesh, MeshOptions, TracerKind, envoy::operation};

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
use crate::support::{client, fetch, otlp::ReceivedSpan};

/// Sidecar spans of one page: the gateway, productpage's inbound and its two outbound calls,
/// details' and reviews' inbound, reviews' call to ratings and ratings' inbound.
const SIDECAR_SPANS: usize = 8;
/// The apps' own: productpage's server, two client and rendering spans, details', reviews'
/// server and client spans, and ratings'.
const APP_SPANS: usize = 8;

const CLIENT_TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

async fn one_page_trace(tracer: TracerKind, export: bool, client_traceparent: bool) {
    let test = format!("trace tree {tracer:?} export={export} traceparent={client_traceparent}");
    let Some(mesh) = Mesh::start(
        &test,
        MeshOptions {
            tracer,
            export,
            // Every page then goes through ratings too.
            virtual_services: vec![("reviews", "virtual-service-reviews-v3.yaml")],
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    let mut request = client().get(mesh.url("/productpage"));
    if client_traceparent {
        request = request.header("traceparent", CLIENT_TRACEPARENT);
    }
    let page = fetch(request).await;
    assert_eq!(page.status, 200, "{test}");
    assert!(page.body.contains("text-red-500"), "{test}: served by v3");
    let mut spans = mesh.wait_for_sidecar_spans(SIDECAR_SPANS).await;
    // Stopping the apps flushes their own spans.
    spans.extend(mesh.stop().await);
    check_tree(&test, &spans, export);
    if client_traceparent && tracer == TracerKind::OpenTelemetry {
        // The W3C gateway continues the client's trace; Zipkin's reads only B3.
        assert_eq!(
            spans[0].trace_id, "0af7651916cd43dd8448eb211c80319c",
            "{test}"
        );
        let gateway = spans
            .iter()
            .find(|s| s.service.starts_with("istio-ingressgateway"))
            .unwrap();
        assert_eq!(gateway.parent_span_id, "b7ad6b7169203331", "{test}");
    }
}

fn check_tree(test: &str, spans: &[ReceivedSpan], export: bool) {
    let expected = SIDECAR_SPANS + if export { APP_SPANS } else { 0 };
    assert_eq!(spans.len(), expected, "{test}: {spans:#?}");
    let traces: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    assert_eq!(
        traces.len(),
        1,
        "{test}: one trace per page, got {traces:?}"
    );
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let roots: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| !ids.contains(s.parent_span_id.as_str()))
        .collect();
    assert_eq!(
        roots.len(),
        1,
        "{test}: every parent present but the gateway's: {roots:#?}"
    );
    let gateway = roots[0];
    assert!(
        gateway.service.starts_with("istio-ingressgateway"),
        "{test}: the root is the gateway's span: {roots:#?}"
    );
    // Every edge, not only every parent: a span hung off a stale parent that is still in the
    // trace (defect 1) shows here.
    let one = |service: &str, kind: i32, name: &str| -> &ReceivedSpan {
        let found: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|s| s.service == service && s.kind == kind && s.name == name)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{test}: one {service} {name} span in {spans:#?}"
        );
        found[0]
    };
    let sidecar =
        |app: &str, kind: i32, host: &str| one(&format!("{app}.istio-app"), kind, &operation(host));
    let child_of = |child: &ReceivedSpan, parent: &ReceivedSpan| {
        assert_eq!(
            child.parent_span_id, parent.span_id,
            "{test}: {} {} should be a child of {} {}",
            child.service, child.name, parent.service, parent.name
        );
    };
    child_of(sidecar("productpage", SERVER, "productpage"), gateway);
    for (caller, callee) in [
        ("productpage", "details"),
        ("productpage", "reviews"),
        ("reviews", "ratings"),
    ] {
        let inbound = sidecar(caller, SERVER, caller);
        let outbound = sidecar(caller, CLIENT, callee);
        child_of(sidecar(callee, SERVER, callee), outbound);
        if export {
            let server = spans
                .iter()
                .find(|s| s.service == caller && s.kind == SERVER)
                .unwrap_or_else(|| panic!("{test}: {caller}'s own server span"));
            let client = one(caller, CLIENT, &format!("GET {callee}"));
            child_of(server, inbound);
            child_of(client, server);
            child_of(outbound, client);
        } else {
            child_of(outbound, inbound);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_tree_per_page_with_the_zipkin_tracer() {
    for export in [false, true] {
        for traceparent in [false, true] {
            one_page_trace(TracerKind::Zipkin, export, traceparent).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_tree_per_page_with_the_opentelemetry_tracer() {
    for export in [false, true] {
        for traceparent in [false, true] {
            one_page_trace(TracerKind::OpenTelemetry, export, traceparent).await;
        }
    }
}
