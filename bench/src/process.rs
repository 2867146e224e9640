//! The processes under test: spawned from the binaries beside this one (release, or debug for
//! the smoke run), timed until they answer, measured through /proc, killed when dropped.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A free port on 127.0.0.1 (bound, then released for the child to take).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `binary` beside this one (the same profile's build).
pub fn sibling(binary: &str) -> Result<PathBuf, String> {
    let dir = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .ok_or("no directory for the bench binary")?
        .to_path_buf();
    let path = dir.join(binary);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build with `cargo build --release --workspace --bins`",
            path.display()
        ))
    }
}

pub struct Service {
    pub name: String,
    pub port: u16,
    child: Child,
    /// From spawn to the first successful answer.
    pub ready_after: Duration,
    /// Resident memory once ready, before any load.
    pub idle_rss: u64,
}

impl Service {
    /// Starts `binary` with `args` and `env`, and waits until `probe` answers.
    pub fn start(
        name: &str,
        binary: &str,
        args: &[String],
        env: &[(&str, String)],
        probe: Probe,
    ) -> Result<Self, String> {
        let port: u16 = args
            .iter()
            .find_map(|a| a.parse().ok())
            .ok_or("no port argument")?;
        let started = Instant::now();
        let child = Command::new(sibling(binary)?)
            .args(args)
            // Default settings, access logs included; their output goes nowhere.
            .env_remove("RUST_LOG")
            .env_remove("LOG_FORMAT")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        let mut service = Self {
            name: name.to_owned(),
            port,
            child,
            ready_after: Duration::ZERO,
            idle_rss: 0,
        };
        service.ready_after = service.wait_ready(started, probe)?;
        service.idle_rss = service.status_kib("VmRSS:").unwrap_or(0) * 1024;
        Ok(service)
    }

    fn wait_ready(&mut self, started: Instant, probe: Probe) -> Result<Duration, String> {
        let deadline = started + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited at start: {status}", self.name));
            }
            if probe.answers(self.port) {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Err(format!("{} did not answer within 10 s", self.name))
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The highest resident memory so far (VmHWM).
    pub fn peak_rss(&self) -> u64 {
        self.status_kib("VmHWM:").unwrap_or(0) * 1024
    }

    /// User + system CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) else {
            return 0.0;
        };
        let Some(close) = stat.rfind(')') else {
            return 0.0;
        };
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How readiness is checked.
#[derive(Clone, Copy)]
pub enum Probe {
    /// `GET /health` answers 200.
    Health,
    /// `GET /` answers anything (the baselines have no routes).
    Root,
}

impl Probe {
    fn answers(self, port: u16) -> bool {
        let path = match self {
            Self::Health => "/health",
            Self::Root => "/",
        };
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        if stream.read_exact(&mut head).is_err() {
            return false;
        }
        match self {
            Self::Health => head.starts_with(b"HTTP/1.1 200"),
            Self::Root => head.starts_with(b"HTTP/1.1 "),
        }
    }
}
