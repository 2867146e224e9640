//! The page's assets, embedded in the binary and served from `/static/` (the gateway routes
//! only `/static` for assets). Revalidation by ETag answers 304, as Flask's static files did.

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "bookinfo.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/bookinfo.css"),
    },
    Asset {
        path: "bookinfo.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/bookinfo.js"),
    },
    Asset {
        path: "img/avatar.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../static/img/avatar.svg"),
    },
    Asset {
        path: "img/logo.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../static/img/logo.svg"),
    },
];

/// A strong validator from the content (FNV-1a), computed at compile time.
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

pub async fn serve_static(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return crate::routes::html_error(StatusCode::NOT_FOUND, "No such file.");
    };
    let etag = format!("\"{:016x}\"", etag_of(asset.bytes));
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
