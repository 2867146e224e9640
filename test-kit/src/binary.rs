//! The services' binaries, spawned and asked as a user would.

use std::{
    io::{BufRead, BufReader, Lines},
    process::{Child, ChildStdout, Command, Stdio},
    time::Duration,
};

/// A service binary started on port 0, its stdout read line by line (the log).
pub struct SpawnedBinary {
    pub child: Child,
    pub port: u16,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SpawnedBinary {
    /// Starts `path 0` with `envs` and waits for its "listening on" line (text or JSON log).
    pub fn start(path: &str, envs: &[(&str, &str)]) -> std::io::Result<Self> {
        let mut command = Command::new(path);
        command.arg("0");
        Self::spawn(command, envs)
    }

    /// [`SpawnedBinary::start`] under an open-file limit of `limit` (soft and hard), set by
    /// the shell's `ulimit` before it runs the binary.
    pub fn start_with_open_file_limit(
        path: &str,
        limit: u32,
        envs: &[(&str, &str)],
    ) -> std::io::Result<Self> {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            r#"ulimit -n "$1" && exec "$0" 0"#,
            path,
            &limit.to_string(),
        ]);
        Self::spawn(command, envs)
    }

    fn spawn(mut command: Command, envs: &[(&str, &str)]) -> std::io::Result<Self> {
        // Only the given variables: the services read many, and a developer's shell must not
        // change what a test sees.
        let mut child = command
            .env_clear()
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut spawned = Self {
            child,
            port: 0,
            lines: BufReader::new(stdout).lines(),
        };
        let line = spawned
            .wait_for("listening on ")
            .ok_or_else(|| std::io::Error::other("the service never said where it listens"))?;
        let address = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '"').next());
        spawned.port = address
            .and_then(|a| a.rsplit(':').next()?.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no port in {line:?}")))?;
        Ok(spawned)
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod (by the shell's `kill`: no `unsafe`).
    pub fn terminate(&self) -> std::io::Result<()> {
        let status = Command::new("sh")
            .args(["-c", r#"kill -TERM "$0""#, &self.child.id().to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "kill -TERM failed: {status}"
            )))
        }
    }

    /// Waits at most `within` for the process to exit; its status, or `None` if it is still
    /// running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if started.elapsed() < within => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return None,
            }
        }
    }

    /// The next log line containing `needle`; `None` once the output ends.
    pub fn wait_for(&mut self, needle: &str) -> Option<String> {
        self.lines
            .by_ref()
            .map_while(Result::ok)
            .find(|line| line.contains(needle))
    }
}

impl Drop for SpawnedBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service's settings parsed from `flags` alone, as its binary would parse them (the
/// process environment still applies, as it does to the binary).
pub fn parse_flags<A: clap::Args>(flags: &[&str]) -> Result<A, clap::Error> {
    #[derive(clap::Parser)]
    struct Cli<A: clap::Args> {
        #[command(flatten)]
        args: A,
    }
    let argv = std::iter::once("service").chain(flags.iter().copied());
    <Cli<A> as clap::Parser>::try_parse_from(argv).map(|cli| cli.args)
}

/// Runs a service binary with `args` and only the variables `envs`.
pub fn run_binary(path: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    Command::new(path)
        .args(args)
        .env_clear()
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {path}: {err}"))
}

/// Checks a service binary's command line as a user meets it: `--help` lists every variable
/// in `variables` (and PORT), `--version` names the binary, a bad value in `bad_env` stops
/// start-up with exit 2 and a message naming the variable, and `healthcheck` exits 0 for the
/// running service and 1 once it has stopped.
pub fn assert_command_line(path: &str, variables: &[&str], bad_env: (&str, &str)) {
    let help = run_binary(path, &["--help"], &[]);
    assert!(help.status.success(), "--help failed: {help:?}");
    let text = String::from_utf8_lossy(&help.stdout);
    for variable in std::iter::once(&"PORT").chain(variables) {
        // A secret's variable shows without its value: `[env: SESSION_SECRET]`.
        assert!(
            text.contains(&format!("[env: {variable}="))
                || text.contains(&format!("[env: {variable}]")),
            "--help does not list {variable}:\n{text}"
        );
    }
    assert!(text.contains("[default: 9080]"), "{text}");
    let version = run_binary(path, &["--version"], &[]);
    assert!(version.status.success());
    let name = std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("{name} {}", env!("CARGO_PKG_VERSION"))
    );
    let refused = run_binary(path, &["0"], &[bad_env]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(bad_env.0),
        "the error does not name {}: {stderr}",
        bad_env.0
    );
    // `healthcheck`: 0 for a running service (its PORT or the argument), 1 for none.
    let running = SpawnedBinary::start(path, &[]).expect("the service starts");
    let port = running.port.to_string();
    for (args, envs) in [
        (vec!["healthcheck"], vec![("PORT", port.as_str())]),
        (vec!["healthcheck", port.as_str()], vec![]),
    ] {
        let check = run_binary(path, &args, &envs);
        assert_eq!(check.status.code(), Some(0), "{args:?} {envs:?}: {check:?}");
    }
    drop(running);
    let down = run_binary(path, &["healthcheck", &port], &[]);
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains("healthcheck"));
}
