//! Tasks and status updates as they travel on the wire.

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
    /// Exits successfully after this many milliseconds (`TASK_FINISHED`).
    FinishAfter { ms: u64 },
    /// Exits with an error after this many milliseconds (`TASK_FAILED`).
    FailAfter { ms: u64 },
    /// A database: appends a numbered record to its persistent volume every
    /// `interval_ms`, acknowledging each to its client only once it is fsynced.
    /// On start it reads the volume and reports what it found.
    Db { interval_ms: u64 },
    /// A database whose data lives on remote store nodes (storage servers of a
    /// distributed file system, or replica tasks): every `interval_ms` it sends
    /// the next record to each of `peers` and acknowledges it to its client once
    /// `quorum` of them have fsynced it. On start it asks them what they hold.
    DbClient {
        interval_ms: u64,
        store: String,
        peers: Vec<ProcessId>,
        quorum: u32,
    },
    /// A replica of `store`: keeps the records it is sent on its persistent
    /// volume, fsynced before it acknowledges them.
    StoreReplica { store: String },
}

/// Mesos's `TaskInfo`: the task a scheduler asks to launch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub task_id: TaskId,
    /// Resources the task consumes on its agent while it is active.
    pub resources: Resources,
    /// Which share of the agent the resources come from: `"*"` (unreserved) or
    /// the framework's role (its dynamic reservation).
    #[serde(default = "unreserved_role")]
    pub role: String,
    /// The persistent volume (of `role`) the task uses, by ID.
    #[serde(default)]
    pub volume: Option<String>,
    pub workload: Workload,
}

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub framework_id: FrameworkId,
    pub task_id: TaskId,
    /// The agent the task was on, if known (master-generated updates for unknown
    /// agents carry none).
    pub agent_id: Option<AgentId>,
    pub state: TaskState,
    pub reason: Option<Reason>,
    pub source: Source,
    /// Present on updates that must be acknowledged (those produced by an
    /// executor or an agent). Updates the master makes up (reconciliation
    /// answers, `TASK_LOST` for a removed agent) carry none and are not
    /// acknowledged, as in Mesos.
    pub uuid: Option<UpdateUuid>,
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
    pub framework_id: FrameworkId,
    pub info: TaskInfo,
    /// The latest state the agent knows (which may not yet have been
    /// acknowledged by the framework).
    pub state: TaskState,
    /// The state of the update the agent is delivering — the head of the
    /// task's status update stream, or the latest state if nothing is pending
    /// (Mesos's `Task.status_update_state`, which the agent reports on
    /// re-registration): what a new leader answers reconciliation with.
    #[serde(default)]
    pub status_update_state: Option<TaskState>,
}
