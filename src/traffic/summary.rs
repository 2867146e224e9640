//! What a run saw: status codes, latency percentiles, and the Bookinfo reading of its pages.

use std::{collections::BTreeMap, fmt::Write, time::Duration};

use serde_json::{Value, json};

use super::page::{Reading, Stars};

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub latency: Duration,
    /// The status code, or why there was none (`timeout`, `error`).
    pub status: String,
    /// The page's reading, for 2xx answers.
    pub reading: Option<Reading>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !self.status.starts_with('2')
    }
}

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    pub elapsed: Duration,
    latencies: Vec<Duration>,
    pub statuses: BTreeMap<String, u64>,
    pub failed: u64,
    pub pods: BTreeMap<String, u64>,
    pub stars: BTreeMap<Stars, u64>,
    pub details_error: u64,
    pub reviews_error: u64,
    pub ratings_unavailable: u64,
    pub degraded: u64,
}

impl Summary {
    pub fn add(&mut self, outcome: Outcome) {
        self.latencies.push(outcome.latency);
        *self.statuses.entry(outcome.status.clone()).or_default() += 1;
        if outcome.failed() {
            self.failed += 1;
        }
        if let Some(reading) = outcome.reading {
            let pod = reading.reviews_pod.clone().unwrap_or_else(|| "-".into());
            *self.pods.entry(pod).or_default() += 1;
            *self.stars.entry(reading.stars).or_default() += 1;
            self.details_error += u64::from(reading.details_error);
            self.reviews_error += u64::from(reading.reviews_error);
            self.ratings_unavailable += u64::from(reading.ratings_unavailable);
            self.degraded += u64::from(reading.degraded());
        }
    }

    pub fn requests(&self) -> u64 {
        self.latencies.len() as u64
    }

    /// Answered pages (2xx), the base of every page share.
    pub fn pages(&self) -> u64 {
        self.requests() - self.failed
    }

    /// The latency below which `percent` of requests finished (nearest rank).
    pub fn percentile(&self, percent: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// Requests per second over the run.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.requests() as f64 / seconds
        } else {
            0.0
        }
    }

    /// `part` as a percentage of `whole` (0 when there is nothing to share).
    pub fn share(part: u64, whole: u64) -> f64 {
        if whole == 0 {
            0.0
        } else {
            100.0 * part as f64 / whole as f64
        }
    }

    fn millis(duration: Duration) -> f64 {
        (duration.as_secs_f64() * 1e5).round() / 100.0
    }

    /// The summary for people.
    pub fn table(&self) -> String {
        let pages = self.pages();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "requests {}  in {:.1} s  ({:.1}/s)  failed {}",
            self.requests(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.failed
        );
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let _ = writeln!(out, "status   {}", statuses.join("  "));
        let _ = writeln!(
            out,
            "latency  p50 {} ms  p90 {} ms  p99 {} ms  max {} ms",
            Self::millis(self.percentile(50.0)),
            Self::millis(self.percentile(90.0)),
            Self::millis(self.percentile(99.0)),
            Self::millis(self.percentile(100.0)),
        );
        let _ = writeln!(out, "pages    {pages}");
        for (pod, n) in &self.pods {
            let _ = writeln!(
                out,
                "  reviews served by {pod:<28} {n:>7}  {:5.1}%",
                Self::share(*n, pages)
            );
        }
        for (stars, n) in &self.stars {
            let _ = writeln!(
                out,
                "  stars {:<40} {n:>7}  {:5.1}%",
                stars.name(),
                Self::share(*n, pages)
            );
        }
        for (what, n) in [
            ("details error", self.details_error),
            ("reviews error", self.reviews_error),
            ("ratings unavailable", self.ratings_unavailable),
        ] {
            let _ = writeln!(out, "  {what:<46} {n:>7}  {:5.1}%", Self::share(n, pages));
        }
        out
    }

    /// The summary for scripts; the same figures as [`Summary::table`].
    pub fn json(&self) -> Value {
        json!({
            "requests": self.requests(),
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "rate": self.rate(),
            "failed": self.failed,
            "statuses": self.statuses,
            "latency_ms": {
                "p50": Self::millis(self.percentile(50.0)),
                "p90": Self::millis(self.percentile(90.0)),
                "p99": Self::millis(self.percentile(99.0)),
                "max": Self::millis(self.percentile(100.0)),
            },
            "pages": self.pages(),
            "reviews_served_by": self.pods,
            "stars": self.stars.iter().map(|(s, n)| (s.name().to_owned(), *n)).collect::<BTreeMap<_, _>>(),
            "details_error": self.details_error,
            "reviews_error": self.reviews_error,
            "ratings_unavailable": self.ratings_unavailable,
            "degraded": self.degraded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut summary = Summary::default();
        for ms in 1..=100 {
            summary.add(Outcome {
                latency: Duration::from_millis(ms),
                status: "200".into(),
                reading: None,
            });
        }
        assert_eq!(summary.percentile(50.0), Duration::from_millis(50));
        assert_eq!(summary.percentile(99.0), Duration::from_millis(99));
        assert_eq!(summary.percentile(100.0), Duration::from_millis(100));
    }
}
