//! productpage's router: every route, and nothing else.

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    middleware,
    response::{Html, Response},
    routing::{get, post},
};
use service_runtime::{App, Observability, json::fill_method_not_allowed_with, tls::TlsError};
use tokio::sync::Semaphore;

use crate::{
    backends::Backends,
    config::{Config, DEFAULT_SESSION_SECRET},
    mesh_panel::PanelSettings,
    page_views::PageViews,
    render::html_error,
    routes::{api, assets, login, product_page},
    session::SessionKey,
    state::{AppState, MAX_FLOOD_CALLS_IN_FLIGHT},
};

/// The productpage service with `/health` and `/metrics`.
///
/// # Errors
/// When the backend client's TLS configuration cannot be built.
pub fn app(config: Config) -> Result<App, TlsError> {
    let mut observability = Observability::new(&config.tracing);
    // The entry point: it asks for hop reports (MESH_PANEL), it gives none to its clients.
    observability.answers_hop_reports = false;
    if config.page.session_secret == DEFAULT_SESSION_SECRET {
        tracing::warn!(
            "sessions are signed with the public default key: set SESSION_SECRET wherever the \
             signed-in user matters"
        );
    }
    let state = Arc::new(AppState {
        backends: Backends::new(&config, &mut observability)?,
        session: SessionKey::new(&config.page.session_secret),
        flood_factor: config.page.flood_factor,
        flood_calls: Semaphore::new(MAX_FLOOD_CALLS_IN_FLIGHT),
        flood_deadline: config
            .reviews_call
            .timeout
            .saturating_mul(config.reviews_call.attempts),
        tracer: observability.tracer.clone(),
        page_views: PageViews::register(observability.metrics.registry_mut()),
        mesh_panel: config.page.mesh_panel.then(|| PanelSettings {
            workload: observability.workload.clone(),
            trace_url: config.page.mesh_panel_trace_url.clone(),
        }),
    });
    // The pages answer a wrong method in HTML, as they answer everything else; the JSON API
    // (and /health) keeps the server's JSON 405.
    let pages = Router::new()
        .route("/", get(product_page::index))
        .route("/index.html", get(product_page::index))
        .route("/productpage", get(product_page::product_page))
        .route(
            "/login",
            post(login::login).layer(DefaultBodyLimit::max(login::MAX_FORM_BYTES)),
        )
        .route("/logout", get(login::logout))
        .route("/static/{*path}", get(assets::serve_static))
        .layer(middleware::map_response(|response: Response| async {
            fill_method_not_allowed_with(response, || {
                html_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
            })
        }));
    let router = Router::new()
        .route("/health", get(|| async { Html("Product page is healthy") }))
        .route("/api/v1/products", get(api::products))
        .route("/api/v1/products/{id}", get(api::product_details))
        .route("/api/v1/products/{id}/reviews", get(api::product_reviews))
        .route("/api/v1/products/{id}/ratings", get(api::product_ratings))
        .merge(pages)
        .fallback(|| async { html_error(StatusCode::NOT_FOUND, "No such page.") })
        .with_state(state);
    Ok(App::observed(router, observability))
}
