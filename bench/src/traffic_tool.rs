//! `bookinfo traffic` as a load generator, against wrk on the same page: the whole
//! application as `cargo run` starts it, `wrk -c32` and `bookinfo traffic --keep-alive
//! --concurrency 32` taking turns for the same time each round. The tool reads every page it
//! loads (versions, stars, degraded blocks); wrk reads none, so this is what reading costs.

use std::{process::Command, time::Duration};

use crate::{
    Fleet, Options, Run, median,
    report::Measurement,
    scenarios::{APP, TOOL, WRK},
    summarize,
    wrk::{self, Load},
};

const CONNECTIONS: u32 = 32;

/// Runs the two generators in turn, `options.rounds` times.
pub fn measure(fleet: &Fleet, options: &Options) -> Result<Vec<Measurement>, String> {
    let Some(app) = fleet.services.get(APP) else {
        return Ok(Vec::new());
    };
    let url = app.url("/productpage");
    let duration = Duration::from_secs(options.seconds);
    let (mut wrk_runs, mut tool_runs) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds {
        let cpu = fleet.cpu(&[APP]);
        let load = wrk::run(&url, CONNECTIONS, duration)?;
        let wrk = Run::new(load, fleet.cpu(&[APP]) - cpu);
        let cpu = fleet.cpu(&[APP]);
        let load = run_tool(&url, duration)?;
        let tool = Run::new(load, fleet.cpu(&[APP]) - cpu);
        eprintln!(
            "  whole app c{CONNECTIONS}: wrk {:.0} req/s, bookinfo traffic {:.0} req/s",
            wrk.load.requests_per_sec, tool.load.requests_per_sec,
        );
        wrk_runs.push(wrk);
        tool_runs.push(tool);
    }
    let ratios: Vec<f64> = tool_runs
        .iter()
        .zip(&wrk_runs)
        .map(|(tool, wrk)| tool.load.requests_per_sec / wrk.load.requests_per_sec.max(1.0))
        .collect();
    Ok(vec![
        summarize(WRK, CONNECTIONS, &wrk_runs, None)?,
        summarize(TOOL, CONNECTIONS, &tool_runs, Some(median(ratios)))?,
    ])
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
