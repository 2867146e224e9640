//! The live progress line: elapsed time, requests and rate, errors, and the reviews version
//! split so far. On a terminal it redraws in place (indicatif); elsewhere (`kubectl logs`, CI)
//! a plain line every [`PLAIN_INTERVAL`], so a long run still shows it is alive.

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::summary::{Report, Summary, rate};

/// How often the plain (non-terminal) progress line is printed.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// How often the progress is refreshed.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(250);

/// The display of a running traffic run.
pub struct Progress {
    bar: Option<ProgressBar>,
    last_plain: Instant,
}

impl Progress {
    /// A bar towards `requests` when the run has a count, a spinner otherwise. Drawn on
    /// stderr when it is a terminal.
    pub fn new(requests: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match requests {
                Some(total) => (
                    ProgressBar::new(total),
                    "{elapsed} [{bar:12}] {pos}/{len} {msg}",
                ),
                None => (
                    ProgressBar::no_length(),
                    "{spinner} {elapsed} {pos} requests  {msg}",
                ),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self {
            bar,
            last_plain: Instant::now(),
        }
    }

    /// Shows the run so far.
    pub fn update(&mut self, report: &Report, elapsed: Duration) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(report.total.requests());
                bar.set_message(status_line(&report.total, elapsed));
            }
            None if self.last_plain.elapsed() >= PLAIN_INTERVAL => {
                self.last_plain = Instant::now();
                // A closed stderr must not end the run.
                let _ = writeln!(
                    std::io::stderr(),
                    "{:>6.0}s  {} requests  {}",
                    elapsed.as_secs_f64(),
                    report.total.requests(),
                    status_line(&report.total, elapsed)
                );
            }
            None => {}
        }
    }

    /// Removes the line, so the summary starts on a clean screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `48.2/s  errors 0  v1 33% v2 33% v3 34%`: short enough, with the bar, for 80 columns.
pub fn status_line(total: &Summary, elapsed: Duration) -> String {
    let rate = rate(total.requests(), elapsed);
    let versions = total.versions();
    let served: u64 = versions.values().sum();
    let split: Vec<String> = versions
        .iter()
        .map(|(version, pages)| format!("{version} {:.0}%", Summary::share(*pages, served)))
        .collect();
    format!("{rate:.1}/s  errors {}  {}", total.failed, split.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        page::{Reading, Stars},
        summary::Outcome,
    };

    #[test]
    fn the_line_shows_rate_errors_and_the_version_split() {
        let mut total = Summary::default();
        for (pod, status) in [
            ("reviews-v1-a", "200"),
            ("reviews-v1-b", "200"),
            ("reviews-v3-c", "200"),
            ("", "503"),
        ] {
            total.add(&Outcome {
                latency: Some(Duration::from_millis(5)),
                status: status.into(),
                reason: None,
                reading: (!pod.is_empty()).then(|| Reading {
                    product_page: true,
                    reviews_pod: Some(pod.into()),
                    stars: Stars::None,
                    details_error: false,
                    reviews_error: false,
                    ratings_unavailable: false,
                }),
            });
        }
        assert_eq!(
            status_line(&total, Duration::from_secs(2)),
            "2.0/s  errors 1  v1 67% v3 33%"
        );
    }
}
