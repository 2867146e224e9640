//! The details router and its handler.

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use service_runtime::{
    App, CallError, ForwardedHeaders, HttpClient, Observability, PathParam,
    json::{error_response, json_response, not_found, raw_json},
    tls::TlsError,
};

use crate::{
    book::{Book, ProductId},
    book_service::{BookService, LookupError},
    config::{BookSource, Config},
};

const HEALTHY: &str = r#"{"status":"Details is healthy"}"#;
const BAD_ID: &str = "please provide numeric product id";

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
                    // It answered, with more than any book takes.
                    LookupError::Unreachable(CallError::TooLarge(_)) => StatusCode::BAD_GATEWAY,
                    LookupError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    LookupError::Status(_) | LookupError::Malformed(_) => StatusCode::BAD_GATEWAY,
                };
                error_response(status, &err.to_string())
            }
        }
    }
}

/// Where the book comes from, ready to use.
enum Books {
    Static,
    External(Box<BookService>),
}

/// The details service with `/health` and `/metrics`.
///
/// # Errors
/// When the book service's TLS client cannot be built.
pub fn app(config: Config) -> Result<App, TlsError> {
    let observability = Observability::new(&config.tracing);
    let books = match config.book_source {
        BookSource::Static => Books::Static,
        BookSource::GoogleBooks { endpoint, timeout } => {
            let client = HttpClient::with_system_roots(false, observability.calls())?;
            Books::External(Box::new(BookService::new(endpoint, timeout, client)))
        }
    };
    let router = Router::new()
        .route(
            "/health",
            get(|| async { raw_json(StatusCode::OK, HEALTHY) }),
        )
        .route("/details", get(|| async { DetailsError::BadId }))
        .route("/details/", get(|| async { DetailsError::BadId }))
        .route("/details/{id}", get(details))
        .fallback(not_found)
        .with_state(Arc::new(books));
    Ok(App::observed(router, observability))
}

async fn details(
    State(books): State<Arc<Books>>,
    PathParam(id): PathParam,
    ForwardedHeaders(forwarded): ForwardedHeaders,
) -> Result<Response, DetailsError> {
    let id = ProductId::parse(&id).ok_or(DetailsError::BadId)?;
    let book = match books.as_ref() {
        Books::Static => Book::comedy_of_errors(id),
        Books::External(service) => service
            .lookup(id, &forwarded)
            .await
            .map_err(DetailsError::BookService)?,
    };
    Ok(json_response(StatusCode::OK, &book))
}
