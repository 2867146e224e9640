//! The server's connection and shutdown settings, each a flag and a variable of the same name.

use std::time::Duration;

use clap::Args;

use crate::config::{millis, positive_millis};

/// Connection timers, the connection cap and the shutdown budget.
///
/// The shutdown budget is what a pod needs between Kubernetes deciding to stop it and the
/// process exiting: the manifests' `preStop` sleep, then [`ServerArgs::shutdown_delay`], then
/// at most [`ServerArgs::drain_timeout`], then at most [`ServerArgs::span_flush_timeout`].
/// The manifests' `terminationGracePeriodSeconds` (30 s) holds their sum (5 + 5 + 10 + 5 s),
/// and a test keeps it so.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connections and shutdown")]
pub struct ServerArgs {
    /// From accepting a connection until its first request head is complete (this covers
    /// telling HTTP/1.1 from HTTP/2), in milliseconds.
    #[arg(long = "first-request-timeout-ms", env = "FIRST_REQUEST_TIMEOUT_MS", value_name = "FIRST_REQUEST_TIMEOUT_MS", default_value = "30000", value_parser = positive_millis)]
    pub first_request_timeout: Duration,
    /// From the first byte of a request head until the head is complete, in milliseconds. On
    /// HTTP/2 it bounds every frame and header block, whichever stream it belongs to.
    #[arg(long = "header-read-timeout-ms", env = "HEADER_READ_TIMEOUT_MS", value_name = "HEADER_READ_TIMEOUT_MS", default_value = "30000", value_parser = positive_millis)]
    pub header_read_timeout: Duration,
    /// How long a connection may wait for its next request, in milliseconds. Longer than
    /// Envoy's upstream idle timeout (1 h), so a sidecar always closes first and never sends
    /// a request on a connection the service is closing (503 UC).
    #[arg(long = "idle-timeout-ms", env = "IDLE_TIMEOUT_MS", value_name = "IDLE_TIMEOUT_MS", default_value = "3900000", value_parser = positive_millis)]
    pub idle_timeout: Duration,
    /// A connection with a request in progress but no answer byte written (nor body byte
    /// read while a handler waits for it) for this long is closed: a client that stopped
    /// reading its answer, or an HTTP/2 client that keeps its flow-control window shut, PINGs
    /// or not. In milliseconds; longer than any Bookinfo request takes (reviews v2 waits up to
    /// 10 s for ratings), shorter than the 30 s after which the kubelet restarts a pod whose
    /// probes fail.
    #[arg(long = "stall-timeout-ms", env = "STALL_TIMEOUT_MS", value_name = "STALL_TIMEOUT_MS", default_value = "20000", value_parser = positive_millis)]
    pub stall_timeout: Duration,
    /// Longest wait for the next piece of a request body, in milliseconds; then the request
    /// fails (408).
    #[arg(long = "body-read-timeout-ms", env = "BODY_READ_TIMEOUT_MS", value_name = "BODY_READ_TIMEOUT_MS", default_value = "30000", value_parser = positive_millis)]
    pub body_read_timeout: Duration,
    /// Whole-body deadline, in milliseconds: from the request head until the last body byte,
    /// however steadily the pieces arrive; then the request fails (408). A client that sends
    /// one byte every few seconds cannot hold a request (and its memory) for longer.
    #[arg(long = "body-deadline-ms", env = "BODY_DEADLINE_MS", value_name = "BODY_DEADLINE_MS", default_value = "30000", value_parser = positive_millis)]
    pub body_deadline: Duration,
    /// Open connections at most; never more than half the open-file limit (raised to its hard
    /// limit at start). At the cap, the oldest connection with no request in progress closes,
    /// else the oldest one still sending a request head or body, but never one heard from in
    /// the last 100 ms; when none can close, up to 64 more (a quarter of the cap if less) are
    /// admitted that are served only `/health`, `/ready` and `/metrics` (room kept for probes;
    /// anything else is answered 503).
    #[arg(long, env = "MAX_CONNECTIONS", value_name = "MAX_CONNECTIONS", default_value_t = 1_024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Requests handled at once, HTTP/2 streams included; probes (`/health`, `/ready`) are not
    /// counted, and scrapes of `/metrics` have four places of their own. A request past the bound waits up to
    /// REQUEST_QUEUE_TIMEOUT_MS for a place (while its head, and on HTTP/2 a stream window of
    /// body, fits MAX_BUFFERED_HEAD_BYTES; else it is answered at once), then is answered 503
    /// with `Retry-After: 1`.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", value_name = "MAX_CONCURRENT_REQUESTS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_requests: u32,
    /// How long a request past MAX_CONCURRENT_REQUESTS waits for a place, in milliseconds.
    /// Short, because the mesh multiplies a 503: Istio retries it twice and productpage
    /// retries reviews once, six waits inside productpage's 3 s reviews deadline.
    #[arg(long = "request-queue-timeout-ms", env = "REQUEST_QUEUE_TIMEOUT_MS", value_name = "REQUEST_QUEUE_TIMEOUT_MS", default_value = "250", value_parser = millis)]
    pub request_queue_timeout: Duration,
    /// While every place under MAX_CONCURRENT_REQUESTS is taken, a connection holding places
    /// with answers (or 503s) its client has not read for this long is closed, in
    /// milliseconds: an HTTP/2 client that keeps its window shut cannot keep everyone else
    /// refused until STALL_TIMEOUT_MS. Keep it shorter than REQUEST_QUEUE_TIMEOUT_MS, so the
    /// places come back to requests already waiting. A sidecar reads every answer as it comes, and a
    /// client reading at any usable speed takes a Bookinfo answer (at most 96 KiB) in less.
    #[arg(long = "unread-answer-timeout-ms", env = "UNREAD_ANSWER_TIMEOUT_MS", value_name = "UNREAD_ANSWER_TIMEOUT_MS", default_value = "200", value_parser = positive_millis)]
    pub unread_answer_timeout: Duration,
    /// Largest request head, in bytes: HTTP/1.1's read buffer and HTTP/2's
    /// SETTINGS_MAX_HEADER_LIST_SIZE. Above Envoy's 60 KiB, so whatever a sidecar forwards
    /// fits; a larger head is answered 431 (hyper's and h2's own answer, with no body).
    #[arg(long, env = "MAX_HEADER_BYTES", value_name = "MAX_HEADER_BYTES", default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(8_192..=16_777_216))]
    pub max_header_bytes: u32,
    /// Bytes of request heads held at once across all connections and not being handled:
    /// unfinished heads beyond the first 8 KiB of each (which every connection's read buffer
    /// holds anyway); HTTP/2 streams from when hyper hands them over until they have a place
    /// (head, stream state, and a window of body unless HEADERS ended the stream); HTTP/1.1
    /// requests waiting for a place (their heads); and a head's bytes past 8 KiB for as long
    /// as its connection lives (it closes after its answers, since hyper and h2 keep buffers
    /// that size). A connection whose head would take the total past it is closed without an
    /// answer; a stream or a waiting request, answered 503 at once.
    #[arg(long, env = "MAX_BUFFERED_HEAD_BYTES", value_name = "MAX_BUFFERED_HEAD_BYTES", default_value_t = 2_097_152, value_parser = clap::value_parser!(u64).range(65_536..))]
    pub max_buffered_head_bytes: u64,
    /// Threads that run requests (Tokio workers). Fixed rather than one per node core, so
    /// memory does not grow with the node; raise it for a CPU limit above 2.
    #[arg(long, env = "WORKER_THREADS", value_name = "WORKER_THREADS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub worker_threads: u16,
    /// Threads for blocking work at most (name resolution of fresh backend connections, span
    /// export at shutdown); Tokio's own default is 512.
    #[arg(long, env = "MAX_BLOCKING_THREADS", value_name = "MAX_BLOCKING_THREADS", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub max_blocking_threads: u16,
    /// After SIGTERM, how long `/ready` fails while requests are still served (answers then
    /// carry `Connection: close`), so load balancers stop sending first; in milliseconds.
    #[arg(long = "shutdown-delay-ms", env = "SHUTDOWN_DELAY_MS", value_name = "SHUTDOWN_DELAY_MS", default_value = "5000", value_parser = millis)]
    pub shutdown_delay: Duration,
    /// Then, how long requests in progress may take to finish before their connections are
    /// dropped, in milliseconds.
    #[arg(long = "drain-timeout-ms", env = "DRAIN_TIMEOUT_MS", value_name = "DRAIN_TIMEOUT_MS", default_value = "10000", value_parser = millis)]
    pub drain_timeout: Duration,
    /// Then, how long exporting the last spans may take, in milliseconds.
    #[arg(long = "span-flush-timeout-ms", env = "SPAN_FLUSH_TIMEOUT_MS", value_name = "SPAN_FLUSH_TIMEOUT_MS", default_value = "5000", value_parser = positive_millis)]
    pub span_flush_timeout: Duration,
}

impl Default for ServerArgs {
    fn default() -> Self {
        Self {
            first_request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(65 * 60),
            stall_timeout: Duration::from_secs(20),
            body_read_timeout: Duration::from_secs(30),
            body_deadline: Duration::from_secs(30),
            max_connections: 1_024,
            max_concurrent_requests: 64,
            request_queue_timeout: Duration::from_millis(250),
            unread_answer_timeout: Duration::from_millis(200),
            max_header_bytes: 65_536,
            max_buffered_head_bytes: 2 << 20,
            worker_threads: 2,
            max_blocking_threads: 8,
            shutdown_delay: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
            span_flush_timeout: Duration::from_secs(5),
        }
    }
}

impl ServerArgs {
    /// The whole shutdown budget after SIGTERM: delay, drain and span flush.
    pub fn shutdown_budget(&self) -> Duration {
        self.shutdown_delay + self.drain_timeout + self.span_flush_timeout
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let matches = Cli::command().get_matches_from(["test"]);
        let parsed = Cli::from_arg_matches(&matches).map(|cli| cli.server);
        let parsed = parsed.ok().map(|args| format!("{args:?}"));
        assert_eq!(parsed, Some(format!("{:?}", ServerArgs::default())));
        assert_eq!(
            ServerArgs::default().shutdown_budget(),
            Duration::from_secs(20)
        );
    }
}
