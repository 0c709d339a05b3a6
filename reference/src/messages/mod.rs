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
//!
//! ## Where each group comes from in Mesos
//!
//! | group | Mesos protocol | defined in |
//! |---|---|---|
//! | coordinator | the ZooKeeper client protocol, as Mesos drives it from `src/zookeeper/` | ZooKeeper itself |
//! | agent ↔ master | `RegisterSlaveMessage`, `PingSlaveMessage`, `RunTaskMessage`, ... | `src/messages/messages.proto` |
//! | scheduler ↔ master | the V0 driver's messages and the `scheduler::Call` types (`ACCEPT`, `DECLINE`, `KILL`, `ACKNOWLEDGE`, `RECONCILE`, `TEARDOWN`) | `messages.proto`, `include/mesos/scheduler/scheduler.proto` |
//! | executor ↔ agent | `RegisterExecutorMessage`, `ReregisterExecutorMessage`, `StatusUpdateMessage`, ... | `messages.proto` |
//! | store | none: the database's own replication (`crate::store`) | — |
//!
//! ## The epoch rule
//!
//! A master's epoch is the sequence number of its candidacy node in the
//! coordinator (`crate::detector`), so a later leader has a higher epoch.
//! Every command a leader sends carries it, and an agent or scheduler obeys
//! a command only if it comes from the leader it is registered with *and*
//! carries that leader's epoch (`Agent::accept_from_leader`,
//! `agent/registration.rs`). A deposed master that has not noticed yet may
//! still send; its commands are traced and ignored. Mesos reaches the same
//! end differently: an agent accepts messages only from the master PID its
//! detector reported (`Slave::detected`), and a master that loses its
//! ZooKeeper membership aborts. The epoch also lets the checkers attribute
//! every command to one leader.
//!
//! ## Wire compatibility
//!
//! Variants are encoded by their position, so new ones are added at the
//! end of [`Message`] (two groups below say so); and [`Message::KINDS`] must
//! list every kind, which `scenarios/` uses to refuse a misspelt kind.

use crate::framework::FrameworkInfo;
use crate::ids::{AgentId, FrameworkId, OfferId, SessionId, TaskId, UpdateUuid};
use crate::resources::AgentResources;
use crate::task::{ReportedTask, StatusUpdate, TaskInfo};
use serde::{Deserialize, Serialize};

mod coordination;
mod kinds;
mod payloads;
pub use coordination::*;
pub use payloads::*;
// Offer operations are a concern of their own (`crate::operations`), which
// both the master (validation) and the agent (application) use; messages
// only carry them.
pub use crate::operations::Operation;

/// One message between two roles. Each variant says who sends it to whom,
/// which Mesos message it stands for, and what its receiver does with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    // ----- coordinator (ZooKeeper) protocol -----
    /// A client request; `xid` matches the response to it.
    CoordRequest {
        /// The client's request number (ZooKeeper's `xid`), echoed in the
        /// response; requests on one connection are answered in order.
        xid: u64,
        /// The session the request acts in; `None` only for
        /// `CreateSession`. Ephemeral nodes belong to this session.
        session: Option<SessionId>,
        /// What to do.
        op: CoordOp,
    },
    /// The coordinator's answer to one `CoordRequest`.
    CoordResponse {
        /// The request's `xid`.
        xid: u64,
        /// The reply, or why the operation did not happen.
        result: Result<CoordReply, CoordError>,
    },
    /// A one-shot watch fired (ZooKeeper `WatchedEvent`).
    ///
    /// One-shot, as in ZooKeeper: the watcher must read again, and set a
    /// new watch, to hear of the next change. Masters, agents and
    /// schedulers re-list the masters' group on it to find the leader
    /// (Mesos `ZooKeeperMasterDetectorProcess`, `GroupProcess::watch`).
    CoordWatch {
        /// The node watched.
        path: String,
        /// What changed.
        kind: WatchKind,
    },
    /// The coordinator expired the client's session (sent if it is connected).
    ///
    /// Its ephemeral nodes are already gone: a master that held one has
    /// lost its candidacy and must stop leading (Mesos aborts the master on
    /// `Master::lostCandidacy`).
    CoordSessionExpired {
        /// The session that ended.
        session: SessionId,
    },

    // ----- agent <-> master -----
    /// First registration of an agent that has no ID yet. Its resources
    /// include the reservations and volumes checkpointed on its disk (an agent
    /// shut down and registering afresh keeps them).
    ///
    /// Mesos `RegisterSlaveMessage` (`slave`, `checkpointed_resources`),
    /// retried with backoff until answered (`Slave::doReliableRegistration`);
    /// the master admits the agent in the registry before answering
    /// (`Master::registerSlave`).
    RegisterAgent {
        /// Its checkpointed reservations and volumes on top of its capacity.
        resources: AgentResources,
        /// The machine's boot ID. Not sent in Mesos; here it lets a master
        /// tell a retried registration (same boot: answer again) from a
        /// machine that lost its disk and registers afresh (remove the old
        /// agent first), see `Master::on_register_agent`.
        boot_id: String,
    },
    /// Re-registration under a known ID: after a leader change, a lost
    /// connection, or an agent restart. Carries every task the agent runs, which
    /// is how a new leader rebuilds its task table.
    ///
    /// Mesos `ReregisterSlaveMessage` (`tasks`, `frameworks`,
    /// `checkpointed_resources`), handled by `Master::reregisterSlave` and
    /// `Master::_reregisterSlave`. This message is the heart of the master's
    /// soft state: a new leader durably knows only *which* agents exist
    /// (the registry); what runs where it learns from these.
    ReregisterAgent {
        /// The ID the agent registered under (checkpointed by the agent).
        agent_id: AgentId,
        /// Reservations and volumes: the master rebuilds its view of the
        /// agent's resources from this, not from its own memory.
        resources: AgentResources,
        /// The machine's boot ID (see `RegisterAgent`).
        boot_id: String,
        /// The frameworks of the reported tasks, so a leader can file tasks
        /// of frameworks that have not re-registered with it yet.
        frameworks: Vec<FrameworkInfo>,
        /// Every task still running, and every terminal one whose update
        /// the framework has not acknowledged.
        tasks: Vec<ReportedTask>,
    },
    /// The master admitted a new agent (Mesos `SlaveRegisteredMessage`),
    /// sent once the registry write is durable.
    AgentRegistered {
        /// The sending leader's epoch (see the module doc).
        epoch: u64,
        /// The new agent's ID, which the agent checkpoints before using it.
        agent_id: AgentId,
    },
    /// The master accepted a re-registration (Mesos
    /// `SlaveReregisteredMessage`). From then on the agent obeys this
    /// leader's commands and resumes sending its status updates.
    AgentReregistered {
        /// The sending leader's epoch.
        epoch: u64,
        /// The agent's ID, as it re-registered.
        agent_id: AgentId,
    },
    /// The master tells an agent it must shut down (a removed agent returning
    /// under `removed_agent_policy = "shutdown"`, or an agent marked gone).
    ///
    /// Mesos `ShutdownMessage`. The agent kills its tasks, forgets its ID and
    /// exits; restarted, it registers afresh under a new ID.
    ShutdownAgent {
        /// The sending leader's epoch.
        epoch: u64,
        /// Why, for the trace.
        message: String,
    },
    /// Health check (master -> agent) and its answer.
    ///
    /// Mesos `PingSlaveMessage`: the master pings every
    /// `agent_ping_timeout` and marks an agent unreachable after
    /// `max_agent_ping_timeouts` unanswered pings; an agent that hears no
    /// ping for that long drops the link and registers again
    /// (`Slave::pingTimeout`).
    Ping {
        /// The sending leader's epoch: a ping from a deposed leader must not
        /// keep an agent believing it is still registered.
        epoch: u64,
    },
    /// The answer to `Ping` (Mesos `PongSlaveMessage`).
    Pong,
    /// Launch a task on an agent (master -> agent).
    ///
    /// Mesos `RunTaskMessage`, sent by `Master::_accept` and not retried:
    /// if it is lost, the agent's next re-registration omits the task and
    /// the master tells the agent about it (`AgentReconcileTasks`), which
    /// ends in `TASK_DROPPED`/`TASK_LOST`.
    RunTask {
        /// The sending leader's epoch.
        epoch: u64,
        /// Boxed: it and the task are the largest parts of any message.
        // The agent checkpoints it: after a restart it needs the framework's
        // info (partition awareness) for the tasks it recovers.
        framework: Box<FrameworkInfo>,
        /// The task to launch.
        task: TaskInfo,
    },
    /// Kill a task on an agent (master -> agent).
    ///
    /// Mesos `KillTaskMessage`. Not retried either; the master sends it
    /// again when the agent re-registers still reporting the task
    /// (`Master::reconcileKnownSlave`).
    KillTask {
        /// The sending leader's epoch.
        epoch: u64,
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task to kill.
        task_id: TaskId,
    },
    /// Reservations and volumes to apply (master -> agent), in order, before
    /// any launch of the same accept. The agent checkpoints them.
    ///
    /// Differs from Mesos, which sends either the agent's whole set of
    /// checkpointed resources (`CheckpointResourcesMessage`, also re-sent on
    /// every re-registration, `Master::___reregisterSlave`) or one
    /// `ApplyOperationMessage` per operation (`Master::_apply`). Here the
    /// accepted operations travel as a delta, and on re-registration the
    /// master adopts the agent's report instead; either way the agent's disk
    /// is where reservations and volumes survive master failover.
    ApplyOperations {
        /// The sending leader's epoch.
        epoch: u64,
        /// RESERVE, UNRESERVE, CREATE and DESTROY only, already validated
        /// against the offer (`AgentResources::apply`).
        operations: Vec<Operation>,
    },
    /// Tell an agent to shut down all of a framework's tasks.
    ///
    /// Mesos `ShutdownFrameworkMessage`, sent when a framework is removed
    /// (teardown, or its failover timeout passed; `Master::removeFramework`).
    /// The agent kills the tasks and forgets the framework's update streams.
    ShutdownFramework {
        /// The sending leader's epoch.
        epoch: u64,
        /// The removed framework.
        framework_id: FrameworkId,
    },
    /// A status update: agent -> master, and master -> scheduler (forwarded).
    ///
    /// Mesos `StatusUpdateMessage` (agent → master, `Master::statusUpdate`,
    /// forwarded by `Master::forward`) and scheduler `Event::UPDATE`. The
    /// agent sends one update per task at a time — the head of the task's
    /// stream — and re-sends it until acknowledged; the master forwards it
    /// to the framework if the framework is connected, and otherwise relies
    /// on that re-sending.
    StatusUpdate {
        /// The update, with `agent_id` and `latest_state` filled in by the
        /// agent.
        update: StatusUpdate,
    },
    /// A framework's acknowledgement relayed by the master to the agent.
    ///
    /// Mesos `StatusUpdateAcknowledgementMessage`. The agent logs the
    /// acknowledgement, drops the update from the task's stream and sends
    /// the next one; only now may it forget the update.
    StatusUpdateAcknowledgement {
        /// The relaying leader's epoch.
        epoch: u64,
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task the update was about.
        task_id: TaskId,
        /// Which update is acknowledged.
        uuid: UpdateUuid,
    },

    // ----- scheduler <-> master -----
    /// A new framework (Mesos `RegisterFrameworkMessage`, or `SUBSCRIBE`
    /// without a framework ID). The master assigns the ID.
    RegisterFramework {
        /// The framework's description (name, role, failover timeout,
        /// partition awareness).
        info: FrameworkInfo,
    },
    /// `failover` is true when a *new* scheduler instance takes over an existing
    /// framework (the master then disconnects the old instance).
    ///
    /// Mesos `ReregisterFrameworkMessage`. Sent with `failover = false` by a
    /// scheduler that re-registers with a new leader, `true` by a standby
    /// that takes over (`Master::failoverFramework`). A new leader accepts
    /// it for a framework it has never seen: frameworks are soft state too.
    ReregisterFramework {
        /// The framework's description, `id` included.
        info: FrameworkInfo,
        /// Whether this is a new scheduler instance taking over.
        failover: bool,
    },
    /// Mesos `FrameworkRegisteredMessage`: the framework's new ID, which the
    /// scheduler must store durably before relying on it (a standby finds
    /// it there).
    FrameworkRegistered {
        /// The sending leader's epoch.
        epoch: u64,
        /// The assigned framework ID.
        framework_id: FrameworkId,
    },
    /// Mesos `FrameworkReregisteredMessage`: the framework is active again
    /// with this leader, which now sends it offers and updates.
    FrameworkReregistered {
        /// The sending leader's epoch.
        epoch: u64,
        /// The framework's ID.
        framework_id: FrameworkId,
    },
    /// The master refuses or ends the framework's session ("framework failed
    /// over", "framework removed", "principal cannot change").
    ///
    /// Mesos `FrameworkErrorMessage` (scheduler `Event::ERROR`). A scheduler
    /// that receives it stops: it is no longer the framework's instance, or
    /// the framework no longer exists.
    FrameworkError {
        /// The sending leader's epoch.
        epoch: u64,
        /// Why, for the trace.
        message: String,
    },
    /// Mesos `ResourceOffersMessage` (scheduler `Event::OFFERS`, built by
    /// `Master::offer`). Offers are soft state of this leader: they die with
    /// it, and a framework accepting one after a failover gets
    /// `INVALID_OFFERS` for its launches.
    ResourceOffers {
        /// The sending leader's epoch.
        epoch: u64,
        /// The offers, one per agent.
        offers: Vec<Offer>,
    },
    /// An offer operation was invalid and dropped (the others of the accept
    /// were applied); says why.
    ///
    /// Mesos logs a dropped operation (`Master::drop`) and tells only v1
    /// frameworks that gave it an ID (`UPDATE_OPERATION_STATUS`,
    /// `OPERATION_ERROR`); invalid launches are answered with `TASK_ERROR`.
    /// Here every framework is told, so scenarios can check the refusal.
    OperationError {
        /// The sending leader's epoch.
        epoch: u64,
        /// The refused operation, as the framework sent it.
        operation: Operation,
        /// Why it was refused.
        message: String,
    },
    /// The master takes an offer back (Mesos `RescindResourceOfferMessage`,
    /// `Master::rescindOffer`): its agent disconnected, re-registered or was
    /// removed. Accepting it later fails (`INVALID_OFFERS`).
    RescindOffer {
        /// The sending leader's epoch.
        epoch: u64,
        /// The offer withdrawn.
        offer_id: OfferId,
    },
    /// Use offers (scheduler `Call::ACCEPT`, `Master::accept`): apply
    /// `operations` in order to the resources of `offer_ids`, all on one
    /// agent. Whatever the operations leave unused goes back to the pool,
    /// withheld from this framework for a while (Mesos's default
    /// `refuse_seconds`), so the next offer is not the same leftovers.
    Accept {
        /// The accepting framework.
        framework_id: FrameworkId,
        /// The offers used; several offers of one agent may be merged.
        offer_ids: Vec<OfferId>,
        /// What to do with them.
        operations: Vec<Operation>,
    },
    /// Turn offers down (scheduler `Call::DECLINE`, `Master::decline`).
    Decline {
        /// The declining framework.
        framework_id: FrameworkId,
        /// The offers declined.
        offer_ids: Vec<OfferId>,
        /// How long not to offer these agents' resources to this framework
        /// again (Mesos `Filters.refuse_seconds`).
        refuse_ms: u64,
    },
    /// A scheduler asks to kill a task.
    ///
    /// Scheduler `Call::KILL` (V0 `KillTaskMessage`), `Master::kill`. Like
    /// every call it may be lost: Mesos calls `killTask` "not reliable" and
    /// leaves retrying to the scheduler (this crate's scheduler sends it
    /// once, `scheduler/tasks.rs`).
    Kill {
        /// The framework the task belongs to.
        framework_id: FrameworkId,
        /// The task to kill.
        task_id: TaskId,
    },
    /// A scheduler acknowledges a status update.
    ///
    /// Scheduler `Call::ACKNOWLEDGE` (`Master::acknowledge`), relayed to the
    /// agent as `StatusUpdateAcknowledgement`. Until it arrives, the agent
    /// re-sends the update.
    Acknowledge {
        /// The acknowledging framework.
        framework_id: FrameworkId,
        /// The agent the update came from, so the master can route it.
        agent_id: AgentId,
        /// The task the update was about.
        task_id: TaskId,
        /// The acknowledged update's uuid.
        uuid: UpdateUuid,
    },
    /// Explicit reconciliation names tasks; an empty list is implicit
    /// reconciliation ("tell me about all my tasks").
    ///
    /// Scheduler `Call::RECONCILE` (V0 `ReconcileTasksMessage`),
    /// `Master::reconcile`. The answers are master-made updates with reason
    /// `RECONCILIATION` and no uuid, so they are not retried: the scheduler
    /// asks again, with backoff, until every task it asked about is answered
    /// (`scheduler/master_link.rs`), and reconciles after every
    /// (re-)registration, since it may have missed updates meanwhile.
    Reconcile {
        /// The asking framework.
        framework_id: FrameworkId,
        /// The tasks asked about; empty for all of them.
        tasks: Vec<ReconcileTask>,
    },

    // ----- a database's store (storage servers, replica tasks) -----
    /// Store record `record` of dataset `store` durably, then acknowledge.
    /// (`StoreClient` → `StoreNode`.)
    StoreWrite {
        /// The dataset.
        store: String,
        /// The record's number.
        record: u64,
    },
    /// The record is fsynced on this node.
    StoreAck {
        /// The dataset.
        store: String,
        /// The record now durable on the sending node.
        record: u64,
    },
    /// Which records do you hold? (A recovering `StoreClient` asks each node.)
    StoreRead {
        /// The dataset.
        store: String,
    },
    /// The highest record this node holds.
    StoreState {
        /// The dataset.
        store: String,
        /// The node's highest record (see `StoreNode::last`).
        last: u64,
    },

    // ----- executor host <-> agent (same machine, still over TCP) -----
    /// The executor host (re-)registers with its agent and reports the tasks it
    /// runs and the updates the agent has not acknowledged yet.
    ///
    /// Mesos `RegisterExecutorMessage` and, after a disconnection,
    /// `ReregisterExecutorMessage` (`tasks`, `updates`), handled by
    /// `Slave::registerExecutor` / `Slave::reregisterExecutor`. One message
    /// serves both: the agent compares the report with its checkpoint
    /// either way (`Agent::on_executor_host_registered`).
    RegisterExecutorHost {
        /// Every task the host runs, with its current state.
        tasks: Vec<ExecutorTaskReport>,
        /// Every update the agent has not acknowledged, oldest first; the
        /// agent treats each as if just received (duplicates included).
        unacknowledged: Vec<StatusUpdate>,
    },
    /// The agent's answer (Mesos `ExecutorRegisteredMessage` /
    /// `ExecutorReregisteredMessage`); from now on the host sends updates
    /// as it makes them.
    ExecutorHostRegistered,
    /// Start a task (agent → executor host; Mesos's `RunTaskMessage` from
    /// the agent to the executor). Sent only to a registered host; launches
    /// that arrive while it is away are queued by the agent, as Mesos queues
    /// them in `Executor::queuedTasks` until the executor registers.
    LaunchTask {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task to start.
        task: TaskInfo,
    },
    /// Kill a task (agent → executor host; Mesos `KillTaskMessage` to the
    /// executor). The host answers with a `TASK_KILLED` update.
    KillTaskInExecutor {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task to kill.
        task_id: TaskId,
    },
    /// A task's update (executor host → agent; Mesos `StatusUpdateMessage`
    /// from the executor driver, `Slave::statusUpdate`). The agent logs it
    /// durably, then acknowledges it.
    ExecutorStatusUpdate {
        /// The update, uuid set by the host.
        update: StatusUpdate,
    },
    /// The agent has the update on disk (Mesos's acknowledgement to the
    /// executor, sent after `TaskStatusUpdateManager` checkpointed it): the
    /// host may forget it. Not the framework's acknowledgement — that one
    /// goes only to the agent.
    ExecutorStatusUpdateAck {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task the update was about.
        task_id: TaskId,
        /// Which update the agent has logged.
        uuid: UpdateUuid,
    },

    // ----- scheduler -> master (added last: the wire encoding numbers variants) -----
    /// A scheduler tears its framework down for good (Mesos `TEARDOWN`,
    /// `UnregisterFrameworkMessage`): the master removes it at once, as when
    /// its failover timeout passes (`Master::teardown` → `removeFramework`).
    Teardown {
        /// The framework to remove.
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
        /// The sending leader's epoch.
        epoch: u64,
        /// The tasks' framework (the agent may not know it: the lost
        /// `RunTask` was the only message that carried it), so the agent
        /// can choose between `TASK_DROPPED` and `TASK_LOST`.
        framework: Box<FrameworkInfo>,
        /// The tasks the agent did not report.
        task_ids: Vec<TaskId>,
    },
}
