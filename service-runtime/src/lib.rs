//! What every Bookinfo service needs, written once: typed configuration from the environment,
//! the HTTP server (dual-stack bind, graceful shutdown, `/metrics`), the forwarded-header lists,
//! the outbound HTTP client, and telemetry (logs, metrics, spans).

pub mod client;
pub mod config;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod observe;
pub mod process;
pub mod propagation;
pub mod serve;
pub mod spans;
#[cfg(feature = "testing")]
pub mod testing;

pub use client::{Call, CallError, ClientOptions, Endpoint, HttpClient, Reply, Upstream};
pub use config::{ConfigError, Env};
pub use metrics::Metrics;
pub use observe::Observability;
pub use serve::{App, RunningServer, run_service};
pub use spans::{TraceConfig, Tracing};
