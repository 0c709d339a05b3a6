//! Computes the code version a replay file records: the package version and a
//! hash of every source file that can change a run (the workspace's crates and
//! the lock file). A replay made by different code is refused unless forced.

use std::path::{Path, PathBuf};

const SOURCES: [&str; 7] = [
    "src",
    "reference/src",
    "faults/src",
    "harness/src",
    "scenarios/src",
    "reports/src",
    "Cargo.lock",
];

fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        files(&entry.path(), out);
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut all = Vec::new();
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
        files(&root.join(source), &mut all);
    }
    all.sort();
    // FNV-1a over (relative path, contents): stable across machines.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut write = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for file in &all {
        let relative = file.strip_prefix(&root).unwrap_or(file);
        write(relative.to_string_lossy().as_bytes());
        write(&std::fs::read(file).unwrap_or_default());
    }
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    println!("cargo:rustc-env=MESOCHAOS_CODE_VERSION={version}+{hash:016x}");
}
