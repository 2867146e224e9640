//! Outbound HTTP calls, over one stack for plain HTTP and HTTPS (hyper-util with rustls):
//! a deadline per attempt, a number of attempts, one cap on answer size, forwarded headers,
//! a client span per attempt, and a connection policy.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::connect::HttpConnector,
    rt::{TokioExecutor, TokioTimer},
};
use opentelemetry::{Context, KeyValue, trace::SpanKind};

use crate::{
    hop,
    metrics::OutboundMetrics,
    telemetry::{
        CallTelemetry,
        spans::{self, ServiceTracer},
    },
    tls,
};

/// The answer cap of calls between Bookinfo services, in bytes. Their answers are under 1 KB
/// (a product's reviews, details or ratings); a bigger one is a failed call, not memory to
/// fill. With MAX_CONCURRENT_REQUESTS it bounds what a page view can hold (docs/performance.md).
pub const SERVICE_ANSWER_BYTES: usize = 16 * 1024;

/// How long a pooled connection may sit idle before it is closed. Shorter than any server's
/// idle timeout in the mesh (Envoy's is 1 h), and short enough that a burst's connections
/// are gone half a minute after it.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections kept per destination; a burst beyond this closes its extra connections
/// as soon as their calls end.
pub const POOL_MAX_IDLE_PER_HOST: usize = 32;

/// How one downstream is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPolicy {
    /// Deadline of each attempt, from connecting to the last body byte.
    pub timeout: Duration,
    /// Attempts in all; a failure or a non-200 answer is retried at once.
    pub attempts: u32,
    /// Largest answer body read, in bytes; a larger one fails the attempt
    /// ([`CallError::TooLarge`]).
    pub max_answer_bytes: usize,
}

impl CallPolicy {
    /// A call to another Bookinfo service: answers up to [`SERVICE_ANSWER_BYTES`].
    pub fn service(timeout: Duration, attempts: u32) -> Self {
        Self {
            timeout,
            attempts,
            max_answer_bytes: SERVICE_ANSWER_BYTES,
        }
    }
}

/// A shared outbound client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    metrics: OutboundMetrics,
    tracer: ServiceTracer,
    reuse_connections: bool,
    /// Calls between Bookinfo services ask for hop reports while one is being recorded
    /// ([`hop`](crate::hop)); calls to the outside world never do.
    between_services: bool,
}

/// The answer of an attempt: its status, headers and whole body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What an attempt sends besides the call's headers: the method, and a body with its
/// content type (none for GET).
#[derive(Debug, Clone)]
struct Payload {
    method: Method,
    content: Option<(&'static str, Bytes)>,
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("the request failed: {}", causes(.0))]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("reading the answer failed: {}", causes(.0))]
    Body(#[source] hyper::Error),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request could not be built: {0}")]
    Build(#[source] http::Error),
}

/// The error and its causes, `: `-separated: hyper's own message ("client error (Connect)")
/// leaves out what the operator needs (refused, DNS, an untrusted certificate).
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl CallError {
    /// The `status` label of `http_client_requests_total`.
    fn metric_status(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            _ => "error",
        }
    }
}

/// One logical call, possibly made of several attempts.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The destination app, for metrics, spans and logs (`details`, `ratings`, ...).
    pub destination: &'static str,
    pub url: Uri,
    /// The headers copied from the request being served; the trace headers are added per
    /// attempt.
    pub headers: &'a HeaderMap,
    pub policy: CallPolicy,
}

impl HttpClient {
    /// A client for plain-HTTP calls between services (the mesh adds mTLS), reporting to the
    /// service's metrics and tracer. Without `reuse_connections` every call opens a fresh
    /// connection, as the original services do, so that L4 traffic splits spread over backend
    /// versions; such calls send `Connection: close`, so the server closes first and the
    /// TIME_WAIT state stays on its side rather than on this client's ephemeral ports (which
    /// would run out between pods at a few hundred new connections a second). Pooled
    /// connections close after [`POOL_IDLE_TIMEOUT`]; at most [`POOL_MAX_IDLE_PER_HOST`] are
    /// kept. It trusts no certificate authority, so it reads no certificate store.
    ///
    /// # Errors
    /// When the TLS configuration cannot be built (see [`tls::client_config`]).
    pub fn new(reuse_connections: bool, telemetry: CallTelemetry) -> Result<Self, tls::TlsError> {
        Ok(Self::build(
            reuse_connections,
            telemetry,
            tls::no_roots()?,
            true,
        ))
    }

    /// The same client, also calling HTTPS servers verified against the system's CA
    /// certificates (`SSL_CERT_FILE` and `SSL_CERT_DIR` honoured): for calls outside
    /// Bookinfo, which never ask for hop reports.
    ///
    /// # Errors
    /// When the TLS configuration cannot be built (see [`tls::client_config`]).
    pub fn with_system_roots(
        reuse_connections: bool,
        telemetry: CallTelemetry,
    ) -> Result<Self, tls::TlsError> {
        Ok(Self::build(
            reuse_connections,
            telemetry,
            tls::client_config()?,
            false,
        ))
    }

    fn build(
        reuse_connections: bool,
        telemetry: CallTelemetry,
        tls: std::sync::Arc<rustls::ClientConfig>,
        between_services: bool,
    ) -> Self {
        let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(if reuse_connections {
                POOL_MAX_IDLE_PER_HOST
            } else {
                0
            });
        Self {
            inner: builder.build(tls::connector(tls, false)),
            metrics: telemetry.metrics,
            tracer: telemetry.tracer,
            reuse_connections,
            between_services,
        }
    }

    /// Makes the call: the first 200 answer, else the outcome of the last attempt.
    pub async fn get(&self, call: &Call<'_>) -> Result<Reply, CallError> {
        let payload = Payload {
            method: Method::GET,
            content: None,
        };
        self.call(call, &payload).await
    }

    /// POSTs `body` (of `content_type`, e.g. `application/x-www-form-urlencoded`) with the
    /// same deadlines, attempts, spans and metrics as [`HttpClient::get`]; any status is
    /// an answer (a sign-in form answers 302).
    pub async fn post(
        &self,
        call: &Call<'_>,
        content_type: &'static str,
        body: Bytes,
    ) -> Result<Reply, CallError> {
        let payload = Payload {
            method: Method::POST,
            content: Some((content_type, body)),
        };
        self.call(call, &payload).await
    }

    async fn call(&self, call: &Call<'_>, payload: &Payload) -> Result<Reply, CallError> {
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(call, payload).await;
            match &outcome {
                Ok(reply) if reply.status == StatusCode::OK => return outcome,
                Ok(reply) => tracing::info!(
                    destination = call.destination,
                    attempt,
                    status = reply.status.as_u16(),
                    "call answered with an error"
                ),
                Err(err) => tracing::info!(
                    destination = call.destination,
                    attempt,
                    %err,
                    "call failed"
                ),
            }
            if attempt >= call.policy.attempts {
                return outcome;
            }
            attempt += 1;
        }
    }

    /// One attempt, with its own client span: with export on, the callee sees that span as
    /// its parent; with export off, it sees the caller's context unchanged.
    async fn attempt(&self, call: &Call<'_>, payload: &Payload) -> Result<Reply, CallError> {
        let started = Instant::now();
        let method = payload.method.as_str();
        let span = self
            .tracer
            .start(SpanKind::Client, &Context::current(), || {
                let attributes = vec![
                    KeyValue::new("http.request.method", method.to_owned()),
                    KeyValue::new("url.full", call.url.to_string()),
                    KeyValue::new("peer.service", call.destination),
                ];
                (format!("{method} {}", call.destination), attributes)
            });
        let mut headers = call.headers.clone();
        self.tracer.inject(&span, &mut headers);
        if !self.reuse_connections {
            headers.insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        if let Some((content_type, _)) = &payload.content {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let reporting = self.between_services && hop::recording();
        if reporting {
            headers.insert(&hop::REQUEST_HEADER, hop::ASK.clone());
        }
        // One deadline for the whole attempt: connect, request, and the last body byte.
        let sent = self.send(&call.url, headers, payload, call.policy.max_answer_bytes);
        let result = tokio::time::timeout(call.policy.timeout, sent)
            .await
            .unwrap_or(Err(CallError::Timeout(call.policy.timeout)));
        let status = match &result {
            Ok(reply) => {
                spans::finish(&span, Some(reply.status.as_u16()), None);
                reply.status.as_str().to_owned()
            }
            Err(err) => {
                spans::finish(&span, None, Some(err.to_string()));
                err.metric_status().to_owned()
            }
        };
        let elapsed = started.elapsed();
        self.metrics.record(call.destination, &status, elapsed);
        if reporting {
            hop::push(match &result {
                Ok(reply) => hop::Attempt::answered(
                    call.destination,
                    reply.status.as_u16(),
                    &reply.headers,
                    elapsed,
                ),
                Err(err) => hop::Attempt::failed(call.destination, &err.to_string(), elapsed),
            });
        }
        result
    }

    async fn send(
        &self,
        url: &Uri,
        headers: HeaderMap,
        payload: &Payload,
        max_answer_bytes: usize,
    ) -> Result<Reply, CallError> {
        let body = payload
            .content
            .as_ref()
            .map(|(_, body)| body.clone())
            .unwrap_or_default();
        let mut request = Request::builder()
            .method(payload.method.clone())
            .uri(url.clone())
            .body(Full::new(body))
            .map_err(CallError::Build)?;
        *request.headers_mut() = headers;
        let response = self
            .inner
            .request(request)
            .await
            .map_err(CallError::Request)?;
        let (parts, body) = response.into_parts();
        // The cap holds whatever the framing: Content-Length, chunked, or close-delimited.
        let body = Limited::new(body, max_answer_bytes)
            .collect()
            .await
            .map_err(|err| match err.downcast::<hyper::Error>() {
                Ok(err) => CallError::Body(*err),
                // The only other error Limited raises is its LengthLimitError.
                Err(_) => CallError::TooLarge(max_answer_bytes),
            })?
            .to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}
