//! productpage's clients for details, reviews and ratings, the JSON types it reads from them
//! (its own, not the other crates'), and `request_result_total`, one count per logical call.

use axum::http::{HeaderMap, StatusCode};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use serde::{Deserialize, de::DeserializeOwned};
use service_runtime::{
    CallError, Downstream, DownstreamError, HttpClient, Observability, Reply,
    outbound::downstream::json_answer, tls::TlsError,
};

use crate::config::Config;

/// The three services productpage calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Details,
    Reviews,
    Ratings,
}

impl Backend {
    pub fn app(self) -> &'static str {
        match self {
            Self::Details => "details",
            Self::Reviews => "reviews",
            Self::Ratings => "ratings",
        }
    }

    /// The error productpage's API answers when this backend fails; API clients match these
    /// texts (docs/behaviour.md#the-json-api).
    pub fn unavailable_message(self) -> &'static str {
        match self {
            Self::Details => "Sorry, product details are currently unavailable for this book.",
            Self::Reviews => "Sorry, product reviews are currently unavailable for this book.",
            Self::Ratings => "Sorry, product ratings are currently unavailable for this book.",
        }
    }
}

/// details' answer, each value as the text the page shows: the external book service sends
/// `year` as a string, the static book as a number.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Details {
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

/// A JSON string, number, boolean or null, as text.
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

/// reviews' answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Reviews {
    #[serde(default)]
    pub podname: Option<String>,
    #[serde(default)]
    pub clustername: Option<String>,
    pub reviews: Vec<ReviewEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReviewEntry {
    pub reviewer: String,
    pub text: String,
    /// Absent from v1.
    #[serde(default)]
    pub rating: Option<RatingEntry>,
}

/// `{"stars": N, "color": "..."}` or `{"error": "..."}`.
#[derive(Debug, Clone, Deserialize)]
pub struct RatingEntry {
    #[serde(default)]
    pub stars: Option<i64>,
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    destination_app: &'static str,
    response_code: String,
}

/// The three downstreams, each with its own addresses and call policy.
pub struct Backends {
    details: Downstream,
    reviews: Downstream,
    ratings: Downstream,
    results: Family<ResultLabels, Counter>,
}

impl Backends {
    /// Registers `request_result` (exposed as `request_result_total`) with the service's
    /// metrics.
    ///
    /// # Errors
    /// When the client's TLS configuration cannot be built.
    pub fn new(config: &Config, observability: &mut Observability) -> Result<Self, TlsError> {
        let results = Family::<ResultLabels, Counter>::default();
        observability.metrics.registry_mut().register(
            "request_result",
            "Results of requests",
            results.clone(),
        );
        let client = HttpClient::new(
            config.page.backend_connection_pooling,
            observability.calls(),
        )?;
        Ok(Self {
            details: Downstream::new(
                "details",
                config.details.clone(),
                config.details_call,
                client.clone(),
            ),
            reviews: Downstream::new(
                "reviews",
                config.reviews.clone(),
                config.reviews_call,
                client.clone(),
            ),
            ratings: Downstream::new(
                "ratings",
                config.ratings.clone(),
                config.ratings_call,
                client,
            ),
            results,
        })
    }

    fn downstream(&self, backend: Backend) -> &Downstream {
        match backend {
            Backend::Details => &self.details,
            Backend::Reviews => &self.reviews,
            Backend::Ratings => &self.ratings,
        }
    }

    /// Every address of `backend`, for the index page.
    pub fn addresses(&self, backend: Backend) -> Vec<String> {
        self.downstream(backend)
            .endpoints()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The product's details, for the page.
    pub async fn details(
        &self,
        product_id: &str,
        headers: &HeaderMap,
    ) -> Result<Details, DownstreamError> {
        self.get_json(Backend::Details, product_id, headers).await
    }

    /// The product's reviews, for the page.
    pub async fn reviews(
        &self,
        product_id: &str,
        headers: &HeaderMap,
    ) -> Result<Reviews, DownstreamError> {
        self.get_json(Backend::Reviews, product_id, headers).await
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        backend: Backend,
        product_id: &str,
        headers: &HeaderMap,
    ) -> Result<T, DownstreamError> {
        json_answer(self.raw(backend, product_id, headers).await?)
            .inspect_err(|err| tracing::warn!(backend = backend.app(), %err, "unusable answer"))
    }

    /// `backend`'s answer for the product whatever its status (the JSON API passes it on),
    /// counted in `request_result_total`: its status, or 500 when there was none.
    pub async fn raw(
        &self,
        backend: Backend,
        product_id: &str,
        headers: &HeaderMap,
    ) -> Result<Reply, CallError> {
        let result = self
            .downstream(backend)
            .get(&product_path(backend, product_id), headers)
            .await;
        let code = match &result {
            Ok(reply) => reply.status,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        self.count(backend, code);
        result
            .inspect_err(|err| tracing::warn!(backend = backend.app(), %err, "backend call failed"))
    }

    fn count(&self, backend: Backend, code: StatusCode) {
        self.results
            .get_or_create(&ResultLabels {
                destination_app: backend.app(),
                response_code: code.as_str().to_owned(),
            })
            .inc();
    }
}

/// `/{backend}/{id}`. The id is pasted in as the original does, but percent-encoded so that
/// it stays one path segment and cannot reach another backend route.
fn product_path(backend: Backend, product_id: &str) -> String {
    let mut path = format!("/{}/", backend.app());
    for byte in product_id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~+".contains(&byte) {
            path.push(byte as char);
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(product_path(Backend::Details, "0"), "/details/0");
        assert_eq!(product_path(Backend::Reviews, "-5"), "/reviews/-5");
        assert_eq!(
            product_path(Backend::Ratings, "../health?x"),
            "/ratings/..%2Fhealth%3Fx"
        );
    }

    #[test]
    fn details_values_are_text_whatever_their_json_type() {
        let details: Details = serde_json::from_value(serde_json::json!({
            "id": 0, "author": "A", "year": "2002-07-23", "pages": 80, "type": "paperback",
            "publisher": null, "language": "English", "ISBN-10": "1", "ISBN-13": true
        }))
        .unwrap();
        assert_eq!(details.year.0, "2002-07-23");
        assert_eq!(details.pages.0, "80");
        assert_eq!(details.publisher.0, "");
        assert_eq!(details.isbn_13.0, "true");
    }
}
