//! OpenTelemetry spans: one tracer provider per service, so that the whole application in one
//! process still reports four services, each with its own `service.name` resource (the SDK's
//! global provider, and with it a tracing-opentelemetry layer, would give them one). Spans are
//! exported over OTLP only when an endpoint is configured; otherwise they still carry ids
//! (for log correlation) but are never recorded.

use std::{borrow::Cow, fmt, sync::Arc};

use axum::http::HeaderMap;
use opentelemetry::{
    Context, KeyValue,
    trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider},
};
use opentelemetry_sdk::{
    Resource,
    resource::TelemetryResourceDetector,
    trace::{Sampler, SdkTracer, SdkTracerProvider},
};

use crate::{
    propagation::Propagation, telemetry::TraceConfig, telemetry::export_warning::ReportedExporter,
    telemetry::otlp, telemetry::sampling::ServiceSampler,
};

/// A service's tracer; cheap to clone.
#[derive(Clone)]
pub struct ServiceTracer {
    inner: Arc<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    exporting: bool,
    propagation: Propagation,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.exporting {
            let _ = self.provider.shutdown();
        }
    }
}

impl std::fmt::Debug for ServiceTracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTracer")
            .field("exporting", &self.inner.exporting)
            .finish()
    }
}

impl ServiceTracer {
    /// Builds the provider; an exporter that cannot be built is logged and export stays off,
    /// because tracing must never stop a service from serving. Call it inside the service's
    /// tokio runtime: exports run on it.
    pub fn new(config: &TraceConfig) -> Self {
        // OTEL_SERVICE_NAME wins over a service.name among the resource attributes.
        // Resource::builder() detects telemetry.sdk.name, .language and .version, and reads
        // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME itself; those two are ours to parse
        // (as settings with flags), so start empty and add the SDK's own attributes.
        let resource = Resource::builder_empty()
            .with_detector(Box::new(TelemetryResourceDetector))
            .with_attributes(
                config
                    .resource
                    .iter()
                    .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
            )
            .with_service_name(config.service_name.clone())
            .build();
        let builder = SdkTracerProvider::builder().with_resource(resource);
        let exporter = config.endpoint.as_deref().and_then(|endpoint| {
            otlp::exporter(endpoint, config)
                .inspect_err(|err| tracing::error!(%err, endpoint, "span export stays off"))
                .ok()
                .map(|exporter| {
                    tracing::info!(
                        service = %config.service_name,
                        endpoint,
                        protocol = ?config.protocol,
                        "spans are exported over OTLP"
                    );
                    ReportedExporter::new(exporter, &config.service_name, endpoint)
                })
        });
        let exporting = exporter.is_some();
        let provider = match exporter {
            Some(exporter) => builder
                .with_sampler(ServiceSampler::new(config.sampler, config.sampler_ratio))
                .with_batch_exporter(exporter)
                .build(),
            // Ids only: nothing is recorded, so spans cost next to nothing.
            None => builder.with_sampler(Sampler::AlwaysOff).build(),
        };
        let tracer = provider.tracer("bookinfo");
        Self {
            inner: Arc::new(Inner {
                provider,
                tracer,
                exporting,
                propagation: Propagation::new(&config.propagators, exporting),
            }),
        }
    }

    pub fn disabled(service: &str) -> Self {
        Self::new(&TraceConfig::disabled(service))
    }

    /// Whether spans leave the process; without export, calls forward the caller's context.
    pub fn exporting(&self) -> bool {
        self.inner.exporting
    }

    /// Exports what is buffered, for at most `timeout`, and stops exporting. Blocks: call it
    /// off the async workers.
    pub fn shutdown(&self, timeout: std::time::Duration) {
        if self.inner.exporting
            && let Err(err) = self.inner.provider.shutdown_with_timeout(timeout)
        {
            tracing::debug!(%err, "span exporter shutdown");
        }
    }

    /// Starts a span as a child of `parent` and returns the context holding it. `describe`
    /// gives the name and attributes; it runs only when spans are exported, since an
    /// unexported span needs nothing but its ids.
    pub fn start(
        &self,
        kind: SpanKind,
        parent: &Context,
        describe: impl FnOnce() -> (String, Vec<KeyValue>),
    ) -> Context {
        let (name, attributes): (Cow<'static, str>, _) = if self.inner.exporting {
            let (name, attributes) = describe();
            (name.into(), attributes)
        } else {
            ("unexported".into(), Vec::new())
        };
        let span = self
            .inner
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&self.inner.tracer, parent);
        parent.with_span(span)
    }

    /// A server span whose parent is the caller's context, read from `headers` (the one
    /// place a service reads incoming trace context).
    pub fn start_server(
        &self,
        headers: &HeaderMap,
        describe: impl FnOnce() -> (String, Vec<KeyValue>),
    ) -> Context {
        let parent = self.inner.propagation.extract(headers);
        self.start(SpanKind::Server, &parent, describe)
    }

    /// Whether the trace of a request received with `headers` and served in `context` is
    /// sampled, so that some of its spans reach a tracing backend: the incoming W3C or B3
    /// sampled flag (the sidecars export by it even when this service does not), or this
    /// service's own span (export on, and its sampler said yes).
    pub fn sampled(&self, headers: &HeaderMap, context: &Context) -> bool {
        self.exported_ids(headers, context).is_some()
    }

    /// (trace id, span id), as lowercase hex, of an exported span of this request, for a
    /// metric exemplar: this service's own server span when it is sampled, else the caller's
    /// span when the incoming context is sampled (the sidecar exported it); `None` when the
    /// trace is not sampled, so no span could be found by those ids.
    pub fn exported_ids(&self, headers: &HeaderMap, context: &Context) -> Option<(String, String)> {
        let hex = |ids: &opentelemetry::trace::SpanContext| {
            (ids.is_valid() && ids.is_sampled())
                .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
        };
        hex(context.span().span_context()).or_else(|| {
            let incoming = self.inner.propagation.extract(headers);
            hex(incoming.span().span_context())
        })
    }

    /// Adds the trace headers of a call made in `context` (the client span's) to `headers`.
    pub fn inject(&self, context: &Context, headers: &mut HeaderMap) {
        self.inner.propagation.outgoing(context, headers);
    }
}

/// Lowercase hex of a trace or span id for log lines, without allocating; empty for none.
#[derive(Debug, Clone, Copy)]
pub struct HexId {
    value: Option<u128>,
    digits: usize,
}

impl fmt::Display for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Some(value) => write!(f, "{value:0width$x}", width = self.digits),
            None => Ok(()),
        }
    }
}

/// (trace_id, span_id) of the span in `context`, for log lines.
pub fn log_ids(context: &Context) -> (HexId, HexId) {
    let span = context.span();
    let ids = span.span_context();
    let valid = ids.is_valid();
    (
        HexId {
            value: valid.then(|| u128::from_be_bytes(ids.trace_id().to_bytes())),
            digits: 32,
        },
        HexId {
            value: valid.then(|| u128::from(u64::from_be_bytes(ids.span_id().to_bytes()))),
            digits: 16,
        },
    )
}

/// Sets the HTTP status on the span in `context`, marks 5xx (or a failed call) as an error,
/// and ends it.
pub fn finish(context: &Context, status: Option<u16>, error: Option<String>) {
    let span = context.span();
    if let Some(status) = status {
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
    }
    match (status, error) {
        (_, Some(error)) => span.set_status(Status::error(error)),
        (Some(status), None) if status >= 500 => {
            span.set_status(Status::error(format!("HTTP {status}")))
        }
        _ => {}
    }
    span.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexported_spans_still_have_ids_and_keep_the_callers_trace() {
        let tracer = ServiceTracer::disabled("test");
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-0000000000000000000000000000002a-0000000000000007-01"
                .parse()
                .unwrap(),
        );
        let server = tracer.start_server(&headers, || ("GET /x".into(), vec![]));
        let (trace_id, span_id) = log_ids(&server);
        assert_eq!(trace_id.to_string(), "0000000000000000000000000000002a");
        assert_eq!(span_id.to_string().len(), 16);
        assert_ne!(span_id.to_string(), "0000000000000007");
        assert!(!tracer.exporting());
        assert_eq!(log_ids(&Context::new()).0.to_string(), "");
    }
}
