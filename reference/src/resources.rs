//! Scalar resources: cpus, memory and disk.
//!
//! Mesos describes an agent's capacity and every offer and task as a bag of named
//! scalars. We keep the three that matter for the fault-tolerance story and count
//! cpus in thousandths so that accounting is exact integer arithmetic: an offer that
//! is off by a floating-point rounding error is exactly the kind of bug a checker
//! should be able to see.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Resources {
    /// CPU shares in thousandths of a CPU (`500` is half a CPU).
    pub cpus_milli: u64,
    /// Memory in MiB.
    pub mem_mb: u64,
    /// Disk in MiB.
    pub disk_mb: u64,
}

impl Resources {
    pub const fn new(cpus_milli: u64, mem_mb: u64, disk_mb: u64) -> Self {
        Self {
            cpus_milli,
            mem_mb,
            disk_mb,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cpus_milli == 0 && self.mem_mb == 0 && self.disk_mb == 0
    }

    /// Whether `other` fits inside `self` on every dimension.
    pub fn contains(&self, other: &Resources) -> bool {
        self.cpus_milli >= other.cpus_milli
            && self.mem_mb >= other.mem_mb
            && self.disk_mb >= other.disk_mb
    }

    pub fn plus(&self, other: &Resources) -> Resources {
        Resources {
            cpus_milli: self.cpus_milli + other.cpus_milli,
            mem_mb: self.mem_mb + other.mem_mb,
            disk_mb: self.disk_mb + other.disk_mb,
        }
    }

    /// `self - other`, or `None` if `other` does not fit: subtracting resources
    /// that are not there is an accounting bug, and callers assert on it.
    pub fn minus(&self, other: &Resources) -> Option<Resources> {
        Some(Resources {
            cpus_milli: self.cpus_milli.checked_sub(other.cpus_milli)?,
            mem_mb: self.mem_mb.checked_sub(other.mem_mb)?,
            disk_mb: self.disk_mb.checked_sub(other.disk_mb)?,
        })
    }

    /// `self - other` for callers that have already established `other` fits.
    pub fn minus_exact(&self, other: &Resources) -> Resources {
        self.minus(other)
            .unwrap_or_else(|| panic!("resource accounting: {other} does not fit in {self}"))
    }

    /// How many copies of `unit` fit in `self` (a task's resources must not be empty).
    pub fn count_fitting(&self, unit: &Resources) -> u64 {
        assert!(!unit.is_empty(), "a task must ask for some resources");
        let per = |have: u64, want: u64| have.checked_div(want).unwrap_or(u64::MAX);
        per(self.cpus_milli, unit.cpus_milli)
            .min(per(self.mem_mb, unit.mem_mb))
            .min(per(self.disk_mb, unit.disk_mb))
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpus:{}.{:03};mem:{};disk:{}",
            self.cpus_milli / 1000,
            self.cpus_milli % 1000,
            self.mem_mb,
            self.disk_mb
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_is_exact() {
        let agent = Resources::new(4000, 8192, 1000);
        let task = Resources::new(500, 512, 0);
        assert_eq!(agent.count_fitting(&task), 8);
        let left = agent.minus_exact(&task);
        assert_eq!(left.plus(&task), agent);
        assert!(task.minus(&agent).is_none());
        assert_eq!(format!("{task}"), "cpus:0.500;mem:512;disk:0");
    }
}
