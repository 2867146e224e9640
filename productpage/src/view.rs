//! The page's view of each backend call. Degradation is decided here, once, from each call's
//! result; the templates only render.

use service_runtime::DownstreamError;

use crate::backends::{Details, RatingEntry, Reviews};

/// Review cards shown at most. reviews sends two; a larger answer (up to the 16 KiB a call
/// reads) would otherwise be amplified about twentyfold by each card's markup.
pub const MAX_REVIEW_CARDS: usize = 20;

/// Longest star colour kept, in characters: it is written into every star's class.
const MAX_COLOR_CHARS: usize = 32;

/// The details block: `None` shows the error block.
pub fn details_view(result: Result<Details, DownstreamError>) -> Option<Details> {
    result.ok()
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewsView {
    pub podname: String,
    /// Shown only when reviews names a cluster (`"null"` means none).
    pub cluster: Option<String>,
    pub cards: Vec<ReviewCard>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewCard {
    pub reviewer: String,
    pub text: String,
    pub rating: RatingView,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RatingView {
    /// reviews v1 sends no rating.
    None,
    Stars(StarsView),
    Unavailable,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StarsView {
    /// `text-black-500` for v2, `text-red-500` for v3: the docs grep these.
    pub color_class: String,
    pub full: usize,
    pub empty: usize,
}

impl ReviewsView {
    /// The reviews block: `None` shows the error block.
    pub fn from_result(result: Result<Reviews, DownstreamError>) -> Option<Self> {
        let reviews = result.ok()?;
        let name = |value: Option<String>| value.filter(|v| !v.is_empty() && v != "null");
        Some(Self {
            podname: reviews.podname.unwrap_or_else(|| "null".into()),
            cluster: name(reviews.clustername),
            cards: reviews
                .reviews
                .into_iter()
                .take(MAX_REVIEW_CARDS)
                .map(|review| ReviewCard {
                    reviewer: review.reviewer,
                    text: review.text,
                    rating: match review.rating {
                        None => RatingView::None,
                        Some(RatingEntry {
                            stars: Some(stars),
                            color: Some(color),
                        }) => RatingView::Stars(StarsView::new(stars, &color)),
                        // `{"error": ...}`, or anything else without stars and a colour.
                        Some(_) => RatingView::Unavailable,
                    },
                })
                .collect(),
        })
    }
}

impl StarsView {
    fn new(stars: i64, color: &str) -> Self {
        let full = stars.clamp(0, 5) as usize;
        // The colour becomes part of a class name: keep it to a safe alphabet.
        let color: String = color
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(MAX_COLOR_CHARS)
            .collect();
        Self {
            color_class: format!("text-{color}-500"),
            full,
            empty: 5 - full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reviews(json: serde_json::Value) -> Result<Reviews, DownstreamError> {
        Ok(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn ratings_become_stars_or_the_unavailable_marker() {
        let view = ReviewsView::from_result(reviews(
            json!({"id": "0", "podname": "p", "clustername": "null", "reviews": [
                {"reviewer": "R1", "text": "t1", "rating": {"stars": 4, "color": "red"}},
                {"reviewer": "R2", "text": "t2", "rating": {"error": "Ratings service is currently unavailable"}},
                {"reviewer": "R3", "text": "t3"},
                {"reviewer": "R4", "text": "t4", "rating": {"stars": 9, "color": "bl\"ack"}}
            ]}),
        ))
        .unwrap();
        assert_eq!(view.cluster, None);
        let ratings: Vec<_> = view.cards.iter().map(|c| c.rating.clone()).collect();
        assert_eq!(
            ratings,
            [
                RatingView::Stars(StarsView {
                    color_class: "text-red-500".into(),
                    full: 4,
                    empty: 1
                }),
                RatingView::Unavailable,
                RatingView::None,
                RatingView::Stars(StarsView {
                    color_class: "text-black-500".into(),
                    full: 5,
                    empty: 0
                }),
            ]
        );
    }

    #[test]
    fn a_failed_call_shows_the_error_block() {
        let failed = Err(DownstreamError::Status(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
        ));
        assert_eq!(ReviewsView::from_result(failed), None);
    }
}
