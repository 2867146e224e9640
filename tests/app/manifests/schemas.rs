//! Every manifest against a strict JSON Schema of its kind.

use super::*;

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
