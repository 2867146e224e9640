//! When a connection must close, and which one goes first at the cap: the timers, and the
//! tracker's deadline and eviction rank read from its activity.

use std::time::Duration;

use tokio::time::Instant;

use super::Tracker;

/// The connection timers.
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub first_request: Duration,
    pub header_read: Duration,
    pub idle: Duration,
    /// A request in progress whose answer moved no byte (nor a body its handler waits for) for
    /// this long: a client that stopped reading its answer, or an HTTP/2 client that keeps its
    /// flow-control window shut.
    pub stall: Duration,
}

/// Why a connection was closed by the server rather than by its client or its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    FirstRequestTimeout,
    HeaderReadTimeout,
    IdleTimeout,
    /// The connection cap was reached and this was the oldest connection holding its place for
    /// nothing (idle, a head still arriving, or requests only waiting for body bytes); or an
    /// HTTP/2 connection was refused a request while unsent refusals filled their room (see
    /// `RequestLimit::refusal_place`).
    Evicted,
    /// A request was in progress but nothing moved for the stall timeout.
    Stalled,
}

/// How long a connection's client must have sent nothing before the connection can be
/// evicted at the cap.
pub const EVICTION_QUIET: Duration = Duration::from_millis(100);

/// A head or body still arriving after this long is a slow client, evicted at the cap even
/// if it sent a byte within [`EVICTION_QUIET`] (a real client sends its head at once).
pub const SLOW_CLIENT: Duration = Duration::from_millis(500);

/// An idle connection quiet for this long goes first at the cap; one quiet for less goes
/// after slow clients, since a keep-alive client between two requests may be about to send.
pub const LONG_IDLE: Duration = Duration::from_secs(1);

impl Tracker {
    /// How readily the connection gives up its place at the cap, lowest first: idle for
    /// [`LONG_IDLE`] (0), a head still arriving (1), idle for less (2), only waiting for body
    /// bytes (3); `None` while it is handling a request or sending an answer. A client heard
    /// from in the last [`EVICTION_QUIET`] is spared (a keep-alive client's next request may be
    /// on its way, and closing then would lose it) unless its head or body has already taken
    /// [`SLOW_CLIENT`]: a client trickling a byte at a time must not keep probes out, nor have
    /// keep-alive clients closed in its place.
    pub fn eviction_rank(&self, now: Instant) -> Option<u8> {
        let activity = self.activity();
        if activity.evicted || activity.write_blocked || !activity.unsent.is_empty() {
            return None;
        }
        let heard_lately = now < activity.last_read + EVICTION_QUIET;
        let slow_since = |since: Instant| now >= since + SLOW_CLIENT;
        if activity.in_flight == 0 {
            match activity.head_started {
                None if now >= activity.last_read + LONG_IDLE => Some(0),
                None if !heard_lately => Some(2),
                Some(started) if !heard_lately || slow_since(started) => Some(1),
                _ => None,
            }
        } else if activity.in_flight == activity.bodies_waiting
            && (!heard_lately || slow_since(activity.busy_since))
        {
            Some(3)
        } else {
            None
        }
    }

    /// When the connection must close next, and why: while a request is in progress, when
    /// nothing has moved for the stall timeout.
    pub fn deadline(&self, timers: &Timers) -> Option<(Instant, CloseReason)> {
        let activity = self.activity();
        if activity.evicted {
            return Some((self.accepted, CloseReason::Evicted));
        }
        let waiting = if Self::busy(&activity) {
            // Only answers moving (or a body a handler waits for) count: an HTTP/2 client
            // that keeps its window shut cannot hold its streams by sending PINGs; and an
            // answer handed to h2 must be out within the stall timeout, moving or not.
            let stalled = activity.last_progress + timers.stall;
            let unsent = activity
                .answers_waiting_since
                .first()
                .map(|since| *since + timers.stall);
            Some((
                unsent.map_or(stalled, |at| at.min(stalled)),
                CloseReason::Stalled,
            ))
        } else if activity.requests == 0 {
            Some((
                self.accepted + timers.first_request,
                CloseReason::FirstRequestTimeout,
            ))
        } else {
            Some((activity.idle_since + timers.idle, CloseReason::IdleTimeout))
        };
        let head = activity
            .head_started
            .map(|at| (at + timers.header_read, CloseReason::HeaderReadTimeout));
        match (waiting, head) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// What the watchdog does next: close now (and why), or look again at the returned
    /// instant. It looks again at least once per header-read (or stall) timeout, so a head
    /// that starts, or a request that starts or ends, needs no wake-up to be timed: at that
    /// look the new deadline has not passed yet (it started after the previous look), and the
    /// next look is set to it.
    pub fn next_check(&self, timers: &Timers, now: Instant) -> Result<Instant, CloseReason> {
        let look_again = now + timers.header_read.min(timers.stall);
        match self.deadline(timers) {
            Some((at, reason)) if at <= now => Err(reason),
            Some((at, _)) => Ok(at.min(look_again)),
            None => Ok(look_again),
        }
    }
}
