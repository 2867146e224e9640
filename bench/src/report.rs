//! The results: a Markdown table (pasted into docs/performance.md#latest-full-run) and a JSON
//! file, with every figure also given as a ratio to the baseline measured in the same round,
//! and the targets checked.

use serde::Serialize;

use crate::{
    process::Service,
    scenarios::{TARGET_RATIO, TOOL, baseline_of, is_baseline},
    wrk::Load,
};

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub scenario: String,
    pub connections: u32,
    /// The round whose requests/s is the median.
    pub load: Load,
    /// CPU time of every process the scenario involves, per request (median over rounds).
    pub cpu_us_per_request: f64,
    /// Median over rounds of requests/s divided by the baseline's in the same round.
    pub ratio: Option<f64>,
    pub rounds_requests_per_sec: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct ProcessFigures {
    pub name: String,
    pub ready_ms: f64,
    pub idle_rss_mib: f64,
    pub peak_rss_mib: f64,
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub what: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub seconds_per_run: f64,
    pub rounds: usize,
    pub measurements: Vec<Measurement>,
    pub processes: Vec<ProcessFigures>,
    pub targets: Vec<Target>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {}", kernel.trim())
}

impl Report {
    pub fn new(
        seconds_per_run: f64,
        rounds: usize,
        measurements: Vec<Measurement>,
        services: Vec<&Service>,
    ) -> Self {
        let processes = services
            .iter()
            .map(|s| ProcessFigures {
                name: s.name.clone(),
                ready_ms: s.ready_after.as_secs_f64() * 1e3,
                idle_rss_mib: s.idle_rss as f64 / MIB,
                peak_rss_mib: s.peak_rss() as f64 / MIB,
            })
            .collect();
        let mut report = Self {
            machine: machine(),
            seconds_per_run,
            rounds,
            measurements,
            processes,
            targets: Vec::new(),
        };
        report.targets = report.check_targets();
        report
    }

    fn find(&self, scenario: &str, connections: u32) -> Option<&Measurement> {
        self.measurements
            .iter()
            .find(|m| m.scenario == scenario && m.connections == connections)
    }

    fn check_targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let pages = [
            (
                "productpage v1 /productpage",
                15.0,
                "/productpage v1 c32, fresh connections",
            ),
            (
                "productpage v1 /productpage, pooled",
                10.0,
                "/productpage v1 c32, pooled",
            ),
        ];
        for (scenario, max_p99, label) in pages {
            if let Some(m) = self.find(scenario, 32) {
                let ratio = m.ratio.unwrap_or(0.0);
                targets.push(Target {
                    what: format!("{label}: ≥ 70% of its front, p99 < {max_p99} ms, no errors"),
                    measured: format!(
                        "{:.0}%, {:.0} req/s, p99 {:.2} ms, {} errors",
                        ratio * 100.0,
                        m.load.requests_per_sec,
                        m.load.p99_ms,
                        m.load.errors
                    ),
                    met: ratio >= 0.7 && m.load.p99_ms < max_p99 && m.load.errors == 0,
                });
            }
        }
        if let Some(m) = self.find("productpage v1 /productpage, export on", 32) {
            let ratio = m.ratio.unwrap_or(0.0);
            targets.push(Target {
                what: "/productpage v1 c32, fresh connections, export on: ≥ 85% of export off"
                    .into(),
                measured: format!(
                    "{:.0}%, {:.0} req/s, {} errors",
                    ratio * 100.0,
                    m.load.requests_per_sec,
                    m.load.errors
                ),
                met: ratio >= 0.85 && m.load.errors == 0,
            });
        }
        for scenario in [
            "details /details/0",
            "reviews v1 /reviews/0",
            "ratings /ratings/0",
        ] {
            if let Some(m) = self.find(scenario, 32) {
                let ratio = m.ratio.unwrap_or(0.0);
                targets.push(Target {
                    what: format!("{scenario} c32: ≥ 60% of hello"),
                    measured: format!("{:.0}%", ratio * 100.0),
                    met: ratio >= 0.6,
                });
            }
        }
        if let Some(m) = self.find(TOOL, 32) {
            let ratio = m.ratio.unwrap_or(0.0);
            targets.push(Target {
                what: format!(
                    "bookinfo traffic --keep-alive --concurrency 32: ≥ {:.0}% of wrk -c32 on the \
                     whole app's page",
                    TARGET_RATIO * 100.0
                ),
                measured: format!(
                    "{:.0}%, {:.0} req/s, {} errors",
                    ratio * 100.0,
                    m.load.requests_per_sec,
                    m.load.errors
                ),
                met: ratio >= TARGET_RATIO && m.load.errors == 0,
            });
        }
        let services: Vec<&ProcessFigures> = self
            .processes
            .iter()
            .filter(|p| !is_baseline(&p.name))
            .collect();
        let peak = services.iter().map(|p| p.peak_rss_mib).fold(0.0, f64::max);
        targets.push(Target {
            what: "every service's peak RSS < 16 MiB".into(),
            measured: format!("largest {peak:.1} MiB"),
            met: peak < 16.0,
        });
        let slowest = services.iter().map(|p| p.ready_ms).fold(0.0, f64::max);
        targets.push(Target {
            what: "every service answers /health within 20 ms of start".into(),
            measured: format!("slowest {slowest:.1} ms"),
            met: slowest < 20.0,
        });
        targets
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "Machine: {}; {} round(s) of {} s per scenario; medians over rounds\n\n",
            self.machine, self.rounds, self.seconds_per_run
        );
        out.push_str("| Scenario | Conns | Req/s | vs baseline | Rounds' req/s | p50 ms | p99 ms | Errors | CPU µs/req |\n");
        out.push_str("|---|---:|---:|---:|---|---:|---:|---:|---:|\n");
        for m in &self.measurements {
            let ratio = match (baseline_of(&m.scenario) == m.scenario, m.ratio) {
                (true, _) => "=".to_owned(),
                (false, Some(r)) => format!("{:.0}%", r * 100.0),
                (false, None) => "–".to_owned(),
            };
            let rounds: Vec<String> = m
                .rounds_requests_per_sec
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect();
            out.push_str(&format!(
                "| {} | {} | {:.0} | {ratio} | {} | {:.2} | {:.2} | {} | {:.0} |\n",
                m.scenario,
                m.connections,
                m.load.requests_per_sec,
                rounds.join(", "),
                m.load.p50_ms,
                m.load.p99_ms,
                m.load.errors,
                m.cpu_us_per_request
            ));
        }
        out.push_str(
            "\n| Process | Ready after ms | Idle RSS MiB | Peak RSS MiB |\n|---|---:|---:|---:|\n",
        );
        for p in &self.processes {
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.1} |\n",
                p.name, p.ready_ms, p.idle_rss_mib, p.peak_rss_mib
            ));
        }
        out.push_str("\n| Target | Measured | Met |\n|---|---|---|\n");
        for t in &self.targets {
            let met = if t.met { "yes" } else { "**no**" };
            out.push_str(&format!("| {} | {} | {met} |\n", t.what, t.measured));
        }
        out
    }

    pub fn write_json(&self, path: &str) -> std::io::Result<()> {
        if let Some(dir) = std::path::Path::new(path).parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json)
    }
}
