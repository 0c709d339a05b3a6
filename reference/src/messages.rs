//! Every message that crosses a (simulated) TCP connection between two roles.
//!
//! Names follow Mesos's protobuf messages where there is one (`RegisterSlaveMessage`
//! becomes [`Message::RegisterAgent`], and so on); the meaning is the same even
//! where the fields are fewer. Messages a leading master sends to agents and
//! schedulers carry its `epoch`, so that a receiver — and the checkers — can tell
//! which leader a command came from.
//!
//! The driver frames each message (length-prefixed, serde-encoded); roles never
//! see bytes.

use crate::framework::FrameworkInfo;
use crate::ids::{AgentId, FrameworkId, OfferId, ProcessId, SessionId, TaskId, UpdateUuid};
use crate::resources::{AgentResources, Resources, RoleResources, Volume};
use crate::task::{ReportedTask, StatusUpdate, TaskInfo};
use crate::task_state::TaskState;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    // ----- coordinator (ZooKeeper) protocol -----
    /// A client request; `xid` matches the response to it.
    CoordRequest {
        xid: u64,
        session: Option<SessionId>,
        op: CoordOp,
    },
    CoordResponse {
        xid: u64,
        result: Result<CoordReply, CoordError>,
    },
    /// A one-shot watch fired (ZooKeeper `WatchedEvent`).
    CoordWatch {
        path: String,
        kind: WatchKind,
    },
    /// The coordinator expired the client's session (sent if it is connected).
    CoordSessionExpired {
        session: SessionId,
    },

    // ----- agent <-> master -----
    /// First registration of an agent that has no ID yet. Its resources
    /// include the reservations and volumes checkpointed on its disk (an agent
    /// shut down and registering afresh keeps them).
    RegisterAgent {
        resources: AgentResources,
        boot_id: String,
    },
    /// Re-registration under a known ID: after a leader change, a lost
    /// connection, or an agent restart. Carries every task the agent runs, which
    /// is how a new leader rebuilds its task table.
    ReregisterAgent {
        agent_id: AgentId,
        resources: AgentResources,
        boot_id: String,
        frameworks: Vec<FrameworkInfo>,
        tasks: Vec<ReportedTask>,
    },
    AgentRegistered {
        epoch: u64,
        agent_id: AgentId,
    },
    AgentReregistered {
        epoch: u64,
        agent_id: AgentId,
    },
    /// The master tells an agent it must shut down (a removed agent returning
    /// under `removed_agent_policy = "shutdown"`, or an agent marked gone).
    ShutdownAgent {
        epoch: u64,
        message: String,
    },
    /// Health check (master -> agent) and its answer.
    Ping {
        epoch: u64,
    },
    Pong,
    /// Launch a task on an agent (master -> agent).
    RunTask {
        epoch: u64,
        /// Boxed: it and the task are the largest parts of any message.
        framework: Box<FrameworkInfo>,
        task: TaskInfo,
    },
    /// Kill a task on an agent (master -> agent).
    KillTask {
        epoch: u64,
        framework_id: FrameworkId,
        task_id: TaskId,
    },
    /// Reservations and volumes to apply (master -> agent), in order, before
    /// any launch of the same accept. The agent checkpoints them.
    ApplyOperations {
        epoch: u64,
        operations: Vec<Operation>,
    },
    /// Tell an agent to shut down all of a framework's tasks.
    ShutdownFramework {
        epoch: u64,
        framework_id: FrameworkId,
    },
    /// A status update: agent -> master, and master -> scheduler (forwarded).
    StatusUpdate {
        update: StatusUpdate,
    },
    /// A framework's acknowledgement relayed by the master to the agent.
    StatusUpdateAcknowledgement {
        epoch: u64,
        framework_id: FrameworkId,
        task_id: TaskId,
        uuid: UpdateUuid,
    },

    // ----- scheduler <-> master -----
    RegisterFramework {
        info: FrameworkInfo,
    },
    /// `failover` is true when a *new* scheduler instance takes over an existing
    /// framework (the master then disconnects the old instance).
    ReregisterFramework {
        info: FrameworkInfo,
        failover: bool,
    },
    FrameworkRegistered {
        epoch: u64,
        framework_id: FrameworkId,
    },
    FrameworkReregistered {
        epoch: u64,
        framework_id: FrameworkId,
    },
    /// The master refuses or ends the framework's session ("framework failed
    /// over", "framework removed", "principal cannot change").
    FrameworkError {
        epoch: u64,
        message: String,
    },
    ResourceOffers {
        epoch: u64,
        offers: Vec<Offer>,
    },
    /// An offer operation was invalid and dropped (the others of the accept
    /// were applied); says why.
    OperationError {
        epoch: u64,
        operation: Operation,
        message: String,
    },
    RescindOffer {
        epoch: u64,
        offer_id: OfferId,
    },
    Accept {
        framework_id: FrameworkId,
        offer_ids: Vec<OfferId>,
        operations: Vec<Operation>,
    },
    Decline {
        framework_id: FrameworkId,
        offer_ids: Vec<OfferId>,
        refuse_ms: u64,
    },
    /// A scheduler asks to kill a task.
    Kill {
        framework_id: FrameworkId,
        task_id: TaskId,
    },
    /// A scheduler acknowledges a status update.
    Acknowledge {
        framework_id: FrameworkId,
        agent_id: AgentId,
        task_id: TaskId,
        uuid: UpdateUuid,
    },
    /// Explicit reconciliation names tasks; an empty list is implicit
    /// reconciliation ("tell me about all my tasks").
    Reconcile {
        framework_id: FrameworkId,
        tasks: Vec<ReconcileTask>,
    },

    // ----- a database's store (storage servers, replica tasks) -----
    /// Store record `record` of dataset `store` durably, then acknowledge.
    StoreWrite {
        store: String,
        record: u64,
    },
    /// The record is fsynced on this node.
    StoreAck {
        store: String,
        record: u64,
    },
    /// Which records do you hold?
    StoreRead {
        store: String,
    },
    /// The highest record this node holds.
    StoreState {
        store: String,
        last: u64,
    },

    // ----- executor host <-> agent (same machine, still over TCP) -----
    /// The executor host (re-)registers with its agent and reports the tasks it
    /// runs and the updates the agent has not acknowledged yet.
    RegisterExecutorHost {
        tasks: Vec<ExecutorTaskReport>,
        unacknowledged: Vec<StatusUpdate>,
    },
    ExecutorHostRegistered,
    LaunchTask {
        framework_id: FrameworkId,
        task: TaskInfo,
    },
    KillTaskInExecutor {
        framework_id: FrameworkId,
        task_id: TaskId,
    },
    ExecutorStatusUpdate {
        update: StatusUpdate,
    },
    ExecutorStatusUpdateAck {
        framework_id: FrameworkId,
        task_id: TaskId,
        uuid: UpdateUuid,
    },

    // ----- scheduler -> master (added last: the wire encoding numbers variants) -----
    /// A scheduler tears its framework down for good (Mesos `TEARDOWN`,
    /// `UnregisterFrameworkMessage`): the master removes it at once, as when
    /// its failover timeout passes (`Master::teardown` → `removeFramework`).
    Teardown {
        framework_id: FrameworkId,
    },

    // ----- master -> agent (added last, as above) -----
    /// Right after `AgentReregistered`, for an agent the leader already had
    /// registered: tasks the leader believes run there but the agent did not
    /// report (a `RunTask` lost on the way, or the agent died before
    /// checkpointing it). The agent answers each task it does not know with a
    /// reliable `TASK_DROPPED` (`TASK_LOST` if the framework is not
    /// partition-aware), reason `RECONCILIATION`, from the agent. Mesos carries
    /// these as `SlaveReregisteredMessage.reconciliations`
    /// (`Master::reconcileKnownSlave`, `Slave::reregistered`).
    AgentReconcileTasks {
        epoch: u64,
        framework: Box<FrameworkInfo>,
        task_ids: Vec<TaskId>,
    },
}

impl Message {
    /// A short name for the message kind, used by scenario files
    /// (`drop_next = { kind = "StatusUpdate" }`) and the text timeline.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::CoordRequest { .. } => "CoordRequest",
            Message::CoordResponse { .. } => "CoordResponse",
            Message::CoordWatch { .. } => "CoordWatch",
            Message::CoordSessionExpired { .. } => "CoordSessionExpired",
            Message::RegisterAgent { .. } => "RegisterAgent",
            Message::ReregisterAgent { .. } => "ReregisterAgent",
            Message::AgentRegistered { .. } => "AgentRegistered",
            Message::AgentReregistered { .. } => "AgentReregistered",
            Message::ShutdownAgent { .. } => "ShutdownAgent",
            Message::Ping { .. } => "Ping",
            Message::Pong => "Pong",
            Message::RunTask { .. } => "RunTask",
            Message::KillTask { .. } => "KillTask",
            Message::ShutdownFramework { .. } => "ShutdownFramework",
            Message::ApplyOperations { .. } => "ApplyOperations",
            Message::OperationError { .. } => "OperationError",
            Message::StatusUpdate { .. } => "StatusUpdate",
            Message::StatusUpdateAcknowledgement { .. } => "StatusUpdateAcknowledgement",
            Message::RegisterFramework { .. } => "RegisterFramework",
            Message::ReregisterFramework { .. } => "ReregisterFramework",
            Message::FrameworkRegistered { .. } => "FrameworkRegistered",
            Message::FrameworkReregistered { .. } => "FrameworkReregistered",
            Message::FrameworkError { .. } => "FrameworkError",
            Message::ResourceOffers { .. } => "ResourceOffers",
            Message::RescindOffer { .. } => "RescindOffer",
            Message::Accept { .. } => "Accept",
            Message::Decline { .. } => "Decline",
            Message::Kill { .. } => "Kill",
            Message::Acknowledge { .. } => "Acknowledge",
            Message::Reconcile { .. } => "Reconcile",
            Message::RegisterExecutorHost { .. } => "RegisterExecutorHost",
            Message::ExecutorHostRegistered => "ExecutorHostRegistered",
            Message::LaunchTask { .. } => "LaunchTask",
            Message::KillTaskInExecutor { .. } => "KillTaskInExecutor",
            Message::ExecutorStatusUpdate { .. } => "ExecutorStatusUpdate",
            Message::ExecutorStatusUpdateAck { .. } => "ExecutorStatusUpdateAck",
            Message::StoreWrite { .. } => "StoreWrite",
            Message::StoreAck { .. } => "StoreAck",
            Message::StoreRead { .. } => "StoreRead",
            Message::StoreState { .. } => "StoreState",
            Message::Teardown { .. } => "Teardown",
            Message::AgentReconcileTasks { .. } => "AgentReconcileTasks",
        }
    }

    /// Every kind name, so a scenario file naming an unknown kind can be refused.
    pub const KINDS: [&'static str; 42] = [
        "Teardown",
        "AgentReconcileTasks",
        "StoreWrite",
        "StoreAck",
        "StoreRead",
        "StoreState",
        "ApplyOperations",
        "OperationError",
        "CoordRequest",
        "CoordResponse",
        "CoordWatch",
        "CoordSessionExpired",
        "RegisterAgent",
        "ReregisterAgent",
        "AgentRegistered",
        "AgentReregistered",
        "ShutdownAgent",
        "Ping",
        "Pong",
        "RunTask",
        "KillTask",
        "ShutdownFramework",
        "StatusUpdate",
        "StatusUpdateAcknowledgement",
        "RegisterFramework",
        "ReregisterFramework",
        "FrameworkRegistered",
        "FrameworkReregistered",
        "FrameworkError",
        "ResourceOffers",
        "RescindOffer",
        "Accept",
        "Decline",
        "Kill",
        "Acknowledge",
        "Reconcile",
        "RegisterExecutorHost",
        "ExecutorHostRegistered",
        "LaunchTask",
        "KillTaskInExecutor",
        "ExecutorStatusUpdate",
        "ExecutorStatusUpdateAck",
    ];
}

/// An offer: resources on one agent, offered to one framework — the unreserved
/// ones and those reserved for its role — and its role's free volumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub offer_id: OfferId,
    pub framework_id: FrameworkId,
    pub agent_id: AgentId,
    /// The agent's host (Mesos `Offer.hostname`), for placement constraints.
    pub hostname: ProcessId,
    pub resources: RoleResources,
    pub volumes: Vec<Volume>,
}

/// An offer operation inside an `Accept` (Mesos `Offer::Operation`). The
/// operations of one accept are applied in order, each validated on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Dynamically reserve unreserved resources for `role`.
    Reserve {
        role: String,
        resources: Resources,
    },
    /// Give `role`'s reserved resources back to the unreserved pool.
    Unreserve {
        role: String,
        resources: Resources,
    },
    /// Create a persistent volume on `volume.role`'s reserved disk.
    Create {
        volume: Volume,
    },
    /// Destroy a persistent volume (its data is deleted).
    Destroy {
        role: String,
        id: String,
    },
    Launch {
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

/// One task named in an explicit reconciliation request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReconcileTask {
    pub task_id: TaskId,
    pub agent_id: Option<AgentId>,
}

/// A task as the executor host reports it when it (re-)registers with its agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorTaskReport {
    pub framework_id: FrameworkId,
    pub task_id: TaskId,
    pub state: TaskState,
}

// ----- the coordinator protocol -----

/// A coordinator operation (a subset of ZooKeeper's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordOp {
    CreateSession {
        timeout_ms: u64,
    },
    /// Reattach to a session after reconnecting (ZooKeeper clients do this
    /// transparently); fails with `SessionExpired` if it has expired.
    ResumeSession {
        session: SessionId,
    },
    Heartbeat,
    /// Create a node. An *ephemeral* node is deleted when its session expires; a
    /// *sequential* node gets a monotonically increasing number appended to its
    /// name. Masters contend for leadership with ephemeral sequential nodes.
    Create {
        path: String,
        data: String,
        ephemeral: bool,
        sequential: bool,
    },
    Delete {
        path: String,
    },
    GetData {
        path: String,
        watch: bool,
    },
    /// Compare-and-set: the write succeeds only if the node's version is as
    /// expected, so a stale writer can never overwrite a newer value.
    SetData {
        path: String,
        data: String,
        expected: ExpectedVersion,
    },
    GetChildren {
        path: String,
        watch: bool,
    },
}

/// The precondition of a versioned write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// The node must not exist yet (it is created at version 0).
    Absent,
    /// The node must exist at exactly this version.
    Version(u64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordReply {
    SessionCreated { session: SessionId, timeout_ms: u64 },
    SessionResumed { session: SessionId },
    HeartbeatAck,
    Created { path: String, sequence: Option<u64> },
    Deleted,
    Data { data: String, version: u64 },
    Written { version: u64 },
    Children { children: Vec<ChildNode> },
}

/// A child node with its data (ZooKeeper needs one `getData` per child; we
/// return them together to keep the protocol short).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildNode {
    pub name: String,
    pub sequence: Option<u64>,
    pub data: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordError {
    NoNode,
    NodeExists,
    BadVersion {
        current: Option<u64>,
    },
    SessionExpired,
    /// The request named no live session.
    NoSession,
    /// The connection broke before the answer arrived: the operation may or may
    /// not have happened (an *indefinite* outcome). Made up by the client.
    ConnectionLoss,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchKind {
    ChildrenChanged,
    DataChanged,
    Deleted,
}
