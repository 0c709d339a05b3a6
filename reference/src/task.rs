//! Tasks and status updates as they travel on the wire.
//!
//! Three Mesos protobufs, trimmed to what the fault-tolerance story needs:
//!
//! - [`TaskInfo`] (`include/mesos/mesos.proto`): what a scheduler asks to launch
//!   inside an `ACCEPT` call's `LAUNCH` operation; the master forwards it to the
//!   agent in `RunTask` (Mesos `RunTaskMessage`) and the agent to the executor
//!   host in `LaunchTask`.
//! - [`StatusUpdate`] (`src/messages/messages.proto`, wrapping a `TaskStatus`):
//!   a task's state change, produced by the executor, the agent or the master
//!   ([`Source`]), delivered *reliably* to the framework when it carries a uuid.
//! - [`ReportedTask`] (a slice of Mesos's `Task`, as carried in
//!   `ReregisterSlaveMessage.tasks`): what an agent tells a new leader it runs.
//!
//! There are no executors in the Mesos sense (no `ExecutorInfo`, no command
//! line): [`Workload`] says what the simulated task does, and the executor host
//! (`crate::executor`) plays it.

use crate::ids::{AgentId, FrameworkId, ProcessId, TaskId, UpdateUuid};
use crate::resources::Resources;
use crate::task_state::{Reason, Source, TaskState};
use serde::{Deserialize, Serialize};

/// What the simulated task does once started. In Mesos this would be a command
/// line; here it is the behaviour the executor host simulates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Runs until killed (a service).
    Forever,
    /// Exits successfully `ms` milliseconds after its launch at the executor
    /// host (`TASK_FINISHED`).
    FinishAfter {
        /// Milliseconds from the launch at the executor host to the exit.
        ms: u64,
    },
    /// Exits with an error `ms` milliseconds after its launch (`TASK_FAILED`,
    /// no reason: see `ExecutorHost::on_workload_done`).
    FailAfter {
        /// Milliseconds from the launch at the executor host to the failure.
        ms: u64,
    },
    /// A database: appends a numbered record to its persistent volume every
    /// `interval_ms` (the period of `ExecutorTimer::DbWrite`), acknowledging
    /// each to its client only once it is fsynced. On start it reads the
    /// volume and reports what it found; without a volume it just runs.
    Db {
        /// Period of the append timer (`ExecutorTimer::DbWrite`).
        interval_ms: u64,
    },
    /// A database whose data lives on remote store nodes (storage servers of a
    /// distributed file system, or replica tasks): every `interval_ms` it sends
    /// the next record to each of `peers` and acknowledges it to its client once
    /// `quorum` of them have fsynced it. On start it asks them what they hold.
    DbClient {
        /// Period of the write timer; also how often an unanswered recovery
        /// read is repeated and a timed-out write retried.
        interval_ms: u64,
        /// The dataset's name: store nodes serve one dataset each.
        store: String,
        /// The store nodes, by process (storage servers or executor hosts).
        peers: Vec<ProcessId>,
        /// How many fsynced copies make a write acknowledged. Must be a
        /// majority of `peers` for recovery to find every acknowledged record
        /// (see `StoreClient::on_state`); the scenario parser picks it.
        quorum: u32,
    },
    /// A replica of dataset `store`: keeps the records it is sent on its
    /// persistent volume, fsynced before it acknowledges them (a
    /// `StoreNode` run by the executor host).
    StoreReplica {
        /// The dataset this replica serves (store nodes serve one each).
        store: String,
    },
}

/// Mesos's `TaskInfo`: the task a scheduler asks to launch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Chosen by the framework, unique among its tasks the master still knows
    /// (Mesos `validateUniqueTaskID`, checked in `Master::on_accept`,
    /// `master/offers.rs`).
    pub task_id: TaskId,
    /// Resources the task consumes on its agent while it is active.
    pub resources: Resources,
    /// Which share of the agent the resources come from: `"*"` (unreserved) or
    /// the framework's role (its dynamic reservation).
    // Defaults to `"*"` so that scenario files and snapshots written before
    // reservations existed still load.
    #[serde(default = "unreserved_role")]
    pub role: String,
    /// The persistent volume (of `role`) the task uses, by ID. In Mesos the
    /// volume is a `Resource` with `disk.persistence.id` inside
    /// `TaskInfo.resources`; here it is named apart, and the executor host
    /// derives its path with `Volume::data_path`.
    #[serde(default)]
    pub volume: Option<String>,
    /// What the task does once the executor host starts it.
    pub workload: Workload,
}

// The serde default of `TaskInfo::role`.
fn unreserved_role() -> String {
    crate::resources::UNRESERVED.to_string()
}

impl TaskInfo {
    /// A task on unreserved resources without a volume.
    pub fn unreserved(task_id: TaskId, resources: Resources, workload: Workload) -> Self {
        TaskInfo {
            task_id,
            resources,
            role: unreserved_role(),
            volume: None,
            workload,
        }
    }
}

/// Mesos's `TaskStatus` inside a `StatusUpdate`.
///
/// One struct for both protobufs: the fields of `StatusUpdate` proper
/// (`framework_id`, `uuid`, `latest_state`) and of its `TaskStatus` (`state`,
/// `reason`, `source`, `message`) sit side by side. Who makes one: the
/// executor host (`ExecutorHost::update`), the agent for tasks whose executor
/// is gone (`Agent::agent_update`), the master for answers it makes up
/// (`master_update` in `master/mod.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The framework the task belongs to.
    pub framework_id: FrameworkId,
    /// The task whose state changed.
    pub task_id: TaskId,
    /// The agent the task was on, if known (master-generated updates for unknown
    /// agents carry none).
    // The executor host leaves it empty; the agent fills it in each time it
    // sends the update (`Agent::send_stream_head`), since an update may be
    // made before the agent has an ID.
    pub agent_id: Option<AgentId>,
    /// The new state.
    pub state: TaskState,
    /// Why (Mesos `TaskStatus.reason`); `None` for a task's own transitions.
    pub reason: Option<Reason>,
    /// Who made the update: the checkers use it to tell a task's real end
    /// (from its executor) from the master's or agent's inference.
    pub source: Source,
    /// Present on updates that must be acknowledged (those produced by an
    /// executor or an agent). Updates the master makes up (reconciliation
    /// answers, `TASK_LOST` for a removed agent) carry none and are not
    /// acknowledged, as in Mesos.
    pub uuid: Option<UpdateUuid>,
    /// Free text for people reading the trace (Mesos `TaskStatus.message`).
    pub message: Option<String>,
    /// The task's latest state at the agent when the agent (re)sent this update
    /// (Mesos `StatusUpdate.latest_state`). Updates are delivered in order and
    /// one at a time, so a replayed old update (`TASK_RUNNING`) may travel while
    /// the task has already finished; the master must record the *latest* state,
    /// never move a task back to an older one.
    pub latest_state: Option<TaskState>,
}

/// A task as an agent reports it when it re-registers with a (new) master: the
/// new leader rebuilds its task table from exactly this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedTask {
    /// The task's framework; the master files the task under it even if the
    /// framework has not re-registered yet (Mesos keeps such tasks too).
    pub framework_id: FrameworkId,
    /// The launch description, so the leader can account the task's
    /// resources and volume on the agent.
    pub info: TaskInfo,
    /// The latest state the agent knows (which may not yet have been
    /// acknowledged by the framework).
    pub state: TaskState,
    /// The state of the last update this agent process forwarded to a master
    /// (Mesos's `Task.status_update_state`, set in `Slave::forward` and
    /// reported on re-registration): what a new leader answers reconciliation
    /// with, since the framework may not have seen `state` yet. `None` when
    /// this agent process has forwarded nothing for the task — after an agent
    /// restart it is not checkpointed — and the leader then answers with
    /// `state` (`Master::reconcile`).
    #[serde(default)]
    pub status_update_state: Option<TaskState>,
}
