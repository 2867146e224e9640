//! Hop reports: what each service of a page view tells its caller about the call it served,
//! for productpage's mesh panel (`MESH_PANEL`, docs/observability.md#the-mesh-panel).
//!
//! The wire, asked for and answered only between Bookinfo's own services:
//! - the caller sends [`REQUEST_HEADER`] `bookinfo-hop-report: ?1` (an RFC 8941 boolean);
//! - the callee answers [`RESPONSE_HEADER`] `bookinfo-hop`, an RFC 8941 dictionary
//!   ([`HopReport`]: the workload that answered, its version, the caller's identity as the
//!   callee's sidecar verified it, the sidecar's attempt count, and the callee's own calls
//!   while serving, each with what its callee reported), and the standard `Server-Timing:
//!   app;dur=<ms>`.
//!
//! Without the request header nothing is added, and no JSON body ever changes. A callee
//! asked for a report asks its own Bookinfo callees too (reviews → ratings), so the report
//! reaches productpage whole.

mod inbound;
mod recorder;
mod report;
pub mod xfcc;

use std::{future::Future, time::Instant};

use axum::{
    http::{HeaderMap, HeaderName, HeaderValue},
    response::Response,
};

pub(crate) use inbound::source_of;
pub use inbound::{Inbound, Peer, SIDECAR_INBOUND_SOURCE, SIDECAR_INBOUND_SOURCE_V6};
pub use recorder::record;
pub(crate) use recorder::{push, recording};
pub use report::{Attempt, HopReport, Workload, server_timing_ms};

/// Asks the callee for a hop report.
pub static REQUEST_HEADER: HeaderName = HeaderName::from_static("bookinfo-hop-report");

/// The callee's hop report ([`HopReport`]).
pub static RESPONSE_HEADER: HeaderName = HeaderName::from_static("bookinfo-hop");

/// The W3C Server-Timing header: `app;dur=<milliseconds>` is the callee's own time.
pub static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// `?1`, the request header's value.
pub static ASK: HeaderValue = HeaderValue::from_static("?1");

/// Whether `headers` ask for a hop report: [`REQUEST_HEADER`] is the RFC 8941 boolean true.
/// Any other value (`?0`, `1`, `yes`) is not a request.
pub fn requested(headers: &HeaderMap) -> bool {
    headers
        .get(&REQUEST_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| sfv::Parser::new(value).parse::<sfv::Item>().ok())
        .is_some_and(|item| item.bare_item.as_boolean() == Some(true))
}

/// Serves a request that asked for a hop report: runs `handling` while recording its
/// Bookinfo calls, then adds `bookinfo-hop` and `Server-Timing: app;dur=…` (from `started`)
/// to its response.
pub(crate) async fn answer(
    workload: &Workload,
    inbound: Inbound,
    started: Instant,
    handling: impl Future<Output = Response>,
) -> Response {
    let (mut response, calls) = record(handling).await;
    let report = HopReport {
        workload: workload.clone(),
        peer: inbound.peer,
        envoy_attempt: inbound.envoy_attempt,
        calls,
    };
    let headers = response.headers_mut();
    if let Some(value) = report.to_header_value() {
        headers.insert(&RESPONSE_HEADER, value);
    }
    let app_ms = started.elapsed().as_secs_f64() * 1e3;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={app_ms:.1}")) {
        headers.append(&SERVER_TIMING, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_boolean_true_asks() {
        let asks = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(&REQUEST_HEADER, HeaderValue::from_str(value).unwrap());
            requested(&headers)
        };
        assert!(asks("?1"));
        assert!(asks(" ?1 "));
        assert!(!asks("?0"));
        assert!(!asks("1"));
        assert!(!asks("true"));
        assert!(!requested(&HeaderMap::new()));
    }
}
