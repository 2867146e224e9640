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

use crate::{ConfigError, Env, propagation::TraceContext};

/// How long an export may take; a slow or unreachable collector never holds requests (the
/// batch processor exports on its own thread), only shutdown, and only this long.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

/// Where and as whom spans are exported, from the standard OTEL_* variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    pub service_name: String,
    /// `service.version`: v1, v2, v3.
    pub service_version: String,
    /// `k8s.pod.name`, from `HOSTNAME`.
    pub pod_name: Option<String>,
    /// The full OTLP traces endpoint; `None` turns export off.
    pub endpoint: Option<String>,
    pub protocol: OtlpProtocol,
}

impl TraceConfig {
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (with
    /// `/v1/traces` appended for HTTP), `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (`grpc` or
    /// `http/protobuf`, the default), `OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED`, `HOSTNAME`.
    pub fn from_env(env: &Env, service: &str, version: &str) -> Result<Self, ConfigError> {
        let protocol_var = [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]
        .into_iter()
        .find(|name| env.get(name).is_some());
        let protocol = match protocol_var.and_then(|name| Some((name, env.get(name)?))) {
            None | Some((_, "http/protobuf")) => OtlpProtocol::HttpProtobuf,
            Some((_, "grpc")) => OtlpProtocol::Grpc,
            Some((name, other)) => {
                return Err(ConfigError::new(
                    name,
                    other,
                    "expected grpc or http/protobuf",
                ));
            }
        };
        let endpoint = if env.flag("OTEL_SDK_DISABLED") {
            None
        } else if let Some(traces) = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(validated("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces)?)
        } else if let Some(base) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            let base = validated("OTEL_EXPORTER_OTLP_ENDPOINT", base)?;
            Some(match protocol {
                OtlpProtocol::Grpc => base,
                OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
            })
        } else {
            None
        };
        Ok(Self {
            service_name: env.string_or("OTEL_SERVICE_NAME", service),
            service_version: version.to_owned(),
            pod_name: env.get("HOSTNAME").map(str::to_owned),
            endpoint,
            protocol,
        })
    }

    /// No export (tests and services built without configuration).
    pub fn disabled(service: &str) -> Self {
        Self {
            service_name: service.to_owned(),
            service_version: "v1".to_owned(),
            pod_name: None,
            endpoint: None,
            protocol: OtlpProtocol::HttpProtobuf,
        }
    }
}

fn validated(variable: &str, url: &str) -> Result<String, ConfigError> {
    let parsed: Result<axum::http::Uri, _> = url.parse();
    match parsed {
        Ok(uri) if uri.scheme().is_some() && uri.host().is_some() => Ok(url.to_owned()),
        _ => Err(ConfigError::new(
            variable,
            url,
            "expected an http:// or https:// URL",
        )),
    }
}

/// A service's tracer; cheap to clone.
#[derive(Clone)]
pub struct Tracing {
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

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracing")
            .field("exporting", &self.inner.exporting)
            .finish()
    }
}

impl Tracing {
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
    // The HTTP exporter builds its own reqwest client, which needs the TLS provider too.
    crate::client::install_tls_provider();
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

    #[test]
    fn endpoints_follow_the_otlp_spec() {
        let env = Env::from_pairs([("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318/")]);
        let config = TraceConfig::from_env(&env, "details", "v1").unwrap();
        assert_eq!(
            config.endpoint.as_deref(),
            Some("http://jaeger:4318/v1/traces")
        );
        assert_eq!(config.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(config.service_name, "details");

        let grpc = Env::from_pairs([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_SERVICE_NAME", "my-details"),
            ("HOSTNAME", "details-v1-abc"),
        ]);
        let config = TraceConfig::from_env(&grpc, "details", "v1").unwrap();
        assert_eq!(config.endpoint.as_deref(), Some("http://jaeger:4317"));
        assert_eq!(config.protocol, OtlpProtocol::Grpc);
        assert_eq!(config.service_name, "my-details");
        assert_eq!(config.pod_name.as_deref(), Some("details-v1-abc"));

        let traces = Env::from_pairs([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://collector:4318/custom",
            ),
        ]);
        let config = TraceConfig::from_env(&traces, "x", "v1").unwrap();
        assert_eq!(
            config.endpoint.as_deref(),
            Some("http://collector:4318/custom")
        );
        assert_eq!(
            TraceConfig::from_env(&Env::default(), "x", "v1")
                .unwrap()
                .endpoint,
            None
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let protocol = Env::from_pairs([("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
        assert_eq!(
            TraceConfig::from_env(&protocol, "x", "v1")
                .unwrap_err()
                .variable,
            "OTEL_EXPORTER_OTLP_PROTOCOL"
        );
        let endpoint = Env::from_pairs([("OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger:4317")]);
        assert_eq!(
            TraceConfig::from_env(&endpoint, "x", "v1")
                .unwrap_err()
                .variable,
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        );
        let disabled = Env::from_pairs([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert_eq!(
            TraceConfig::from_env(&disabled, "x", "v1")
                .unwrap()
                .endpoint,
            None
        );
    }

    #[test]
    fn unexported_spans_still_have_ids_and_keep_the_callers_trace() {
        let tracing = Tracing::disabled("test");
        let caller = TraceContext {
            trace_id: 42,
            span_id: 7,
            sampled: true,
        };
        let server = tracing.start_server(Some(caller), || ("GET /x".into(), vec![]));
        let ids = wire_context(&server).unwrap();
        assert_eq!(ids.trace_id, 42);
        assert_ne!(ids.span_id, 7);
        assert!(!tracing.exporting());
        let (trace_id, span_id) = log_ids(&server);
        assert_eq!(trace_id.to_string(), "0000000000000000000000000000002a");
        assert_eq!(span_id.to_string().len(), 16);
        assert_eq!(log_ids(&Context::new()).0.to_string(), "");
    }
}
