//! The mesh panel (`MESH_PANEL`) and the hop reports behind it, between the real services
//! on loopback: no sidecar here, so every hop says it had no client certificate. Behind
//! Envoy, the same panel shows SPIFFE identities (`mesh::panel`).

use bookinfo::LaunchOptions;
use productpage::{PageArgs, TraceUrl};

use crate::support::*;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn panel_app() -> bookinfo::Bookinfo {
    launch(LaunchOptions {
        page: PageArgs {
            mesh_panel: true,
            mesh_panel_trace_url: TraceUrl::parse("http://localhost:16686/trace/{trace_id}").ok(),
            ..PageArgs::default()
        },
        ..LaunchOptions::default()
    })
    .await
}

/// The panel's section, or the empty text.
fn panel(page: &str) -> &str {
    page.find("id=\"mesh-panel\"")
        .map_or("", |start| &page[start..])
}

#[tokio::test]
async fn the_panel_shows_every_hop_of_each_page_view() {
    let app = panel_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    // productpage calls reviews v1, v2, v3 in turn.
    for version in ["v1", "v2", "v3"] {
        let page = fetch(client().get(&url).header("traceparent", &traceparent)).await;
        assert_eq!(page.status, 200);
        let panel = panel(&page.body);
        assert!(!panel.is_empty(), "no panel:\n{}", page.body);
        for needle in [
            "ingress → productpage",
            "productpage-v1 (v1)",
            "productpage → details",
            "details-v1 (v1)",
            "productpage → reviews",
            &format!("reviews-{version} ({version})"),
            "productpage attempt 1 of 1",
            "no client certificate",
            &format!("<a href=\"http://localhost:16686/trace/{TRACE_ID}\">{TRACE_ID}</a>"),
        ] {
            assert!(
                panel.contains(needle),
                "{version}: missing {needle:?} in\n{panel}"
            );
        }
        // reviews v2 and v3 call ratings; its report comes back through reviews'.
        let ratings_row = panel.contains("reviews → ratings") && panel.contains("ratings-v1 (v1)");
        assert_eq!(ratings_row, version != "v1", "{version}:\n{panel}");
        assert!(!panel.contains("mTLS:"), "no sidecar here:\n{panel}");
        // The page itself is upstream's, the panel added at its end.
        assert!(
            page.body
                .contains(&format!("Reviews served by: reviews-{version}"))
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_forged_client_certificate_header_is_shown_unverified_and_escaped() {
    let app = panel_app().await;
    let url = format!("{}/productpage", app.productpage.url());
    let page = fetch(client().get(&url).header(
        "x-forwarded-client-cert",
        "URI=spiffe://forged/<script>alert(1)</script>",
    ))
    .await;
    let panel = panel(&page.body);
    assert!(
        panel.contains("unverified, no sidecar vouched for it"),
        "{panel}"
    );
    assert!(
        panel.contains("spiffe://forged/&#60;script&#62;")
            || panel.contains("spiffe://forged/&lt;script&gt;"),
        "{panel}"
    );
    assert!(!panel.contains("<script>"), "{panel}");
    // Without a sampled trace context and with export off, no span went anywhere: no link.
    assert!(
        panel.contains("(not sampled: none of its spans was exported)"),
        "{panel}"
    );
    assert!(!panel.contains("/trace/"), "{panel}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn without_the_panel_or_the_request_header_nothing_changes() {
    let app = whole_app().await;
    let page = get(format!("{}/productpage", app.productpage.url())).await;
    assert!(!page.body.contains("mesh-panel"));
    assert!(!page.headers.contains_key("bookinfo-hop"));
    // A backend asked directly: the same JSON, with the report and its time beside it.
    let details = format!("{}/details/0", app.details.url());
    let plain = get(&details).await;
    assert!(!plain.headers.contains_key("bookinfo-hop"));
    assert!(!plain.headers.contains_key("server-timing"));
    let asked = fetch(client().get(&details).header("bookinfo-hop-report", "?1")).await;
    assert_eq!(asked.body, plain.body);
    let report = asked.headers["bookinfo-hop"].to_str().unwrap();
    assert_eq!(report, r#"workload="details-v1", version="v1""#);
    assert!(
        asked.headers["server-timing"]
            .to_str()
            .unwrap()
            .starts_with("app;dur=")
    );
    // reviews v2 passes the question on to ratings, and ratings' answer back.
    let reviews_v2 = format!("{}/reviews/0", app.reviews[1].url());
    let asked = fetch(
        client()
            .get(&reviews_v2)
            .header("bookinfo-hop-report", "?1"),
    )
    .await;
    let report = asked.headers["bookinfo-hop"].to_str().unwrap();
    assert!(
        report.starts_with(
            r#"workload="reviews-v2", version="v2", calls=("ratings";status=200;dur="#
        ) && report.contains(r#"workload="ratings-v1";version="v1")"#),
        "{report}"
    );
    // productpage, the entry point, answers no client's question: no pod names or
    // identities leave the mesh that way, and with the panel off it asks nobody.
    let page = format!("{}/productpage", app.productpage.url());
    let asked = fetch(client().get(&page).header("bookinfo-hop-report", "?1")).await;
    assert_eq!(asked.status, 200);
    assert!(!asked.headers.contains_key("bookinfo-hop"));
    assert!(!asked.headers.contains_key("server-timing"));
    // Only the RFC 8941 true asks.
    let not_asked = fetch(client().get(&details).header("bookinfo-hop-report", "1")).await;
    assert!(!not_asked.headers.contains_key("bookinfo-hop"));
    app.stop().await.unwrap();
}

#[test]
fn a_trace_url_without_its_placeholder_stops_start_up_with_exit_2() {
    let launcher = env!("CARGO_BIN_EXE_bookinfo");
    for (args, env) in [
        (
            vec!["--mesh-panel-trace-url", "http://localhost:16686/trace/"],
            vec![],
        ),
        (
            vec![],
            vec![("MESH_PANEL_TRACE_URL", "localhost:16686/trace/{trace_id}")],
        ),
    ] {
        let refused = test_kit::run_binary(launcher, &args, &env);
        assert_eq!(refused.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("MESH_PANEL_TRACE_URL") || stderr.contains("--mesh-panel-trace-url"),
            "{stderr}"
        );
    }
    let switch = test_kit::run_binary(launcher, &[], &[("MESH_PANEL", "maybe")]);
    assert_eq!(switch.status.code(), Some(2));
}
