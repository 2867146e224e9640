//! The Google Books volumes API, which details v2 reads the book from.

use axum::http::HeaderMap;
use serde::Deserialize;
use service_runtime::{
    CallError, CallPolicy, Downstream, DownstreamError, Endpoint, Endpoints, HttpClient,
};

use crate::book::{Book, ProductId, Year};

/// The Dover edition of The Comedy of Errors; the original looks up this ISBN whatever the id.
const ISBN: &str = "0486424618";

/// Why the book could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("book service unreachable: {0}")]
    Unreachable(#[source] CallError),
    #[error("book service answered {0}")]
    Status(axum::http::StatusCode),
    #[error("book service answer not understood: {0}")]
    Malformed(String),
}

impl From<DownstreamError> for LookupError {
    fn from(err: DownstreamError) -> Self {
        match err {
            DownstreamError::Call(err) => Self::Unreachable(err),
            DownstreamError::Status(status) => Self::Status(status),
            DownstreamError::Malformed(why) => Self::Malformed(why),
        }
    }
}

/// The book service's answer cap, in bytes: a Google Books volumes answer for one ISBN is a
/// few KB; with details' MAX_CONCURRENT_REQUESTS this bounds what lookups can hold.
pub const MAX_VOLUMES_BYTES: usize = 64 * 1024;

/// The book service client.
pub struct BookService {
    downstream: Downstream,
}

impl BookService {
    pub fn new(endpoint: Endpoint, timeout: std::time::Duration, client: HttpClient) -> Self {
        // One attempt: a lookup that failed once is an error answer, as in the original.
        let policy = CallPolicy {
            timeout,
            attempts: 1,
            max_answer_bytes: MAX_VOLUMES_BYTES,
        };
        Self {
            downstream: Downstream::new("googleapis", Endpoints::single(endpoint), policy, client),
        }
    }

    /// The book for `id`, looked up by ISBN, with the request's forwarded headers.
    pub async fn lookup(&self, id: ProductId, forwarded: &HeaderMap) -> Result<Book, LookupError> {
        let volumes: Volumes = self
            .downstream
            .get_json(&format!("/books/v1/volumes?q=isbn:{ISBN}"), forwarded)
            .await?;
        volumes.into_book(id)
    }
}

#[derive(Deserialize)]
struct Volumes {
    #[serde(default)]
    items: Vec<Volume>,
}

#[derive(Deserialize)]
struct Volume {
    #[serde(rename = "volumeInfo")]
    info: VolumeInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VolumeInfo {
    #[serde(default)]
    authors: Vec<String>,
    published_date: String,
    print_type: String,
    page_count: u32,
    publisher: String,
    language: String,
    #[serde(default)]
    industry_identifiers: Vec<Identifier>,
}

#[derive(Deserialize)]
struct Identifier {
    #[serde(rename = "type")]
    kind: String,
    identifier: String,
}

impl Volumes {
    fn into_book(self, id: ProductId) -> Result<Book, LookupError> {
        let info = self
            .items
            .into_iter()
            .next()
            .ok_or_else(|| LookupError::Malformed("no volume found".into()))?
            .info;
        let isbn = |kind: &str| {
            info.industry_identifiers
                .iter()
                .find(|i| i.kind == kind)
                .map(|i| i.identifier.clone())
                .ok_or_else(|| LookupError::Malformed(format!("no {kind} identifier")))
        };
        Ok(Book {
            id: id.0,
            author: info
                .authors
                .first()
                .cloned()
                .ok_or_else(|| LookupError::Malformed("no author".into()))?,
            year: Year::Text(info.published_date.clone()),
            kind: if info.print_type == "BOOK" {
                "paperback"
            } else {
                "unknown"
            }
            .into(),
            pages: info.page_count,
            publisher: info.publisher.clone(),
            language: if info.language == "en" {
                "English"
            } else {
                "unknown"
            }
            .into(),
            isbn_10: isbn("ISBN_10")?,
            isbn_13: isbn("ISBN_13")?,
        })
    }
}
