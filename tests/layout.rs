//! The layout of the workspace (docs/architecture.md, "Crates"): dependencies
//! point down. Extension crates (access, admin, cluster, and rules, bridges
//! and storage when they come) depend on roost-core, never on roost-actors;
//! roost-actors depends on no extension; roost-core on nothing of the runtime.
//! Inside actors/, the top-level modules import each other one way, with no
//! circle. Read from `cargo metadata` and from the sources.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Crates that attach to the broker through roost-core's seams.
const EXTENSIONS: &[&str] = &[
    "roost-access",
    "roost-admin",
    "roost-cluster",
    "roost-rules",
    "roost-bridges",
    "roost-storage",
];

/// The workspace crates each foundation crate may depend on (any kind of
/// dependency: normal, dev or build).
const FOUNDATIONS: &[(&str, &[&str])] = &[
    ("roost-protocol", &[]),
    ("roost-supervisor", &[]),
    ("roost-core", &["roost-protocol"]),
    (
        "roost-actors",
        &["roost-protocol", "roost-core", "roost-supervisor"],
    ),
];

/// Workspace crate -> the workspace crates it depends on.
fn workspace_deps() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .filter(|d| members.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn extension_crates_do_not_depend_on_the_runtime() {
    let deps = workspace_deps();
    let extensions: Vec<&String> = deps
        .keys()
        .filter(|c| EXTENSIONS.contains(&c.as_str()))
        .collect();
    assert!(
        extensions.len() >= 3,
        "access, admin and cluster are workspace members: {extensions:?}"
    );
    for crate_name in extensions {
        assert!(
            !deps[crate_name].contains("roost-actors"),
            "{crate_name} depends on roost-actors; it must reach the broker through roost-core \
             (hooks, BrokerApi, storage traits)"
        );
    }
}

#[test]
fn foundations_depend_only_on_what_lies_below_them() {
    let deps = workspace_deps();
    for (crate_name, allowed) in FOUNDATIONS {
        let found = deps
            .get(*crate_name)
            .unwrap_or_else(|| panic!("{crate_name} is a workspace member"));
        let extra: Vec<&String> = found
            .iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{crate_name} depends on {extra:?}; it may depend only on {allowed:?}"
        );
    }
}

/// Top-level module of actors/src -> the other top-level modules its code
/// names as `crate::<module>` (comments left out).
fn actors_module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("actors/src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("actors/src") {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        let mut files = Vec::new();
        collect_rs(&path, &mut files);
        let mut imports = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for line in text.lines() {
                let code = line.split("//").next().unwrap();
                imports.extend(crate_paths(code).filter(|m| *m != name));
            }
        }
        modules.insert(name, imports);
    }
    modules
}

fn collect_rs(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect_rs(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The module names in `crate::<name>` paths of a line of code.
fn crate_paths(code: &str) -> impl Iterator<Item = String> + '_ {
    code.match_indices("crate::").filter_map(move |(at, _)| {
        // `roost_crate::` or `super_crate::` are other names.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        let rest = &code[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then_some(name)
    })
}

/// The first circle found in `graph`, as the path that closes it.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next) {
                if let Some(c) = visit(next, graph, done, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn actors_modules_import_each_other_one_way() {
    let modules = actors_module_imports();
    for expected in ["connection", "session", "router", "registry", "broker"] {
        assert!(
            modules.contains_key(expected),
            "actors/src/{expected} found"
        );
    }
    // The runtime's layers, in the order of the architecture: the session
    // knows no connection and the router knows no session.
    assert!(!modules["session"].contains("connection"));
    assert!(!modules["router"].contains("session"));
    assert!(!modules["context"].contains("session"));
    if let Some(circle) = find_circle(&modules) {
        panic!(
            "actors/src modules import each other in a circle: {}",
            circle.join(" -> ")
        );
    }
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    let circle = find_circle(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]));
    assert_eq!(circle.unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        find_circle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
    let found: Vec<String> =
        crate_paths("use crate::session::{Outgoing}; x = roost_crate::y; crate::router::Z")
            .collect();
    assert_eq!(found, ["session", "router"]);
}
