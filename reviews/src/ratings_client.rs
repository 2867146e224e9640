//! The ratings client.

use axum::http::{HeaderMap, HeaderValue, header};
use std::collections::HashMap;

use serde::Deserialize;
use service_runtime::{CallPolicy, Downstream, DownstreamError, HttpClient};

use crate::config::RatingsSettings;

#[derive(Deserialize)]
struct RatingsBody {
    ratings: HashMap<String, Stars>,
}

/// A reviewer's whole stars, 0 to 5. Anything else makes the whole ratings answer
/// malformed, as a failed call is: every review then says ratings are unavailable rather
/// than drawing a number of stars ratings never meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub struct Stars(u8);

impl TryFrom<i64> for Stars {
    type Error = String;

    fn try_from(stars: i64) -> Result<Self, String> {
        match u8::try_from(stars) {
            Ok(stars @ 0..=5) => Ok(Self(stars)),
            _ => Err(format!("{stars} stars is outside 0 to 5")),
        }
    }
}

impl From<Stars> for i64 {
    fn from(stars: Stars) -> Self {
        i64::from(stars.0)
    }
}

/// ratings, as reviews v2 and v3 call it.
pub struct RatingsClient {
    downstream: Downstream,
}

impl RatingsClient {
    pub fn new(settings: RatingsSettings, client: HttpClient) -> Self {
        // One attempt: a failure shows as "ratings unavailable" at once.
        let policy = CallPolicy::service(settings.timeout, 1);
        Self {
            downstream: Downstream::new("ratings", settings.endpoints, policy, client),
        }
    }

    /// The product's stars by reviewer, with the request's forwarded headers.
    pub async fn ratings(
        &self,
        product_id: i32,
        forwarded: &HeaderMap,
    ) -> Result<HashMap<String, Stars>, DownstreamError> {
        let mut headers = forwarded.clone();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let body: RatingsBody = self
            .downstream
            .get_json(&format!("/ratings/{product_id}"), &headers)
            .await?;
        Ok(body.ratings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_outside_0_to_5_make_the_answer_malformed() {
        let parse = |body: &str| serde_json::from_str::<RatingsBody>(body).map(|b| b.ratings);
        assert_eq!(
            parse(r#"{"id":0,"ratings":{"a":0,"b":5}}"#)
                .ok()
                .map(|r| r["b"]),
            Some(Stars(5))
        );
        for bad in ["6", "-1", "2.5", "\"5\"", "1e9"] {
            let body = format!(r#"{{"id":0,"ratings":{{"a":4,"b":{bad}}}}}"#);
            assert!(parse(&body).is_err(), "{body}");
        }
    }
}
