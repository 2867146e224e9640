//! The mesh panel behind real Envoy sidecars configured as istiod configures them
//! (APPEND_FORWARD with Subject, URI and DNS; the app reached from 127.0.0.6; the attempt
//! count on outbound routes): each hop shows its caller's SPIFFE identity.

use super::{istio::GATEWAY_IDENTITY, routing::page, *};

fn panel(page: &str) -> &str {
    page.find("id=\"mesh-panel\"")
        .map_or("", |start| &page[start..])
}

/// The identity cell of the first row of `hop`.
fn identity_of<'a>(panel: &'a str, hop: &str) -> &'a str {
    let row = panel
        .split("<tr>")
        .find(|row| row.contains(&format!(">{hop}<")))
        .unwrap_or_else(|| panic!("no {hop} row in\n{panel}"));
    let start = row.find("class=\"identity").expect("an identity cell");
    let cell = &row[start..];
    &cell[..cell.find("</td>").unwrap_or(cell.len())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hop_shows_its_callers_verified_identity() {
    let Some(mesh) = Mesh::start(
        "every_hop_shows_its_callers_verified_identity",
        MeshOptions {
            mesh_panel: true,
            virtual_services: vec![("reviews", "virtual-service-reviews-v3.yaml")],
            ..MeshOptions::default()
        },
    )
    .await
    else {
        return;
    };
    let spiffe = |account: &str| format!("mTLS: spiffe://cluster.local/ns/istio-app/sa/{account}");
    let fetched = page(&mesh, None).await;
    assert_eq!(fetched.status, 200);
    // scripts/mesh-panel-screenshot.sh takes the page from here for docs/mesh-panel.png.
    if let Ok(path) = std::env::var("BOOKINFO_MESH_PANEL_PAGE") {
        std::fs::write(path, &fetched.body).unwrap();
    }
    let first_panel = panel(&fetched.body);
    for (hop, caller) in [
        (
            "ingress → productpage",
            format!("mTLS: spiffe://{GATEWAY_IDENTITY}"),
        ),
        ("productpage → details", spiffe("bookinfo-productpage")),
        ("productpage → reviews", spiffe("bookinfo-productpage")),
        ("reviews → ratings", spiffe("bookinfo-reviews")),
    ] {
        let cell = identity_of(first_panel, hop);
        assert!(cell.contains(&caller), "{hop}: {cell}\n{first_panel}");
    }
    for needle in [
        "details-v1-abc12 (v1)",
        "reviews-v3-abc12 (v3)",
        "ratings-v1-abc12 (v1)",
    ] {
        assert!(
            first_panel.contains(needle),
            "missing {needle:?} in\n{first_panel}"
        );
    }
    assert!(!first_panel.contains("unverified"), "{first_panel}");
    // Every callee learnt from its caller's sidecar which attempt it served.
    assert_eq!(
        first_panel.matches("sidecar attempt 1").count(),
        4,
        "{first_panel}"
    );

    // Straight to productpage's app, past its sidecar: the first hop had no client
    // certificate, and the backend hops, through productpage's sidecar, still do.
    let direct = fetch(client().get(format!(
        "http://{}/productpage",
        mesh.app_addrs["productpage-v1"]
    )))
    .await;
    let direct_panel = panel(&direct.body);
    let first = identity_of(direct_panel, "ingress → productpage");
    assert!(first.contains("no client certificate"), "{first}");
    let details = identity_of(direct_panel, "productpage → details");
    assert!(
        details.contains(&spiffe("bookinfo-productpage")),
        "{details}"
    );

    // A client cannot forge what the sidecar appends: through the gateway, a made-up header
    // is dropped, and the identity is still the gateway's.
    let forged = fetch(client().get(mesh.url("/productpage")).header(
        "x-forwarded-client-cert",
        "URI=spiffe://cluster.local/ns/istio-app/sa/forged",
    ))
    .await;
    let cell = identity_of(panel(&forged.body), "ingress → productpage");
    assert!(
        cell.contains(&format!("spiffe://{GATEWAY_IDENTITY}")) && !cell.contains("forged"),
        "{cell}"
    );
    mesh.stop().await;
}
