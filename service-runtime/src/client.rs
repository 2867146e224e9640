//! Outbound HTTP calls: a deadline per attempt, a number of attempts, forwarded headers, and
//! a connection policy.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use opentelemetry::{Context, KeyValue, trace::SpanKind};

use crate::{
    Observability,
    metrics::OutboundMetrics,
    propagation::{complete_trace_headers, replace_trace_headers},
    spans::{self, Tracing},
};

/// Why a client could not be built (TLS set-up, mostly).
pub type BuildError = reqwest::Error;

#[derive(Clone, Copy, Debug, Default)]
pub struct ClientOptions {
    /// Keep idle connections for reuse. Off by default: upstream opens a fresh connection per
    /// call so that traffic splits spread over backend versions even without L7 balancing.
    pub reuse_connections: bool,
}

/// A shared outbound client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    metrics: OutboundMetrics,
    tracing: Tracing,
}

/// One logical call, possibly made of several attempts.
#[derive(Debug, Clone)]
pub struct Call {
    /// The destination app, for metrics and logs (`details`, `reviews`, `ratings`, ...).
    pub destination: &'static str,
    pub url: String,
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
        install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .http1_only();
        if !options.reuse_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        Ok(Self {
            http: builder.build()?,
            metrics: observability.metrics.outbound(),
            tracing: observability.tracing.clone(),
        })
    }

    /// Makes the call: returns the first 200 answer, else the outcome of the last attempt.
    pub async fn get(&self, call: &Call) -> Result<Reply, CallError> {
        let mut outcome = Err(CallError::Failed("no attempt made".into()));
        for attempt in 1..=call.attempts.max(1) {
            outcome = self.attempt(call).await;
            match &outcome {
                Ok(reply) if reply.status == StatusCode::OK => return outcome,
                Ok(reply) => tracing::info!(
                    destination = call.destination,
                    attempt,
                    status = reply.status.as_u16(),
                    "call answered with an error"
                ),
                Err(err) => {
                    tracing::info!(destination = call.destination, attempt, %err, "call failed")
                }
            }
        }
        outcome
    }

    /// One attempt, with its own client span: with export on, the callee sees that span as
    /// its parent; with export off, it sees the caller's context unchanged.
    async fn attempt(&self, call: &Call) -> Result<Reply, CallError> {
        let started = Instant::now();
        let span = self.tracing.start(
            format!("GET {}", call.destination),
            SpanKind::Client,
            &Context::current(),
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.full", call.url.clone()),
                KeyValue::new("peer.service", call.destination),
            ],
        );
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
        let classify = |err: reqwest::Error| {
            if err.is_timeout() {
                CallError::Timeout(call.timeout)
            } else {
                CallError::Failed(error_chain(&err))
            }
        };
        let response = self
            .http
            .get(&call.url)
            .headers(headers)
            .timeout(call.timeout)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let body = response.bytes().await.map_err(classify)?;
        Ok(Reply { status, body })
    }
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
