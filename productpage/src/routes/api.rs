//! `/api/v1/products…`: JSON with Python's separators; backend statuses pass through with
//! the original's error bodies, which API clients depend on (docs/behaviour.md#the-json-api).

use std::sync::Arc;

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use service_runtime::PathParam;

use crate::{
    backends::Backend, json_style::to_python_json, product::PRODUCT, routes::Visitor,
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

async fn proxy(state: &AppState, backend: Backend, id: &str, visitor: &Visitor) -> Response {
    let unavailable = |status| {
        python_json(
            status,
            &serde_json::json!({ "error": backend.unavailable_message() }),
        )
    };
    match state.backends.raw(backend, id, &visitor.outbound).await {
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

/// `/api/v1/products/{id}`: details' answer for the product.
pub async fn product_details(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
    visitor: Visitor,
) -> Response {
    proxy(&state, Backend::Details, &id, &visitor).await
}

/// `/api/v1/products/{id}/reviews`: reviews' answer for the product.
pub async fn product_reviews(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
    visitor: Visitor,
) -> Response {
    proxy(&state, Backend::Reviews, &id, &visitor).await
}

/// `/api/v1/products/{id}/ratings`: ratings' answer for the product.
pub async fn product_ratings(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
    visitor: Visitor,
) -> Response {
    proxy(&state, Backend::Ratings, &id, &visitor).await
}
