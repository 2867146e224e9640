//! `--expect`: checks that turn a run into a test. The grammar:
//!
//! - `pNN<DURATION` (or `<=`): the NNth latency percentile is below (at most) DURATION
//!   (`p99<500ms`, `p50<=1s`);
//! - `rate>=N`: at least N requests a second over the whole run (`rate>=950`);
//! - `MEASURE=PERCENT%[±POINTS]`: the share of pages (of requests, for `errors`) is PERCENT,
//!   within ±POINTS percentage points (without `±`: 0% and 100% are none and all, another
//!   share as written to one decimal, so `33.3%` holds for 10 of 30). MEASURE is `errors`,
//!   `degraded`
//!   (a block in error, or not a product page at all),
//!   `details-error`, `reviews-error`, `ratings-unavailable`, `stars=none|black|red:` or
//!   `served-by=TEXT:` (pods whose name contains TEXT): `stars=red:50%±10`, `errors=0%`;
//! - `user=NAME:` before any of them, for one `--user`'s requests only
//!   (`user=jason:ratings-unavailable=100%`, `user=anonymous:stars=none:100%`).

use std::{fmt, str::FromStr, time::Duration};

use crate::{
    page::Stars,
    summary::{Report, Summary, rate},
};

/// One `--expect` check, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    text: String,
    pub user: Option<String>,
    check: Check,
}

#[derive(Debug, Clone, PartialEq)]
enum Check {
    Latency {
        percentile: f64,
        below: Duration,
        /// `<=`: at most, not below.
        inclusive: bool,
    },
    Rate {
        at_least: f64,
    },
    Share {
        measure: Measure,
        percent: f64,
        tolerance: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Measure {
    Errors,
    Degraded,
    DetailsError,
    ReviewsError,
    RatingsUnavailable,
    Stars(Stars),
    ServedBy(String),
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Expectation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let (user, rest) = match trimmed.strip_prefix("user=") {
            Some(scoped) => {
                let (name, rest) = scoped
                    .split_once(':')
                    .ok_or("`user=NAME:` must be followed by a check")?;
                if name.trim().is_empty() {
                    return Err("`user=` needs a name, as in user=jason:errors=0%".into());
                }
                (Some(name.trim().to_owned()), rest)
            }
            None => (None, trimmed),
        };
        let check = parse_check(rest)?;
        Ok(Self {
            text: trimmed.to_owned(),
            user,
            check,
        })
    }
}

fn parse_check(text: &str) -> Result<Check, String> {
    if let Some(at_least) = text.strip_prefix("rate>=") {
        let at_least: f64 = at_least
            .trim()
            .parse()
            .ok()
            .filter(|rate: &f64| *rate > 0.0 && rate.is_finite())
            .ok_or_else(|| format!("`{at_least}` is not a number of requests per second"))?;
        return Ok(Check::Rate { at_least });
    }
    if let Some(rest) = text.strip_prefix('p')
        && let Some((percentile, below)) = rest.split_once('<')
    {
        let percentile: f64 = percentile
            .parse()
            .ok()
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| format!("`p{percentile}` is not a percentile from p0 to p100"))?;
        let (inclusive, below) = match below.strip_prefix('=') {
            Some(below) => (true, below),
            None => (false, below),
        };
        let below = humantime::parse_duration(below.trim())
            .map_err(|err| format!("`{below}` is not a duration like 500ms ({err})"))?;
        return Ok(Check::Latency {
            percentile,
            below,
            inclusive,
        });
    }
    let (name, value) = text
        .split_once('=')
        .ok_or("expected `pNN<DURATION`, `rate>=N` or `MEASURE=PERCENT%`")?;
    let (measure, share) = match name {
        "errors" => (Measure::Errors, value),
        "degraded" => (Measure::Degraded, value),
        "details-error" => (Measure::DetailsError, value),
        "reviews-error" => (Measure::ReviewsError, value),
        "ratings-unavailable" => (Measure::RatingsUnavailable, value),
        "stars" | "served-by" => {
            let (what, share) = value
                .split_once(':')
                .ok_or_else(|| format!("`{name}=` needs `:PERCENT%`, as in stars=red:50%±10"))?;
            let measure = if name == "served-by" {
                if what.is_empty() {
                    return Err("`served-by=` needs a pod name or part of one, as in \
                                served-by=reviews-v3:33%±5"
                        .into());
                }
                Measure::ServedBy(what.to_owned())
            } else {
                Measure::Stars(match what {
                    "none" => Stars::None,
                    "black" => Stars::Black,
                    "red" => Stars::Red,
                    other => return Err(format!("`{other}` stars: expected none, black or red")),
                })
            };
            (measure, share)
        }
        other => {
            return Err(format!(
                "unknown measure `{other}`: expected errors, degraded, details-error, \
                 reviews-error, ratings-unavailable, stars=COLOUR: or served-by=TEXT:"
            ));
        }
    };
    let (percent, tolerance) = match share.split_once('±') {
        Some((percent, tolerance)) => (percent, Some(tolerance)),
        None => (share, None),
    };
    let percent: f64 = crate::shares::percentage(percent)
        .ok_or_else(|| format!("`{percent}` is not a percentage like 50%"))?;
    // Without ±, 0% and 100% mean none and all; any other share must read as written, to
    // the one decimal the report shows.
    let tolerance: f64 = match tolerance {
        None if percent == 0.0 || percent == 100.0 => 0.0,
        None => 0.05,
        Some(points) => points
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|t: &f64| (0.0..=100.0).contains(t))
            .ok_or_else(|| format!("`±{points}` is not a number of percentage points"))?,
    };
    Ok(Check::Share {
        measure,
        percent,
        tolerance,
    })
}

/// One expectation's result, as `--output json` lists it under `expectations`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// The check as written.
    pub check: String,
    pub held: bool,
    /// What was seen (`ok    …` or `FAIL  …` on stderr).
    pub message: String,
}

impl Expectation {
    /// [`Expectation::evaluate`] as a [`Verdict`].
    pub fn verdict(&self, report: &Report) -> Verdict {
        let (held, message) = match self.evaluate(report) {
            Ok(message) => (true, message),
            Err(message) => (false, message),
        };
        Verdict {
            check: self.text.clone(),
            held,
            message,
        }
    }

    /// Checks the run (or its user's part of it): what was seen, as the error when it does
    /// not hold.
    pub fn evaluate(&self, report: &Report) -> Result<String, String> {
        let summary = match &self.user {
            None => &report.total,
            Some(user) => report.user(user).ok_or_else(|| {
                format!("expectation `{self}` failed: no user {user} in this run")
            })?,
        };
        let (holds, seen) = match &self.check {
            // No timed request, no latency to vouch for: the check fails.
            Check::Latency { .. } if summary.timed() == 0 => (
                false,
                format!(
                    "no request was answered or timed out ({} sent)",
                    summary.requests()
                ),
            ),
            Check::Latency {
                percentile,
                below,
                inclusive,
            } => {
                let seen = summary.percentile(*percentile);
                let millis = seen.as_secs_f64() * 1e3;
                (
                    seen < *below || (*inclusive && seen == *below),
                    format!(
                        "p{percentile} was {millis:.2} ms (of {} timed requests)",
                        summary.timed()
                    ),
                )
            }
            Check::Rate { at_least } => {
                let rate = rate(summary.requests(), report.elapsed);
                let seen = format!(
                    "{rate:.1} requests/s ({} in {:.1} s)",
                    summary.requests(),
                    report.elapsed.as_secs_f64()
                );
                (rate >= *at_least, seen)
            }
            Check::Share {
                measure,
                percent,
                tolerance,
            } => {
                let (part, whole) = match measure {
                    Measure::Errors => (summary.failed, summary.requests()),
                    Measure::Degraded => (summary.degraded, summary.pages()),
                    Measure::DetailsError => (summary.details_error, summary.pages()),
                    Measure::ReviewsError => (summary.reviews_error, summary.pages()),
                    Measure::RatingsUnavailable => (summary.ratings_unavailable, summary.pages()),
                    Measure::Stars(stars) => (
                        summary.stars().get(stars).copied().unwrap_or(0),
                        summary.pages(),
                    ),
                    Measure::ServedBy(text) => (
                        summary
                            .reviews
                            .iter()
                            .filter(|(pod, _)| pod.contains(text.as_str()))
                            .map(|(_, pod)| pod.pages)
                            .sum(),
                        summary.pages(),
                    ),
                };
                let share = Summary::share(part, whole);
                let seen = if whole == 0 {
                    format!(
                        "nothing to measure: no page was answered ({} requests)",
                        summary.requests()
                    )
                } else {
                    format!("{share:.1}% ({part} of {whole})")
                };
                (
                    whole > 0 && (share - percent).abs() < *tolerance + 1e-9,
                    seen,
                )
            }
        };
        if holds {
            Ok(format!("{self}: {seen}"))
        } else {
            Err(format!("expectation `{self}` failed: {seen}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_forms_parse() {
        for text in [
            "stars=red:50%±10",
            "user=jason:ratings-unavailable=100%",
            "p99<500ms",
            "p99<=500ms",
            "errors=0%",
            "served-by=v3:33%±5",
            "rate>=950",
        ] {
            assert!(text.parse::<Expectation>().is_ok(), "{text}");
        }
        let scoped: Expectation = "user=jason:ratings-unavailable=100%".parse().unwrap();
        assert_eq!(scoped.user.as_deref(), Some("jason"));
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        for (text, says) in [
            ("stars=blue:50%", "blue"),
            ("stars=red:50", "percentage"),
            ("p99<soon", "duration"),
            ("p120<1s", "percentile"),
            ("colour=red", "unknown measure"),
            ("stars=red:50%±x", "percentage points"),
            ("rate>=fast", "requests per second"),
            ("rate>=inf", "requests per second"),
            ("user=:errors=0%", "needs a name"),
            ("served-by=:100%", "needs a pod name"),
            ("stars=red:50%±inf", "percentage points"),
        ] {
            let err = text.parse::<Expectation>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
