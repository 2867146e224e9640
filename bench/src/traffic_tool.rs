//! `bookinfo traffic` as a load generator, against wrk on the same page: the whole
//! application as `cargo run` starts it, `wrk -c32` and `bookinfo traffic --keep-alive
//! --concurrency 32` taking turns for the same time each round. The tool reads every page it
//! loads (versions, stars, degraded blocks); wrk reads none, so this is what reading costs.

use std::{process::Command, time::Duration};

use crate::{
    Fleet, Options, median,
    report::Measurement,
    wrk::{self, Load},
};

/// The process that serves the comparison: the whole application in one process.
pub const APP: &str = "bookinfo (cargo run)";

/// The baseline scenario: wrk on the whole application's page.
pub const WRK: &str = "whole app /productpage, wrk -c32 (baseline)";

/// The tool on the same page.
pub const TOOL: &str = "whole app /productpage, bookinfo traffic --keep-alive --concurrency 32";

/// The share of wrk's rate the tool must keep (issue #15).
pub const TARGET_RATIO: f64 = 0.8;

const CONNECTIONS: u32 = 32;

/// Runs the two generators in turn, `options.rounds` times.
pub fn measure(fleet: &Fleet, options: &Options) -> Result<Vec<Measurement>, String> {
    let Some(app) = fleet.services.get(APP) else {
        return Ok(Vec::new());
    };
    let url = app.url("/productpage");
    let duration = Duration::from_secs(options.seconds);
    let mut wrk_runs = Vec::new();
    let mut tool_runs = Vec::new();
    for _ in 0..options.rounds {
        let cpu = fleet.cpu(&[APP]);
        let load = wrk::run(&url, CONNECTIONS, duration)?;
        wrk_runs.push((per_request(fleet.cpu(&[APP]) - cpu, &load), load));
        let cpu = fleet.cpu(&[APP]);
        let load = run_tool(&url, duration)?;
        tool_runs.push((per_request(fleet.cpu(&[APP]) - cpu, &load), load));
        eprintln!(
            "  whole app c{CONNECTIONS}: wrk {:.0} req/s, bookinfo traffic {:.0} req/s",
            wrk_runs.last().map_or(0.0, |r| r.1.requests_per_sec),
            tool_runs.last().map_or(0.0, |r| r.1.requests_per_sec),
        );
    }
    let ratios: Vec<f64> = tool_runs
        .iter()
        .zip(&wrk_runs)
        .map(|(tool, wrk)| tool.1.requests_per_sec / wrk.1.requests_per_sec.max(1.0))
        .collect();
    Ok(vec![
        summarize(WRK, &wrk_runs, None),
        summarize(TOOL, &tool_runs, Some(median(ratios))),
    ])
}

fn per_request(cpu_seconds: f64, load: &Load) -> f64 {
    cpu_seconds * 1e6 / load.requests.max(1) as f64
}

fn summarize(scenario: &str, runs: &[(f64, Load)], ratio: Option<f64>) -> Measurement {
    let rates: Vec<f64> = runs.iter().map(|r| r.1.requests_per_sec).collect();
    let rate = median(rates.clone());
    let typical = runs
        .iter()
        .min_by(|a, b| {
            (a.1.requests_per_sec - rate)
                .abs()
                .total_cmp(&(b.1.requests_per_sec - rate).abs())
        })
        .map(|r| r.1.clone())
        .unwrap_or_default();
    Measurement {
        scenario: scenario.to_owned(),
        connections: CONNECTIONS,
        load: typical,
        cpu_us_per_request: median(runs.iter().map(|r| r.0).collect()),
        ratio,
        rounds_requests_per_sec: rates,
    }
}

/// `bookinfo traffic URL --keep-alive --concurrency 32 --duration N --output json`, read
/// into wrk's figures.
fn run_tool(url: &str, duration: Duration) -> Result<Load, String> {
    let binary = crate::process::sibling("bookinfo")?;
    let output = Command::new(binary)
        .args([
            "traffic",
            url,
            "--keep-alive",
            "--concurrency",
            &CONNECTIONS.to_string(),
            "--duration",
            &format!("{}s", duration.as_secs()),
            "--output",
            "json",
        ])
        .env_remove("RUST_LOG")
        .output()
        .map_err(|e| format!("bookinfo traffic: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "bookinfo traffic failed on {url}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("bookinfo traffic printed no JSON report: {e}"))?;
    let total = &report["total"];
    let number = |value: &serde_json::Value| value.as_f64().unwrap_or(0.0);
    Ok(Load {
        requests: total["requests"].as_u64().unwrap_or(0),
        requests_per_sec: number(&total["rate"]),
        p50_ms: number(&total["latency_ms"]["p50"]),
        p99_ms: number(&total["latency_ms"]["p99"]),
        errors: total["failed"].as_u64().unwrap_or(0),
    })
}
