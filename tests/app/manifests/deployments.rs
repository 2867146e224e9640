//! The Deployments: shutdown budgets, the kustomization, the copies per version, settings.

use super::*;

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
        let env = &deployment.spec()["template"]["spec"]["containers"][0]["env"];
        let first = &env[0];
        assert_eq!(
            (first["name"].as_str(), first["value"].as_str()),
            (Some("OTEL_PROPAGATORS"), Some("tracecontext")),
            "{} {}",
            deployment.file,
            deployment.name()
        );
        // The spans' k8s.namespace.name, from the downward API; the variable it expands
        // comes first, as Kubernetes expands $(VAR) only from earlier entries.
        assert_eq!(env[1]["name"], "K8S_NAMESPACE", "{}", deployment.name());
        assert_eq!(
            env[1]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.namespace"
        );
        assert_eq!(
            env[2]["name"],
            "OTEL_RESOURCE_ATTRIBUTES",
            "{}",
            deployment.name()
        );
        assert_eq!(env[2]["value"], "k8s.namespace.name=$(K8S_NAMESPACE)");
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

/// The mesh-panel component adds MESH_PANEL=true and a trace link that productpage accepts,
/// to productpage's Deployments and no other.
#[test]
fn the_mesh_panel_component_turns_the_panel_on_in_productpage_only() {
    let component: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(format!("{K8S}/components/mesh-panel/kustomization.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(component["kind"], "Component");
    let patch = &component["patches"][0];
    assert_eq!(patch["target"]["kind"], "Deployment");
    let selector = patch["target"]["labelSelector"].as_str().unwrap();
    let (label, app) = selector.split_once('=').unwrap();
    let documents = documents();
    let selected: Vec<&Document> = of_kind(&documents, "Deployment")
        .filter(|d| d.value["metadata"]["labels"][label] == app)
        .collect();
    assert!(!selected.is_empty());
    for deployment in &selected {
        assert_eq!(
            deployment.spec()["template"]["metadata"]["labels"]["app"],
            "productpage",
            "{}",
            deployment.name()
        );
    }
    let operations: Value =
        serde_yaml_ng::from_str(patch["patch"].as_str().expect("a JSON patch")).unwrap();
    let mut added = BTreeMap::new();
    for operation in operations.as_array().unwrap() {
        assert_eq!(operation["op"], "add");
        assert_eq!(operation["path"], "/spec/template/spec/containers/0/env/-");
        added.insert(
            operation["value"]["name"].as_str().unwrap().to_owned(),
            operation["value"]["value"].as_str().unwrap().to_owned(),
        );
    }
    assert_eq!(
        service_runtime::config::strict_switch(&added["MESH_PANEL"]),
        Ok(true)
    );
    let url = productpage::TraceUrl::parse(&added["MESH_PANEL_TRACE_URL"]).unwrap();
    assert_eq!(url.link("abc"), "http://localhost:16686/jaeger/trace/abc");
    // Appended after OTEL_PROPAGATORS, which the b3multi component patches at env/0.
    for deployment in selected {
        let env = &deployment.spec()["template"]["spec"]["containers"][0]["env"];
        assert!(
            env.as_array().is_some_and(|env| !env.is_empty()),
            "{}",
            deployment.name()
        );
    }
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
