//! The bound on requests handled at once (MAX_CONCURRENT_REQUESTS), HTTP/2 streams included:
//! past it a request waits a short while for a place, then is answered 503 at once. Probes
//! never wait: the kubelet must learn that a busy service is alive.

use std::{sync::Arc, time::Duration};

use axum::{
    http::{HeaderValue, Request, StatusCode, Version, header},
    response::Response,
};
use http_body::Body;
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
    ///
    /// `charge` is what an HTTP/2 stream holds from [`RequestLimit::charge_stream`]: it is
    /// kept while the request waits and given back once it has a place or is refused.
    /// `when_full` runs when the request finds every place taken, and every 50 ms while it
    /// waits (the server then closes connections that hold places with answers nobody reads).
    pub async fn decide<B>(
        &self,
        request: &Request<B>,
        probes_only: bool,
        charge: Option<HeadCharge>,
        when_full: impl Fn(),
    ) -> Decision {
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
            self.enter(request, charge, when_full).await
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

    /// HTTP/2: charges a stream's head, a window of its body and the stream's own state to
    /// the shared head budget from the moment hyper hands it over, until it has a place or is
    /// refused; `Err` when that does not fit, and the stream is refused at once (its head
    /// dropped before anything waits). h2 decodes up to 16 heads per connection before the
    /// request bound sees them, so without this a few hundred connections asking again as
    /// soon as they are answered held heads outside every bound (300 connections of 16
    /// streams with 16,000-byte heads once took productpage to 111 MiB). `Ok(None)` on
    /// HTTP/1.x, whose unfinished heads the connection charges and whose one request at a
    /// time is charged only while it waits.
    pub fn charge_stream<B: Body>(
        &self,
        request: &Request<B>,
    ) -> Result<Option<HeadCharge>, Overload> {
        if request.version() != Version::HTTP_2 {
            return Ok(None);
        }
        // A stream whose HEADERS ended it (a GET) will receive no body while it waits.
        let body = if request.body().is_end_stream() {
            0
        } else {
            self.http2_stream_window
        };
        let bytes = head_bytes(request) + body + HTTP2_STREAM_STATE_BYTES;
        HeadCharge::take(&self.head_budget, bytes)
            .map(Some)
            .ok_or(Overload::Concurrency)
    }

    /// A place for `request`, held until its answer is sent; `None` when none came free in
    /// the queue timeout, or at once when what it holds while it waits (its head, and on
    /// HTTP/2 a stream window of body: `charge`, taken earlier) does not fit the shared head
    /// budget.
    async fn enter<B>(
        &self,
        request: &Request<B>,
        charge: Option<HeadCharge>,
        when_full: impl Fn(),
    ) -> Option<OwnedSemaphorePermit> {
        if let Ok(place) = self.places.clone().try_acquire_owned() {
            return Some(place);
        }
        // HTTP/1.1 reads no body while the request waits: its head is all it holds.
        let _waiting = match charge {
            Some(charge) => charge,
            None => HeadCharge::take(&self.head_budget, head_bytes(request))?,
        };
        let deadline = tokio::time::Instant::now() + self.queue_timeout;
        // One acquire for the whole wait: the semaphore is first come, first served, so the
        // places `when_full` frees go to the requests already waiting, before any new stream.
        let acquire = self.places.clone().acquire_owned();
        tokio::pin!(acquire);
        loop {
            when_full();
            let look_again = (tokio::time::Instant::now() + FULL_LOOK_EVERY).min(deadline);
            tokio::select! {
                // A place won at the deadline is kept, not dropped for the timer.
                biased;
                place = &mut acquire => return place.ok(),
                () = tokio::time::sleep_until(look_again) => {
                    if look_again >= deadline {
                        return None;
                    }
                }
            }
        }
    }
}

/// How often a request waiting for a place runs `when_full` again: answers unread for
/// UNREAD_ANSWER_TIMEOUT_MS may have appeared since it began to wait.
const FULL_LOOK_EVERY: Duration = Duration::from_millis(50);

/// What an HTTP/2 stream costs h2 and hyper beyond its head and body, in bytes: h2's stream
/// record and hyper's task for it (an answered stream nobody reads measured about 1.3 KiB).
const HTTP2_STREAM_STATE_BYTES: u64 = 2 * 1024;

/// About what a request's head occupies: its target and fields, with HTTP/2's 32 bytes of
/// overhead per field (RFC 9113 §6.5.2), so both protocols are charged alike.
pub fn head_bytes<B>(request: &Request<B>) -> u64 {
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum();
    let uri = request.uri();
    let target = uri
        .path_and_query()
        .map_or(0, |target| target.as_str().len())
        + uri
            .authority()
            .map_or(0, |authority| authority.as_str().len());
    u64::try_from(fields + target).unwrap_or(u64::MAX)
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
        let first = limit.enter(&request, None, || ()).await;
        assert!(first.is_some());
        let started = tokio::time::Instant::now();
        assert!(limit.enter(&request, None, || ()).await.is_none());
        assert_eq!(started.elapsed(), Duration::from_millis(250));
        drop(first);
        assert!(
            limit.enter(&request, None, || ()).await.is_some(),
            "a place came free"
        );
    }

    #[tokio::test]
    async fn a_waiting_http2_stream_is_charged_its_window() {
        let limit = RequestLimit::new(1, Duration::from_secs(60), HeadBudget::new(8_000), 8_192);
        let _held = limit
            .enter(&Request::get("/").body(()).expect("a request"), None, || ())
            .await;
        let stream = Request::post("/")
            .version(Version::HTTP_2)
            .body("a body follows".to_owned())
            .expect("a request");
        assert!(
            limit.charge_stream(&stream).is_err(),
            "refused at once, not after 60 s"
        );
    }

    #[test]
    fn http2_streams_are_charged_until_they_have_a_place_and_http1_requests_are_not() {
        let budget = HeadBudget::new(64 * 1024);
        let limit = RequestLimit::new(1, Duration::from_secs(60), budget.clone(), 8_192);
        let get = Request::get("/")
            .version(Version::HTTP_2)
            .header("x-pad", "a".repeat(10_000))
            .body(String::new())
            .expect("a request");
        let charges: Vec<_> = std::iter::from_fn(|| limit.charge_stream(&get).ok().flatten())
            .take(100)
            .collect();
        // `x-pad` and its 10,000-byte value, 32 bytes of HPACK overhead, a 1-byte target and
        // 2 KiB of stream state; no window, since a GET's HEADERS end its stream.
        assert_eq!(charges.len(), 5, "64 KiB / 12,086 bytes");
        assert_eq!(budget.used(), 5 * 12_086);
        drop(charges);
        assert_eq!(budget.used(), 0, "given back");
        let http1 = Request::get("/").body(String::new()).expect("a request");
        assert!(matches!(limit.charge_stream(&http1), Ok(None)));
    }

    #[tokio::test]
    async fn a_waiting_head_must_fit_the_head_budget() {
        let limit = RequestLimit::new(1, Duration::from_secs(60), HeadBudget::new(16), 8_192);
        let request = Request::get("/")
            .header("x-pad", "0123456789")
            .body(())
            .expect("a request");
        let _held = limit.enter(&request, None, || ()).await;
        assert!(
            limit.enter(&request, None, || ()).await.is_none(),
            "refused at once, not after 60 s"
        );
    }

    #[tokio::test]
    async fn probes_pass_and_probes_only_connections_serve_nothing_else() {
        let limit = RequestLimit::new(1, Duration::from_secs(60), HeadBudget::new(1 << 20), 8_192);
        let decide = |path: &str, probes_only| {
            let request = Request::get(path).body(()).expect("a request");
            let limit = &limit;
            async move { limit.decide(&request, probes_only, None, || ()).await }
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
