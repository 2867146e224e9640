//! Ratings kept in memory per product id.

use std::{collections::HashMap, sync::Mutex};

use serde_json::{Map, Value};

/// Stars a reviewer may give.
const STARS: std::ops::RangeInclusive<i64> = 0..=5;

/// Largest ratings POST body, in bytes (413 above it). Bookinfo's own are a few dozen bytes
/// and 100 reviewers fit; this bounds what one product can store, and keeps every GET answer
/// below what reviews reads ([`service_runtime::outbound::client::SERVICE_ANSWER_BYTES`]).
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// Reviewers per product at most (400 above it).
pub const MAX_REVIEWERS: usize = 100;

/// Products with posted ratings at most; a POST for another product is refused (409) until
/// the process restarts. With [`MAX_BODY_BYTES`], the store holds at most 4 MiB of JSON text
/// (docs/performance.md).
pub const MAX_PRODUCTS: usize = 1000;

/// Why the store refused ratings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("at most {MAX_PRODUCTS} products can have posted ratings; this one cannot be added")]
    Full,
}

/// The ratings every product has until someone POSTs others: 5 and 4 stars, what the docs
/// show (docs/behaviour.md#the-ratings-json).
pub fn default_ratings() -> Map<String, Value> {
    let mut ratings = Map::new();
    ratings.insert("Reviewer1".into(), 5.into());
    ratings.insert("Reviewer2".into(), 4.into());
    ratings
}

/// Ratings per product. Each POST replaces a product's ratings whole under one lock, so
/// concurrent writers never interleave and no write is lost. Each product's ratings are kept
/// as their compact JSON text, not as a map: a full store is then at most
/// [`MAX_PRODUCTS`] × [`MAX_BODY_BYTES`] (4 MiB), where maps of 100 reviewers took about four
/// times that (docs/performance.md).
#[derive(Debug, Default)]
pub struct RatingsStore {
    by_product: Mutex<HashMap<i64, Box<str>>>,
}

impl RatingsStore {
    pub fn get(&self, id: i64) -> Map<String, Value> {
        let stored = match self.by_product.lock() {
            Ok(map) => map.get(&id).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&id).cloned(),
        };
        stored
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(default_ratings)
    }

    /// Replaces a product's ratings; a new product is refused once [`MAX_PRODUCTS`] have
    /// ratings.
    pub fn put(&self, id: i64, ratings: Map<String, Value>) -> Result<(), StoreError> {
        let text = Value::Object(ratings).to_string().into_boxed_str();
        let mut map = self
            .by_product
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_PRODUCTS && !map.contains_key(&id) {
            return Err(StoreError::Full);
        }
        map.insert(id, text);
        Ok(())
    }
}

/// Accepts only an object mapping at most [`MAX_REVIEWERS`] reviewer names to whole stars 0–5
/// (upstream stored any JSON, which later made reviews fail).
pub fn validate_ratings(body: Value) -> Result<Map<String, Value>, &'static str> {
    const SHAPE: &str =
        "ratings must be a JSON object mapping reviewer names to whole stars from 0 to 5";
    const TOO_MANY: &str = "at most 100 reviewers per product";
    let Value::Object(ratings) = body else {
        return Err(SHAPE);
    };
    if ratings.len() > MAX_REVIEWERS {
        return Err(TOO_MANY);
    }
    let valid = ratings
        .values()
        .all(|stars| stars.as_i64().is_some_and(|n| STARS.contains(&n)));
    if valid { Ok(ratings) } else { Err(SHAPE) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_largest_answer_fits_what_reviews_reads() {
        // An answer is `{"id":<i64>,"ratings":<the posted object>}`: the body plus 40 bytes.
        use service_runtime::outbound::client::SERVICE_ANSWER_BYTES;
        const { assert!(MAX_BODY_BYTES + 40 < SERVICE_ANSWER_BYTES) };
        assert!(TOO_MANY_MESSAGE.contains(&MAX_REVIEWERS.to_string()));
    }

    const TOO_MANY_MESSAGE: &str = "at most 100 reviewers per product";

    #[test]
    fn the_store_is_bounded_in_products_and_reviewers() {
        let store = RatingsStore::default();
        for id in 0..MAX_PRODUCTS as i64 {
            assert_eq!(store.put(id, default_ratings()), Ok(()));
        }
        assert_eq!(store.put(-1, default_ratings()), Err(StoreError::Full));
        assert_eq!(
            store.put(7, Map::new()),
            Ok(()),
            "an existing product changes"
        );
        assert_eq!(store.get(7), Map::new());
        let mut ratings = default_ratings();
        ratings.insert("Reviewer3".into(), json!(1));
        assert_eq!(store.put(8, ratings.clone()), Ok(()));
        assert_eq!(
            store.get(8),
            ratings,
            "kept as text, read back whole and in order"
        );
        assert_eq!(store.get(-1), default_ratings());
        let many: Map<String, Value> = (0..=MAX_REVIEWERS)
            .map(|n| (format!("r{n}"), json!(3)))
            .collect();
        assert_eq!(validate_ratings(Value::Object(many)), Err(TOO_MANY_MESSAGE));
    }

    #[test]
    fn validation_accepts_only_reviewer_star_maps() {
        assert!(validate_ratings(json!({"Reviewer1": 1, "Reviewer2": 0})).is_ok());
        assert!(validate_ratings(json!({})).is_ok());
        for bad in [
            json!([1, 2]),
            json!("x"),
            json!({"a": 6}),
            json!({"a": -1}),
            json!({"a": 2.5}),
            json!({"a": "5"}),
        ] {
            assert!(validate_ratings(bad.clone()).is_err(), "{bad}");
        }
    }
}
