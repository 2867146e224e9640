//! What productpage forwards: end-user from the session only, the original's header list, and
//! trace context.

use super::*;

#[tokio::test]
async fn signed_in_user_reaches_details_and_reviews_as_end_user() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let cookie = sign_in(&server.url(), "jason").await;
    let page = fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(page.status, 200);
    for stub in [&backends.details, &backends.reviews] {
        let request = &stub.requests()[0];
        assert_eq!(request.headers["end-user"], "jason");
        // The whole Cookie header travels on, session included, as the original's forwarding
        // list does (docs/behaviour.md#forwarded-headers).
        assert_eq!(request.headers["cookie"], cookie.as_str());
    }
    assert_eq!(backends.details.requests()[0].uri, "/details/0");
    assert_eq!(backends.reviews.requests()[0].uri, "/reviews/0");
    assert!(
        backends.ratings.requests().is_empty(),
        "the page never calls ratings itself"
    );
}

/// A sidecar speaking HTTP/2 to productpage may split `cookie` into crumbs (Envoy since 1.29);
/// the session is read from any crumb, and each backend gets one `Cookie` line, the crumbs
/// joined in order (RFC 9113 §8.2.3).
#[tokio::test]
async fn cookie_crumbs_over_http2_reach_the_backends_as_one_line() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let session = sign_in(&server.url(), "jason").await;
    let page = test_kit::get_over_h2c(
        &format!("{}/productpage", server.url()),
        &[
            ("cookie", "theme=dark"),
            ("cookie", &session),
            ("cookie", "lang=en"),
        ],
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("jason"), "signed in: {}", page.body);
    let joined = format!("theme=dark; {session}; lang=en");
    for stub in [&backends.details, &backends.reviews] {
        let request = &stub.requests()[0];
        let cookies: Vec<_> = request.headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, [joined.as_str()]);
        assert_eq!(request.headers["end-user"], "jason");
    }
}

#[tokio::test]
async fn a_client_supplied_end_user_header_is_dropped() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("end-user", "jason"),
    )
    .await;
    assert!(
        backends.details.requests()[0]
            .headers
            .get("end-user")
            .is_none()
    );
    assert!(
        backends.reviews.requests()[0]
            .headers
            .get("end-user")
            .is_none()
    );
}

/// The original's two header-propagation unit tests, ported, against recording stubs
/// (docs/behaviour.md#forwarded-headers).
#[tokio::test]
async fn upstream_header_propagation_tests() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    for (route, stub, request_id) in [
        (
            "reviews",
            &backends.reviews,
            "34eeb41d-d267-9e49-8b84-dde403fc5b72",
        ),
        (
            "ratings",
            &backends.ratings,
            "34eeb41d-d267-9e49-8b84-dde403fc5b73",
        ),
    ] {
        let response = fetch(
            client()
                .get(format!("{}/api/v1/products/0/{route}", server.url()))
                .header("x-request-id", request_id)
                .header("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")
                .header("x-b3-spanid", "e457b5a2e4d86bd1")
                .header("x-b3-sampled", "1")
                .header("sw8", "40c7fdf104e3de67"),
        )
        .await;
        assert_eq!(response.status, 200, "{route}");
        let arrived = &stub.requests()[0].headers;
        assert_eq!(arrived["x-request-id"], request_id);
        assert_eq!(arrived["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(arrived["x-b3-spanid"], "e457b5a2e4d86bd1");
        assert_eq!(arrived["x-b3-sampled"], "1");
        assert_eq!(arrived["sw8"], "40c7fdf104e3de67");
    }
}

/// Without span export, trace headers travel as received (non-empty ones), whatever their
/// format, and the W3C form is added beside B3 when the sampling decision is known
/// (docs/behaviour.md#trace-context).
#[tokio::test]
async fn every_listed_header_is_forwarded_and_trace_headers_travel_as_received() {
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    let mut request = client().get(format!("{}/productpage", server.url()));
    for name in &PRODUCTPAGE_FORWARDED {
        request = request.header(name.as_str(), format!("v-{}", name.as_str()));
    }
    fetch(
        request
            .header("x-b3-traceid", "a2fb4a1d1a96d312")
            .header("x-b3-spanid", "e457b5a2e4d86bd1")
            .header("x-b3-parentspanid", "05e3ac9a4f6e3b90")
            .header("x-b3-flags", "1")
            .header("x-b3-sampled", "")
            .header("x-unlisted", "no"),
    )
    .await;
    for stub in [&backends.details, &backends.reviews] {
        let arrived = &stub.requests()[0].headers;
        for name in &PRODUCTPAGE_FORWARDED {
            assert_eq!(
                arrived[name],
                format!("v-{}", name.as_str()).as_str(),
                "{name}"
            );
        }
        assert_eq!(arrived["x-b3-traceid"], "a2fb4a1d1a96d312");
        assert_eq!(arrived["x-b3-spanid"], "e457b5a2e4d86bd1");
        assert_eq!(arrived["x-b3-parentspanid"], "05e3ac9a4f6e3b90");
        assert_eq!(arrived["x-b3-flags"], "1");
        assert!(arrived.get("x-b3-sampled").is_none(), "empty means absent");
        assert!(arrived.get("x-unlisted").is_none());
    }
    // A single b3 header goes on as it came, with the W3C form beside it.
    let backends = stubs().await;
    let server = productpage(backends.config()).await;
    fetch(
        client()
            .get(format!("{}/productpage", server.url()))
            .header("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"),
    )
    .await;
    let arrived = &backends.details.requests()[0].headers;
    assert_eq!(
        arrived["b3"],
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"
    );
    assert_eq!(
        arrived["traceparent"],
        "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-00"
    );
}
