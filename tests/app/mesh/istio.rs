//! What istiod would give the sidecars, derived from `k8s/`: the workloads and their identities,
//! the authorization policies the kustomization deploys, the gateway's routes, and the routes
//! of a VirtualService file. A manifest change is therefore a change of what the mesh tests.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::manifests::{Document, documents};

pub const NAMESPACE: &str = "istio-app";
/// The identity of istioctl's default ingress gateway, as the productpage policy names it.
pub const GATEWAY_IDENTITY: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";

/// A Deployment of the tutorial's end state: its labels and identity.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The Deployment's name, `reviews-v2`.
    pub name: String,
    pub app: String,
    pub version: String,
    /// `cluster.local/ns/istio-app/sa/bookinfo-reviews`, as policies name principals.
    pub principal: String,
}

/// The files `kubectl apply -k k8s/` applies.
fn deployed(documents: &[Document]) -> Vec<&Document> {
    let kustomization: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/k8s/kustomization.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let files: BTreeSet<&str> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    documents
        .iter()
        .filter(|d| files.contains(d.file.as_str()))
        .collect()
}

pub fn workloads() -> Vec<Workload> {
    let documents = documents();
    deployed(&documents)
        .into_iter()
        .filter(|d| d.kind() == "Deployment")
        .map(|d| {
            let template = &d.spec()["template"];
            let label = |name: &str| {
                template["metadata"]["labels"][name]
                    .as_str()
                    .unwrap()
                    .to_owned()
            };
            let account = template["spec"]["serviceAccountName"].as_str().unwrap();
            Workload {
                name: d.name().to_owned(),
                app: label("app"),
                version: label("version"),
                principal: format!("cluster.local/ns/{NAMESPACE}/sa/{account}"),
            }
        })
        .collect()
}

/// One ALLOW rule: who, and which methods (empty: any).
#[derive(Debug, Clone, PartialEq)]
pub struct AllowRule {
    pub principals: Vec<String>,
    pub methods: Vec<String>,
}

/// The ALLOW rules that apply to `app` among the deployed policies. The deployed
/// `allow-nothing` policy makes every workload deny what no rule allows.
pub fn allow_rules(app: &str) -> Vec<AllowRule> {
    let documents = documents();
    let mut rules = Vec::new();
    for policy in deployed(&documents)
        .into_iter()
        .filter(|d| d.kind() == "AuthorizationPolicy")
    {
        let spec = policy.spec();
        if spec["selector"]["matchLabels"]["app"].as_str() != Some(app) {
            continue;
        }
        assert_eq!(spec["action"], "ALLOW", "{}", policy.name());
        for rule in spec["rules"].as_array().unwrap() {
            // What the translation below reads, and nothing else: a policy with paths, ports,
            // namespaces or conditions would need more of it.
            let keys = |value: &Value| -> Vec<String> {
                value
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default()
            };
            assert!(
                keys(rule).iter().all(|k| k == "from" || k == "to"),
                "{}: {rule}",
                policy.name()
            );
            for from in rule["from"].as_array().into_iter().flatten() {
                assert_eq!(keys(&from["source"]), ["principals"], "{}", policy.name());
            }
            for to in rule["to"].as_array().into_iter().flatten() {
                assert_eq!(keys(&to["operation"]), ["methods"], "{}", policy.name());
            }
            let strings = |value: &Value| -> Vec<String> {
                value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let principals = rule["from"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|from| strings(&from["source"]["principals"]))
                .collect();
            let methods = rule["to"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|to| strings(&to["operation"]["methods"]))
                .collect();
            rules.push(AllowRule {
                principals,
                methods,
            });
        }
    }
    rules
}

/// A URI match of the gateway's VirtualService.
#[derive(Debug, Clone, PartialEq)]
pub enum UriMatch {
    Exact(String),
    Prefix(String),
}

/// The URI matches of the gateway's VirtualService (`bookinfo`, bound to the gateway), all
/// routed to productpage.
pub fn gateway_matches() -> Vec<UriMatch> {
    let documents = documents();
    let service = deployed(&documents)
        .into_iter()
        .find(|d| d.kind() == "VirtualService" && !d.spec()["gateways"].is_null())
        .expect("a VirtualService bound to the gateway");
    let mut matches = Vec::new();
    for rule in service.spec()["http"].as_array().unwrap() {
        assert_eq!(
            rule["route"][0]["destination"]["host"], "productpage",
            "the gateway routes to productpage"
        );
        for m in rule["match"].as_array().unwrap() {
            let uri = &m["uri"];
            if let Some(path) = uri["exact"].as_str() {
                matches.push(UriMatch::Exact(path.to_owned()));
            } else if let Some(path) = uri["prefix"].as_str() {
                matches.push(UriMatch::Prefix(path.to_owned()));
            }
        }
    }
    matches
}

/// One http rule of a VirtualService.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRule {
    /// `end-user` must be exactly this.
    pub end_user: Option<String>,
    /// (version label, weight).
    pub destinations: Vec<(String, u32)>,
    pub abort_status: Option<u16>,
    pub delay: Option<String>,
}

/// The rules for `host` in the VirtualServices of `file` (under k8s/networking).
pub fn virtual_service(file: &str, host: &str) -> Vec<HttpRule> {
    let documents = documents();
    let service = documents
        .iter()
        .find(|d| {
            d.file == format!("networking/{file}")
                && d.kind() == "VirtualService"
                && d.spec()["hosts"][0] == host
        })
        .unwrap_or_else(|| panic!("{file} has no VirtualService for {host}"));
    service.spec()["http"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| HttpRule {
            end_user: rule["match"][0]["headers"]["end-user"]["exact"]
                .as_str()
                .map(str::to_owned),
            destinations: rule["route"]
                .as_array()
                .unwrap()
                .iter()
                .map(|route| {
                    let subset = route["destination"]["subset"].as_str().unwrap();
                    let weight = route["weight"].as_u64().unwrap_or(100) as u32;
                    (subset_version(&documents, host, subset), weight)
                })
                .collect(),
            abort_status: rule["fault"]["abort"]["httpStatus"]
                .as_u64()
                .map(|s| s as u16),
            delay: rule["fault"]["delay"]["fixedDelay"]
                .as_str()
                .map(str::to_owned),
        })
        .collect()
}

/// The `version` label a DestinationRule subset of `host` selects.
fn subset_version(documents: &[Document], host: &str, subset: &str) -> String {
    documents
        .iter()
        .filter(|d| {
            d.file == "networking/destination-rule-all-mtls.yaml"
                && d.kind() == "DestinationRule"
                && d.spec()["host"] == host
        })
        .flat_map(|d| d.spec()["subsets"].as_array().unwrap().iter())
        .find(|s| s["name"] == subset)
        .and_then(|s| s["labels"]["version"].as_str())
        .unwrap_or_else(|| panic!("no subset {subset} of {host}"))
        .to_owned()
}
