//! What a container went through under load: its memory cgroup's peak and OOM kills, its
//! process's peak RSS, and whether the engine still sees the container that started.

use super::docker_ok;

/// What a container went through, read from the engine and its memory cgroup.
#[derive(Debug)]
pub(crate) struct MemoryRecord {
    pub(crate) cgroup_peak_bytes: Option<u64>,
    pub(crate) oom_kills: Option<u64>,
    pub(crate) rss_peak_kib: Option<u64>,
}

impl MemoryRecord {
    pub(crate) fn read(container: &str) -> Self {
        let id = docker_ok(&["inspect", "-f", "{{.Id}}", container]);
        let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", container]);
        // cgroup v2 (memory.peak, memory.events) or v1 (max_usage_in_bytes, oom_control).
        let dirs = [
            format!("/sys/fs/cgroup/system.slice/docker-{id}.scope"),
            format!("/sys/fs/cgroup/docker/{id}"),
            format!("/sys/fs/cgroup/memory/docker/{id}"),
        ];
        let read = |file: &str| {
            dirs.iter()
                .find_map(|dir| std::fs::read_to_string(format!("{dir}/{file}")).ok())
        };
        let counter = |text: String, key: &str| {
            text.lines().find_map(|line| {
                let (name, value) = line.split_once(' ')?;
                (name == key).then(|| value.trim().parse().ok())?
            })
        };
        Self {
            cgroup_peak_bytes: read("memory.peak")
                .or_else(|| read("memory.max_usage_in_bytes"))
                .and_then(|text| text.trim().parse().ok()),
            oom_kills: read("memory.events")
                .or_else(|| read("memory.oom_control"))
                .and_then(|text| counter(text, "oom_kill")),
            rss_peak_kib: std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| {
                    status.lines().find_map(|line| {
                        line.strip_prefix("VmHWM:")?
                            .trim()
                            .trim_end_matches("kB")
                            .trim()
                            .parse()
                            .ok()
                    })
                }),
        }
    }

    pub(crate) fn mib(bytes: Option<u64>) -> String {
        bytes.map_or("?".to_owned(), |b| {
            format!("{:.1} MiB", b as f64 / 1048576.0)
        })
    }
}

/// Fails unless the container is still the one that started: running, never restarted,
/// not OOM-killed, and its cgroup counted no OOM kill.
pub(crate) fn assert_survived(container: &str, record: &MemoryRecord) {
    let state = docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.OOMKilled}} {{.State.ExitCode}} {{.RestartCount}}",
        container,
    ]);
    assert_eq!(
        state, "running false 0 0",
        "{container}: status, OOMKilled, exit, restarts"
    );
    assert_eq!(
        record.oom_kills.unwrap_or(0),
        0,
        "{container}: cgroup OOM kills"
    );
}
