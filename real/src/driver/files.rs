//! The driver's files: the role's paths under its machine's directory, made
//! durable the way Mesos makes its checkpoints durable — and the machine's
//! *durable copy*, what a power loss would leave.
//!
//! Writes go to the real files at once: they survive a `SIGKILL`, as data in
//! the page cache survives a process crash. What survives a *power loss* is
//! only what was made durable, and Linux cannot be made to forget its page
//! cache on demand, so the driver keeps, beside the machine's directory
//! (`<machine>.durable/`), a copy of what the last `fsync` and directory sync
//! made durable: an atomic replace is copied there once its rename is synced,
//! a synced append copies the file as it then is, a synced removal removes
//! the copy. A reboot (`real/src/supervisor.rs`) kills the machine's processes
//! and puts the durable copy in place of the directory — the simulation's
//! `Disk::lose_power`, POSIX's rules.

use std::path::PathBuf;

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

/// A machine's durable copy (see the module doc).
pub(super) struct Durable {
    /// `<machine>.durable/`.
    pub(super) root: PathBuf,
}

impl Durable {
    /// `path` was atomically replaced with `bytes`, durably.
    pub(super) fn replaced(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        write_atomically(&self.root, path, bytes)
    }

    /// `path` under `dir` was fsynced: all its data is durable now.
    pub(super) fn synced(&self, dir: &Path, path: &str) -> std::io::Result<()> {
        let bytes = std::fs::read(dir.join(path))?;
        write_atomically(&self.root, path, &bytes)
    }

    /// `path` was removed and its directory synced.
    pub(super) fn removed(&self, path: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.root.join(path)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// A torn write: the power failed while `prefix` was being appended to
    /// `path` (whose real length before the append was `offset`). The prefix
    /// survives only if it follows durable data directly, as
    /// `Disk::lose_power` keeps it.
    pub(super) fn torn(&self, path: &str, offset: u64, prefix: &[u8]) -> std::io::Result<()> {
        let copy = self.root.join(path);
        let durable = std::fs::read(&copy).unwrap_or_default();
        if durable.len() as u64 != offset {
            return Ok(());
        }
        let mut survived = durable;
        survived.extend_from_slice(prefix);
        write_atomically(&self.root, path, &survived)
    }
}
