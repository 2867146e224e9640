//! The open connections: admitted under a cap; at the cap the oldest connection holding its
//! place for nothing is evicted (idle, then a head still arriving, then a body still
//! arriving), or, when every connection is handling a request, the new one is admitted into
//! the room kept for probes; waited for (then dropped) at shutdown.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{sync::Notify, task::AbortHandle};

use super::{
    connection::{EVICTION_QUIET, Tracker},
    head_budget::HeadBudget,
};

/// Connections over the cap at most: room for the kubelet's probes (a new connection each)
/// and Prometheus' scrape while every connection under the cap is serving.
pub const PROBE_ROOM: usize = 64;

/// How often, at most, [`Registry::evict_unread`] looks at every connection.
const UNREAD_LOOK_EVERY: Duration = Duration::from_millis(50);

struct Entry {
    tracker: Arc<Tracker>,
    task: Option<AbortHandle>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By accept order, so the first quiet one is the oldest.
    entries: BTreeMap<u64, Entry>,
}

/// Every open connection of one server.
pub struct Registry {
    cap: usize,
    head_budget: Arc<HeadBudget>,
    unread_answer_timeout: Duration,
    open: Mutex<Open>,
    emptied: Notify,
    freed: Notify,
    /// When [`Registry::evict_unread`] last looked.
    last_unread_look: Mutex<Option<tokio::time::Instant>>,
}

/// A connection's place in the registry; it leaves when this is dropped (the connection's
/// task ended or was aborted).
pub struct Admission {
    registry: Arc<Registry>,
    id: u64,
    pub tracker: Arc<Tracker>,
}

impl Admission {
    /// The connection's number, in accept order.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self.registry.open();
        open.entries.remove(&self.id);
        let empty = open.entries.is_empty();
        drop(open);
        self.registry.freed.notify_waiters();
        if empty {
            self.registry.emptied.notify_waiters();
        }
    }
}

impl Registry {
    pub fn new(
        cap: usize,
        head_budget: Arc<HeadBudget>,
        unread_answer_timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            head_budget,
            unread_answer_timeout,
            open: Mutex::new(Open::default()),
            emptied: Notify::new(),
            freed: Notify::new(),
            last_unread_look: Mutex::new(None),
        })
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections open at most, counting those told to close that still hold their
    /// descriptor and those admitted for probes: a quarter over the cap, at most
    /// [`PROBE_ROOM`] over it (each connection costs about 19 KiB; docs/performance.md).
    fn hard_limit(&self) -> usize {
        self.cap + (self.cap / 4).clamp(1, PROBE_ROOM)
    }

    /// Completes when a connection may be accepted: evicted connections hold their
    /// descriptors until their tasks run, so past [`Registry::hard_limit`] new connections
    /// wait in the listen queue (which costs no descriptor) instead of being accepted.
    pub async fn wait_for_room(&self) {
        loop {
            let freed = self.freed.notified();
            if self.len() < self.hard_limit() {
                return;
            }
            // A connection that has gone quiet since the last look can still make room.
            self.evict_one(tokio::time::Instant::now());
            tokio::select! {
                () = freed => {}
                () = tokio::time::sleep(EVICTION_QUIET / 4) => {}
            }
        }
    }

    /// Tells the connection most readily given up to close (see [`Tracker::eviction_rank`]);
    /// `false` when none can be.
    fn evict_one(&self, now: tokio::time::Instant) -> bool {
        let open = self.open();
        let candidate = open
            .entries
            .values()
            .filter_map(|entry| Some((entry.tracker.eviction_rank(now)?, &entry.tracker)))
            .min_by_key(|(rank, _)| *rank);
        match candidate {
            Some((_, tracker)) => {
                tracker.evict();
                true
            }
            None => false,
        }
    }

    /// Admits a new connection. At the cap, the oldest connection that holds its place for
    /// nothing is told to close (see [`Tracker::eviction_rank`]); when every connection is
    /// handling a request, the new one is admitted past the cap, where only probes are
    /// served ([`Tracker::overflow`]; [`Registry::wait_for_room`] bounds how many).
    pub fn admit(self: &Arc<Self>) -> Admission {
        let mut open = self.open();
        let mut overflow = false;
        if open.entries.len() >= self.cap {
            let closing = open
                .entries
                .values()
                .filter(|entry| entry.tracker.evicted())
                .count();
            if open.entries.len() - closing >= self.cap {
                drop(open);
                overflow = !self.evict_one(tokio::time::Instant::now());
                open = self.open();
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let tracker = Arc::new(Tracker::new(self.head_budget.clone(), overflow));
        open.entries.insert(
            id,
            Entry {
                tracker: tracker.clone(),
                task: None,
            },
        );
        Admission {
            registry: self.clone(),
            id,
            tracker,
        }
    }

    /// Every place is taken: closes the HTTP/2 connections whose answers (holding places, or
    /// refusals' room) nobody has read for `unread_answer_timeout` (UNREAD_ANSWER_TIMEOUT_MS,
    /// see [`Tracker::unread_since`]: an HTTP/2 client keeping its window shut), so a few
    /// connections cannot keep every other client refused until the stall timeout (4
    /// connections of 16 such streams once held all 64 places for 20 s at a time). Looks at
    /// most once per [`UNREAD_LOOK_EVERY`], so a busy server does not walk its connections
    /// for every request that waits.
    pub fn evict_unread(&self, now: tokio::time::Instant) {
        {
            let mut last = self
                .last_unread_look
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| now < at + UNREAD_LOOK_EVERY) {
                return;
            }
            *last = Some(now);
        }
        for entry in self.open().entries.values() {
            if entry
                .tracker
                .unread_since()
                .is_some_and(|since| now >= since + self.unread_answer_timeout)
            {
                tracing::debug!("every place is taken and this client reads nothing; closing");
                entry.tracker.evict();
            }
        }
    }

    /// Records the task serving an admitted connection, so shutdown can drop it.
    pub fn attach(&self, id: u64, task: AbortHandle) {
        if let Some(entry) = self.open().entries.get_mut(&id) {
            entry.task = Some(task);
        }
    }

    pub fn len(&self) -> usize {
        self.open().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completes once no connection is open.
    pub async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.is_empty() {
                return;
            }
            emptied.await;
        }
    }

    /// Drops every connection still open.
    pub fn abort_all(&self) {
        for entry in self.open().entries.values() {
            if let Some(task) = &entry.task {
                task.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Past [`EVICTION_QUIET`]: the connections admitted so far may be evicted.
    async fn quiet_for_long_enough() {
        tokio::time::advance(EVICTION_QUIET + Duration::from_millis(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_just_sent_something_is_not_evicted() {
        let registry = Registry::new(1, HeadBudget::new(u64::MAX), Duration::from_secs(1));
        let recent = registry.admit();
        let second = registry.admit();
        assert!(
            !recent.tracker.evicted(),
            "its next request may be on its way"
        );
        assert!(second.tracker.overflow());
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_oldest_quiet_connection_makes_room() {
        let registry = Registry::new(2, HeadBudget::new(u64::MAX), Duration::from_secs(1));
        let busy = registry.admit();
        let _guard = busy.tracker.request_started();
        let quiet = registry.admit();
        quiet_for_long_enough().await;
        let third = registry.admit();
        assert!(!third.tracker.overflow());
        assert!(quiet.tracker.evicted());
        assert!(!busy.tracker.evicted());
        drop(quiet);
        assert_eq!(registry.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn connections_told_to_close_count_until_they_have() {
        let registry = Registry::new(4, HeadBudget::new(u64::MAX), Duration::from_secs(1));
        let mut kept: Vec<_> = (0..4).map(|_| registry.admit()).collect();
        quiet_for_long_enough().await;
        kept.push(registry.admit());
        assert_eq!(kept.len(), 5, "the fifth evicts the first");
        assert!(kept[0].tracker.evicted());
        // Four open and one closing: a quarter over the cap, so the next waits.
        let mut waiting = std::pin::pin!(registry.wait_for_room());
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        assert!(waiting.as_mut().poll(&mut context).is_pending());
        drop(kept);
        assert!(waiting.as_mut().poll(&mut context).is_ready());
    }

    #[tokio::test(start_paused = true)]
    async fn slow_senders_give_way_before_a_new_connection_goes_past_the_cap() {
        let registry = Registry::new(2, HeadBudget::new(u64::MAX), Duration::from_secs(1));
        let serving = registry.admit();
        let _serving = serving.tracker.request_started();
        let slow_body = registry.admit();
        let _slow_body = slow_body.tracker.request_started();
        slow_body.tracker.body_waiting(true);
        quiet_for_long_enough().await;
        let third = registry.admit();
        assert!(slow_body.tracker.evicted(), "only waiting for its client");
        assert!(!serving.tracker.evicted());
        assert!(!third.tracker.overflow());
    }

    #[tokio::test(start_paused = true)]
    async fn when_every_connection_is_serving_a_new_one_is_kept_for_probes() {
        let registry = Registry::new(1, HeadBudget::new(u64::MAX), Duration::from_secs(1));
        let busy = registry.admit();
        let _guard = busy.tracker.request_started();
        let probe = registry.admit();
        assert!(probe.tracker.overflow());
        assert!(!busy.tracker.evicted());
    }
}
