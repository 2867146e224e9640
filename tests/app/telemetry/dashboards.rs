//! The Grafana dashboards of k8s/observability/: their structure against the provisioning
//! files, every query of the app dashboard evaluated by a real Prometheus scraping the running
//! services (ratings v2 on a real MariaDB), and the Istio view's queries checked by promtool.
//! Grafana itself is not in Debian: nothing here renders a dashboard.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use serde_json::Value;
use test_kit::{
    databases::{LocalMariaDb, PASSWORD, REQUIRE_MARIADB},
    prometheus::REQUIRE_PROMETHEUS,
};

use super::{exemplars::scraping, *};

const OBSERVABILITY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/k8s/observability");
const DASHBOARDS: [&str; 2] = ["bookinfo-app.json", "bookinfo-istio.json"];

fn dashboard(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{OBSERVABILITY}/dashboards/{name}")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every query of `dashboard`, as Grafana would send it: `$__rate_interval` and the
/// template variables expanded (`$app` as its "All" value).
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let expanded = expr
                .replace("$__rate_interval", "15s")
                .replace("${app}", ".*")
                .replace("$app", ".*");
            assert!(
                !expanded.contains('$') || expanded.contains("\"$1\""),
                "unexpanded: {expanded}"
            );
            out.push((panel["title"].as_str().unwrap().to_owned(), expanded));
        }
    }
    out
}

#[test]
fn dashboards_are_well_formed_and_name_provisioned_data_sources() {
    let datasources = yaml(&format!("{OBSERVABILITY}/grafana/datasources.yaml"));
    let uids: BTreeSet<&str> = datasources["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|source| source["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, BTreeSet::from(["prometheus", "jaeger"]));
    let prometheus = datasources["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|source| source["type"] == "prometheus")
        .unwrap();
    // Exemplars link to the Jaeger source by the label the services write.
    let destination = &prometheus["jsonData"]["exemplarTraceIdDestinations"][0];
    assert_eq!(destination["name"], "trace_id");
    assert!(uids.contains(destination["datasourceUid"].as_str().unwrap()));
    // The dashboards' directory is where every mount puts them.
    let providers = yaml(&format!("{OBSERVABILITY}/grafana/dashboards.yaml"));
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    let patch =
        std::fs::read_to_string(format!("{OBSERVABILITY}/grafana-deployment-patch.yaml")).unwrap();
    assert!(patch.contains(&format!("mountPath: {path}")), "{patch}");
    let compose =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker/compose.yaml"))
            .unwrap();
    assert!(compose.contains(&format!("../k8s/observability/dashboards:{path}:ro")));
    let kustomization =
        std::fs::read_to_string(format!("{OBSERVABILITY}/kustomization.yaml")).unwrap();
    // The Grafana add-on's patch mounts the ConfigMaps the kustomization makes, and the
    // provisioning files they hold.
    let generated = yaml(&format!("{OBSERVABILITY}/kustomization.yaml"));
    let generated: BTreeMap<&str, Vec<&str>> = generated["configMapGenerator"]
        .as_array()
        .unwrap()
        .iter()
        .map(|map| {
            let files = map["files"].as_array().unwrap().iter();
            let names = files
                .map(|f| f.as_str().unwrap().rsplit('/').next().unwrap())
                .collect();
            (map["name"].as_str().unwrap(), names)
        })
        .collect();
    let patch_value = yaml(&format!("{OBSERVABILITY}/grafana-deployment-patch.yaml"));
    let pod = &patch_value["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_array().unwrap();
    for volume in volumes {
        let map = volume["configMap"]["name"].as_str().unwrap();
        assert!(generated.contains_key(map), "{map} is not generated");
    }
    assert_eq!(volumes.len(), generated.len());
    // Istio's add-on names its container `grafana`: the strategic merge keys on it.
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "grafana");
    for mount in container["volumeMounts"].as_array().unwrap() {
        assert!(
            volumes.iter().any(|v| v["name"] == mount["name"]),
            "{mount}"
        );
        if let Some(file) = mount["subPath"].as_str() {
            assert!(
                generated.values().any(|files| files.contains(&file)),
                "{file}"
            );
        }
    }
    let env = serde_json::to_string(&container["env"]).unwrap();
    for variable in ["BOOKINFO_PROMETHEUS_URL", "BOOKINFO_JAEGER_URL"] {
        let used =
            std::fs::read_to_string(format!("{OBSERVABILITY}/grafana/datasources.yaml")).unwrap();
        assert!(
            env.contains(variable) && used.contains(&format!("${{{variable}}}")),
            "{variable}"
        );
    }

    let mut all_uids = BTreeSet::new();
    for name in DASHBOARDS {
        assert!(
            kustomization.contains(&format!("dashboards/{name}")),
            "{name} not in the ConfigMap"
        );
        let board = dashboard(name);
        assert!(
            all_uids.insert(board["uid"].as_str().unwrap().to_owned()),
            "{name}: uid twice"
        );
        assert_eq!(board["schemaVersion"], 39, "{name}");
        let variables = board["templating"]["list"].as_array().unwrap();
        let source = variables
            .iter()
            .find(|v| v["name"] == "datasource")
            .expect("a datasource variable");
        assert_eq!(source["type"], "datasource");
        assert_eq!(source["query"], "prometheus");
        assert!(uids.contains(source["current"]["value"].as_str().unwrap()));
        let mut ids = BTreeSet::new();
        let mut cells = BTreeMap::new();
        for panel in board["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "{name}: panel id twice ({title})"
            );
            let grid = &panel["gridPos"];
            let (x, y, w, h) = (
                grid["x"].as_u64().unwrap(),
                grid["y"].as_u64().unwrap(),
                grid["w"].as_u64().unwrap(),
                grid["h"].as_u64().unwrap(),
            );
            assert!(
                w > 0 && h > 0 && x + w <= 24,
                "{name}: {title} outside the 24 columns"
            );
            for column in x..x + w {
                for row in y..y + h {
                    if let Some(other) = cells.insert((column, row), title) {
                        panic!("{name}: {title} overlaps {other}");
                    }
                }
            }
            let datasources = std::iter::once(&panel["datasource"]).chain(
                panel["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| &t["datasource"]),
            );
            for datasource in datasources.filter(|d| !d.is_null()) {
                let uid = datasource["uid"].as_str().unwrap();
                assert!(
                    uid == "${datasource}" || uids.contains(uid),
                    "{name}: {title}: {uid}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_of_the_app_dashboard_returns_series_from_a_real_prometheus() {
    let test = "every_query_of_the_app_dashboard_returns_series_from_a_real_prometheus";
    let Some(db) = test_kit::tool_or_skip(test, REQUIRE_MARIADB, LocalMariaDb::start()) else {
        return;
    };
    // ratings v2 on MariaDB, so that the database panel has series.
    let app = launch(LaunchOptions {
        ratings: ratings::Config {
            database: Some(db.config(PASSWORD)),
            ..ratings::Config::new(ratings::FaultMode::None)
        },
        ..LaunchOptions::default()
    })
    .await;
    let Some((app, prometheus)) = scraping(test, app).await else {
        return;
    };
    let page = format!("{}/productpage", app.productpage.url());
    let queries = queries(&dashboard("bookinfo-app.json"));
    let deadline = std::time::Instant::now() + test_kit::prometheus::PATIENCE;
    let mut empty: Vec<(String, String)> = queries.clone();
    // Traffic while Prometheus scrapes, until every query has series (a rate needs two
    // scrapes of a series).
    while !empty.is_empty() && std::time::Instant::now() < deadline {
        for _ in 0..6 {
            assert_eq!(get(&page).await.status, 200);
        }
        let mut still = Vec::new();
        for (title, expr) in empty {
            if prometheus.query(&expr).await.is_empty() {
                still.push((title, expr));
            }
        }
        empty = still;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(empty.is_empty(), "queries without series: {empty:#?}");
    // The page-view split the dashboard shows: reviews v1, v2 and v3 in turn.
    let versions = prometheus
        .query("sum by (reviews_version) (bookinfo_page_views_total)")
        .await;
    let versions: BTreeSet<&str> = versions
        .iter()
        .filter_map(|series| series["metric"]["reviews_version"].as_str())
        .collect();
    assert_eq!(versions, BTreeSet::from(["v1", "v2", "v3"]));
    app.stop().await.unwrap();
}

#[test]
fn the_istio_views_queries_parse_with_promtool() {
    let test = "the_istio_views_queries_parse_with_promtool";
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .map_err(|err| format!("promtool not found ({err}): apt-get install prometheus"));
    if test_kit::tool_or_skip(test, REQUIRE_PROMETHEUS, found).is_none() {
        return;
    }
    // Each query as a recording rule: `promtool check rules` parses every expression.
    let mut rules = String::from("groups:\n- name: bookinfo-istio\n  rules:\n");
    let queries = queries(&dashboard("bookinfo-istio.json"));
    assert!(queries.len() >= 5);
    for (index, (_, expr)) in queries.iter().enumerate() {
        rules.push_str(&format!(
            "  - record: bookinfo:istio_query_{index}\n    expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    let file =
        std::env::temp_dir().join(format!("bookinfo-istio-rules-{}.yml", std::process::id()));
    std::fs::write(&file, rules).unwrap();
    let checked = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    // A query that does not parse is caught: the check is not vacuous.
    let broken =
        std::env::temp_dir().join(format!("bookinfo-broken-rules-{}.yml", std::process::id()));
    std::fs::write(
        &broken,
        "groups:\n- name: x\n  rules:\n  - record: x:y\n    expr: sum by (a (rate(x[5m]))\n",
    )
    .unwrap();
    let refused = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&broken)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&broken);
    assert!(!refused.status.success());
}
