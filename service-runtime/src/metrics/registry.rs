//! A service's registry: requests served, outbound calls, overload refusals, and the process
//! itself. Each service owns one [`Metrics`]; `crate::telemetry::observe` serves it on
//! `/metrics` and feeds it per request.

use std::time::Duration;

use crate::{
    metrics::exposition::{Format, classic_text},
    metrics::process::ProcessCollector,
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        exemplar::HistogramWithExemplars,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The exemplar of a request-duration observation: OpenTelemetry's Prometheus compatibility
/// specification names its labels `trace_id` and `span_id`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TraceExemplar {
    pub trace_id: String,
    pub span_id: String,
}

type ExemplarHistogramFamily<L> =
    Family<L, HistogramWithExemplars<TraceExemplar>, fn() -> HistogramWithExemplars<TraceExemplar>>;

fn latency_histogram_with_exemplars() -> HistogramWithExemplars<TraceExemplar> {
    HistogramWithExemplars::new(latency_buckets())
}

/// 0.25 ms .. ~8 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_25, 2.0, 16)
}

fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    destination: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OverloadLabels {
    reason: &'static str,
}

/// `http_server_requests_total` and `http_server_request_duration_seconds`, shared by the
/// router's middleware and the server (which answers `/ready` itself).
#[derive(Clone, Debug)]
struct RequestMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: ExemplarHistogramFamily<RouteLabels>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: ExemplarHistogramFamily::new_with_constructor(
                latency_histogram_with_exemplars,
            ),
        }
    }
}

impl RequestMetrics {
    fn record(
        &self,
        method: &str,
        route: &str,
        status: u16,
        elapsed: Duration,
        exemplar: Option<TraceExemplar>,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64(), exemplar, None);
    }
}

/// What the server itself counts, below the router: requests answered 503 by its bounds
/// without being handled, by reason, and the connections open now; cloned into the server.
/// Unregistered (counting nowhere) unless it came from [`Metrics`].
#[derive(Clone, Debug, Default)]
pub struct ServerMetrics {
    rejections: Family<OverloadLabels, Counter>,
    open_connections: Gauge,
    requests: RequestMetrics,
}

/// One connection counted in `http_server_open_connections` until dropped.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl ServerMetrics {
    /// Counts one request the server answered itself (`GET /ready`), as the router's
    /// middleware counts the others.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests.record(method, route, status, elapsed, None);
    }

    /// Counts a connection as open until the returned guard is dropped.
    pub fn open_connection(&self) -> OpenConnection {
        self.open_connections.inc();
        OpenConnection(self.open_connections.clone())
    }

    /// The count of refusals for `reason` (the server's `Overload::label`), made at 0 if new:
    /// the server makes each reason's series when it starts, since a rate over a series that
    /// appears only at the first refusal misses it.
    pub fn rejections(&self, reason: &'static str) -> Counter {
        self.rejections
            .get_or_create(&OverloadLabels { reason })
            .clone()
    }
}

/// Outbound-call metrics, cloned into every [`crate::HttpClient`].
#[derive(Clone)]
pub struct OutboundMetrics {
    calls: Family<OutboundLabels, Counter>,
    duration: HistogramFamily<OutboundLabels>,
}

impl OutboundMetrics {
    /// One attempt to `destination` that ended with `status` (a code, `timeout` or `error`).
    pub fn record(&self, destination: &str, status: &str, elapsed: Duration) {
        let labels = OutboundLabels {
            destination: destination.to_owned(),
            status: status.to_owned(),
        };
        self.calls.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }
}

pub struct Metrics {
    registry: Registry,
    requests: RequestMetrics,
    active_requests: Gauge,
    outbound: OutboundMetrics,
    overload: ServerMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = RequestMetrics::default();
        let outbound = OutboundMetrics {
            calls: Family::default(),
            duration: HistogramFamily::new_with_constructor(latency_histogram),
        };
        registry.register(
            "http_server_requests",
            "HTTP requests served, by method, route template and status",
            requests.requests.clone(),
        );
        registry.register(
            "http_server_request_duration_seconds",
            "Time to serve an HTTP request, by method and route template",
            requests.duration.clone(),
        );
        registry.register(
            "http_client_requests",
            "Outbound HTTP attempts, by destination and status",
            outbound.calls.clone(),
        );
        registry.register(
            "http_client_request_duration_seconds",
            "Time of outbound HTTP attempts, by destination and status",
            outbound.duration.clone(),
        );
        let active_requests = Gauge::default();
        registry.register(
            "http_server_active_requests",
            "HTTP requests being served now",
            active_requests.clone(),
        );
        let overload = ServerMetrics {
            requests: requests.clone(),
            ..ServerMetrics::default()
        };
        registry.register(
            "http_server_overload_rejections",
            "Requests answered 503 without being handled: MAX_CONCURRENT_REQUESTS in progress \
             for all of REQUEST_QUEUE_TIMEOUT_MS (reason=concurrency), or a connection past \
             MAX_CONNECTIONS asking for more than a probe (reason=connections)",
            overload.rejections.clone(),
        );
        registry.register(
            "http_server_open_connections",
            "Connections open now, HTTP/1.1 and HTTP/2 alike, from accept to close (at most \
             MAX_CONNECTIONS plus the room kept for probes)",
            overload.open_connections.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Self {
            registry,
            requests,
            active_requests,
            outbound,
            overload,
        }
    }

    /// For a service's own metrics (productpage's `request_result`).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn outbound(&self) -> OutboundMetrics {
        self.outbound.clone()
    }

    pub fn overload(&self) -> ServerMetrics {
        self.overload.clone()
    }

    /// Counts a request in progress until the returned guard is dropped (also when the
    /// client goes away and the handler is cancelled).
    pub fn start_request(&self) -> ActiveRequest {
        self.active_requests.inc();
        ActiveRequest(self.active_requests.clone())
    }

    /// Counts one served request; `exemplar`, the ids of an exported span of its trace,
    /// becomes the OpenMetrics exemplar of its duration bucket (the classic text format
    /// carries none).
    pub fn record_request(
        &self,
        method: &str,
        route: &str,
        status: u16,
        elapsed: Duration,
        exemplar: Option<TraceExemplar>,
    ) {
        self.requests
            .record(method, route, status, elapsed, exemplar);
    }

    /// Every metric, in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut out = String::new();
        if let Err(err) = encode(&mut out, &self.registry) {
            tracing::error!(%err, "could not encode metrics");
        }
        match format {
            Format::OpenMetrics => out,
            Format::Classic => classic_text(&out),
        }
    }
}

/// One request counted in `http_server_active_requests`.
#[derive(Debug)]
pub struct ActiveRequest(Gauge);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.dec();
    }
}
