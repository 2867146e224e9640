//! Where a server is in its life: serving, closing (after SIGTERM: `/ready` fails and answers
//! carry `Connection: close`, but requests are still served), or draining (no new
//! connections; idle ones close, requests in progress finish).

use std::sync::atomic::{AtomicBool, Ordering};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
    response::Response,
};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::json::raw_json;

/// The phase flags of one server, shared by its connections.
#[derive(Debug)]
pub struct Lifecycle {
    closing: AtomicBool,
    draining: watch::Sender<bool>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            closing: AtomicBool::new(false),
            draining: watch::Sender::new(false),
        }
    }
}

impl Lifecycle {
    /// SIGTERM arrived: readiness fails from now on.
    pub fn start_closing(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// The readiness delay is over: connections close once nothing is in progress on them.
    pub fn start_draining(&self) {
        self.start_closing();
        self.draining.send_replace(true);
    }

    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// `GET /ready`: 503 once closing, else whatever `/health` says, so a pod whose health
    /// check fails (ratings' `unhealthy` version) also leaves the Service's endpoints.
    pub async fn readiness(&self, app: Router) -> Response {
        if self.closing() {
            return raw_json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"shutting down"}"#,
            );
        }
        let health = Request::get("/health")
            .extension(ReadinessCheck)
            .body(Body::empty());
        let healthy = match health {
            Ok(request) => match app.oneshot(request).await {
                Ok(answer) => answer.status().is_success(),
                Err(never) => match never {},
            },
            Err(_) => false,
        };
        if healthy {
            raw_json(StatusCode::OK, r#"{"status":"ready"}"#)
        } else {
            raw_json(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"unhealthy"}"#)
        }
    }
}

/// Marks `/ready`'s inner `/health` request: the request middleware neither counts nor
/// traces it, since the server counts the `/ready` request itself, once, under `/ready`.
#[derive(Debug, Clone, Copy)]
pub struct ReadinessCheck;
