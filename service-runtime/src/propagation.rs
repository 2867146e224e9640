//! Which incoming headers each hop forwards (spec §2.1), and B3 trace-context handling (§2.2).

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// Set by productpage from the session; Istio's routing rules match it (spec §2.3).
pub const END_USER: &str = "end-user";

/// Copied verbatim by productpage to details, reviews and ratings. The B3 headers are absent on
/// purpose: productpage re-injects them from the extracted context (see [`B3Context`]).
pub const PRODUCTPAGE_FORWARDED: &[&str] = &[
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "sw8",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
];

/// Copied verbatim by reviews to ratings and by details to the external book service: the
/// 20 names of spec §2.1, including `end-user`, which the ratings fault-injection rules match.
pub const SERVICE_FORWARDED: &[&str] = &[
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "sw8",
    END_USER,
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
];

/// The incoming headers named in `names`, with every value each one had.
pub fn copy_headers(incoming: &HeaderMap, names: &[&'static str]) -> HeaderMap {
    let mut out = HeaderMap::new();
    for &name in names {
        let name = HeaderName::from_static(name);
        for value in incoming.get_all(&name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// A B3 context as productpage forwards it: always a 128-bit trace id, the incoming span id,
/// and an explicit sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct B3Context {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl B3Context {
    /// From `x-b3-*` headers, else from a single `b3` header; `None` when ids are missing or
    /// invalid (upstream then sends no B3 headers at all).
    pub fn extract(headers: &HeaderMap) -> Option<Self> {
        Self::from_multi(headers).or_else(|| Self::from_single(headers))
    }

    fn from_multi(headers: &HeaderMap) -> Option<Self> {
        let trace_id = parse_trace_id(header_str(headers, "x-b3-traceid")?)?;
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
    fn from_single(headers: &HeaderMap) -> Option<Self> {
        let mut parts = header_str(headers, "b3")?.split('-');
        let trace_id = parse_trace_id(parts.next()?)?;
        let span_id = parse_span_id(parts.next()?)?;
        let sampled = matches!(parts.next(), Some("1" | "d"));
        Some(Self {
            trace_id,
            span_id,
            sampled,
        })
    }

    /// Writes `x-b3-traceid` (32 lowercase hex digits), `x-b3-spanid` and `x-b3-sampled`.
    pub fn inject(&self, headers: &mut HeaderMap) {
        let pairs = [
            ("x-b3-traceid", format!("{:032x}", self.trace_id)),
            ("x-b3-spanid", format!("{:016x}", self.span_id)),
            (
                "x-b3-sampled",
                if self.sampled { "1" } else { "0" }.to_owned(),
            ),
        ];
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

fn parse_hex(text: &str, digits: &[usize]) -> Option<u128> {
    let valid = digits.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit());
    u128::from_str_radix(text, 16)
        .ok()
        .filter(|&id| valid && id != 0)
}

/// A 64-bit id is accepted and later left-padded to 128 bits.
fn parse_trace_id(text: &str) -> Option<u128> {
    parse_hex(text, &[16, 32])
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

    fn injected(ctx: B3Context) -> Vec<(String, String)> {
        let mut out = HeaderMap::new();
        ctx.inject(&mut out);
        let mut pairs: Vec<_> = out
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        pairs.sort();
        pairs
    }

    #[test]
    fn short_trace_id_is_left_padded_and_span_id_kept() {
        let ctx = B3Context::extract(&headers(&[
            ("x-b3-traceid", "a2fb4a1d1a96d312"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ]))
        .unwrap();
        assert_eq!(
            injected(ctx),
            [
                ("x-b3-sampled".into(), "1".into()),
                ("x-b3-spanid".into(), "e457b5a2e4d86bd1".into()),
                (
                    "x-b3-traceid".into(),
                    "0000000000000000a2fb4a1d1a96d312".into()
                ),
            ]
        );
    }

    #[test]
    fn missing_sampled_becomes_zero_and_debug_flag_becomes_one() {
        let base = [
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ];
        assert!(!B3Context::extract(&headers(&base)).unwrap().sampled);
        let debug = [base[0], base[1], ("x-b3-flags", "1")];
        assert!(B3Context::extract(&headers(&debug)).unwrap().sampled);
    }

    #[test]
    fn single_header_is_converted() {
        let ctx = B3Context::extract(&headers(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )]))
        .unwrap();
        assert_eq!(ctx.trace_id, 0x80f198ee56343ba864fe8b2a57d3eff7);
        assert_eq!(ctx.span_id, 0xe457b5a2e4d86bd1);
        assert!(ctx.sampled);
    }

    #[test]
    fn invalid_ids_give_no_context() {
        for bad in [
            &[("x-b3-traceid", "xyz"), ("x-b3-spanid", "e457b5a2e4d86bd1")][..],
            &[
                ("x-b3-traceid", "80f198ee56343ba8"),
                ("x-b3-spanid", "e457"),
            ][..],
            &[("b3", "0")][..],
        ] {
            assert_eq!(B3Context::extract(&headers(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn copy_keeps_only_listed_headers() {
        let incoming = headers(&[("end-user", "jason"), ("x-request-id", "r"), ("host", "h")]);
        let copied = copy_headers(&incoming, PRODUCTPAGE_FORWARDED);
        assert_eq!(copied.len(), 1);
        assert_eq!(copy_headers(&incoming, SERVICE_FORWARDED).len(), 2);
        assert_eq!(SERVICE_FORWARDED.len(), 20);
    }
}
