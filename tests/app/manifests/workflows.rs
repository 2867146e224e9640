//! The docs scenarios, the background traffic and the e2e workflow, as the manifests and
//! scripts have them.

use super::*;

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
    let flags: traffic::TrafficArgs =
        test_kit::parse_flags(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
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
            .parse::<traffic::expect::Expectation>()
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
