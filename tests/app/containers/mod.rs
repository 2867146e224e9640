//! The images, run as containers: the application on a private Docker network, checked from
//! outside through ports published on 127.0.0.1. Needs the images of docker/build.sh; skips
//! (saying why) without Docker or the images, unless BOOKINFO_REQUIRE_DOCKER=1 (CI).

mod compose;
mod field;
mod images;
pub(crate) mod memory;
mod records;
mod running;

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

use crate::support::{count, full_stars, get};

const REQUIRE: &str = "BOOKINFO_REQUIRE_DOCKER";
const IMAGES: [&str; 13] = [
    "details-v1",
    "details-v2",
    "productpage-v1",
    "productpage-v-flooding",
    "ratings-v1",
    "ratings-v2",
    "ratings-v-faulty",
    "ratings-v-delayed",
    "ratings-v-unavailable",
    "ratings-v-unhealthy",
    "reviews-v1",
    "reviews-v2",
    "reviews-v3",
];

/// The load generator's image (`bookinfo traffic`): a client, so no port.
const TRAFFIC: &str = "traffic";

fn image(name: &str) -> String {
    crate::manifests::ImageScheme::read().reference(name)
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

pub(crate) fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Whether the test can run; panics instead of skipping when CI requires Docker.
/// Whether the Docker tests can run; when they can, the caller holds the heavy-suite lock
/// (see `support::heavy_suite`) for as long as it keeps the guard.
pub(crate) fn docker_ready(test: &str) -> Option<crate::support::HeavySuite> {
    let why = match Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
    {
        Err(err) => Some(format!("docker not found: {err}")),
        Ok(out) if !out.status.success() => Some("the Docker engine is not running".to_owned()),
        Ok(_) => IMAGES
            .iter()
            .chain(&[TRAFFIC])
            .find(|name| !docker(&["image", "inspect", &image(name)]).status.success())
            .map(|missing| format!("image {} not built (run docker/build.sh)", image(missing))),
    };
    test_kit::tool_or_skip(test, REQUIRE, why.map_or(Ok(()), Err))
        .map(|()| crate::support::heavy_suite())
}

/// A private network and the containers on it, removed when dropped.
pub(crate) struct Deployment {
    network: String,
    containers: Vec<String>,
}

impl Deployment {
    pub(crate) fn new(name: &str) -> Self {
        let network = format!("bookinfo-test-{name}-{}", std::process::id());
        docker_ok(&["network", "create", &network]);
        Self {
            network,
            containers: Vec::new(),
        }
    }

    /// Runs `image` hardened as Kubernetes would run it: read-only root, no capabilities.
    fn run(
        &mut self,
        name: &str,
        image_name: &str,
        aliases: &[&str],
        env: &[(&str, &str)],
        publish: bool,
    ) -> String {
        let (container, mut args) = self.on_network(name, aliases);
        for (key, value) in env {
            args.extend(["-e".to_owned(), format!("{key}={value}")]);
        }
        if publish {
            args.extend(["-p".to_owned(), "127.0.0.1::9080".to_owned()]);
        }
        args.push(image(image_name));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker_ok(&args);
        self.containers.push(container.clone());
        container
    }

    /// `docker run` arguments for a hardened container `name` on the private network, reached
    /// there as `name` and each of `aliases`; and the container's name.
    fn on_network(&self, name: &str, aliases: &[&str]) -> (String, Vec<String>) {
        let container = format!("{}-{name}", self.network);
        let mut args = hardened_run(&container);
        args.extend([
            "--network".to_owned(),
            self.network.clone(),
            "--hostname".to_owned(),
            name.to_owned(),
            "--network-alias".to_owned(),
            name.to_owned(),
        ]);
        for alias in aliases {
            args.extend(["--network-alias".to_owned(), (*alias).to_owned()]);
        }
        (container, args)
    }

    /// Runs `image` hardened on the private network with `command` in place of its
    /// entrypoint, as a Deployment patched to `command: [...]` runs it.
    pub(crate) fn run_command(&mut self, name: &str, image_name: &str, command: &[&str]) -> String {
        let (container, mut args) = self.on_network(name, &[]);
        let Some((program, rest)) = command.split_first() else {
            panic!("{name}: an empty command");
        };
        args.extend(["--entrypoint".to_owned(), (*program).to_owned()]);
        args.push(image(image_name));
        args.extend(rest.iter().map(|arg| (*arg).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker_ok(&args);
        self.containers.push(container.clone());
        container
    }

    /// Runs `image` hardened, on the host's network (it listens on 127.0.0.1 as the test's own
    /// servers do), with a memory limit and no swap beyond it, as a pod's `limits.memory`.
    pub(crate) fn run_on_host_network(
        &mut self,
        name: &str,
        image_name: &str,
        memory: &str,
        env: &[(&str, &str)],
    ) -> String {
        let container = format!("{}-{name}", self.network);
        let mut args = hardened_run(&container);
        args.extend(["--network".to_owned(), "host".to_owned()]);
        args.extend(["--memory".to_owned(), memory.to_owned()]);
        args.extend(["--memory-swap".to_owned(), memory.to_owned()]);
        for (key, value) in env {
            args.extend(["-e".to_owned(), format!("{key}={value}")]);
        }
        args.push(image(image_name));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker_ok(&args);
        self.containers.push(container.clone());
        container
    }

    fn published_port(&self, container: &str) -> u16 {
        let mapping = docker_ok(&["port", container, "9080/tcp"]);
        mapping
            .lines()
            .next()
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("a published port")
    }
}

/// `docker run -d --name container`, hardened as Kubernetes would run it: read-only root, no
/// capabilities, no privilege escalation.
fn hardened_run(container: &str) -> Vec<String> {
    [
        "run",
        "-d",
        "--name",
        container,
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ]
    .map(str::to_owned)
    .to_vec()
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = docker(&["rm", "-f", container]);
        }
        let _ = docker(&["network", "rm", &self.network]);
    }
}

/// Polls `/health` until the service answers (containers start in milliseconds, but the
/// engine may take a moment to wire the port).
pub(crate) async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = crate::support::client()
            .get(format!("{base}/health"))
            .send()
            .await
            && response.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{base} never became healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
