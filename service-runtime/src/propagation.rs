//! Which incoming headers each hop forwards (docs/behaviour.md#forwarded-headers: Istio's
//! tracing and routing depend on them), and the trace context in its two
//! wire formats: W3C `traceparent` and B3 (multi-header `x-b3-*` or single-header `b3`).

use std::convert::Infallible;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderName, HeaderValue, request::Parts},
};

/// Set by productpage from the session, never from the client, because Istio's routing rules
/// match it (docs/behaviour.md#the-end-user-header).
pub const END_USER: &str = "end-user";

/// Copied verbatim by productpage to details, reviews and ratings. The B3 headers are absent on
/// purpose: productpage rebuilds them from the incoming context, as the original's propagator
/// did (docs/behaviour.md#trace-context).
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

/// Copied verbatim by reviews to ratings and by details to the external book service: the
/// original's 20 names (docs/behaviour.md#forwarded-headers), including `end-user`, which the
/// ratings fault-injection rules match.
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

const TRACEPARENT: &str = "traceparent";
const B3_SINGLE: &str = "b3";
const B3_HEADERS: [&str; 5] = [
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// The incoming headers named in `names`, with every value each one had.
pub fn copy_headers(incoming: &HeaderMap, names: &[HeaderName]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in names {
        for value in incoming.get_all(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// What details and reviews forward to their own downstreams: the [`SERVICE_FORWARDED`]
/// headers of the request being served. An extractor, so a handler takes it as an argument.
#[derive(Debug, Clone, Default)]
pub struct ForwardedHeaders(pub HeaderMap);

impl<S: Send + Sync> FromRequestParts<S> for ForwardedHeaders {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(copy_headers(&parts.headers, &SERVICE_FORWARDED)))
    }
}

/// A span context as it travels between services: a 128-bit trace id (a 64-bit B3 id is
/// left-padded), the caller's span id, and the sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl TraceContext {
    /// From `traceparent`, else from `x-b3-*`, else from a single `b3` header. `None` when the
    /// ids are missing or invalid.
    pub fn extract(headers: &HeaderMap) -> Option<Self> {
        Self::from_w3c(headers).or_else(|| Self::from_b3(headers))
    }

    /// `traceparent: {version}-{trace-id}-{parent-id}-{flags}`.
    pub fn from_w3c(headers: &HeaderMap) -> Option<Self> {
        let mut parts = header_str(headers, TRACEPARENT)?.split('-');
        let version = parts.next()?;
        if version.len() != 2 || version == "ff" || u8::from_str_radix(version, 16).is_err() {
            return None;
        }
        let trace_id = parse_hex(parts.next()?, &[32])?;
        let span_id = parse_span_id(parts.next()?)?;
        let flags = parts.next().filter(|f| f.len() == 2)?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// From `x-b3-*` headers, else from a single `b3` header. A missing sampling decision
    /// becomes "not sampled" and the debug flag `x-b3-flags: 1` becomes "sampled", as
    /// upstream's OpenTelemetry B3 propagator does.
    pub fn from_b3(headers: &HeaderMap) -> Option<Self> {
        Self::from_b3_multi(headers).or_else(|| Self::from_b3_single(headers))
    }

    fn from_b3_multi(headers: &HeaderMap) -> Option<Self> {
        let trace_id = parse_hex(header_str(headers, "x-b3-traceid")?, &[16, 32])?;
        let span_id = parse_span_id(header_str(headers, "x-b3-spanid")?)?;
        let debug = header_str(headers, "x-b3-flags") == Some("1");
        let sampled = debug
            || matches!(
                header_str(headers, "x-b3-sampled"),
                Some(flag) if flag == "1" || flag.eq_ignore_ascii_case("true")
            );
        Some(Self {
            trace_id,
            span_id,
            sampled,
        })
    }

    /// `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]`.
    fn from_b3_single(headers: &HeaderMap) -> Option<Self> {
        let mut parts = header_str(headers, B3_SINGLE)?.split('-');
        let trace_id = parse_hex(parts.next()?, &[16, 32])?;
        let span_id = parse_span_id(parts.next()?)?;
        let sampled = matches!(parts.next(), Some("1" | "d"));
        Some(Self {
            trace_id,
            span_id,
            sampled,
        })
    }

    pub fn traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }

    /// Writes `traceparent`.
    pub fn inject_w3c(&self, headers: &mut HeaderMap) {
        insert(headers, TRACEPARENT, &self.traceparent());
    }

    /// Writes `x-b3-traceid` (32 lowercase hex digits), `x-b3-spanid` and `x-b3-sampled`.
    pub fn inject_b3(&self, headers: &mut HeaderMap) {
        insert(headers, "x-b3-traceid", &format!("{:032x}", self.trace_id));
        insert(headers, "x-b3-spanid", &format!("{:016x}", self.span_id));
        insert(
            headers,
            "x-b3-sampled",
            if self.sampled { "1" } else { "0" },
        );
    }
}

/// Without span export: forward the caller's context unchanged, so the sidecars' spans still
/// form one tree, and add the wire format that is missing (W3C from B3 or B3 from W3C).
/// A header that is present is never rewritten, even when it does not parse.
pub fn complete_trace_headers(headers: &mut HeaderMap) {
    let has_b3_multi = headers.contains_key("x-b3-traceid");
    if !headers.contains_key(TRACEPARENT)
        && let Some(context) = TraceContext::from_b3(headers)
    {
        context.inject_w3c(headers);
    }
    if !has_b3_multi && let Some(context) = TraceContext::from_w3c(headers) {
        context.inject_b3(headers);
    }
    headers.remove(B3_SINGLE);
}

/// With span export: our client span becomes the parent, in both wire formats. `tracestate`
/// travels on unchanged.
pub fn replace_trace_headers(headers: &mut HeaderMap, context: TraceContext) {
    remove_b3(headers);
    headers.remove(B3_SINGLE);
    context.inject_w3c(headers);
    context.inject_b3(headers);
}

fn remove_b3(headers: &mut HeaderMap) {
    for name in B3_HEADERS {
        headers.remove(name);
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// Lowercase or uppercase hex of one of the allowed lengths, and not all zeros.
fn parse_hex(text: &str, digits: &[usize]) -> Option<u128> {
    let valid = digits.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit());
    u128::from_str_radix(text, 16)
        .ok()
        .filter(|&id| valid && id != 0)
}

fn parse_span_id(text: &str) -> Option<u64> {
    parse_hex(text, &[16]).and_then(|id| u64::try_from(id).ok())
}

#[cfg(test)]
mod tests {
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

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn short_b3_trace_id_is_left_padded_and_span_id_kept() {
        let ctx = TraceContext::from_b3(&headers(&[
            ("x-b3-traceid", "a2fb4a1d1a96d312"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ]))
        .unwrap();
        let mut out = HeaderMap::new();
        ctx.inject_b3(&mut out);
        assert_eq!(
            sorted(&out),
            pairs(&[
                ("x-b3-sampled", "1"),
                ("x-b3-spanid", "e457b5a2e4d86bd1"),
                ("x-b3-traceid", "0000000000000000a2fb4a1d1a96d312"),
            ])
        );
    }

    #[test]
    fn missing_sampled_becomes_zero_and_debug_flag_becomes_one() {
        let base = [
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ];
        assert!(!TraceContext::extract(&headers(&base)).unwrap().sampled);
        let debug = [base[0], base[1], ("x-b3-flags", "1")];
        assert!(TraceContext::extract(&headers(&debug)).unwrap().sampled);
    }

    #[test]
    fn single_b3_header_is_understood() {
        let ctx = TraceContext::extract(&headers(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )]))
        .unwrap();
        assert_eq!(ctx.trace_id, 0x80f198ee56343ba864fe8b2a57d3eff7);
        assert_eq!(ctx.span_id, 0xe457b5a2e4d86bd1);
        assert!(ctx.sampled);
    }

    #[test]
    fn traceparent_round_trips() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::extract(&headers(&[("traceparent", incoming)])).unwrap();
        assert_eq!(ctx.traceparent(), incoming);
        assert!(ctx.sampled);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(
                TraceContext::from_w3c(&headers(&[("traceparent", bad)])),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn invalid_b3_ids_give_no_context() {
        for bad in [
            &[("x-b3-traceid", "xyz"), ("x-b3-spanid", "e457b5a2e4d86bd1")][..],
            &[
                ("x-b3-traceid", "80f198ee56343ba8"),
                ("x-b3-spanid", "e457"),
            ][..],
            &[("b3", "0")][..],
        ] {
            assert_eq!(TraceContext::extract(&headers(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn completing_adds_the_missing_format_with_the_same_ids() {
        let mut from_w3c = headers(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]);
        complete_trace_headers(&mut from_w3c);
        assert_eq!(from_w3c["x-b3-traceid"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(from_w3c["x-b3-spanid"], "00f067aa0ba902b7");
        assert_eq!(from_w3c["x-b3-sampled"], "1");

        let mut from_b3 = headers(&[("b3", "a2fb4a1d1a96d312-e457b5a2e4d86bd1-0")]);
        complete_trace_headers(&mut from_b3);
        assert_eq!(
            from_b3["traceparent"],
            "00-0000000000000000a2fb4a1d1a96d312-e457b5a2e4d86bd1-00"
        );
        assert_eq!(from_b3["x-b3-traceid"], "0000000000000000a2fb4a1d1a96d312");
        assert!(from_b3.get("b3").is_none());

        // An invalid traceparent is forwarded as it came (upstream copies it verbatim).
        let mut invalid = headers(&[
            ("traceparent", "garbage"),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ]);
        complete_trace_headers(&mut invalid);
        assert_eq!(invalid["traceparent"], "garbage");

        // Both present: forwarded exactly as they came, even if they disagree.
        let both = [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ];
        let mut unchanged = headers(&both);
        complete_trace_headers(&mut unchanged);
        assert_eq!(sorted(&unchanged), sorted(&headers(&both)));
    }

    #[test]
    fn replacing_puts_our_span_in_both_formats() {
        let mut out = headers(&[
            ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
            ("x-b3-flags", "1"),
            ("tracestate", "vendor=1"),
        ]);
        replace_trace_headers(
            &mut out,
            TraceContext {
                trace_id: 7,
                span_id: 9,
                sampled: true,
            },
        );
        assert_eq!(
            sorted(&out),
            pairs(&[
                (
                    "traceparent",
                    "00-00000000000000000000000000000007-0000000000000009-01"
                ),
                ("tracestate", "vendor=1"),
                ("x-b3-sampled", "1"),
                ("x-b3-spanid", "0000000000000009"),
                ("x-b3-traceid", "00000000000000000000000000000007"),
            ])
        );
    }

    #[test]
    fn copy_keeps_only_listed_headers() {
        let incoming = headers(&[("end-user", "jason"), ("x-request-id", "r"), ("host", "h")]);
        assert_eq!(copy_headers(&incoming, &PRODUCTPAGE_FORWARDED).len(), 1);
        assert_eq!(copy_headers(&incoming, &SERVICE_FORWARDED).len(), 2);
        assert_eq!(SERVICE_FORWARDED.len(), 20);
    }
}
