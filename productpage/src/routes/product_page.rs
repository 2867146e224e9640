//! The product page and the index page.

use std::{convert::Infallible, sync::Arc, time::Instant};

use axum::{
    extract::{FromRequestParts, State},
    http::{HeaderMap, request::Parts},
    response::{Html, IntoResponse, Response},
};
use futures::{StreamExt, stream::FuturesUnordered};
use opentelemetry::{
    Context,
    trace::{SpanKind, TraceContextExt},
};
use service_runtime::{
    hop::{self, Inbound},
    telemetry::spans,
};

use crate::{
    backends::Backend,
    mesh_panel::{MeshPanel, TraceOfView},
    product::PRODUCT,
    render::{IndexPage, MAX_PAGE_BYTES, ProductPage, render, render_bounded},
    routes::Visitor,
    state::AppState,
    view::{ReviewsView, details_view},
};

/// Sends the page view's `FLOOD_FACTOR` extra reviews calls (rate-limiting demos) and drops
/// each answer as it arrives. A call is made only once it holds one of the
/// [`MAX_FLOOD_CALLS_IN_FLIGHT`](crate::MAX_FLOOD_CALLS_IN_FLIGHT) turns every page view
/// shares, so a busy page waits for turns instead of holding thousands of calls at once; the
/// page waits at most `flood_deadline` (a slow reviews would otherwise hold it for a call
/// time per round of turns), and calls not made by then are skipped.
async fn flood(state: &AppState, outbound: &HeaderMap) {
    let calls = flood_calls(state, outbound);
    if tokio::time::timeout(state.flood_deadline, calls)
        .await
        .is_err()
    {
        tracing::debug!(
            deadline_ms = state.flood_deadline.as_millis(),
            "flood calls cut short at their deadline"
        );
    }
}

async fn flood_calls(state: &AppState, outbound: &HeaderMap) {
    let mut calls = FuturesUnordered::new();
    for _ in 0..state.flood_factor {
        let turn = loop {
            tokio::select! {
                turn = state.flood_calls.acquire() => break turn,
                // Finishing this page's own calls meanwhile frees turns.
                Some(()) = calls.next() => {}
            }
        };
        calls.push(async move {
            let _turn = turn;
            let _ = state.backends.reviews("0", outbound).await;
        });
    }
    while calls.next().await.is_some() {}
}

/// What the mesh panel needs from a page view's request, read only with MESH_PANEL on: how
/// it arrived, and its trace (the server span's context, and whether the trace is sampled).
pub struct PanelRequest(Option<(Inbound, Option<TraceOfView>)>);

impl FromRequestParts<Arc<AppState>> for PanelRequest {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Infallible> {
        if state.mesh_panel.is_none() {
            return Ok(Self(None));
        }
        let context = Context::current();
        let span = context.span();
        let ids = span.span_context();
        let trace = ids.is_valid().then(|| TraceOfView {
            id: ids.trace_id().to_string(),
            sampled: state.tracer.sampled(&parts.headers, &context),
        });
        Ok(Self(Some((Inbound::read_parts(parts), trace))))
    }
}

/// Always 200: a failed backend shows its error block, the text Istio's fault-injection
/// docs look for (docs/behaviour.md#when-a-backend-fails).
pub async fn product_page(
    State(state): State<Arc<AppState>>,
    PanelRequest(panel_request): PanelRequest,
    visitor: Visitor,
) -> Response {
    let started = Instant::now();
    let Visitor { user, outbound } = visitor;
    let backends = &state.backends;
    let page_calls = async {
        tokio::join!(
            backends.details("0", &outbound),
            backends.reviews("0", &outbound)
        )
    };
    // With the panel on, the page's own calls are recorded for it (the flood's are not).
    let (((details, reviews), attempts), ()) = match &state.mesh_panel {
        Some(_) => tokio::join!(hop::record(page_calls), flood(&state, &outbound)),
        None => {
            let (calls, ()) = tokio::join!(page_calls, flood(&state, &outbound));
            ((calls, Vec::new()), ())
        }
    };
    let mesh_panel =
        state
            .mesh_panel
            .as_ref()
            .zip(panel_request)
            .map(|(settings, (inbound, trace))| {
                MeshPanel::build(settings, &inbound, started.elapsed(), &attempts, trace)
            });
    let reviews = ReviewsView::from_result(reviews);
    state.page_views.count(reviews.as_ref());
    let page = ProductPage {
        user,
        product: &PRODUCT,
        details: details_view(details),
        reviews,
        mesh_panel,
    };
    let rendering = state
        .tracer
        .start(SpanKind::Internal, &Context::current(), || {
            ("render productpage.html".into(), vec![])
        });
    let response = match render_bounded(&page) {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            // Only backends answering what no Bookinfo backend sends get here: the page stays
            // 200 and bounded, with their error blocks.
            tracing::warn!(
                %err,
                max_page_bytes = MAX_PAGE_BYTES,
                "the product page did not fit; showing it without details and reviews"
            );
            render(&ProductPage {
                details: None,
                reviews: None,
                mesh_panel: None,
                ..page
            })
        }
    };
    spans::finish(&rendering, None, None);
    response
}

/// The service table, built from the configured backend addresses.
pub async fn index(State(state): State<Arc<AppState>>) -> Response {
    let backends = &state.backends;
    render(&IndexPage {
        details_urls: &backends.addresses(Backend::Details),
        reviews_urls: &backends.addresses(Backend::Reviews),
        ratings_urls: &backends.addresses(Backend::Ratings),
    })
}
