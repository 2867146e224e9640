//! The ratings client.

use axum::http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use serde_json::{Map, Value};
use service_runtime::{CallPolicy, Downstream, DownstreamError, HttpClient};

use crate::config::RatingsSettings;

#[derive(Deserialize)]
struct RatingsBody {
    ratings: Map<String, Value>,
}

/// ratings, as reviews v2 and v3 call it.
pub struct RatingsClient {
    downstream: Downstream,
}

impl RatingsClient {
    pub fn new(settings: RatingsSettings, client: HttpClient) -> Self {
        // One attempt: a failure shows as "ratings unavailable" at once.
        let policy = CallPolicy {
            timeout: settings.timeout,
            attempts: 1,
        };
        Self {
            downstream: Downstream::new("ratings", settings.endpoints, policy, client),
        }
    }

    /// The product's stars by reviewer, with the request's forwarded headers.
    pub async fn ratings(
        &self,
        product_id: i32,
        forwarded: &HeaderMap,
    ) -> Result<Map<String, Value>, DownstreamError> {
        let mut headers = forwarded.clone();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let body: RatingsBody = self
            .downstream
            .get_json(&format!("/ratings/{product_id}"), &headers)
            .await?;
        Ok(body.ratings)
    }
}
