//! The load generator: Debian's wrk, run for a fixed time, its report parsed.

use std::{process::Command, time::Duration};

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Load {
    pub requests: u64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Non-2xx/3xx answers plus socket errors.
    pub errors: u64,
}

pub fn available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// `connections` concurrent connections for `duration`; one wrk thread per core we leave it.
pub fn run(url: &str, connections: u32, duration: Duration) -> Result<Load, String> {
    let threads = connections.clamp(1, 2);
    let output = Command::new("wrk")
        .args([
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{}s", duration.as_secs().max(1)),
            "--latency".to_owned(),
            url.to_owned(),
        ])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed on {url}: {report}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&report).ok_or_else(|| format!("cannot read wrk's report for {url}:\n{report}"))
}

/// Reads wrk's text report.
pub fn parse(report: &str) -> Option<Load> {
    let mut load = Load::default();
    for line in report.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => load.requests_per_sec = rate.parse().ok()?,
            ["50%", latency] => load.p50_ms = millis(latency)?,
            ["99%", latency] => load.p99_ms = millis(latency)?,
            [count, "requests", "in", ..] => load.requests = count.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                load.errors += count.parse::<u64>().ok()?
            }
            ["Socket", "errors:", rest @ ..] => {
                load.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    (load.requests > 0).then_some(load)
}

/// "1.23ms", "456.00us", "2.01s" → milliseconds.
fn millis(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_wrk_report() {
        let report = "Running 10s test @ http://127.0.0.1:9080/productpage
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.31ms    1.02ms  21.07ms   80.12%
    Req/Sec     7.01k   350.12     7.80k    71.00%
  Latency Distribution
     50%    2.10ms
     75%    2.80ms
     90%    3.50ms
     99%  560.00us
  139521 requests in 10.00s, 1.23GB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  13951.45
Transfer/sec:    125.92MB
";
        let load = parse(report).unwrap();
        assert_eq!(load.requests, 139_521);
        assert!((load.requests_per_sec - 13_951.45).abs() < 1e-9);
        assert!((load.p50_ms - 2.1).abs() < 1e-9);
        assert!((load.p99_ms - 0.56).abs() < 1e-9);
        assert_eq!(load.errors, 7);
        assert!(parse("garbage").is_none());
    }
}
