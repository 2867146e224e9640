//! `/api/v1/products…`: JSON with Python's separators; backend statuses pass through with
//! upstream's error bodies (spec §3.5).

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    backends::{Backend, Fetched, outbound_headers},
    json_style::to_python_json,
    page::PRODUCT,
    routes::AppState,
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
    match state.backends.fetch(backend, id, &outbound).await {
        Fetched::Ok(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(json) => python_json(StatusCode::OK, &json),
            Err(err) => {
                tracing::warn!(backend = backend.app(), %err, "backend answered 200 with a body that is not JSON");
                python_json(
                    StatusCode::BAD_GATEWAY,
                    &serde_json::json!({ "error": backend.unavailable_message() }),
                )
            }
        },
        Fetched::Failed(status) => python_json(
            status,
            &serde_json::json!({ "error": backend.unavailable_message() }),
        ),
    }
}

pub async fn product_details(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    proxy(&state, Backend::Details, &id, &headers).await
}

pub async fn product_reviews(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    proxy(&state, Backend::Reviews, &id, &headers).await
}

pub async fn product_ratings(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    proxy(&state, Backend::Ratings, &id, &headers).await
}
