//! The Kubernetes, Istio and Gateway API manifests under k8s/, validated offline: every
//! document against a strict schema, then the cross references a cluster would only reveal
//! at run time.

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

/// Every document of every manifest, kustomization.yaml excepted.
pub(crate) fn documents() -> Vec<Document> {
    let mut files = Vec::new();
    yaml_files(Path::new(K8S), &mut files);
    files.sort();
    let mut documents = Vec::new();
    for path in files.iter().filter(|p| !p.ends_with("kustomization.yaml")) {
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

/// The schema file for a document: core kinds from kubernetes-validate's strict set, custom
/// resources from the CRD catalogue by API group.
fn schema_path(value: &Value) -> PathBuf {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let kind = value["kind"].as_str().unwrap_or_default().to_lowercase();
    let relative = match api_version.split_once('/') {
        None => format!("kubernetes/{kind}-{api_version}.json"),
        Some(("apps", version)) => format!("kubernetes/{kind}-apps-{version}.json"),
        Some((group, version)) => format!("{group}/{kind}_{version}.json"),
    };
    Path::new(SCHEMAS).join(relative)
}

fn validator(value: &Value) -> jsonschema::Validator {
    let path = schema_path(value);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no schema {}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn errors(value: &Value) -> Vec<String> {
    validator(value)
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_document_validates_against_a_strict_schema() {
    let mut failures = Vec::new();
    for document in documents() {
        for error in errors(&document.value) {
            failures.push(format!(
                "{} {} {}: {error}",
                document.file,
                document.kind(),
                document.name()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_misspelled_field_fails_validation() {
    let documents = documents();
    let first = |kind: &str| of_kind(&documents, kind).next().unwrap().value.clone();
    let mut deployment = first("Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    let mut service = first("Service");
    service["spec"]["selectr"] = json!({"app": "x"});
    let mut virtual_service = first("VirtualService");
    virtual_service["spec"]["http"][0]["routee"] = json!([]);
    let mut policy = first("AuthorizationPolicy");
    policy["spec"]["actionn"] = json!("ALLOW");
    let mut route = first("HTTPRoute");
    route["spec"]["rules"][0]["matchs"] = json!([]);
    let mut peer = first("PeerAuthentication");
    peer["spec"]["mtls"]["mod"] = json!("STRICT");
    for broken in [deployment, service, virtual_service, policy, route, peer] {
        assert!(
            !errors(&broken).is_empty(),
            "accepted a misspelling in {}",
            broken["kind"]
        );
    }
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

#[test]
fn service_selectors_match_pod_labels_and_deployment_selectors() {
    let documents = documents();
    let pods = pod_labels(&documents);
    for service in of_kind(&documents, "Service") {
        let selector = labels(&service.spec()["selector"]);
        assert!(!selector.is_empty(), "{} has no selector", service.name());
        assert!(
            pods.iter().any(|pod| selects(&selector, pod)),
            "{} ({}) selects no pod",
            service.name(),
            service.file
        );
        let ports = service.spec()["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 1, "{}", service.name());
        let expected = DATABASES
            .iter()
            .find(|(app, ..)| *app == service.name())
            .map_or((9080, "http"), |(_, _, port, name)| (*port, *name));
        assert_eq!(
            (ports[0]["port"].as_u64(), ports[0]["name"].as_str()),
            (Some(expected.0), Some(expected.1)),
            "{}",
            service.name()
        );
    }
    for deployment in service_deployments(&documents) {
        let selector = labels(&deployment.spec()["selector"]["matchLabels"]);
        let pod = labels(&deployment.spec()["template"]["metadata"]["labels"]);
        assert!(selects(&selector, &pod), "{}", deployment.name());
        assert!(
            pod.contains_key("app") && pod.contains_key("version"),
            "{}",
            deployment.name()
        );
    }
}

#[test]
fn destination_rule_subsets_match_existing_version_labels() {
    let documents = documents();
    let pods = pod_labels(&documents);
    for rule in of_kind(&documents, "DestinationRule") {
        let host = short_host(rule.spec()["host"].as_str().unwrap());
        for subset in rule.spec()["subsets"].as_array().into_iter().flatten() {
            let mut selector = labels(&subset["labels"]);
            selector.insert("app".into(), host.into());
            assert!(
                pods.iter().any(|pod| selects(&selector, pod)),
                "{}: subset {} of {host} matches no pod",
                rule.file,
                subset["name"]
            );
        }
    }
}

fn subsets(documents: &[Document]) -> BTreeSet<(String, String)> {
    of_kind(documents, "DestinationRule")
        .flat_map(|rule| {
            let host = short_host(rule.spec()["host"].as_str().unwrap()).to_owned();
            rule.spec()["subsets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |s| (host.clone(), s["name"].as_str().unwrap().to_owned()))
        })
        .collect()
}

#[test]
fn virtual_service_and_http_route_destinations_exist() {
    let documents = documents();
    let services = services(&documents);
    let subsets = subsets(&documents);
    let external: BTreeSet<String> = of_kind(&documents, "ServiceEntry")
        .flat_map(|e| {
            e.spec()["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
        })
        .collect();
    for vs in of_kind(&documents, "VirtualService") {
        for route in vs.spec()["http"].as_array().unwrap() {
            for destination in route["route"].as_array().unwrap() {
                let host = short_host(destination["destination"]["host"].as_str().unwrap());
                assert!(
                    services.contains(host) || external.contains(host),
                    "{}: unknown host {host}",
                    vs.file
                );
                if let Some(subset) = destination["destination"]["subset"].as_str() {
                    assert!(
                        subsets.contains(&(host.to_owned(), subset.to_owned())),
                        "{}: no subset {subset} of {host}",
                        vs.file
                    );
                }
            }
        }
    }
    let gateways: BTreeSet<&str> = of_kind(&documents, "Gateway").map(Document::name).collect();
    for route in of_kind(&documents, "HTTPRoute") {
        for parent in route.spec()["parentRefs"].as_array().unwrap() {
            let name = parent["name"].as_str().unwrap();
            let exists = match parent["kind"].as_str() {
                Some("Service") => services.contains(name),
                _ => gateways.contains(name),
            };
            assert!(exists, "{}: unknown parent {name}", route.file);
        }
        for rule in route.spec()["rules"].as_array().unwrap() {
            for backend in rule["backendRefs"].as_array().unwrap() {
                let name = backend["name"].as_str().unwrap();
                assert!(
                    services.contains(name),
                    "{}: unknown backend {name}",
                    route.file
                );
            }
        }
    }
}

#[test]
fn authorization_principals_name_existing_service_accounts() {
    let documents = documents();
    let accounts: BTreeSet<String> = of_kind(&documents, "ServiceAccount")
        .map(|a| format!("cluster.local/ns/{NAMESPACE}/sa/{}", a.name()))
        .collect();
    let gateways = [
        "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
        "cluster.local/ns/istio-app/sa/bookinfo-gateway-istio",
    ];
    let mut principals = 0;
    for policy in of_kind(&documents, "AuthorizationPolicy") {
        assert_eq!(
            policy.value["metadata"]["namespace"], NAMESPACE,
            "{}",
            policy.file
        );
        for rule in policy.spec()["rules"].as_array().into_iter().flatten() {
            for from in rule["from"].as_array().into_iter().flatten() {
                for principal in from["source"]["principals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let principal = principal.as_str().unwrap();
                    principals += 1;
                    assert!(
                        accounts.contains(principal) || gateways.contains(&principal),
                        "{}: unknown principal {principal}",
                        policy.file
                    );
                }
            }
        }
    }
    assert!(principals >= 4);
    let allow_nothing = of_kind(&documents, "AuthorizationPolicy")
        .find(|p| p.spec().as_object().is_some_and(|s| s.is_empty()));
    assert!(allow_nothing.is_some(), "an allow-nothing policy exists");
    let peer = of_kind(&documents, "PeerAuthentication").next().unwrap();
    assert_eq!(peer.spec()["mtls"]["mode"], "STRICT");
}

#[test]
fn the_gateway_exposes_exactly_the_five_paths() {
    let expected: BTreeSet<(String, String)> = [
        ("exact", "/productpage"),
        ("prefix", "/static"),
        ("exact", "/login"),
        ("exact", "/logout"),
        ("prefix", "/api/v1/products"),
    ]
    .iter()
    .map(|(k, p)| (k.to_string(), p.to_string()))
    .collect();
    let documents = documents();
    let vs = of_kind(&documents, "VirtualService")
        .find(|v| {
            v.spec()["gateways"]
                .as_array()
                .is_some_and(|g| !g.is_empty())
        })
        .unwrap();
    let istio: BTreeSet<(String, String)> = vs.spec()["http"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|route| route["match"].as_array().unwrap().clone())
        .map(|m| {
            let (kind, path) = m["uri"].as_object().unwrap().iter().next().unwrap();
            (kind.clone(), path.as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(istio, expected);
    let route = of_kind(&documents, "HTTPRoute")
        .find(|r| r.name() == "bookinfo")
        .unwrap();
    let gateway_api: BTreeSet<(String, String)> = route.spec()["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["matches"].as_array().unwrap().clone())
        .map(|m| {
            let kind = match m["path"]["type"].as_str().unwrap() {
                "Exact" => "exact",
                "PathPrefix" => "prefix",
                other => panic!("unexpected match type {other}"),
            };
            (
                kind.to_owned(),
                m["path"]["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(gateway_api, expected);
}

#[test]
fn every_container_runs_non_root_under_the_restricted_profile() {
    let documents = documents();
    for deployment in of_kind(&documents, "Deployment") {
        let pod = &deployment.spec()["template"]["spec"];
        let name = deployment.name();
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{name}");
        for container in containers {
            let security = &container["securityContext"];
            let context = |key: &str| {
                let own = &security[key];
                if own.is_null() {
                    pod["securityContext"][key].clone()
                } else {
                    own.clone()
                }
            };
            assert_eq!(context("runAsNonRoot"), true, "{name}");
            let user = context("runAsUser").as_u64().unwrap_or(0);
            assert!(
                user > 0 && user != 1337,
                "{name}: numeric non-root user, not the sidecar's"
            );
            assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(security["capabilities"]["drop"], json!(["ALL"]), "{name}");
            assert_eq!(
                context("seccompProfile")["type"],
                "RuntimeDefault",
                "{name}"
            );
            assert!(
                is_load_generator(deployment)
                    || (container["readinessProbe"].is_object()
                        && container["livenessProbe"].is_object()),
                "{name}"
            );
            assert!(
                container["resources"]["limits"]["memory"].is_string(),
                "{name}"
            );
            let app = deployment.spec()["template"]["metadata"]["labels"]["app"]
                .as_str()
                .unwrap();
            assert_eq!(
                container["name"], app,
                "{name}: container named after the service"
            );
        }
    }
}

/// A rolling update loses no request only if the whole shutdown fits the grace period: the
/// preStop sleep, then the readiness delay, the drain bound and the span flush (each from the
/// container's environment, or the services' default).
#[test]
fn the_shutdown_budget_fits_the_termination_grace_period() {
    let defaults = service_runtime::server::ServerArgs::default();
    let documents = documents();
    // The databases are the official images with their own shutdown.
    for deployment in service_deployments(&documents).filter(|d| database_of(d).is_none()) {
        let pod = &deployment.spec()["template"]["spec"];
        let name = deployment.name();
        let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
        for container in pod["containers"].as_array().unwrap() {
            assert_eq!(
                container["readinessProbe"]["httpGet"]["path"], "/ready",
                "{name}"
            );
            assert_eq!(
                container["livenessProbe"]["httpGet"]["path"], "/health",
                "{name}"
            );
            let pre_stop = &container["lifecycle"]["preStop"];
            assert!(
                pre_stop["exec"].is_null(),
                "{name}: the images have no shell"
            );
            let sleep = Duration::from_secs(pre_stop["sleep"]["seconds"].as_u64().unwrap_or(0));
            assert!(sleep > Duration::ZERO, "{name}: a preStop sleep");
            let setting = |variable: &str, default: Duration| {
                container["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|env| env["name"] == variable)
                    .and_then(|env| env["value"].as_str()?.parse().ok())
                    .map_or(default, Duration::from_millis)
            };
            let budget = sleep
                + setting("SHUTDOWN_DELAY_MS", defaults.shutdown_delay)
                + setting("DRAIN_TIMEOUT_MS", defaults.drain_timeout)
                + setting("SPAN_FLUSH_TIMEOUT_MS", defaults.span_flush_timeout);
            assert!(
                budget <= Duration::from_secs(grace),
                "{name}: {budget:?} of shutdown in a {grace} s grace period"
            );
        }
    }
}

#[derive(Deserialize)]
struct Kustomization {
    resources: Vec<String>,
    #[serde(default)]
    images: Vec<Value>,
}

#[test]
fn the_kustomization_deploys_the_tutorial_end_state_and_leaves_images_to_the_manifests() {
    let text = std::fs::read_to_string(Path::new(K8S).join("kustomization.yaml")).unwrap();
    let kustomization: Kustomization = serde_yaml_ng::from_str(&text).unwrap();
    let resources: BTreeSet<&str> = kustomization.resources.iter().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "platform/namespace.yaml",
        "platform/bookinfo.yaml",
        "networking/bookinfo-gateway.yaml",
        "networking/destination-rule-all-mtls.yaml",
        "security/peer-authentication.yaml",
        "security/authorization-policy-allow-nothing.yaml",
        "security/authorization-policy-productpage.yaml",
        "security/authorization-policy-details.yaml",
        "security/authorization-policy-reviews.yaml",
        "security/authorization-policy-ratings.yaml",
    ]
    .into();
    assert_eq!(resources, expected);
    for resource in &resources {
        assert!(Path::new(K8S).join(resource).is_file(), "{resource}");
    }
    // Every manifest names its image in full, tag included (see
    // every_image_reference_agrees_with_images_env); an images: section here would make
    // `kubectl apply -k k8s/` deploy other images than `kubectl apply -f` of the same file.
    assert!(
        kustomization.images.is_empty(),
        "kustomization.yaml sets no images: the manifests carry them"
    );
    let namespace = documents()
        .into_iter()
        .find(|d| d.kind() == "Namespace")
        .unwrap();
    assert_eq!(namespace.name(), NAMESPACE);
    assert_eq!(
        namespace.value["metadata"]["labels"]["istio-injection"],
        "enabled"
    );
}

/// Where two values differ, as JSON pointers; a missing key counts as null.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                differences(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    &format!("{path}/{key}"),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                differences(a, b, &format!("{path}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} ≠ {b}")),
        _ => {}
    }
}

/// A Deployment without what may differ between the copies of one app's Deployment: the
/// name, the `version` label (of the Deployment, its selector and its pods), each container's
/// env and image, and the ServiceAccount (ratings v2 has its own, for the databases'
/// policies; the copies test checks which). Anything else that should differ goes here, with
/// the reason.
fn without_intended_differences(deployment: &Value) -> Value {
    let mut value = deployment.clone();
    if let Some(metadata) = value["metadata"].as_object_mut() {
        metadata.remove("name");
    }
    if let Some(pod) = value
        .pointer_mut("/spec/template/spec")
        .and_then(Value::as_object_mut)
    {
        pod.remove("serviceAccountName");
    }
    for labels in [
        "/metadata/labels",
        "/spec/selector/matchLabels",
        "/spec/template/metadata/labels",
    ] {
        if let Some(labels) = value.pointer_mut(labels).and_then(Value::as_object_mut) {
            labels.remove("version");
        }
    }
    if let Some(containers) = value
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            container.remove("env");
            container.remove("image");
        }
    }
    value
}

/// The docs apply each variant's file on its own, so every file repeats the whole Deployment.
/// The copies of one app (same `app` label) must stay alike: each is compared with the one in
/// bookinfo.yaml (details-v1, ratings-v1, reviews-v1, productpage-v1), and a Deployment of an
/// app that bookinfo.yaml lacks is the reference of its app.
#[test]
fn deployment_copies_differ_only_in_name_version_env_and_image() {
    let documents = documents();
    let mut deployments: Vec<&Document> = service_deployments(&documents).collect();
    // Stable: bookinfo.yaml's Deployments first, the rest in file order.
    deployments.sort_by_key(|d| d.file != "platform/bookinfo.yaml");
    let mut references: BTreeMap<&str, (&Document, Value)> = BTreeMap::new();
    let mut compared = 0;
    let mut failures = Vec::new();
    for deployment in deployments {
        let labels = &deployment.spec()["template"]["metadata"]["labels"];
        let app = labels["app"].as_str().unwrap();
        let version = labels["version"].as_str().unwrap();
        // env differs by design, but SERVICE_VERSION always names the version label, or its
        // first part (ratings v2-mysql is SERVICE_VERSION v2 with DB_TYPE mysql).
        for container in deployment.spec()["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|_| database_of(deployment).is_none())
        {
            let service_version = container["env"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["name"] == "SERVICE_VERSION")
                .and_then(|e| e["value"].as_str())
                .unwrap_or_default();
            assert!(
                version == service_version
                    || (!service_version.is_empty()
                        && version.starts_with(&format!("{service_version}-"))),
                "{} {}: SERVICE_VERSION {service_version:?} names the version label {version}",
                deployment.file,
                deployment.name()
            );
        }
        // Each app runs as its own account; ratings v2 as one of its own, the only one the
        // databases let in.
        let account = deployment.spec()["template"]["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or_default();
        let expected = if app == "ratings" && version.starts_with("v2") {
            "bookinfo-ratings-v2".to_owned()
        } else {
            format!("bookinfo-{app}")
        };
        assert_eq!(
            account,
            expected,
            "{} {}",
            deployment.file,
            deployment.name()
        );
        let body = without_intended_differences(&deployment.value);
        let (reference, reference_body) = match references.entry(app) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                entry.insert((deployment, body));
                continue;
            }
        };
        compared += 1;
        let mut found = Vec::new();
        differences(reference_body, &body, "", &mut found);
        for difference in found {
            failures.push(format!(
                "{} {} differs from {} {} at {difference}",
                deployment.file,
                deployment.name(),
                reference.file,
                reference.name()
            ));
        }
    }
    assert!(compared >= 8, "compared only {compared} copies");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

/// The variants docker/build.sh builds, from its `build <variant> <target> …` lines.
fn built_variants() -> BTreeSet<String> {
    let variants: BTreeSet<String> = repository_file("docker/build.sh")
        .lines()
        .filter_map(|line| line.strip_prefix("build "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(variants.len() >= 12, "docker/build.sh builds {variants:?}");
    variants
}

/// Every value of an `image` field, at any depth.
fn image_fields<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (key, field) in map {
                if key == "image" {
                    out.push(field);
                } else {
                    image_fields(field, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                image_fields(item, out);
            }
        }
        _ => {}
    }
}

/// One scheme, written out in every place that names an image; scripts/set-image-refs.sh
/// rewrites them all from images.env.
#[test]
fn every_image_reference_agrees_with_images_env() {
    let scheme = ImageScheme::read();
    let rerun = "after editing images.env, run scripts/set-image-refs.sh";
    assert_eq!(
        scheme.version,
        env!("CARGO_PKG_VERSION"),
        "IMAGE_VERSION in images.env is the workspace version of Cargo.toml"
    );
    let variants = built_variants();
    let references: BTreeSet<String> = variants.iter().map(|v| scheme.reference(v)).collect();

    // k8s/: the full reference, tag included, so that a file applied on its own pulls the
    // right image; for a Deployment, the variant its app and version labels name.
    let documents = documents();
    let mut images = Vec::new();
    for document in &documents {
        image_fields(&document.value, &mut images);
    }
    assert!(images.len() >= 12, "found only {} images", images.len());
    for image in images {
        let image = image.as_str().unwrap_or_default();
        assert!(
            references.contains(image) || DATABASES.iter().any(|db| db.1 == image),
            "k8s/: image {image}: {rerun}"
        );
    }
    for deployment in of_kind(&documents, "Deployment") {
        if is_load_generator(deployment) {
            let container = &deployment.spec()["template"]["spec"]["containers"][0];
            assert_eq!(container["image"], scheme.reference("traffic"));
            continue;
        }
        if let Some((app, image, ..)) = database_of(deployment) {
            let container = &deployment.spec()["template"]["spec"]["containers"][0];
            assert_eq!(
                container["image"], image,
                "{app}: the pinned official image"
            );
            continue;
        }
        let labels = &deployment.spec()["template"]["metadata"]["labels"];
        // The image of the version the service runs: ratings v2-mysql is the v2 image with
        // DB_TYPE=mysql, as upstream.
        let service_version = deployment.spec()["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == "SERVICE_VERSION")
            .and_then(|e| e["value"].as_str());
        let variant = format!(
            "{}-{}",
            labels["app"].as_str().unwrap(),
            service_version.unwrap_or_else(|| labels["version"].as_str().unwrap())
        );
        assert!(
            variants.contains(&variant),
            "{}: docker/build.sh builds no {variant}",
            deployment.file
        );
        for container in deployment.spec()["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
        {
            assert_eq!(
                container["image"],
                scheme.reference(&variant),
                "{} {}",
                deployment.file,
                deployment.name()
            );
        }
    }

    // docker/compose.yaml: images.env's values as the defaults of the same variables, which
    // the environment may override as it may for docker/build.sh.
    let compose: Value = serde_yaml_ng::from_str(&repository_file("docker/compose.yaml")).unwrap();
    let mut ours = 0;
    for (service, definition) in compose["services"].as_object().unwrap() {
        let image = definition["image"].as_str().unwrap();
        if service == "jaeger" {
            continue;
        }
        if let Some((_, official, ..)) = DATABASES.iter().find(|db| db.0 == service) {
            // The same pinned official image as k8s/, which the environment may override.
            assert!(
                image.ends_with(&format!(":-{official}}}")),
                "{service}: {image}"
            );
            continue;
        }
        ours += 1;
        // productpage, details and ratings run v1; reviews-v1, -v2 and -v3 are named so, and
        // ratings-v2-mysql is the v2 image with DB_TYPE=mysql.
        let variant = if variants.contains(service) {
            service.clone()
        } else if service == "ratings-v2-mysql" {
            "ratings-v2".to_owned()
        } else {
            format!("{service}-v1")
        };
        let expected = format!(
            "${{IMAGE_REGISTRY:-{}}}/${{IMAGE_NAME_PREFIX:-{}}}-{variant}:${{IMAGE_VERSION:-{}}}",
            scheme.registry, scheme.prefix, scheme.version
        );
        assert_eq!(image, expected, "docker/compose.yaml {service}: {rerun}");
    }
    assert_eq!(
        ours, 8,
        "docker/compose.yaml runs the application's six containers and, in its databases \
         profile, ratings v2 on MongoDB and on MySQL"
    );

    // docker/build.sh: no names of its own, only images.env's (or the environment's).
    let build = repository_file("docker/build.sh");
    assert!(
        build.contains("< images.env"),
        "docker/build.sh reads images.env"
    );
    for key in ["IMAGE_REGISTRY", "IMAGE_NAME_PREFIX", "IMAGE_VERSION"] {
        assert!(
            build.contains(&format!("${key}")),
            "docker/build.sh uses {key}"
        );
    }
    assert!(
        !build.contains(&format!("{}/{}", scheme.registry, scheme.prefix)),
        "docker/build.sh names no image itself"
    );

    // docker/Dockerfile: the version label of an image built without docker/build.sh.
    let version = format!("ARG VERSION={}", scheme.version);
    assert!(
        repository_file("docker/Dockerfile")
            .lines()
            .any(|line| line == version),
        "docker/Dockerfile: {version}: {rerun}"
    );
}

#[test]
fn every_docs_scenario_has_its_upstream_file_name() {
    for file in [
        "platform/bookinfo.yaml",
        "platform/bookinfo-versions.yaml",
        "platform/bookinfo-details-v2.yaml",
        "platform/bookinfo-dualstack.yaml",
        "platform/bookinfo-waypoints.yaml",
        "networking/bookinfo-gateway.yaml",
        "networking/destination-rule-all.yaml",
        "networking/destination-rule-all-mtls.yaml",
        "networking/destination-rule-reviews.yaml",
        "networking/virtual-service-all-v1.yaml",
        "networking/virtual-service-reviews-test-v2.yaml",
        "networking/virtual-service-reviews-jason-v2-v3.yaml",
        "networking/virtual-service-reviews-50-v3.yaml",
        "networking/virtual-service-reviews-80-20.yaml",
        "networking/virtual-service-reviews-90-10.yaml",
        "networking/virtual-service-reviews-v2-v3.yaml",
        "networking/virtual-service-reviews-v3.yaml",
        "networking/virtual-service-ratings-test-delay.yaml",
        "networking/virtual-service-ratings-test-abort.yaml",
        "networking/virtual-service-details-v2.yaml",
        "networking/virtual-service-ratings-db.yaml",
        "networking/virtual-service-ratings-mysql.yaml",
        "networking/virtual-service-ratings-mysql-vm.yaml",
        "platform/bookinfo-ratings-v2.yaml",
        "platform/bookinfo-ratings-v2-mysql.yaml",
        "platform/bookinfo-ratings-v2-mysql-vm.yaml",
        "platform/bookinfo-db.yaml",
        "platform/bookinfo-mysql.yaml",
        "networking/fault-injection-details-v1.yaml",
        "networking/egress-rule-google-apis.yaml",
        "gateway-api/bookinfo-gateway.yaml",
        "gateway-api/route-all-v1.yaml",
        "gateway-api/route-reviews-v1.yaml",
        "gateway-api/route-reviews-v3.yaml",
        "gateway-api/route-reviews-90-10.yaml",
        "gateway-api/route-reviews-50-v3.yaml",
    ] {
        assert!(Path::new(K8S).join(file).is_file(), "missing {file}");
    }
}

#[test]
fn fault_injection_rules_match_the_docs() {
    let documents = documents();
    let find = |file: &str| documents.iter().find(|d| d.file.ends_with(file)).unwrap();
    let delay = &find("virtual-service-ratings-test-delay.yaml").spec()["http"][0];
    assert_eq!(delay["match"][0]["headers"]["end-user"]["exact"], "jason");
    assert_eq!(delay["fault"]["delay"]["fixedDelay"], "7s");
    assert_eq!(delay["fault"]["delay"]["percentage"]["value"], 100.0);
    let abort = &find("virtual-service-ratings-test-abort.yaml").spec()["http"][0];
    assert_eq!(abort["fault"]["abort"]["httpStatus"], 500);
    let details = &find("fault-injection-details-v1.yaml").spec()["http"][0];
    assert_eq!(details["fault"]["abort"]["httpStatus"], 555);
    let test_v2 = &find("virtual-service-reviews-test-v2.yaml").spec()["http"][0];
    assert_eq!(test_v2["match"][0]["headers"]["end-user"]["exact"], "jason");
    assert_eq!(test_v2["route"][0]["destination"]["subset"], "v2");
}

/// Every Deployment sets OTEL_PROPAGATORS first in its container's environment, to
/// `tracecontext` (Istio's OpenTelemetry providers), and the b3multi component switches exactly
/// that entry (Envoy's Zipkin tracer).
#[test]
fn propagators_default_to_tracecontext_with_a_b3multi_component() {
    let documents = documents();
    // The databases export no spans.
    let deployments: Vec<&Document> = service_deployments(&documents)
        .filter(|d| database_of(d).is_none())
        .collect();
    assert!(deployments.len() >= 12);
    for deployment in deployments {
        let first = &deployment.spec()["template"]["spec"]["containers"][0]["env"][0];
        assert_eq!(
            (first["name"].as_str(), first["value"].as_str()),
            (Some("OTEL_PROPAGATORS"), Some("tracecontext")),
            "{} {}",
            deployment.file,
            deployment.name()
        );
    }
    let component: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(format!("{K8S}/components/b3multi/kustomization.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(component["kind"], "Component");
    let patch = &component["patches"][0];
    assert_eq!(patch["target"]["kind"], "Deployment");
    let operations: Value =
        serde_yaml_ng::from_str(patch["patch"].as_str().expect("a JSON patch")).unwrap();
    assert_eq!(
        operations,
        json!([
            {"op": "test", "path": "/spec/template/spec/containers/0/env/0/name", "value": "OTEL_PROPAGATORS"},
            {"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value", "value": "b3multi"}
        ])
    );
}

/// Every database a ratings v2 Deployment names is a Service of k8s/ (or an allowed external
/// host), every Secret it reads without `optional` is created in k8s/, and the databases'
/// init scripts are ratings/db-init/'s word for word.
#[test]
fn ratings_v2_finds_its_databases_and_credentials() {
    let documents = documents();
    let services = services(&documents);
    let secrets: BTreeSet<&str> = of_kind(&documents, "Secret").map(Document::name).collect();
    let mut hosts = 0;
    for deployment in of_kind(&documents, "Deployment") {
        for env in deployment.spec()["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let value = env["value"].as_str().unwrap_or_default();
            let host = match env["name"].as_str() {
                Some("MYSQL_DB_HOST") => value,
                Some("MONGO_DB_URL") => value
                    .strip_prefix("mongodb://")
                    .and_then(|rest| rest.split([':', '/']).next())
                    .unwrap_or_else(|| panic!("{}: MONGO_DB_URL {value}", deployment.file)),
                _ => "",
            };
            if !host.is_empty() {
                hosts += 1;
                assert!(
                    services.contains(short_host(host)) || EXTERNAL_DATABASE_HOSTS.contains(&host),
                    "{}: database host {host} is no Service of k8s/",
                    deployment.file
                );
            }
            let secret = &env["valueFrom"]["secretKeyRef"];
            if secret.is_object() && secret["optional"] != true {
                let name = secret["name"].as_str().unwrap();
                assert!(
                    secrets.contains(name),
                    "{}: no Secret {name}",
                    deployment.file
                );
            }
        }
    }
    assert_eq!(
        hosts, 3,
        "ratings v2, v2-mysql and v2-mysql-vm name their database"
    );
    for (config_map, file) in [
        ("mysqldb-init", "mysqldb-init.sql"),
        ("mongodb-init", "mongodb-init.js"),
    ] {
        let init = of_kind(&documents, "ConfigMap")
            .find(|c| c.name() == config_map)
            .unwrap();
        assert_eq!(
            init.value["data"][file],
            repository_file(&format!("ratings/db-init/{file}")),
            "{config_map}"
        );
    }
}

/// Only ratings v2 reaches the databases, only on their ports, by TCP rules: an HTTP field
/// (methods, paths) in a rule for a TCP port makes Istio drop the rule, denying everything.
#[test]
fn only_ratings_v2_reaches_the_databases() {
    let documents = documents();
    for (app, _, port, _) in DATABASES {
        let policies: Vec<&Document> = of_kind(&documents, "AuthorizationPolicy")
            .filter(|p| p.spec()["selector"]["matchLabels"]["app"] == app)
            .collect();
        assert_eq!(policies.len(), 1, "one policy for {app}");
        let spec = policies[0].spec();
        assert_eq!(spec["action"], "ALLOW");
        assert_eq!(
            spec["rules"],
            json!([{
                "from": [{"source": {"principals": ["cluster.local/ns/istio-app/sa/bookinfo-ratings-v2"]}}],
                "to": [{"operation": {"ports": [port.to_string()]}}]
            }]),
            "{}",
            policies[0].file
        );
    }
}

/// The release workflow builds exactly docker/build.sh's variants, each with the same target
/// and build arguments, for amd64 and arm64.
#[test]
fn the_release_workflow_builds_what_build_sh_builds() {
    let from_build_sh: BTreeMap<String, (String, BTreeSet<String>)> =
        repository_file("docker/build.sh")
            .lines()
            .filter_map(|line| line.strip_prefix("build "))
            .map(|rest| {
                let mut words = rest.split_whitespace();
                let variant = words.next().unwrap().to_owned();
                let target = words.next().unwrap().to_owned();
                let args = words
                    .filter(|w| *w != "--build-arg")
                    .map(str::to_owned)
                    .collect();
                (variant, (target, args))
            })
            .collect();
    let workflow: Value =
        serde_yaml_ng::from_str(&repository_file(".github/workflows/release.yml")).unwrap();
    let job = &workflow["jobs"]["image"];
    let from_workflow: BTreeMap<String, (String, BTreeSet<String>)> =
        job["strategy"]["matrix"]["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["variant"].as_str().unwrap().to_owned(),
                    (
                        entry["target"].as_str().unwrap().to_owned(),
                        entry["args"]
                            .as_str()
                            .unwrap()
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect(),
                    ),
                )
            })
            .collect();
    assert_eq!(from_workflow, from_build_sh);
    let build = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/build-push-action"))
        })
        .unwrap();
    assert_eq!(build["with"]["platforms"], "linux/amd64,linux/arm64");
    assert_eq!(build["with"]["sbom"], true);
    assert_eq!(build["with"]["file"], "docker/Dockerfile");
}

/// The background load (`bookinfo traffic` in the cluster) enters through the ingress gateway
/// from outside the mesh, runs until deleted, and its arguments are flags the tool accepts.
#[test]
fn the_background_traffic_runs_the_tool_outside_the_mesh_through_the_gateway() {
    let documents = documents();
    let deployment = of_kind(&documents, "Deployment")
        .find(|d| is_load_generator(d))
        .expect("platform/bookinfo-traffic.yaml");
    let template = &deployment.spec()["template"];
    assert_eq!(
        template["metadata"]["labels"]["sidecar.istio.io/inject"],
        "false"
    );
    assert_eq!(template["spec"]["automountServiceAccountToken"], false);
    let args: Vec<&str> = template["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let flags: bookinfo::traffic::TrafficArgs =
        service_runtime::testing::parse_flags(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert_eq!(
        flags.url.to_string(),
        "http://istio-ingressgateway.istio-system/productpage"
    );
    assert_eq!(flags.duration, Some(Duration::ZERO), "until deleted");
    assert!(flags.rate.is_some_and(|rate| rate <= 10.0), "a gentle rate");
    flags.user_mix().expect("a valid user mix");
    let kustomization: Kustomization =
        serde_yaml_ng::from_str(&repository_file("k8s/kustomization.yaml")).unwrap();
    assert!(
        !kustomization
            .resources
            .iter()
            .any(|r| r.contains("traffic")),
        "optional: not part of the tutorial's end state"
    );
}

/// The e2e workflow cannot run here (no Kubernetes); what can be checked offline is checked:
/// it sets the cluster up with scripts/kind-up.sh (one source of steps, tested with stub tools
/// in `scripts::`), runs the tasks script, and the script applies files that exist and asks
/// `bookinfo traffic` only for checks it accepts.
#[test]
fn the_e2e_workflow_runs_the_istio_tasks_with_checks_the_tool_accepts() {
    let workflow = repository_file(".github/workflows/e2e.yml");
    for step in [
        "helm/kind-action@",
        "install_only: true",
        "run: scripts/kind-up.sh",
        "run: scripts/istio-tasks.sh",
        "kubectl apply -f k8s/platform/bookinfo-traffic.yaml",
        "run: scripts/kind-down.sh",
    ] {
        assert!(workflow.contains(step), "e2e.yml: no `{step}`");
    }
    let setup = repository_file("scripts/kind/istio.yaml");
    assert!(setup.contains("profile: demo"), "Istio's demo profile");
    let script = repository_file("scripts/istio-tasks.sh");
    let mut routes = 0;
    for file in script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("route "))
    {
        assert!(
            Path::new(K8S)
                .join("networking")
                .join(file.trim())
                .is_file(),
            "istio-tasks.sh applies a missing k8s/networking/{file}"
        );
        routes += 1;
    }
    assert!(routes >= 6, "{routes} routes");
    let mut checks = 0;
    let commands: String = script
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for (i, _) in commands.match_indices("--expect ") {
        let rest = &commands[i + "--expect ".len()..];
        let check = match rest.strip_prefix('\'') {
            Some(quoted) => &quoted[..quoted.find('\'').unwrap()],
            None => rest.split_whitespace().next().unwrap(),
        };
        check
            .parse::<bookinfo::traffic::expect::Expectation>()
            .unwrap_or_else(|e| panic!("istio-tasks.sh: --expect {check}: {e}"));
        checks += 1;
    }
    assert!(checks >= 15, "{checks} checks");
    for task in [
        "stars=red:50%±10",
        "user=jason:stars=black:100%",
        "user=jason:reviews-error=100%",
        "user=jason:ratings-unavailable=100%",
        "errors=100%",
        "stars=red:100%",
    ] {
        assert!(script.contains(task), "istio-tasks.sh checks no `{task}`");
    }
}
