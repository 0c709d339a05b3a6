//! # Offer operations
//!
//! A framework changes what an agent offers through operations inside an
//! `Accept` (Mesos `Offer::Operation`): it reserves unreserved resources for
//! its role, creates a persistent volume on reserved disk, launches tasks,
//! destroys volumes and unreserves. The master validates each operation
//! against the offer and applies it to its copy of the agent's resources
//! (`master/offers.rs::on_accept`, Mesos `Master::_accept`); the agent applies
//! the resource operations to its own copy and checkpoints the result
//! (`agent/tasks.rs`, Mesos `Slave::applyOperation`). This file holds what
//! both sides share: the operation itself, and what applying one does to an
//! agent's resources (Mesos `Resources::apply(Offer::Operation)` in
//! `src/common/resources.cpp`).

use crate::resources::{volume_key, AgentResources, Resources, Volume, UNRESERVED};
use crate::task::TaskInfo;
use serde::{Deserialize, Serialize};

/// An offer operation inside an `Accept` (Mesos `Offer::Operation`). The
/// operations of one accept are applied in order, each validated on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Dynamically reserve unreserved resources for `role`.
    ///
    /// The master accepts it only for the framework's own role
    /// (`validation::operation::validate` for `Reserve` checks the
    /// framework may reserve for that role).
    Reserve {
        /// The role to reserve for: the framework's, never `"*"`.
        role: String,
        /// Taken from the offer's unreserved share.
        resources: Resources,
    },
    /// Give `role`'s reserved resources back to the unreserved pool.
    Unreserve {
        /// The role whose reservation shrinks (the framework's own).
        role: String,
        /// Taken from the offer's share of `role`; disk held by a volume
        /// is not in that share, so a volume must be destroyed first.
        resources: Resources,
    },
    /// Create a persistent volume on `volume.role`'s reserved disk.
    Create {
        /// The new volume; its ID must be new for the role on this agent.
        volume: Volume,
    },
    /// Destroy a persistent volume (its data is deleted).
    Destroy {
        /// The volume's role (the framework's own).
        role: String,
        /// The volume's ID within the role.
        id: String,
    },
    /// Launch tasks on the offered resources (Mesos `LAUNCH`). Validated
    /// task by task: an invalid one gets `TASK_ERROR`, the others launch.
    Launch {
        /// The tasks, each drawing on the resources left by the operations
        /// before it in the same accept.
        tasks: Vec<TaskInfo>,
    },
}

impl Operation {
    /// Mesos's name for the operation.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Reserve { .. } => "RESERVE",
            Operation::Unreserve { .. } => "UNRESERVE",
            Operation::Create { .. } => "CREATE",
            Operation::Destroy { .. } => "DESTROY",
            Operation::Launch { .. } => "LAUNCH",
        }
    }
}

impl AgentResources {
    /// Applies a RESERVE, UNRESERVE, CREATE or DESTROY (already validated by the
    /// master); an operation that does not fit is refused with the reason.
    ///
    /// Every operation moves resources between places and never changes
    /// [`AgentResources::total`] — the invariant Mesos checks after
    /// `Resources::apply(Offer::Operation)`. The agent calls this for each
    /// operation of an `ApplyOperations` and then checkpoints the result
    /// (`Agent::apply_operations`, `agent/tasks.rs`). A refusal here means
    /// the master's copy and the agent's have diverged (an `ApplyOperations`
    /// lost with a broken connection); the agent's copy wins at the next
    /// re-registration, since the master rebuilds its copy from the report.
    pub fn apply(&mut self, operation: &Operation) -> Result<(), String> {
        match operation {
            // Unreserved → role.
            Operation::Reserve { role, resources } => {
                if !self.pools.take(UNRESERVED, resources) {
                    return Err("not enough unreserved resources".into());
                }
                self.pools.add(role, resources);
            }
            // Role → unreserved. Disk inside a volume is not in the role's
            // share, so a volume must be destroyed before its disk can be
            // unreserved — Mesos's rule, enforced by the arithmetic.
            Operation::Unreserve { role, resources } => {
                if !self.pools.take(role, resources) {
                    return Err(format!("not enough resources reserved for {role}"));
                }
                self.pools.add(UNRESERVED, resources);
            }
            // Role's disk → a new volume; the ID must be new for the role.
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
            // The volume's disk goes back to its role (still reserved). The
            // caller deletes the data.
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
