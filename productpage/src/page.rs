//! The HTML pages. Degradation is decided here, once, from each backend call's result; the
//! templates only render.

use askama::Template;
use serde::{Deserialize, Serialize};

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
    pub reviews_urls: &'a [&'a str],
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DetailsView {
    #[serde(default)]
    pub author: Text,
    #[serde(default)]
    pub year: Text,
    #[serde(default, rename = "type")]
    pub kind: Text,
    #[serde(default)]
    pub pages: Text,
    #[serde(default)]
    pub publisher: Text,
    #[serde(default)]
    pub language: Text,
    #[serde(default, rename = "ISBN-10")]
    pub isbn_10: Text,
    #[serde(default, rename = "ISBN-13")]
    pub isbn_13: Text,
}

impl DetailsView {
    /// `None` (the error block) unless details answered 200 with a JSON object.
    pub fn from_fetched(fetched: &Fetched) -> Option<Self> {
        let Fetched::Ok(body) = fetched else {
            return None;
        };
        json_object(body, "details")
    }
}

/// `body` as `T` if it is a JSON object of that shape. Derived structs would also accept a
/// JSON array, matching fields by position; a backend never means that.
fn json_object<T: serde::de::DeserializeOwned>(body: &[u8], backend: &str) -> Option<T> {
    let is_object = body.trim_ascii_start().first() == Some(&b'{');
    let parsed = if is_object {
        serde_json::from_slice(body).map_err(|err| err.to_string())
    } else {
        Err("not a JSON object".to_owned())
    };
    parsed
        .inspect_err(|err| tracing::warn!(backend, %err, "unexpected answer"))
        .ok()
}

/// A JSON string, number, boolean or null, as the text the page shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text(pub String);

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl serde::de::Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Text, E> {
                Ok(Text::default())
            }
        }
        deserializer.deserialize_any(TextVisitor)
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

/// `{"stars": N, "color": "..."}` or `{"error": "..."}`; anything without stars and a colour
/// counts as unavailable.
#[derive(Debug, Deserialize)]
struct RatingPayload {
    #[serde(default)]
    stars: Option<i64>,
    #[serde(default)]
    color: Option<String>,
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
    pub fn from_fetched(fetched: &Fetched) -> Option<Self> {
        let Fetched::Ok(body) = fetched else {
            return None;
        };
        let payload: ReviewsPayload = json_object(body, "reviews")?;
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
                        Some(RatingPayload {
                            stars: Some(stars),
                            color: Some(color),
                        }) => RatingView::Stars(StarsView::new(stars, &color)),
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

    fn ok(json: serde_json::Value) -> Fetched {
        Fetched::Ok(serde_json::to_vec(&json).unwrap().into())
    }

    #[test]
    fn ratings_become_stars_or_the_unavailable_marker() {
        let fetched = ok(
            json!({"id": "0", "podname": "p", "clustername": "null", "reviews": [
                {"reviewer": "R1", "text": "t1", "rating": {"stars": 4, "color": "red"}},
                {"reviewer": "R2", "text": "t2", "rating": {"error": "Ratings service is currently unavailable"}},
                {"reviewer": "R3", "text": "t3"},
                {"reviewer": "R4", "text": "t4", "rating": {"stars": 9, "color": "bl\"ack"}}
            ]}),
        );
        let view = ReviewsView::from_fetched(&fetched).unwrap();
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
        assert_eq!(ReviewsView::from_fetched(&ok(json!({"reviews": 3}))), None);
        assert_eq!(DetailsView::from_fetched(&ok(json!([1]))), None);
        assert_eq!(
            DetailsView::from_fetched(&Fetched::Ok("<html>".into())),
            None
        );
    }

    #[test]
    fn details_values_show_as_text_whatever_their_json_type() {
        let view = DetailsView::from_fetched(&ok(json!({
            "id": 0, "author": "A", "year": "2002-07-23", "pages": 80, "type": "paperback",
            "publisher": null, "language": "English", "ISBN-10": "1", "ISBN-13": true
        })))
        .unwrap();
        assert_eq!(view.year.0, "2002-07-23");
        assert_eq!(view.pages.0, "80");
        assert_eq!(view.publisher.0, "");
        assert_eq!(view.isbn_13.0, "true");
        let numeric_year = DetailsView::from_fetched(&ok(json!({"year": 1595}))).unwrap();
        assert_eq!(numeric_year.year.0, "1595");
    }
}
