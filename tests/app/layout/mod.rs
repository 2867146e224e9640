//! The shape of the house: modules import one way (no cycles), and no source file grows past
//! 450 lines before its unit tests. docs/architecture.md says where things go.

mod features;
mod rust_paths;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use rust_paths::{code_only, named_paths};

/// Lines a source file may have before its `#[cfg(test)]` unit tests (the whole file, when it
/// has none).
const MAX_LINES_BEFORE_TESTS: usize = 450;

pub(super) use crate::support::repository_root as root;

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    crate::support::files_under(dir, &[".rs"])
}

#[test]
fn no_source_file_is_over_450_lines_before_its_unit_tests() {
    let mut long = Vec::new();
    for path in rust_files(root()) {
        let text = fs::read_to_string(&path).unwrap_or_default();
        let before_tests = text
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .count();
        if before_tests > MAX_LINES_BEFORE_TESTS {
            long.push(format!(
                "{} ({before_tests})",
                path.strip_prefix(root()).unwrap_or(&path).display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES_BEFORE_TESTS} lines: {long:?}"
    );
}

/// A module by its path from its crate's root (`[]` for the root itself).
type Module = Vec<String>;

/// The module a source file under `src` defines.
fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Module = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// What each module re-exports (`pub use`): name → the path as written in that module.
type Reexports = BTreeMap<Module, BTreeMap<String, Vec<String>>>;

/// The module a path written in `from` names: through child modules, and through re-exports
/// to where the item is defined. `None` for paths outside the crate.
fn resolve(
    from: &Module,
    path: &[String],
    modules: &BTreeSet<Module>,
    reexports: &Reexports,
    depth: usize,
) -> Option<Module> {
    let (mut module, mut rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (from.clone(), &path[1..]),
        Some("super") => (from[..from.len().saturating_sub(1)].to_vec(), &path[1..]),
        Some(first) if modules.contains(&[from.clone(), vec![first.to_owned()]].concat()) => {
            (from.clone(), path)
        }
        _ => return None,
    };
    while rest.first().map(String::as_str) == Some("super") {
        module.pop();
        rest = &rest[1..];
    }
    for (index, segment) in rest.iter().enumerate() {
        let child = [module.clone(), vec![segment.clone()]].concat();
        if modules.contains(&child) {
            module = child;
            continue;
        }
        if let Some(written) = reexports.get(&module).and_then(|names| names.get(segment))
            && depth < 8
        {
            let through = [written.clone(), rest[index + 1..].to_vec()].concat();
            return resolve(&module, &through, modules, reexports, depth + 1);
        }
        break;
    }
    Some(module)
}

/// Each module's imports of other modules of its crate, followed through re-exports to where
/// the item lives. A module's use of its own descendants (declaring and re-exporting them) is
/// its shape, not an import, so it is not an edge.
fn import_graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = rust_files(src);
    let modules: BTreeSet<Module> = files.iter().map(|file| module_of(src, file)).collect();
    let mut named = BTreeMap::new();
    let mut reexports = Reexports::new();
    for file in &files {
        let from = module_of(src, file);
        let text = fs::read_to_string(file).unwrap_or_default();
        let production = text.split("#[cfg(test)]").next().unwrap_or_default();
        let leaves = named_paths(&code_only(production));
        for leaf in leaves.iter().filter(|leaf| leaf.public) {
            reexports
                .entry(from.clone())
                .or_default()
                .insert(leaf.name.clone(), leaf.path.clone());
        }
        named.insert(from, leaves);
    }
    named
        .iter()
        .map(|(from, leaves)| {
            let edges = leaves
                .iter()
                .filter_map(|leaf| resolve(from, &leaf.path, &modules, &reexports, 0))
                .filter(|to| !to.is_empty() && !to.starts_with(from))
                .collect();
            (from.clone(), edges)
        })
        .collect()
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// Every crate's `src` in the workspace.
fn crate_sources() -> Vec<PathBuf> {
    let mut sources = vec![root().join("src")];
    if let Ok(entries) = fs::read_dir(root()) {
        for entry in entries.flatten() {
            let src = entry.path().join("src");
            if entry.path().join("Cargo.toml").is_file() && src.is_dir() {
                sources.push(src);
            }
        }
    }
    sources.sort();
    sources
}

#[test]
fn no_modules_import_each_other_in_a_cycle() {
    let sources = crate_sources();
    assert!(sources.len() >= 9, "the workspace's crates: {sources:?}");
    for src in sources {
        let files = import_graph(&src);
        for graph in std::iter::once(files.clone()).chain(rooms(&files)) {
            if let Some(cycle) = find_cycle(&graph) {
                let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
                panic!("{}: {}", src.display(), names.join(" -> "));
            }
        }
    }
}

/// For each module with children (the crate root included), the imports between its
/// children's whole subtrees: a room (`server/`, `telemetry/`) imports another if any file in
/// it does, so rooms must import one way too, not only their files.
fn rooms(files: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeMap<Module, BTreeSet<Module>>> {
    let parents: BTreeSet<Module> = files
        .keys()
        .filter(|module| !module.is_empty())
        .map(|module| module[..module.len() - 1].to_vec())
        .collect();
    parents
        .iter()
        .map(|parent| {
            let child_of = |module: &Module| -> Option<Module> {
                (module.len() > parent.len() && module.starts_with(parent))
                    .then(|| module[..=parent.len()].to_vec())
            };
            let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
            for (from, targets) in files {
                let Some(room) = child_of(from) else { continue };
                for to in targets.iter().filter_map(child_of) {
                    if to != room {
                        graph.entry(room.clone()).or_default().insert(to);
                    }
                }
            }
            graph
        })
        .collect()
}

#[test]
fn the_cycle_check_sees_use_groups_aliases_inline_paths_and_reexports() {
    let code = code_only(
        "use crate::{a::{b, c::D as E}, e};\n\
         pub use f::G;\n\
         // crate::commented::out\n\
         fn f() { super::g::h(); let s = \"crate::in_a_string\"; let c = '±'; }\n",
    );
    let leaves = named_paths(&code);
    let paths: BTreeSet<String> = leaves.iter().map(|leaf| leaf.path.join("::")).collect();
    assert_eq!(
        paths,
        [
            "crate::a::b",
            "crate::a::c::D",
            "crate::e",
            "f::G",
            "super::g::h"
        ]
        .map(String::from)
        .into()
    );
    assert!(leaves.iter().any(|leaf| leaf.name == "E" && !leaf.public));
    assert!(leaves.iter().any(|leaf| leaf.name == "G" && leaf.public));
    // `crate::metrics::M`, re-exported by `metrics` from `metrics::registry`, is an import of
    // `metrics::registry`.
    let module = |path: &str| -> Module { path.split("::").map(String::from).collect() };
    let modules: BTreeSet<Module> = ["metrics", "metrics::registry", "server"]
        .map(module)
        .into();
    let mut reexports = Reexports::new();
    reexports
        .entry(module("metrics"))
        .or_default()
        .insert("M".into(), module("registry::M"));
    assert_eq!(
        resolve(
            &module("server"),
            &module("crate::metrics::M"),
            &modules,
            &reexports,
            0
        ),
        Some(module("metrics::registry"))
    );
    let mut graph = BTreeMap::new();
    graph.insert(module("a"), [module("b")].into());
    graph.insert(module("b"), [module("a")].into());
    assert!(find_cycle(&graph).is_some());
    graph.insert(module("b"), BTreeSet::new());
    assert!(find_cycle(&graph).is_none());
}
