//! `bookinfo-hop`, the hop report: an RFC 8941 dictionary, written and read with the `sfv`
//! crate. Its members:
//! - `workload` (string): the pod (or, off Kubernetes, the service) that answered;
//! - `version` (string): its `service.version`;
//! - `peer` (string): the caller's SPIFFE identity as this workload's sidecar verified it, or
//!   `unverified` (string): an `x-forwarded-client-cert` that no sidecar vouched for; neither
//!   when no client certificate came;
//! - `envoy-attempt` (integer): `x-envoy-attempt-count` as received;
//! - `calls` (inner list): this workload's own Bookinfo calls while serving, one string item
//!   per attempt (the destination) with parameters `status` (integer, absent without an
//!   answer), `error` (string), `dur` (decimal, milliseconds as the caller measured them),
//!   `app-dur` (decimal, the callee's `Server-Timing`), and the callee's own `workload`,
//!   `version`, `peer` or `unverified`, and `envoy-attempt`.
//!
//! Example: `workload="reviews-v3-7d9", version="v3",
//! peer="spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage", envoy-attempt=1,
//! calls=("ratings";status=200;dur=2.4;app-dur=0.3;workload="ratings-v1-5f6";version="v1")`

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use sfv::{
    BareItem, Dictionary, FieldType, InnerList, Item, KeyRef, ListEntry, Parameters, key_ref,
};

use super::{Peer, RESPONSE_HEADER, SERVER_TIMING, inbound::printable};

/// Attempts a report holds, written or read. A page view makes four at most (details,
/// reviews twice, and reviews' own call to ratings is inside reviews' report);
/// `FLOOD_FACTOR`'s extra calls are not recorded, and this keeps a report bounded whatever
/// calls a handler makes or a callee claims.
pub const MAX_ATTEMPTS: usize = 16;

/// Longest text member, in bytes.
const MAX_TEXT_BYTES: usize = 256;

/// The workload that answers: what a report says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Workload {
    /// The pod name (`HOSTNAME` on Kubernetes), else the service's name.
    pub name: String,
    /// `service.version`.
    pub version: String,
}

/// One hop as its callee reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct HopReport {
    pub workload: Workload,
    pub peer: Peer,
    /// `x-envoy-attempt-count` as the callee received it.
    pub envoy_attempt: Option<u32>,
    /// The callee's own Bookinfo calls; a report read from a `calls` item has none.
    pub calls: Vec<Attempt>,
}

/// One attempt of an outbound call, as its caller saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The destination app (`details`, `reviews`, `ratings`).
    pub destination: String,
    /// The answer's status; `None` when none came.
    pub status: Option<u16>,
    /// Why no answer came.
    pub error: Option<String>,
    /// From sending to the last byte of the answer, as the caller measured it.
    pub duration: Duration,
    /// What the callee reported, if it did.
    pub callee: Option<HopReport>,
    /// The callee's own time from its `Server-Timing: app;dur=…`, in milliseconds.
    pub callee_app_ms: Option<f64>,
}

impl Attempt {
    /// An attempt that got an answer with `headers`.
    pub fn answered(
        destination: &str,
        status: u16,
        headers: &HeaderMap,
        duration: Duration,
    ) -> Self {
        Self {
            destination: destination.to_owned(),
            status: Some(status),
            error: None,
            duration,
            callee: HopReport::from_headers(headers),
            callee_app_ms: server_timing_ms(headers),
        }
    }

    /// An attempt that got no answer.
    pub fn failed(destination: &str, error: &str, duration: Duration) -> Self {
        Self {
            destination: destination.to_owned(),
            status: None,
            error: Some(error.to_owned()),
            duration,
            callee: None,
            callee_app_ms: None,
        }
    }
}

const WORKLOAD: &KeyRef = key_ref("workload");
const VERSION: &KeyRef = key_ref("version");
const PEER: &KeyRef = key_ref("peer");
const UNVERIFIED: &KeyRef = key_ref("unverified");
const ENVOY_ATTEMPT: &KeyRef = key_ref("envoy-attempt");
const CALLS: &KeyRef = key_ref("calls");
const STATUS: &KeyRef = key_ref("status");
const ERROR: &KeyRef = key_ref("error");
const DURATION: &KeyRef = key_ref("dur");
const APP_DURATION: &KeyRef = key_ref("app-dur");

fn text(value: &str) -> Option<BareItem> {
    sfv::String::from_string(printable(value, MAX_TEXT_BYTES))
        .ok()
        .map(BareItem::String)
}

fn milliseconds(value: f64) -> Option<BareItem> {
    sfv::Decimal::try_from((value * 10.0).round() / 10.0)
        .ok()
        .map(BareItem::Decimal)
}

/// A report's own members, as dictionary members or as a `calls` item's parameters.
fn describe(report: &HopReport, members: &mut Vec<(&'static KeyRef, BareItem)>) {
    let workload = &report.workload;
    members.extend(text(&workload.name).map(|v| (WORKLOAD, v)));
    members.extend(text(&workload.version).map(|v| (VERSION, v)));
    match &report.peer {
        Peer::Verified(uri) => members.extend(text(uri).map(|v| (PEER, v))),
        Peer::Unverified(claim) => members.extend(text(claim).map(|v| (UNVERIFIED, v))),
        Peer::NoCertificate => {}
    }
    if let Some(attempt) = report.envoy_attempt {
        members.push((ENVOY_ATTEMPT, BareItem::Integer(attempt.into())));
    }
}

fn call_item(attempt: &Attempt) -> Option<Item> {
    let mut members = Vec::new();
    if let Some(status) = attempt.status {
        members.push((STATUS, BareItem::Integer(status.into())));
    }
    if let Some(error) = &attempt.error {
        members.extend(text(error).map(|v| (ERROR, v)));
    }
    members.extend(milliseconds(attempt.duration.as_secs_f64() * 1e3).map(|v| (DURATION, v)));
    members.extend(
        attempt
            .callee_app_ms
            .and_then(milliseconds)
            .map(|v| (APP_DURATION, v)),
    );
    if let Some(callee) = &attempt.callee {
        describe(callee, &mut members);
    }
    let params: Parameters = members
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    Some(Item::with_params(text(&attempt.destination)?, params))
}

impl HopReport {
    /// The `bookinfo-hop` value; `None` only if nothing could be written.
    pub fn to_header_value(&self) -> Option<HeaderValue> {
        let mut members = Vec::new();
        describe(self, &mut members);
        let mut dictionary: Dictionary = members
            .into_iter()
            .map(|(key, value)| (key.to_owned(), ListEntry::Item(Item::new(value))))
            .collect();
        if !self.calls.is_empty() {
            let items = self.calls.iter().filter_map(call_item).collect();
            dictionary.insert(
                CALLS.to_owned(),
                ListEntry::InnerList(InnerList::new(items)),
            );
        }
        HeaderValue::from_str(&dictionary.serialize()?).ok()
    }

    /// The report in `headers`' `bookinfo-hop`; `None` when there is none, or it is not an
    /// RFC 8941 dictionary with a string `workload`. Unknown members are ignored.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(&RESPONSE_HEADER)?.to_str().ok()?;
        let dictionary: Dictionary = sfv::Parser::new(value).parse().ok()?;
        let member = |key: &KeyRef| match dictionary.get(key) {
            Some(ListEntry::Item(item)) => Some(&item.bare_item),
            _ => None,
        };
        string_of(member(WORKLOAD))?;
        let mut report = read_report(member);
        if let Some(ListEntry::InnerList(calls)) = dictionary.get(CALLS) {
            // As many as a report holds: a callee cannot make its caller keep more.
            report.calls = calls
                .items
                .iter()
                .filter_map(read_call)
                .take(MAX_ATTEMPTS)
                .collect();
        }
        Some(report)
    }
}

fn string_of(item: Option<&BareItem>) -> Option<String> {
    item?.as_string().map(|s| s.as_str().to_owned())
}

fn read_report<'a>(member: impl Fn(&KeyRef) -> Option<&'a BareItem>) -> HopReport {
    let peer = match (string_of(member(PEER)), string_of(member(UNVERIFIED))) {
        (Some(uri), _) => Peer::Verified(uri),
        (None, Some(claim)) => Peer::Unverified(claim),
        (None, None) => Peer::NoCertificate,
    };
    HopReport {
        workload: Workload {
            name: string_of(member(WORKLOAD)).unwrap_or_default(),
            version: string_of(member(VERSION)).unwrap_or_default(),
        },
        peer,
        envoy_attempt: member(ENVOY_ATTEMPT)
            .and_then(BareItem::as_integer)
            .and_then(|n| u32::try_from(i64::from(n)).ok()),
        calls: Vec::new(),
    }
}

fn number(item: Option<&BareItem>) -> Option<f64> {
    let item = item?;
    item.as_decimal()
        .map(f64::from)
        .or_else(|| item.as_integer().map(|n| i64::from(n) as f64))
}

fn read_call(item: &Item) -> Option<Attempt> {
    let destination = item.bare_item.as_string()?.as_str().to_owned();
    let param = |key: &KeyRef| item.params.get(key);
    let callee = read_report(param);
    let reported = callee.workload != Workload::default() || callee.peer != Peer::NoCertificate;
    Some(Attempt {
        destination,
        status: param(STATUS)
            .and_then(BareItem::as_integer)
            .and_then(|n| u16::try_from(i64::from(n)).ok()),
        error: string_of(param(ERROR)),
        duration: Duration::from_secs_f64(number(param(DURATION)).unwrap_or(0.0).max(0.0) / 1e3),
        callee: reported.then_some(callee),
        callee_app_ms: number(param(APP_DURATION)),
    })
}

/// The `app` metric's `dur` of `headers`' `Server-Timing`, in milliseconds.
pub fn server_timing_ms(headers: &HeaderMap) -> Option<f64> {
    headers
        .get_all(&SERVER_TIMING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|metric| {
            let mut parts = metric.split(';').map(str::trim);
            if parts.next()? != "app" {
                return None;
            }
            parts.find_map(|param| {
                let (name, value) = param.split_once('=')?;
                (name.trim() == "dur").then(|| value.trim().trim_matches('"').parse().ok())?
            })
        })
        .filter(|ms: &f64| ms.is_finite() && *ms >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reviews_report() -> HopReport {
        HopReport {
            workload: Workload {
                name: "reviews-v3-7d9".into(),
                version: "v3".into(),
            },
            peer: Peer::Verified(
                "spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage".into(),
            ),
            envoy_attempt: Some(1),
            calls: vec![Attempt {
                destination: "ratings".into(),
                status: Some(200),
                error: None,
                duration: Duration::from_micros(2_449),
                callee: Some(HopReport {
                    workload: Workload {
                        name: "ratings-v1-5f6".into(),
                        version: "v1".into(),
                    },
                    peer: Peer::Verified(
                        "spiffe://cluster.local/ns/istio-app/sa/bookinfo-reviews".into(),
                    ),
                    envoy_attempt: Some(2),
                    calls: Vec::new(),
                }),
                callee_app_ms: Some(0.3),
            }],
        }
    }

    fn headers_with(report: &HopReport) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(&RESPONSE_HEADER, report.to_header_value().unwrap());
        headers
    }

    #[test]
    fn a_report_reads_back_as_written() {
        let report = reviews_report();
        let headers = headers_with(&report);
        assert_eq!(
            headers[&RESPONSE_HEADER],
            concat!(
                r#"workload="reviews-v3-7d9", version="v3", "#,
                r#"peer="spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage", envoy-attempt=1, "#,
                r#"calls=("ratings";status=200;dur=2.4;app-dur=0.3;workload="ratings-v1-5f6";version="v1";"#,
                r#"peer="spiffe://cluster.local/ns/istio-app/sa/bookinfo-reviews";envoy-attempt=2)"#
            )
        );
        let mut expected = report;
        expected.calls[0].duration = Duration::from_micros(2_400);
        assert_eq!(HopReport::from_headers(&headers), Some(expected));
    }

    #[test]
    fn claims_and_failures_keep_their_kind() {
        let report = HopReport {
            workload: Workload {
                name: "details".into(),
                version: "v1".into(),
            },
            peer: Peer::Unverified(r#"URI="spiffe://forged";By=x"#.into()),
            envoy_attempt: None,
            calls: vec![Attempt::failed(
                "ratings",
                "no answer within 3000 ms",
                Duration::ZERO,
            )],
        };
        let read = HopReport::from_headers(&headers_with(&report)).unwrap();
        assert_eq!(read.peer, report.peer);
        assert_eq!(read.calls[0].status, None);
        assert_eq!(
            read.calls[0].error.as_deref(),
            Some("no answer within 3000 ms")
        );
        assert_eq!(read.calls[0].callee, None);
    }

    #[test]
    fn anything_else_is_no_report() {
        for value in [
            "",
            "version=\"v1\"",
            "not a dictionary (",
            "workload=\"x\", ,",
            "workload=1",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(&RESPONSE_HEADER, HeaderValue::from_str(value).unwrap());
            let read = HopReport::from_headers(&headers);
            assert_eq!(read, None, "{value}");
        }
        assert_eq!(HopReport::from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn server_timing_gives_the_app_duration() {
        let timing = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(&SERVER_TIMING, HeaderValue::from_str(value).unwrap());
            server_timing_ms(&headers)
        };
        assert_eq!(timing("app;dur=12.5"), Some(12.5));
        assert_eq!(timing("db;dur=3, app;desc=\"x\";dur=\"7\""), Some(7.0));
        assert_eq!(timing("cache;dur=1"), None);
        assert_eq!(timing("app;dur=-1"), None);
        assert_eq!(timing("app;dur=NaN"), None);
    }
}
