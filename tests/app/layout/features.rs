//! Every cargo command a newcomer types builds each crate with the same features, so none
//! rebuilds what another built: cargo unifies features per command, and a selection that
//! enables fewer (`-p details`) or more (`cargo test`, with dev-dependencies) than another
//! rebuilds everything above the crate that differs. workspace-hack holds the union.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use super::root;

/// Package (`name vX.Y.Z`) → its features, as `cargo tree` resolves them for `selection`. A
/// package built both for the target and for the host (proc macros, build scripts) shows the
/// union of its two sets: a selection that enables fewer on either side misses some.
fn features(selection: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args(["tree", "--prefix", "none", "--format", "{p}|{f}"])
        .args(selection)
        .current_dir(root())
        .output()
        .unwrap_or_else(|err| panic!("{cargo} tree: {err}"));
    assert!(
        output.status.success(),
        "cargo tree {selection:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        // A package cargo tree has shown before ends with " (*)".
        let line = line.trim_end().trim_end_matches("(*)");
        let Some((package, features)) = line.split_once('|') else {
            continue;
        };
        let name = package.split(' ').take(2).collect::<Vec<_>>().join(" ");
        packages.entry(name).or_default().extend(
            features
                .split(',')
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty()),
        );
    }
    packages
}

/// Features only tests get, on purpose: tokio's `test-util` makes every read of its clock
/// take a mutex, so it stays out of the binaries (see workspace-hack/Cargo.toml).
const KEPT_APART: [(&str, &str); 1] = [("tokio", "test-util")];

#[test]
fn every_entry_point_builds_the_crates_with_the_same_features() {
    let everything = features(&["--workspace", "--edges", "normal,build,dev"]);
    let selections: [&[&str]; 6] = [
        // cargo run, cargo build
        &["--edges", "normal,build"],
        // cargo run -p details
        &["-p", "details", "--edges", "normal,build"],
        // cargo test (the cross-service suite)
        &["--edges", "normal,build,dev"],
        // cargo test -p ratings
        &["-p", "ratings", "--edges", "normal,build,dev"],
        // bench/run.sh --smoke
        &["-p", "bench", "--edges", "normal,build"],
        // cargo test -p service-runtime
        &["-p", "service-runtime", "--edges", "normal,build,dev"],
    ];
    let mut differences = Vec::new();
    for selection in selections {
        for (package, selected) in features(selection) {
            let all = everything.get(&package).cloned().unwrap_or_default();
            let missing: Vec<_> = all
                .difference(&selected)
                .filter(|feature| {
                    let name = package.split(' ').next().unwrap_or_default();
                    !KEPT_APART.contains(&(name, feature.as_str()))
                })
                .collect();
            if !missing.is_empty() {
                differences.push(format!("{selection:?}: {package} lacks {missing:?}"));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "add these features to workspace-hack/Cargo.toml:\n{}",
        differences.join("\n")
    );
}
