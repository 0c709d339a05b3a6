//! # Offer operations
//!
//! A framework changes what an agent offers through operations inside an
//! `Accept` (Mesos `Offer::Operation`): it reserves unreserved resources for
//! its role, creates a persistent volume on reserved disk, launches tasks,
//! destroys volumes and unreserves. The master validates each operation
//! against the offer and applies it to its copy of the agent's resources
//! (`master/offers.rs::on_accept`, Mesos `Master::_accept`); the agent applies
//! the resource operations to its own copy and checkpoints the result
//! (`agent/tasks.rs`, Mesos `Slave::applyOperation`).
//!
//! One file per resource operation, as mini-redis has one per command, each
//! with both sides of it: `on_offer` (the master's validation against what
//! the offer holds, then the change to its copy of the agent) beside
//! `on_agent` (the agent's change to its own copy, Mesos
//! `Resources::apply(Offer::Operation)` in `src/common/resources.cpp`):
//! [`reserve`], [`unreserve`], [`create`], [`destroy`]. A launch is not a
//! resource operation: the master validates its tasks in `master/offers.rs`.

use crate::ids::TaskId;
use crate::resources::{AgentResources, Resources, RoleResources, Volume};
use crate::task::TaskInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod create;
pub mod destroy;
pub mod reserve;
pub mod unreserve;

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

/// What the master's side of a resource operation works on: what the offers
/// being accepted still hold, and the master's copy of the agent.
pub struct OfferPool<'a> {
    /// The accepting framework's role: it may reserve, unreserve, create and
    /// destroy only for it.
    pub role: &'a str,
    /// The offered resources not yet used by an earlier operation of the
    /// same accept, by role.
    pub resources: &'a mut RoleResources,
    /// The offered volumes not yet used, by key (`role/id`).
    pub volumes: &'a mut BTreeMap<String, Volume>,
    /// The master's copy of the agent's resources by role (its total).
    pub agent_total: &'a mut RoleResources,
    /// The master's copy of the agent's volumes.
    pub agent_volumes: &'a mut BTreeMap<String, Volume>,
    /// Which task uses which of the agent's volumes.
    pub volumes_in_use: &'a BTreeMap<String, TaskId>,
}

impl OfferPool<'_> {
    /// The master's side of one resource operation (Mesos `Master::_accept`):
    /// `Some(reason)` if it is refused — nothing changed — else `None`, with
    /// the offer pool and the master's copy of the agent changed. Panics on
    /// a launch, which is not a resource operation.
    pub fn apply(&mut self, operation: &Operation) -> Option<String> {
        match operation {
            Operation::Reserve { role, resources } => reserve::on_offer(self, role, resources),
            Operation::Unreserve { role, resources } => unreserve::on_offer(self, role, resources),
            Operation::Create { volume } => create::on_offer(self, volume),
            Operation::Destroy { role, id } => destroy::on_offer(self, role, id),
            Operation::Launch { .. } => panic!("a launch is not a resource operation"),
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
            Operation::Reserve { role, resources } => reserve::on_agent(self, role, resources),
            Operation::Unreserve { role, resources } => unreserve::on_agent(self, role, resources),
            Operation::Create { volume } => create::on_agent(self, volume),
            Operation::Destroy { role, id } => destroy::on_agent(self, role, id),
            Operation::Launch { .. } => Err("a launch is not a resource operation".into()),
        }
    }
}
