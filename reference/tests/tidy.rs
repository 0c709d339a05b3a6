//! Tidiness the reference keeps (issue 14): one concern per file, so no file
//! under `reference/src/` is longer than 600 lines up to its `#[cfg(test)]`
//! module. (The harness crates join this check once they are split too.) Also: every
//! file and function the README's reading order names exists.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reference/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Lines before the file's test module (all of them if it has none).
fn lines_before_tests(source: &str) -> usize {
    source
        .lines()
        .position(|l| l.starts_with("#[cfg(test)]"))
        .unwrap_or_else(|| source.lines().count())
}

#[test]
fn no_reference_file_is_longer_than_600_lines_before_its_tests() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found the sources: {files:?}");
    let mut long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = lines_before_tests(&std::fs::read_to_string(f).unwrap());
            (n > MAX_LINES)
                .then(|| format!("{} ({n} lines)", f.strip_prefix(&src).unwrap().display()))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "split by concern (at most {MAX_LINES} lines before the tests): {long:?}"
    );
}

#[test]
fn the_count_stops_at_the_test_module() {
    assert_eq!(lines_before_tests("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
    assert_eq!(lines_before_tests("a\nb\nc\n"), 3);
}

/// Every `reference/src/<file>::<function>` the README's reading order names,
/// with what is wrong with it (no such file, no such function).
fn reading_order_problems(readme: &str, root: &Path) -> (usize, Vec<String>) {
    let section = readme
        .split("## Reading the reference")
        .nth(1)
        .map(|rest| rest.split("\n## ").next().unwrap_or(rest))
        .unwrap_or("");
    let mut named = 0;
    let mut problems = Vec::new();
    for item in section.split('`').skip(1).step_by(2) {
        let Some(path) = item.strip_prefix("reference/src/") else {
            continue;
        };
        named += 1;
        let Some((file, function)) = path.split_once("::") else {
            problems.push(format!("`{item}` is not `file.rs::function`"));
            continue;
        };
        let Ok(source) = std::fs::read_to_string(root.join("reference/src").join(file)) else {
            problems.push(format!("`{item}`: there is no reference/src/{file}"));
            continue;
        };
        let defines = source.lines().any(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let l = l.strip_prefix("pub(super) ").unwrap_or(l);
            let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
            l.strip_prefix("fn ").is_some_and(|rest| {
                rest.starts_with(function) && rest[function.len()..].starts_with(['(', '<'])
            })
        });
        if !defines {
            problems.push(format!(
                "`{item}`: reference/src/{file} defines no `fn {function}`"
            ));
        }
    }
    (named, problems)
}

#[test]
fn every_file_and_function_of_the_readme_reading_order_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let (named, problems) = reading_order_problems(&readme, root);
    assert!(named >= 20, "the reading order names {named} functions");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_reading_order_naming_what_does_not_exist_is_reported() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = "## Reading the reference\n1. `reference/src/master/agents.rs::on_reregister_agent`\n2. `reference/src/master/agents.rs::no_such_fn`\n3. `reference/src/nowhere.rs::x`\n## Next\n`reference/src/ignored.rs::y`\n";
    let (named, problems) = reading_order_problems(readme, root);
    assert_eq!(named, 3);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("defines no `fn no_such_fn`"));
    assert!(problems[1].contains("there is no reference/src/nowhere.rs"));
}
