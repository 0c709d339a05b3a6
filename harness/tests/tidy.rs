//! Tidy checks of the harness's sources (issue 14): no file under
//! `harness/src` longer than 600 lines before its `#[cfg(test)]` module (a
//! `tests.rs` is test code whole), every file opens with a `//!` saying what it
//! is for, and no top-level module imports (`crate::X`) a module that imports
//! it back, directly or through others (a folder module's files count as that
//! module).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LIMIT: usize = 600;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The code of a file before its test module, comments removed (`tests.rs`: none).
fn code(rel: &str, text: &str) -> String {
    if rel.ends_with("tests.rs") {
        return String::new();
    }
    let before = text.split("#[cfg(test)]").next().unwrap_or(text);
    before
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a file belongs to (`check/mod.rs` and `check/x.rs`: `check`).
fn module_of(rel: &str) -> String {
    let first = rel.split('/').next().unwrap_or(rel);
    first.trim_end_matches(".rs").to_string()
}

/// Each top-level module's `crate::X` imports (others than itself).
fn import_graph(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in files {
        let me = module_of(rel);
        if me == "lib" {
            continue;
        }
        let code = code(rel, text);
        let deps = graph.entry(me.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let mut names: Vec<String> = Vec::new();
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or("");
                names.extend(
                    group
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap_or("").to_string()),
                );
            } else {
                names.push(
                    rest.chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect(),
                );
            }
            for name in names {
                if !name.is_empty() && name != me {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// The modules of `graph` that reach themselves through their imports.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = stack.pop() {
            if m == start {
                found.push(start.clone());
                break;
            }
            if seen.insert(m.clone()) {
                stack.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
    found
}

#[test]
fn no_harness_file_is_longer_than_600_lines_before_its_tests() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, _)| !rel.ends_with("tests.rs"))
        .filter_map(|(rel, text)| {
            let n = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or("")
                .lines()
                .count();
            (n > LIMIT).then(|| format!("{rel}: {n} lines"))
        })
        .collect();
    assert!(long.is_empty(), "over {LIMIT} lines before tests: {long:?}");
}

#[test]
fn every_harness_file_says_what_it_is_for() {
    let bare: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(bare.is_empty(), "no `//!` opening: {bare:?}");
}

#[test]
fn no_harness_module_imports_one_that_imports_it_back() {
    let graph = import_graph(&sources());
    assert!(graph["run"].contains("check"), "{graph:?}");
    assert!(graph["cluster"].contains("driver"), "{graph:?}");
    assert_eq!(circles(&graph), Vec::<String>::new(), "{graph:#?}");
}

#[test]
fn a_circle_through_a_folder_module_is_found() {
    let files = vec![
        ("a.rs".to_string(), "use crate::b::X;".to_string()),
        ("b/mod.rs".to_string(), "//! b\nmod c;".to_string()),
        ("b/c.rs".to_string(), "use crate::{a, d};".to_string()),
        ("d.rs".to_string(), "// use crate::a;\n".to_string()),
    ];
    let graph = import_graph(&files);
    assert_eq!(circles(&graph), vec!["a".to_string(), "b".to_string()]);
}
