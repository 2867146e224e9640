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

/// The answer to a path no route matches; JSON, so API clients can read it.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not found")
}
