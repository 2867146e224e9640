//! Exemplars from a latency bucket to its trace, read back by a real Prometheus
//! (`--enable-feature=exemplar-storage`) scraping the running services.

use test_kit::prometheus::{LocalPrometheus, REQUIRE_PROMETHEUS};

use super::*;

/// The application's services as Prometheus jobs: (job, host:port).
pub(crate) fn scrape_targets(app: &bookinfo::Bookinfo) -> Vec<(&'static str, String)> {
    let host = |server: &service_runtime::RunningServer| {
        server.url().trim_start_matches("http://").to_owned()
    };
    vec![
        ("productpage", host(&app.productpage)),
        ("details", host(&app.details)),
        ("ratings", host(&app.ratings)),
        ("reviews-v1", host(&app.reviews[0])),
        ("reviews-v2", host(&app.reviews[1])),
        ("reviews-v3", host(&app.reviews[2])),
    ]
}

/// A Prometheus scraping `app`, or `None` (the app stopped, the skip said) without one.
pub(crate) async fn scraping(
    test: &str,
    app: bookinfo::Bookinfo,
) -> Option<(bookinfo::Bookinfo, LocalPrometheus)> {
    let started = LocalPrometheus::start(&scrape_targets(&app)).await;
    match test_kit::tool_or_skip(test, REQUIRE_PROMETHEUS, started) {
        Some(prometheus) => Some((app, prometheus)),
        None => {
            app.stop().await.unwrap();
            None
        }
    }
}

/// The services the sampled page view reached: reviews go in turn, v1, v2, v3, and the
/// sampled view is the fifth (three plain ones and an unsampled one before it), so v2, which
/// calls ratings.
const EXPECTED: [&str; 4] = ["productpage", "details", "reviews-v2", "ratings"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_request_leaves_its_trace_id_as_an_exemplar_in_prometheus() {
    let test = "a_sampled_request_leaves_its_trace_id_as_an_exemplar_in_prometheus";
    let app = whole_app().await;
    let Some((app, prometheus)) = scraping(test, app).await else {
        return;
    };
    let page = format!("{}/productpage", app.productpage.url());
    // Unsampled traffic first: its trace ids must not become exemplars.
    for _ in 0..3 {
        assert_eq!(get(&page).await.status, 200);
    }
    let sampled = "4bf92f3577b34da6a3ce929d0e0e4736";
    let unsampled = "5bf92f3577b34da6a3ce929d0e0e4737";
    let traced = |trace: &str, flags: &str| {
        fetch(client().get(&page).header(
            "traceparent",
            format!("00-{trace}-00f067aa0ba902b7-{flags}"),
        ))
    };
    assert_eq!(traced(unsampled, "00").await.status, 200);
    assert_eq!(traced(sampled, "01").await.status, 200);

    let deadline = std::time::Instant::now() + test_kit::prometheus::PATIENCE;
    let exemplars = loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let data = prometheus
            .api(
                "query_exemplars",
                &[
                    ("query", "http_server_request_duration_seconds_bucket"),
                    ("start", &(now - 300).to_string()),
                    ("end", &(now + 60).to_string()),
                ],
            )
            .await;
        // One entry per series: (job, (trace id, span id) of each of its exemplars).
        let found: Vec<(String, Vec<(String, String)>)> = data
            .as_array()
            .into_iter()
            .flatten()
            .map(|series| {
                let job = series["seriesLabels"]["job"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let traces = series["exemplars"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|exemplar| {
                        let label = |name: &str| {
                            exemplar["labels"][name]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned()
                        };
                        (label("trace_id"), label("span_id"))
                    })
                    .collect();
                (job, traces)
            })
            .collect();
        let jobs: BTreeSet<&str> = found.iter().map(|(job, _)| job.as_str()).collect();
        if EXPECTED.iter().all(|job| jobs.contains(job)) || std::time::Instant::now() >= deadline {
            break found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let jobs: BTreeSet<&str> = exemplars.iter().map(|(job, _)| job.as_str()).collect();
    for job in EXPECTED {
        assert!(jobs.contains(job), "no exemplar from {job}: {exemplars:?}");
    }
    for (job, ids) in &exemplars {
        for (trace, span) in ids {
            assert_eq!(
                trace, sampled,
                "{job}: only the sampled trace leaves exemplars"
            );
            // With span export off, the span of the exemplar is the caller's (a sidecar's
            // in the mesh), which the trace holds: here, traceparent's parent id.
            assert_eq!(span.len(), 16, "{job}: span_id {span}");
        }
    }
    app.stop().await.unwrap();
}
