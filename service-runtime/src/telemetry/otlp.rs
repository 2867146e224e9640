//! The OTLP span exporter, over HTTP/protobuf or gRPC, with TLS for `https://` collectors from
//! the one client configuration of [`crate::tls`].

use std::{collections::HashMap, fmt};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioExecutor};
use opentelemetry_http::{HttpClient as OtlpHttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};

use crate::{
    telemetry::{OtlpProtocol, TraceConfig},
    tls,
};

/// A collector's answer is a small protobuf message; more is not an answer.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why the exporter could not be built; export then stays off.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Build(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("invalid gRPC endpoint: {0}")]
    Endpoint(#[from] tonic::transport::Error),
    #[error("no tokio runtime to export from: {0}")]
    Runtime(#[from] tokio::runtime::TryCurrentError),
}

/// Builds the exporter for `config.endpoint`. Call it inside the service's tokio runtime: the
/// exports run on it.
pub fn exporter(endpoint: &str, config: &TraceConfig) -> Result<SpanExporter, ExporterError> {
    let builder = SpanExporter::builder();
    // The exporter frames its own requests: headers that would change the framing are left out.
    let framing = [
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
    ];
    let headers: Vec<(String, String)> = config
        .headers
        .iter()
        .filter(|(key, _)| {
            let framing = framing.contains(&key.to_ascii_lowercase().as_str());
            if framing {
                tracing::warn!(
                    key,
                    "an OTLP header that would change the framing is left out"
                );
            }
            !framing
        })
        .cloned()
        .collect();
    let exporter = match config.protocol {
        OtlpProtocol::HttpProtobuf => builder
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(HyperExportClient::new(
                endpoint.starts_with("https://"),
                config.timeout,
            )?)
            .with_headers(headers.iter().cloned().collect::<HashMap<_, _>>())
            .with_endpoint(endpoint)
            .with_timeout(config.timeout)
            .build()?,
        OtlpProtocol::Grpc => {
            let mut metadata = tonic::metadata::MetadataMap::new();
            for (key, value) in &headers {
                match (
                    key.parse::<tonic::metadata::MetadataKey<tonic::metadata::Ascii>>(),
                    value.parse(),
                ) {
                    (Ok(key), Ok(value)) => {
                        metadata.insert(key, value);
                    }
                    _ => tracing::warn!(key, "an OTLP header that gRPC cannot carry is left out"),
                }
            }
            let builder = builder
                .with_tonic()
                .with_metadata(metadata)
                .with_timeout(config.timeout);
            if endpoint.starts_with("https://") {
                // tonic's own TLS would bring a second configuration; ours is the one.
                let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
                    .timeout(config.timeout)
                    .connect_with_connector_lazy(tls::connector(tls::client_config()?, true));
                builder.with_channel(channel).build()?
            } else {
                builder.with_endpoint(endpoint).build()?
            }
        }
    };
    Ok(exporter)
}

/// OTLP/HTTP over the services' own stack (hyper with rustls and the system's CA
/// certificates). The batch processor exports from its own thread, outside the runtime, so each
/// request runs on the runtime the exporter was built in.
struct HyperExportClient {
    client: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
    /// OTEL_EXPORTER_OTLP_TIMEOUT: the exporter's own deadline does not cancel a request in
    /// flight, so a collector that never answers would hold the batch thread for good.
    timeout: std::time::Duration,
}

impl fmt::Debug for HyperExportClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HyperExportClient")
    }
}

impl HyperExportClient {
    /// Reads the certificate store only for an `https://` collector.
    fn new(https: bool, timeout: std::time::Duration) -> Result<Self, ExporterError> {
        let roots = if https {
            tls::client_config()?
        } else {
            tls::no_roots()?
        };
        Ok(Self {
            client: hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build(tls::connector(roots, false)),
            runtime: tokio::runtime::Handle::try_current()?,
            timeout,
        })
    }
}

#[async_trait::async_trait]
impl OtlpHttpClient for HyperExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let exchange = async move {
            let response = client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let bounded = async move {
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or_else(|_| Err("the collector did not answer in time".into()))
        };
        self.runtime.spawn(bounded).await?
    }
}
