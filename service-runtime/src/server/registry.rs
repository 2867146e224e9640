//! The open connections: admitted under a cap, evicted oldest-idle-first at the cap, and
//! waited for (then dropped) at shutdown.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::{sync::Notify, task::AbortHandle};

use super::connection::Tracker;

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
    open: Mutex<Open>,
    emptied: Notify,
    freed: Notify,
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
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            open: Mutex::new(Open::default()),
            emptied: Notify::new(),
            freed: Notify::new(),
        })
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections open at most, counting those told to close that still hold their
    /// descriptor: a quarter over the cap.
    fn hard_limit(&self) -> usize {
        self.cap + (self.cap / 4).max(1)
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
            freed.await;
        }
    }

    /// Admits a new connection. At the cap, the oldest connection with no request in
    /// progress is closed to make room; when every connection is serving a request, the new
    /// one is refused (`None`).
    pub fn admit(self: &Arc<Self>) -> Option<Admission> {
        let mut open = self.open();
        if open.entries.len() >= self.cap {
            let closing = open
                .entries
                .values()
                .filter(|entry| entry.tracker.evicted())
                .count();
            if open.entries.len() - closing >= self.cap {
                let oldest_quiet = open
                    .entries
                    .values()
                    .find(|entry| !entry.tracker.busy() && !entry.tracker.evicted())?;
                oldest_quiet.tracker.evict();
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let tracker = Arc::new(Tracker::new());
        open.entries.insert(
            id,
            Entry {
                tracker: tracker.clone(),
                task: None,
            },
        );
        Some(Admission {
            registry: self.clone(),
            id,
            tracker,
        })
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
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_quiet_connection_makes_room() {
        let registry = Registry::new(2);
        let busy = registry.admit().map(|admission| {
            let guard = admission.tracker.request_started();
            (admission, guard)
        });
        let quiet = registry.admit();
        let third = registry.admit();
        assert!(third.is_some());
        assert!(quiet.as_ref().is_some_and(|a| a.tracker.evicted()));
        assert!(busy.as_ref().is_some_and(|(a, _)| !a.tracker.evicted()));
        drop(quiet);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn connections_told_to_close_count_until_they_have() {
        let registry = Registry::new(4);
        let kept: Vec<_> = (0..5).filter_map(|_| registry.admit()).collect();
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

    #[test]
    fn when_every_connection_is_serving_a_new_one_is_refused() {
        let registry = Registry::new(1);
        let busy = registry.admit().map(|admission| {
            let guard = admission.tracker.request_started();
            (admission, guard)
        });
        assert!(busy.is_some());
        assert!(registry.admit().is_none());
    }
}
