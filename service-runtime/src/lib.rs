//! What every Bookinfo service needs, written once, in rooms by job: the HTTP server
//! ([`server`]: bounds, timers, graceful shutdown) and the process around it ([`serve`]);
//! calls to other services ([`outbound`]: addresses, the one client, downstreams); what is
//! forwarded ([`propagation`]); [`telemetry`] (settings, spans, logs, the request
//! observation) and [`metrics`]; settings parsing ([`config`]) and the TLS client
//! configuration ([`tls`]). docs/architecture.md draws the map.

pub mod config;
pub mod healthcheck;
pub mod hop;
pub mod json;
pub mod metrics;
pub mod outbound;
pub mod path_param;
pub mod propagation;
pub mod serve;
pub mod server;
pub mod telemetry;
pub mod tls;

/// With `--features service-runtime/mimalloc`, every binary allocates with mimalloc instead of
/// glibc (a measurement, see docs/performance.md#the-allocator).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use config::ConfigError;
pub use metrics::Metrics;
pub use outbound::{
    address::{Endpoint, Endpoints, HostList},
    client::{CallError, CallPolicy, HttpClient, Reply},
    downstream::{Downstream, DownstreamError},
};
pub use path_param::PathParam;
pub use propagation::ForwardedHeaders;
pub use serve::{App, RunningServer, run_service};
pub use telemetry::{
    CallTelemetry, TelemetryArgs, TraceConfig, observe::Observability, spans::ServiceTracer,
};
