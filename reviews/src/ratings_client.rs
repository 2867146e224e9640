//! The call to ratings.

use axum::http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use serde_json::{Map, Value};
use service_runtime::{Call, Endpoint, HttpClient, propagation};

use crate::RatingsConfig;

#[derive(Deserialize)]
struct RatingsBody {
    ratings: Map<String, Value>,
}

/// The product's ratings by reviewer, or `None` when ratings failed in any way: unreachable,
/// timed out, non-200, or a body that is not `{"ratings": {...}}` (upstream answered 500 then).
pub async fn fetch_ratings(
    client: &HttpClient,
    endpoint: &Endpoint,
    config: &RatingsConfig,
    product_id: i32,
    incoming: &HeaderMap,
) -> Option<Map<String, Value>> {
    let mut headers = propagation::copy_headers(incoming, &propagation::SERVICE_FORWARDED);
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let call = Call {
        destination: "ratings",
        url: endpoint.url(&format!("/ratings/{product_id}"), None),
        headers,
        timeout: config.timeout,
        attempts: 1,
    };
    let reply = client.get(&call).await.ok()?;
    if reply.status != axum::http::StatusCode::OK {
        return None;
    }
    match serde_json::from_slice::<RatingsBody>(&reply.body) {
        Ok(body) => Some(body.ratings),
        Err(err) => {
            tracing::warn!(%err, "ratings answered a body that is not ratings");
            None
        }
    }
}
