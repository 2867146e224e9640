//! Per-request observability: a server span (child of the caller's trace context), a log
//! line carrying `trace_id` and `span_id`, and request metrics; plus `GET /metrics`.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use opentelemetry::{KeyValue, context::FutureExt};
use tracing::Instrument;

use crate::{
    App, Metrics,
    metrics::PROMETHEUS_TEXT,
    propagation::TraceContext,
    spans::{self, TraceConfig, Tracing},
};

/// A service's metrics and tracer, set up once and shared by its router and its client.
pub struct Observability {
    pub metrics: Metrics,
    pub tracing: Tracing,
}

struct Shared {
    metrics: Metrics,
    tracing: Tracing,
}

impl Observability {
    pub fn new(trace: &TraceConfig) -> Self {
        Self {
            metrics: Metrics::new(),
            tracing: Tracing::new(trace),
        }
    }

    /// Adds `GET /metrics` to `router` and wraps every route in the request middleware.
    pub fn into_app(self, router: Router) -> App {
        let tracing = self.tracing.clone();
        let shared = Arc::new(Shared {
            metrics: self.metrics,
            tracing: self.tracing,
        });
        let scrape = shared.clone();
        let router = router
            .route(
                "/metrics",
                get(move || async move {
                    (
                        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
                        scrape.metrics.render(),
                    )
                }),
            )
            .layer(middleware::from_fn_with_state(shared, observe_request));
        App::new(router, Some(tracing))
    }
}

async fn observe_request(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.clone()),
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
    let caller = TraceContext::extract(request.headers());
    let context = shared
        .tracing
        .start_server(format!("{method} {route}"), caller, attributes);
    let ids = spans::wire_context(&context);
    let log_span = tracing::info_span!(
        "request",
        %method,
        %route,
        trace_id = %ids.map(|c| format!("{:032x}", c.trace_id)).unwrap_or_default(),
        span_id = %ids.map(|c| format!("{:016x}", c.span_id)).unwrap_or_default(),
    );
    let response = next
        .run(request)
        .with_context(context.clone())
        .instrument(log_span.clone())
        .await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    spans::finish(&context, Some(status), None);
    log_span.in_scope(|| {
        tracing::info!(target: "access", status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "served");
    });
    shared
        .metrics
        .record_request(&method, &route, status, elapsed);
    response
}
