//! The driver's files: the role's paths under its machine's directory, made
//! durable the way Mesos makes its checkpoints durable.

use std::path::Path;

/// Replaces `path` under `dir` durably: a temporary file, `fsync`, `rename`,
/// then an `fsync` of the directory (what the agent's checkpoints need:
/// Mesos's `state::checkpoint` writes a temp file and renames it).
pub(super) fn write_atomically(dir: &Path, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let full = dir.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let temp = full.with_extension("mesochaos-tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, &full)?;
    sync_dir(&full)
}

/// Appends to `path` under `dir`, `fsync`ing it (and its directory, for a
/// file just created) when `sync`.
pub(super) fn append(dir: &Path, path: &str, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    let full = dir.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let created = !full.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&full)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
        if created {
            sync_dir(&full)?;
        }
    }
    Ok(())
}

/// `fsync` of the directory holding `path`: makes a create, rename or
/// remove in it durable.
pub(super) fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => std::fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}
