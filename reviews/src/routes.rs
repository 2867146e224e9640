//! The reviews router and its handler.

use std::{collections::HashMap, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, response::Response, routing::get};
use service_runtime::{
    App, ForwardedHeaders, HttpClient, Observability, PathParam,
    json::{error_response, json_response, not_found, raw_json},
    tls::TlsError,
};

use crate::{
    config::Config,
    ratings_client::{RatingsClient, Stars},
    review::{RATINGS_UNAVAILABLE, REVIEWS, Rating, Review, ReviewsResponse},
};

const HEALTHY: &str = r#"{"status": "Reviews is healthy"}"#;

struct AppState {
    /// `None` is v1.
    ratings: Option<RatingsClient>,
    star_color: String,
    podname: String,
    clustername: String,
}

/// The reviews service with `/health` and `/metrics`.
///
/// # Errors
/// When the ratings client's TLS configuration cannot be built.
pub fn app(config: Config) -> Result<App, TlsError> {
    let observability = Observability::new(&config.tracing);
    let ratings = match config.ratings {
        Some(settings) => Some(RatingsClient::new(
            settings,
            HttpClient::new(false, observability.calls())?,
        )),
        None => None,
    };
    let state = Arc::new(AppState {
        ratings,
        star_color: config.star_color,
        podname: config.podname,
        clustername: config.clustername,
    });
    let router = Router::new()
        .route(
            "/health",
            get(|| async { raw_json(StatusCode::OK, HEALTHY) }),
        )
        .route("/reviews/{id}", get(reviews))
        .fallback(not_found)
        .with_state(state);
    Ok(App::observed(router, observability))
}

async fn reviews(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
    ForwardedHeaders(forwarded): ForwardedHeaders,
) -> Response {
    // The original's JAX-RS `int` parameter: `+5` and `007` are fine, anything else a 404.
    let Ok(product_id) = id.parse::<i32>() else {
        return error_response(StatusCode::NOT_FOUND, "product id must be an integer");
    };
    let ratings = match &state.ratings {
        None => None,
        // Any failure leaves the map empty: every review then says ratings are unavailable.
        Some(client) => Some(
            client
                .ratings(product_id, &forwarded)
                .await
                .inspect_err(|err| tracing::warn!(%err, "ratings failed"))
                .unwrap_or_default(),
        ),
    };
    let body = ReviewsResponse {
        id: product_id.to_string(),
        podname: state.podname.clone(),
        clustername: state.clustername.clone(),
        reviews: REVIEWS
            .iter()
            .map(|&(reviewer, text)| Review {
                reviewer,
                text,
                rating: ratings
                    .as_ref()
                    .map(|ratings| rating_for(ratings, reviewer, &state.star_color)),
            })
            .collect(),
    };
    json_response(StatusCode::OK, &body)
}

/// A reviewer's stars, or the unavailable marker when ratings failed or lack that reviewer.
fn rating_for(ratings: &HashMap<String, Stars>, reviewer: &str, color: &str) -> Rating {
    match ratings.get(reviewer) {
        Some(&stars) => Rating::Stars {
            stars: stars.into(),
            color: color.to_owned(),
        },
        None => Rating::Error {
            error: RATINGS_UNAVAILABLE,
        },
    }
}
