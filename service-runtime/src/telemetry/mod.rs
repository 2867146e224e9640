//! What a service reports about itself: the `OTEL_*` settings ([`settings`]), spans and their
//! export ([`spans`], [`sampling`], [`otlp`]), logs ([`logging`]), and the per-request
//! observation that ties a request's span, log line and metrics together ([`observe`]).

pub mod export_warning;
pub mod logging;
pub mod observe;
pub mod otlp;
pub mod sampling;
pub mod settings;
pub mod spans;

pub use settings::{OtlpProtocol, SamplerKind, TelemetryArgs, TraceConfig};

/// What a client reports each attempt to: the service's outbound-call metrics and its tracer
/// ([`observe::Observability::calls`] gives a service's own). Handed to the client instead of
/// the whole service, so calls know nothing of the request middleware.
#[derive(Clone)]
pub struct CallTelemetry {
    /// `http_client_*` series, by destination and status.
    pub metrics: crate::metrics::OutboundMetrics,
    /// The client span of each attempt.
    pub tracer: spans::ServiceTracer,
}
