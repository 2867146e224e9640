//! The productpage router and its page, login and logout handlers.

use std::sync::Arc;

use askama::Template;
use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use opentelemetry::{Context, trace::SpanKind};
use serde::Deserialize;
use service_runtime::{App, Observability, Tracing, spans};

use crate::{
    Config, api,
    backends::{Backend, Backends, outbound_headers},
    page::{DetailsView, ErrorPage, IndexPage, PRODUCT, ProductPage, ReviewsView},
    session::{SessionKey, logout_cookie},
    static_files::serve_static,
};

/// Where login and logout go when the Referer is missing or points off-site.
const HOME: &str = "/productpage";

const MAX_USERNAME_BYTES: usize = 256;

pub struct AppState {
    pub backends: Arc<Backends>,
    pub session: SessionKey,
    flood_factor: u32,
    tracing: Tracing,
}

/// The productpage service with `/health` and `/metrics`.
pub fn app(config: Config) -> App {
    let mut observability = Observability::new(&config.tracing);
    let backends = match Backends::new(&config, &mut observability) {
        Ok(backends) => backends,
        Err(err) => {
            tracing::error!(%err, "cannot build the backend client");
            let broken = Router::new().fallback(|| async {
                html_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The backend client could not be built.",
                )
            });
            return observability.into_app(broken);
        }
    };
    let state = Arc::new(AppState {
        backends,
        session: SessionKey::new(&config.session_secret),
        flood_factor: config.flood_factor,
        tracing: observability.tracing.clone(),
    });
    let router = Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/health", get(|| async { Html("Product page is healthy") }))
        .route("/productpage", get(product_page))
        .route("/login", post(login))
        .route("/logout", get(logout))
        .route("/api/v1/products", get(api::products))
        .route("/api/v1/products/{id}", get(api::product_details))
        .route("/api/v1/products/{id}/reviews", get(api::product_reviews))
        .route("/api/v1/products/{id}/ratings", get(api::product_ratings))
        .route("/static/{*path}", get(serve_static))
        .fallback(|| async { html_error(StatusCode::NOT_FOUND, "No such page.") })
        .with_state(state);
    observability.into_app(router)
}

fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(%err, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("The page could not be rendered."),
            )
                .into_response()
        }
    }
}

pub fn html_error(status: StatusCode, message: &str) -> Response {
    let mut response = render(&ErrorPage {
        status: status.as_u16(),
        message,
    });
    *response.status_mut() = status;
    response
}

async fn index(State(state): State<Arc<AppState>>) -> Response {
    let (details_url, reviews_urls, ratings_url) = state.backends.addresses();
    render(&IndexPage {
        details_url,
        reviews_urls: &reviews_urls,
        ratings_url,
    })
}

/// Always 200: a failed backend shows its error block instead (spec §3.10).
async fn product_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let user = state.session.user(&headers);
    let outbound = outbound_headers(&headers, user.as_deref());
    let backends = &state.backends;
    // Flood calls only load reviews (rate-limiting demos); their answers are dropped.
    let flood = futures::future::join_all(
        (0..state.flood_factor).map(|_| backends.fetch(Backend::Reviews, "0", &outbound)),
    );
    let (details, reviews, _) = tokio::join!(
        backends.fetch(Backend::Details, "0", &outbound),
        backends.fetch(Backend::Reviews, "0", &outbound),
        flood,
    );
    let page = ProductPage {
        user,
        product: &PRODUCT,
        details: DetailsView::from_fetched(&details),
        reviews: ReviewsView::from_fetched(&reviews),
    };
    let rendering = state
        .tracing
        .start(SpanKind::Internal, &Context::current(), || {
            ("render productpage.html".into(), vec![])
        });
    let response = render(&page);
    spans::finish(&rendering, None, None);
    response
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let username = match form {
        Ok(Form(form)) => form.username.trim().to_owned(),
        Err(rejection) => return html_error(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    if username.is_empty() {
        return html_error(StatusCode::BAD_REQUEST, "Please provide a username.");
    }
    // The name travels to every backend as `end-user`, which Istio's rules match.
    let printable = !username.chars().any(char::is_control);
    if username.len() > MAX_USERNAME_BYTES
        || !printable
        || HeaderValue::from_str(&username).is_err()
    {
        return html_error(
            StatusCode::BAD_REQUEST,
            "A username is at most 256 bytes of printable characters.",
        );
    }
    match state.session.login_cookie(&username) {
        Some(cookie) => redirect_back(&headers, cookie),
        None => html_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The session could not be signed.",
        ),
    }
}

async fn logout(headers: HeaderMap) -> Response {
    redirect_back(&headers, logout_cookie())
}

/// 302 to the page the user came from, if it is on this site, with a session cookie.
fn redirect_back(headers: &HeaderMap, cookie: String) -> Response {
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let target = same_site_path(referer, host).unwrap_or(HOME);
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(target) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

/// The path of `referer` when it points at this site (a relative path, or an absolute URL
/// whose authority is our Host); upstream redirected anywhere (an open redirect).
fn same_site_path<'a>(referer: Option<&'a str>, host: Option<&str>) -> Option<&'a str> {
    let referer = referer?;
    let path = if let Some((_, rest)) = referer.split_once("://") {
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if Some(authority) != host {
            return None;
        }
        path
    } else {
        referer
    };
    // Browsers drop tabs and newlines from Location, so `/\t/evil.example` would become
    // `//evil.example`: any control character or space disqualifies the path.
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.bytes().any(|b| b <= b' ' || b == 0x7f);
    local.then_some(path)
}

#[cfg(test)]
mod tests {
    use super::same_site_path;

    #[test]
    fn redirects_stay_on_this_site() {
        let host = Some("bookinfo.example:8080");
        assert_eq!(
            same_site_path(Some("http://bookinfo.example:8080/productpage?u=1"), host),
            Some("/productpage?u=1")
        );
        assert_eq!(
            same_site_path(Some("/productpage"), host),
            Some("/productpage")
        );
        assert_eq!(
            same_site_path(Some("http://bookinfo.example:8080"), host),
            None
        );
        assert_eq!(
            same_site_path(Some("https://evil.example/productpage"), host),
            None
        );
        assert_eq!(same_site_path(Some("//evil.example/x"), host), None);
        assert_eq!(same_site_path(Some("/\\evil.example"), host), None);
        assert_eq!(same_site_path(Some("javascript:alert(1)"), host), None);
        assert_eq!(same_site_path(Some("/\t/evil.example"), host), None);
        assert_eq!(same_site_path(Some("/product page"), host), None);
        assert_eq!(same_site_path(None, host), None);
    }
}
