//! The reviews router.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::get,
};
use serde_json::{Map, Value};
use service_runtime::{
    App, ClientOptions, Observability, Upstream,
    json::{error_response, json_response, raw_json},
    metrics::not_found,
};

use crate::{
    Config,
    ratings_client::fetch_ratings,
    review::{RATINGS_UNAVAILABLE, REVIEWS, Rating, Review, ReviewsResponse},
};

const HEALTHY: &str = r#"{"status": "Reviews is healthy"}"#;

struct AppState {
    config: Config,
    /// ratings, when enabled and usable.
    ratings: Option<Upstream>,
}

/// The reviews service with `/health` and `/metrics`.
pub fn app(config: Config) -> App {
    let observability = Observability::new(&config.tracing);
    let ratings = config.ratings.as_ref().and_then(|ratings| {
        Upstream::new(
            "ratings",
            &ratings.base_url,
            ClientOptions::default(),
            &observability,
        )
    });
    let state = Arc::new(AppState { config, ratings });
    let router = Router::new()
        .route(
            "/health",
            get(|| async { raw_json(StatusCode::OK, HEALTHY) }),
        )
        .route("/reviews/{id}", get(reviews))
        .fallback(not_found)
        .with_state(state);
    observability.into_app(router)
}

async fn reviews(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    // Upstream's JAX-RS `int` parameter: `+5` and `007` are fine, anything else is a 404.
    let Ok(product_id) = id.parse::<i32>() else {
        return error_response(StatusCode::NOT_FOUND, "product id must be an integer");
    };
    let config = &state.config;
    let ratings = match (&config.ratings, &state.ratings) {
        (Some(ratings_config), Some(Upstream { client, endpoint })) => Some(
            fetch_ratings(client, endpoint, ratings_config, product_id, &headers)
                .await
                .unwrap_or_default(),
        ),
        (Some(_), None) => Some(Map::new()),
        (None, _) => None,
    };
    let body = ReviewsResponse {
        id: product_id.to_string(),
        podname: config.podname.clone(),
        clustername: config.clustername.clone(),
        reviews: REVIEWS
            .iter()
            .map(|&(reviewer, text)| Review {
                reviewer,
                text,
                rating: ratings
                    .as_ref()
                    .map(|ratings| rating_for(ratings, reviewer, &config.star_color)),
            })
            .collect(),
    };
    json_response(StatusCode::OK, &body)
}

/// A reviewer's stars, or the unavailable marker when ratings failed or lack that reviewer.
fn rating_for(ratings: &Map<String, Value>, reviewer: &str, color: &str) -> Rating {
    match ratings.get(reviewer).and_then(Value::as_i64) {
        Some(stars) => Rating::Stars {
            stars,
            color: color.to_owned(),
        },
        None => Rating::Error {
            error: RATINGS_UNAVAILABLE,
        },
    }
}
