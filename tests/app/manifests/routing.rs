//! Services, subsets, routes and the gateway: every name a rule uses exists.

use super::*;

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
