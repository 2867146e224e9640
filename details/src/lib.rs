//! details: `GET /details/{id}` answers the book's publication details (spec §4).

mod book;
mod book_service;
mod routes;

use std::time::Duration;

use service_runtime::{ConfigError, Env, TraceConfig};

pub use book::{Book, ProductId};
pub use routes::app;

/// Where Google Books lives; `DO_NOT_ENCRYPT=true` switches to plain HTTP on port 80 so that an
/// Istio egress gateway can originate TLS (spec §4.2).
const GOOGLE_BOOKS_HTTPS: &str = "https://www.googleapis.com";
const GOOGLE_BOOKS_PLAIN: &str = "http://www.googleapis.com:80";

fn book_service_url(env: &Env, default: &str) -> Result<String, ConfigError> {
    let url = env.string_or("BOOK_SERVICE_URL", default);
    service_runtime::Endpoint::parse(&url)
        .map(|_| url)
        .map_err(|why| {
            ConfigError::new(
                "BOOK_SERVICE_URL",
                env.get("BOOK_SERVICE_URL").unwrap_or(default),
                why,
            )
        })
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `None` serves the static book (v1); `Some` looks it up (v2).
    pub book_service: Option<BookServiceConfig>,
    pub tracing: TraceConfig,
}

#[derive(Debug, Clone)]
pub struct BookServiceConfig {
    /// Scheme, host and port of the volumes API.
    pub base_url: String,
    pub timeout: Duration,
}

impl Config {
    /// `ENABLE_EXTERNAL_BOOK_SERVICE`, `DO_NOT_ENCRYPT`, and our additions `BOOK_SERVICE_URL`
    /// (another base address, e.g. a local stub) and `BOOK_SERVICE_TIMEOUT_MS` (default 5000).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let external = env.flag("ENABLE_EXTERNAL_BOOK_SERVICE");
        let version = env.string_or("SERVICE_VERSION", if external { "v2" } else { "v1" });
        let tracing = TraceConfig::from_env(env, "details", &version)?;
        if !external {
            return Ok(Self {
                book_service: None,
                tracing,
            });
        }
        let default_url = if env.flag("DO_NOT_ENCRYPT") {
            GOOGLE_BOOKS_PLAIN
        } else {
            GOOGLE_BOOKS_HTTPS
        };
        Ok(Self {
            book_service: Some(BookServiceConfig {
                base_url: book_service_url(env, default_url)?,
                timeout: env.millis_or("BOOK_SERVICE_TIMEOUT_MS", Duration::from_secs(5))?,
            }),
            tracing,
        })
    }
}
