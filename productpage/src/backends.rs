//! Calls to details, reviews and ratings: the header set of spec §2.1, each backend's
//! timeout and attempts, round robin over reviews addresses, and `request_result_total`.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use serde_json::Value;
use service_runtime::{
    Call, ClientOptions, HttpClient, Observability,
    client::BuildError,
    propagation::{END_USER, PRODUCTPAGE_FORWARDED, TraceContext, copy_headers},
};

use crate::{CallPolicy, Config};

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

    /// The body productpage's API answers when this backend fails (spec §3.5).
    pub fn unavailable_message(self) -> &'static str {
        match self {
            Self::Details => "Sorry, product details are currently unavailable for this book.",
            Self::Reviews => "Sorry, product reviews are currently unavailable for this book.",
            Self::Ratings => "Sorry, product ratings are currently unavailable for this book.",
        }
    }
}

/// What a backend call came to: its JSON on a 200 answer, else the status to pass through.
#[derive(Debug, Clone)]
pub enum Fetched {
    Ok(Value),
    Failed(StatusCode),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    destination_app: &'static str,
    response_code: String,
}

pub struct Backends {
    client: HttpClient,
    details_url: String,
    reviews_urls: Vec<String>,
    ratings_url: String,
    details_call: CallPolicy,
    reviews_call: CallPolicy,
    ratings_call: CallPolicy,
    next_reviews: AtomicUsize,
    results: Family<ResultLabels, Counter>,
}

impl Backends {
    /// Registers `request_result` (exposed as `request_result_total`) in `metrics`.
    pub fn new(
        config: &Config,
        observability: &mut Observability,
    ) -> Result<Arc<Self>, BuildError> {
        let results = Family::<ResultLabels, Counter>::default();
        observability.metrics.registry_mut().register(
            "request_result",
            "Results of requests",
            results.clone(),
        );
        let options = ClientOptions {
            reuse_connections: config.reuse_connections,
        };
        Ok(Arc::new(Self {
            client: HttpClient::new(options, observability)?,
            details_url: config.details_url.clone(),
            reviews_urls: config.reviews_urls.clone(),
            ratings_url: config.ratings_url.clone(),
            details_call: config.details_call,
            reviews_call: config.reviews_call,
            ratings_call: config.ratings_call,
            next_reviews: AtomicUsize::new(0),
            results,
        }))
    }

    /// The backends' addresses, for the index page: details, reviews (each), ratings.
    pub fn addresses(&self) -> (&str, &[String], &str) {
        (&self.details_url, &self.reviews_urls, &self.ratings_url)
    }

    pub async fn fetch(&self, backend: Backend, product_id: &str, headers: &HeaderMap) -> Fetched {
        let (base, policy) = match backend {
            Backend::Details => (self.details_url.as_str(), self.details_call),
            Backend::Ratings => (self.ratings_url.as_str(), self.ratings_call),
            Backend::Reviews => {
                let turn = self.next_reviews.fetch_add(1, Ordering::Relaxed);
                let base = self.reviews_urls.get(turn % self.reviews_urls.len().max(1));
                (base.map_or("", String::as_str), self.reviews_call)
            }
        };
        let call = Call {
            destination: backend.app(),
            url: format!(
                "{base}/{}/{}",
                backend.app(),
                encode_path_segment(product_id)
            ),
            headers: headers.clone(),
            timeout: policy.timeout,
            attempts: policy.attempts,
        };
        let fetched = match self.client.get(&call).await {
            Ok(reply) if reply.status == StatusCode::OK => {
                match serde_json::from_slice(&reply.body) {
                    Ok(json) => Fetched::Ok(json),
                    Err(err) => {
                        tracing::warn!(backend = backend.app(), %err, "backend answered 200 with a body that is not JSON");
                        Fetched::Failed(StatusCode::BAD_GATEWAY)
                    }
                }
            }
            Ok(reply) => Fetched::Failed(reply.status),
            Err(err) => {
                tracing::warn!(backend = backend.app(), %err, "backend call failed");
                Fetched::Failed(StatusCode::INTERNAL_SERVER_ERROR)
            }
        };
        let response_code = match &fetched {
            Fetched::Ok(_) => StatusCode::OK,
            Fetched::Failed(status) => *status,
        };
        self.results
            .get_or_create(&ResultLabels {
                destination_app: backend.app(),
                response_code: response_code.as_str().to_owned(),
            })
            .inc();
        fetched
    }
}

/// The headers every backend call carries: upstream's verbatim list, B3 re-injected from the
/// incoming context (the client then completes or replaces the trace headers), and `end-user` from the session (never from the client's own header).
pub fn outbound_headers(incoming: &HeaderMap, user: Option<&str>) -> HeaderMap {
    let mut headers = copy_headers(incoming, PRODUCTPAGE_FORWARDED);
    if let Some(context) = TraceContext::from_b3(incoming) {
        context.inject_b3(&mut headers);
    }
    if let Some(value) = user.and_then(|u| HeaderValue::from_str(u).ok()) {
        headers.insert(END_USER, value);
    }
    headers
}

/// The id is pasted into the backend path as upstream does, but percent-encoded so that it
/// stays one path segment.
fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~+".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(encode_path_segment("0"), "0");
        assert_eq!(encode_path_segment("-5"), "-5");
        assert_eq!(encode_path_segment("../health?x"), "..%2Fhealth%3Fx");
    }

    #[test]
    fn end_user_comes_from_the_session_only() {
        let mut incoming = HeaderMap::new();
        incoming.insert("end-user", HeaderValue::from_static("mallory"));
        incoming.insert("x-request-id", HeaderValue::from_static("r1"));
        let anonymous = outbound_headers(&incoming, None);
        assert!(anonymous.get("end-user").is_none());
        assert_eq!(anonymous["x-request-id"], "r1");
        assert_eq!(
            outbound_headers(&incoming, Some("jason"))["end-user"],
            "jason"
        );
    }
}
