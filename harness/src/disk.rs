//! The simulated disk of one machine.
//!
//! A machine's disk survives its processes: a process crash loses nothing that
//! was written, synced or not (the page cache belongs to the kernel). A power loss
//! keeps only what was made *durable*; a wipe loses everything. turmoil's own
//! file system is per host and cannot be wiped or inspected, so the harness owns
//! one of these per machine and every process on the machine shares it.
//!
//! The model follows POSIX's durability rules, with files as inodes and the disk
//! as one directory:
//! - a file's *data* is durable once the file is fsynced;
//! - a *name* (a new file, or a rename) is durable once the directory is fsynced;
//!   until then a power loss brings back the old directory;
//! - a power loss drops every unsynced byte; a **torn** power loss keeps a prefix
//!   of the last unsynced append (in whole blocks of `block_size` bytes, down to
//!   one byte, so a record smaller than a disk block can tear);
//! - a wipe loses everything.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
struct Inode {
    /// What processes read.
    data: Vec<u8>,
    /// What survives a power loss (as of the last fsync).
    synced: Vec<u8>,
}

/// The last append not yet fsynced: the candidate for a torn write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct PendingAppend {
    inode: u64,
    /// Length of the file before the append.
    offset: usize,
    len: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Disk {
    inodes: BTreeMap<u64, Inode>,
    /// The directory as processes see it: name -> inode.
    names: BTreeMap<String, u64>,
    /// The directory as of its last fsync: what a power loss brings back.
    durable_names: BTreeMap<String, u64>,
    next_inode: u64,
    last_append: Option<PendingAppend>,
}

impl Disk {
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let inode = self.names.get(path)?;
        Some(&self.inodes[inode].data)
    }

    /// The names under `prefix`, in order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.names
            .range(prefix.to_string()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn inode_for(&mut self, path: &str) -> u64 {
        if let Some(inode) = self.names.get(path) {
            return *inode;
        }
        self.next_inode += 1;
        let inode = self.next_inode;
        self.inodes.insert(inode, Inode::default());
        self.names.insert(path.to_string(), inode);
        inode
    }

    /// Appends to a file, creating it (its name is not durable until `sync_dir`).
    pub fn append(&mut self, path: &str, bytes: &[u8]) {
        let inode = self.inode_for(path);
        let file = self.inodes.get_mut(&inode).expect("inode exists");
        self.last_append = Some(PendingAppend {
            inode,
            offset: file.data.len(),
            len: bytes.len(),
        });
        file.data.extend_from_slice(bytes);
    }

    /// Replaces a file's content (a fresh inode, as writing a temporary file).
    pub fn write_new(&mut self, path: &str, bytes: &[u8]) {
        self.names.remove(path);
        let inode = self.inode_for(path);
        self.inodes.get_mut(&inode).expect("inode exists").data = bytes.to_vec();
    }

    /// Makes a file's data durable.
    pub fn fsync(&mut self, path: &str) {
        if let Some(inode) = self.names.get(path) {
            let file = self.inodes.get_mut(inode).expect("inode exists");
            file.synced = file.data.clone();
            if self.last_append.as_ref().is_some_and(|a| a.inode == *inode) {
                self.last_append = None;
            }
        }
    }

    /// Renames `from` over `to` (atomic for readers; durable after `sync_dir`).
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(inode) = self.names.remove(from) {
            self.names.insert(to.to_string(), inode);
        }
    }

    pub fn remove(&mut self, path: &str) {
        self.names.remove(path);
    }

    /// Makes the directory (every name, rename and removal) durable.
    pub fn sync_dir(&mut self) {
        self.durable_names = self.names.clone();
        self.collect_garbage();
    }

    /// The atomic replace a role asks for: temporary file, fsync, rename,
    /// directory fsync. Once it returns, `path` durably holds `bytes`.
    pub fn replace_atomically(&mut self, path: &str, bytes: &[u8]) {
        let temp = format!("{path}.tmp");
        self.write_new(&temp, bytes);
        self.fsync(&temp);
        self.rename(&temp, path);
        self.sync_dir();
    }

    /// A durable append (append, fsync, directory fsync for a new file).
    pub fn append_durably(&mut self, path: &str, bytes: &[u8]) {
        let new = !self.durable_names.contains_key(path);
        self.append(path, bytes);
        self.fsync(path);
        if new {
            self.sync_dir();
        }
    }

    /// Power loss: every unsynced byte and every unsynced name change is gone.
    /// With `torn_prefix`, the last unsynced append keeps that many of its
    /// bytes (the blocks the device had written when the power failed).
    pub fn lose_power(&mut self, torn_prefix: Option<usize>) {
        let torn = self.last_append.take().zip(torn_prefix);
        for (inode, file) in self.inodes.iter_mut() {
            let mut survived = file.synced.clone();
            if let Some((append, prefix)) = &torn {
                if append.inode == *inode && survived.len() == append.offset {
                    let keep = (*prefix).min(append.len);
                    survived.extend_from_slice(&file.data[append.offset..append.offset + keep]);
                }
            }
            file.data = survived.clone();
            file.synced = survived;
        }
        self.names = self.durable_names.clone();
        self.collect_garbage();
    }

    /// The unsynced append a torn power loss would cut: its length.
    pub fn pending_append_len(&self) -> Option<usize> {
        self.last_append.as_ref().map(|a| a.len)
    }

    /// The disk is replaced or erased.
    pub fn wipe(&mut self) {
        *self = Disk::default();
    }

    fn collect_garbage(&mut self) {
        let live: std::collections::BTreeSet<u64> = self
            .names
            .values()
            .chain(self.durable_names.values())
            .copied()
            .collect();
        self.inodes.retain(|inode, _| live.contains(inode));
    }
}

/// A torn write's surviving length: whole blocks of the append, at least one
/// and fewer than all of them (so a record really tears), chosen by `random`.
/// `None` when the append is not longer than one block.
pub fn torn_prefix(append_len: usize, block_size: usize, random: u64) -> Option<usize> {
    let block_size = block_size.max(1);
    let blocks = append_len.div_ceil(block_size);
    if blocks < 2 {
        return None;
    }
    let kept_blocks = 1 + (random % (blocks as u64 - 1)) as usize;
    Some(kept_blocks * block_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_crash_loses_nothing_it_wrote() {
        // (A process crash does not touch the disk at all: the page cache is
        // the kernel's.) What one process wrote unsynced, the next one reads.
        let mut disk = Disk::default();
        disk.append("log", b"unsynced");
        assert_eq!(disk.read("log"), Some(&b"unsynced"[..]));
    }

    #[test]
    fn data_is_durable_after_fsync_and_not_before() {
        let mut disk = Disk::default();
        disk.append("log", b"one");
        disk.fsync("log");
        disk.sync_dir();
        disk.append("log", b"two");
        disk.lose_power(None);
        assert_eq!(disk.read("log"), Some(&b"one"[..]));
    }

    #[test]
    fn a_new_name_is_durable_only_after_its_directory_is_synced() {
        let mut disk = Disk::default();
        disk.append("new", b"data");
        disk.fsync("new");
        disk.lose_power(None);
        assert_eq!(
            disk.read("new"),
            None,
            "fsynced data, but the name was never made durable"
        );
        disk.append("new", b"data");
        disk.fsync("new");
        disk.sync_dir();
        disk.lose_power(None);
        assert_eq!(disk.read("new"), Some(&b"data"[..]));
    }

    #[test]
    fn a_rename_before_the_directory_sync_is_undone_by_power_loss() {
        let mut disk = Disk::default();
        disk.replace_atomically("state", b"v1");
        disk.write_new("state.tmp", b"v2");
        disk.fsync("state.tmp");
        disk.rename("state.tmp", "state");
        assert_eq!(
            disk.read("state"),
            Some(&b"v2"[..]),
            "readers see the new file at once"
        );
        disk.lose_power(None);
        assert_eq!(
            disk.read("state"),
            Some(&b"v1"[..]),
            "the old file comes back"
        );
        disk.replace_atomically("state", b"v3");
        disk.lose_power(None);
        assert_eq!(disk.read("state"), Some(&b"v3"[..]));
    }

    #[test]
    fn a_torn_power_loss_keeps_a_prefix_of_the_last_unsynced_append() {
        let mut disk = Disk::default();
        disk.append_durably("log", b"record-1;");
        disk.append("log", b"record-2;");
        let prefix = torn_prefix(disk.pending_append_len().unwrap(), 1, 3).unwrap();
        assert!((1..9).contains(&prefix));
        disk.lose_power(Some(prefix));
        let mut expected = b"record-1;".to_vec();
        expected.extend_from_slice(&b"record-2;"[..prefix]);
        assert_eq!(disk.read("log"), Some(&expected[..]));
        // What survived a power loss is durable from then on.
        disk.lose_power(None);
        assert_eq!(disk.read("log"), Some(&expected[..]));
    }

    #[test]
    fn a_record_smaller_than_a_block_cannot_tear_with_large_blocks() {
        assert_eq!(torn_prefix(9, 512, 7), None);
        assert_eq!(torn_prefix(1_500, 512, 0), Some(512));
        assert_eq!(torn_prefix(1_500, 512, 1), Some(1_024));
    }

    #[test]
    fn a_wipe_loses_everything() {
        let mut disk = Disk::default();
        disk.replace_atomically("state", b"v1");
        disk.append_durably("log", b"x");
        disk.wipe();
        assert_eq!(disk.read("state"), None);
        assert!(disk.list("").is_empty());
    }
}
