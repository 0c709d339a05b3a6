//! Scalar resources: cpus, memory and disk.
//!
//! Mesos describes an agent's capacity and every offer and task as a bag of named
//! scalars. We keep the three that matter for the fault-tolerance story and count
//! cpus in thousandths so that accounting is exact integer arithmetic: an offer that
//! is off by a floating-point rounding error is exactly the kind of bug a checker
//! should be able to see.
//!
//! Mesos itself compares and adds scalars in fixed point with three decimal
//! digits (`convertToFixed` in `src/common/values.cpp`), so `cpus_milli` loses
//! nothing Mesos keeps.
//!
//! The file has three layers, each built on the one before:
//!
//! 1. [`Resources`]: one bag of cpus, memory and disk (Mesos `Resources`
//!    restricted to unreserved scalars, `src/common/resources.cpp`).
//! 2. [`RoleResources`]: bags by the role they are reserved for — dynamic
//!    reservation (Mesos `docs/reservation.md`; `Resources::reservations()`,
//!    `Resources::unreserved()`, `Resources::allocatableTo(role)`).
//! 3. [`AgentResources`]: an agent's pools plus its persistent volumes (Mesos
//!    `docs/persistent-volume.md`), with [`AgentResources::apply`] playing
//!    `Resources::apply(Offer::Operation)` for RESERVE, UNRESERVE, CREATE and
//!    DESTROY.
//!
//! Who holds what: the agent checkpoints its `AgentResources` and reports them
//! in `RegisterAgent`/`ReregisterAgent`; the master keeps a soft copy per agent
//! (`master/state.rs`), validates operations against offers
//! (`Master::on_accept`, `master/offers.rs`) and sends the accepted ones to the
//! agent in `ApplyOperations`. No master ever stores reservations durably.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One bag of scalar resources: an agent's capacity, a role's share, an
/// offer's content, a task's demand. Plain arithmetic, no roles.
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
    /// A bag of these amounts (`const`, so configurations can be constants).
    pub const fn new(cpus_milli: u64, mem_mb: u64, disk_mb: u64) -> Self {
        Self {
            cpus_milli,
            mem_mb,
            disk_mb,
        }
    }

    /// Zero on every dimension. Empty shares are never stored in a
    /// [`RoleResources`], so that two equal pools compare equal.
    pub fn is_empty(&self) -> bool {
        self.cpus_milli == 0 && self.mem_mb == 0 && self.disk_mb == 0
    }

    /// Whether `other` fits inside `self` on every dimension. (Agent
    /// recovery uses it for the `additive` reconfiguration policy: a
    /// machine may grow, not shrink.)
    pub fn contains(&self, other: &Resources) -> bool {
        self.cpus_milli >= other.cpus_milli
            && self.mem_mb >= other.mem_mb
            && self.disk_mb >= other.disk_mb
    }

    /// `self + other`, dimension by dimension.
    pub fn plus(&self, other: &Resources) -> Resources {
        Resources {
            cpus_milli: self.cpus_milli + other.cpus_milli,
            mem_mb: self.mem_mb + other.mem_mb,
            disk_mb: self.disk_mb + other.disk_mb,
        }
    }

    /// `self - other`, or `None` if `other` does not fit: subtracting resources
    /// that are not there is an accounting bug, and callers assert on it.
    // Mesos's `Resources::subtract` instead drops a scalar that would go
    // negative (with a TODO to "provide a stronger interface"); here the
    // mistake is made loud.
    pub fn minus(&self, other: &Resources) -> Option<Resources> {
        Some(Resources {
            cpus_milli: self.cpus_milli.checked_sub(other.cpus_milli)?,
            mem_mb: self.mem_mb.checked_sub(other.mem_mb)?,
            disk_mb: self.disk_mb.checked_sub(other.disk_mb)?,
        })
    }

    /// `self - other` for callers that have already established `other` fits.
    ///
    /// Panics otherwise: in the simulation a broken accounting invariant
    /// should stop the run at the line that broke it, not surface later as
    /// an offer of resources that do not exist.
    pub fn minus_exact(&self, other: &Resources) -> Resources {
        self.minus(other)
            .unwrap_or_else(|| panic!("resource accounting: {other} does not fit in {self}"))
    }

    /// How many copies of `unit` fit in `self` (a task's resources must not be empty).
    ///
    /// A scheduler sizes its launches with it (`scheduler/tasks.rs`). A
    /// dimension `unit` does not ask for imposes no limit (`u64::MAX`), which
    /// is why an empty unit — no limit anywhere — is refused.
    pub fn count_fitting(&self, unit: &Resources) -> u64 {
        assert!(!unit.is_empty(), "a task must ask for some resources");
        let per = |have: u64, want: u64| have.checked_div(want).unwrap_or(u64::MAX);
        per(self.cpus_milli, unit.cpus_milli)
            .min(per(self.mem_mb, unit.mem_mb))
            .min(per(self.disk_mb, unit.disk_mb))
    }
}

impl fmt::Display for Resources {
    /// Mesos's text form (`cpus:0.500;mem:512;disk:0`), as in its logs and
    /// `--resources` flag.
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

    // Integer accounting round-trips exactly: take a task out of an agent and
    // put it back, and the agent is whole again; subtracting more than there
    // is fails instead of wrapping. With floating-point cpus, 8 × 0.5 taken
    // from 4.0 could leave a crumb the offer cycle would hand out forever.
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
///
/// Mesos's default role, and the key of the unreserved share in every
/// [`RoleResources`]. A framework whose role is `"*"` can use only
/// unreserved resources: it cannot RESERVE (the master refuses a
/// reservation for `"*"`), so it has nothing of its own to come back to.
pub const UNRESERVED: &str = "*";

/// An agent's (or an offer's) resources by the role they are reserved for;
/// `"*"` holds the unreserved ones.
///
/// **Dynamic reservation** (Mesos): a framework moves resources from `"*"` to its
/// own role with a RESERVE operation; from then on they are offered only to
/// frameworks of that role, until it UNRESERVEs them. The master keeps none of
/// this durably: the agent checkpoints its reservations and reports them when it
/// (re-)registers.
///
/// Why reserve at all: a stateful task (a database) must come back to the
/// machine that holds its data. Without a reservation, the resources it
/// freed when it stopped may be offered to — and taken by — another
/// framework before it relaunches. Mesos keeps every reservation in each
/// `Resource.reservations`; here a map from role to bag says the same with
/// no per-resource metadata. Static reservations (`--resources` with a role)
/// and hierarchical roles are not modelled.
///
/// Serialized as a plain map (`{"*": {...}, "db": {...}}`), which is how it
/// appears in the agent's checkpoint and in state snapshots.
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

    /// `role`'s share (empty if it has none).
    pub fn get(&self, role: &str) -> Resources {
        self.0.get(role).copied().unwrap_or_default()
    }

    /// Adds to `role`'s share. An empty bag adds no entry, so a role whose
    /// share is empty is simply absent (see [`Resources::is_empty`]).
    pub fn add(&mut self, role: &str, resources: &Resources) {
        if resources.is_empty() {
            return;
        }
        let entry = self.0.entry(role.to_string()).or_default();
        *entry = entry.plus(resources);
    }

    /// Takes `resources` out of `role`'s share; `false` (and no change) if they
    /// are not all there.
    ///
    /// Never borrows from another role: a task on reserved resources cannot
    /// spill onto unreserved ones, nor the reverse. Mesos matches each
    /// resource's reservation exactly in the same way (`Resources::contains`).
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

    /// Role-by-role sum (how the master merges several offers of one accept).
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
    ///
    /// The master asserts with it, whenever it places a task on an agent and
    /// after every round of offers and every accept, that the agent's tasks
    /// and outstanding offers never exceed its total, role by role
    /// (`AgentEntry::occupy` and `AgentEntry::assert_accounting`,
    /// `master/state.rs`). An over-commit would mean two tasks, or a task
    /// and an offer, were promised the same resources.
    pub fn contains(&self, other: &RoleResources) -> bool {
        self.minus(other).is_some()
    }

    /// All roles together.
    pub fn sum(&self) -> Resources {
        self.0
            .values()
            .fold(Resources::default(), |acc, r| acc.plus(r))
    }

    /// Whether no role has anything. (True of the default value too, which
    /// has no entries at all.)
    pub fn is_empty(&self) -> bool {
        self.0.values().all(Resources::is_empty)
    }

    /// Only the shares a framework of `role` may be offered: unreserved, and
    /// its own role's reservations.
    ///
    /// This is the rule that makes a reservation worth having (Mesos
    /// `Resources::allocatableTo`); the master builds every offer through it
    /// (`master/offers.rs`). A framework of role `"*"` sees only the
    /// unreserved share.
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
///
/// Mesos's rules (`docs/persistent-volume.md`), and where each lives here:
/// a volume is made only from reserved disk (CREATE takes from `role`'s
/// share, [`AgentResources::apply`]); its ID is unique per role on an agent
/// (`validateUniquePersistenceID`; [`Volume::key`]); it cannot be destroyed
/// while a task uses it, and its disk cannot be unreserved while it exists
/// (both checked by the master in `Master::on_accept`); destroying it deletes
/// its data (the agent removes [`Volume::data_path`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Volume {
    /// Unique per role on an agent.
    pub id: String,
    /// The role whose reserved disk the volume was made from; only that
    /// role's frameworks are offered it.
    pub role: String,
    /// Its size, taken out of the role's disk share while it exists.
    pub disk_mb: u64,
}

impl Volume {
    /// The key a volume is known by on its agent: `role/id`.
    pub fn key(&self) -> String {
        volume_key(&self.role, &self.id)
    }

    /// Where the volume's data lives on its machine's disk.
    ///
    /// Outside any task's sandbox, so it survives the task, the executor
    /// host and the agent process; only the machine's disk (a wipe) takes it.
    /// The executor host derives the same path from a `TaskInfo`
    /// (`volume_path` in `executor/mod.rs`).
    pub fn data_path(&self) -> String {
        format!("volumes/{}/{}/data", self.role, self.id)
    }
}

/// The key of volume `id` of `role` (the same as [`Volume::key`]), for
/// callers that have the two names but no `Volume`.
pub fn volume_key(role: &str, id: &str) -> String {
    format!("{role}/{id}")
}

/// Everything an agent has, as it checkpoints and reports it: its resources by
/// role (reservations included, volumes' disk excluded) and its volumes.
///
/// Mesos keeps the same facts as the agent's `checkpointed_resources` (the
/// dynamically reserved resources and persistent volumes, written to disk
/// by `Slave::checkpointResourceState`) on top of its `--resources`; the
/// agent sends them in `RegisterSlaveMessage.checkpointed_resources` and
/// `ReregisterSlaveMessage.checkpointed_resources`, which is how a new master
/// learns reservations it never saw made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentResources {
    /// Resources by role; a volume's disk is *not* in its role's share but
    /// in the volume (so a role's share is what it may still reserve tasks
    /// or new volumes on).
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
    ///
    /// Called by agent recovery (`agent/recovery.rs`) when it reads its
    /// checkpoint, as `Slave::recover` does, so that a capacity changed
    /// between two runs keeps the reservations and volumes that still fit.
    pub fn rebased(&self, total: Resources) -> Option<AgentResources> {
        // The old unreserved share is derived, not checkpointed fact: drop
        // it and recompute it from the new capacity.
        let mut pools = self.pools.clone();
        let unreserved = pools.get(UNRESERVED);
        pools.take_exact(UNRESERVED, &unreserved);
        // What the checkpoint really records: reservations and volumes.
        let volumes: u64 = self.volumes.values().map(|v| v.disk_mb).sum();
        let held = pools.sum().plus(&Resources::new(0, 0, volumes));
        // A shrunk machine that can no longer hold them fails here; the
        // caller decides whether that fails recovery.
        let free = total.minus(&held)?;
        pools.add(UNRESERVED, &free);
        Some(AgentResources {
            pools,
            volumes: self.volumes.clone(),
        })
    }

    /// The machine's capacity: every role's share plus the volumes' disk.
    ///
    /// What the master's registry records for an admitted agent
    /// (`RegistryOp::Admit`, `MarkReachable`): capacity, not its split by
    /// role, which only the agent keeps durably.
    pub fn total(&self) -> Resources {
        let volumes: u64 = self.volumes.values().map(|v| v.disk_mb).sum();
        self.pools.sum().plus(&Resources::new(0, 0, volumes))
    }
}

#[cfg(test)]
mod role_tests {
    use super::*;

    // A reservation moves resources between roles without creating or
    // destroying any; a role cannot take more than it reserved; and the
    // offer filter shows a role its own reservation plus the unreserved
    // share, and another role only the unreserved share. A `for_role` that
    // leaked other roles' shares would hand a database's reserved machine to
    // anyone (the planted `VolumeOfferedToAnyRole` bug is the volume form of
    // this).
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
