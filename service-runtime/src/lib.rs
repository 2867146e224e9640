//! What every Bookinfo service needs, written once: typed configuration from the environment,
//! the HTTP server (dual-stack bind, graceful shutdown, `/metrics`), the forwarded-header lists,
//! the outbound HTTP client, and telemetry.

pub mod client;
pub mod config;
pub mod json;
pub mod metrics;
pub mod propagation;
pub mod serve;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use client::{Call, CallError, ClientOptions, HttpClient, Reply};
pub use config::{ConfigError, Env};
pub use metrics::Metrics;
pub use serve::{RunningServer, run_service};
