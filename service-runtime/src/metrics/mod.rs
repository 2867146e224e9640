//! Prometheus metrics: each service's registry of server, outbound and overload metrics
//! ([`registry`]), the process metrics ([`process`]), and the two text formats a scrape may
//! ask for ([`exposition`]).

pub mod exposition;
pub mod process;
pub mod registry;

pub use registry::{Metrics, OutboundMetrics, ServerMetrics};
