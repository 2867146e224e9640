//! The standard OpenTelemetry settings, as the specification's `OTEL_*` variables name them
//! (and as flags): where spans go, how trace context travels, and which traces are sampled.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::{
    config::{millis, upstream_switch},
    propagation::{DEFAULT_PROPAGATORS, PropagatorKind},
};

/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OtlpProtocol {
    #[value(name = "grpc")]
    Grpc,
    #[default]
    #[value(name = "http/protobuf")]
    HttpProtobuf,
}

/// `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SamplerKind {
    #[value(name = "always_on")]
    AlwaysOn,
    #[value(name = "always_off")]
    AlwaysOff,
    /// A share of traces, OTEL_TRACES_SAMPLER_ARG (0 to 1).
    #[value(name = "traceidratio")]
    TraceIdRatio,
    /// The caller's decision; new traces sampled.
    #[default]
    #[value(name = "parentbased_always_on")]
    ParentBasedAlwaysOn,
    /// The caller's decision; new traces not sampled.
    #[value(name = "parentbased_always_off")]
    ParentBasedAlwaysOff,
    /// The caller's decision; a share of new traces, OTEL_TRACES_SAMPLER_ARG.
    #[value(name = "parentbased_traceidratio")]
    ParentBasedTraceIdRatio,
}

/// The standard OpenTelemetry settings a service reads, as flags and `OTEL_*` variables.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Telemetry (OpenTelemetry)")]
pub struct TelemetryArgs {
    /// OTLP base URL; setting it turns span export on. `/v1/traces` is appended for
    /// http/protobuf (`http://jaeger:4318`); gRPC uses it as is (`http://jaeger:4317`).
    /// `https://` works for both, trusting the system's CA certificates (SSL_CERT_FILE).
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
    /// Headers sent with every export, `key=value,key2=value2` (an API key, a tenant).
    #[arg(long, env, hide_env_values = true, value_parser = key_values)]
    pub otel_exporter_otlp_headers: Option<KeyValues>,
    /// How long one export may take, in milliseconds; 0 means no limit (the specification's
    /// meaning). Exports never hold a request; SPAN_FLUSH_TIMEOUT_MS bounds the flush at
    /// shutdown whatever this says.
    #[arg(long, env, value_parser = millis, default_value = "10000")]
    pub otel_exporter_otlp_timeout: Duration,
    /// Trace-context formats read and written while spans are exported, comma-separated:
    /// tracecontext, baggage, b3 (single header), b3multi (x-b3-*), none. Under Istio, b3multi
    /// goes with Envoy's Zipkin tracer and tracecontext with an OpenTelemetry provider.
    #[arg(
        long,
        env,
        value_delimiter = ',',
        default_value = "tracecontext,baggage"
    )]
    pub otel_propagators: Vec<PropagatorKind>,
    /// Which traces are recorded.
    #[arg(long, env, value_enum, ignore_case = true, default_value_t)]
    pub otel_traces_sampler: SamplerKind,
    /// The share for the traceidratio samplers, from 0 to 1 [default: 1].
    #[arg(long, env, value_parser = ratio)]
    pub otel_traces_sampler_arg: Option<f64>,
    /// Extra resource attributes, `key=value,key2=value2` (`deployment.environment=demo`).
    #[arg(long, env, value_parser = key_values)]
    pub otel_resource_attributes: Option<KeyValues>,
    /// `service.name` of the spans [default: the service's own name]. Ignored by the
    /// whole-application launcher, whose services each report under their own name.
    #[arg(long, env)]
    pub otel_service_name: Option<String>,
    /// `true` turns span export off whatever else is set.
    #[arg(long, env, value_parser = upstream_switch, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub otel_sdk_disabled: bool,
    /// The pod name, resource attribute `k8s.pod.name` (reviews also answers it as its
    /// `podname`); Kubernetes sets HOSTNAME to it.
    #[arg(long = "pod-name", env = "HOSTNAME", value_name = "HOSTNAME")]
    pub pod_name: Option<String>,
}

impl Default for TelemetryArgs {
    fn default() -> Self {
        Self {
            otel_exporter_otlp_endpoint: None,
            otel_exporter_otlp_traces_endpoint: None,
            otel_exporter_otlp_protocol: None,
            otel_exporter_otlp_traces_protocol: None,
            otel_exporter_otlp_headers: None,
            otel_exporter_otlp_timeout: Duration::from_secs(10),
            otel_propagators: DEFAULT_PROPAGATORS.to_vec(),
            otel_traces_sampler: SamplerKind::default(),
            otel_traces_sampler_arg: None,
            otel_resource_attributes: None,
            otel_service_name: None,
            otel_sdk_disabled: false,
            pod_name: None,
        }
    }
}

/// `key=value` pairs, comma-separated, as the OTEL_* list variables take them; values are
/// percent-decoded (the specification's W3C Baggage format: `tenant=a%2Cb` is `a,b`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValues(pub Vec<(String, String)>);

fn key_values(text: &str) -> Result<KeyValues, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                let value = percent_encoding::percent_decode_str(value.trim())
                    .decode_utf8()
                    .map_err(|_| format!("{pair:?}: the value is not UTF-8 once decoded"))?;
                Ok((key.trim().to_owned(), value.into_owned()))
            }
            _ => Err(format!("{pair:?} is not key=value")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(KeyValues)
}

/// What stands for "no limit" (OTEL_EXPORTER_OTLP_TIMEOUT=0): a year, since the exporters
/// add the timeout to an `Instant`.
const NO_EXPORT_LIMIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

fn ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        Ok(_) => Err("must be between 0 and 1".to_owned()),
        Err(err) => Err(err.to_string()),
    }
}

fn otlp_url(url: &str) -> Result<String, String> {
    let uri = match url.parse::<axum::http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) => uri,
        _ => return Err("expected an http:// or https:// URL".to_owned()),
    };
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let host = uri.host().unwrap_or_default();
    if host.is_empty() || authority.contains('@') {
        return Err("expected a host, without user information".to_owned());
    }
    match authority.get(host.len()..).unwrap_or_default() {
        "" => Ok(url.to_owned()),
        port => match port.trim_start_matches(':').parse::<u16>() {
            Ok(1..) => Ok(url.to_owned()),
            _ => Err(format!("{port}: not a port from 1 to 65535")),
        },
    }
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
        let mut resource = self.otel_resource_attributes.clone().unwrap_or_default().0;
        resource.push(("service.version".to_owned(), version.to_owned()));
        if let Some(pod) = &self.pod_name {
            resource.push(("k8s.pod.name".to_owned(), pod.clone()));
        }
        TraceConfig {
            service_name: self
                .otel_service_name
                .clone()
                .unwrap_or_else(|| service.to_owned()),
            resource,
            endpoint,
            protocol,
            headers: self
                .otel_exporter_otlp_headers
                .clone()
                .unwrap_or_default()
                .0,
            timeout: match self.otel_exporter_otlp_timeout {
                Duration::ZERO => NO_EXPORT_LIMIT,
                timeout => timeout,
            },
            propagators: self.otel_propagators.clone(),
            sampler: self.otel_traces_sampler,
            sampler_ratio: self.otel_traces_sampler_arg.unwrap_or(1.0),
        }
    }
}

/// Where and as whom a service's spans are exported, and how trace context travels.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    pub service_name: String,
    /// `service.version`, `k8s.pod.name` and OTEL_RESOURCE_ATTRIBUTES.
    pub resource: Vec<(String, String)>,
    /// The full OTLP traces endpoint; `None` turns export off.
    pub endpoint: Option<String>,
    pub protocol: OtlpProtocol,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub propagators: Vec<PropagatorKind>,
    pub sampler: SamplerKind,
    pub sampler_ratio: f64,
}

impl TraceConfig {
    /// No export (tests, and services given no telemetry settings).
    pub fn disabled(service: &str) -> Self {
        TelemetryArgs::default().trace_config(service, "v1")
    }

    /// The workload hop reports name: the pod (`k8s.pod.name`, from `HOSTNAME`), else the
    /// service; and `service.version`.
    pub fn workload(&self) -> crate::hop::Workload {
        let attribute = |key: &str| {
            self.resource
                .iter()
                .rev()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        };
        crate::hop::Workload {
            name: attribute("k8s.pod.name").unwrap_or_else(|| self.service_name.clone()),
            version: attribute("service.version").unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_otlp_spec() {
        let base = TelemetryArgs {
            otel_exporter_otlp_endpoint: Some("http://jaeger:4318/".into()),
            ..TelemetryArgs::default()
        };
        let config = base.trace_config("details", "v1");
        assert_eq!(
            config.endpoint.as_deref(),
            Some("http://jaeger:4318/v1/traces")
        );
        assert_eq!(config.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(config.service_name, "details");

        let grpc = TelemetryArgs {
            otel_exporter_otlp_endpoint: Some("http://jaeger:4317".into()),
            otel_exporter_otlp_protocol: Some(OtlpProtocol::Grpc),
            otel_service_name: Some("my-details".into()),
            pod_name: Some("details-v1-abc".into()),
            ..TelemetryArgs::default()
        };
        let config = grpc.trace_config("details", "v1");
        assert_eq!(config.endpoint.as_deref(), Some("http://jaeger:4317"));
        assert_eq!(config.protocol, OtlpProtocol::Grpc);
        assert_eq!(config.service_name, "my-details");
        assert!(
            config
                .resource
                .contains(&("k8s.pod.name".into(), "details-v1-abc".into()))
        );

        let traces = TelemetryArgs {
            otel_exporter_otlp_endpoint: Some("http://ignored:4318".into()),
            otel_exporter_otlp_traces_endpoint: Some("http://collector:4318/custom".into()),
            ..TelemetryArgs::default()
        };
        assert_eq!(
            traces.trace_config("x", "v1").endpoint.as_deref(),
            Some("http://collector:4318/custom")
        );
        assert_eq!(TraceConfig::disabled("x").endpoint, None);

        let disabled = TelemetryArgs {
            otel_sdk_disabled: true,
            ..base
        };
        assert_eq!(disabled.trace_config("x", "v1").endpoint, None);
    }

    #[test]
    fn list_settings_are_key_values() {
        assert_eq!(
            key_values("a=1, b = two ,").unwrap(),
            KeyValues(vec![("a".into(), "1".into()), ("b".into(), "two".into())])
        );
        assert_eq!(
            key_values("tenant=a%2Cb,k8s.namespace.name=istio%2Dapp").map(|kv| kv.0),
            Ok(vec![
                ("tenant".into(), "a,b".into()),
                ("k8s.namespace.name".into(), "istio-app".into())
            ])
        );
        assert!(key_values("novalue").is_err());
        assert!(key_values("=x").is_err());
        assert!(ratio("1.5").is_err());
        assert_eq!(ratio("0.25"), Ok(0.25));
    }

    #[test]
    fn otlp_urls_need_a_scheme_and_host() {
        assert!(otlp_url("http://jaeger:4317").is_ok());
        assert!(otlp_url("https://collector.example").is_ok());
        assert!(otlp_url("jaeger:4317").is_err());
        assert!(otlp_url("http://127.0.0.1:99999").is_err());
        assert!(otlp_url("http://u:p@collector:4318").is_err());
        assert!(otlp_url("http://[::1]:4318/v1/traces").is_ok());
    }
}
