//! The Kubernetes, Istio and Gateway API manifests under k8s/, validated offline: every
//! document against a strict schema, then the cross references a cluster would only reveal
//! at run time.

mod deployments;
mod images;
mod routing;
mod schemas;
mod security;
mod workflows;

use std::time::Duration;
use std::{
    collections::{BTreeMap, BTreeSet, btree_map::Entry},
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::{Value, json};

const NAMESPACE: &str = "istio-app";
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const K8S: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/k8s");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/schemas");

/// ratings v2's databases: the app, its official image (pinned), its port and the port's name
/// (Istio's protocol selection: plain TCP).
const DATABASES: [(&str, &str, u64, &str); 2] = [
    ("mongodb", "docker.io/library/mongo:7.0", 27017, "mongo"),
    ("mysqldb", "docker.io/library/mysql:8.4", 3306, "mysql"),
];

/// Database hosts that live outside k8s/: Istio's VM example registers its MySQL VM as
/// `mysqldb` in namespace `vm`.
const EXTERNAL_DATABASE_HOSTS: [&str; 1] = ["mysqldb.vm.svc.cluster.local"];

/// ratings v2's database, if `deployment` runs one.
fn database_of(deployment: &Document) -> Option<(&'static str, &'static str, u64, &'static str)> {
    let app = deployment.spec()["template"]["metadata"]["labels"]["app"].as_str()?;
    DATABASES.into_iter().find(|(name, ..)| *name == app)
}

/// The load generator's app (platform/bookinfo-traffic.yaml): a client, not a service, so
/// no port, probes, version label or spans.
const LOAD_GENERATOR: &str = "bookinfo-traffic";

fn is_load_generator(deployment: &Document) -> bool {
    deployment.spec()["template"]["metadata"]["labels"]["app"] == LOAD_GENERATOR
}

/// The Deployments that run a Bookinfo service or its database.
fn service_deployments(documents: &[Document]) -> impl Iterator<Item = &Document> {
    of_kind(documents, "Deployment").filter(|d| !is_load_generator(d))
}

pub(crate) struct Document {
    pub(crate) file: String,
    pub(crate) value: Value,
}

impl Document {
    pub(crate) fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
    pub(crate) fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }
    pub(crate) fn spec(&self) -> &Value {
        &self.value["spec"]
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Files under k8s/ that are not Kubernetes objects: Grafana's provisioning and a JSON
/// patch for Istio's Grafana add-on (k8s/observability/), checked by the dashboard tests.
const NOT_MANIFESTS: [&str; 3] = [
    "observability/grafana/datasources.yaml",
    "observability/grafana/dashboards.yaml",
    "observability/grafana-deployment-patch.yaml",
];

/// Every document of every manifest, kustomization.yaml excepted.
pub(crate) fn documents() -> Vec<Document> {
    let mut files = Vec::new();
    yaml_files(Path::new(K8S), &mut files);
    files.sort();
    let mut documents = Vec::new();
    let manifests = files.iter().filter(|p| {
        !p.ends_with("kustomization.yaml") && !NOT_MANIFESTS.iter().any(|other| p.ends_with(other))
    });
    for path in manifests {
        let text = std::fs::read_to_string(path).unwrap();
        let file = path.strip_prefix(K8S).unwrap().display().to_string();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).unwrap_or_else(|e| panic!("{file}: {e}"));
            if !value.is_null() {
                documents.push(Document {
                    file: file.clone(),
                    value,
                });
            }
        }
    }
    assert!(
        documents.len() > 50,
        "found only {} documents",
        documents.len()
    );
    documents
}

pub(crate) fn of_kind<'a>(
    documents: &'a [Document],
    kind: &str,
) -> impl Iterator<Item = &'a Document> {
    documents.iter().filter(move |d| d.kind() == kind)
}

fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn pod_labels(documents: &[Document]) -> Vec<BTreeMap<String, String>> {
    service_deployments(documents)
        .map(|d| labels(&d.spec()["template"]["metadata"]["labels"]))
        .collect()
}

fn selects(selector: &BTreeMap<String, String>, pod: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| pod.get(k) == Some(v))
}

fn services(documents: &[Document]) -> BTreeSet<String> {
    of_kind(documents, "Service")
        .map(|d| d.name().to_owned())
        .collect()
}

/// `reviews`, `reviews.istio-app.svc.cluster.local` → `reviews`.
fn short_host(host: &str) -> &str {
    host.strip_suffix(&format!(".{NAMESPACE}.svc.cluster.local"))
        .unwrap_or(host)
}

/// images.env at the repository root, the one place that names the images:
/// `{registry}/{prefix}-{variant}:{version}`.
pub(crate) struct ImageScheme {
    pub(crate) registry: String,
    pub(crate) prefix: String,
    pub(crate) version: String,
}

impl ImageScheme {
    pub(crate) fn read() -> Self {
        let text = repository_file("images.env");
        let mut values = BTreeMap::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("images.env: not a KEY=value line: {line}"));
            // Read alike by a shell, `docker compose --env-file` and $GITHUB_ENV.
            assert!(
                !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "images.env: key {key:?}"
            );
            assert!(
                !value.is_empty()
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c)),
                "images.env: {key}={value}: a plain value, without quotes, spaces or expansions"
            );
            values.insert(key, value);
        }
        let get = |key: &str| {
            values
                .get(key)
                .map(|value| value.to_string())
                .unwrap_or_else(|| panic!("images.env sets no {key}"))
        };
        ImageScheme {
            registry: get("IMAGE_REGISTRY"),
            prefix: get("IMAGE_NAME_PREFIX"),
            version: get("IMAGE_VERSION"),
        }
    }

    /// The full reference of a variant such as `reviews-v3`.
    pub(crate) fn reference(&self, variant: &str) -> String {
        format!(
            "{}/{}-{variant}:{}",
            self.registry, self.prefix, self.version
        )
    }
}

fn repository_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the kustomization lists (the deployments and the workflows read it).
#[derive(Deserialize)]
struct Kustomization {
    resources: Vec<String>,
    #[serde(default)]
    images: Vec<Value>,
}
