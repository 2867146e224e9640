//! Mutual TLS and authorization behind the sidecars.

use super::{routing::page, *};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_and_the_sidecar_hop_is_tls() {
    let Some(mesh) = Mesh::start(
        "plaintext_is_refused_and_the_sidecar_hop_is_tls",
        MeshOptions::default(),
    )
    .await
    else {
        return;
    };
    // A client outside the mesh, in plain HTTP, straight to details' sidecar.
    let plain = client()
        .get(format!("http://{}:9080/details/0", mesh.ip_of("details")))
        .send()
        .await;
    // The sidecar reads the request line as a broken TLS handshake and drops the connection.
    let error = plain.expect_err("plaintext was answered");
    let mut causes = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        !error.is_connect() && !error.is_timeout(),
        "the sidecar accepted the connection, then dropped it: {causes}"
    );

    assert_eq!(page(&mesh, None).await.status, 200);
    let tapped = mesh.tapped.lock().unwrap().clone();
    assert!(!tapped.is_empty(), "the page went through the tapped hop");
    assert_eq!(tapped[0], 0x16, "a TLS handshake record opens the hop");
    let clear = String::from_utf8_lossy(&tapped);
    assert!(
        !clear.contains("GET /details") && !clear.contains("HTTP/1.1"),
        "a request line in clear"
    );
    mesh.stop().await;
}

/// Every (caller, service, method) allowed or denied exactly as the deployed authorization
/// policies say, with the caller's identity from its client certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_allows_and_denies_as_the_policies_say() {
    let Some(mesh) = Mesh::start(
        "authorization_allows_and_denies_as_the_policies_say",
        MeshOptions::default(),
    )
    .await
    else {
        return;
    };
    let paths = [
        ("details", "/details/0"),
        ("reviews", "/reviews/0"),
        ("ratings", "/ratings/0"),
        ("productpage", "/productpage"),
    ];
    let mut checked = 0;
    for caller in ["productpage", "reviews", "ratings", "details"] {
        let principal = mesh
            .workloads
            .iter()
            .find(|(w, _)| w.app == caller)
            .map(|(w, _)| w.principal.clone())
            .unwrap();
        for (service, path) in paths {
            let rules = istio::allow_rules(service);
            for method in ["GET", "POST"] {
                let allowed = rules.iter().any(|rule| {
                    rule.principals.contains(&principal)
                        && (rule.methods.is_empty() || rule.methods.iter().any(|m| m == method))
                });
                let url = mesh.via_sidecar(caller, service, path);
                let request = if method == "POST" {
                    client().post(url).body("{}")
                } else {
                    client().get(url)
                };
                let answer = fetch(request).await;
                if allowed {
                    assert_eq!(answer.status, 200, "{caller} → {method} {service}");
                } else {
                    assert_eq!(
                        (answer.status, answer.body.as_str()),
                        (403, "RBAC: access denied"),
                        "{caller} → {method} {service}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 32);
    mesh.stop().await;
}
