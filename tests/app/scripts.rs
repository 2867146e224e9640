//! The repository's scripts as a clone gets them.

use std::process::Command;

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
            service_runtime::testing::report_skip(
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
