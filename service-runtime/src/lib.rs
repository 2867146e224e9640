//! What every Bookinfo service needs, written once: settings (clap, from flags and the
//! environment), downstream addresses, the HTTP server (dual-stack bind, graceful shutdown,
//! `/metrics`), the forwarded-header lists, one outbound HTTP client with its TLS
//! configuration, and telemetry (logs, metrics, spans).

pub mod address;
pub mod client;
pub mod config;
pub mod downstream;
pub mod exposition;
pub mod healthcheck;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod observe;
pub mod otlp;
pub mod path_param;
pub mod process;
pub mod propagation;
pub mod sampling;
pub mod serve;
pub mod server;
pub mod spans;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

/// With `--features service-runtime/mimalloc`, every binary allocates with mimalloc instead of
/// glibc (a measurement, see docs/performance.md#the-allocator).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use address::{Endpoint, Endpoints, HostList};
pub use client::{CallError, CallPolicy, HttpClient, Reply};
pub use config::ConfigError;
pub use downstream::{Downstream, DownstreamError};
pub use metrics::Metrics;
pub use observe::Observability;
pub use path_param::PathParam;
pub use propagation::ForwardedHeaders;
pub use serve::{App, RunningServer, run_service};
pub use spans::ServiceTracer;
pub use telemetry::{TelemetryArgs, TraceConfig};
