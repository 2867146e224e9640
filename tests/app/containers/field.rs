//! What the field runs inside Bookinfo's containers, run against the images: istio.io's tasks,
//! failover labs and workshops `kubectl exec` into them or patch their Deployments'
//! `command`. The list is `docker/field-commands.json`; each entry runs in (or as) its image on
//! a private network where productpage answers as `productpage:9080`, as in the mesh.

use serde::Deserialize;

use super::*;

/// One entry of `docker/field-commands.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldCommand {
    image: String,
    /// Where the field runs it.
    source: String,
    /// Run inside a running container of the image (`kubectl exec`); stdout and stderr are
    /// compared together, and it must exit 0.
    #[serde(default)]
    exec: Vec<String>,
    /// Or the image's entrypoint replaced (`command:` in a Deployment): the container must
    /// stay up.
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    contains: Option<String>,
    #[serde(default)]
    equals: Option<String>,
}

fn field_commands() -> Vec<FieldCommand> {
    let path = crate::support::repository_root().join("docker/field-commands.json");
    let text = std::fs::read_to_string(&path).expect("docker/field-commands.json");
    serde_json::from_str(&text).expect("the field commands parse")
}

#[test]
fn the_field_commands_name_images_that_exist_and_say_what_they_expect() {
    let commands = field_commands();
    assert!(commands.len() >= 9, "{} commands", commands.len());
    for command in &commands {
        assert!(IMAGES.contains(&command.image.as_str()), "{command:?}");
        assert!(
            command.exec.is_empty() != command.command.is_empty(),
            "exec or command: {command:?}"
        );
        assert!(
            command.command.is_empty() || (command.contains.is_none() && command.equals.is_none()),
            "a replaced entrypoint is only checked to stay up: {command:?}"
        );
        assert!(
            command.exec.is_empty() || command.contains.is_some() || command.equals.is_some(),
            "say what comes back: {command:?}"
        );
    }
}

#[test]
fn the_commands_the_field_runs_inside_the_images_work() {
    let Some(_heavy) = docker_ready("the_commands_the_field_runs_inside_the_images_work") else {
        return;
    };
    let mut app = Deployment::new("field");
    app.run("productpage", "productpage-v1", &[], &[], false);
    let mut running: Vec<(String, String)> = Vec::new();
    for (n, entry) in field_commands().iter().enumerate() {
        let what = format!(
            "{} ({}): {:?}{:?}",
            entry.image, entry.source, entry.exec, entry.command
        );
        if !entry.command.is_empty() {
            let command: Vec<&str> = entry.command.iter().map(String::as_str).collect();
            let container = app.run_command(&format!("command-{n}"), &entry.image, &command);
            // Up, and still up once a process inside has run.
            docker_ok(&["exec", &container, "sleep", "0"]);
            let state = docker_ok(&[
                "inspect",
                "-f",
                "{{.State.Running}} {{.RestartCount}}",
                &container,
            ]);
            assert_eq!(state, "true 0", "{what}");
            println!("ok: {what}");
            continue;
        }
        let container = match running.iter().find(|(image, _)| *image == entry.image) {
            Some((_, container)) => container.clone(),
            None => {
                let name = format!("exec-{}", entry.image);
                let container = app.run(&name, &entry.image, &[], &[], false);
                running.push((entry.image.clone(), container.clone()));
                container
            }
        };
        let mut args = vec!["exec", container.as_str()];
        args.extend(entry.exec.iter().map(String::as_str));
        let output = docker(&args);
        let merged = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "{what}: exit {}: {merged}",
            output.status
        );
        if let Some(expected) = &entry.equals {
            assert_eq!(&merged, expected, "{what}");
        }
        if let Some(expected) = &entry.contains {
            assert!(merged.contains(expected.as_str()), "{what}: {merged}");
        }
        println!("ok: {what}");
    }
}
