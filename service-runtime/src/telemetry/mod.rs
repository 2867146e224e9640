//! What a service reports about itself: the `OTEL_*` settings ([`settings`]), spans and their
//! export ([`spans`], [`sampling`], [`otlp`]), logs ([`logging`]), and the per-request
//! observation that ties a request's span, log line and metrics together ([`observe`]).

pub mod logging;
pub mod observe;
pub mod otlp;
pub mod sampling;
pub mod settings;
pub mod spans;

pub use settings::{OtlpProtocol, SamplerKind, TelemetryArgs, TraceConfig};
