//! `/api/v1/products…`: JSON with Python's separators; backend statuses pass through with
//! the original's error bodies, which API clients depend on (docs/behaviour.md#the-json-api).

use std::sync::Arc;

use axum::{
    extract::{MatchedPath, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use service_runtime::PathParam;

use crate::{
    backends::Backend, json_style::to_python_json, product::PRODUCT, routes::outbound_headers,
    state::AppState,
};

fn python_json(status: StatusCode, body: &impl Serialize) -> Response {
    match to_python_json(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(err) => {
            tracing::error!(%err, "could not serialise an API answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub async fn products() -> Response {
    python_json(StatusCode::OK, &[&PRODUCT])
}

async fn proxy(state: &AppState, backend: Backend, id: &str, headers: &HeaderMap) -> Response {
    let user = state.session.user(headers);
    let outbound = outbound_headers(headers, user.as_deref());
    let unavailable = |status| {
        python_json(
            status,
            &serde_json::json!({ "error": backend.unavailable_message() }),
        )
    };
    match state.backends.raw(backend, id, &outbound).await {
        Ok(reply) if reply.status == StatusCode::OK => {
            match serde_json::from_slice::<serde_json::Value>(&reply.body) {
                Ok(json) => python_json(StatusCode::OK, &json),
                Err(err) => {
                    tracing::warn!(backend = backend.app(), %err, "backend answered 200 with a body that is not JSON");
                    unavailable(StatusCode::BAD_GATEWAY)
                }
            }
        }
        Ok(reply) => unavailable(reply.status),
        Err(_) => unavailable(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `/api/v1/products/{id}` (details), `…/{id}/reviews` and `…/{id}/ratings`: the backend
/// is the one the route names.
pub async fn product_backend(
    State(state): State<Arc<AppState>>,
    route: MatchedPath,
    PathParam(id): PathParam,
    headers: HeaderMap,
) -> Response {
    let backend = match route.as_str().rsplit('/').next() {
        Some("reviews") => Backend::Reviews,
        Some("ratings") => Backend::Ratings,
        _ => Backend::Details,
    };
    proxy(&state, backend, &id, &headers).await
}
