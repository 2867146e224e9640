//! productpage: the HTML product page, login and logout, and the JSON API
//! (docs/behaviour.md#productpage). It knows details, reviews and ratings only through HTTP
//! and the JSON types in `backends`.
//!
//! Where things go: a route in `app.rs` and its handler in `routes/`; a setting in
//! `config.rs`; a call to another service in `backends.rs`; what the page shows in `view.rs`
//! and `templates/`.

mod app;
mod backends;
mod config;
mod json_style;
mod mesh_panel;
mod page_views;
mod product;
mod render;
mod routes;
mod session;
mod state;
mod view;

pub use app::app;
pub use config::{Config, DEFAULT_SESSION_SECRET, PageArgs, ProductpageArgs};
pub use mesh_panel::TraceUrl;
pub use render::MAX_PAGE_BYTES;
pub use state::MAX_FLOOD_CALLS_IN_FLIGHT;
pub use view::MAX_REVIEW_CARDS;
