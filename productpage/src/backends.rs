//! Calls to details, reviews and ratings: the header set of spec §2.1, each backend's
//! timeout and attempts, round robin over reviews addresses, and `request_result_total`.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    body::Bytes,
    http::{HeaderMap, HeaderValue, StatusCode},
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use service_runtime::{
    Call, ClientOptions, Endpoint, HttpClient, Observability,
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

/// What a backend call came to: the body of a 200 answer (its reader parses it into the
/// types it needs), else the status to pass through.
#[derive(Debug, Clone)]
pub enum Fetched {
    Ok(Bytes),
    Failed(StatusCode),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    destination_app: &'static str,
    response_code: String,
}

pub struct Backends {
    client: HttpClient,
    details: Endpoint,
    reviews: Vec<Endpoint>,
    ratings: Endpoint,
    details_call: CallPolicy,
    reviews_call: CallPolicy,
    ratings_call: CallPolicy,
    next_reviews: AtomicUsize,
    results: Family<ResultLabels, Counter>,
}

impl Backends {
    /// Registers `request_result` (exposed as `request_result_total`) in `metrics`. Fails on a
    /// client that cannot be built or an address that is not a URL.
    pub fn new(config: &Config, observability: &mut Observability) -> Result<Arc<Self>, String> {
        let results = Family::<ResultLabels, Counter>::default();
        observability.metrics.registry_mut().register(
            "request_result",
            "Results of requests",
            results.clone(),
        );
        let options = ClientOptions {
            reuse_connections: config.reuse_connections,
            ..ClientOptions::default()
        };
        let reviews = config
            .reviews_urls
            .iter()
            .map(|url| Endpoint::parse(url))
            .collect::<Result<Vec<_>, _>>()?;
        if reviews.is_empty() {
            return Err("no reviews address".into());
        }
        Ok(Arc::new(Self {
            client: HttpClient::new(options, observability).map_err(|e| e.to_string())?,
            details: Endpoint::parse(&config.details_url)?,
            reviews,
            ratings: Endpoint::parse(&config.ratings_url)?,
            details_call: config.details_call,
            reviews_call: config.reviews_call,
            ratings_call: config.ratings_call,
            next_reviews: AtomicUsize::new(0),
            results,
        }))
    }

    /// The backends' addresses, for the index page: details, reviews (each), ratings.
    pub fn addresses(&self) -> (&str, Vec<&str>, &str) {
        let reviews = self.reviews.iter().map(Endpoint::as_str).collect();
        (self.details.as_str(), reviews, self.ratings.as_str())
    }

    pub async fn fetch(&self, backend: Backend, product_id: &str, headers: &HeaderMap) -> Fetched {
        let (endpoint, policy) = match backend {
            Backend::Details => (&self.details, self.details_call),
            Backend::Ratings => (&self.ratings, self.ratings_call),
            Backend::Reviews => {
                let turn = self.next_reviews.fetch_add(1, Ordering::Relaxed);
                (&self.reviews[turn % self.reviews.len()], self.reviews_call)
            }
        };
        let path = format!("/{}/{}", backend.app(), encode_path_segment(product_id));
        let call = Call {
            destination: backend.app(),
            url: endpoint.url(&path, None),
            headers: headers.clone(),
            timeout: policy.timeout,
            attempts: policy.attempts,
        };
        let fetched = match self.client.get(&call).await {
            Ok(reply) if reply.status == StatusCode::OK => Fetched::Ok(reply.body),
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
    let mut headers = copy_headers(incoming, &PRODUCTPAGE_FORWARDED);
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
