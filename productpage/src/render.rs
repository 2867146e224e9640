//! The templates' data, rendering, and the HTML error page.

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

use crate::{
    backends::Details,
    product::Product,
    // The product page template matches on RatingView.
    view::{RatingView, ReviewsView},
};

#[derive(Template)]
#[template(path = "productpage.html")]
pub struct ProductPage {
    pub user: Option<String>,
    pub product: &'static Product,
    pub details: Option<Details>,
    pub reviews: Option<ReviewsView>,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    pub details_urls: &'a [String],
    pub reviews_urls: &'a [String],
    pub ratings_urls: &'a [String],
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub message: &'a str,
}

/// The template as an HTML answer; a rendering failure is logged and answers 500.
pub fn render(template: &impl Template) -> Response {
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

/// The HTML error page with `status` and `message`.
pub fn html_error(status: StatusCode, message: &str) -> Response {
    let mut response = render(&ErrorPage {
        status: status.as_u16(),
        message,
    });
    *response.status_mut() = status;
    response
}
