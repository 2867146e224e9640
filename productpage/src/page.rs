//! The HTML pages. Degradation is decided here, once, from each backend call's result; the
//! templates only render.

use askama::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backends::Fetched;

/// The one product Bookinfo sells (spec §3.4). Field order is interface.
#[derive(Debug, Serialize)]
pub struct Product {
    pub id: u32,
    pub title: &'static str,
    #[serde(rename = "descriptionHtml")]
    pub description_html: &'static str,
}

pub const PRODUCT: Product = Product {
    id: 0,
    title: "The Comedy of Errors",
    description_html: "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.",
};

#[derive(Template)]
#[template(path = "productpage.html")]
pub struct ProductPage {
    pub user: Option<String>,
    pub product: &'static Product,
    pub details: Option<DetailsView>,
    pub reviews: Option<ReviewsView>,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    pub details_url: &'a str,
    pub reviews_urls: &'a [String],
    pub ratings_url: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub message: &'a str,
}

/// The details table, each value shown as text (the external book service sends `year` as a
/// string, the static one as a number).
#[derive(Debug, Clone, PartialEq)]
pub struct DetailsView {
    pub author: String,
    pub year: String,
    pub kind: String,
    pub pages: String,
    pub publisher: String,
    pub language: String,
    pub isbn_10: String,
    pub isbn_13: String,
}

impl DetailsView {
    /// `None` (the error block) unless details answered 200 with a JSON object.
    pub fn from_fetched(fetched: &Fetched) -> Option<Self> {
        let Fetched::Ok(Value::Object(book)) = fetched else {
            return None;
        };
        let text = |key: &str| match book.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        Some(Self {
            author: text("author"),
            year: text("year"),
            kind: text("type"),
            pages: text("pages"),
            publisher: text("publisher"),
            language: text("language"),
            isbn_10: text("ISBN-10"),
            isbn_13: text("ISBN-13"),
        })
    }
}

/// The reviews JSON as productpage reads it (its own types, not the reviews crate's).
#[derive(Debug, Deserialize)]
struct ReviewsPayload {
    #[serde(default)]
    podname: Option<String>,
    #[serde(default)]
    clustername: Option<String>,
    reviews: Vec<ReviewPayload>,
}

#[derive(Debug, Deserialize)]
struct ReviewPayload {
    reviewer: String,
    text: String,
    #[serde(default)]
    rating: Option<RatingPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RatingPayload {
    Stars {
        stars: i64,
        color: String,
    },
    /// The message is fixed (`Ratings service is currently unavailable`); only its presence counts.
    Error {
        #[serde(rename = "error")]
        _error: serde::de::IgnoredAny,
    },
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
    /// `None` (the error block) unless reviews answered 200 with reviews JSON.
    pub fn from_fetched(fetched: Fetched) -> Option<Self> {
        let Fetched::Ok(json) = fetched else {
            return None;
        };
        let payload: ReviewsPayload = serde_json::from_value(json)
            .inspect_err(|err| tracing::warn!(%err, "reviews answered JSON that is not reviews"))
            .ok()?;
        let name = |value: Option<String>| value.filter(|v| !v.is_empty() && v != "null");
        Some(Self {
            podname: payload.podname.unwrap_or_else(|| "null".into()),
            cluster: name(payload.clustername),
            cards: payload
                .reviews
                .into_iter()
                .map(|review| ReviewCard {
                    reviewer: review.reviewer,
                    text: review.text,
                    rating: match review.rating {
                        None => RatingView::None,
                        Some(RatingPayload::Error { .. }) => RatingView::Unavailable,
                        Some(RatingPayload::Stars { stars, color }) => {
                            RatingView::Stars(StarsView::new(stars, &color))
                        }
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

    #[test]
    fn ratings_become_stars_or_the_unavailable_marker() {
        let fetched = Fetched::Ok(
            json!({"id": "0", "podname": "p", "clustername": "null", "reviews": [
                {"reviewer": "R1", "text": "t1", "rating": {"stars": 4, "color": "red"}},
                {"reviewer": "R2", "text": "t2", "rating": {"error": "Ratings service is currently unavailable"}},
                {"reviewer": "R3", "text": "t3"},
                {"reviewer": "R4", "text": "t4", "rating": {"stars": 9, "color": "bl\"ack"}}
            ]}),
        );
        let view = ReviewsView::from_fetched(fetched).unwrap();
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
    fn malformed_answers_are_errors() {
        assert_eq!(
            ReviewsView::from_fetched(Fetched::Ok(json!({"reviews": 3}))),
            None
        );
        assert_eq!(DetailsView::from_fetched(&Fetched::Ok(json!([1]))), None);
    }
}
