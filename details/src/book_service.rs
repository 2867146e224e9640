//! The Google Books volumes API (details v2, spec §4.6).

use axum::http::HeaderMap;
use serde::Deserialize;
use service_runtime::{Call, CallError, Endpoint, HttpClient, propagation};

use crate::{
    BookServiceConfig,
    book::{Book, ProductId, Year},
};

/// The Dover edition of The Comedy of Errors; upstream looks up this ISBN whatever the id.
const ISBN: &str = "0486424618";

#[derive(Debug)]
pub enum LookupError {
    Unreachable(CallError),
    Status(u16),
    Malformed(String),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(err) => write!(f, "book service unreachable: {err}"),
            Self::Status(code) => write!(f, "book service answered {code}"),
            Self::Malformed(why) => write!(f, "book service answer not understood: {why}"),
        }
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

pub async fn fetch_book(
    client: &HttpClient,
    endpoint: &Endpoint,
    config: &BookServiceConfig,
    id: ProductId,
    incoming: &HeaderMap,
) -> Result<Book, LookupError> {
    let call = Call {
        destination: "googleapis",
        url: endpoint.url("/books/v1/volumes", Some(&format!("q=isbn:{ISBN}"))),
        headers: propagation::copy_headers(incoming, &propagation::SERVICE_FORWARDED),
        timeout: config.timeout,
        attempts: 1,
    };
    let reply = client.get(&call).await.map_err(LookupError::Unreachable)?;
    if !reply.status.is_success() {
        return Err(LookupError::Status(reply.status.as_u16()));
    }
    let volumes: Volumes =
        serde_json::from_slice(&reply.body).map_err(|e| LookupError::Malformed(e.to_string()))?;
    let info = volumes
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
