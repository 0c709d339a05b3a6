//! The structured parts that messages carry between roles: an offer, one task
//! named in a reconciliation, and a task as the executor host reports it.

use crate::ids::{AgentId, FrameworkId, OfferId, ProcessId, TaskId};
use crate::resources::{RoleResources, Volume};
use crate::task_state::TaskState;
use serde::{Deserialize, Serialize};

/// An offer: resources on one agent, offered to one framework — the unreserved
/// ones and those reserved for its role — and its role's free volumes.
///
/// Mesos `Offer` (`include/mesos/mesos.proto`). An offer is a promise held
/// by one leader: the resources in it are set aside (not offered to anyone
/// else) until the framework accepts or declines it, or the master rescinds
/// it. It is never persisted; a new leader starts with no offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Unique within the leader that made it (its epoch is part of the ID).
    pub offer_id: OfferId,
    /// The one framework that may use it.
    pub framework_id: FrameworkId,
    /// The agent the resources are on; a launch from this offer runs there.
    pub agent_id: AgentId,
    /// The agent's host (Mesos `Offer.hostname`), for placement constraints.
    pub hostname: ProcessId,
    /// What is offered, by role: `"*"` and the framework's own role only
    /// (`RoleResources::for_role`).
    pub resources: RoleResources,
    /// The framework's role's volumes on the agent that no task is using;
    /// a stateful framework relaunches its database on the one holding its
    /// data.
    pub volumes: Vec<Volume>,
}

/// One task named in an explicit reconciliation request.
///
/// Mesos `scheduler::Call::Reconcile::Task` (`task_id`, optional `agent_id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReconcileTask {
    /// The task asked about.
    pub task_id: TaskId,
    /// The agent the scheduler believes runs it, if any. It decides the
    /// answer about a task the master does not know: agent registered,
    /// `TASK_GONE`; recovered from the registry but not re-registered yet,
    /// no answer (ask again later); unreachable, `TASK_UNREACHABLE`; unknown,
    /// `TASK_UNKNOWN` (`Master::reconcile`, `master/reconciliation.rs`).
    pub agent_id: Option<AgentId>,
}

/// A task as the executor host reports it when it (re-)registers with its agent.
///
/// Mesos's executor reports `TaskInfo`s (in `ReregisterExecutorMessage`),
/// and only those whose launch it has not seen acknowledged; the agent here
/// already has the `TaskInfo` in its checkpoint and needs only which tasks
/// are alive and in what state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorTaskReport {
    /// The task's framework.
    pub framework_id: FrameworkId,
    /// The task.
    pub task_id: TaskId,
    /// Its state at the executor host (never terminal: terminal tasks are
    /// no longer there; their last update is in `unacknowledged`).
    pub state: TaskState,
}
