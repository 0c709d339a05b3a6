//! The simulated disk of one machine.
//!
//! A machine's disk survives its processes: a process crash loses nothing that
//! was written, synced or not (the page cache belongs to the kernel). A power loss
//! keeps only what was made *durable*; a wipe loses everything. turmoil's own
//! file system is per host and cannot be wiped or inspected, so the harness owns
//! one of these per machine and every process on the machine shares it.
//!
//! Durability rules modelled here:
//! - an atomic replace (temp file, fsync, rename, directory fsync) is durable once
//!   it completes, and a crash before it completes leaves the old content;
//! - an append is visible at once and durable only when synced.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Disk {
    /// File contents as the machine's processes see them.
    visible: BTreeMap<String, Vec<u8>>,
    /// File contents that survive a power loss.
    durable: BTreeMap<String, Vec<u8>>,
}

impl Disk {
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        self.visible.get(path).map(Vec::as_slice)
    }

    /// Completes an atomic replace: the new content is visible and durable.
    pub fn replace_atomically(&mut self, path: &str, bytes: &[u8]) {
        self.visible.insert(path.to_string(), bytes.to_vec());
        self.durable.insert(path.to_string(), bytes.to_vec());
    }

    /// Appends to a file (creating it); `sync` makes the whole file durable.
    pub fn append(&mut self, path: &str, bytes: &[u8], sync: bool) {
        let file = self.visible.entry(path.to_string()).or_default();
        file.extend_from_slice(bytes);
        if sync {
            self.durable.insert(path.to_string(), file.clone());
        }
    }

    /// Power loss: everything not durable is gone.
    pub fn lose_power(&mut self) {
        self.visible = self.durable.clone();
    }

    /// The disk is replaced or erased.
    pub fn wipe(&mut self) {
        self.visible.clear();
        self.durable.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_crash_keeps_unsynced_data_but_power_loss_does_not() {
        let mut disk = Disk::default();
        disk.append("log", b"one", true);
        disk.append("log", b"two", false);
        assert_eq!(
            disk.read("log"),
            Some(&b"onetwo"[..]),
            "visible to a restarted process"
        );
        disk.lose_power();
        assert_eq!(disk.read("log"), Some(&b"one"[..]));
        disk.replace_atomically("state", b"v1");
        disk.lose_power();
        assert_eq!(disk.read("state"), Some(&b"v1"[..]));
        disk.wipe();
        assert_eq!(disk.read("state"), None);
    }
}
