//! One accepted connection's activity, shared by its I/O (bytes arriving), its service
//! (requests starting and finishing) and its watchdog, which closes it when a timer runs out
//! or the server asks. hyper's own HTTP/1.1 header timer also runs while a keep-alive
//! connection waits for its next request, so it would cut idle connections at 30 s; these
//! timers keep the phases apart, for HTTP/1.1 and HTTP/2 alike.

mod guards;
mod timers;
mod unsent;
mod watched_io;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::{
    sync::{Notify, OwnedSemaphorePermit},
    time::Instant,
};

use super::{
    frames::{Http2Wire, PREFACE, Sent},
    head_budget::{FREE_HEAD_BYTES, HeadBudget},
};

pub use guards::{HandlerGuard, RequestGuard};
pub use timers::{EVICTION_QUIET, Timers};
pub use watched_io::WatchedIo;

/// Which protocol the client speaks, known from its first bytes.
#[derive(Debug)]
enum Protocol {
    /// Still matching the HTTP/2 preface; this many bytes matched so far.
    Detecting(usize),
    Http1,
    Http2(Http2Wire),
}

#[derive(Debug)]
struct Activity {
    protocol: Protocol,
    requests: u64,
    in_flight: usize,
    idle_since: Instant,
    /// HTTP/1.1: the first byte of a head not yet complete. HTTP/2: an incomplete frame or
    /// header block.
    head_started: Option<Instant>,
    /// Bytes read since `head_started`.
    head_bytes: u64,
    /// Of those, the bytes charged to the server's [`HeadBudget`].
    head_charged: u64,
    /// Bytes charged to the [`HeadBudget`] for the buffers a head larger than
    /// [`FREE_HEAD_BYTES`] left behind, until the connection closes (see
    /// [`Tracker::retain_head`]).
    retained_charged: u64,
    /// Requests in progress whose handler is waiting for the client's next body bytes.
    bodies_waiting: usize,
    /// The last byte read from the client.
    last_read: Instant,
    /// When the requests now in progress began (the first of them).
    busy_since: Instant,
    /// The last byte written to the client, or the start of the requests in progress if
    /// later: what the stall timer measures.
    last_progress: Instant,
    /// The socket refused the last write: an answer is still going out, even when hyper has
    /// already released its body (and so the request).
    write_blocked: bool,
    /// HTTP/2: one entry per answer hyper has handed to h2 that is not yet on the wire (a
    /// client's shut window holds it), with its request's place or refusal's room (none for
    /// a probe), kept until it is, so MAX_CONCURRENT_REQUESTS also bounds answers nobody
    /// reads.
    unsent: Vec<Option<OwnedSemaphorePermit>>,
    /// Requests whose handler (or refusal) has not produced its answer yet.
    handlers_running: usize,
    /// HTTP/2: when each answer not yet wholly on the wire was produced, oldest first. Each
    /// must be out within the stall timeout of that instant, however the client drips its
    /// window, or never opens it (hyper then does not even take the body).
    answers_waiting_since: Vec<Instant>,
    /// HTTP/2: the last answer whose END_STREAM went out (the client read it whole).
    last_answer_ended: Instant,
    /// HTTP/2: when each answer produced and not yet read whole was produced, oldest first;
    /// one leaves (the oldest) as each END_STREAM goes out, and there are never more than
    /// streams open. Unlike `answers_waiting_since`, which errs old for the stall deadline,
    /// this errs young: it decides which clients read nothing (see
    /// [`Tracker::unread_since`]).
    unread_answers: VecDeque<Instant>,
    /// HTTP/2: when the last 503 past the refusal room was given (see
    /// [`Tracker::take_roomless_refusal`]).
    roomless_refusal: Option<Instant>,
    evicted: bool,
    /// Close once nothing is in progress (HTTP/2: GOAWAY), as a draining server does.
    retired: bool,
    report_quiet: bool,
}

/// The server's unfinished head took the shared [`HeadBudget`] past its limit.
#[derive(Debug, thiserror::Error)]
#[error("request heads in progress are over MAX_BUFFERED_HEAD_BYTES; closing")]
pub struct HeadBudgetExceeded;

/// The shared activity record of one connection.
#[derive(Debug)]
pub struct Tracker {
    accepted: Instant,
    head_budget: Arc<HeadBudget>,
    /// Admitted past the connection cap, into the room kept for probes.
    overflow: bool,
    activity: Mutex<Activity>,
    changed: Notify,
}

impl Tracker {
    pub fn new(head_budget: Arc<HeadBudget>, overflow: bool) -> Self {
        let now = Instant::now();
        Self {
            accepted: now,
            head_budget,
            overflow,
            activity: Mutex::new(Activity {
                protocol: Protocol::Detecting(0),
                requests: 0,
                in_flight: 0,
                idle_since: now,
                head_started: None,
                head_bytes: 0,
                head_charged: 0,
                retained_charged: 0,
                bodies_waiting: 0,
                last_read: now,
                busy_since: now,
                last_progress: now,
                write_blocked: false,
                unsent: Vec::new(),
                handlers_running: 0,
                answers_waiting_since: Vec::new(),
                last_answer_ended: now,
                unread_answers: VecDeque::new(),
                roomless_refusal: None,
                evicted: false,
                retired: false,
                report_quiet: false,
            }),
            changed: Notify::new(),
        }
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        // The record stays consistent whatever a panicking holder did: every update is one
        // assignment.
        self.activity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived from the client. An unfinished head that does not fit the server's
    /// [`HeadBudget`] is an error: the connection closes.
    fn bytes_read(&self, bytes: &[u8]) -> Result<(), HeadBudgetExceeded> {
        let mut activity = self.activity();
        if let Protocol::Detecting(matched) = activity.protocol {
            let candidate = &PREFACE[matched..];
            let compared = candidate.len().min(bytes.len());
            activity.protocol = if bytes[..compared] != candidate[..compared] {
                Protocol::Http1
            } else if compared == candidate.len() {
                Protocol::Http2(Http2Wire::after_preface_bytes(matched))
            } else {
                Protocol::Detecting(matched + compared)
            };
        }
        let mut streams_reset = false;
        // HTTP/1.1: every byte is a request's. HTTP/2: only HEADERS, CONTINUATION and DATA
        // frames are; PINGs, PRIORITY or WINDOW_UPDATEs must not keep a connection from being
        // evicted, nor count as a body arriving.
        let mut request_bytes = true;
        // HTTP/2: the incomplete head's bytes, counted from its start.
        let mut http2_head = None;
        let head_pending = match &mut activity.protocol {
            Protocol::Http2(wire) => {
                let streams = wire.open_streams();
                request_bytes = wire.received(bytes);
                streams_reset = wire.open_streams() < streams;
                http2_head = Some(u64::try_from(wire.incomplete_head_bytes()).unwrap_or(u64::MAX));
                wire.head_incomplete()
            }
            // Bytes while no request is in progress start the next head (pipelined bytes
            // that arrive during a request are counted from when it finishes).
            _ => activity.in_flight == 0 || activity.head_started.is_some(),
        };
        if request_bytes {
            activity.last_read = Instant::now();
            if activity.bodies_waiting > 0 {
                // A body arriving is progress for the request waiting on it.
                activity.last_progress = activity.last_read;
            }
        }
        if streams_reset {
            // A reset stream's answer will never be sent.
            Self::release_sent_places(&mut activity);
        }
        let was_pending = activity.head_started.is_some();
        if head_pending && !was_pending {
            activity.head_started = Some(Instant::now());
        } else if !head_pending && was_pending {
            activity.head_started = None;
            self.end_head(&mut activity);
        }
        // No wake-up: the watchdog looks again within a header-read timeout anyway (see
        // `next_check`), which keeps this path off the request's cost.
        if head_pending {
            let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
            activity.head_bytes =
                http2_head.unwrap_or_else(|| activity.head_bytes.saturating_add(len));
            let owed = activity.head_bytes.saturating_sub(FREE_HEAD_BYTES);
            if owed > activity.head_charged {
                if !self.head_budget.try_charge(owed - activity.head_charged) {
                    return Err(HeadBudgetExceeded);
                }
            } else {
                // HTTP/2: a head ended and a smaller one began within one read.
                self.head_budget.release(activity.head_charged - owed);
            }
            activity.head_charged = owed;
        }
        Ok(())
    }

    /// A complete head of `bytes` was handed over. hyper's read buffer (HTTP/1.1), and h2's
    /// header-block and HPACK buffers (HTTP/2), keep the size of the largest head for the
    /// connection's life, so a head past [`FREE_HEAD_BYTES`] retires the connection (it closes
    /// after its answers; the client reconnects) and its bytes past them stay charged until
    /// it does; `false`, taking nothing, when they do not fit the budget: the connection must
    /// close at once. Without this, 1,000 connections that each once sent a 60 KB head held
    /// 119 MiB (HTTP/1.1) and 131 MiB (HTTP/2).
    pub fn retain_head(&self, bytes: u64) -> bool {
        let retained = bytes.saturating_sub(FREE_HEAD_BYTES);
        if retained == 0 {
            return true;
        }
        let mut activity = self.activity();
        activity.retired = true;
        if retained > activity.retained_charged {
            if !self
                .head_budget
                .try_charge(retained - activity.retained_charged)
            {
                return false;
            }
            activity.retained_charged = retained;
        }
        drop(activity);
        self.changed.notify_one();
        true
    }

    /// A head is complete (or its connection gone): its bytes go back to the budget.
    fn end_head(&self, activity: &mut Activity) {
        self.head_budget
            .release(std::mem::take(&mut activity.head_charged));
        activity.head_bytes = 0;
    }

    /// Bytes went out to the client.
    fn bytes_written<'a>(&self, written: impl Iterator<Item = &'a [u8]>) {
        let mut activity = self.activity();
        let mut streams_ended = false;
        let sent = if let Protocol::Http2(wire) = &mut activity.protocol {
            let streams = wire.open_streams();
            let sent = written.fold(Sent::default(), |so_far, bytes| {
                let sent = wire.sent(bytes);
                Sent {
                    answer_moved: so_far.answer_moved | sent.answer_moved,
                    answers_ended: so_far.answers_ended + sent.answers_ended,
                }
            });
            streams_ended = wire.open_streams() < streams;
            sent
        } else {
            Sent {
                answer_moved: true,
                answers_ended: 0,
            }
        };
        if sent.answer_moved {
            activity.last_progress = Instant::now();
        }
        if sent.answers_ended > 0 {
            activity.last_answer_ended = Instant::now();
            let read = sent.answers_ended.min(activity.unread_answers.len());
            activity.unread_answers.drain(..read);
        }
        if streams_ended {
            Self::release_sent_places(&mut activity);
        }
        let unblocked = std::mem::take(&mut activity.write_blocked);
        let quiet = unblocked && activity.in_flight == 0 && activity.report_quiet;
        drop(activity);
        if quiet {
            self.changed.notify_one();
        }
    }

    /// The socket's send buffer is full.
    fn write_blocked(&self) {
        self.activity().write_blocked = true;
    }

    /// A request head is complete and its handling starts. The guard ends it when dropped.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        let mut activity = self.activity();
        activity.requests += 1;
        if activity.in_flight == 0 {
            activity.last_progress = Instant::now();
            activity.busy_since = activity.last_progress;
        }
        activity.in_flight += 1;
        if !matches!(activity.protocol, Protocol::Http2(_)) {
            activity.head_started = None;
            self.end_head(&mut activity);
        }
        drop(activity);
        RequestGuard {
            tracker: self.clone(),
        }
    }

    fn request_finished(&self) {
        let mut activity = self.activity();
        activity.in_flight = activity.in_flight.saturating_sub(1);
        Self::release_sent_places(&mut activity);
        if activity.in_flight == 0 {
            activity.idle_since = Instant::now();
            if activity.report_quiet {
                drop(activity);
                self.changed.notify_one();
            }
        }
    }

    /// Requests in progress, or answers not yet on the wire.
    fn busy(activity: &Activity) -> bool {
        activity.in_flight > 0
            || activity.write_blocked
            || !activity.unsent.is_empty()
            || !activity.answers_waiting_since.is_empty()
    }

    /// From now on, wakes the watchdog whenever the last request in progress ends (a
    /// draining server closes connections as soon as they are quiet).
    pub fn report_quiet(&self) {
        self.activity().report_quiet = true;
    }

    /// A handler started (`true`) or stopped (`false`) waiting for body bytes.
    pub fn body_waiting(&self, waiting: bool) {
        let mut activity = self.activity();
        activity.bodies_waiting = if waiting {
            activity.bodies_waiting + 1
        } else {
            activity.bodies_waiting.saturating_sub(1)
        };
    }

    /// Whether the connection was admitted past the cap (probes only).
    pub fn overflow(&self) -> bool {
        self.overflow
    }

    /// Asks the watchdog to close the connection once nothing is in progress on it.
    pub fn retire(&self) {
        self.activity().retired = true;
        self.changed.notify_one();
    }

    pub fn retired(&self) -> bool {
        self.activity().retired
    }

    /// Whether nothing is in progress: no request served, no head or frame half received.
    pub fn quiet(&self) -> bool {
        let activity = self.activity();
        !Self::busy(&activity) && activity.head_started.is_none()
    }

    pub fn is_http2(&self) -> bool {
        matches!(self.activity().protocol, Protocol::Http2(_))
    }

    /// Asks the watchdog to close the connection at once.
    pub fn evict(&self) {
        self.activity().evicted = true;
        self.changed.notify_one();
    }

    pub fn evicted(&self) -> bool {
        self.activity().evicted
    }

    /// Completes when the server asks something of the connection (eviction), or when a
    /// draining connection becomes quiet.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let mut activity = self.activity();
        activity.unsent.clear();
        let charged = std::mem::take(&mut activity.head_charged)
            + std::mem::take(&mut activity.retained_charged);
        drop(activity);
        self.head_budget.release(charged);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{
        timers::{CloseReason, LONG_IDLE, SLOW_CLIENT},
        *,
    };

    const TIMERS: Timers = Timers {
        first_request: Duration::from_secs(30),
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(3600),
        stall: Duration::from_secs(60),
    };

    fn unbounded() -> Tracker {
        Tracker::new(HeadBudget::new(u64::MAX), false)
    }

    #[test]
    fn unfinished_heads_draw_on_the_shared_budget_past_their_free_bytes() {
        let budget = HeadBudget::new(4 * 1024);
        let first = Tracker::new(budget.clone(), false);
        let second = Tracker::new(budget.clone(), false);
        let pad = vec![b'a'; 10 * 1024];
        let start = b"GET / HTTP/1.1\r\nX-Pad: ";
        assert!(first.bytes_read(start).is_ok());
        assert!(first.bytes_read(&pad[..8 * 1024]).is_ok());
        assert_eq!(budget.used(), 23, "the bytes past the first 8 KiB");
        assert!(second.bytes_read(&pad[..8 * 1024]).is_ok(), "free");
        assert!(
            second.bytes_read(&pad[..4 * 1024]).is_err(),
            "23 + 4096 > 4096"
        );
        let request = Arc::new(first).request_started();
        assert_eq!(budget.used(), 0, "a complete head gives its bytes back");
        drop(request);
        drop(second);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn each_phase_has_its_own_timer() {
        let tracker = Arc::new(unbounded());
        let accepted = Instant::now();
        assert_eq!(
            tracker.deadline(&TIMERS),
            Some((
                accepted + TIMERS.first_request,
                CloseReason::FirstRequestTimeout
            ))
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(tracker.bytes_read(b"GET / HTTP/1.1\r\n").is_ok());
        assert_eq!(
            tracker.deadline(&TIMERS),
            Some((
                Instant::now() + TIMERS.header_read,
                CloseReason::HeaderReadTimeout
            ))
        );
        let request = tracker.request_started();
        assert_eq!(
            tracker.deadline(&TIMERS),
            Some((Instant::now() + TIMERS.stall, CloseReason::Stalled)),
            "a request in progress: only the stall timer"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(tracker.bytes_read(b"ping").is_ok());
        assert_eq!(
            tracker.deadline(&TIMERS),
            Some((
                Instant::now() - Duration::from_secs(1) + TIMERS.stall,
                CloseReason::Stalled
            )),
            "bytes no handler waits for (an HTTP/2 PING) do not move it"
        );
        tracker.body_waiting(true);
        assert!(tracker.bytes_read(b"body").is_ok());
        assert_eq!(
            tracker.deadline(&TIMERS),
            Some((Instant::now() + TIMERS.stall, CloseReason::Stalled)),
            "its body moves the stall timer"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        drop(request);
        assert_eq!(
            tracker.deadline(&TIMERS),
            Some((Instant::now() + TIMERS.idle, CloseReason::IdleTimeout)),
            "keep-alive wait: the idle timer, not the header timer"
        );
        let now = Instant::now();
        assert_eq!(
            tracker.next_check(&TIMERS, now),
            Ok(now + TIMERS.header_read),
            "an idle connection is looked at again within a header-read timeout"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(tracker.bytes_read(b"GET").is_ok());
        assert_eq!(
            tracker.next_check(&TIMERS, now + TIMERS.header_read),
            Ok(Instant::now() + TIMERS.header_read),
            "a head started between two looks keeps its whole timeout"
        );
        tracker.evict();
        assert_eq!(
            tracker.deadline(&TIMERS).map(|(_, why)| why),
            Some(CloseReason::Evicted)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_slow_clients_go_before_keep_alive_clients_between_requests() {
        let keep_alive = Arc::new(unbounded());
        drop(keep_alive.request_started());
        let trickler = unbounded();
        assert!(trickler.bytes_read(b"GET / HTTP/1.1\r\nX-Pad: ").is_ok());
        tokio::time::advance(SLOW_CLIENT).await;
        assert!(trickler.bytes_read(b"a").is_ok());
        let now = Instant::now();
        assert_eq!(
            trickler.eviction_rank(now),
            Some(1),
            "slow, though heard just now"
        );
        assert_eq!(
            keep_alive.eviction_rank(now),
            Some(2),
            "idle under LONG_IDLE"
        );
        tokio::time::advance(LONG_IDLE).await;
        assert_eq!(
            keep_alive.eviction_rank(Instant::now()),
            Some(0),
            "idle for long"
        );
        let fresh = unbounded();
        assert!(fresh.bytes_read(b"GET / HTTP/1.1\r\n").is_ok());
        assert_eq!(
            fresh.eviction_rank(Instant::now()),
            None,
            "a head just begun"
        );
    }

    #[test]
    fn http2_is_told_by_its_preface_and_tracked_by_frames() {
        let tracker = unbounded();
        assert!(tracker.bytes_read(&PREFACE[..10]).is_ok());
        assert!(!tracker.is_http2());
        assert!(tracker.bytes_read(&PREFACE[10..]).is_ok());
        assert!(tracker.is_http2());
        assert!(tracker.quiet(), "the whole preface");
        assert!(tracker.bytes_read(&[0, 0, 5, 1, 4, 0, 0, 0, 1, 0]).is_ok());
        assert!(!tracker.quiet(), "a HEADERS frame cut short");
        let http1 = unbounded();
        assert!(http1.bytes_read(b"GET").is_ok());
        assert!(!http1.is_http2());
    }
}
