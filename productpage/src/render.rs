//! The templates' data, rendering, and the HTML error page.

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

use crate::{
    backends::Details,
    mesh_panel::{IdentityView, MeshPanel},
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
    /// `MESH_PANEL`'s section at the end of the page; `None` leaves the page as upstream's.
    pub mesh_panel: Option<MeshPanel>,
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

/// Largest page rendered, in bytes (upstream's product page is about 6 KB). Its inputs are
/// capped (16 KiB per backend answer, 20 review cards, 32-character colours), so even a
/// reviews answer of `<` characters, escaped to five times its size, stays below it; the
/// bound makes that a guarantee rather than arithmetic: rendering stops here (the product
/// page then shows its backends' error blocks; any other page answers 500).
pub const MAX_PAGE_BYTES: usize = 96 * 1024;

/// A `String` that refuses to grow past [`MAX_PAGE_BYTES`].
struct BoundedPage(String);

impl std::fmt::Write for BoundedPage {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.0.len() + text.len() > MAX_PAGE_BYTES {
            return Err(std::fmt::Error);
        }
        self.0.push_str(text);
        Ok(())
    }
}

/// The template's HTML, at most [`MAX_PAGE_BYTES`].
///
/// # Errors
/// When the template fails or the page would be larger.
pub fn render_bounded<T: Template>(template: &T) -> askama::Result<String> {
    let mut page = BoundedPage(String::with_capacity(T::SIZE_HINT));
    template.render_into(&mut page).map(|()| page.0)
}

/// The template as an HTML answer; a rendering failure (a page over [`MAX_PAGE_BYTES`]
/// included) is logged and answers 500.
pub fn render<T: Template>(template: &T) -> Response {
    match render_bounded(template) {
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
