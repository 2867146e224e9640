//! The images, run as containers: the application on a private Docker network, checked from
//! outside through ports published on 127.0.0.1. Needs the images of docker/build.sh; skips
//! (saying why) without Docker or the images, unless BOOKINFO_REQUIRE_DOCKER=1 (CI).

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
    service_runtime::testing::tool_or_skip(test, REQUIRE, why.map_or(Ok(()), Err))
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

#[test]
fn images_are_small_non_root_labelled_and_expose_9080() {
    let Some(_heavy) = docker_ready("images_are_small_non_root_labelled_and_expose_9080") else {
        return;
    };
    println!("{:<28} {:>10}", "image", "size");
    for name in IMAGES {
        let inspect = docker_ok(&[
            "image",
            "inspect",
            &image(name),
            "--format",
            "{{.Config.User}}|{{json .Config.ExposedPorts}}|{{index .Config.Labels \"org.opencontainers.image.title\"}}|{{index .Config.Labels \"org.opencontainers.image.version\"}}|{{.Size}}",
        ]);
        let fields: Vec<&str> = inspect.split('|').collect();
        let uid: u32 = fields[0]
            .split(':')
            .next()
            .unwrap()
            .parse()
            .expect("a numeric USER");
        assert!(uid != 0 && uid != 1337, "{name}: user {uid}");
        assert!(fields[1].contains("9080/tcp"), "{name}: {}", fields[1]);
        assert!(fields[2].starts_with("bookinfo-"), "{name}: title label");
        assert_eq!(
            fields[3],
            crate::manifests::ImageScheme::read().version,
            "{name}: version label"
        );
        let size: u64 = fields[4].parse().unwrap();
        let scratch_only = name.starts_with("details") || name.starts_with("productpage");
        let packages = if scratch_only {
            String::new()
        } else {
            // The curl base: what scanners read, one dpkg record per package.
            docker_ok(&[
                "run",
                "--rm",
                "--entrypoint",
                "/usr/bin/bash",
                &image(name),
                "-c",
                // bash alone: the image has no other program to read files with.
                r#"for p in /var/lib/dpkg/status.d/*; do
                     while IFS= read -r line; do
                       [[ $line == Version:* ]] && printf '%s=%s ' "${p##*/}" "${line#Version: }"
                     done < "$p"
                   done
                   # And what goes with each record: its files' checksums, its licence.
                   for p in /var/lib/dpkg/status.d/*.md5sums; do printf 'md5sums '; done
                   for p in /usr/share/doc/*/copyright; do printf 'copyright '; done
                   true"#,
            ])
        };
        let shown: String = packages
            .split_whitespace()
            .filter(|w| w.contains('='))
            .collect::<Vec<_>>()
            .join(" ");
        println!("{name:<28} {:>8.1} MB  {shown}", size as f64 / 1e6);
        let limit = if scratch_only { 20e6 } else { 30e6 };
        assert!((size as f64) <= limit, "{name}: {size} bytes");
        if !scratch_only {
            let words: Vec<&str> = packages.split_whitespace().collect();
            let count = |word: &str| words.iter().filter(|w| **w == word).count();
            let names: Vec<&str> = words
                .iter()
                .filter(|w| w.contains('='))
                .map(|p| p.split('=').next().unwrap())
                .collect();
            // Not for ca-certificates (its bundle is generated, no package's file) nor
            // base-files (only /etc/os-release, which scanners read as the OS).
            assert_eq!(count("md5sums"), names.len() - 2, "{name}: {packages}");
            assert_eq!(count("copyright"), names.len(), "{name}: {packages}");
            assert_eq!(
                names,
                [
                    "base-files",
                    "bash",
                    "ca-certificates",
                    "curl",
                    "libc6",
                    "libssl3",
                    "libtinfo6",
                    "zlib1g"
                ],
                "{name}: the packages whose files the image holds"
            );
        }
    }
}

/// The load generator's image: non-root, labelled, small, and `bookinfo traffic` itself.
#[test]
fn the_traffic_image_is_the_tool_non_root_and_small() {
    let Some(_heavy) = docker_ready("the_traffic_image_is_the_tool_non_root_and_small") else {
        return;
    };
    let inspect = docker_ok(&[
        "image",
        "inspect",
        &image(TRAFFIC),
        "--format",
        "{{.Config.User}}|{{json .Config.Entrypoint}}|{{index .Config.Labels \"org.opencontainers.image.title\"}}|{{.Size}}",
    ]);
    let fields: Vec<&str> = inspect.split('|').collect();
    assert_eq!(fields[0], "1000:1000");
    assert_eq!(fields[1], r#"["/usr/local/bin/bookinfo","traffic"]"#);
    assert_eq!(fields[2], "bookinfo-traffic");
    let size: u64 = fields[3].parse().unwrap();
    println!("{TRAFFIC:<28} {:>8.1} MB", size as f64 / 1e6);
    assert!(size <= 40_000_000, "{size} bytes");
    let help = docker(&["run", "--rm", &image(TRAFFIC), "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.status.success() && text.contains("--expect <CHECK>"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_runs_from_its_images() {
    let Some(_heavy) = docker_ready("the_application_runs_from_its_images") else {
        return;
    };
    let mut app = Deployment::new("app");
    app.run("details", "details-v1", &[], &[], false);
    let ratings = app.run("ratings", "ratings-v1", &[], &[], false);
    let mut reviews = Vec::new();
    for version in ["v1", "v2", "v3"] {
        reviews.push(app.run(
            &format!("reviews-{version}"),
            &format!("reviews-{version}"),
            &["reviews"],
            &[],
            false,
        ));
    }
    // Round robin over the three versions, so each is seen in turn.
    let productpage = app.run(
        "productpage",
        "productpage-v1",
        &[],
        &[(
            "REVIEWS_HOSTNAME",
            "reviews-v1:9080,reviews-v2:9080,reviews-v3:9080",
        )],
        true,
    );
    let base = format!("http://127.0.0.1:{}", app.published_port(&productpage));
    wait_healthy(&base).await;

    let pages: Vec<String> = pages_in_turn(&base, 3).await;
    assert!(pages[0].contains("Reviews served by: reviews-v1") && full_stars(&pages[0]) == 0);
    assert!(pages[1].contains("Reviews served by: reviews-v2") && full_stars(&pages[1]) == 9);
    assert!(pages[1].contains("text-black-500"));
    assert!(pages[2].contains("Reviews served by: reviews-v3") && full_stars(&pages[2]) == 9);
    assert!(pages[2].contains("text-red-500"));
    assert!(
        pages
            .iter()
            .all(|p| p.contains("Book Details") && p.contains("PublisherA"))
    );

    // What Istio's docs run inside the containers.
    let title = docker_ok(&[
        "exec",
        &ratings,
        "curl",
        "-sS",
        "productpage:9080/productpage",
    ]);
    assert!(title.contains("<title>Simple Bookstore App</title>"));
    let via_alias = docker_ok(&["exec", &reviews[0], "curl", "-sS", "reviews:9080/reviews/0"]);
    assert!(via_alias.contains("\"podname\":\"reviews-v"), "{via_alias}");
    assert_eq!(
        docker_ok(&["exec", &ratings, "bash", "-c", "echo $((6 * 7))"]),
        "42"
    );

    // Non-root, as the images declare: ask the kernel for the processes' real UIDs.
    for (container, expected) in [(&ratings, 1000), (&reviews[0], 1001), (&productpage, 1000)] {
        let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", container]);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let uids: Vec<u32> = uid
            .split_whitespace()
            .skip(1)
            .map(|u| u.parse().unwrap())
            .collect();
        assert!(uids.iter().all(|&u| u == expected), "{container}: {uid}");
    }

    // The load generator's image on the same network, as it runs in a cluster: a third of
    // the pages each version's, for jason as for everyone.
    let traffic = docker(&[
        "run",
        "--rm",
        "--network",
        &app.network,
        "--read-only",
        "--cap-drop",
        "ALL",
        &image(TRAFFIC),
        "http://productpage:9080/productpage",
        "--requests",
        "30",
        "--user",
        "jason:50%",
        "--timeout",
        "10s",
        "--output",
        "json",
        "--expect",
        "errors=0%",
        "--expect",
        "stars=red:33.3%±4",
        "--expect",
        "user=jason:served-by=reviews-v1:33.3%±4",
    ]);
    let stderr = String::from_utf8_lossy(&traffic.stderr);
    assert!(traffic.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&traffic.stdout).expect("JSON");
    assert_eq!(report["total"]["requests"], 30, "{report}");
    assert_eq!(report["users"][0]["user"], "jason");

    // Cut ratings off the network without killing it: reviews v3 (2.5 s deadline) still
    // answers, and the page says ratings are unavailable.
    docker_ok(&["network", "disconnect", &app.network, &ratings]);
    let mut v3_page = None;
    for _ in 0..3 {
        let started = Instant::now();
        let page = get(format!("{base}/productpage")).await.body;
        if page.contains("Reviews served by: reviews-v3") {
            v3_page = Some((page, started.elapsed()));
        }
    }
    let (page, elapsed) = v3_page.expect("a page served by reviews v3");
    assert_eq!(
        count(&page, "Ratings service is currently unavailable"),
        2,
        "{page}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "within the reviews timeout: {elapsed:?}"
    );
    assert!(docker_ok(&["inspect", "-f", "{{.State.Running}}", &ratings]) == "true");
}

async fn pages_in_turn(base: &str, n: usize) -> Vec<String> {
    let mut pages = Vec::new();
    for _ in 0..n {
        let page = get(format!("{base}/productpage")).await;
        assert_eq!(page.status, 200);
        pages.push(page.body);
    }
    pages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_brings_up_the_application() {
    let Some(_heavy) = docker_ready("compose_brings_up_the_application") else {
        return;
    };
    let found = Command::new("docker-compose")
        .arg("version")
        .output()
        .map_err(|err| format!("docker-compose not found: {err}"));
    if service_runtime::testing::tool_or_skip("compose_brings_up_the_application", REQUIRE, found)
        .is_none()
    {
        return;
    }
    let port = crate::support::closed_port().await.unwrap().to_string();
    let project = format!("bookinfo-compose-{}", std::process::id());
    let compose = |args: &[&str]| {
        Command::new("docker-compose")
            .args([
                "-p",
                &project,
                "-f",
                concat!(env!("CARGO_MANIFEST_DIR"), "/docker/compose.yaml"),
            ])
            .args(args)
            .env("BOOKINFO_PORT", &port)
            .output()
            .expect("docker-compose runs")
    };
    // Jaeger's image cannot be pulled everywhere; the application does not depend on it.
    const SERVICES: [&str; 6] = [
        "productpage",
        "details",
        "ratings",
        "reviews-v1",
        "reviews-v2",
        "reviews-v3",
    ];
    let mut up_args = vec!["up", "-d"];
    up_args.extend(SERVICES);
    let up = compose(&up_args);
    let result = async {
        assert!(
            up.status.success(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
        let base = format!("http://127.0.0.1:{port}");
        // `up` returned after starting productpage, which waits for its backends' health:
        // the page answers at once, and every container becomes healthy.
        let first = get(format!("{base}/productpage")).await;
        assert_eq!(first.status, 200);
        assert!(first.body.contains("Book Details"), "{}", first.body);
        let container = |service: &str| {
            let out = compose(&["ps", "-q", service]);
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let started = |id: &str| docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", id]);
        let deadline = Instant::now() + Duration::from_secs(60);
        for service in SERVICES {
            let id = container(service);
            loop {
                let health = docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", &id]);
                if health == "healthy" {
                    break;
                }
                assert!(Instant::now() < deadline, "{service} is {health}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // Dependency order: ratings, then reviews v2 and v3, then productpage last.
        let productpage = started(&container("productpage"));
        for service in [
            "details",
            "ratings",
            "reviews-v1",
            "reviews-v2",
            "reviews-v3",
        ] {
            assert!(started(&container(service)) < productpage, "{service}");
        }
        let ratings = started(&container("ratings"));
        for service in ["reviews-v2", "reviews-v3"] {
            assert!(ratings < started(&container(service)), "{service}");
        }
        let mut served_by = std::collections::BTreeSet::new();
        for _ in 0..30 {
            let page = get(format!("{base}/productpage")).await.body;
            assert!(page.contains("Book Details"), "{page}");
            if let Some(rest) = page.split("Reviews served by: ").nth(1) {
                served_by.insert(rest.split('<').next().unwrap().trim().to_owned());
            }
        }
        assert!(
            served_by.len() >= 2,
            "the `reviews` name spreads calls: {served_by:?}"
        );
    }
    .await;
    let _ = compose(&["down", "-v", "--remove-orphans"]);
    result
}

/// The ratings-v2 image as a container against a real MariaDB on this host (host network:
/// the server listens on 127.0.0.1 only), hardened as Kubernetes runs it.
#[tokio::test]
async fn the_ratings_v2_image_reads_a_real_mariadb() {
    let test = "the_ratings_v2_image_reads_a_real_mariadb";
    let Some(_heavy) = docker_ready(test) else {
        return;
    };
    let Some(db) = service_runtime::testing::tool_or_skip(
        test,
        ratings::testing::REQUIRE_MARIADB,
        ratings::testing::LocalMariaDb::start(),
    ) else {
        return;
    };
    let port = crate::support::closed_port().await.unwrap();
    let container = format!("bookinfo-test-ratings-v2-{}", std::process::id());
    let mut args: Vec<String> = [
        "run",
        "-d",
        "--name",
        &container,
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-e",
        &format!("PORT={port}"),
    ]
    .map(str::to_owned)
    .into();
    for (key, value) in db.env() {
        args.extend(["-e".to_owned(), format!("{key}={value}")]);
    }
    args.push(image("ratings-v2"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    docker_ok(&args);
    let result = async {
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(&base).await;
        let url = format!("{base}/ratings/0");
        assert_eq!(
            get(&url).await.body,
            r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#
        );
        db.sql("update ratings set rating=2 where reviewid=2")
            .unwrap();
        assert_eq!(
            get(&url).await.body,
            r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":2}}"#
        );
    }
    .await;
    let _ = docker(&["rm", "-f", &container]);
    result
}

/// docker/compose.yaml with its databases profile, as docker-compose v1 resolves it (no
/// engine needed): ratings v2 names services that exist, with the database's password, and
/// the databases' init scripts are ratings/db-init/'s files.
#[test]
fn the_compose_databases_profile_is_consistent() {
    let run = Command::new("docker-compose")
        .args([
            "-f",
            concat!(env!("CARGO_MANIFEST_DIR"), "/docker/compose.yaml"),
            "--profile",
            "databases",
            "config",
        ])
        .env_remove("MYSQL_ROOT_PASSWORD")
        .env_remove("RATINGS_HOSTNAME")
        .output()
        .map_err(|err| format!("docker-compose not found: {err}"));
    let Some(output) = service_runtime::testing::tool_or_skip(
        "the_compose_databases_profile_is_consistent",
        REQUIRE,
        run,
    ) else {
        return;
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config: serde_json::Value = serde_yaml_ng::from_slice(&output.stdout).unwrap();
    let services = config["services"].as_object().unwrap();
    let env = |service: &str, key: &str| {
        services[service]["environment"][key]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(services.contains_key(&env("ratings-v2-mysql", "MYSQL_DB_HOST")));
    assert_eq!(
        env("ratings-v2-mysql", "MYSQL_DB_PASSWORD"),
        env("mysqldb", "MYSQL_ROOT_PASSWORD")
    );
    let mongo_host = env("ratings-v2", "MONGO_DB_URL");
    let mongo_host = mongo_host
        .strip_prefix("mongodb://")
        .and_then(|rest| rest.split(':').next())
        .unwrap();
    assert!(services.contains_key(mongo_host), "{mongo_host}");
    for version in ["reviews-v1", "reviews-v2", "reviews-v3"] {
        assert_eq!(env(version, "RATINGS_HOSTNAME"), "ratings");
    }
    for (database, file) in [
        ("mysqldb", "mysqldb-init.sql"),
        ("mongodb", "mongodb-init.js"),
    ] {
        let volume = services[database]["volumes"][0].to_string();
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ratings/db-init")
            .join(file);
        assert!(
            volume.contains(&source.display().to_string())
                && volume.contains(&format!("/docker-entrypoint-initdb.d/{file}")),
            "{database}: {volume}"
        );
        assert!(source.is_file());
    }
}

/// The reviews versions the images build (docker/build.sh's build arguments over the
/// Dockerfile's defaults) are the ones the launcher and the benchmark run.
#[test]
fn image_build_arguments_agree_with_the_reviews_versions() {
    let build =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker/build.sh")).unwrap();
    for version in reviews::VERSIONS {
        let line = build
            .lines()
            .find(|line| line.starts_with(&format!("build reviews-{} ", version.name)))
            .unwrap_or_else(|| panic!("docker/build.sh builds no reviews-{}", version.name));
        let arg = |name: &str, default: &str| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{name}=")))
                .unwrap_or(default)
                .to_owned()
        };
        assert_eq!(arg("service_version", "v1"), version.name, "{line}");
        assert_eq!(
            arg("enable_ratings", "false") == "true",
            version.enable_ratings,
            "{line}"
        );
        assert_eq!(arg("star_color", "black"), version.star_color, "{line}");
    }
}
