//! One bound, across all connections, on the bytes of request heads the server holds but is
//! not handling: heads still arriving (beyond the first [`FREE_HEAD_BYTES`] of each, which
//! every connection's read buffer holds anyway) and complete heads waiting for a place among
//! the requests in progress. Without it, memory follows how many connections send big heads
//! slowly (1,000 unfinished 380 KB heads once took productpage to 383 MiB).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// Bytes of each unfinished head that are not charged: hyper's first read buffer is this
/// size whatever the head, so the connection cap already pays for them.
pub const FREE_HEAD_BYTES: u64 = 8 * 1024;

/// The shared count of charged head bytes, and its limit (MAX_BUFFERED_HEAD_BYTES).
#[derive(Debug)]
pub struct HeadBudget {
    used: AtomicU64,
    limit: u64,
}

impl HeadBudget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicU64::new(0),
            limit,
        })
    }

    /// Takes `bytes` from the budget; `false`, taking nothing, when they do not fit.
    pub fn try_charge(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `bytes` taken earlier.
    pub fn release(&self, bytes: u64) {
        // Never below zero, whatever a caller's arithmetic did.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// Bytes charged now.
    #[cfg(test)]
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// Bytes charged for as long as this lives (a complete head waiting for a place).
#[derive(Debug)]
pub struct HeadCharge {
    budget: Arc<HeadBudget>,
    bytes: u64,
}

impl HeadCharge {
    /// Charges `bytes`, or `None` when they do not fit.
    pub fn take(budget: &Arc<HeadBudget>, bytes: u64) -> Option<Self> {
        budget.try_charge(bytes).then(|| Self {
            budget: budget.clone(),
            bytes,
        })
    }
}

impl Drop for HeadCharge {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_fit_under_the_limit_and_come_back() {
        let budget = HeadBudget::new(100);
        let first = HeadCharge::take(&budget, 60);
        assert!(first.is_some());
        assert!(HeadCharge::take(&budget, 41).is_none(), "60 + 41 > 100");
        let second = HeadCharge::take(&budget, 40);
        assert_eq!(budget.used(), 100);
        drop((first, second));
        assert_eq!(budget.used(), 0);
        budget.release(5);
        assert_eq!(budget.used(), 0, "never below zero");
    }
}
