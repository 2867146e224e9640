//! productpage's handlers, one module per room: the page, login, the JSON API, the assets.

pub mod api;
pub mod assets;
pub mod login;
pub mod product_page;

use std::{convert::Infallible, sync::Arc};

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, request::Parts},
};
use service_runtime::propagation::{END_USER, PRODUCTPAGE_COPIED, copy_headers};

use crate::state::AppState;

/// Who is visiting, read once per request for every handler that calls a backend: the
/// signed-in user from the session cookie (none when it is absent, forged or expired), and
/// the headers each backend call of this visit carries.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The signed-in user, from a valid session cookie.
    pub user: Option<String>,
    /// The copied headers of the request, and `end-user` when signed in.
    pub outbound: HeaderMap,
}

impl FromRequestParts<Arc<AppState>> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Infallible> {
        let user = state.session.user(&parts.headers);
        let outbound = outbound_headers(&parts.headers, user.as_deref());
        Ok(Self { user, outbound })
    }
}

/// The headers every backend call carries besides trace context (which the client adds): the
/// original's list less trace context, and `end-user` from the session, never from the
/// client's own header (docs/behaviour.md#the-end-user-header).
fn outbound_headers(incoming: &HeaderMap, user: Option<&str>) -> HeaderMap {
    let mut headers = copy_headers(incoming, &PRODUCTPAGE_COPIED);
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
