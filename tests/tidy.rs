//! Tidiness the workspace keeps (issue 14: one concern per file), for every
//! crate: `reference`, `harness`, `faults`, `scenarios`, `reports` and the
//! root package's `src/`. (`vendor/` is vendored third-party code — turmoil
//! with trace-neutral patches — and is exempt.)
//!
//! - (a) no file under a crate's `src/` is longer than 600 lines up to its
//!   `#[cfg(test)]` module (integration tests under `tests/` are exempt);
//! - (b) no import circle between the top-level modules of a crate;
//! - (c) every file and function that README.md's "Reading the reference",
//!   `docs/task-states.md` and `docs/gate-power.md` name exists;
//! - (d) the comment budget of `reference/src`: at least 30 % comment lines;
//! - every file opens with a `//!` saying what it is for.
//!
//! Each check is a function over text, with a test that it fires on a
//! synthetic input, and a test that runs it over the workspace.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// The workspace's crates: a name for messages, and the crate's `src/`.
const CRATES: [(&str, &str); 7] = [
    ("reference", "reference/src"),
    ("harness", "harness/src"),
    ("faults", "faults/src"),
    ("scenarios", "scenarios/src"),
    ("reports", "reports/src"),
    ("real", "real/src"),
    ("mesochaos", "src"),
];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as (its path relative to `dir`, its text),
/// sorted by path.
fn sources(dir: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source directory is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths);
    let mut files: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let relative = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (relative, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The lines of a file up to its test module (all of them if it has none).
fn before_tests(source: &str) -> impl Iterator<Item = &str> {
    source
        .lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
}

/// The lines of a file outside its `#[cfg(test)]` items (a test module may
/// come before more code).
fn outside_tests(source: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut skipping = false;
    for line in source.lines() {
        if skipping {
            // The test item ends at a closing brace (or a `;`) in column 0.
            if line == "}" || (!line.starts_with([' ', '#']) && line.ends_with(';')) {
                skipping = false;
            }
            continue;
        }
        if line.starts_with("#[cfg(test)]") {
            skipping = true;
            continue;
        }
        lines.push(line);
    }
    lines
}

// ----- (a) no file longer than 600 lines before its tests -----

const MAX_LINES: usize = 600;

/// Whether `path` is a whole file of unit tests: a `tests.rs` that its
/// parent module declares as `#[cfg(test)] mod tests;` (like a test module
/// written inline, it does not count).
fn is_test_module_file(path: &str, files: &[(String, String)]) -> bool {
    let Some(dir) = path.strip_suffix("tests.rs") else {
        return false;
    };
    files.iter().any(|(parent, source)| {
        let parent_dir = parent
            .strip_suffix("mod.rs")
            .or_else(|| parent.strip_suffix("lib.rs"))
            .or_else(|| parent.strip_suffix("main.rs"));
        parent_dir == Some(dir) && source.contains("#[cfg(test)]\nmod tests;")
    })
}

/// `dir/path (N lines)` for every file of `dir` over [`MAX_LINES`] before its
/// tests.
fn long_files(dir: &str, files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(path, _)| !is_test_module_file(path, files))
        .filter_map(|(path, source)| {
            let n = before_tests(source).count();
            (n > MAX_LINES).then(|| format!("{dir}/{path} ({n} lines)"))
        })
        .collect()
}

#[test]
fn no_file_is_longer_than_600_lines_before_its_tests() {
    let mut long = Vec::new();
    let mut seen = 0;
    for (_, dir) in CRATES {
        let files = sources(&workspace().join(dir));
        seen += files.len();
        long.extend(long_files(dir, &files));
    }
    assert!(seen > 60, "found the sources ({seen} files)");
    assert!(
        long.is_empty(),
        "split by concern (at most {MAX_LINES} lines before the tests):\n  {}",
        long.join("\n  ")
    );
}

#[test]
fn a_long_file_is_reported_and_its_tests_do_not_count() {
    let body = "fn f() {}\n".repeat(MAX_LINES);
    let over = format!("//! one line too many\n{body}");
    let tested = format!("{body}#[cfg(test)]\nmod tests {{\n{body}}}\n");
    let files = vec![
        ("big.rs".to_string(), over.clone()),
        ("tested.rs".to_string(), tested),
        ("small.rs".to_string(), "fn g() {}\n".to_string()),
        // A whole file of tests, declared `#[cfg(test)] mod tests;`, does
        // not count; a `tests.rs` nobody declares so does.
        (
            "check/mod.rs".to_string(),
            "#[cfg(test)]\nmod tests;\n".to_string(),
        ),
        ("check/tests.rs".to_string(), over.clone()),
        ("other/tests.rs".to_string(), over),
    ];
    assert_eq!(
        long_files("x/src", &files),
        vec![
            format!("x/src/big.rs ({} lines)", MAX_LINES + 1),
            format!("x/src/other/tests.rs ({} lines)", MAX_LINES + 1),
        ]
    );
}

// ----- the README lists every file of the reference once -----

/// What is wrong with the README's "Every file of the reference" table:
/// files of `files` it does not list, rows naming no such file, files listed
/// twice.
fn file_table_problems(readme: &str, files: &[(String, String)]) -> Vec<String> {
    let table = readme
        .split("**Every file of the reference**")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").nth(1))
        .unwrap_or("");
    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| [`")) {
        let file = row["| [`".len()..].split('`').next().unwrap_or("");
        *listed.entry(file.to_string()).or_default() += 1;
    }
    let mut problems = Vec::new();
    for (path, _) in files {
        match listed.get(path) {
            None => problems.push(format!("{path}: not in the table")),
            Some(n) if *n > 1 => problems.push(format!("{path}: listed {n} times")),
            Some(_) => {}
        }
    }
    for file in listed.keys() {
        if !files.iter().any(|(path, _)| path == file) {
            problems.push(format!("{file}: no such file"));
        }
    }
    problems
}

#[test]
fn the_readme_lists_every_file_of_the_reference_once() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let files = sources(&workspace().join("reference/src"));
    let problems = file_table_problems(&readme, &files);
    assert!(
        problems.is_empty(),
        "README.md, \"Every file of the reference\":\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_file_missing_from_the_table_or_named_wrongly_is_reported() {
    let readme = "**Every file of the reference**, one row each:\n\n| file | what |\n|---|---|\n\
                  | [`a.rs`](x) | a |\n| [`a.rs`](x) | again |\n| [`gone.rs`](x) | gone |\n\n## Next\n";
    let files = vec![
        ("a.rs".to_string(), String::new()),
        ("b.rs".to_string(), String::new()),
    ];
    assert_eq!(
        file_table_problems(readme, &files),
        vec![
            "a.rs: listed 2 times",
            "b.rs: not in the table",
            "gone.rs: no such file"
        ]
    );
}

// ----- every file says what it is for -----

/// Every file of `files` that does not open with a `//!` comment.
fn without_opening(dir: &str, files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, source)| !source.starts_with("//!"))
        .map(|(path, _)| format!("{dir}/{path}"))
        .collect()
}

#[test]
fn every_file_opens_with_what_it_is_for() {
    let mut bare = Vec::new();
    for (_, dir) in CRATES {
        bare.extend(without_opening(dir, &sources(&workspace().join(dir))));
    }
    assert!(
        bare.is_empty(),
        "open each file with a `//!` saying what it is for:\n  {}",
        bare.join("\n  ")
    );
}

#[test]
fn a_file_without_an_opening_comment_is_reported() {
    let files = vec![
        ("a.rs".to_string(), "//! A.\nfn a() {}\n".to_string()),
        (
            "b.rs".to_string(),
            "// not a module doc\nfn b() {}\n".to_string(),
        ),
    ];
    assert_eq!(without_opening("x/src", &files), vec!["x/src/b.rs"]);
}

// ----- (b) no import circle between top-level modules -----
//
// A file's module is the first segment of its path under `src/` (`run.rs`
// and `explain/world.rs` are modules `run` and `explain`); `lib.rs` or
// `main.rs` is the crate root, a module of its own. A file depends on the
// modules its `crate::…` paths (in `use` or inline) and `super::…` paths
// leading out of its module name. A name the root re-exports (`pub use
// run::RunSpec`) counts as its module; a name the root defines, as the root.
// The root depends on the modules its own code names (`bench::bench(args)`);
// its `pub use` re-exports are its table of contents, not a dependency.
// Test modules and comments are not read: a test may reach anywhere. Every
// edge that lies on a circle is reported, on the shortest circle through it.

/// The path segments after each `crate::` or leading `super::` in `line`
/// (for `use crate::{a::X, b}`: `a` and `b`), with how many `super`s led to it
/// (0 for `crate::`).
fn paths_out(line: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let boundary = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':');
        let (supers, after) = if !boundary {
            (None, rest)
        } else if let Some(after) = rest.strip_prefix("crate::") {
            (Some(0), after)
        } else if rest.starts_with("super::") {
            let mut after = rest;
            let mut n = 0;
            while let Some(a) = after.strip_prefix("super::") {
                after = a;
                n += 1;
            }
            (Some(n), after)
        } else {
            (None, rest)
        };
        let Some(supers) = supers else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((supers, first_segment(&item)));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push((supers, first_segment(&item)));
        } else {
            out.push((supers, first_segment(after)));
        }
        i = line.len() - after.len();
    }
    out.retain(|(_, s)| !s.is_empty() && s != "self");
    out
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The module path of a file under `src/` (`explain/world.rs`: `[explain,
/// world]`; `explain/mod.rs`: `[explain]`; `lib.rs`: `[]`).
fn module_path(path: &str) -> Vec<String> {
    let mut segments: Vec<String> = path
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(segments.last().map(String::as_str), Some("mod")) {
        segments.pop();
    }
    if segments.len() == 1 && (segments[0] == "lib" || segments[0] == "main") {
        segments.clear();
    }
    segments
}

/// The circles among a crate's top-level modules, one per group of modules
/// that reach each other, as `crate: a -> b -> a`.
fn import_circles(crate_name: &str, files: &[(String, String)]) -> Vec<String> {
    let (root_name, root_source) = files
        .iter()
        .find(|(p, _)| p == "lib.rs" || p == "main.rs")
        .map(|(p, s)| (p.trim_end_matches(".rs").to_string(), s.as_str()))
        .unwrap_or_else(|| ("lib".into(), ""));
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(p, _)| module_path(p).first().cloned())
        .collect();
    // What the root re-exports, by name, and what it defines.
    let mut exported: BTreeMap<String, String> = BTreeMap::new();
    for statement in outside_tests(root_source).join("\n").split(';') {
        // The statement's own lines (a comment may come before it).
        let lines: Vec<&str> = statement
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.starts_with("pub use "))
            .collect();
        let statement = lines.join(" ");
        let Some(path) = statement.strip_prefix("pub use ") else {
            continue;
        };
        let path = path
            .trim_start_matches("crate::")
            .trim_start_matches("self::");
        let module = first_segment(path);
        if !modules.contains(&module) {
            continue;
        }
        let names = path.rsplit("::").next().unwrap_or("");
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = first_segment(name.split(" as ").last().unwrap_or(""));
            if !name.is_empty() {
                exported.insert(name, module.clone());
            }
        }
    }
    let root_lines = outside_tests(root_source);
    let defines = |name: &str| {
        root_lines.iter().any(|l| {
            let words: Vec<&str> = l
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            words.windows(2).any(|w| {
                matches!(
                    w[0],
                    "fn" | "struct" | "enum" | "type" | "const" | "static" | "trait"
                ) && w[1] == name
            })
        })
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, source) in files {
        let own = module_path(path);
        let from = own.first().cloned().unwrap_or_else(|| root_name.clone());
        let mut in_re_export = false;
        for line in outside_tests(source) {
            let code = line.trim_start();
            if code.starts_with("//") || code.starts_with("mod ") || code.starts_with("pub mod ") {
                continue;
            }
            if own.is_empty() && (code.starts_with("pub use ") || in_re_export) {
                in_re_export = !code.ends_with(';');
                continue;
            }
            let mut targets: Vec<String> = Vec::new();
            for (supers, segment) in paths_out(line) {
                if supers > 0 && supers < own.len() {
                    continue; // within its own module
                }
                if modules.contains(&segment) {
                    targets.push(segment);
                } else if let Some(module) = exported.get(&segment) {
                    targets.push(module.clone());
                } else if defines(&segment) {
                    targets.push(root_name.clone());
                }
            }
            if own.is_empty() {
                // The root names its modules without `crate::`.
                let bytes = line.as_bytes();
                for module in &modules {
                    let needle = format!("{module}::");
                    let mut start = 0;
                    while let Some(at) = line[start..].find(&needle) {
                        let at = start + at;
                        let before = if at == 0 { b' ' } else { bytes[at - 1] };
                        if !(before.is_ascii_alphanumeric() || before == b'_' || before == b':') {
                            targets.push(module.clone());
                        }
                        start = at + needle.len();
                    }
                }
            }
            for to in targets {
                if to != from {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    // For every edge a -> b, the shortest way back from b to a, if any.
    let mut circles: BTreeSet<Vec<String>> = BTreeSet::new();
    for (a, targets) in &edges {
        for b in targets {
            let mut parent: BTreeMap<&String, &String> = BTreeMap::new();
            let mut queue: VecDeque<&String> = VecDeque::from([b]);
            while let Some(n) = queue.pop_front() {
                if n == a {
                    break;
                }
                for next in edges.get(n).into_iter().flatten() {
                    if next != b && !parent.contains_key(next) {
                        parent.insert(next, n);
                        queue.push_back(next);
                    }
                }
            }
            if !parent.contains_key(a) {
                continue;
            }
            // a -> b -> ... -> (back to a), read off the parents from a.
            let mut back = Vec::new();
            let mut at = a;
            while at != b {
                at = parent[at];
                back.push(at.clone());
            }
            back.reverse();
            let mut cycle = vec![a.clone()];
            cycle.extend(back);
            // The same circle from any of its modules: start at the least.
            let least = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap();
            cycle.rotate_left(least);
            circles.insert(cycle);
        }
    }
    circles
        .into_iter()
        .map(|mut c| {
            c.push(c[0].clone());
            format!("{crate_name}: {}", c.join(" -> "))
        })
        .collect()
}

#[test]
fn no_import_circle_between_the_top_level_modules_of_a_crate() {
    let mut circles = Vec::new();
    for (name, dir) in CRATES {
        circles.extend(import_circles(name, &sources(&workspace().join(dir))));
    }
    assert!(
        circles.is_empty(),
        "import circles (a file's module is the first segment of its path under src/):\n  {}",
        circles.join("\n  ")
    );
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

#[test]
fn a_two_module_circle_is_reported() {
    let circle = files(&[
        ("lib.rs", "pub mod checkers;\npub mod run;\n"),
        ("checkers.rs", "use crate::run::Report;\n"),
        ("run/mod.rs", "mod steps;\n"),
        (
            "run/steps.rs",
            "fn f() { crate::checkers::check(); super::g(); }\n",
        ),
    ]);
    assert_eq!(
        import_circles("harness", &circle),
        vec!["harness: checkers -> run -> checkers"]
    );
}

#[test]
fn a_circle_through_the_root_or_a_re_export_is_reported() {
    // `bench` uses what the root defines; the root calls `bench`.
    let through_root = files(&[
        (
            "main.rs",
            "mod bench;\nconst EXIT_FAIL: u8 = 1;\nfn main() { bench::bench(); }\n",
        ),
        ("bench.rs", "use crate::{EXIT_FAIL, other};\n"),
    ]);
    assert_eq!(
        import_circles("x", &through_root),
        vec!["x: bench -> main -> bench"]
    );
    // `a` reaches `b` through the root's re-export of `b::Thing`.
    let re_export = files(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub use b::{Other, Thing as Renamed};\n",
        ),
        ("a.rs", "pub fn f() {}\n"),
        ("b.rs", "use crate::a::f;\n"),
        ("c.rs", "use crate::Renamed;\n"),
    ]);
    assert!(import_circles("x", &re_export).is_empty());
    let mut with_circle = re_export.clone();
    with_circle[1].1 = "use crate::Renamed;\n".into();
    assert_eq!(import_circles("x", &with_circle), vec!["x: a -> b -> a"]);
}

#[test]
fn one_way_imports_tests_and_comments_are_no_circle() {
    let fine = files(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::X;\n// crate::b and crate::a\n"),
        (
            "b.rs",
            "pub struct X;\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
        ),
        ("b/inner.rs", "use super::X;\n"),
    ]);
    assert!(import_circles("x", &fine).is_empty());
}

#[test]
fn code_after_a_test_module_is_read_and_every_circle_is_listed() {
    let late = files(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", "use crate::b::X;\nuse crate::c::Y;\n"),
        (
            "b.rs",
            "#[cfg(test)]\nmod tests {\n}\n\nfn f(_: &crate::a::Z) {}\n",
        ),
        ("c.rs", "fn g() { crate::a::h() }\n"),
    ]);
    assert_eq!(
        import_circles("x", &late),
        vec!["x: a -> b -> a", "x: a -> c -> a"]
    );
}

// ----- (c) every file and function the docs name exists -----
//
// What README's "Reading the reference", docs/task-states.md and
// docs/gate-power.md name, in backticks:
// - `path/file.rs::name`: the file exists and defines `fn name` (a function,
//   or a test of a `tests/` file). A path starting with a directory of the
//   workspace (`reference/`, `harness/`, `scenarios/`, `src/`, `tests/`, ...)
//   is from the workspace's root; any other is relative to `reference/src/`
//   (task-states.md writes `master/agents.rs::on_reregister_agent`).
// - `dir/file.rs`, `dir/file.toml` or `dir/`: the file or directory exists,
//   from the workspace's root.
// - `name.toml`: a scenario file under `scenarios/`.
// Not checked: names with a space or a `<placeholder>`, Mesos's own names
// (`Master::_accept`, `src/master/master.cpp`), bare Rust file names and
// `file.rs:line` (gate-power.md's mutation tables name files as they were at
// the commit they measured), and `Type::method`.

/// How task-states.md's legend writes a name, not a name.
const PLACEHOLDERS: [&str; 1] = ["file.rs::function"];

/// (how many names were checked, what is wrong with them).
fn naming_problems(doc: &str, text: &str, root: &Path) -> (usize, Vec<String>) {
    let top_dirs: BTreeSet<String> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let from_root = |path: &str| top_dirs.contains(path.split('/').next().unwrap_or(""));
    let mut named = 0;
    let mut problems = Vec::new();
    for item in text.split('`').skip(1).step_by(2) {
        if item.is_empty()
            || item.contains(char::is_whitespace)
            || item.contains(['<', '>', '*'])
            || PLACEHOLDERS.contains(&item)
        {
            continue;
        }
        if let Some((file, function)) = item.split_once(".rs::") {
            let file = format!("{file}.rs");
            let path = if from_root(&file) {
                file.clone()
            } else {
                format!("reference/src/{file}")
            };
            let function = function.rsplit("::").next().unwrap_or(function);
            named += 1;
            let Ok(source) = std::fs::read_to_string(root.join(&path)) else {
                problems.push(format!("{doc}: `{item}`: there is no {path}"));
                continue;
            };
            if !defines_fn(&source, function) {
                problems.push(format!(
                    "{doc}: `{item}`: {path} defines no `fn {function}`"
                ));
            }
        } else if item.contains('/')
            && (item.ends_with(".rs") || item.ends_with(".toml") || item.ends_with('/'))
            && from_root(item)
        {
            named += 1;
            if !root.join(item).exists() {
                problems.push(format!(
                    "{doc}: `{item}`: there is no such file or directory"
                ));
            }
        } else if item.ends_with(".toml") && !item.contains('/') {
            named += 1;
            if !root.join("scenarios").join(item).is_file() {
                problems.push(format!("{doc}: `{item}`: there is no scenarios/{item}"));
            }
        }
    }
    (named, problems)
}

/// Whether `source` has a line defining `fn name` (any visibility, async or const).
fn defines_fn(source: &str, name: &str) -> bool {
    source.lines().any(|l| {
        let mut l = l.trim_start();
        for prefix in [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "const ",
            "async ",
            "unsafe ",
        ] {
            l = l.strip_prefix(prefix).unwrap_or(l);
        }
        l.strip_prefix("fn ").is_some_and(|rest| {
            rest.strip_prefix(name)
                .is_some_and(|after| after.starts_with(['(', '<']))
        })
    })
}

/// README's "Reading the reference" section.
fn reading_order(readme: &str) -> &str {
    readme
        .split("## Reading the reference")
        .nth(1)
        .map(|rest| rest.split("\n## ").next().unwrap_or(rest))
        .unwrap_or("")
}

#[test]
fn every_file_and_function_the_docs_name_exists() {
    let root = workspace();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut problems = Vec::new();
    for (doc, text, at_least) in [
        (
            "README.md (Reading the reference)",
            reading_order(&readme).to_string(),
            20,
        ),
        (
            "docs/task-states.md",
            std::fs::read_to_string(root.join("docs/task-states.md")).unwrap(),
            50,
        ),
        (
            "docs/gate-power.md",
            std::fs::read_to_string(root.join("docs/gate-power.md")).unwrap(),
            20,
        ),
    ] {
        let (named, found) = naming_problems(doc, &text, root);
        assert!(named >= at_least, "{doc} names {named} files and functions");
        problems.extend(found);
    }
    assert!(
        problems.is_empty(),
        "named but missing:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_doc_naming_what_does_not_exist_is_reported() {
    // A workspace of its own, so that moving real code cannot break this test.
    let root = std::env::temp_dir().join(format!("mesochaos-tidy-{}", std::process::id()));
    for (path, text) in [
        (
            "reference/src/master/offers.rs",
            "pub(crate) fn on_accept(&mut self) {}\n",
        ),
        ("scenarios/tests/scenarios.rs", "#[test]\nfn a_test() {}\n"),
        ("scenarios/master-failover.toml", ""),
        ("harness/src/lib.rs", ""),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    let doc = "## Reading the reference\n\
        1. `reference/src/master/offers.rs::on_accept` and `master/offers.rs::on_accept`\n\
        2. `reference/src/master/offers.rs::no_such_fn`\n\
        3. `master/nowhere.rs::x`, `harness/src/nowhere.rs`, `no-such-scenario.toml`\n\
        4. `scenarios/tests/scenarios.rs::no_such_test`, `scenarios/master-failover.toml`, `harness/src/`\n\
        5. not checked: `master.rs:899`, `Master::_accept`, `src/master/master.cpp`, `file.rs::<fn>`\n\
        ## Next\n`reference/src/ignored.rs::y`\n";
    let (named, problems) = naming_problems("doc", reading_order(doc), &root);
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(named, 9, "{problems:?}");
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(problems[0].contains("defines no `fn no_such_fn`"));
    assert!(problems[1].contains("there is no reference/src/master/nowhere.rs"));
    assert!(problems[2].contains("`harness/src/nowhere.rs`: there is no such file"));
    assert!(problems[3].contains("there is no scenarios/no-such-scenario.toml"));
    assert!(problems[4].contains("scenarios/tests/scenarios.rs defines no `fn no_such_test`"));
}

// ----- (d) comments in reference/src -----
//
// Issue 14: in `reference/src`, lines whose first non-blank characters are
// `//` are at least 30 % of all lines, blank and test lines included — the
// reference is teaching code, and mini-redis (about 40 %) is the bar.

/// The least share of comment lines in `reference/src`, in percent.
const MIN_COMMENT_PERCENT: usize = 30;

/// (comment lines, all lines) over `files`.
fn comment_lines(files: &[(String, String)]) -> (usize, usize) {
    files.iter().fold((0, 0), |(comments, all), (_, source)| {
        let c = source
            .lines()
            .filter(|l| l.trim_start().starts_with("//"))
            .count();
        (comments + c, all + source.lines().count())
    })
}

/// What is wrong with the comment budget of `files`, if anything.
fn comment_budget_problem(dir: &str, files: &[(String, String)]) -> Option<String> {
    let (comments, all) = comment_lines(files);
    (comments * 100 < all * MIN_COMMENT_PERCENT).then(|| {
        format!(
            "{dir}: {comments} of {all} lines are comments ({} %), below {MIN_COMMENT_PERCENT} %",
            comments * 100 / all.max(1)
        )
    })
}

#[test]
fn the_reference_keeps_its_comment_budget() {
    let files = sources(&workspace().join("reference/src"));
    let (comments, all) = comment_lines(&files);
    assert!(all > 10_000, "found the reference ({all} lines)");
    println!("reference/src: {comments} comment lines of {all}");
    if let Some(problem) = comment_budget_problem("reference/src", &files) {
        panic!("{problem}");
    }
}

#[test]
fn a_file_short_of_comments_is_counted_as_such() {
    let files = vec![
        (
            "a.rs".to_string(),
            "//! A.\n\nfn a() {}\n    // why\n".to_string(),
        ),
        (
            "b.rs".to_string(),
            "fn b() {}\nlet x = \"//\";\n".to_string(),
        ),
    ];
    // Two comment lines (the indented one included) of six; a `//` inside a
    // string is not a comment line. 33 % passes; one more code line fails.
    assert_eq!(comment_lines(&files), (2, 6));
    assert_eq!(comment_budget_problem("x/src", &files), None);
    let mut files = files;
    files.push(("c.rs".to_string(), "fn c() {}\n".to_string()));
    assert_eq!(
        comment_budget_problem("x/src", &files).as_deref(),
        Some("x/src: 2 of 7 lines are comments (28 %), below 30 %")
    );
}
