//! The programs in the images carry their dependency tree (cargo auditable), so that
//! scanners see the Rust crates and not only the Debian packages. Read back as a user would,
//! with `rust-audit-info` (crates.io).

use super::*;

/// Each image's program and the workspace crate at its root.
const PROGRAMS: [(&str, &str, &str); 5] = [
    ("details-v1", "details", "details"),
    ("productpage-v1", "productpage", "productpage"),
    ("ratings-v1", "ratings", "ratings"),
    ("reviews-v1", "reviews", "reviews"),
    (TRAFFIC, "bookinfo", "bookinfo"),
];

#[test]
fn the_programs_in_the_images_carry_their_dependency_record() {
    let test = "the_programs_in_the_images_carry_their_dependency_record";
    let Some(_heavy) = docker_ready(test) else {
        return;
    };
    let audit_info = Command::new("rust-audit-info").arg("--help").output();
    if test_kit::tool_or_skip(
        test,
        REQUIRE,
        audit_info.map(|_| ()).map_err(|err| {
            format!("rust-audit-info not found ({err}): cargo install rust-audit-info")
        }),
    )
    .is_none()
    {
        return;
    }
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let dir = std::env::temp_dir().join(format!("bookinfo-records-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (image_name, program, root_crate) in PROGRAMS {
        let container = docker_ok(&["create", &image(image_name)]);
        let copy = dir.join(program);
        docker_ok(&[
            "cp",
            &format!("{container}:/usr/local/bin/{program}"),
            copy.to_str().unwrap(),
        ]);
        docker_ok(&["rm", &container]);
        let output = Command::new("rust-audit-info").arg(&copy).output().unwrap();
        assert!(
            output.status.success(),
            "{image_name}: rust-audit-info {program}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let record: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let packages = record["packages"].as_array().expect("a package list");
        let named = |name: &str| packages.iter().find(|package| package["name"] == name);
        let root = named(root_crate).unwrap_or_else(|| panic!("{image_name}: no {root_crate}"));
        assert_eq!(root["root"], true, "{image_name}: {root}");
        // The dependencies, ours and crates.io's, are Cargo.lock's, at its versions.
        for dependency in ["tokio", "hyper", "serde", "service-runtime"] {
            let package = named(dependency)
                .unwrap_or_else(|| panic!("{image_name}: {dependency} is not in the record"));
            let locked = format!("name = \"{dependency}\"\nversion = {}", package["version"]);
            assert!(
                lock.contains(&locked),
                "{image_name}: {package} is not Cargo.lock's"
            );
        }
        println!(
            "{image_name:<16} {program:<12} {} crates in the record",
            packages.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
