//! The repository's scripts as a clone gets them.

use std::{path::Path, process::Command};

/// Every committed file that starts with `#!` is run as a program (by the README, CI, the
/// workflows), so git must record it executable (mode 100755): a clone gets no other bit.
#[test]
fn every_committed_script_is_executable() {
    let root = env!("CARGO_MANIFEST_DIR");
    let listed = match Command::new("git")
        .args(["ls-files", "-s", "-z"])
        .current_dir(root)
        .output()
    {
        Ok(output) if output.status.success() => output.stdout,
        // An unpacked source archive has no git record, and no modes to check.
        _ => {
            test_kit::report_skip(
                "every_committed_script_is_executable",
                "not a git checkout (or no git)",
            );
            return;
        }
    };
    let mut not_executable = Vec::new();
    let mut scripts = 0;
    for entry in listed
        .split(|&byte| byte == 0)
        .filter(|entry| !entry.is_empty())
    {
        let entry = String::from_utf8_lossy(entry);
        // "<mode> <object> <stage>\t<path>"
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let starts_with_shebang = std::fs::read(std::path::Path::new(root).join(path))
            .is_ok_and(|content| content.starts_with(b"#!"));
        if starts_with_shebang {
            scripts += 1;
            if !meta.starts_with("100755") {
                not_executable.push(path.to_owned());
            }
        }
    }
    assert!(scripts > 0, "no script found: is this the repository?");
    assert!(
        not_executable.is_empty(),
        "committed without the run bit (git update-index --chmod=+x): {not_executable:?}"
    );
}

/// A directory of stub `kind`, `kubectl`, `istioctl`, `docker` and `curl` that record each call
/// (`<tool> <args>`, one line) in `calls.log` beside them. `kind get clusters` prints
/// `$STUB_CLUSTERS`; `istioctl version` prints the version `$STUB_ISTIO`.
fn stub_tools() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bookinfo-kind-stubs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let log = dir.join("calls.log");
    for tool in ["kind", "kubectl", "istioctl", "docker", "curl"] {
        let script = format!(
            "#!/bin/bash\n\
             echo \"{tool} $*\" >> '{log}'\n\
             case \"{tool} $1 $2\" in\n\
             'kind get clusters') [ -z \"$STUB_CLUSTERS\" ] || echo \"$STUB_CLUSTERS\" ;;\n\
             'istioctl version '*) echo \"$STUB_ISTIO\" ;;\n\
             esac\n",
            log = log.display()
        );
        let path = dir.join(tool);
        std::fs::write(&path, script).expect("a stub");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
    }
    dir
}

/// Runs `script` from the repository with only the stubs and the system's own tools on PATH;
/// returns its stdout and the recorded calls.
fn run_with_stubs(
    stubs: &Path,
    script: &str,
    args: &[&str],
    clusters: &str,
) -> (String, Vec<String>) {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("bash")
        .arg(Path::new(root).join(script))
        .args(args)
        .env("PATH", format!("{}:/usr/bin:/bin", stubs.display()))
        .env("STUB_CLUSTERS", clusters)
        .env("STUB_ISTIO", "1.27.1")
        .env_remove("KIND_CLUSTER")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = std::fs::read_to_string(stubs.join("calls.log")).unwrap_or_default();
    std::fs::remove_file(stubs.join("calls.log")).ok();
    (stdout, log.lines().map(str::to_owned).collect())
}

/// The image references every manifest uses.
fn image_references() -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("bash")
        .arg(Path::new(root).join("scripts/set-image-refs.sh"))
        .arg("--list")
        .output()
        .expect("set-image-refs.sh runs");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn kind_up_builds_loads_installs_and_deploys_in_order_then_kind_down_deletes() {
    let stubs = stub_tools();
    let (stdout, calls) = run_with_stubs(&stubs, "scripts/kind-up.sh", &[], "");
    let images = image_references();
    assert_eq!(images.len(), 14, "{images:?}");
    let position = |prefix: &str| {
        calls
            .iter()
            .position(|call| call.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {calls:#?}"))
    };
    let builds = calls
        .iter()
        .filter(|c| c.starts_with("docker build"))
        .count();
    assert_eq!(builds, 14, "docker/build.sh builds every image: {calls:#?}");
    let order = [
        position("docker build"),
        position("kind create cluster --name bookinfo --config scripts/kind/cluster.yaml"),
        position("kubectl config use-context kind-bookinfo"),
        position("kind load docker-image --name bookinfo"),
        position("istioctl install -y -f scripts/kind/istio.yaml"),
        position("kubectl -n istio-system rollout status"),
        position("kubectl apply -k k8s/"),
        position("kubectl -n istio-app rollout status"),
        position("curl -fs -o /dev/null http://localhost:8080/productpage"),
    ];
    assert!(
        order.is_sorted(),
        "steps out of order {order:?}: {calls:#?}"
    );
    let loaded = &calls[position("kind load docker-image")];
    let loaded: Vec<&str> = loaded.split_whitespace().skip(5).collect();
    assert_eq!(loaded, images, "kind loads exactly the manifests' images");
    assert!(
        stdout.contains("http://localhost:8080/productpage") && stdout.contains(" traffic "),
        "the gateway URL and a traffic command: {stdout}"
    );

    // Again, on the cluster it made and the images it built: nothing is built or created.
    let (_, calls) = run_with_stubs(&stubs, "scripts/kind-up.sh", &["--no-build"], "bookinfo");
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("docker build") || c.starts_with("kind create")),
        "{calls:#?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("kind load docker-image"))
    );

    let (_, calls) = run_with_stubs(&stubs, "scripts/kind-down.sh", &[], "bookinfo");
    std::fs::remove_dir_all(&stubs).ok();
    assert_eq!(
        calls,
        ["kind get clusters", "kind delete cluster --name bookinfo"]
    );
}

/// The port kind publishes on the host is the gateway's NodePort that Istio is installed with.
#[test]
fn the_kind_cluster_publishes_the_gateways_node_port() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |file: &str| -> serde_yaml_ng::Value {
        let text = std::fs::read_to_string(root.join(file)).expect("the file");
        serde_yaml_ng::from_str(&text).expect("YAML")
    };
    let cluster = read("scripts/kind/cluster.yaml");
    let mapping = &cluster["nodes"][0]["extraPortMappings"][0];
    let istio = read("scripts/kind/istio.yaml");
    let gateway = &istio["spec"]["components"]["ingressGateways"][0]["k8s"]["service"];
    assert_eq!(gateway["type"], "NodePort");
    let http = gateway["ports"]
        .as_sequence()
        .and_then(|ports| ports.iter().find(|port| port["port"] == 80))
        .expect("the gateway's port 80");
    assert_eq!(mapping["containerPort"], http["nodePort"]);
    assert_eq!(mapping["hostPort"], 8080, "the URL kind-up prints");
}
