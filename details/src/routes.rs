//! The details router.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use service_runtime::{
    App, CallError, ClientOptions, Observability, Upstream,
    json::{error_response, json_response, raw_json},
    metrics::not_found,
};

use crate::{
    Config,
    book::{Book, ProductId},
    book_service::{LookupError, fetch_book},
};

const HEALTHY: &str = r#"{"status":"Details is healthy"}"#;
const BAD_ID: &str = "please provide numeric product id";

struct AppState {
    config: Config,
    /// The book service, when configured and usable.
    book_service: Option<Upstream>,
}

enum DetailsError {
    BadId,
    BookService(LookupError),
}

impl IntoResponse for DetailsError {
    fn into_response(self) -> Response {
        match self {
            Self::BadId => error_response(StatusCode::BAD_REQUEST, BAD_ID),
            Self::BookService(err) => {
                tracing::warn!(%err, "external book service failed");
                let status = match err {
                    LookupError::Unreachable(CallError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
                    LookupError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    LookupError::Status(_) | LookupError::Malformed(_) => StatusCode::BAD_GATEWAY,
                };
                error_response(status, &err.to_string())
            }
        }
    }
}

/// The details service with `/health` and `/metrics`.
pub fn app(config: Config) -> App {
    let observability = Observability::new(&config.tracing);
    let book_service = config.book_service.as_ref().and_then(|service| {
        let options = ClientOptions {
            https: true,
            ..ClientOptions::default()
        };
        Upstream::new("book-service", &service.base_url, options, &observability)
    });
    let state = Arc::new(AppState {
        config,
        book_service,
    });
    let router = Router::new()
        .route(
            "/health",
            get(|| async { raw_json(StatusCode::OK, HEALTHY) }),
        )
        .route("/details", get(|| async { DetailsError::BadId }))
        .route("/details/", get(|| async { DetailsError::BadId }))
        .route("/details/{id}", get(details))
        .fallback(not_found)
        .with_state(state);
    observability.into_app(router)
}

async fn details(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, DetailsError> {
    let id = ProductId::parse(&id).ok_or(DetailsError::BadId)?;
    let book = match (&state.config.book_service, &state.book_service) {
        (Some(config), Some(Upstream { client, endpoint })) => {
            fetch_book(client, endpoint, config, id, &headers)
                .await
                .map_err(DetailsError::BookService)?
        }
        (Some(_), None) => {
            return Err(DetailsError::BookService(LookupError::Unreachable(
                CallError::Failed("the book service is not set up (see the start-up log)".into()),
            )));
        }
        (None, _) => Book::comedy_of_errors(id),
    };
    Ok(json_response(StatusCode::OK, &book))
}
