//! The bound on requests handled at once (MAX_CONCURRENT_REQUESTS), HTTP/2 streams included:
//! past it a request waits a short while for a place, then is answered 503 at once. Probes
//! never wait: the kubelet must learn that a busy service is alive.

use std::{sync::Arc, time::Duration};

use axum::{
    http::{HeaderValue, Request, StatusCode, Version, header},
    response::Response,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::head_budget::{HeadBudget, HeadCharge};
use crate::json::error_response;

/// The probes the manifests ship: answered whatever the load (a few bytes each).
const PROBES: [&str; 2] = ["/health", "/ready"];

/// The Prometheus scrape: served on the connections kept for probes too, with places of its
/// own.
const SCRAPE: &str = "/metrics";

/// What the bounds decide for one request.
#[derive(Debug)]
pub enum Decision {
    /// A probe: handled at once, outside every bound.
    Unbounded,
    /// Handled, holding this place until its answer is sent.
    Place(OwnedSemaphorePermit),
    /// Answered 503 without being handled.
    Refused(Overload),
}

/// Scrapes of `/metrics` answered at once at most, outside the request bound (so a busy
/// service is still scraped) but bounded, since each answer is tens of KB.
pub const CONCURRENT_SCRAPES: usize = 4;

/// Why a request was answered 503 without being handled; the `reason` label of
/// `http_server_overload_rejections_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overload {
    /// MAX_CONCURRENT_REQUESTS were in progress for all of REQUEST_QUEUE_TIMEOUT_MS, or the
    /// heads waiting already filled MAX_BUFFERED_HEAD_BYTES.
    Concurrency,
    /// The connection was admitted past MAX_CONNECTIONS, where only probes are served.
    Connections,
}

impl Overload {
    /// Every reason, for their metric series to exist from the start.
    pub const ALL: [Self; 2] = [Self::Concurrency, Self::Connections];

    pub fn label(self) -> &'static str {
        match self {
            Self::Concurrency => "concurrency",
            Self::Connections => "connections",
        }
    }

    /// The answer: 503 with `Retry-After: 1` and the JSON error shape. Built without
    /// touching the router, so it stays cheap when the mesh retries it (Istio retries a 503
    /// twice by default, whatever `Retry-After` says).
    pub fn response(self) -> Response {
        let message = match self {
            Self::Concurrency => "overloaded: too many requests in progress; retry later",
            Self::Connections => "overloaded: too many open connections; retry later",
        };
        let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, message);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    }
}

/// Refusals whose answers may be unsent at once, per place under MAX_CONCURRENT_REQUESTS. A
/// client that reads its answers takes a refusal within microseconds; one that keeps its
/// HTTP/2 window shut keeps each (about 1.3 KiB) until the stall timeout, and 1,100 such
/// connections of 15 streams once took a server 1.1 MiB past its budget that way.
pub const UNSENT_REFUSALS_PER_PLACE: usize = 4;

/// The places for requests in progress, shared by every connection of one server.
#[derive(Debug)]
pub struct RequestLimit {
    places: Arc<Semaphore>,
    /// Room for refusals not yet sent ([`UNSENT_REFUSALS_PER_PLACE`] per place).
    refusals: Arc<Semaphore>,
    scrapes: Arc<Semaphore>,
    queue_timeout: Duration,
    head_budget: Arc<HeadBudget>,
    /// What an HTTP/2 stream may hold of its body while it waits: its flow-control window.
    http2_stream_window: u64,
}

impl RequestLimit {
    pub fn new(
        places: usize,
        queue_timeout: Duration,
        head_budget: Arc<HeadBudget>,
        http2_stream_window: u32,
    ) -> Self {
        Self {
            places: Arc::new(Semaphore::new(places.max(1))),
            refusals: Arc::new(Semaphore::new(
                places.max(1).saturating_mul(UNSENT_REFUSALS_PER_PLACE),
            )),
            scrapes: Arc::new(Semaphore::new(CONCURRENT_SCRAPES)),
            queue_timeout,
            head_budget,
            http2_stream_window: u64::from(http2_stream_window),
        }
    }

    /// Decides for `request`, on a connection admitted past the cap (`probes_only`) or not:
    /// probes are [`Decision::Unbounded`]; on a probes-only connection anything but a probe
    /// or the scrape is refused ([`Overload::Connections`]); a scrape takes one of
    /// [`CONCURRENT_SCRAPES`] places or is refused at once; any other request waits for a
    /// place as [`RequestLimit::enter`] says.
    pub async fn decide<B>(&self, request: &Request<B>, probes_only: bool) -> Decision {
        let path = request.uri().path();
        let place = if PROBES.contains(&path) && request.version() < Version::HTTP_2 {
            // The kubelet (and Istio's rewritten probes) ask over HTTP/1.1, one probe per
            // connection. On HTTP/2 a probe is counted like any request: 16 unbounded streams
            // per connection with a shut window would hold memory outside the bound.
            return Decision::Unbounded;
        } else if path == SCRAPE {
            self.scrapes.clone().try_acquire_owned().ok()
        } else if probes_only {
            return Decision::Refused(Overload::Connections);
        } else {
            self.enter(request).await
        };
        place.map_or(Decision::Refused(Overload::Concurrency), Decision::Place)
    }

    /// Room for one refusal's answer, held until it is sent like a request's place; `None`
    /// when refusals nobody reads already fill it: an HTTP/2 connection asking then closes (a
    /// client that reads its answers never gets here, since each refusal leaves at once);
    /// an HTTP/1.1 one, which holds one refusal at most, is refused without room.
    pub fn refusal_place(&self) -> Option<OwnedSemaphorePermit> {
        self.refusals.clone().try_acquire_owned().ok()
    }

    /// A place for `request`, held until its answer is sent; `None` when none came free in
    /// the queue timeout, or at once when what it holds while it waits (its head, and on
    /// HTTP/2 a stream window of body) does not fit the shared head budget.
    async fn enter<B>(&self, request: &Request<B>) -> Option<OwnedSemaphorePermit> {
        if let Ok(place) = self.places.clone().try_acquire_owned() {
            return Some(place);
        }
        let body = if request.version() == Version::HTTP_2 {
            self.http2_stream_window
        } else {
            // HTTP/1.1 reads no body while the request waits.
            0
        };
        let _waiting = HeadCharge::take(&self.head_budget, head_bytes(request) + body)?;
        tokio::time::timeout(self.queue_timeout, self.places.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// About what a request's head occupies: its target and fields, with HTTP/2's 32 bytes of
/// overhead per field (RFC 9113 §6.5.2), so both protocols are charged alike.
fn head_bytes<B>(request: &Request<B>) -> u64 {
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum();
    u64::try_from(fields + request.uri().to_string().len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn past_the_bound_a_request_waits_then_is_refused() {
        let limit = RequestLimit::new(
            1,
            Duration::from_millis(250),
            HeadBudget::new(1 << 20),
            8_192,
        );
        let request = Request::get("/productpage").body(()).expect("a request");
        let first = limit.enter(&request).await;
        assert!(first.is_some());
        let started = tokio::time::Instant::now();
        assert!(limit.enter(&request).await.is_none());
        assert_eq!(started.elapsed(), Duration::from_millis(250));
        drop(first);
        assert!(limit.enter(&request).await.is_some(), "a place came free");
    }

    #[tokio::test]
    async fn a_waiting_http2_stream_is_charged_its_window() {
        let limit = RequestLimit::new(1, Duration::from_secs(60), HeadBudget::new(8_000), 8_192);
        let _held = limit
            .enter(&Request::get("/").body(()).expect("a request"))
            .await;
        let stream = Request::get("/")
            .version(Version::HTTP_2)
            .body(())
            .expect("a request");
        assert!(
            limit.enter(&stream).await.is_none(),
            "refused at once, not after 60 s"
        );
    }

    #[tokio::test]
    async fn a_waiting_head_must_fit_the_head_budget() {
        let limit = RequestLimit::new(1, Duration::from_secs(60), HeadBudget::new(16), 8_192);
        let request = Request::get("/")
            .header("x-pad", "0123456789")
            .body(())
            .expect("a request");
        let _held = limit.enter(&request).await;
        assert!(
            limit.enter(&request).await.is_none(),
            "refused at once, not after 60 s"
        );
    }

    #[tokio::test]
    async fn probes_pass_and_probes_only_connections_serve_nothing_else() {
        let limit = RequestLimit::new(1, Duration::from_secs(60), HeadBudget::new(1 << 20), 8_192);
        let decide = |path: &str, probes_only| {
            let request = Request::get(path).body(()).expect("a request");
            let limit = &limit;
            async move { limit.decide(&request, probes_only).await }
        };
        for probe in ["/health", "/ready"] {
            assert!(
                matches!(decide(probe, true).await, Decision::Unbounded),
                "{probe}"
            );
        }
        assert!(matches!(decide("/metrics", true).await, Decision::Place(_)));
        assert!(matches!(
            decide("/productpage", true).await,
            Decision::Refused(Overload::Connections)
        ));
        assert!(matches!(
            decide("/health/", true).await,
            Decision::Refused(Overload::Connections)
        ));
        let scrapes: Vec<_> =
            futures::future::join_all((0..CONCURRENT_SCRAPES).map(|_| decide("/metrics", false)))
                .await;
        assert!(scrapes.iter().all(|d| matches!(d, Decision::Place(_))));
        assert!(
            matches!(
                decide("/metrics", false).await,
                Decision::Refused(Overload::Concurrency)
            ),
            "a fifth scrape at once"
        );
        let answer = Overload::Concurrency.response();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            answer
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
    }
}
