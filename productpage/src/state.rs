//! What every productpage handler shares.

use service_runtime::ServiceTracer;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::{
    backends::Backends, mesh_panel::PanelSettings, page_views::PageViews, session::SessionKey,
};

pub struct AppState {
    pub backends: Backends,
    pub session: SessionKey,
    /// Extra reviews calls per page view.
    pub flood_factor: u32,
    /// Flood calls in flight across all page views, at most [`MAX_FLOOD_CALLS_IN_FLIGHT`].
    pub flood_calls: Semaphore,
    /// How long a page view waits for its flood calls: as long as one reviews call may take
    /// (its timeout × attempts), what upstream's all-at-once flood took at worst.
    pub flood_deadline: Duration,
    /// For the template-rendering span.
    pub tracer: ServiceTracer,
    /// `MESH_PANEL`: `None` when off.
    pub mesh_panel: Option<PanelSettings>,
    /// `bookinfo_page_views_total`.
    pub page_views: PageViews,
}

/// Flood calls in flight at once across all page views (each holds a fresh connection and up
/// to a 16 KiB answer): past it a page's flood calls wait their turn, so `FLOOD_FACTOR=100`
/// still sends every call while memory stays inside the budget (docs/performance.md).
pub const MAX_FLOOD_CALLS_IN_FLIGHT: usize = 32;
