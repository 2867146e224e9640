//! A request in progress and its handler at work, as guards that report to the tracker
//! when dropped.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::Tracker;

/// One request in progress; dropping it (when hyper drops the answer's body) ends it.
#[derive(Debug)]
pub struct RequestGuard {
    pub(super) tracker: Arc<Tracker>,
}

/// A request's handler at work; dropped when its answer is ready or the request is
/// abandoned (an HTTP/2 client reset it).
#[derive(Debug)]
pub struct HandlerGuard {
    pub(super) tracker: Arc<Tracker>,
    pub(super) answered: bool,
}

impl HandlerGuard {
    /// The answer is ready: from now it must reach the wire within the stall timeout.
    pub fn answered(&mut self) {
        self.answered = true;
    }
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        self.tracker.handler_ended(self.answered);
    }
}

impl RequestGuard {
    /// See [`Tracker::hold_until_sent`].
    pub fn hold_until_sent(&self, place: Option<OwnedSemaphorePermit>) {
        self.tracker.hold_until_sent(place);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.tracker.request_finished();
    }
}
