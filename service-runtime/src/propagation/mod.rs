//! Which incoming headers each hop forwards (docs/behaviour.md#forwarded-headers: Istio's
//! tracing and routing depend on them), and the one owner of trace context: the server reads
//! it once per request ([`Propagation::extract`]), and [`Propagation::outgoing`] alone decides
//! the trace headers of every outbound call.
//!
//! With span export on, exactly the formats of `OTEL_PROPAGATORS` are read and written, and
//! trace headers of other formats are not forwarded: a stale `traceparent` beside fresh B3
//! headers (or the reverse) would send the next hop to the wrong parent. With export off, the
//! trace headers travel as received, as the original services forward them, and the W3C or
//! B3 form that is missing is added with the same ids when the sampling decision is known.

mod headers;

use std::{borrow::Cow, fmt, str::FromStr};

use axum::http::{HeaderMap, HeaderName};
use opentelemetry::{
    Context,
    propagation::{TextMapCompositePropagator, TextMapPropagator},
    trace::{SpanContext, TraceContextExt, TraceFlags},
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_propagator_b3::{B3Encoding, Propagator as B3Propagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use headers::is_trace_context;
pub use headers::{
    END_USER, ForwardedHeaders, PRODUCTPAGE_COPIED, PRODUCTPAGE_FORWARDED, SERVICE_COPIED,
    SERVICE_FORWARDED, TRACE_CONTEXT_HEADERS, copy_headers,
};

/// The trace-context headers of the request being served, as received (non-empty values
/// only). The server keeps them in the request's [`Context`] for [`Propagation::outgoing`].
#[derive(Debug, Clone, Default)]
pub struct IncomingTrace(HeaderMap);

/// One entry of `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagatorKind {
    /// W3C `traceparent` and `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// B3 single header, `b3`.
    B3,
    /// B3 multiple headers, `x-b3-*`: what Envoy's Zipkin tracer reads and writes.
    B3Multi,
    /// No propagation at all.
    None,
}

impl FromStr for PropagatorKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "tracecontext" => Ok(Self::TraceContext),
            "baggage" => Ok(Self::Baggage),
            "b3" => Ok(Self::B3),
            "b3multi" => Ok(Self::B3Multi),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown propagator {other:?}: expected tracecontext, baggage, b3, b3multi or none"
            )),
        }
    }
}

impl fmt::Display for PropagatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::B3 => "b3",
            Self::B3Multi => "b3multi",
            Self::None => "none",
        })
    }
}

/// The default of `OTEL_PROPAGATORS`, the specification's.
pub const DEFAULT_PROPAGATORS: [PropagatorKind; 2] =
    [PropagatorKind::TraceContext, PropagatorKind::Baggage];

/// The zipkin propagator marks a B3 context without a sampling decision with this flag...
const DEFERRED: TraceFlags = TraceFlags::new(0x02);
/// ...and B3's debug flag (`x-b3-flags: 1`, `b3: …-d`) with this one.
const DEBUG: TraceFlags = TraceFlags::new(0x04);

/// The sampling decision of the remote span in `context`: `None` when the caller left it to
/// us (B3 without a sampling flag); B3's debug flag means sampled, as the B3 specification
/// says.
pub fn remote_decision(context: &Context) -> Option<bool> {
    let span = context.span();
    let flags = span.span_context().trace_flags();
    if flags & DEBUG == DEBUG || flags.is_sampled() {
        Some(true)
    } else if flags & DEFERRED == DEFERRED {
        None
    } else {
        Some(false)
    }
}

/// The propagator of `kind`. Both B3 kinds read either B3 form, with the debug flag in both:
/// the B3 crate reads `d` only when it also writes the single header. What they write is cut
/// down to the configured form afterwards ([`PropagatorKind::writes`]).
fn propagator(kind: PropagatorKind) -> Option<Box<dyn TextMapPropagator + Send + Sync>> {
    match kind {
        PropagatorKind::TraceContext => Some(Box::new(TraceContextPropagator::new())),
        PropagatorKind::Baggage => Some(Box::new(BaggagePropagator::new())),
        PropagatorKind::B3 | PropagatorKind::B3Multi => Some(Box::new(
            B3Propagator::with_encoding(B3Encoding::SingleAndMultiHeader),
        )),
        PropagatorKind::None => None,
    }
}

impl PropagatorKind {
    /// The headers this format writes.
    fn writes(self, name: &HeaderName) -> bool {
        let name = name.as_str();
        match self {
            Self::TraceContext => name == "traceparent" || name == "tracestate",
            Self::Baggage => name == "baggage",
            Self::B3 => name == "b3",
            Self::B3Multi => name.starts_with("x-b3-"),
            Self::None => false,
        }
    }
}

/// How a service reads and writes trace context.
#[derive(Debug)]
pub struct Propagation {
    /// Whether this service exports its own spans.
    exporting: bool,
    /// The configured formats: with export on, nothing else is written.
    kinds: Vec<PropagatorKind>,
    /// With export on: the configured propagators. With export off: W3C and B3, only to
    /// read the caller's ids for log lines.
    propagators: TextMapCompositePropagator,
}

impl Propagation {
    pub fn new(kinds: &[PropagatorKind], exporting: bool) -> Self {
        let readers: Vec<PropagatorKind> = if exporting {
            kinds.to_vec()
        } else {
            vec![PropagatorKind::TraceContext, PropagatorKind::B3]
        };
        let propagators = readers.into_iter().filter_map(propagator).collect();
        Self {
            exporting,
            kinds: kinds.to_vec(),
            propagators: TextMapCompositePropagator::new(propagators),
        }
    }

    /// The caller's context, read once per request, with the incoming trace headers kept for
    /// [`Self::outgoing`].
    pub fn extract(&self, headers: &HeaderMap) -> Context {
        let mut received = HeaderMap::new();
        for (name, value) in headers.iter() {
            if is_trace_context(name) && !value.as_bytes().trim_ascii().is_empty() {
                received.append(name.clone(), value.clone());
            }
        }
        self.propagators
            .extract_with_context(
                &Context::new(),
                &HeaderExtractor(combined(&received).as_ref()),
            )
            .with_value(IncomingTrace(received))
    }

    /// The trace headers of a call made in `context` (the client span's): with export on,
    /// `context` in exactly the configured formats; with export off, the incoming ones as
    /// received plus the missing W3C or B3 form (docs/behaviour.md#trace-context).
    pub fn outgoing(&self, context: &Context, headers: &mut HeaderMap) {
        if self.exporting {
            let mut written = HeaderMap::new();
            self.propagators
                .inject_context(&decided(context), &mut HeaderInjector(&mut written));
            for (name, value) in written.iter() {
                let configured = self.kinds.iter().any(|kind| kind.writes(name));
                if configured && !value.as_bytes().trim_ascii().is_empty() {
                    headers.insert(name.clone(), value.clone());
                }
            }
            return;
        }
        let Some(IncomingTrace(received)) = context.get::<IncomingTrace>() else {
            return;
        };
        for (name, value) in received.iter() {
            headers.append(name.clone(), value.clone());
        }
        add_missing_forms(headers);
    }
}

/// `tracestate` and `baggage` may arrive on several lines; W3C reads them as one list.
fn combined(received: &HeaderMap) -> Cow<'_, HeaderMap> {
    let mut out = Cow::Borrowed(received);
    for name in ["tracestate", "baggage"] {
        let lines: Vec<&str> = received
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if lines.len() > 1
            && let Ok(joined) = lines.join(",").parse()
        {
            out.to_mut().insert(name, joined);
        }
    }
    out
}

/// `context` with its span's "deferred" mark cleared: once our sampler has decided, the
/// decision travels on (the B3 propagator would otherwise leave `x-b3-sampled` out again).
fn decided(context: &Context) -> Context {
    let span = context.span();
    let ours = span.span_context();
    if ours.trace_flags() & DEFERRED != DEFERRED {
        return context.clone();
    }
    let flags = TraceFlags::new(ours.trace_flags().to_u8() & !DEFERRED.to_u8());
    context.with_remote_span_context(SpanContext::new(
        ours.trace_id(),
        ours.span_id(),
        flags,
        ours.is_remote(),
        ours.trace_state().clone(),
    ))
}

/// Adds `traceparent` from B3 and `x-b3-*` from `traceparent`, with the same ids, where one
/// is missing. Never when the B3 sampling decision is absent: W3C has no way to say "not
/// decided", and a guessed `00` would stop the trace.
fn add_missing_forms(headers: &mut HeaderMap) {
    let has_w3c = headers.contains_key("traceparent");
    let has_b3 = headers.contains_key("b3")
        || headers
            .keys()
            .any(|name| name.as_str().starts_with("x-b3-"));
    if has_w3c == has_b3 {
        return;
    }
    let (from, to): (Box<dyn TextMapPropagator>, Box<dyn TextMapPropagator>) = if has_b3 {
        (
            Box::new(B3Propagator::with_encoding(
                B3Encoding::SingleAndMultiHeader,
            )),
            Box::new(TraceContextPropagator::new()),
        )
    } else {
        (
            Box::new(TraceContextPropagator::new()),
            Box::new(B3Propagator::with_encoding(B3Encoding::MultipleHeader)),
        )
    };
    // From nothing but the headers: the request's own span must never stand in for them.
    let context = from.extract_with_context(&Context::new(), &HeaderExtractor(headers));
    let span = context.span();
    let parent = span.span_context();
    if !parent.is_valid() {
        return;
    }
    let Some(sampled) = remote_decision(&context) else {
        return;
    };
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let normalised = SpanContext::new(
        parent.trace_id(),
        parent.span_id(),
        flags,
        true,
        parent.trace_state().clone(),
    );
    let mut derived = HeaderMap::new();
    to.inject_context(
        &Context::new().with_remote_span_context(normalised),
        &mut HeaderInjector(&mut derived),
    );
    // Only the ids' headers, and never over a header that came in.
    let ids = ["traceparent", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled"];
    for (name, value) in derived.iter() {
        if ids.contains(&name.as_str()) && !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    fn sorted(map: &HeaderMap) -> Vec<(String, String)> {
        let mut pairs: Vec<_> = map
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        pairs.sort();
        pairs
    }

    /// What a service forwards with export off, for a request carrying `incoming`.
    fn forwarded_without_export(incoming: &[(&'static str, &'static str)]) -> HeaderMap {
        let propagation = Propagation::new(&DEFAULT_PROPAGATORS, false);
        let context = propagation.extract(&headers(incoming));
        let mut out = HeaderMap::new();
        propagation.outgoing(&context, &mut out);
        out
    }

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn without_export_trace_headers_travel_as_received_plus_the_missing_form() {
        let out = forwarded_without_export(&[("traceparent", TRACEPARENT), ("sw8", "x")]);
        assert_eq!(out["traceparent"], TRACEPARENT);
        assert_eq!(out["sw8"], "x");
        assert_eq!(out["x-b3-traceid"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(out["x-b3-spanid"], "00f067aa0ba902b7");
        assert_eq!(out["x-b3-sampled"], "1");

        let out = forwarded_without_export(&[("b3", "a2fb4a1d1a96d312-e457b5a2e4d86bd1-0")]);
        assert_eq!(
            out["traceparent"],
            "00-0000000000000000a2fb4a1d1a96d312-e457b5a2e4d86bd1-00"
        );
        assert_eq!(out["b3"], "a2fb4a1d1a96d312-e457b5a2e4d86bd1-0");

        // Both present: exactly as they came, even when they disagree.
        let both = [
            ("traceparent", TRACEPARENT),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ];
        assert_eq!(
            sorted(&forwarded_without_export(&both)),
            sorted(&headers(&both))
        );

        // An invalid traceparent goes on as it came, and nothing is derived from it.
        let out = forwarded_without_export(&[("traceparent", "garbage")]);
        assert_eq!(
            sorted(&out),
            sorted(&headers(&[("traceparent", "garbage")]))
        );
    }

    #[test]
    fn a_missing_b3_sampling_flag_stays_missing() {
        let out = forwarded_without_export(&[
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ]);
        assert!(out.get("x-b3-sampled").is_none(), "{out:?}");
        assert!(out.get("traceparent").is_none(), "{out:?}");
        let single = forwarded_without_export(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1",
        )]);
        assert!(single.get("traceparent").is_none(), "{single:?}");
    }

    #[test]
    fn the_b3_debug_flag_means_sampled() {
        let out = forwarded_without_export(&[
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-flags", "1"),
        ]);
        assert_eq!(
            out["traceparent"],
            "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01"
        );
    }

    #[test]
    fn empty_values_are_absent() {
        let out = forwarded_without_export(&[
            ("traceparent", ""),
            ("x-request-id", ""),
            ("x-b3-parentspanid", ""),
            ("x-b3-flags", ""),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ]);
        // The empty traceparent no longer stops the W3C form being derived from B3.
        assert_eq!(
            out["traceparent"],
            "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01"
        );
        assert!(out.get("x-b3-parentspanid").is_none());
        assert!(out.get("x-b3-flags").is_none());
        let copied = copy_headers(
            &headers(&[("x-request-id", ""), ("end-user", "jason")]),
            &SERVICE_COPIED,
        );
        assert_eq!(
            sorted(&copied),
            [("end-user".to_owned(), "jason".to_owned())]
        );
    }

    fn written_with_export(
        kinds: &[PropagatorKind],
        incoming: &[(&'static str, &'static str)],
    ) -> HeaderMap {
        let propagation = Propagation::new(kinds, true);
        let context = propagation.extract(&headers(incoming));
        let mut out = HeaderMap::new();
        propagation.outgoing(&context, &mut out);
        out
    }

    #[test]
    fn with_export_each_b3_kind_writes_its_own_form_and_reads_both() {
        let debug = [("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")];
        let single = written_with_export(&[PropagatorKind::B3], &debug);
        assert!(single.contains_key("b3"), "{single:?}");
        assert!(
            !single.keys().any(|k| k.as_str().starts_with("x-b3-")),
            "{single:?}"
        );
        let multi = written_with_export(&[PropagatorKind::B3Multi], &debug);
        assert_eq!(
            multi["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7",
            "{multi:?}"
        );
        assert!(!multi.contains_key("b3"));
        let w3c = written_with_export(&[PropagatorKind::TraceContext], &[]);
        assert!(
            !w3c.contains_key("tracestate"),
            "no empty tracestate: {w3c:?}"
        );
        // tracestate on two lines is one list.
        let state = written_with_export(
            &[PropagatorKind::TraceContext],
            &[
                ("traceparent", TRACEPARENT),
                ("tracestate", "a=1"),
                ("tracestate", "b=2"),
            ],
        );
        assert_eq!(state["tracestate"], "a=1,b=2");
    }

    #[test]
    fn propagator_names_follow_the_specification() {
        for name in ["tracecontext", "baggage", "b3", "b3multi", "none"] {
            assert_eq!(name.parse::<PropagatorKind>().unwrap().to_string(), name);
        }
        assert!("jaeger".parse::<PropagatorKind>().is_err());
    }
}
