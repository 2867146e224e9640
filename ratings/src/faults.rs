//! The fault modes of the original ratings images (docs/behaviour.md#fault-modes). Periods, probability and delay are fields so tests can use
//! small values and a schedule origin in the past instead of waiting.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// v1: always answers.
    None,
    /// v-faulty: a share of GETs answer 503.
    Faulty,
    /// v-delayed: a share of GETs answer after a delay.
    Delayed,
    /// v-unavailable: GETs alternate between available and 503 every period.
    Unavailable,
    /// v-unhealthy: health and GETs flip together every (longer) period.
    Unhealthy,
}

#[derive(Debug, Clone)]
pub struct Faults {
    pub mode: FaultMode,
    /// Share of GETs hit by v-faulty and v-delayed (upstream: 0.5).
    pub probability: f64,
    /// v-delayed's delay (upstream: 7 s).
    pub delay: Duration,
    /// v-unavailable's flip period (upstream: 60 s).
    pub unavailable_period: Duration,
    /// v-unhealthy's flip period (upstream: 15 min).
    pub unhealthy_period: Duration,
    /// Start of the flip schedule; the first period is available and healthy.
    pub origin: Instant,
}

/// What a GET should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetFault {
    None,
    Unavailable,
    Delay(Duration),
}

impl Faults {
    pub fn new(mode: FaultMode) -> Self {
        Self {
            mode,
            probability: 0.5,
            delay: Duration::from_secs(7),
            unavailable_period: Duration::from_secs(60),
            unhealthy_period: Duration::from_secs(15 * 60),
            origin: Instant::now(),
        }
    }

    /// Whether the schedule is in an odd (flipped) period.
    fn flipped(&self, period: Duration) -> bool {
        let elapsed = self.origin.elapsed().as_nanos();
        let period = period.as_nanos().max(1);
        (elapsed / period) % 2 == 1
    }

    pub fn healthy(&self) -> bool {
        !(self.mode == FaultMode::Unhealthy && self.flipped(self.unhealthy_period))
    }

    pub fn on_get(&self) -> GetFault {
        let chance = || fastrand::f64() < self.probability;
        match self.mode {
            FaultMode::None => GetFault::None,
            FaultMode::Faulty if chance() => GetFault::Unavailable,
            FaultMode::Delayed if chance() => GetFault::Delay(self.delay),
            FaultMode::Unavailable if self.flipped(self.unavailable_period) => {
                GetFault::Unavailable
            }
            FaultMode::Unhealthy if !self.healthy() => GetFault::Unavailable,
            _ => GetFault::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started_periods_ago(mode: FaultMode, periods: u32) -> Faults {
        let mut faults = Faults::new(mode);
        faults.unavailable_period = Duration::from_secs(60);
        faults.unhealthy_period = Duration::from_secs(900);
        let period = match mode {
            FaultMode::Unhealthy => faults.unhealthy_period,
            _ => faults.unavailable_period,
        };
        // Half a period in, so the test is far from a boundary.
        faults.origin = Instant::now() - period * periods - period / 2;
        faults
    }

    #[test]
    fn unavailable_alternates_every_period_starting_available() {
        for (periods, expected) in [
            (0, GetFault::None),
            (1, GetFault::Unavailable),
            (2, GetFault::None),
            (3, GetFault::Unavailable),
        ] {
            assert_eq!(
                started_periods_ago(FaultMode::Unavailable, periods).on_get(),
                expected,
                "period {periods}"
            );
        }
    }

    #[test]
    fn unhealthy_flips_health_and_availability_together() {
        let fresh = started_periods_ago(FaultMode::Unhealthy, 0);
        assert!(fresh.healthy());
        assert_eq!(fresh.on_get(), GetFault::None);
        let flipped = started_periods_ago(FaultMode::Unhealthy, 1);
        assert!(!flipped.healthy());
        assert_eq!(flipped.on_get(), GetFault::Unavailable);
        assert!(started_periods_ago(FaultMode::Unhealthy, 2).healthy());
    }

    #[test]
    fn probability_decides_faulty_and_delayed() {
        let mut faulty = Faults::new(FaultMode::Faulty);
        faulty.probability = 1.0;
        assert_eq!(faulty.on_get(), GetFault::Unavailable);
        faulty.probability = 0.0;
        assert_eq!(faulty.on_get(), GetFault::None);
        let mut delayed = Faults::new(FaultMode::Delayed);
        delayed.probability = 1.0;
        assert_eq!(delayed.on_get(), GetFault::Delay(Duration::from_secs(7)));
    }

    #[test]
    fn upstream_share_is_about_half() {
        let faults = Faults::new(FaultMode::Faulty);
        let hits = (0..10_000)
            .filter(|_| faults.on_get() != GetFault::None)
            .count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }
}
