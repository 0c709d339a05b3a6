//! Scalar resources: cpus, memory and disk.
//!
//! Mesos describes an agent's capacity and every offer and task as a bag of named
//! scalars. We keep the three that matter for the fault-tolerance story and count
//! cpus in thousandths so that accounting is exact integer arithmetic: an offer that
//! is off by a floating-point rounding error is exactly the kind of bug a checker
//! should be able to see.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// The role of unreserved resources, as Mesos writes it.
pub const UNRESERVED: &str = "*";

/// An agent's (or an offer's) resources by the role they are reserved for;
/// `"*"` holds the unreserved ones.
///
/// **Dynamic reservation** (Mesos): a framework moves resources from `"*"` to its
/// own role with a RESERVE operation; from then on they are offered only to
/// frameworks of that role, until it UNRESERVEs them. The master keeps none of
/// this durably: the agent checkpoints its reservations and reports them when it
/// (re-)registers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleResources(pub BTreeMap<String, Resources>);

impl RoleResources {
    /// Everything unreserved.
    pub fn unreserved(resources: Resources) -> Self {
        let mut pools = RoleResources::default();
        pools.add(UNRESERVED, &resources);
        pools
    }

    pub fn get(&self, role: &str) -> Resources {
        self.0.get(role).copied().unwrap_or_default()
    }

    pub fn add(&mut self, role: &str, resources: &Resources) {
        if resources.is_empty() {
            return;
        }
        let entry = self.0.entry(role.to_string()).or_default();
        *entry = entry.plus(resources);
    }

    /// Takes `resources` out of `role`'s share; `false` (and no change) if they
    /// are not all there.
    pub fn take(&mut self, role: &str, resources: &Resources) -> bool {
        let Some(left) = self.get(role).minus(resources) else {
            return false;
        };
        if left.is_empty() {
            self.0.remove(role);
        } else {
            self.0.insert(role.to_string(), left);
        }
        true
    }

    /// `take` for callers that already know the resources are there.
    pub fn take_exact(&mut self, role: &str, resources: &Resources) {
        assert!(
            self.take(role, resources),
            "resource accounting: {resources} not available in role {role} of {self:?}"
        );
    }

    pub fn plus(&self, other: &RoleResources) -> RoleResources {
        let mut sum = self.clone();
        for (role, resources) in &other.0 {
            sum.add(role, resources);
        }
        sum
    }

    /// `self - other`, role by role, or `None` if some role lacks what `other` has.
    pub fn minus(&self, other: &RoleResources) -> Option<RoleResources> {
        let mut left = self.clone();
        for (role, resources) in &other.0 {
            if !left.take(role, resources) {
                return None;
            }
        }
        Some(left)
    }

    /// Whether every role's share of `other` fits in this one's.
    pub fn contains(&self, other: &RoleResources) -> bool {
        self.minus(other).is_some()
    }

    /// All roles together.
    pub fn sum(&self) -> Resources {
        self.0
            .values()
            .fold(Resources::default(), |acc, r| acc.plus(r))
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(Resources::is_empty)
    }

    /// Only the shares a framework of `role` may be offered: unreserved, and
    /// its own role's reservations.
    pub fn for_role(&self, role: &str) -> RoleResources {
        let mut out = RoleResources::default();
        out.add(UNRESERVED, &self.get(UNRESERVED));
        if role != UNRESERVED {
            out.add(role, &self.get(role));
        }
        out
    }
}

/// A **persistent volume** (Mesos): disk carved out of a role's reservation, with
/// an ID, whose data outlives the task that wrote it. When the task ends, the
/// volume is offered again to frameworks of its role, so a later task — a
/// restarted database — finds its data where it left it. Only a disk wipe loses it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Volume {
    /// Unique per role on an agent.
    pub id: String,
    pub role: String,
    pub disk_mb: u64,
}

impl Volume {
    /// The key a volume is known by on its agent: `role/id`.
    pub fn key(&self) -> String {
        volume_key(&self.role, &self.id)
    }

    /// Where the volume's data lives on its machine's disk.
    pub fn data_path(&self) -> String {
        format!("volumes/{}/{}/data", self.role, self.id)
    }
}

pub fn volume_key(role: &str, id: &str) -> String {
    format!("{role}/{id}")
}

/// Everything an agent has, as it checkpoints and reports it: its resources by
/// role (reservations included, volumes' disk excluded) and its volumes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentResources {
    pub pools: RoleResources,
    /// Volumes by key (`role/id`).
    pub volumes: BTreeMap<String, Volume>,
}

impl AgentResources {
    /// A fresh agent: everything unreserved, no volume.
    pub fn unreserved(resources: Resources) -> Self {
        AgentResources {
            pools: RoleResources::unreserved(resources),
            volumes: BTreeMap::new(),
        }
    }

    /// These reservations and volumes on a machine whose configured capacity
    /// is `total`: whatever is not reserved or in a volume is unreserved. `None`
    /// if they no longer fit — Mesos's `applyCheckpointedResources` failing,
    /// "checkpointed resources are incompatible with agent resources".
    pub fn rebased(&self, total: Resources) -> Option<AgentResources> {
        let mut pools = self.pools.clone();
        let unreserved = pools.get(UNRESERVED);
        pools.take_exact(UNRESERVED, &unreserved);
        let volumes: u64 = self.volumes.values().map(|v| v.disk_mb).sum();
        let held = pools.sum().plus(&Resources::new(0, 0, volumes));
        let free = total.minus(&held)?;
        pools.add(UNRESERVED, &free);
        Some(AgentResources {
            pools,
            volumes: self.volumes.clone(),
        })
    }

    /// The machine's capacity: every role's share plus the volumes' disk.
    pub fn total(&self) -> Resources {
        let volumes: u64 = self.volumes.values().map(|v| v.disk_mb).sum();
        self.pools.sum().plus(&Resources::new(0, 0, volumes))
    }

    /// Applies a RESERVE, UNRESERVE, CREATE or DESTROY (already validated by the
    /// master); an operation that does not fit is refused with the reason.
    pub fn apply(&mut self, operation: &crate::messages::Operation) -> Result<(), String> {
        use crate::messages::Operation;
        match operation {
            Operation::Reserve { role, resources } => {
                if !self.pools.take(UNRESERVED, resources) {
                    return Err("not enough unreserved resources".into());
                }
                self.pools.add(role, resources);
            }
            Operation::Unreserve { role, resources } => {
                if !self.pools.take(role, resources) {
                    return Err(format!("not enough resources reserved for {role}"));
                }
                self.pools.add(UNRESERVED, resources);
            }
            Operation::Create { volume } => {
                if self.volumes.contains_key(&volume.key()) {
                    return Err(format!("volume {} exists", volume.key()));
                }
                if !self
                    .pools
                    .take(&volume.role, &Resources::new(0, 0, volume.disk_mb))
                {
                    return Err(format!("not enough disk reserved for {}", volume.role));
                }
                self.volumes.insert(volume.key(), volume.clone());
            }
            Operation::Destroy { role, id } => {
                let volume = self
                    .volumes
                    .remove(&volume_key(role, id))
                    .ok_or_else(|| format!("no volume {}", volume_key(role, id)))?;
                self.pools.add(role, &Resources::new(0, 0, volume.disk_mb));
            }
            Operation::Launch { .. } => return Err("a launch is not a resource operation".into()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod role_tests {
    use super::*;

    #[test]
    fn reserving_moves_resources_between_roles_and_keeps_the_total() {
        let mut pools = RoleResources::unreserved(Resources::new(4000, 8192, 10_000));
        let reservation = Resources::new(1000, 1024, 5_000);
        assert!(pools.take(UNRESERVED, &reservation));
        pools.add("db", &reservation);
        assert_eq!(pools.sum(), Resources::new(4000, 8192, 10_000));
        assert_eq!(pools.get("db"), reservation);
        assert!(
            !pools.take("db", &Resources::new(2000, 0, 0)),
            "more than reserved"
        );
        assert_eq!(
            pools.for_role("web").0.len(),
            1,
            "another role sees only the unreserved share"
        );
        assert_eq!(
            pools.for_role("db").sum(),
            Resources::new(4000, 8192, 10_000)
        );
    }
}
