//! The page's assets, embedded in the binary and served from `/static/` (the gateway routes
//! only `/static` for assets). Revalidation by ETag answers 304, as Flask's static files did.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use service_runtime::PathParam;

use crate::render::html_error;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// FNV-1a of the bytes, computed at compile time; the ETag is its hex.
    hash: u64,
}

const ASSETS: &[Asset] = &[
    asset(
        "bookinfo.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/bookinfo.css"),
    ),
    asset(
        "bookinfo.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/bookinfo.js"),
    ),
    asset(
        "img/avatar.svg",
        "image/svg+xml",
        include_bytes!("../../static/img/avatar.svg"),
    ),
    asset(
        "img/logo.svg",
        "image/svg+xml",
        include_bytes!("../../static/img/logo.svg"),
    ),
];

const fn asset(path: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset {
        path,
        content_type,
        bytes,
        hash: etag_of(bytes),
    }
}

/// A strong validator from the content (FNV-1a); `const`, so each asset's is computed at
/// compile time.
const fn etag_of(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

pub async fn serve_static(PathParam(path): PathParam, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return html_error(StatusCode::NOT_FOUND, "No such file.");
    };
    let etag = format!("\"{:016x}\"", asset.hash);
    let etag_header = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let revalidated = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if revalidated {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_header), cache],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, etag_header),
            cache,
        ],
        asset.bytes,
    )
        .into_response()
}
