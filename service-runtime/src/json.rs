//! JSON response helpers shared by the services.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// A compact JSON body with `Content-Type: application/json`, as the backends answer.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(err) => {
            tracing::error!(%err, "could not serialise a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `{"error":"<message>"}`, the error shape every Bookinfo service uses.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &serde_json::json!({ "error": message }))
}

/// A fixed JSON body, sent byte for byte (health answers whose spacing upstream fixes).
pub fn raw_json(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// axum's 405 (a route that exists, another method) has an `Allow` header but no body; this
/// gives it one made by `body` (the JSON error shape here, HTML on productpage's pages),
/// keeping its headers. Any other answer passes unchanged.
pub fn fill_method_not_allowed_with(
    response: Response,
    body: impl FnOnce() -> Response,
) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    // The empty body's length no longer holds.
    parts.headers.remove(header::CONTENT_LENGTH);
    let (filled, filled_body) = body().into_parts();
    parts.headers.extend(filled.headers);
    Response::from_parts(parts, filled_body)
}

/// [`fill_method_not_allowed_with`] the JSON error `{"error":"method not allowed"}`.
pub fn fill_method_not_allowed(response: Response) -> Response {
    fill_method_not_allowed_with(response, || {
        error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    })
}

/// The answer to a path no route matches; JSON, so API clients can read it.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not found")
}
