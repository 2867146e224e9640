//! The service hyper calls for each request of one connection: the bounds' decision (head
//! charges, places, refusals), the router, and what the answer's body holds until it is sent.

use std::{convert::Infallible, future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use axum::{
    extract::ConnectInfo,
    http::{HeaderValue, Request, Response, StatusCode, Version, header},
};
use http_body::Body;
use hyper::body::Incoming;
use tokio::{sync::OwnedSemaphorePermit, time::Instant};
use tower::ServiceExt;

use super::{
    Shared,
    answer_body::GuardedBody,
    body::TimedBody,
    connection::{RequestGuard, Tracker},
    cookies, host,
    request_limit::{self, Decision, Overload},
};
use crate::json::{error_response, fill_method_not_allowed};

/// The service of one connection: counts requests for its timers, charges heads to the head
/// budget, checks `Host`, keeps the request bound (probes aside), times request bodies, and
/// marks answers `Connection: close` once the server is closing or the connection retired.
#[derive(Clone)]
pub struct ConnectionService {
    pub shared: Arc<Shared>,
    pub tracker: Arc<Tracker>,
    pub peer: SocketAddr,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<GuardedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        cookies::join_cookie_crumbs(request.headers_mut());
        let guard = self.tracker.request_started();
        let mut handling = self.tracker.handler_started();
        let shared = self.shared.clone();
        let peer = self.peer;
        let tracker = self.tracker.clone();
        let http1 = request.version() < Version::HTTP_2;
        // Charged before anything waits (`Tracker::retain_head`, `RequestLimit::charge_stream`),
        // and refused with its head dropped here when that does not fit.
        let charge = if tracker.retain_head(request_limit::head_bytes(&request)) {
            shared.requests.charge_stream(&request)
        } else {
            // HTTP/1.1 closes as soon as its 503 is written (`Connection: close`); an HTTP/2
            // connection would keep its buffers through a GOAWAY's grace, so it closes now.
            tracing::debug!(%peer, "a large head does not fit MAX_BUFFERED_HEAD_BYTES; closing");
            if !http1 {
                tracker.evict();
            }
            Err(Overload::Concurrency)
        };
        let charge = match charge {
            Ok(charge) => charge,
            Err(why) => {
                drop(request);
                let (mut response, place, close) = refuse(&shared, &tracker, peer, why, http1);
                // On HTTP/1.1 only a large head that did not fit is refused here: retired.
                close_if_done(&mut response, &shared, &tracker, http1, close);
                handling.answered();
                return Box::pin(std::future::ready(Ok(guarded(
                    response, place, http1, guard,
                ))));
            }
        };
        Box::pin(async move {
            let mut place = None;
            let (mut response, close) = if let Some(problem) = host::problem(&request) {
                (error_response(StatusCode::BAD_REQUEST, problem), true)
            } else {
                let when_full = || shared.registry.evict_unread(Instant::now());
                match shared
                    .requests
                    .decide(&request, tracker.overflow(), charge, when_full)
                    .await
                {
                    Decision::Unbounded => handle(&shared, request, peer, &tracker).await,
                    Decision::Place(permit) => {
                        place = Some(permit);
                        handle(&shared, request, peer, &tracker).await
                    }
                    Decision::Refused(why) => {
                        let (response, room, close) = refuse(&shared, &tracker, peer, why, http1);
                        place = room;
                        (response, close)
                    }
                }
            };
            close_if_done(&mut response, &shared, &tracker, http1, close);
            handling.answered();
            Ok(guarded(response, place, http1, guard))
        })
    }
}

/// HTTP/1.1: marks the answer `Connection: close` when the connection ends after it (`close`,
/// the server closing, or the connection retired).
fn close_if_done(
    response: &mut axum::response::Response,
    shared: &Shared,
    tracker: &Tracker,
    http1: bool,
    close: bool,
) {
    if http1 && (close || shared.lifecycle.closing() || tracker.retired()) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// An answer's body holding what its request held (see [`GuardedBody`]).
fn guarded(
    response: axum::response::Response,
    place: Option<OwnedSemaphorePermit>,
    http1: bool,
    request: RequestGuard,
) -> Response<GuardedBody> {
    response.map(|body| GuardedBody {
        inner: body,
        place,
        http2: !http1,
        request,
    })
}

/// A request refused for load: its `503`, the refusal's room (see
/// `RequestLimit::refusal_place`), and whether the connection closes after it.
fn refuse(
    shared: &Shared,
    tracker: &Tracker,
    peer: SocketAddr,
    why: Overload,
    http1: bool,
) -> (axum::response::Response, Option<OwnedSemaphorePermit>, bool) {
    let past_the_cap = why == Overload::Connections;
    if past_the_cap {
        // Room kept for probes: this connection gives it back once quiet.
        tracker.retire();
    }
    let room = shared.requests.refusal_place();
    // An HTTP/1.1 connection holds one refusal at most, inside its own cost; an HTTP/2 one
    // could hold a stream's worth each, so past the room only a client that reads its answers
    // gets one more.
    if room.is_none() && !http1 && !tracker.take_roomless_refusal() {
        tracing::debug!(%peer, "unsent refusals fill their room; closing");
        tracker.evict();
    }
    shared.overload.rejections(why.label()).inc();
    (why.response(), room, past_the_cap)
}

/// Runs the router; a request whose body stalled gets 408 and its connection closes (the
/// rest of the body may still be on its way).
async fn handle(
    shared: &Shared,
    request: Request<Incoming>,
    peer: SocketAddr,
    tracker: &Arc<Tracker>,
) -> (axum::response::Response, bool) {
    let (parts, body) = request.into_parts();
    // Most requests carry no body: they need no timer and no flag.
    let timed_out = (!body.is_end_stream()).then(|| Arc::new(std::sync::OnceLock::new()));
    let body = match &timed_out {
        None => axum::body::Body::new(body),
        Some(flag) => axum::body::Body::new(TimedBody::new(
            body,
            shared.body_read_timeout,
            shared.body_deadline,
            flag.clone(),
            Some(tracker.clone()),
        )),
    };
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = match shared.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if let Some(why) = timed_out.and_then(|flag| flag.get().copied()) {
        return (
            error_response(StatusCode::REQUEST_TIMEOUT, &why.to_string()),
            true,
        );
    }
    (fill_method_not_allowed(response), false)
}
