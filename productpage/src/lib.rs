//! productpage: the HTML product page, login and logout, and the JSON API (spec §3). It knows
//! details, reviews and ratings only through HTTP and the JSON types in [`backends`].

mod api;
mod backends;
mod config;
mod json_style;
mod page;
mod routes;
mod session;
mod static_files;

pub use config::{CallPolicy, Config};
pub use routes::app;
