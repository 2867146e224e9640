//! Outbound HTTP calls: a deadline per attempt, a number of attempts, forwarded headers, and
//! a connection policy.

use std::time::{Duration, Instant};

use axum::http::{
    HeaderMap, Request, StatusCode, Uri,
    uri::{Authority, Scheme},
};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioExecutor};
use opentelemetry::{Context, KeyValue, trace::SpanKind};

use crate::{
    Observability,
    metrics::OutboundMetrics,
    propagation::{complete_trace_headers, replace_trace_headers},
    spans::{self, Tracing},
};

/// No backend answer is this large; a bigger one is a failed call, not memory to fill.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a client could not be built (TLS set-up, mostly).
pub type BuildError = reqwest::Error;

#[derive(Clone, Copy, Debug, Default)]
pub struct ClientOptions {
    /// Keep idle connections for reuse. Off by default: upstream opens a fresh connection per
    /// call so that traffic splits spread over backend versions even without L7 balancing.
    pub reuse_connections: bool,
    /// Call HTTPS servers, verified against the system's CA certificates (details' external
    /// book service), through reqwest and rustls. Off, calls are plain HTTP, as between
    /// services (the mesh does mTLS), through hyper directly: reqwest converts between URL
    /// types several times per call, which cost a fifth of a page view's instructions.
    pub https: bool,
}

/// A shared outbound client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    transport: Transport,
    metrics: OutboundMetrics,
    tracing: Tracing,
}

#[derive(Clone)]
enum Transport {
    Plain(Box<PlainClient>),
    Tls(reqwest::Client),
}

type PlainClient = hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>;

/// A backend's base address (scheme and authority), parsed once; each call only adds its
/// path and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    base: String,
}

impl Endpoint {
    pub fn parse(base: &str) -> Result<Self, String> {
        let uri: Uri = base.parse().map_err(|e| format!("{base}: {e}"))?;
        let invalid = || format!("{base}: expected http://host:port or https://host");
        let scheme = uri.scheme().cloned().ok_or_else(invalid)?;
        let authority = uri.authority().cloned().ok_or_else(invalid)?;
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(format!("{base}: a base address has no path"));
        }
        Ok(Self {
            base: format!("{scheme}://{authority}"),
            scheme,
            authority,
        })
    }

    /// This endpoint with `path` (percent-encoded where needed) and `query`.
    pub fn url(&self, path: &str, query: Option<&str>) -> Uri {
        let path_and_query = match query {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            // Only a path with characters a URI cannot hold fails; callers encode theirs.
            .unwrap_or_else(|_| Uri::from_static("http://invalid.invalid/"))
    }

    pub fn as_str(&self) -> &str {
        &self.base
    }
}

/// A client bound to one backend's address.
#[derive(Clone)]
pub struct Upstream {
    pub client: HttpClient,
    pub endpoint: Endpoint,
}

impl Upstream {
    /// `None`, logged, when the client cannot be built or `base_url` is not an address: the
    /// service then answers as its spec says it does when that backend is down.
    pub fn new(
        name: &str,
        base_url: &str,
        options: ClientOptions,
        observability: &Observability,
    ) -> Option<Self> {
        let client = HttpClient::new(options, observability)
            .inspect_err(|err| tracing::error!(%err, "cannot build the {name} client"))
            .ok()?;
        let endpoint = Endpoint::parse(base_url)
            .inspect_err(|err| tracing::error!(%err, "invalid {name} address"))
            .ok()?;
        Some(Self { client, endpoint })
    }
}

/// One logical call, possibly made of several attempts.
#[derive(Debug, Clone)]
pub struct Call {
    /// The destination app, for metrics and logs (`details`, `reviews`, `ratings`, ...).
    pub destination: &'static str,
    pub url: Uri,
    pub headers: HeaderMap,
    /// Deadline of each attempt, connect to last body byte.
    pub timeout: Duration,
    /// Attempts in all; a failure or a non-200 answer is retried without delay.
    pub attempts: u32,
}

/// The answer of the last attempt.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    Timeout(Duration),
    Failed(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(after) => write!(f, "no answer within {} ms", after.as_millis()),
            Self::Failed(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for CallError {}

impl HttpClient {
    /// A client reporting to the service's metrics and tracer.
    pub fn new(options: ClientOptions, observability: &Observability) -> Result<Self, BuildError> {
        let transport = if options.https {
            Transport::Tls(tls_client(options)?)
        } else {
            Transport::Plain(Box::new(plain_client(options)))
        };
        Ok(Self {
            transport,
            metrics: observability.metrics.outbound(),
            tracing: observability.tracing.clone(),
        })
    }

    /// Makes the call: returns the first 200 answer, else the outcome of the last attempt.
    pub async fn get(&self, call: &Call) -> Result<Reply, CallError> {
        let mut outcome = Err(CallError::Failed("no attempt made".into()));
        for attempt in 1..=call.attempts.max(1) {
            outcome = self.attempt(call).await;
            // The request's ids, so failures can be found beside its access line.
            let (trace_id, span_id) = spans::log_ids(&Context::current());
            match &outcome {
                Ok(reply) if reply.status == StatusCode::OK => return outcome,
                Ok(reply) => tracing::info!(
                    destination = call.destination,
                    attempt,
                    status = reply.status.as_u16(),
                    %trace_id,
                    %span_id,
                    "call answered with an error"
                ),
                Err(err) => tracing::info!(
                    destination = call.destination,
                    attempt,
                    %err,
                    %trace_id,
                    %span_id,
                    "call failed"
                ),
            }
        }
        outcome
    }

    /// One attempt, with its own client span: with export on, the callee sees that span as
    /// its parent; with export off, it sees the caller's context unchanged.
    async fn attempt(&self, call: &Call) -> Result<Reply, CallError> {
        let started = Instant::now();
        let span = self
            .tracing
            .start(SpanKind::Client, &Context::current(), || {
                let attributes = vec![
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("url.full", call.url.to_string()),
                    KeyValue::new("peer.service", call.destination),
                ];
                (format!("GET {}", call.destination), attributes)
            });
        let mut headers = call.headers.clone();
        match spans::wire_context(&span).filter(|_| self.tracing.exporting()) {
            Some(ours) => replace_trace_headers(&mut headers, ours),
            None => complete_trace_headers(&mut headers),
        }
        let result = self.send(call, headers).await;
        match &result {
            Ok(reply) => spans::finish(&span, Some(reply.status.as_u16()), None),
            Err(err) => spans::finish(&span, None, Some(err.to_string())),
        }
        let status = match &result {
            Ok(reply) => reply.status.as_str().to_owned(),
            Err(CallError::Timeout(_)) => "timeout".to_owned(),
            Err(CallError::Failed(_)) => "error".to_owned(),
        };
        self.metrics
            .record(call.destination, &status, started.elapsed());
        result
    }

    async fn send(&self, call: &Call, headers: HeaderMap) -> Result<Reply, CallError> {
        let exchange = async {
            match &self.transport {
                Transport::Plain(client) => {
                    let mut request = Request::get(call.url.clone())
                        .body(Empty::new())
                        .map_err(|e| CallError::Failed(error_chain(&e)))?;
                    *request.headers_mut() = headers;
                    let response = client
                        .request(request)
                        .await
                        .map_err(|e| CallError::Failed(error_chain(&e)))?;
                    let status = response.status();
                    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                        .collect()
                        .await
                        .map_err(|e| CallError::Failed(error_chain(e.as_ref())))?
                        .to_bytes();
                    Ok(Reply { status, body })
                }
                Transport::Tls(client) => {
                    let failed = |e: reqwest::Error| CallError::Failed(error_chain(&e));
                    let response = client
                        .get(call.url.to_string())
                        .headers(headers)
                        .send()
                        .await
                        .map_err(failed)?;
                    let status = response.status();
                    if response
                        .content_length()
                        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
                    {
                        return Err(CallError::Failed("answer larger than 1 MiB".into()));
                    }
                    let body = response.bytes().await.map_err(failed)?;
                    Ok(Reply { status, body })
                }
            }
        };
        // One deadline for the whole attempt: connect, request, and the last body byte.
        tokio::time::timeout(call.timeout, exchange)
            .await
            .unwrap_or(Err(CallError::Timeout(call.timeout)))
    }
}

fn plain_client(options: ClientOptions) -> PlainClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
    if !options.reuse_connections {
        builder.pool_max_idle_per_host(0);
    }
    builder.build(connector)
}

fn tls_client(options: ClientOptions) -> Result<reqwest::Client, BuildError> {
    install_tls_provider();
    // Redirects are not followed: the services' upstreams never redirect.
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .http1_only()
        .redirect(reqwest::redirect::Policy::none());
    if !options.reuse_connections {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder.build()
}

/// reqwest built with `rustls-no-provider` refuses to build any client (it panics) until a
/// process-wide crypto provider is installed; we use ring. Without the `tls` feature there is
/// no TLS and nothing to install.
pub fn install_tls_provider() {
    #[cfg(feature = "tls")]
    {
        // Several services in one process race to install it; the first one wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The error with its causes, e.g. "error sending request: connection refused".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
