//! Per-request observability: a server span (child of the caller's trace context), an access
//! log line carrying `trace_id` and `span_id`, and request metrics; plus `GET /metrics`.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use opentelemetry::{KeyValue, context::FutureExt};

use tracing::Instrument;

use super::CallTelemetry;
use crate::{
    hop,
    metrics::exposition::Format,
    metrics::{Metrics, registry::TraceExemplar},
    server::lifecycle::ReadinessCheck,
    telemetry::TraceConfig,
    telemetry::spans::{self, ServiceTracer},
};

/// Routes that are probes and scrapes, not work: no span, so the shipped probes do not make
/// a hundred traces a minute per pod.
const UNTRACED_ROUTES: [&str; 2] = ["/health", "/metrics"];

/// A service's metrics and tracer, set up once and shared by its router and its clients.
pub struct Observability {
    pub metrics: Metrics,
    pub tracer: ServiceTracer,
    /// What this service's hop reports say about it.
    pub workload: hop::Workload,
    /// Whether a request asking for a hop report gets one (`bookinfo-hop-report: ?1`). The
    /// backends answer; productpage, the mesh's entry point, turns it off: it asks for
    /// reports with MESH_PANEL on, and answers no client from outside.
    pub answers_hop_reports: bool,
}

impl Observability {
    pub fn new(trace: &TraceConfig) -> Self {
        Self {
            metrics: Metrics::new(),
            tracer: ServiceTracer::new(trace),
            workload: trace.workload(),
            answers_hop_reports: true,
        }
    }

    /// What this service's outbound clients report to.
    pub fn calls(&self) -> CallTelemetry {
        CallTelemetry {
            metrics: self.metrics.outbound(),
            tracer: self.tracer.clone(),
        }
    }

    /// Adds `GET /metrics` to `router` and wraps every route in the request middleware.
    pub(crate) fn observe(self, router: Router) -> Router {
        let shared = Arc::new(self);
        let scrape = shared.clone();
        router
            .route(
                "/metrics",
                get(move |headers: axum::http::HeaderMap| async move {
                    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
                    let format = Format::negotiate(accept);
                    (
                        [(header::CONTENT_TYPE, format.content_type())],
                        scrape.metrics.render(format),
                    )
                }),
            )
            .layer(middleware::from_fn_with_state(shared, observe_request))
    }
}

/// The standard methods; any other token a client sends shares one metric label, since each
/// distinct label would add a counter and a histogram for good.
static METRIC_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

fn metric_method(method: &Method) -> &'static str {
    METRIC_METHODS
        .iter()
        .find(|known| *known == method)
        .map_or("_OTHER", Method::as_str)
}

async fn observe_request(
    State(shared): State<Arc<Observability>>,
    request: Request,
    next: Next,
) -> Response {
    if request.extensions().get::<ReadinessCheck>().is_some() {
        return next.run(request).await;
    }
    let started = Instant::now();
    let _active = shared.metrics.start_request();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    if UNTRACED_ROUTES.contains(&route.as_str()) {
        let response = next.run(request).await;
        let status = response.status().as_u16();
        shared.metrics.record_request(
            metric_method(&method),
            &route,
            status,
            started.elapsed(),
            None,
        );
        return response;
    }
    let context = shared.tracer.start_server(request.headers(), || {
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.to_string()),
            KeyValue::new("http.route", route.clone()),
            KeyValue::new("url.path", request.uri().path().to_owned()),
            KeyValue::new("url.scheme", "http"),
        ];
        if let Some(agent) = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
        }
        (format!("{method} {route}"), attributes)
    });
    let (trace_id, span_id) = spans::log_ids(&context);
    // Every line logged while serving the request carries its ids.
    let log_span = tracing::info_span!("request", %trace_id, %span_id);
    let exemplar = shared
        .tracer
        .exported_ids(request.headers(), &context)
        .map(|(trace_id, span_id)| TraceExemplar { trace_id, span_id });
    let hop_report = (shared.answers_hop_reports && hop::requested(request.headers()))
        .then(|| hop::Inbound::read(request.headers(), hop::source_of(request.extensions())));
    let handling = next
        .run(request)
        .with_context(context.clone())
        .instrument(log_span.clone());
    let response = match hop_report {
        None => handling.await,
        Some(inbound) => hop::answer(&shared.workload, inbound, started, handling).await,
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    spans::finish(&context, Some(status), None);
    // The access line belongs to the request too (no await follows), and takes `trace_id`
    // and `span_id` from it.
    let _in_request = log_span.enter();
    // One line per request at DEBUG (RUST_LOG=access=debug), as podinfo does: at INFO the
    // formatting alone cost about a tenth of a page view's instructions.
    tracing::debug!(
        target: "access",
        method = method.as_str(),
        route,
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1e3,
        "served"
    );
    shared
        .metrics
        .record_request(metric_method(&method), &route, status, elapsed, exemplar);
    response
}
