//! What a run saw, per user and in all: status codes, latency percentiles, and the Bookinfo
//! reading of its pages (which reviews pod served each, with which stars; degraded blocks).

use std::{collections::BTreeMap, time::Duration};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::{
    page::{Reading, Stars},
    users::UserMix,
};

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// From sending to the last byte of the answer, or to the deadline; none for a request
    /// that got no answer (refused, reset) or was never sent (`overloaded`).
    pub latency: Option<Duration>,
    /// The status code, or why there was none (`timeout`, `error`, `overloaded`,
    /// `sign-in failed`).
    pub status: String,
    /// The page's reading, for 2xx answers.
    pub reading: Option<Reading>,
    /// What went wrong, for a request without an answer.
    pub reason: Option<String>,
}

impl Outcome {
    /// A request without an answer.
    pub fn failed(status: &str, latency: Option<Duration>, reason: Option<String>) -> Self {
        Self {
            latency,
            status: status.to_owned(),
            reading: None,
            reason,
        }
    }

    pub fn is_failure(&self) -> bool {
        !self.status.starts_with('2')
    }
}

/// Distinct reviews pods and failure reasons kept by name; more are counted together, so a
/// page that names a new pod on every answer cannot grow the report without bound.
pub const MAX_DISTINCT: usize = 100;

/// Where the names beyond [`MAX_DISTINCT`] are counted.
pub const OTHERS: &str = "(others)";

/// Counts `key` in `map`, under [`OTHERS`] once the map holds [`MAX_DISTINCT`] keys.
fn count_bounded<'a, V: Default>(map: &'a mut BTreeMap<String, V>, key: &str) -> &'a mut V {
    let key = if map.contains_key(key) || map.len() < MAX_DISTINCT {
        key
    } else {
        OTHERS
    };
    map.entry(key.to_owned()).or_default()
}

/// The pages one reviews pod served, by star colour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodPages {
    pub pages: u64,
    pub stars: BTreeMap<Stars, u64>,
}

/// Latencies are kept in microseconds to three significant figures: a percentile is at most
/// 0.1% above the true value (never below it), in constant memory however long the run.
const LATENCY_SIGNIFICANT_FIGURES: u8 = 3;

/// Totals of one user's requests, or of all of them.
#[derive(Debug, Clone)]
pub struct Summary {
    latency_micros: Histogram<u64>,
    requests: u64,
    pub statuses: BTreeMap<String, u64>,
    pub failed: u64,
    /// "Reviews served by:" pod → its pages; `-` for pages without the line.
    pub reviews: BTreeMap<String, PodPages>,
    pub details_error: u64,
    pub reviews_error: u64,
    pub ratings_unavailable: u64,
    pub degraded: u64,
    /// Answers that are not a Bookinfo product page.
    pub not_product_page: u64,
    /// Why requests got no answer, by message.
    pub reasons: BTreeMap<String, u64>,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            latency_micros: Histogram::new(LATENCY_SIGNIFICANT_FIGURES)
                .unwrap_or_else(|_| unreachable!("3 significant figures are within 0..=5")),
            requests: 0,
            statuses: BTreeMap::new(),
            failed: 0,
            reviews: BTreeMap::new(),
            details_error: 0,
            reviews_error: 0,
            ratings_unavailable: 0,
            degraded: 0,
            not_product_page: 0,
            reasons: BTreeMap::new(),
        }
    }
}

impl Summary {
    pub fn add(&mut self, outcome: &Outcome) {
        self.requests += 1;
        if let Some(latency) = outcome.latency {
            let micros = u64::try_from(latency.as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            // The histogram grows to fit; should growing fail, the value saturates.
            if self.latency_micros.record(micros).is_err() {
                self.latency_micros.saturating_record(micros);
            }
        }
        *self.statuses.entry(outcome.status.clone()).or_default() += 1;
        if outcome.is_failure() {
            self.failed += 1;
        }
        if let Some(reason) = &outcome.reason {
            *count_bounded(&mut self.reasons, reason) += 1;
        }
        let Some(reading) = &outcome.reading else {
            return;
        };
        self.degraded += u64::from(reading.degraded());
        // Another page than a product page has no version, stars or blocks to count.
        if !reading.product_page {
            self.not_product_page += 1;
            return;
        }
        let pod = reading.reviews_pod.as_deref().unwrap_or("-");
        let pod = count_bounded(&mut self.reviews, pod);
        pod.pages += 1;
        *pod.stars.entry(reading.stars).or_default() += 1;
        self.details_error += u64::from(reading.details_error);
        self.reviews_error += u64::from(reading.reviews_error);
        self.ratings_unavailable += u64::from(reading.ratings_unavailable);
    }

    /// Product pages by star colour, over every reviews pod.
    pub fn stars(&self) -> BTreeMap<Stars, u64> {
        let mut stars = BTreeMap::new();
        for (colour, pages) in self.reviews.values().flat_map(|pod| &pod.stars) {
            *stars.entry(*colour).or_default() += pages;
        }
        stars
    }

    /// Requests whose latency was measured (answered, or timed out).
    pub fn timed(&self) -> u64 {
        self.latency_micros.len()
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Answered pages (2xx), the base of every page share.
    pub fn pages(&self) -> u64 {
        self.requests - self.failed
    }

    /// The latency at or below which `percent` of the timed requests finished (0 when none
    /// was timed).
    pub fn percentile(&self, percent: f64) -> Duration {
        if self.timed() == 0 {
            return Duration::ZERO;
        }
        let micros = if percent >= 100.0 {
            self.latency_micros.max()
        } else {
            self.latency_micros
                .value_at_quantile((percent / 100.0).clamp(0.0, 1.0))
        };
        Duration::from_micros(micros)
    }

    /// [`Summary::percentile`] in milliseconds (two decimals), or none when no request was
    /// timed: the table's `-` and the JSON's `null`.
    pub fn timed_millis(&self, percent: f64) -> Option<f64> {
        (self.timed() > 0).then(|| millis(self.percentile(percent)))
    }

    /// Pages per reviews version (`v1`, `v2`, ... read off the pod name, as in
    /// `reviews-v2-5b8f7c-x9z`), for the progress line; pods without one count as themselves.
    pub fn versions(&self) -> BTreeMap<String, u64> {
        let mut versions = BTreeMap::new();
        for (pod, pages) in &self.reviews {
            if pod == "-" || pod == OTHERS {
                continue;
            }
            *versions.entry(version_of(pod).to_owned()).or_default() += pages.pages;
        }
        versions
    }

    /// `part` as a percentage of `whole` (0 when there is nothing to share).
    pub fn share(part: u64, whole: u64) -> f64 {
        if whole == 0 {
            0.0
        } else {
            100.0 * part as f64 / whole as f64
        }
    }

    /// The figures for scripts; `elapsed` is the run's, for the rate.
    pub fn json(&self, elapsed: Duration) -> Value {
        let stars = |stars: &BTreeMap<Stars, u64>| {
            stars
                .iter()
                .map(|(s, n)| (s.name().to_owned(), *n))
                .collect::<BTreeMap<_, _>>()
        };
        let reviews: BTreeMap<&String, Value> = self
            .reviews
            .iter()
            .map(|(pod, pages)| {
                (
                    pod,
                    json!({"pages": pages.pages, "stars": stars(&pages.stars)}),
                )
            })
            .collect();
        json!({
            "requests": self.requests,
            "rate": rate(self.requests, elapsed),
            "failed": self.failed,
            "statuses": self.statuses,
            "timed": self.timed(),
            // null, not 0, when no request was timed.
            "latency_ms": {
                "p50": self.timed_millis(50.0),
                "p90": self.timed_millis(90.0),
                "p99": self.timed_millis(99.0),
                "max": self.timed_millis(100.0),
            },
            "pages": self.pages(),
            "reviews_served_by": reviews,
            "stars": stars(&self.stars()),
            "details_error": self.details_error,
            "reviews_error": self.reviews_error,
            "ratings_unavailable": self.ratings_unavailable,
            "degraded": self.degraded,
            "not_product_page": self.not_product_page,
            "failure_reasons": self.reasons,
        })
    }
}

/// The `vN` segment of a reviews pod's name, or the whole name.
pub fn version_of(pod: &str) -> &str {
    pod.split('-')
        .find(|part| {
            part.len() > 1 && part.starts_with('v') && part[1..].chars().all(|c| c.is_ascii_digit())
        })
        .unwrap_or(pod)
}

/// Requests per second.
pub fn rate(requests: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        requests as f64 / seconds
    } else {
        0.0
    }
}

/// Milliseconds with two decimals, as the table and the JSON show them.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e5).round() / 100.0
}

/// One user's part of a run.
#[derive(Debug, Clone)]
pub struct UserSummary {
    pub name: String,
    /// The share of requests the mix gave this user, in percent.
    pub share: f64,
    pub summary: Summary,
}

/// A whole run: per user, and in all.
#[derive(Debug, Clone)]
pub struct Report {
    pub url: String,
    pub elapsed: Duration,
    /// Whether Ctrl-C (or SIGTERM) ended the run before its budget.
    pub interrupted: bool,
    pub users: Vec<UserSummary>,
    pub total: Summary,
}

impl Report {
    pub fn new(url: String, mix: &UserMix) -> Self {
        Self {
            url,
            elapsed: Duration::ZERO,
            interrupted: false,
            users: mix
                .users()
                .iter()
                .map(|(name, share)| UserSummary {
                    name: name.clone(),
                    share: *share,
                    summary: Summary::default(),
                })
                .collect(),
            total: Summary::default(),
        }
    }

    /// Counts `outcome` for the user at `user` (their place in the mix) and in the total.
    pub fn add(&mut self, user: usize, outcome: &Outcome) {
        if let Some(part) = self.users.get_mut(user) {
            part.summary.add(outcome);
        }
        self.total.add(outcome);
    }

    /// One user's totals.
    pub fn user(&self, name: &str) -> Option<&Summary> {
        self.users
            .iter()
            .find(|user| user.name == name)
            .map(|user| &user.summary)
    }

    /// Requests per second over the run.
    pub fn rate(&self) -> f64 {
        rate(self.total.requests, self.elapsed)
    }

    /// The report for scripts; the same figures as [`Report::table`].
    pub fn json(&self) -> Value {
        let users: Vec<Value> = self
            .users
            .iter()
            .map(|user| {
                let mut figures = user.summary.json(self.elapsed);
                if let Value::Object(map) = &mut figures {
                    map.insert("user".into(), json!(user.name));
                    map.insert("share_percent".into(), json!(user.share));
                }
                figures
            })
            .collect();
        json!({
            "url": self.url,
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "interrupted": self.interrupted,
            "users": users,
            "total": self.total.json(self.elapsed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(ms: u64) -> Outcome {
        Outcome {
            latency: Some(Duration::from_millis(ms)),
            status: "200".into(),
            reading: None,
            reason: None,
        }
    }

    #[test]
    fn percentiles_are_never_below_the_true_value_and_at_most_a_tenth_of_a_percent_above() {
        let mut summary = Summary::default();
        for ms in 1..=1000 {
            summary.add(&answered(ms));
        }
        for (percent, exact) in [(50.0, 500), (90.0, 900), (99.0, 990), (100.0, 1000)] {
            let seen = summary.percentile(percent).as_secs_f64() * 1e3;
            let exact = exact as f64;
            assert!(seen >= exact && seen <= exact * 1.001, "p{percent}: {seen}");
        }
        assert_eq!(Summary::default().percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn refused_requests_count_but_are_not_timed_and_reasons_are_bounded() {
        let mut summary = Summary::default();
        summary.add(&answered(5));
        for i in 0..150 {
            summary.add(&Outcome::failed("error", None, Some(format!("reason {i}"))));
        }
        assert_eq!(
            (summary.requests(), summary.timed(), summary.failed),
            (151, 1, 150)
        );
        assert_eq!(summary.reasons.len(), MAX_DISTINCT + 1);
        assert_eq!(summary.reasons[OTHERS], 50);
    }

    #[test]
    fn versions_are_read_off_pod_names() {
        assert_eq!(version_of("reviews-v2-5b8f7c-x9z"), "v2");
        assert_eq!(version_of("reviews-v3"), "v3");
        assert_eq!(version_of("reviews-vm"), "reviews-vm");
        assert_eq!(version_of("my-reviews"), "my-reviews");
    }
}
