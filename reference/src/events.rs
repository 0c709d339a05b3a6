//! Observable events: what a role wants the trace (and the checkers, and a human
//! reading the timeline) to know happened inside it.
//!
//! Messages and faults are traced by the driver; events record *decisions* —
//! "I became leader of epoch 4", "I ignored a command from a master that is not
//! the leader", "this task started". Invariant checkers read them, so each event
//! says enough to check a property without looking at the role's state.

use crate::ids::{AgentId, FrameworkId, ProcessId, SessionId, TaskId, UpdateUuid};
use crate::task_state::{Reason, Source, TaskState};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    // ----- coordinator -----
    SessionCreated {
        session: SessionId,
        owner: ProcessId,
    },
    SessionExpired {
        session: SessionId,
        owner: ProcessId,
    },
    NodeCreated {
        path: String,
        owner: ProcessId,
    },
    NodeDeleted {
        path: String,
    },

    // ----- any coordinator client -----
    /// The client's session is (again) usable.
    CoordSessionReady {
        session: SessionId,
        resumed: bool,
    },
    /// The client gave up on its session: told by the coordinator, or because a
    /// whole session timeout passed without an answered heartbeat.
    CoordSessionLost {
        session: SessionId,
        locally: bool,
    },
    /// The leader a detector sees changed (`None`: no leader).
    LeaderDetected {
        leader: Option<ProcessId>,
        epoch: Option<u64>,
    },

    // ----- master -----
    MasterContending {
        sequence: u64,
    },
    ElectedLeader {
        epoch: u64,
    },
    /// The new leader read the registry and starts accepting (re-)registrations.
    LeaderRecovered {
        epoch: u64,
        admitted_agents: usize,
    },
    MasterStandby {
        leader: Option<ProcessId>,
    },
    AgentAdmitted {
        agent_id: AgentId,
        agent: ProcessId,
    },
    AgentReregistered {
        agent_id: AgentId,
        agent: ProcessId,
        tasks: usize,
    },
    AgentDisconnected {
        agent_id: AgentId,
    },
    AgentUnreachable {
        agent_id: AgentId,
    },
    FrameworkRegistered {
        framework_id: FrameworkId,
        scheduler: ProcessId,
    },
    FrameworkReregistered {
        framework_id: FrameworkId,
        scheduler: ProcessId,
        failover: bool,
    },
    FrameworkDeactivated {
        framework_id: FrameworkId,
    },
    /// No scheduler re-registered within the framework's failover timeout:
    /// the master removed the framework and shut its tasks down.
    FrameworkRemoved {
        framework_id: FrameworkId,
        tasks: usize,
    },
    /// An explicit reconciliation question got no answer: the task is unknown
    /// and its agent (or some agent, when none was named) was recovered from
    /// the registry and has not re-registered yet. The framework must ask
    /// again (Mesos `Master::reconcile`, case 2).
    ReconciliationDropped {
        framework_id: FrameworkId,
        task_id: TaskId,
    },
    /// An offer operation failed validation and was dropped.
    OperationRefused {
        framework_id: FrameworkId,
        operation: String,
        reason: String,
    },
    TaskLaunched {
        framework_id: FrameworkId,
        task_id: TaskId,
        agent_id: AgentId,
    },
    /// A role received a message it must not act on, and says why.
    MessageIgnored {
        from: ProcessId,
        kind: String,
        why: String,
    },

    // ----- agent -----
    AgentRecovered {
        agent_id: Option<AgentId>,
        tasks: usize,
    },
    /// Recovery found a torn or corrupt tail in a checkpoint log and cut the
    /// log back to its last complete record.
    CheckpointTruncated {
        path: String,
        kept_bytes: usize,
        dropped_bytes: usize,
    },
    AgentRegisteredWith {
        master: ProcessId,
        epoch: u64,
        agent_id: AgentId,
        reregistered: bool,
    },
    /// An agent acts on a command (run, kill, acknowledge, shut down) from the
    /// master of `epoch`. Checkers verify that epoch is the current one.
    AgentAcceptedCommand {
        master: ProcessId,
        epoch: u64,
        kind: String,
    },

    // ----- executor host -----
    /// A task's process started on this machine (counted per task ID by the
    /// "no task started twice" checks).
    TaskStarted {
        framework_id: FrameworkId,
        task_id: TaskId,
    },
    TaskExited {
        framework_id: FrameworkId,
        task_id: TaskId,
        state: TaskState,
    },

    /// A database task read its volume on start: `records` complete records,
    /// the last numbered `last`.
    DbRecovered {
        task_id: TaskId,
        volume: String,
        records: u64,
        last: u64,
    },
    /// A database task acknowledged record `record` to its client, once it was
    /// durable (fsynced locally, or on a quorum of store nodes), `latency_ms`
    /// after the write began.
    DbRecordAcked {
        task_id: TaskId,
        volume: String,
        record: u64,
        latency_ms: u64,
    },
    /// A database write got no quorum in time (the store was not writable).
    DbWriteFailed {
        task_id: TaskId,
        volume: String,
        record: u64,
    },

    // ----- scheduler -----
    /// This instance won the framework's election and read its state.
    SchedulerActive {
        framework_id: Option<FrameworkId>,
        known_tasks: usize,
    },
    SchedulerRegistered {
        framework_id: FrameworkId,
        master: ProcessId,
        epoch: u64,
        reregistered: bool,
    },
    /// The agent put a status update in its task's stream, durably (recorded
    /// after the checkpoint write completes), so it answers for delivering it
    /// at least once: the update the framework must hear.
    UpdateQueued {
        framework_id: FrameworkId,
        task_id: TaskId,
        uuid: UpdateUuid,
        state: TaskState,
    },
    /// A status update reached the framework's scheduler: the framework's view.
    UpdateReceived {
        framework_id: FrameworkId,
        task_id: TaskId,
        state: TaskState,
        reason: Option<Reason>,
        source: Source,
        /// The task's latest state when the agent (re)sent this update: a
        /// retried older update carries the newer state it is behind.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest_state: Option<TaskState>,
        /// The update's ID (none for the master's own updates).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uuid: Option<UpdateUuid>,
    },
    SchedulerLaunching {
        task_id: TaskId,
        agent_id: AgentId,
    },
    /// The master refused one of this scheduler's offer operations.
    OperationErrorReceived {
        operation: String,
        message: String,
    },
    SchedulerKilling {
        task_id: TaskId,
    },
    SchedulerError {
        message: String,
    },
    /// This instance stopped being the framework's active instance.
    SchedulerSteppedDown {
        why: String,
    },

    // ----- an adversarial framework (reference/src/scheduler/adversary/mod.rs) -----
    // Added last: traces are JSON, so older traces read the same.
    /// An adversarial framework made one of its deliberately wrong calls
    /// (`action`, e.g. `reuse_live_task_id`), about `task_id` if it names a
    /// task; `expected` is what Mesos answers to that call.
    AdversaryCall {
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<TaskId>,
        detail: String,
        expected: String,
    },
    /// What the master answered to an adversarial call: the update or
    /// operation error the framework heard, or `no answer` when none came
    /// within the adversary's patience.
    AdversaryAnswered {
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<TaskId>,
        expected: String,
        answer: String,
    },
}
