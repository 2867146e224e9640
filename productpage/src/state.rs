//! What every productpage handler shares.

use service_runtime::ServiceTracer;

use crate::{backends::Backends, session::SessionKey};

pub struct AppState {
    pub backends: Backends,
    pub session: SessionKey,
    /// Extra reviews calls per page view.
    pub flood_factor: u32,
    /// For the template-rendering span.
    pub tracer: ServiceTracer,
}
