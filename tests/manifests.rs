//! The Kubernetes, Istio and Gateway API manifests under k8s/, validated offline: every
//! document against a strict schema, then the cross references a cluster would only reveal
//! at run time.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::{Value, json};

const NAMESPACE: &str = "istio-app";
const K8S: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/k8s");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/schemas");

struct Document {
    file: String,
    value: Value,
}

impl Document {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }
    fn spec(&self) -> &Value {
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
fn documents() -> Vec<Document> {
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

fn of_kind<'a>(documents: &'a [Document], kind: &str) -> impl Iterator<Item = &'a Document> {
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
    of_kind(documents, "Deployment")
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
        assert_eq!(
            (ports[0]["port"].as_u64(), ports[0]["name"].as_str()),
            (Some(9080), Some("http")),
            "{}",
            service.name()
        );
    }
    for deployment in of_kind(&documents, "Deployment") {
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
                container["readinessProbe"].is_object() && container["livenessProbe"].is_object(),
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
            let image = container["image"].as_str().unwrap();
            assert!(
                !image.contains(':'),
                "{name}: tags are set in kustomization.yaml only ({image})"
            );
        }
    }
}

#[derive(Deserialize)]
struct Kustomization {
    resources: Vec<String>,
    images: Vec<KustomizeImage>,
}

#[derive(Deserialize)]
struct KustomizeImage {
    name: String,
    #[serde(rename = "newTag")]
    new_tag: String,
}

#[test]
fn the_kustomization_deploys_the_tutorial_end_state_and_tags_every_image() {
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
    let tagged: BTreeSet<&str> = kustomization
        .images
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert!(kustomization.images.iter().all(|i| !i.new_tag.is_empty()));
    for deployment in of_kind(&documents(), "Deployment") {
        for container in deployment.spec()["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
        {
            let image = container["image"].as_str().unwrap();
            assert!(
                tagged.contains(image),
                "{image} has no tag in kustomization.yaml"
            );
        }
    }
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
