//! productpage's handlers, one module per room: the page, login, the JSON API, the assets.

pub mod api;
pub mod assets;
pub mod login;
pub mod product_page;

use axum::http::{HeaderMap, HeaderValue};
use service_runtime::propagation::{END_USER, PRODUCTPAGE_FORWARDED, copy_headers};

/// The headers every backend call carries besides trace context (which the client adds): the
/// original's verbatim list, and `end-user` from the session, never from the client's own
/// header (docs/behaviour.md#the-end-user-header).
fn outbound_headers(incoming: &HeaderMap, user: Option<&str>) -> HeaderMap {
    let mut headers = copy_headers(incoming, &PRODUCTPAGE_FORWARDED);
    if let Some(value) = user.and_then(|u| HeaderValue::from_str(u).ok()) {
        headers.insert(END_USER, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

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
