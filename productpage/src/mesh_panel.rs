//! The mesh panel (`MESH_PANEL`): what the mesh did for this page view, one row per hop,
//! from the hop reports of `service_runtime::hop` (docs/observability.md#the-mesh-panel).

use std::time::Duration;

use service_runtime::hop::{Attempt, HopReport, Inbound, Peer, Workload};

/// `MESH_PANEL_TRACE_URL`: where a trace id links to, an `http://` or `https://` URL with
/// `{trace_id}` in it, e.g. Jaeger's `http://localhost:16686/trace/{trace_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceUrl(String);

/// The placeholder [`TraceUrl`] replaces.
pub const TRACE_ID_PLACEHOLDER: &str = "{trace_id}";

impl TraceUrl {
    /// Checks `value` (clap's value parser: a bad value stops start-up with exit 2, naming
    /// the setting).
    ///
    /// # Errors
    /// When `value` is not an `http(s)://` URL containing `{trace_id}`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let scheme_ok = ["http://", "https://"].iter().any(|scheme| {
            value
                .get(..scheme.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
        });
        if !scheme_ok {
            return Err(format!("{value:?} is not an http:// or https:// URL"));
        }
        if !value.contains(TRACE_ID_PLACEHOLDER) {
            return Err(format!("{value:?} does not contain {TRACE_ID_PLACEHOLDER}"));
        }
        if value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
        {
            return Err(format!(
                "{value:?} contains spaces, quotes or control characters"
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The link for `trace_id`.
    pub fn link(&self, trace_id: &str) -> String {
        self.0.replace(TRACE_ID_PLACEHOLDER, trace_id)
    }
}

/// The panel's settings, when it is on.
#[derive(Debug, Clone)]
pub struct PanelSettings {
    /// productpage itself, for the first row.
    pub workload: Workload,
    pub trace_url: Option<TraceUrl>,
}

/// The caller's identity, as a row shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityView {
    /// Verified by the callee's sidecar: a SPIFFE URI.
    Mtls(String),
    NoCertificate,
    /// Arrived without a sidecar to vouch for it: shown as text, escaped.
    Unverified(String),
    /// The callee sent no report (it failed, or it is not ours).
    NotReported,
}

impl From<&Peer> for IdentityView {
    fn from(peer: &Peer) -> Self {
        match peer {
            Peer::Verified(uri) => Self::Mtls(uri.clone()),
            Peer::NoCertificate => Self::NoCertificate,
            Peer::Unverified(claim) => Self::Unverified(claim.clone()),
        }
    }
}

/// One hop of the page view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopRow {
    /// `ingress → productpage`, `productpage → reviews`, …
    pub hop: String,
    /// The pod that answered and its version, or why there is none.
    pub workload: String,
    /// The status, or why no answer came.
    pub status: String,
    /// As the caller measured it, with the callee's own time when it reported one.
    pub duration: String,
    /// The caller's attempt number and the sidecar's (`x-envoy-attempt-count`).
    pub attempts: String,
    pub identity: IdentityView,
}

/// The trace of the page view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceView {
    pub id: String,
    /// `MESH_PANEL_TRACE_URL` for the id, when the trace is sampled: an unsampled trace has no
    /// span in any backend to link to.
    pub link: Option<String>,
    /// Whether the trace is sampled (the incoming W3C or B3 flag, or this service's sampler
    /// with export on), so that its spans were exported.
    pub sampled: bool,
}

/// A page view's trace: its id (32 hex digits) and whether it is sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOfView {
    pub id: String,
    pub sampled: bool,
}

/// The whole panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshPanel {
    pub rows: Vec<HopRow>,
    /// `None` when the page view has no valid trace context.
    pub trace: Option<TraceView>,
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

fn workload_text(report: Option<&HopReport>) -> String {
    match report {
        Some(report) if report.workload.version.is_empty() => report.workload.name.clone(),
        Some(report) => format!("{} ({})", report.workload.name, report.workload.version),
        None => "no hop report".to_owned(),
    }
}

fn sidecar_attempt(report: Option<&HopReport>) -> String {
    match report.and_then(|report| report.envoy_attempt) {
        Some(n) => format!("sidecar attempt {n}"),
        None => "no sidecar attempt count".to_owned(),
    }
}

/// The rows of `caller`'s attempts to `destination`-s, numbered per destination when there
/// are several, each followed by the rows of its callee's own calls.
fn attempt_rows(caller: &str, attempts: &[Attempt], rows: &mut Vec<HopRow>, depth: usize) {
    for (index, attempt) in attempts.iter().enumerate() {
        let tries = attempts
            .iter()
            .filter(|other| other.destination == attempt.destination)
            .count();
        let number = attempts[..=index]
            .iter()
            .filter(|other| other.destination == attempt.destination)
            .count();
        let callee = attempt.callee.as_ref();
        let duration = match attempt.callee_app_ms {
            Some(app) => format!("{} (app {app:.1} ms)", milliseconds(attempt.duration)),
            None => milliseconds(attempt.duration),
        };
        rows.push(HopRow {
            hop: format!("{caller} → {}", attempt.destination),
            workload: workload_text(callee),
            status: match (attempt.status, &attempt.error) {
                (Some(status), _) => status.to_string(),
                (None, Some(error)) => format!("no answer: {error}"),
                (None, None) => "no answer".to_owned(),
            },
            duration,
            attempts: format!(
                "{caller} attempt {number} of {tries}, {}",
                sidecar_attempt(callee)
            ),
            identity: callee.map_or(IdentityView::NotReported, |report| (&report.peer).into()),
        });
        // reviews → ratings comes from reviews' report; deeper calls are not reported.
        if depth == 0
            && let Some(report) = callee
        {
            attempt_rows(&attempt.destination, &report.calls, rows, depth + 1);
        }
    }
}

impl MeshPanel {
    /// The panel of a page view: `inbound` as productpage received it, served in `elapsed`,
    /// whose Bookinfo calls made `attempts`, in `trace`.
    pub fn build(
        settings: &PanelSettings,
        inbound: &Inbound,
        elapsed: Duration,
        attempts: &[Attempt],
        trace: Option<TraceOfView>,
    ) -> Self {
        let own = HopReport {
            workload: settings.workload.clone(),
            peer: inbound.peer.clone(),
            envoy_attempt: inbound.envoy_attempt,
            calls: Vec::new(),
        };
        let mut rows = vec![HopRow {
            hop: "ingress → productpage".to_owned(),
            workload: workload_text(Some(&own)),
            status: "200".to_owned(),
            duration: milliseconds(elapsed),
            attempts: sidecar_attempt(Some(&own)),
            identity: (&own.peer).into(),
        }];
        // details before reviews, as the page shows them; attempts of each in their order.
        let mut ordered: Vec<Attempt> = attempts.to_vec();
        ordered.sort_by_key(|attempt| attempt.destination != "details");
        attempt_rows("productpage", &ordered, &mut rows, 0);
        let trace = trace.map(|trace| TraceView {
            link: settings
                .trace_url
                .as_ref()
                .filter(|_| trace.sampled)
                .map(|url| url.link(&trace.id)),
            id: trace.id,
            sampled: trace.sampled,
        });
        Self { rows, trace }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    #[test]
    fn trace_urls_must_be_http_with_the_placeholder() {
        let url = TraceUrl::parse("http://localhost:16686/jaeger/trace/{trace_id}").unwrap();
        assert_eq!(url.link("abc"), "http://localhost:16686/jaeger/trace/abc");
        assert!(TraceUrl::parse("HTTPS://jaeger.example/trace/{trace_id}").is_ok());
        for bad in [
            "localhost:16686/trace/{trace_id}",
            "ftp://x/{trace_id}",
            "http://localhost:16686/trace/",
            "javascript:alert(1)//{trace_id}",
            "http://x/{trace_id}\" onclick=\"x",
            "",
        ] {
            assert!(TraceUrl::parse(bad).is_err(), "{bad}");
        }
    }

    fn report(name: &str, version: &str, peer: Peer, calls: Vec<Attempt>) -> HopReport {
        HopReport {
            workload: Workload {
                name: name.into(),
                version: version.into(),
            },
            peer,
            envoy_attempt: Some(1),
            calls,
        }
    }

    fn answered(destination: &str, status: u16, callee: Option<HopReport>) -> Attempt {
        Attempt {
            destination: destination.into(),
            status: Some(status),
            error: None,
            duration: Duration::from_millis(5),
            callee,
            callee_app_ms: Some(4.0),
        }
    }

    #[test]
    fn every_hop_has_a_row_in_page_order() {
        let productpage =
            Peer::Verified("spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage".into());
        let ratings = answered(
            "ratings",
            200,
            Some(report(
                "ratings-v1-a",
                "v1",
                Peer::Verified("spiffe://r".into()),
                vec![],
            )),
        );
        let attempts = vec![
            answered("reviews", 503, None),
            answered(
                "reviews",
                200,
                Some(report(
                    "reviews-v3-b",
                    "v3",
                    productpage.clone(),
                    vec![ratings],
                )),
            ),
            Attempt::failed(
                "details",
                "no answer within 3000 ms",
                Duration::from_secs(3),
            ),
        ];
        let settings = PanelSettings {
            workload: Workload {
                name: "productpage-v1-c".into(),
                version: "v1".into(),
            },
            trace_url: TraceUrl::parse("http://j/trace/{trace_id}").ok(),
        };
        let inbound = Inbound::read(&HeaderMap::new(), None);
        let sampled = Some(TraceOfView {
            id: "4bf9".into(),
            sampled: true,
        });
        let panel = MeshPanel::build(
            &settings,
            &inbound,
            Duration::from_millis(9),
            &attempts,
            sampled,
        );
        let hops: Vec<&str> = panel.rows.iter().map(|row| row.hop.as_str()).collect();
        assert_eq!(
            hops,
            [
                "ingress → productpage",
                "productpage → details",
                "productpage → reviews",
                "productpage → reviews",
                "reviews → ratings"
            ]
        );
        assert_eq!(panel.rows[0].workload, "productpage-v1-c (v1)");
        assert_eq!(panel.rows[0].identity, IdentityView::NoCertificate);
        assert_eq!(panel.rows[1].status, "no answer: no answer within 3000 ms");
        assert_eq!(panel.rows[1].identity, IdentityView::NotReported);
        assert_eq!(
            panel.rows[2].attempts,
            "productpage attempt 1 of 2, no sidecar attempt count"
        );
        assert_eq!(
            panel.rows[3].attempts,
            "productpage attempt 2 of 2, sidecar attempt 1"
        );
        assert_eq!(
            panel.rows[3].identity,
            IdentityView::Mtls(
                "spiffe://cluster.local/ns/istio-app/sa/bookinfo-productpage".into()
            )
        );
        assert_eq!(panel.rows[3].duration, "5.0 ms (app 4.0 ms)");
        assert_eq!(panel.rows[4].workload, "ratings-v1-a (v1)");
        assert_eq!(
            panel.rows[4].identity,
            IdentityView::Mtls("spiffe://r".into())
        );
        assert_eq!(
            panel.trace,
            Some(TraceView {
                id: "4bf9".into(),
                link: Some("http://j/trace/4bf9".into()),
                sampled: true,
            })
        );
        let unsampled = Some(TraceOfView {
            id: "4bf9".into(),
            sampled: false,
        });
        let unexported = MeshPanel::build(&settings, &inbound, Duration::ZERO, &[], unsampled);
        assert_eq!(unexported.trace.unwrap().link, None);
        assert_eq!(unexported.rows.len(), 1);
        let untraced = MeshPanel::build(&settings, &inbound, Duration::ZERO, &[], None);
        assert_eq!(untraced.trace, None);
    }
}
