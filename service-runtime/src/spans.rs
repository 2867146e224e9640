//! OpenTelemetry spans: one tracer provider per service, so that the whole application in one
//! process still reports four services, each with its own `service.name` resource. Spans are
//! exported over OTLP only when an endpoint is configured; otherwise they still carry ids
//! (for log correlation) but are never recorded.

use std::{borrow::Cow, fmt, sync::Arc, time::Duration};

use opentelemetry::{
    Context, KeyValue,
    trace::{
        SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
        Tracer, TracerProvider,
    },
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    Resource,
    trace::{Sampler, SdkTracer, SdkTracerProvider},
};

use clap::{Args, ValueEnum};

use crate::{config::upstream_switch, propagation::TraceContext};

/// How long an export may take; a slow or unreachable collector never holds requests (the
/// batch processor exports on its own thread), only shutdown, and only this long.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OtlpProtocol {
    #[value(name = "grpc")]
    Grpc,
    #[default]
    #[value(name = "http/protobuf")]
    HttpProtobuf,
}

/// The standard OpenTelemetry settings a service reads, as flags and `OTEL_*` variables.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Telemetry (OpenTelemetry)")]
pub struct TelemetryArgs {
    /// OTLP base URL; setting it turns span export on. `/v1/traces` is appended for
    /// http/protobuf (`http://jaeger:4318`); gRPC uses it as is (`http://jaeger:4317`).
    #[arg(long, env, hide_env_values = true, value_parser = otlp_url)]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// The full OTLP traces URL, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT.
    #[arg(long, env, hide_env_values = true, value_parser = otlp_url)]
    pub otel_exporter_otlp_traces_endpoint: Option<String>,
    /// OTLP transport [default: http/protobuf].
    #[arg(long, env, value_enum)]
    pub otel_exporter_otlp_protocol: Option<OtlpProtocol>,
    /// OTLP transport for traces; wins over OTEL_EXPORTER_OTLP_PROTOCOL.
    #[arg(long, env, value_enum)]
    pub otel_exporter_otlp_traces_protocol: Option<OtlpProtocol>,
    /// `service.name` of the spans [default: the service's own name]. Ignored by the
    /// whole-application launcher, whose services each report under their own name.
    #[arg(long, env)]
    pub otel_service_name: Option<String>,
    /// `true` turns span export off whatever else is set.
    #[arg(long, env, value_parser = upstream_switch, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub otel_sdk_disabled: bool,
    /// The pod name (`k8s.pod.name`; reviews also answers it as `podname`); Kubernetes sets
    /// HOSTNAME to it.
    #[arg(long = "pod-name", env = "HOSTNAME", value_name = "HOSTNAME")]
    pub pod_name: Option<String>,
}

impl TelemetryArgs {
    /// Where and as whom `service` (at `version`) exports its spans.
    pub fn trace_config(&self, service: &str, version: &str) -> TraceConfig {
        let protocol = self
            .otel_exporter_otlp_traces_protocol
            .or(self.otel_exporter_otlp_protocol)
            .unwrap_or_default();
        let endpoint = if self.otel_sdk_disabled {
            None
        } else if let Some(traces) = &self.otel_exporter_otlp_traces_endpoint {
            Some(traces.clone())
        } else {
            self.otel_exporter_otlp_endpoint
                .as_deref()
                .map(|base| match protocol {
                    OtlpProtocol::Grpc => base.to_owned(),
                    OtlpProtocol::HttpProtobuf => {
                        format!("{}/v1/traces", base.trim_end_matches('/'))
                    }
                })
        };
        TraceConfig {
            service_name: self
                .otel_service_name
                .clone()
                .unwrap_or_else(|| service.to_owned()),
            service_version: version.to_owned(),
            pod_name: self.pod_name.clone(),
            endpoint,
            protocol,
        }
    }
}

/// Where and as whom spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    pub service_name: String,
    /// `service.version`: v1, v2, v3.
    pub service_version: String,
    /// `k8s.pod.name`.
    pub pod_name: Option<String>,
    /// The full OTLP traces endpoint; `None` turns export off.
    pub endpoint: Option<String>,
    pub protocol: OtlpProtocol,
}

impl TraceConfig {
    /// No export (tests, and services given no telemetry settings).
    pub fn disabled(service: &str) -> Self {
        TelemetryArgs::default().trace_config(service, "v1")
    }
}

fn otlp_url(url: &str) -> Result<String, String> {
    match url.parse::<axum::http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {
            Ok(url.to_owned())
        }
        _ => Err("expected an http:// or https:// URL".to_owned()),
    }
}

/// A service's tracer; cheap to clone.
#[derive(Clone)]
pub struct ServiceTracer {
    inner: Arc<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    exporting: bool,
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
    /// because tracing must never stop a service from serving.
    pub fn new(config: &TraceConfig) -> Self {
        let mut resource = vec![KeyValue::new(
            "service.version",
            config.service_version.clone(),
        )];
        if let Some(pod) = &config.pod_name {
            resource.push(KeyValue::new("k8s.pod.name", pod.clone()));
        }
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attributes(resource)
            .build();
        let builder = SdkTracerProvider::builder().with_resource(resource);
        let exporter = config.endpoint.as_deref().and_then(|endpoint| {
            build_exporter(endpoint, config.protocol)
                .inspect_err(|err| tracing::error!(%err, endpoint, "span export stays off"))
                .ok()
        });
        let exporting = exporter.is_some();
        let provider = match exporter {
            // Sampling follows the caller's decision; a new trace is sampled.
            Some(exporter) => builder
                .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
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

    /// Exports what is buffered and stops exporting. Blocks: call it off the async workers.
    pub fn shutdown(&self) {
        if self.inner.exporting
            && let Err(err) = self.inner.provider.shutdown()
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

    /// A server span whose parent is the caller's context, if the request carried one.
    pub fn start_server(
        &self,
        caller: Option<TraceContext>,
        describe: impl FnOnce() -> (String, Vec<KeyValue>),
    ) -> Context {
        let parent = match caller {
            Some(caller) => Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from_bytes(caller.trace_id.to_be_bytes()),
                SpanId::from_bytes(caller.span_id.to_be_bytes()),
                if caller.sampled {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::default()
                },
                true,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        self.start(SpanKind::Server, &parent, describe)
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
    let ids = wire_context(context);
    (
        HexId {
            value: ids.map(|c| c.trace_id),
            digits: 32,
        },
        HexId {
            value: ids.map(|c| u128::from(c.span_id)),
            digits: 16,
        },
    )
}

/// The trace context of the span in `context`, as it goes on the wire.
pub fn wire_context(context: &Context) -> Option<TraceContext> {
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| TraceContext {
        trace_id: u128::from_be_bytes(span_context.trace_id().to_bytes()),
        span_id: u64::from_be_bytes(span_context.span_id().to_bytes()),
        sampled: span_context.is_sampled(),
    })
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

fn build_exporter(
    endpoint: &str,
    protocol: OtlpProtocol,
) -> Result<opentelemetry_otlp::SpanExporter, opentelemetry_otlp::ExporterBuildError> {
    let builder = opentelemetry_otlp::SpanExporter::builder();
    match protocol {
        OtlpProtocol::Grpc => builder
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
        OtlpProtocol::HttpProtobuf => builder
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry(pairs: &[(&str, &str)]) -> TelemetryArgs {
        let mut args = TelemetryArgs::default();
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "endpoint" => args.otel_exporter_otlp_endpoint = value,
                "traces_endpoint" => args.otel_exporter_otlp_traces_endpoint = value,
                "service_name" => args.otel_service_name = value,
                "pod_name" => args.pod_name = value,
                other => panic!("no setting {other}"),
            }
        }
        args
    }

    #[test]
    fn endpoints_follow_the_otlp_spec() {
        let config =
            telemetry(&[("endpoint", "http://jaeger:4318/")]).trace_config("details", "v1");
        assert_eq!(
            config.endpoint.as_deref(),
            Some("http://jaeger:4318/v1/traces")
        );
        assert_eq!(config.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(config.service_name, "details");

        let mut grpc = telemetry(&[
            ("endpoint", "http://jaeger:4317"),
            ("service_name", "my-details"),
            ("pod_name", "details-v1-abc"),
        ]);
        grpc.otel_exporter_otlp_protocol = Some(OtlpProtocol::Grpc);
        let config = grpc.trace_config("details", "v1");
        assert_eq!(config.endpoint.as_deref(), Some("http://jaeger:4317"));
        assert_eq!(config.protocol, OtlpProtocol::Grpc);
        assert_eq!(config.service_name, "my-details");
        assert_eq!(config.pod_name.as_deref(), Some("details-v1-abc"));

        let traces = telemetry(&[
            ("endpoint", "http://ignored:4318"),
            ("traces_endpoint", "http://collector:4318/custom"),
        ]);
        assert_eq!(
            traces.trace_config("x", "v1").endpoint.as_deref(),
            Some("http://collector:4318/custom")
        );
        assert_eq!(TraceConfig::disabled("x").endpoint, None);

        let mut disabled = telemetry(&[("endpoint", "http://jaeger:4318")]);
        disabled.otel_sdk_disabled = true;
        assert_eq!(disabled.trace_config("x", "v1").endpoint, None);
    }

    #[test]
    fn otlp_urls_need_a_scheme_and_host() {
        assert!(otlp_url("http://jaeger:4317").is_ok());
        assert!(otlp_url("https://collector.example").is_ok());
        assert!(otlp_url("jaeger:4317").is_err());
    }

    #[test]
    fn unexported_spans_still_have_ids_and_keep_the_callers_trace() {
        let tracer = ServiceTracer::disabled("test");
        let caller = TraceContext {
            trace_id: 42,
            span_id: 7,
            sampled: true,
        };
        let server = tracer.start_server(Some(caller), || ("GET /x".into(), vec![]));
        let ids = wire_context(&server).unwrap();
        assert_eq!(ids.trace_id, 42);
        assert_ne!(ids.span_id, 7);
        assert!(!tracer.exporting());
        let (trace_id, span_id) = log_ids(&server);
        assert_eq!(trace_id.to_string(), "0000000000000000000000000000002a");
        assert_eq!(span_id.to_string().len(), 16);
        assert_eq!(log_ids(&Context::new()).0.to_string(), "");
    }
}
