//! Ratings kept in memory per product id.

use std::{collections::HashMap, sync::Mutex};

use serde_json::{Map, Value};

/// Stars a reviewer may give.
const STARS: std::ops::RangeInclusive<i64> = 0..=5;

/// The ratings every product has until someone POSTs others: 5 and 4 stars, what the docs
/// show (docs/behaviour.md#the-ratings-json).
pub fn default_ratings() -> Map<String, Value> {
    let mut ratings = Map::new();
    ratings.insert("Reviewer1".into(), 5.into());
    ratings.insert("Reviewer2".into(), 4.into());
    ratings
}

/// Ratings per product. Each POST replaces a product's ratings whole under one lock, so
/// concurrent writers never interleave and no write is lost.
#[derive(Debug, Default)]
pub struct RatingsStore {
    by_product: Mutex<HashMap<i64, Map<String, Value>>>,
}

impl RatingsStore {
    pub fn get(&self, id: i64) -> Map<String, Value> {
        let stored = match self.by_product.lock() {
            Ok(map) => map.get(&id).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&id).cloned(),
        };
        stored.unwrap_or_else(default_ratings)
    }

    pub fn put(&self, id: i64, ratings: Map<String, Value>) {
        let mut map = self
            .by_product
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(id, ratings);
    }
}

/// Accepts only an object mapping reviewer names to whole stars 0–5 (upstream stored any JSON,
/// which later made reviews fail).
pub fn validate_ratings(body: Value) -> Result<Map<String, Value>, &'static str> {
    const SHAPE: &str =
        "ratings must be a JSON object mapping reviewer names to whole stars from 0 to 5";
    let Value::Object(ratings) = body else {
        return Err(SHAPE);
    };
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
