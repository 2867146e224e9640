//! reviews: `GET /reviews/{id}` (docs/behaviour.md#reviews). One binary; `ENABLE_RATINGS` and
//! `STAR_COLOR` make v1 (no ratings), v2 (black stars) and v3 (red stars).

mod config;
mod ratings_client;
mod review;
mod routes;

pub use config::{Config, RatingsSettings, ReviewsArgs, ReviewsVersion, VERSIONS, ratings_timeout};
pub use review::{Rating, Review, ReviewsResponse};
pub use routes::app;
