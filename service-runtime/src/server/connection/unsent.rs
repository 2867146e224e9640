//! HTTP/2 answers handed to h2 but not yet on the wire: each keeps its request's place (or a
//! refusal's room) until its END_STREAM is written, must be out within the stall timeout of
//! its handler's end, and marks its client as one that does not read when it waits too long.

use std::sync::Arc;

use tokio::{sync::OwnedSemaphorePermit, time::Instant};

use super::{Activity, HandlerGuard, Protocol, Tracker};

impl Tracker {
    /// HTTP/2: keeps an answered request's place (or refusal's room) until its answer is on
    /// the wire (how long it may take is timed from the handler's end, see
    /// [`HandlerGuard`]). Called as hyper drops the answer's body, before the request ends.
    pub fn hold_until_sent(&self, place: Option<OwnedSemaphorePermit>) {
        let mut activity = self.activity();
        if matches!(activity.protocol, Protocol::Http2(_)) {
            activity.unsent.push(place);
        }
    }

    /// A request's handler starts; the guard says when its answer is ready (or the request
    /// was dropped unanswered).
    pub fn handler_started(self: &Arc<Self>) -> HandlerGuard {
        self.activity().handlers_running += 1;
        HandlerGuard {
            tracker: self.clone(),
            answered: false,
        }
    }

    pub(super) fn handler_ended(&self, answered: bool) {
        let mut activity = self.activity();
        activity.handlers_running = activity.handlers_running.saturating_sub(1);
        if answered && matches!(activity.protocol, Protocol::Http2(_)) {
            activity.answers_waiting_since.push(Instant::now());
        }
        Self::release_sent_places(&mut activity);
    }

    /// Gives back the places of answers now on the wire: streams still open, less those
    /// whose handler runs, are the answers waiting for the client's window. The estimate errs
    /// low while an answer's last frame goes out before its handler ends, so a place may be
    /// released a moment early, never held for ever.
    pub(super) fn release_sent_places(activity: &mut Activity) {
        let (unsent, waiting) = match &activity.protocol {
            Protocol::Http2(wire) => (
                wire.open_streams().saturating_sub(activity.in_flight),
                wire.open_streams()
                    .saturating_sub(activity.handlers_running),
            ),
            _ => (0, 0),
        };
        activity.unsent.truncate(unsent);
        // The oldest stay: the stall deadline errs early, never late.
        activity.answers_waiting_since.truncate(waiting);
        if activity.unsent.is_empty() && activity.answers_waiting_since.is_empty() {
            activity.roomless_refusal = false;
        }
    }

    /// HTTP/2, when unsent refusals fill their room: whether this connection may still get
    /// its 503 (`true`, once) rather than be closed. A client that reads its answers (none of
    /// its answers waiting) gets one, so a sidecar's connection does not lose every other
    /// stream on it for one refusal; a client with answers still unread, or with a roomless
    /// refusal it has not read yet, does not. So refusals past the room cost one each, on
    /// connections that read, at most.
    pub fn take_roomless_refusal(&self) -> bool {
        let mut activity = self.activity();
        let unread = !activity.unsent.is_empty() || !activity.answers_waiting_since.is_empty();
        if unread || activity.roomless_refusal {
            return false;
        }
        activity.roomless_refusal = true;
        true
    }

    /// The connection ended: its unsent answers never will be.
    pub fn closed(&self) {
        let mut activity = self.activity();
        activity.unsent.clear();
        activity.answers_waiting_since.clear();
    }

    /// HTTP/2: since when the oldest answer its handler produced has waited for the client to
    /// read it (it holds its place or a refusal's room meanwhile: in h2's buffer, or still in
    /// hyper's hands while the client's window is shut); `None` when every answer is out.
    pub fn unread_since(&self) -> Option<Instant> {
        let activity = self.activity();
        if activity.evicted {
            return None;
        }
        activity.answers_waiting_since.first().copied()
    }
}
