//! Tidiness the reference keeps (issue 14): one concern per file, so no file
//! under `reference/src/` is longer than 600 lines up to its `#[cfg(test)]`
//! module. (The harness crates join this check once they are split too.)

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
