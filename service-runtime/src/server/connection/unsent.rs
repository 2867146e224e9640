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
            let now = Instant::now();
            activity.answers_waiting_since.push(now);
            activity.unread_answers.push_back(now);
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
        // Never more unread answers than streams open (a reset stream's answer is gone); the
        // youngest stay.
        let open = match &activity.protocol {
            Protocol::Http2(wire) => wire.open_streams(),
            _ => 0,
        };
        let gone = activity.unread_answers.len().saturating_sub(open);
        activity.unread_answers.drain(..gone);
    }

    /// HTTP/2, when unsent refusals fill their room: whether this connection may still get
    /// its 503 (`true`) rather than be closed. One at a time: a connection gets another only
    /// once its client has read a whole answer since the last, so a sidecar's connection does
    /// not lose every other stream on it for one refusal, while a client that reads nothing
    /// holds one such refusal at most. So refusals past the room cost one per connection.
    pub fn take_roomless_refusal(&self) -> bool {
        let mut activity = self.activity();
        let read_since = activity
            .roomless_refusal
            .is_none_or(|given| activity.last_answer_ended > given);
        if read_since {
            activity.roomless_refusal = Some(Instant::now());
        }
        read_since
    }

    /// The connection ended: its unsent answers never will be.
    pub fn closed(&self) {
        let mut activity = self.activity();
        activity.unsent.clear();
        activity.answers_waiting_since.clear();
        activity.unread_answers.clear();
    }

    /// HTTP/2: since when this connection's answers have waited for its client to read them
    /// (they hold their places, or a refusal's room, meanwhile): the oldest answer not yet
    /// read whole, or the last answer the client did read whole, whichever is later, so a
    /// busy connection whose client reads is never taken for one that does not; `None` when
    /// every answer is out.
    pub fn unread_since(&self) -> Option<Instant> {
        let activity = self.activity();
        if activity.evicted {
            return None;
        }
        let oldest = activity.unread_answers.front().copied()?;
        Some(oldest.max(activity.last_answer_ended))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::server::{frames::PREFACE, head_budget::HeadBudget};

    fn frame(stream: u8, kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut bytes = vec![0, (len >> 8) as u8, len as u8, kind, flags, 0, 0, 0, stream];
        bytes.extend_from_slice(payload);
        bytes
    }

    /// Stream `stream`'s request arrives, its handler answers, and the answer is handed to h2.
    fn answered(tracker: &Arc<Tracker>, stream: u8) -> super::super::RequestGuard {
        let headers = frame(stream, 0x1, 0x5, &[0x82]);
        assert!(tracker.bytes_read(&headers).is_ok());
        let request = tracker.request_started();
        let mut handler = tracker.handler_started();
        handler.answered();
        drop(handler);
        request
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_whose_client_reads_is_not_unread() {
        let tracker = Arc::new(Tracker::new(HeadBudget::new(u64::MAX), false));
        assert!(tracker.bytes_read(PREFACE).is_ok());
        let started = Instant::now();
        let _first = answered(&tracker, 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        let _second = answered(&tracker, 3);
        assert_eq!(tracker.unread_since(), Some(started), "nothing read yet");
        // The client reads the first answer whole; the second still waits, but the
        // connection reads: its unread time starts again.
        tokio::time::advance(Duration::from_millis(10)).await;
        let read_at = Instant::now();
        let first_answer = frame(1, 0x0, 0x1, b"ok");
        tracker.bytes_written([&first_answer[..]].into_iter());
        assert_eq!(tracker.unread_since(), Some(read_at));
        // A stream the server refuses (RST_STREAM) is no answer read.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(tracker.bytes_read(&frame(5, 0x1, 0x5, &[0x82])).is_ok());
        let refused = frame(5, 0x3, 0x0, &[0, 0, 0, 7]);
        tracker.bytes_written([&refused[..]].into_iter());
        assert_eq!(tracker.unread_since(), Some(read_at));
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_refusal_room_a_connection_gets_one_503_per_answer_it_reads() {
        let tracker = Arc::new(Tracker::new(HeadBudget::new(u64::MAX), false));
        assert!(tracker.bytes_read(PREFACE).is_ok());
        assert!(tracker.take_roomless_refusal(), "the first");
        assert!(!tracker.take_roomless_refusal(), "nothing read since");
        let _answer = answered(&tracker, 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        let whole = frame(1, 0x1, 0x5, &[0x88]);
        tracker.bytes_written([&whole[..]].into_iter());
        assert!(tracker.take_roomless_refusal(), "an answer was read since");
        assert!(!tracker.take_roomless_refusal());
    }
}
