//! The process metrics every Prometheus client library exports (memory, CPU, start time,
//! file descriptors), read from /proc by the `procfs` crate at scrape time. Off Linux there
//! is no /proc, and the metrics are left out rather than reported as zero.

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
};

/// `process_*` metrics of this process.
#[derive(Debug)]
pub struct ProcessCollector;

/// One reading of the process's vital signs, each absent when it cannot be read.
#[derive(Debug, Default)]
struct Reading {
    cpu_seconds: Option<f64>,
    start_time_seconds: Option<f64>,
    resident_memory_bytes: Option<u64>,
    virtual_memory_bytes: Option<u64>,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

#[cfg(not(target_os = "linux"))]
fn read() -> Reading {
    Reading::default()
}

#[cfg(target_os = "linux")]
fn read() -> Reading {
    let Ok(process) = procfs::process::Process::myself() else {
        return Reading::default();
    };
    let ticks = procfs::ticks_per_second() as f64;
    let stat = process.stat().ok();
    let max_fds = process
        .limits()
        .ok()
        .and_then(|limits| match limits.max_open_files.soft_limit {
            procfs::process::LimitValue::Value(limit) => Some(limit),
            procfs::process::LimitValue::Unlimited => None,
        });
    Reading {
        cpu_seconds: stat
            .as_ref()
            .map(|stat| (stat.utime + stat.stime) as f64 / ticks),
        start_time_seconds: stat.as_ref().and_then(|stat| {
            let boot = procfs::boot_time_secs().ok()? as f64;
            Some(boot + stat.starttime as f64 / ticks)
        }),
        resident_memory_bytes: stat.as_ref().map(|stat| stat.rss * procfs::page_size()),
        virtual_memory_bytes: stat.as_ref().map(|stat| stat.vsize),
        open_fds: process.fd_count().ok().map(|count| count as u64),
        max_fds,
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: Option<impl Into<f64>>,
) -> Result<(), std::fmt::Error> {
    if let Some(value) = value {
        let gauge = ConstGauge::new(value.into());
        gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
    }
    Ok(())
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reading = read();
        if let Some(cpu) = reading.cpu_seconds {
            let counter = ConstCounter::new(cpu);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        let as_f64 = |value: Option<u64>| value.map(|v| v as f64);
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            reading.start_time_seconds,
        )?;
        gauge(
            &mut encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            as_f64(reading.resident_memory_bytes),
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            as_f64(reading.virtual_memory_bytes),
        )?;
        gauge(
            &mut encoder,
            "process_open_fds",
            "Number of open file descriptors.",
            as_f64(reading.open_fds),
        )?;
        gauge(
            &mut encoder,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            as_f64(reading.max_fds),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn every_reading_is_there_on_linux() {
        let reading = read();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let started = reading.start_time_seconds.unwrap_or_default();
        assert!(
            started > now - 3600.0 && started <= now + 1.0,
            "{reading:?}"
        );
        assert!(reading.open_fds.is_some_and(|n| n >= 3), "{reading:?}");
        assert!(
            reading
                .max_fds
                .is_some_and(|n| n >= reading.open_fds.unwrap_or(0))
        );
        assert!(reading.virtual_memory_bytes > reading.resident_memory_bytes);
        assert!(reading.resident_memory_bytes.is_some_and(|n| n > 0));
        assert!(reading.cpu_seconds.is_some());
    }
}
