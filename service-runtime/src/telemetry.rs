//! Logs (tracing-subscriber) and process metrics.

use std::io::IsTerminal;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::Env;

/// Handle on what [`init`] set up; [`Telemetry::shutdown`] flushes it.
#[derive(Debug)]
pub struct Telemetry {
    service: String,
}

impl Telemetry {
    pub fn shutdown(self) {
        tracing::debug!(service = %self.service, "telemetry shut down");
    }
}

/// Installs the global log subscriber: human-readable on a terminal, JSON when
/// `LOG_FORMAT=json`, level from `RUST_LOG` (default `info`). A second call (tests, the
/// whole-app launcher) keeps the first subscriber.
pub fn init(service: &str, env: &Env) -> Telemetry {
    let filter = EnvFilter::try_new(env.get("RUST_LOG").unwrap_or("info"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = env
        .get("LOG_FORMAT")
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init()
    };
    if installed.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
    Telemetry {
        service: service.to_owned(),
    }
}

/// Resident memory and CPU time of this process, read from /proc at scrape time.
#[derive(Debug)]
pub struct ProcessCollector;

/// Linux reports CPU time in clock ticks of 1/100 s on every architecture we build for.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(rss) = resident_memory_bytes() {
            let gauge = ConstGauge::new(rss as i64);
            let metric = encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(metric)?;
        }
        if let Some(cpu) = cpu_seconds() {
            let counter = ConstCounter::new(cpu);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent in seconds",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

/// VmRSS from /proc/self/status, in bytes.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// utime + stime from /proc/self/stat, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; fields after it start past the closing parenthesis.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS_PER_SECOND)
}
