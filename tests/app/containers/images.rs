//! The images as built: small, non-root, labelled, and built for the versions the manifests use.

use super::*;

#[test]
fn images_are_small_non_root_labelled_and_expose_9080() {
    let Some(_heavy) = docker_ready("images_are_small_non_root_labelled_and_expose_9080") else {
        return;
    };
    println!("{:<28} {:>10}", "image", "size");
    for name in IMAGES {
        let inspect = docker_ok(&[
            "image",
            "inspect",
            &image(name),
            "--format",
            "{{.Config.User}}|{{json .Config.ExposedPorts}}|{{index .Config.Labels \"org.opencontainers.image.title\"}}|{{index .Config.Labels \"org.opencontainers.image.version\"}}|{{.Size}}",
        ]);
        let fields: Vec<&str> = inspect.split('|').collect();
        let uid: u32 = fields[0]
            .split(':')
            .next()
            .unwrap()
            .parse()
            .expect("a numeric USER");
        assert!(uid != 0 && uid != 1337, "{name}: user {uid}");
        assert!(fields[1].contains("9080/tcp"), "{name}: {}", fields[1]);
        assert!(fields[2].starts_with("bookinfo-"), "{name}: title label");
        assert_eq!(
            fields[3],
            crate::manifests::ImageScheme::read().version,
            "{name}: version label"
        );
        let size: u64 = fields[4].parse().unwrap();
        let scratch_only = name.starts_with("details");
        let packages = if scratch_only {
            String::new()
        } else {
            // The curl base: what scanners read, one dpkg record per package.
            docker_ok(&[
                "run",
                "--rm",
                "--entrypoint",
                "/usr/bin/bash",
                &image(name),
                "-c",
                // bash alone: the image has no other program to read files with.
                r#"for p in /var/lib/dpkg/status.d/*; do
                     while IFS= read -r line; do
                       [[ $line == Version:* ]] && printf '%s=%s ' "${p##*/}" "${line#Version: }"
                     done < "$p"
                   done
                   # And what goes with each record: its files' checksums, its licence.
                   for p in /var/lib/dpkg/status.d/*.md5sums; do printf 'md5sums '; done
                   for p in /usr/share/doc/*/copyright; do printf 'copyright '; done
                   true"#,
            ])
        };
        let shown: String = packages
            .split_whitespace()
            .filter(|w| w.contains('='))
            .collect::<Vec<_>>()
            .join(" ");
        println!("{name:<28} {:>8.1} MB  {shown}", size as f64 / 1e6);
        let limit = if scratch_only { 20e6 } else { 30e6 };
        assert!((size as f64) <= limit, "{name}: {size} bytes");
        if !scratch_only {
            let words: Vec<&str> = packages.split_whitespace().collect();
            let count = |word: &str| words.iter().filter(|w| **w == word).count();
            let names: Vec<&str> = words
                .iter()
                .filter(|w| w.contains('='))
                .map(|p| p.split('=').next().unwrap())
                .collect();
            // Not for ca-certificates (its bundle is generated, no package's file) nor
            // base-files (only /etc/os-release, which scanners read as the OS).
            assert_eq!(count("md5sums"), names.len() - 2, "{name}: {packages}");
            assert_eq!(count("copyright"), names.len(), "{name}: {packages}");
            assert_eq!(
                names,
                [
                    "base-files",
                    "bash",
                    "ca-certificates",
                    "coreutils",
                    "curl",
                    "grep",
                    "libc6",
                    "libpcre2-8-0",
                    "libselinux1",
                    "libssl3",
                    "libtinfo6",
                    "zlib1g"
                ],
                "{name}: the packages whose files the image holds"
            );
        }
    }
}

/// The load generator's image: non-root, labelled, small, and `bookinfo traffic` itself.
#[test]
fn the_traffic_image_is_the_tool_non_root_and_small() {
    let Some(_heavy) = docker_ready("the_traffic_image_is_the_tool_non_root_and_small") else {
        return;
    };
    let inspect = docker_ok(&[
        "image",
        "inspect",
        &image(TRAFFIC),
        "--format",
        "{{.Config.User}}|{{json .Config.Entrypoint}}|{{index .Config.Labels \"org.opencontainers.image.title\"}}|{{.Size}}",
    ]);
    let fields: Vec<&str> = inspect.split('|').collect();
    assert_eq!(fields[0], "1000:1000");
    assert_eq!(fields[1], r#"["/usr/local/bin/bookinfo","traffic"]"#);
    assert_eq!(fields[2], "bookinfo-traffic");
    let size: u64 = fields[3].parse().unwrap();
    println!("{TRAFFIC:<28} {:>8.1} MB", size as f64 / 1e6);
    assert!(size <= 40_000_000, "{size} bytes");
    let help = docker(&["run", "--rm", &image(TRAFFIC), "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.status.success() && text.contains("--expect <CHECK>"),
        "{text}"
    );
}

/// The reviews versions the images build (docker/build.sh's build arguments over the
/// Dockerfile's defaults) are the ones the launcher and the benchmark run.
#[test]
fn image_build_arguments_agree_with_the_reviews_versions() {
    let build =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker/build.sh")).unwrap();
    for version in reviews::VERSIONS {
        let line = build
            .lines()
            .find(|line| line.starts_with(&format!("build reviews-{} ", version.name)))
            .unwrap_or_else(|| panic!("docker/build.sh builds no reviews-{}", version.name));
        let arg = |name: &str, default: &str| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{name}=")))
                .unwrap_or(default)
                .to_owned()
        };
        assert_eq!(arg("service_version", "v1"), version.name, "{line}");
        assert_eq!(
            arg("enable_ratings", "false") == "true",
            version.enable_ratings,
            "{line}"
        );
        assert_eq!(arg("star_color", "black"), version.star_color, "{line}");
    }
}
