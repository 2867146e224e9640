//! Image references: the manifests, images.env, build.sh and the release workflow agree.

use super::*;

/// The variants docker/build.sh builds, from its `build <variant> <target> …` lines.
fn built_variants() -> BTreeSet<String> {
    let variants: BTreeSet<String> = repository_file("docker/build.sh")
        .lines()
        .filter_map(|line| line.strip_prefix("build "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(variants.len() >= 12, "docker/build.sh builds {variants:?}");
    variants
}

/// Every value of an `image` field, at any depth.
fn image_fields<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (key, field) in map {
                if key == "image" {
                    out.push(field);
                } else {
                    image_fields(field, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                image_fields(item, out);
            }
        }
        _ => {}
    }
}

/// One scheme, written out in every place that names an image; scripts/set-image-refs.sh
/// rewrites them all from images.env.
#[test]
fn every_image_reference_agrees_with_images_env() {
    let scheme = ImageScheme::read();
    let rerun = "after editing images.env, run scripts/set-image-refs.sh";
    assert_eq!(
        scheme.version,
        env!("CARGO_PKG_VERSION"),
        "IMAGE_VERSION in images.env is the workspace version of Cargo.toml"
    );
    let variants = built_variants();
    let references: BTreeSet<String> = variants.iter().map(|v| scheme.reference(v)).collect();

    // k8s/: the full reference, tag included, so that a file applied on its own pulls the
    // right image; for a Deployment, the variant its app and version labels name.
    let documents = documents();
    let mut images = Vec::new();
    for document in &documents {
        image_fields(&document.value, &mut images);
    }
    assert!(images.len() >= 12, "found only {} images", images.len());
    for image in images {
        let image = image.as_str().unwrap_or_default();
        assert!(
            references.contains(image) || DATABASES.iter().any(|db| db.1 == image),
            "k8s/: image {image}: {rerun}"
        );
    }
    for deployment in of_kind(&documents, "Deployment") {
        if is_load_generator(deployment) {
            let container = &deployment.spec()["template"]["spec"]["containers"][0];
            assert_eq!(container["image"], scheme.reference("traffic"));
            continue;
        }
        if let Some((app, image, ..)) = database_of(deployment) {
            let container = &deployment.spec()["template"]["spec"]["containers"][0];
            assert_eq!(
                container["image"], image,
                "{app}: the pinned official image"
            );
            continue;
        }
        let labels = &deployment.spec()["template"]["metadata"]["labels"];
        // The image of the version the service runs: ratings v2-mysql is the v2 image with
        // DB_TYPE=mysql, as upstream.
        let service_version = deployment.spec()["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == "SERVICE_VERSION")
            .and_then(|e| e["value"].as_str());
        let variant = format!(
            "{}-{}",
            labels["app"].as_str().unwrap(),
            service_version.unwrap_or_else(|| labels["version"].as_str().unwrap())
        );
        assert!(
            variants.contains(&variant),
            "{}: docker/build.sh builds no {variant}",
            deployment.file
        );
        for container in deployment.spec()["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
        {
            assert_eq!(
                container["image"],
                scheme.reference(&variant),
                "{} {}",
                deployment.file,
                deployment.name()
            );
        }
    }

    // docker/compose.yaml: images.env's values as the defaults of the same variables, which
    // the environment may override as it may for docker/build.sh.
    let compose: Value = serde_yaml_ng::from_str(&repository_file("docker/compose.yaml")).unwrap();
    let mut ours = 0;
    for (service, definition) in compose["services"].as_object().unwrap() {
        let image = definition["image"].as_str().unwrap();
        // The observability stack's own images, pinned, each overridable like JAEGER_IMAGE.
        if ["jaeger", "prometheus", "grafana"].contains(&service.as_str()) {
            assert!(
                image.starts_with("${") && image.contains(":-docker.io/"),
                "{service}: {image}"
            );
            continue;
        }
        if let Some((_, official, ..)) = DATABASES.iter().find(|db| db.0 == service) {
            // The same pinned official image as k8s/, which the environment may override.
            assert!(
                image.ends_with(&format!(":-{official}}}")),
                "{service}: {image}"
            );
            continue;
        }
        ours += 1;
        // productpage, details and ratings run v1; reviews-v1, -v2 and -v3 are named so, and
        // ratings-v2-mysql is the v2 image with DB_TYPE=mysql.
        let variant = if variants.contains(service) {
            service.clone()
        } else if service == "ratings-v2-mysql" {
            "ratings-v2".to_owned()
        } else {
            format!("{service}-v1")
        };
        let expected = format!(
            "${{IMAGE_REGISTRY:-{}}}/${{IMAGE_NAME_PREFIX:-{}}}-{variant}:${{IMAGE_VERSION:-{}}}",
            scheme.registry, scheme.prefix, scheme.version
        );
        assert_eq!(image, expected, "docker/compose.yaml {service}: {rerun}");
    }
    assert_eq!(
        ours, 8,
        "docker/compose.yaml runs the application's six containers and, in its databases \
         profile, ratings v2 on MongoDB and on MySQL"
    );

    // docker/build.sh: no names of its own, only images.env's (or the environment's).
    let build = repository_file("docker/build.sh");
    assert!(
        build.contains("< images.env"),
        "docker/build.sh reads images.env"
    );
    for key in ["IMAGE_REGISTRY", "IMAGE_NAME_PREFIX", "IMAGE_VERSION"] {
        assert!(
            build.contains(&format!("${key}")),
            "docker/build.sh uses {key}"
        );
    }
    assert!(
        !build.contains(&format!("{}/{}", scheme.registry, scheme.prefix)),
        "docker/build.sh names no image itself"
    );

    // docker/Dockerfile: the version label of an image built without docker/build.sh.
    let version = format!("ARG VERSION={}", scheme.version);
    assert!(
        repository_file("docker/Dockerfile")
            .lines()
            .any(|line| line == version),
        "docker/Dockerfile: {version}: {rerun}"
    );
}

/// The release workflow builds exactly docker/build.sh's variants, each with the same target
/// and build arguments, for amd64 and arm64.
#[test]
fn the_release_workflow_builds_what_build_sh_builds() {
    let from_build_sh: BTreeMap<String, (String, BTreeSet<String>)> =
        repository_file("docker/build.sh")
            .lines()
            .filter_map(|line| line.strip_prefix("build "))
            .map(|rest| {
                let mut words = rest.split_whitespace();
                let variant = words.next().unwrap().to_owned();
                let target = words.next().unwrap().to_owned();
                let args = words
                    .filter(|w| *w != "--build-arg")
                    .map(str::to_owned)
                    .collect();
                (variant, (target, args))
            })
            .collect();
    let workflow: Value =
        serde_yaml_ng::from_str(&repository_file(".github/workflows/release.yml")).unwrap();
    let job = &workflow["jobs"]["image"];
    let from_workflow: BTreeMap<String, (String, BTreeSet<String>)> =
        job["strategy"]["matrix"]["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["variant"].as_str().unwrap().to_owned(),
                    (
                        entry["target"].as_str().unwrap().to_owned(),
                        entry["args"]
                            .as_str()
                            .unwrap()
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect(),
                    ),
                )
            })
            .collect();
    assert_eq!(from_workflow, from_build_sh);
    let build = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/build-push-action"))
        })
        .unwrap();
    assert_eq!(build["with"]["platforms"], "linux/amd64,linux/arm64");
    assert_eq!(build["with"]["sbom"], true);
    assert_eq!(build["with"]["file"], "docker/Dockerfile");
    // Assembled from the binaries job's programs, not compiled again per variant.
    let steps = serde_yaml_ng::to_string(&job["steps"]).unwrap();
    assert!(steps.contains("BINARIES=prebuilt"), "{steps}");
    assert!(
        job["needs"]
            .as_array()
            .is_some_and(|needs| needs.iter().any(|need| need == "binaries")),
        "{:?}",
        job["needs"]
    );
}

/// The release workflow builds each target once, signs what it pushed by digest with an OIDC
/// identity, and publishes the archives with their checksums.
#[test]
fn the_release_workflow_builds_each_target_once_and_signs_by_digest() {
    let workflow: Value =
        serde_yaml_ng::from_str(&repository_file(".github/workflows/release.yml")).unwrap();
    let targets: BTreeSet<&str> = workflow["jobs"]["binaries"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["target"].as_str().unwrap())
        .collect();
    let expected = [
        "aarch64-apple-darwin",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "x86_64-unknown-linux-gnu",
    ];
    assert_eq!(targets, BTreeSet::from(expected));
    let script = repository_file("scripts/release-binaries.sh");
    for target in expected {
        assert!(
            script.contains(target),
            "release-binaries.sh does not take {target}"
        );
    }
    let sign = &workflow["jobs"]["sign"];
    assert_eq!(sign["permissions"]["id-token"], "write");
    let signing = serde_yaml_ng::to_string(&sign["steps"]).unwrap();
    assert!(
        signing.contains("cosign sign --yes --recursive \"$reference\""),
        "{signing}"
    );
    assert!(
        signing.contains("*@sha256:*"),
        "signs digests only: {signing}"
    );
    // Only the signing job may ask for an OIDC token.
    for (name, job) in workflow["jobs"].as_object().unwrap() {
        if name != "sign" {
            assert!(
                job["permissions"]["id-token"].is_null(),
                "{name} asks for id-token"
            );
        }
    }
    // A release names the images: it waits for their signatures.
    let release_needs = serde_yaml_ng::to_string(&workflow["jobs"]["release"]["needs"]).unwrap();
    assert!(release_needs.contains("sign"), "{release_needs}");
    let release = serde_yaml_ng::to_string(&workflow["jobs"]["release"]["steps"]).unwrap();
    assert!(release.contains("SHA256SUMS") && release.contains("gh release create"));
}

/// Dependabot updates the Dockerfile's base images only if a `FROM` line names them
/// literally: it does not follow `ARG`. Stage names may still be chosen by an argument.
#[test]
fn dependabot_can_see_every_base_image() {
    let dockerfile = repository_file("docker/Dockerfile");
    let mut stages = BTreeSet::from(["scratch".to_owned()]);
    let mut bases = BTreeSet::new();
    for line in dockerfile.lines() {
        let Some(rest) = line
            .get(..5)
            .filter(|keyword| keyword.eq_ignore_ascii_case("FROM "))
            .map(|_| &line[5..])
        else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (image, stage) = match words.as_slice() {
            [image, as_word, stage] if as_word.eq_ignore_ascii_case("as") => (*image, *stage),
            other => panic!("FROM without a stage name: {other:?}"),
        };
        // `FROM binaries-${BINARIES}` picks one of the stages named binaries-….
        let is_stage = stages.contains(image)
            || image.split_once("${").is_some_and(|(prefix, _)| {
                !prefix.is_empty() && stages.iter().any(|known| known.starts_with(prefix))
            });
        if !is_stage {
            assert!(
                !image.contains('$') && image.contains(':'),
                "FROM {image}: a base image must be literal and tagged"
            );
            // The one form .ci/base-images.sh reads the names from.
            assert_eq!(
                line,
                format!("FROM {image} AS {stage}"),
                "as .ci/base-images.sh reads it"
            );
            bases.insert(image.to_owned());
        }
        stages.insert(stage.to_owned());
    }
    assert_eq!(
        bases,
        BTreeSet::from([
            "debian:bookworm-slim".to_owned(),
            "rust:1.95-slim-bookworm".to_owned()
        ])
    );
    let dependabot: Value =
        serde_yaml_ng::from_str(&repository_file(".github/dependabot.yml")).unwrap();
    let ecosystems: BTreeSet<(String, String)> = dependabot["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|update| {
            (
                update["package-ecosystem"].as_str().unwrap().to_owned(),
                update["directory"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("cargo", "/"),
        ("github-actions", "/"),
        ("docker", "/docker"),
    ] {
        assert!(
            ecosystems.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "dependabot.yml: no {expected:?} in {ecosystems:?}"
        );
    }
}
