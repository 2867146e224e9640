//! The reviews JSON (docs/behaviour.md#the-reviews-json), built with serde so any value stays
//! valid JSON.

use serde::Serialize;

/// The message each review carries when ratings cannot be had.
pub const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// The two fixed reviews: (reviewer, text).
pub const REVIEWS: [(&str, &str); 2] = [
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewsResponse {
    /// A string here, unlike details and ratings (upstream interface).
    pub id: String,
    pub podname: String,
    pub clustername: String,
    pub reviews: Vec<Review>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub reviewer: &'static str,
    pub text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<Rating>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rating {
    Stars { stars: i64, color: String },
    Error { error: &'static str },
}
