//! Least privilege: authorization principals, the restricted pod security profile, and who
//! reaches the databases.

use super::*;

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
