//! What each hop forwards, by name: the headers copied as received, and the trace-context
//! headers that [`super::Propagation::outgoing`] writes instead. The original's lists
//! (docs/behaviour.md#forwarded-headers) are the two together.

use std::convert::Infallible;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderName, request::Parts},
};

/// Set by productpage from the session, never from the client, because Istio's routing rules
/// match it (docs/behaviour.md#the-end-user-header).
pub const END_USER: &str = "end-user";

/// Copied as received by productpage to details, reviews and ratings: the original's list
/// ([`PRODUCTPAGE_FORWARDED`]) less its trace-context names, which the propagation writes
/// (docs/behaviour.md#trace-context). `end-user` comes from the session.
pub static PRODUCTPAGE_COPIED: [HeaderName; 5] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("user-agent"),
    HeaderName::from_static("cookie"),
    HeaderName::from_static("authorization"),
    HeaderName::from_static("jwt"),
];

/// Copied as received by reviews to ratings and by details to the external book service: the
/// original's list ([`SERVICE_FORWARDED`]) less its trace-context names, including
/// `end-user`, which the ratings fault-injection rules match.
pub static SERVICE_COPIED: [HeaderName; 6] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static(END_USER),
    HeaderName::from_static("user-agent"),
    HeaderName::from_static("cookie"),
    HeaderName::from_static("authorization"),
    HeaderName::from_static("jwt"),
];

/// Every header that carries trace context, in any tracer's format: written by
/// [`super::Propagation::outgoing`], never copied.
pub static TRACE_CONTEXT_HEADERS: [HeaderName; 16] = [
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("baggage"),
    HeaderName::from_static("b3"),
    HeaderName::from_static("x-b3-traceid"),
    HeaderName::from_static("x-b3-spanid"),
    HeaderName::from_static("x-b3-parentspanid"),
    HeaderName::from_static("x-b3-sampled"),
    HeaderName::from_static("x-b3-flags"),
    HeaderName::from_static("x-ot-span-context"),
    HeaderName::from_static("x-datadog-trace-id"),
    HeaderName::from_static("x-datadog-parent-id"),
    HeaderName::from_static("x-datadog-sampling-priority"),
    HeaderName::from_static("x-cloud-trace-context"),
    HeaderName::from_static("grpc-trace-bin"),
    HeaderName::from_static("sw8"),
];

/// The original productpage's forwarded list, as its 14 names: what reaches the next hop
/// when it was received ([`PRODUCTPAGE_COPIED`] plus trace context).
pub static PRODUCTPAGE_FORWARDED: [HeaderName; 14] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-ot-span-context"),
    HeaderName::from_static("x-datadog-trace-id"),
    HeaderName::from_static("x-datadog-parent-id"),
    HeaderName::from_static("x-datadog-sampling-priority"),
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("x-cloud-trace-context"),
    HeaderName::from_static("grpc-trace-bin"),
    HeaderName::from_static("sw8"),
    HeaderName::from_static("user-agent"),
    HeaderName::from_static("cookie"),
    HeaderName::from_static("authorization"),
    HeaderName::from_static("jwt"),
];

/// The original services' forwarded list, as its 20 names ([`SERVICE_COPIED`] plus trace
/// context).
pub static SERVICE_FORWARDED: [HeaderName; 20] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-ot-span-context"),
    HeaderName::from_static("x-datadog-trace-id"),
    HeaderName::from_static("x-datadog-parent-id"),
    HeaderName::from_static("x-datadog-sampling-priority"),
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("x-cloud-trace-context"),
    HeaderName::from_static("grpc-trace-bin"),
    HeaderName::from_static("x-b3-traceid"),
    HeaderName::from_static("x-b3-spanid"),
    HeaderName::from_static("x-b3-parentspanid"),
    HeaderName::from_static("x-b3-sampled"),
    HeaderName::from_static("x-b3-flags"),
    HeaderName::from_static("sw8"),
    HeaderName::from_static(END_USER),
    HeaderName::from_static("user-agent"),
    HeaderName::from_static("cookie"),
    HeaderName::from_static("authorization"),
    HeaderName::from_static("jwt"),
];

pub(super) fn is_trace_context(name: &HeaderName) -> bool {
    TRACE_CONTEXT_HEADERS.contains(name)
}

/// The incoming headers named in `names` (a copied list: [`PRODUCTPAGE_COPIED`] or
/// [`SERVICE_COPIED`]), with every non-empty value each one had (a client's empty header is
/// no value to pass on). Trace context is never named here: the propagation writes it.
pub fn copy_headers(incoming: &HeaderMap, names: &[HeaderName]) -> HeaderMap {
    debug_assert!(
        !names.iter().any(is_trace_context),
        "trace context is written by the propagation, not copied"
    );
    let mut out = HeaderMap::new();
    for name in names {
        for value in incoming.get_all(name) {
            if !value.as_bytes().trim_ascii().is_empty() {
                out.append(name.clone(), value.clone());
            }
        }
    }
    out
}

/// What details and reviews forward to their own downstreams: the [`SERVICE_COPIED`] headers
/// of the request being served. An extractor, so a handler takes it as an argument.
#[derive(Debug, Clone, Default)]
pub struct ForwardedHeaders(pub HeaderMap);

impl<S: Send + Sync> FromRequestParts<S> for ForwardedHeaders {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(copy_headers(&parts.headers, &SERVICE_COPIED)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn each_original_list_is_its_copied_names_plus_trace_context() {
        for (original, copied) in [
            (&PRODUCTPAGE_FORWARDED[..], &PRODUCTPAGE_COPIED[..]),
            (&SERVICE_FORWARDED[..], &SERVICE_COPIED[..]),
        ] {
            for name in original {
                assert_ne!(copied.contains(name), is_trace_context(name), "{name}");
            }
            assert!(copied.iter().all(|name| original.contains(name)));
        }
    }

    #[test]
    fn copy_leaves_trace_context_to_the_propagation() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("end-user", "jason"),
            ("x-request-id", "r"),
            ("host", "h"),
            (
                "traceparent",
                "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01",
            ),
        ] {
            incoming.append(name, HeaderValue::from_static(value));
        }
        assert_eq!(copy_headers(&incoming, &PRODUCTPAGE_COPIED).len(), 1);
        assert_eq!(copy_headers(&incoming, &SERVICE_COPIED).len(), 2);
        assert_eq!(SERVICE_FORWARDED.len(), 20);
    }
}
