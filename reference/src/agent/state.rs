//! # The agent's types
//!
//! What the agent role (`mod.rs`) is made of besides its own fields: its
//! configuration (Mesos's agent flags), its timers and coordinator requests,
//! its two links — to the leading master and to the executor host on its
//! machine — and what it keeps per task (the task, its latest state and its
//! status update stream).

use super::*;

/// One agent's configuration (Mesos's agent flags). A restarted process gets
/// it anew; [`Agent::recover`] checks it against the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// This agent's process ID (its libprocess PID in Mesos).
    pub name: ProcessId,
    /// The executor host process on the same machine: a separate process, so
    /// its tasks outlive this one.
    pub executor_host: ProcessId,
    /// The coordinator (ZooKeeper) through which it detects the leader.
    pub coordinator: ProcessId,
    /// The machine's capacity, advertised on registration and compared with
    /// the checkpoint at recovery (`reconfiguration_policy`).
    pub resources: Resources,
    /// Every timeout and backoff it uses (Mesos's defaults: [`Timing`]).
    pub timing: Timing,
    /// The machine's current boot ID (changes on every reboot). The harness
    /// supplies it as a real agent reads `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// A planted defect (the bug zoo), if any.
    #[serde(default)]
    pub bug: Option<crate::bugs::Bug>,
    /// What a restart may change of the machine's configured resources and
    /// still keep the agent's ID (Mesos `--reconfiguration_policy`).
    #[serde(default)]
    pub reconfiguration_policy: ReconfigurationPolicy,
}

/// Mesos's `--reconfiguration_policy`: how a restarted agent whose configured
/// resources differ from its checkpoint treats the change (`Slave::recover`,
/// `Slave::compatible`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconfigurationPolicy {
    /// Any change is incompatible (Mesos's default): under one agent ID, the
    /// machine a master and its frameworks were told of never changes (before
    /// Mesos 1.5 masters assumed exactly that of an ID's `SlaveInfo`).
    #[default]
    Equal,
    /// Resources may grow, never shrink: nothing a master or framework counts
    /// on disappears.
    Additive,
}

/// A task on this agent: names its status update stream, its retry timer and
/// its log ([`checkpoint::updates_path`]), as Mesos keys its streams.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskKey {
    /// The task's framework.
    pub framework_id: FrameworkId,
    /// The task's ID, unique within its framework.
    pub task_id: TaskId,
}

/// The agent's timers; at most one is pending per value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentTimer {
    /// The embedded coordinator client's own timers, handed back to it.
    Coordinator(ClientTimer),
    /// Send the next (re-)registration attempt, or dial again (Mesos
    /// `agentRegistrationTimer`).
    RegisterRetry,
    /// Resend the unacknowledged head of a task's status update stream. One
    /// per task; cancelled when the head is acknowledged.
    StatusRetry(TaskKey),
    /// No ping from the master for `agent_ping_timeout × max_agent_ping_timeouts`.
    /// Every accepted ping re-arms it, so it fires only when the leader is
    /// silent: dead, cut off, or no longer pinging this agent.
    PingTimeout,
    /// The executor re-registration window after an agent restart closed:
    /// executors not back are given up, and recovery completes (master
    /// detection starts only then, as in Mesos).
    ExecutorReregisterTimeout,
    /// Launches queued for the executor host waited
    /// `executor_registration_timeout`: they fail.
    ExecutorRegistrationTimeout,
}

/// Tags of the agent's requests to the coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentRequest {
    /// Listing `/mesos/masters`, with a watch (leader detection).
    ListMasters,
}

// The agent's link to the leading master is the one type agents and
// schedulers share (`crate::link`), with its asserting transitions.
pub use crate::link::MasterLink;

/// The agent's link to the executor host (Mesos: each executor's
/// `REGISTERING` / `RUNNING` state, folded into one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutorHostLink {
    /// Not registered. `expected` is true while recovered tasks wait for it.
    Disconnected {
        /// From a restart with live tasks until the re-registration window closes.
        expected: bool,
    },
    /// Registered: launches and kills go straight to it.
    Registered,
}

/// One task on this agent, with its status update stream. The `TaskInfo` is
/// in the state file; the rest is replayed from the task's update log.
/// Mesos keeps the same facts in two places: the `Task` in its executor's
/// `launchedTasks` / `terminatedTasks`, and the `TaskStatusUpdateStream`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct AgentTask {
    /// The task as launched (a stand-in for a task the agent never had:
    /// tasks.rs, `open_unknown_task_stream`).
    pub info: TaskInfo,
    /// The latest state (the tail of the stream, or the last acknowledged one).
    pub state: TaskState,
    /// Updates not yet acknowledged by the framework; the head is in flight
    /// (tasks.rs, `send_stream_head`), the others wait their turn.
    pub pending_updates: VecDeque<StatusUpdate>,
    /// Counter for the uuids of updates the agent itself makes (recovered
    /// from the log, so a uuid is never used twice).
    pub agent_updates: u32,
    /// Uuids the framework already acknowledged (replayed from the log's
    /// `Ack` records): an executor resending one — its acknowledgement from
    /// the agent was lost — is acknowledged again and dropped, never delivered
    /// twice (Mesos `TaskStatusUpdateStream::update` ignores an update whose
    /// uuid was acknowledged).
    #[serde(default)]
    pub acknowledged: BTreeSet<UpdateUuid>,
    /// The state of the last update this agent process forwarded to a master
    /// (Mesos sets `Task.status_update_state` in `Slave::forward`): what it
    /// reports on re-registration, so a new leader answers reconciliation
    /// with it. Volatile: an agent restarted from its checkpoint has
    /// forwarded nothing yet and reports none. (`serde(skip)` only keeps it
    /// out of the harness's state snapshots: no `AgentTask` is ever on disk.)
    #[serde(skip)]
    pub forwarded: Option<TaskState>,
}

/// A log whose torn tail recovery dropped: rewritten to its valid prefix at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Truncation {
    /// The log's path.
    pub(super) path: String,
    /// Its valid prefix, to write back.
    pub(super) valid: Vec<u8>,
    /// The torn tail's length, for the trace.
    pub(super) dropped_bytes: usize,
}
