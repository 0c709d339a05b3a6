//! Observable events: what a role wants the trace (and the checkers, and a human
//! reading the timeline) to know happened inside it.
//!
//! Messages and faults are traced by the driver; events record *decisions* —
//! "I became leader of epoch 4", "I ignored a command from a master that is not
//! the leader", "this task started". Invariant checkers read them, so each event
//! says enough to check a property without looking at the role's state.
//!
//! A role emits an event with [`crate::io::Outputs::event`]; the driver records
//! it in the trace at the simulated time of the input that caused it, under the
//! emitting process's name (so no event needs a field saying who emitted it).
//! Mesos has no such stream: the nearest things are its log lines (`LOG(INFO)
//! << "Elected as the leading master!"` in `Master::detected`) and its metrics.
//! Here the events *are* the interface between the system under test and the
//! harness, so their meaning is fixed: the checkers in harness/src/checkers.rs
//! (`epoch_order`, `one_copy_at_a_time`, `definite_is_final`,
//! `update_delivery`, `framework_identity`, `acked_data_kept`,
//! `reserved_only_to_role`) and the timeline read them, never the roles' state.
//!
//! Traces are stored as JSON and compared across versions, so variants are
//! only ever appended, and new optional fields carry `#[serde(default)]`.

use crate::ids::{AgentId, FrameworkId, ProcessId, SessionId, TaskId, UpdateUuid};
use crate::task_state::{Reason, Source, TaskState};
use serde::{Deserialize, Serialize};

/// One decision a role made, as recorded in the trace. Grouped by the role
/// that emits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    // ----- coordinator -----
    /// The coordinator opened a session (`crate::coordinator`).
    SessionCreated {
        /// The new session's ID.
        session: SessionId,
        /// The process that asked for it and will own its ephemeral nodes.
        owner: ProcessId,
    },
    /// The coordinator expired a session: a whole timeout passed without a
    /// request from its owner. Its ephemeral nodes are deleted right after
    /// (each traced as [`Event::NodeDeleted`]). For a master, this is the
    /// moment another master may start to lead.
    SessionExpired {
        /// The expired session.
        session: SessionId,
        /// Its owner, which may not know yet (it learns on reconnect, or
        /// gave the session up locally already).
        owner: ProcessId,
    },
    /// A node was created (by `Create`, or by a `SetData` that found none).
    /// With [`Event::NodeDeleted`] this lets the `epoch_order` checker follow
    /// the candidacy nodes, hence which epoch is current at every instant.
    NodeCreated {
        /// The full path, sequence number included for a sequential node.
        path: String,
        /// The process whose session created it.
        owner: ProcessId,
    },
    /// A node was deleted, explicitly or because its owner's session expired.
    NodeDeleted {
        /// The full path of the deleted node.
        path: String,
    },

    // ----- any coordinator client -----
    /// The client's session is (again) usable.
    CoordSessionReady {
        /// The session now usable.
        session: SessionId,
        /// `true` if an existing session was resumed after a reconnect,
        /// `false` if it is a new one.
        resumed: bool,
    },
    /// The client gave up on its session: told by the coordinator, or because a
    /// whole session timeout passed without an answered heartbeat.
    CoordSessionLost {
        /// The session given up.
        session: SessionId,
        /// `true` if the client's own deadline passed (it may not have
        /// expired at the coordinator yet); `false` if the coordinator said so.
        locally: bool,
    },
    /// The leader a detector sees changed (`None`: no leader).
    /// Emitted by agents and schedulers (`Slave::detected` and the scheduler
    /// driver's `detected` in Mesos); masters trace their own view with
    /// [`Event::ElectedLeader`] and [`Event::MasterStandby`].
    LeaderDetected {
        /// The leading master's process, or `None` if no candidate exists
        /// (or the session was lost).
        leader: Option<ProcessId>,
        /// Its epoch (the sequence number of its candidacy node).
        epoch: Option<u64>,
    },

    // ----- master -----
    /// The master created its candidacy node and waits to learn who leads
    /// (Mesos: `Master::contended`).
    MasterContending {
        /// The sequence number of its candidacy: the epoch it would lead.
        sequence: u64,
    },
    /// The master found its candidacy lowest and leads from now on (Mesos:
    /// `Master::detected`, "Elected as the leading master!"). It still has to
    /// read the registry before it accepts anything ([`Event::LeaderRecovered`]).
    ElectedLeader {
        /// The epoch it leads: every ID it assigns and every command it sends
        /// carries it.
        epoch: u64,
    },
    /// The new leader read the registry and starts accepting (re-)registrations.
    /// Mesos: `Master::_recover`, which also arms the agent re-registration
    /// timeout (`--agent_reregister_timeout`).
    LeaderRecovered {
        /// The epoch of the leader that recovered.
        epoch: u64,
        /// How many admitted agents the registry lists: the agents this leader
        /// waits for before the re-registration timeout marks them unreachable.
        admitted_agents: usize,
    },
    /// The master found another candidacy lowest: it is a hot standby.
    MasterStandby {
        /// The leader it saw in the listing (an `Option` only because the
        /// detector's answer is one; the listing holds this master's own
        /// candidacy, so some candidacy is always lowest).
        leader: Option<ProcessId>,
    },
    /// The leader admitted a new agent, once the registry write recording it
    /// succeeded (Mesos: `Master::__registerSlave`, run when the registrar's
    /// `AdmitSlave` has been stored).
    AgentAdmitted {
        /// The ID the leader assigned (`e<epoch>-S<n>`).
        agent_id: AgentId,
        /// The agent's process.
        agent: ProcessId,
    },
    /// An agent known from the registry (or marked unreachable) came back
    /// with its tasks (Mesos: `Master::_reregisterSlave`). This is how a new
    /// leader rebuilds its view of the running tasks.
    AgentReregistered {
        /// The agent's ID, unchanged since its first registration.
        agent_id: AgentId,
        /// The agent's process.
        agent: ProcessId,
        /// How many tasks the agent reported running.
        tasks: usize,
    },
    /// The connection to a registered agent broke; the agent stays in the
    /// soft state, its offers are rescinded, and health checks decide whether
    /// it is unreachable (Mesos: `Master::disconnect(Slave*)`).
    AgentDisconnected {
        /// The agent whose connection broke.
        agent_id: AgentId,
    },
    /// The leader recorded an agent as unreachable in the registry (missed
    /// `max_agent_ping_timeouts` pings, or never re-registered after a
    /// failover) and removed it from its soft state; its tasks become
    /// `TASK_UNREACHABLE` or `TASK_LOST` (Mesos: `Master::markUnreachable`).
    AgentUnreachable {
        /// The agent marked unreachable.
        agent_id: AgentId,
    },
    /// The leader registered a new framework and assigned its ID.
    FrameworkRegistered {
        /// The ID assigned (`e<epoch>-F<n>`).
        framework_id: FrameworkId,
        /// The scheduler instance that registered it.
        scheduler: ProcessId,
    },
    /// A framework re-registered under its existing ID: a new leader hearing
    /// from it, or a scheduler failover. The `framework_identity` checker
    /// reads this with [`Event::FrameworkRegistered`]: one framework name
    /// must not end up with two live IDs.
    FrameworkReregistered {
        /// The framework's ID.
        framework_id: FrameworkId,
        /// The scheduler instance that re-registered it.
        scheduler: ProcessId,
        /// Whether the scheduler said `failover = true` (a new instance
        /// taking over rather than the same one reconnecting).
        failover: bool,
    },
    /// The framework's scheduler disconnected: the master stops offering to it
    /// and starts its failover timeout (Mesos: `Master::deactivate`).
    FrameworkDeactivated {
        /// The framework deactivated.
        framework_id: FrameworkId,
    },
    /// No scheduler re-registered within the framework's failover timeout:
    /// the master removed the framework and shut its tasks down.
    FrameworkRemoved {
        /// The framework removed.
        framework_id: FrameworkId,
        /// How many tasks it had, all told to shut down.
        tasks: usize,
    },
    /// An explicit reconciliation question got no answer: the task is unknown
    /// and its agent (or some agent, when none was named) was recovered from
    /// the registry and has not re-registered yet. The framework must ask
    /// again (Mesos `Master::reconcile`, case 2).
    ReconciliationDropped {
        /// The asking framework.
        framework_id: FrameworkId,
        /// The task it asked about.
        task_id: TaskId,
    },
    /// An offer operation failed validation and was dropped.
    OperationRefused {
        /// The framework whose `Accept` carried the operation.
        framework_id: FrameworkId,
        /// The operation's name (`RESERVE`, `CREATE`, ...).
        operation: String,
        /// Why it was refused, in the words sent to the framework.
        reason: String,
    },
    /// The leader accepted a launch and sent it to the agent (Mesos:
    /// `Master::_accept` → `RunTaskMessage`). The `one_copy_at_a_time` and
    /// `update_delivery` checkers count launches per task ID from this.
    TaskLaunched {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// The agent it was sent to.
        agent_id: AgentId,
    },
    /// A role received a message it must not act on, and says why.
    /// The commonest: a message from a master that is not the detected leader
    /// (the rule that fences a deposed leader), or one of a stale epoch.
    MessageIgnored {
        /// The sender.
        from: ProcessId,
        /// The message's kind ([`crate::messages::Message::kind`]).
        kind: String,
        /// The rule that made the role ignore it.
        why: String,
    },

    // ----- agent -----
    /// The agent process started and rebuilt itself from its checkpoint
    /// (Mesos: `Slave::recover`). Emitted on every start, including the very
    /// first (no ID, no tasks).
    AgentRecovered {
        /// The checkpointed agent ID, if it ever registered.
        agent_id: Option<AgentId>,
        /// How many tasks the checkpoint listed.
        tasks: usize,
    },
    /// Recovery found a torn or corrupt tail in a checkpoint log and cut the
    /// log back to its last complete record.
    /// Mesos: `TaskState::recover` (src/slave/state.cpp) truncates the status
    /// updates file after the last record `protobuf::read` could parse.
    CheckpointTruncated {
        /// The log cut back.
        path: String,
        /// Bytes of complete records kept.
        kept_bytes: usize,
        /// Bytes of the torn or corrupt tail dropped.
        dropped_bytes: usize,
    },
    /// The agent heard `AgentRegistered` / `AgentReregistered` from the
    /// leader it detected and now takes commands from it.
    AgentRegisteredWith {
        /// The master it registered with.
        master: ProcessId,
        /// That master's epoch.
        epoch: u64,
        /// The agent's ID (assigned now, or the checkpointed one confirmed).
        agent_id: AgentId,
        /// `true` for a re-registration (the agent already had an ID).
        reregistered: bool,
    },
    /// An agent acts on a command (run, kill, acknowledge, shut down) from the
    /// master of `epoch`. Checkers verify that epoch is the current one.
    AgentAcceptedCommand {
        /// The master that sent the command.
        master: ProcessId,
        /// The epoch the command carried.
        epoch: u64,
        /// The command's message kind (`RunTask`, `KillTask`, ...).
        kind: String,
    },

    // ----- executor host -----
    /// A task's process started on this machine (counted per task ID by the
    /// "no task started twice" checks).
    TaskStarted {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
    },
    /// A task's process ended on this machine, in a terminal state (finished,
    /// failed, killed). With [`Event::TaskStarted`], this tells the checkers
    /// where a copy of each task runs at every instant.
    TaskExited {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// The terminal state it ended in.
        state: TaskState,
    },

    /// A database task read its volume on start: `records` complete records,
    /// the last numbered `last`.
    /// The `acked_data_kept` checker compares `last` with the records
    /// acknowledged before: an acknowledged record must never be missing.
    DbRecovered {
        /// The database task.
        task_id: TaskId,
        /// The volume's data path (or the store it writes through).
        volume: String,
        /// Complete records found.
        records: u64,
        /// The number of the last one (0 if none).
        last: u64,
    },
    /// A database task acknowledged record `record` to its client, once it was
    /// durable (fsynced locally, or on a quorum of store nodes), `latency_ms`
    /// after the write began.
    DbRecordAcked {
        /// The database task.
        task_id: TaskId,
        /// The volume's data path (or the store).
        volume: String,
        /// The record's number.
        record: u64,
        /// Time from the start of the write to its acknowledgement.
        latency_ms: u64,
    },
    /// A database write got no quorum in time (the store was not writable).
    DbWriteFailed {
        /// The database task.
        task_id: TaskId,
        /// The store it writes through.
        volume: String,
        /// The record that was not acknowledged.
        record: u64,
    },

    // ----- scheduler -----
    /// This instance won the framework's election and read its state.
    SchedulerActive {
        /// The stored framework ID, if the framework ever registered: the ID
        /// it must re-register under (`None`: register anew).
        framework_id: Option<FrameworkId>,
        /// How many tasks the stored state lists.
        known_tasks: usize,
    },
    /// The scheduler heard `FrameworkRegistered` / `FrameworkReregistered`
    /// from the leader (Mesos's `Scheduler::registered` / `reregistered`
    /// callbacks).
    SchedulerRegistered {
        /// The framework's ID.
        framework_id: FrameworkId,
        /// The master that answered.
        master: ProcessId,
        /// Its epoch.
        epoch: u64,
        /// `true` for a re-registration under an existing ID.
        reregistered: bool,
    },
    /// The agent put a status update in its task's stream, durably (recorded
    /// after the checkpoint write completes), so it answers for delivering it
    /// at least once: the update the framework must hear.
    UpdateQueued {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// The update's ID: the `update_delivery` checker matches it with
        /// [`Event::UpdateReceived`].
        uuid: UpdateUuid,
        /// The state it reports.
        state: TaskState,
    },
    /// A status update reached the framework's scheduler: the framework's view.
    UpdateReceived {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// The state reported.
        state: TaskState,
        /// Why, if the sender gave a reason (`RECONCILIATION`,
        /// `AGENT_REMOVED`, ...: Mesos's `REASON_*` values).
        reason: Option<Reason>,
        /// Who generated it: executor, agent or master.
        source: Source,
        /// The task's latest state when the agent (re)sent this update: a
        /// retried older update carries the newer state it is behind.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest_state: Option<TaskState>,
        /// The update's ID (none for the master's own updates).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uuid: Option<UpdateUuid>,
    },
    /// The scheduler decided to launch a task on an offer (before the
    /// `Accept` is sent; the intent is written to its state first).
    SchedulerLaunching {
        /// The task it launches.
        task_id: TaskId,
        /// The agent of the offer it uses.
        agent_id: AgentId,
    },
    /// The master refused one of this scheduler's offer operations.
    OperationErrorReceived {
        /// The operation's name.
        operation: String,
        /// The master's explanation.
        message: String,
    },
    /// The scheduler asked the master to kill a task.
    SchedulerKilling {
        /// The task to kill.
        task_id: TaskId,
    },
    /// The scheduler stopped for good: a `FrameworkError` from the master
    /// ("framework failed over", ...; Mesos's `Scheduler::error`, after which
    /// the driver aborts), a corrupt stored state, or its own teardown.
    SchedulerError {
        /// The error, as the master worded it.
        message: String,
    },
    /// This instance stopped being the framework's active instance.
    SchedulerSteppedDown {
        /// Why (lost its session, another instance took over, ...).
        why: String,
    },

    // ----- an adversarial framework (reference/src/scheduler/adversary/mod.rs) -----
    // Added last: traces are JSON, so older traces read the same.
    /// An adversarial framework made one of its deliberately wrong calls
    /// (`action`, e.g. `reuse_live_task_id`), about `task_id` if it names a
    /// task; `expected` is what Mesos answers to that call.
    AdversaryCall {
        /// The action's name (the table in the adversary's module doc).
        action: String,
        /// The task the call is about, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<TaskId>,
        /// What exactly was sent, for a human reading the trace.
        detail: String,
        /// The answer Mesos gives to this call.
        expected: String,
    },
    /// What the master answered to an adversarial call: the update or
    /// operation error the framework heard, or `no answer` when none came
    /// within the adversary's patience.
    AdversaryAnswered {
        /// The action answered.
        action: String,
        /// The task the call was about, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<TaskId>,
        /// What Mesos answers (copied from the call, so the two can be
        /// compared without pairing records).
        expected: String,
        /// What the master actually answered.
        answer: String,
    },
}
