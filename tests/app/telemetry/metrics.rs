//! Every service's `/metrics`, parsed after traffic.

use super::*;

/// `name{labels} value` lines, parsed; panics on a line that is not valid exposition text.
fn parse_metrics(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                    let labels = labels
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            (name.to_owned(), labels, value)
        })
        .collect()
}

#[tokio::test]
async fn every_service_serves_parseable_metrics_after_traffic() {
    let app = whole_app().await;
    for _ in 0..3 {
        get(format!("{}/productpage", app.productpage.url())).await;
    }
    let services = [
        (&app.productpage, "/productpage", Some("details")),
        (&app.details, "/details/{id}", None),
        (&app.ratings, "/ratings/{id}", None),
        (&app.reviews[1], "/reviews/{id}", Some("ratings")),
    ];
    for (server, route, calls) in services {
        let response = get(format!("{}/metrics", server.url())).await;
        assert!(
            response.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let samples = parse_metrics(&response.body);
        let find = |name: &str, label: (&str, &str)| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && l.get(label.0).map(String::as_str) == Some(label.1))
                .map(|s| s.2)
        };
        assert!(
            find("http_server_requests_total", ("route", route)).is_some_and(|v| v >= 1.0),
            "{route}"
        );
        assert!(
            find(
                "http_server_request_duration_seconds_count",
                ("route", route)
            )
            .is_some_and(|v| v >= 1.0),
            "{route}"
        );
        if let Some(destination) = calls {
            assert!(
                find("http_client_requests_total", ("destination", destination))
                    .is_some_and(|v| v >= 1.0),
                "{route} → {destination}"
            );
        }
        let rss = samples
            .iter()
            .find(|(n, _, _)| n == "process_resident_memory_bytes")
            .map(|s| s.2);
        assert!(rss.is_some_and(|v| v > 1_000_000.0), "{rss:?}");
        assert!(
            samples
                .iter()
                .any(|(n, _, _)| n == "process_cpu_seconds_total")
        );
    }
    let productpage = parse_metrics(&get(format!("{}/metrics", app.productpage.url())).await.body);
    let results = productpage.iter().find(|(n, l, _)| {
        n == "request_result_total"
            && l.get("destination_app").map(String::as_str) == Some("reviews")
    });
    assert_eq!(results.map(|r| r.2), Some(3.0));
    app.stop().await.unwrap();
}

/// `/ready` is counted once, under `/ready` (its inner look at `/health` is not), and the
/// new series: open connections, and productpage's page views by reviews version and stars.
#[tokio::test]
async fn ready_counts_once_and_the_dashboards_series_exist() {
    let app = whole_app().await;
    for _ in 0..2 {
        assert_eq!(
            get(format!("{}/ready", app.details.url())).await.status,
            200
        );
    }
    for _ in 0..3 {
        get(format!("{}/productpage", app.productpage.url())).await;
    }
    let details = parse_metrics(&get(format!("{}/metrics", app.details.url())).await.body);
    let requests = |route: &str| {
        details
            .iter()
            .filter(|(n, l, _)| {
                n == "http_server_requests_total"
                    && l.get("route").map(String::as_str) == Some(route)
            })
            .map(|s| s.2)
            .sum::<f64>()
    };
    assert_eq!(requests("/ready"), 2.0);
    assert_eq!(
        requests("/health"),
        0.0,
        "/ready's inner /health is not a request"
    );
    let open = details
        .iter()
        .find(|(n, _, _)| n == "http_server_open_connections")
        .map(|s| s.2);
    // The scrape's own connection is open while it is answered.
    assert!(open.is_some_and(|v| v >= 1.0), "{open:?}");
    let productpage = parse_metrics(&get(format!("{}/metrics", app.productpage.url())).await.body);
    let views: BTreeSet<(String, String)> = productpage
        .iter()
        .filter(|(n, _, v)| n == "bookinfo_page_views_total" && *v >= 1.0)
        .map(|(_, l, _)| (l["reviews_version"].clone(), l["star_color"].clone()))
        .collect();
    let expected = [("v1", "none"), ("v2", "black"), ("v3", "red")]
        .map(|(version, color)| (version.to_owned(), color.to_owned()));
    assert_eq!(views, BTreeSet::from(expected));
    app.stop().await.unwrap();
}
