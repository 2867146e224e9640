//! docker/compose.yaml: the application, and its databases profile.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_brings_up_the_application() {
    let Some(_heavy) = docker_ready("compose_brings_up_the_application") else {
        return;
    };
    let found = Command::new("docker-compose")
        .arg("version")
        .output()
        .map_err(|err| format!("docker-compose not found: {err}"));
    if test_kit::tool_or_skip("compose_brings_up_the_application", REQUIRE, found).is_none() {
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
        // The mesh panel is on in compose, its trace ids linked to Jaeger: no sidecar here.
        assert!(
            first.body.contains("id=\"mesh-panel\"")
                && first.body.contains("ingress → productpage")
                && first.body.contains("no client certificate"),
            "{}",
            first.body
        );
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

/// docker/compose.yaml with its databases profile, as docker-compose v1 resolves it (no
/// engine needed): ratings v2 names services that exist, with the database's password, and
/// the databases' init scripts are ratings/db-init/'s files.
#[test]
fn the_compose_databases_profile_is_consistent() {
    let Some(config) = compose_config(
        "the_compose_databases_profile_is_consistent",
        "databases",
        &["MYSQL_ROOT_PASSWORD", "RATINGS_HOSTNAME"],
    ) else {
        return;
    };
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

/// docker/compose.yaml with its observability profile, as docker-compose v1 resolves it:
/// Prometheus keeps exemplars and reads docker/observability/prometheus.yml, which scrapes
/// every Bookinfo service; Grafana mounts the dashboards and the provisioning files that
/// exist; Jaeger takes OTLP on 4317 and 4318; the mesh panel links to Jaeger.
#[test]
fn the_compose_observability_profile_resolves() {
    let Some(config) = compose_config(
        "the_compose_observability_profile_resolves",
        "observability",
        &[],
    ) else {
        return;
    };
    let services = config["services"].as_object().unwrap();
    let text = |value: &serde_json::Value| value.to_string();
    let prometheus = &services["prometheus"];
    assert!(text(&prometheus["command"]).contains("--enable-feature=exemplar-storage"));
    let scrape_config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docker/observability/prometheus.yml"
    ))
    .unwrap();
    for service in [
        "productpage",
        "details",
        "ratings",
        "reviews-v1",
        "reviews-v2",
        "reviews-v3",
    ] {
        assert!(services.contains_key(service), "{service}");
        assert!(
            scrape_config.contains(&format!("'{service}:9080'")),
            "{service} not scraped"
        );
    }
    // Every file compose mounts exists (a missing source would become an empty directory).
    for service in ["prometheus", "grafana"] {
        for volume in services[service]["volumes"].as_array().unwrap() {
            let source = volume["source"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    volume
                        .as_str()
                        .unwrap()
                        .split(':')
                        .next()
                        .unwrap()
                        .to_owned()
                });
            assert!(
                std::path::Path::new(&source).exists(),
                "{service}: {source}"
            );
        }
    }
    let grafana_env = text(&services["grafana"]["environment"]);
    assert!(
        grafana_env.contains("http://prometheus:9090")
            && grafana_env.contains("http://jaeger:16686")
    );
    let jaeger_ports = text(&services["jaeger"]["ports"]);
    assert!(
        jaeger_ports.contains("4317") && jaeger_ports.contains("4318"),
        "{jaeger_ports}"
    );
    let productpage = &services["productpage"]["environment"];
    assert_eq!(productpage["MESH_PANEL"], "true");
    assert_eq!(
        productpage["MESH_PANEL_TRACE_URL"],
        "http://localhost:16686/trace/{trace_id}"
    );
}

/// docker/compose.yaml with `profile`, as docker-compose v1 resolves it (`config`, no engine
/// needed), with `unset` removed from the environment so that the file's defaults show; or
/// `None` when the test skips for want of docker-compose.
fn compose_config(test: &str, profile: &str, unset: &[&str]) -> Option<serde_json::Value> {
    let mut command = Command::new("docker-compose");
    command.args([
        "-f",
        concat!(env!("CARGO_MANIFEST_DIR"), "/docker/compose.yaml"),
        "--profile",
        profile,
        "config",
    ]);
    for variable in unset {
        command.env_remove(variable);
    }
    let run = command
        .output()
        .map_err(|err| format!("docker-compose not found: {err}"));
    let output = test_kit::tool_or_skip(test, REQUIRE, run)?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_yaml_ng::from_slice(&output.stdout).unwrap())
}
