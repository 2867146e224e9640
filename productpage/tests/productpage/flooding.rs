//! FLOOD_FACTOR: the extra reviews calls and their shared bound.

use super::*;

#[tokio::test]
async fn flood_factor_sends_extra_reviews_calls() {
    let backends = stubs().await;
    let mut config = backends.config();
    config.page.flood_factor = 5;
    let server = productpage(config).await;
    get(format!("{}/productpage", server.url())).await;
    assert_eq!(backends.reviews.requests().len(), 6);
    assert_eq!(backends.details.requests().len(), 1);
    get(format!("{}/api/v1/products/0/reviews", server.url())).await;
    assert_eq!(backends.reviews.requests().len(), 7, "only the page floods");
}

#[tokio::test]
async fn flood_calls_take_turns_under_a_bound_shared_by_every_page_view() {
    let backends = stubs().await;
    backends
        .reviews
        .set_answer(Answer::json(200, REVIEWS_V1).delayed(Duration::from_millis(100)));
    let mut config = backends.config();
    config.page.flood_factor = 60;
    let server = productpage(config).await;
    let pages = (0..2).map(|_| get(format!("{}/productpage", server.url())));
    futures::future::join_all(pages).await;
    assert_eq!(
        backends.reviews.requests().len(),
        2 * 61,
        "every call is sent"
    );
    let most = backends.reviews.most_in_progress();
    // The flood calls, plus each page's own reviews call.
    assert!(most <= MAX_FLOOD_CALLS_IN_FLIGHT + 2, "{most} at once");
}

/// One reviews call's time at most (here 400 ms × 2 attempts), not one per round of turns.
#[tokio::test]
async fn a_slow_reviews_holds_a_flooding_page_no_longer_than_one_call() {
    let backends = stubs().await;
    backends
        .reviews
        .set_answer(Answer::json(200, REVIEWS_V1).delayed(Duration::from_secs(5)));
    let mut config = backends.config();
    config.page.flood_factor = 4 * MAX_FLOOD_CALLS_IN_FLIGHT as u32;
    let server = productpage(config).await;
    let started = Instant::now();
    let page = get(format!("{}/productpage", server.url())).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Sorry, product reviews are currently unavailable"),
        "{}",
        page.body
    );
    // Four rounds of turns would take 3.2 s.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}
