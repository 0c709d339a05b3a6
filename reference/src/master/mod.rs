//! # The Mesos master
//!
//! Several masters run at once, in *hot standby*: one leads, the others wait to
//! take over. Everything a leader knows about frameworks, tasks and offers is
//! **soft state**: it is never written anywhere, and a new leader rebuilds it from
//! what agents and schedulers tell it when they re-register. Only the small
//! [registry](crate::registry) of admitted agents is durable, in the coordinator.
//!
//! ## States
//!
//! ```text
//!            SessionReady            Created(seq)              lowest seq is mine
//! Joining ----------------> (create) -------------> Contending -------------------> Leading(epoch = seq)
//!                                                        |                              |  read registry,
//!                                                        | someone else is lowest       |  then accept
//!                                                        v                              |  (re)registrations
//!                                                     Standby --- lowest seq is mine ---+
//!
//! any state --session lost / my node vanished / another leader seen / registry CAS refused--> Exited
//! ```
//!
//! A master that loses its coordinator session, or sees another master lead
//! while it believes it leads, **exits at once** — Mesos masters "commit suicide"
//! rather than risk two leaders acting together. A supervisor restarts the
//! process, which rejoins as a standby with a fresh session (and so a higher
//! sequence number).
//!
//! ## What the leader does
//!
//! - **Recovery.** On election it reads the registry. Agents listed there are
//!   expected to re-register within `agent_reregister_timeout`; until recovery
//!   completes, registration messages are ignored.
//! - **Agents.** `RegisterAgent` admits a new agent (a registry write, then
//!   `AgentRegistered` with an ID carrying the leader's epoch).
//!   `ReregisterAgent` brings an agent back with all of its tasks and the
//!   frameworks they belong to — the heart of failover.
//! - **Frameworks.** `RegisterFramework` assigns an ID; `ReregisterFramework`
//!   re-attaches a scheduler (after a master failover, or a scheduler failover).
//!   A framework the leader learned of only from agents' reports is inactive
//!   until its scheduler re-registers.
//! - **Offers.** Every `allocation_interval` the allocator offers each agent's
//!   free resources (total − used by tasks − already offered) to the active
//!   framework with the smallest allocation. Accounting is asserted on both
//!   sides: when offering and when accepting.
//! - **Tasks.** An `Accept` with a launch turns offered resources into tasks
//!   (`TASK_STAGING`) and sends `RunTask` to the agent. Status updates from agents
//!   are forwarded to the framework; acknowledgements go back to the agent.
//! - **Health checks.** The leader pings each agent every `agent_ping_timeout`;
//!   after `max_agent_ping_timeouts` pings without a pong it marks the agent
//!   unreachable in the registry and reports its tasks lost.

use indexmap::IndexMap;

use crate::coordinator_client::{ClientEvent, ClientTimer, CoordinatorClient, Routed};
use crate::detector::{self, LeaderInfo, MasterDetector, MASTERS_PATH};
use crate::events::Event;
use crate::framework::FrameworkInfo;
use crate::ids::{epoch_id, AgentId, FrameworkId, OfferId, ProcessId, TaskId, UpdateUuid};
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::{
    CoordError, CoordOp, CoordReply, ExpectedVersion, Message, Offer, Operation, ReconcileTask,
};
use crate::registry::{Registry, RegistryOp, REGISTRY_PATH};
use crate::resources::{volume_key, AgentResources, Resources, RoleResources, Volume, UNRESERVED};
use crate::task::{ReportedTask, StatusUpdate, TaskInfo};
use crate::task_state::{Reason, Source, TaskState};
use crate::timing::Timing;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod agents;
mod election;
mod frameworks;
mod offers;
mod reconciliation;
mod registrar;
mod updates;

/// What happens to an agent that comes back after the master marked it
/// unreachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedAgentPolicy {
    /// Mesos 1.x: the agent re-registers and its tasks return to `TASK_RUNNING`.
    #[default]
    Reregister,
    /// Early Mesos (the seed article): a removed agent is shut down when it
    /// returns; its tasks are killed and it registers again under a new ID.
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterConfig {
    pub name: ProcessId,
    pub coordinator: ProcessId,
    pub timing: Timing,
    pub removed_agent_policy: RemovedAgentPolicy,
    /// A planted defect (the bug zoo), if any.
    #[serde(default)]
    pub bug: Option<crate::bugs::Bug>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MasterTimer {
    Coordinator(ClientTimer),
    /// Run the allocator (every `allocation_interval`).
    Allocate,
    /// Health-check one agent: count a missed pong, then ping again.
    Ping(AgentId),
    /// The re-registration window after a failover closes.
    AgentReregisterTimeout,
    /// A disconnected framework's `failover_timeout` has passed.
    FrameworkFailover(FrameworkId),
}

/// What a coordinator request was for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MasterRequest {
    /// Creating this master's candidacy node.
    Join,
    /// Listing the masters' group.
    ListMasters,
    /// Reading the registry on election.
    ReadRegistry,
    /// Writing the registry (one operation in flight).
    WriteRegistry,
    /// Re-reading the registry after a write's outcome was lost with the connection.
    RefreshRegistry,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Phase {
    /// Opening a session and creating the candidacy node.
    Joining,
    /// Candidacy created; waiting to learn who leads.
    Contending,
    /// Another master leads; wait.
    Standby,
    Leading(Box<Leader>),
    /// The process has exited; it handles nothing more.
    Exited,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Master {
    config: MasterConfig,
    coordinator: CoordinatorClient<MasterRequest>,
    detector: MasterDetector,
    /// The sequence number of this master's candidacy node, once created.
    candidacy: Option<u64>,
    phase: Phase,
}

/// An agent as the leader knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEntry {
    pub process: ProcessId,
    /// The agent's resources by role, as it reported them: its dynamic
    /// reservations live on the agent, never in the master's registry.
    /// (Volumes' disk is not in here; it is in `volumes`.)
    pub total: RoleResources,
    /// The agent's persistent volumes, by key (`role/id`), as it reported them.
    pub volumes: BTreeMap<String, Volume>,
    /// Resources of this agent's active tasks, by the role they come from.
    pub used: RoleResources,
    /// Resources in outstanding offers for this agent, by role.
    pub offered: RoleResources,
    /// Volumes an active task uses (not offered until it ends).
    pub volumes_in_use: BTreeMap<String, TaskId>,
    /// Volumes in an outstanding offer.
    pub volumes_offered: BTreeSet<String>,
    /// Whether the agent's connection is up (a disconnected agent gets no offers;
    /// only missed health checks make it unreachable).
    pub connected: bool,
    pub boot_id: String,
    /// Consecutive pings that got no pong.
    pub missed_pings: u32,
    /// Whether a pong arrived since the last ping.
    pub pong_received: bool,
    /// Tasks a framework asked to kill that this agent may not have heard of
    /// (Mesos `Slave::killedTasks`, filled by `Master::kill` whether or not the
    /// agent is connected: a partition may not have been noticed yet). When the
    /// agent re-registers still reporting one of them non-terminal, the kill is
    /// sent again (`Master::reconcileKnownSlave`). Soft state: gone when the
    /// agent is removed, and on master failover.
    pub killed_tasks: BTreeSet<(FrameworkId, TaskId)>,
}

impl AgentEntry {
    fn new(process: ProcessId, resources: &AgentResources, boot_id: String) -> Self {
        AgentEntry {
            process,
            total: resources.pools.clone(),
            volumes: resources.volumes.clone(),
            used: RoleResources::default(),
            offered: RoleResources::default(),
            volumes_in_use: BTreeMap::new(),
            volumes_offered: BTreeSet::new(),
            connected: true,
            boot_id,
            missed_pings: 0,
            pong_received: true,
            killed_tasks: BTreeSet::new(),
        }
    }

    /// Resources neither used by a task nor in an offer, by role.
    pub fn free(&self) -> RoleResources {
        self.total
            .minus(&self.used.plus(&self.offered))
            .unwrap_or_else(|| {
                panic!(
                    "agent {} over-committed: used {:?} + offered {:?} > total {:?}",
                    self.process, self.used, self.offered, self.total
                )
            })
    }

    /// `role`'s volumes that no task uses and no offer holds.
    pub fn free_volumes(&self, role: &str) -> Vec<Volume> {
        self.volumes
            .iter()
            .filter(|(key, v)| {
                v.role == role
                    && !self.volumes_in_use.contains_key(*key)
                    && !self.volumes_offered.contains(*key)
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// An active task now holds its resources (and volume). Asserts the agent
    /// is not over-committed: accounting is checked on both sides.
    fn occupy(&mut self, task_id: &TaskId, info: &TaskInfo) {
        self.used.add(&info.role, &info.resources);
        if let Some(id) = &info.volume {
            self.volumes_in_use
                .insert(volume_key(&info.role, id), task_id.clone());
        }
        assert!(
            self.total.contains(&self.used.plus(&self.offered)),
            "task {task_id} over-commits agent {}",
            self.process
        );
    }

    /// A task ended: its resources (and volume) are free again.
    fn release(&mut self, info: &TaskInfo) {
        self.used.take_exact(&info.role, &info.resources);
        if let Some(id) = &info.volume {
            self.volumes_in_use.remove(&volume_key(&info.role, id));
        }
    }

    fn assert_accounting(&self) {
        assert!(
            self.total.contains(&self.used.plus(&self.offered)),
            "agent {} over-committed: used {:?} + offered {:?} > total {:?}",
            self.process,
            self.used,
            self.offered,
            self.total
        );
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkEntry {
    pub info: FrameworkInfo,
    /// The scheduler process currently attached, if any.
    pub scheduler: Option<ProcessId>,
    /// Connected and registered: receives offers and updates.
    pub active: bool,
    /// Tasks by ID; a task leaves this table once its terminal update is acknowledged.
    pub tasks: BTreeMap<TaskId, TaskEntry>,
    /// Agents whose resources this framework declined, until the given time.
    pub filters: BTreeMap<AgentId, u64>,
    /// Tasks on agents marked unreachable, in the state the framework was
    /// told (`TASK_UNREACHABLE`, or `TASK_LOST` if it is not partition-aware):
    /// Mesos `Framework::unreachableTasks`. They leave this table when their
    /// agent re-registers (the tasks come back) and become completed
    /// `TASK_KILLED` tasks if the framework is removed first
    /// (`Master::removeFramework`).
    pub unreachable_tasks: BTreeMap<TaskId, TaskEntry>,
    /// Tasks that ended and were removed, newest last (Mesos
    /// `Framework::completedTasks`, a buffer of `max_completed_tasks_per_framework`
    /// = 1000): what the master's `/state` shows of a framework's history.
    pub completed_tasks: IndexMap<TaskId, CompletedTask>,
}

/// Mesos's `--max_completed_tasks_per_framework` default.
pub const MAX_COMPLETED_TASKS_PER_FRAMEWORK: usize = 1000;

impl FrameworkEntry {
    fn new(info: FrameworkInfo, scheduler: Option<ProcessId>, active: bool) -> Self {
        FrameworkEntry {
            info,
            scheduler,
            active,
            tasks: BTreeMap::new(),
            filters: BTreeMap::new(),
            unreachable_tasks: BTreeMap::new(),
            completed_tasks: IndexMap::new(),
        }
    }

    /// A task ended and leaves `tasks` (Mesos `Framework::addCompletedTask`);
    /// the oldest completed task is forgotten past the buffer's size.
    fn add_completed(&mut self, task_id: TaskId, task: CompletedTask) {
        self.completed_tasks.shift_remove(&task_id);
        self.completed_tasks.insert(task_id, task);
        if self.completed_tasks.len() > MAX_COMPLETED_TASKS_PER_FRAMEWORK {
            self.completed_tasks.shift_remove_index(0);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    pub agent_id: AgentId,
    pub info: TaskInfo,
    /// The task's latest known state (reconciliation answers with
    /// `status_update_state` when there is one).
    pub state: TaskState,
    /// The state of the latest update forwarded for this task, which may be
    /// older than `state` while an agent replays its stream (Mesos
    /// `status_update_state`).
    pub status_update_state: Option<TaskState>,
    /// The uuid of that update: its acknowledgement, if the update was terminal,
    /// retires the task.
    pub latest_uuid: Option<UpdateUuid>,
}

/// A framework the leader removed, and how each of its tasks ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedFramework {
    pub info: FrameworkInfo,
    pub tasks: BTreeMap<TaskId, CompletedTask>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedTask {
    pub agent_id: AgentId,
    pub state: TaskState,
    pub reason: Option<Reason>,
}

/// A registry operation waiting for (or in) its compare-and-set write, with what
/// to do once it is durable.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingRegistryOp {
    pub op: RegistryOp,
    pub then: AfterRegistry,
    /// The registry as it will be once this write lands (set when sent).
    pub intended: Option<Registry>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AfterRegistry {
    AdmitAgent {
        agent_id: AgentId,
        process: ProcessId,
        resources: AgentResources,
        boot_id: String,
    },
    ReadmitAgent(Box<Reregistration>),
    RemoveUnreachable {
        agent_id: AgentId,
    },
    /// The agent left the registry (`RemoveSlave`): take it out of the soft
    /// state and report its tasks lost.
    RemoveAgent {
        agent_id: AgentId,
    },
    /// Nothing further: the soft state already reflects the change.
    Nothing,
}

/// The content of a `ReregisterAgent` message, kept while its registry write is in flight.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reregistration {
    pub agent_id: AgentId,
    pub process: ProcessId,
    pub resources: AgentResources,
    pub boot_id: String,
    pub frameworks: Vec<FrameworkInfo>,
    pub tasks: Vec<ReportedTask>,
    /// Whether the agent comes back from outside this leader's knowledge: it
    /// was marked unreachable (its tasks were reported lost), or the registry
    /// does not know it. Either way each framework hears its tasks' states
    /// again, reason `AGENT_REREGISTERED` (Mesos sends these for every agent
    /// not "recovered" from the registry, `Master::__reregisterSlave`).
    pub was_unreachable: bool,
}

/// The leader's soft state. It exists only while this master leads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Leader {
    pub epoch: u64,
    /// The registry has been read; (re-)registrations are accepted.
    pub recovered: bool,
    pub registry: Registry,
    /// The registry node's version (`None`: not created yet).
    pub registry_version: Option<u64>,
    pub registry_queue: VecDeque<PendingRegistryOp>,
    pub registry_in_flight: Option<PendingRegistryOp>,
    /// The in-flight write's outcome was lost with the connection.
    pub registry_outcome_unknown: bool,
    pub agents: BTreeMap<AgentId, AgentEntry>,
    /// Agents in the registry that have not re-registered since this leader was
    /// elected (Mesos's "recovered" agents).
    pub awaiting_reregistration: BTreeSet<AgentId>,
    /// Agents whose registration is in the registrar right now, by process.
    pub registering: BTreeSet<ProcessId>,
    pub frameworks: BTreeMap<FrameworkId, FrameworkEntry>,
    pub offers: BTreeMap<OfferId, Offer>,
    /// Frameworks removed by this leader (failover timeout), with how their
    /// tasks ended. A registration under such an ID is refused. Like all soft
    /// state, a new leader does not know them.
    pub completed_frameworks: BTreeMap<FrameworkId, CompletedFramework>,
    pub next_agent: u64,
    pub next_framework: u64,
    pub next_offer: u64,
}

impl Leader {
    fn new(epoch: u64) -> Self {
        Leader {
            epoch,
            recovered: false,
            registry: Registry::default(),
            registry_version: None,
            registry_queue: VecDeque::new(),
            registry_in_flight: None,
            registry_outcome_unknown: false,
            agents: BTreeMap::new(),
            awaiting_reregistration: BTreeSet::new(),
            registering: BTreeSet::new(),
            frameworks: BTreeMap::new(),
            offers: BTreeMap::new(),
            completed_frameworks: BTreeMap::new(),
            next_agent: 1,
            next_framework: 1,
            next_offer: 1,
        }
    }

    fn agent_by_process(&self, process: &ProcessId) -> Option<AgentId> {
        self.agents
            .iter()
            .find(|(_, a)| &a.process == process)
            .map(|(id, _)| id.clone())
    }

    fn framework_by_scheduler(&self, process: &ProcessId) -> Option<FrameworkId> {
        self.frameworks
            .iter()
            .find(|(_, f)| f.scheduler.as_ref() == Some(process))
            .map(|(id, _)| id.clone())
    }

    /// The soft state a new leader must rebuild exactly: frameworks, agents and
    /// tasks with their IDs and states. Offers, connections, timers and the
    /// epoch are excluded — they legitimately differ across a failover.
    pub fn rebuilt_view(&self) -> RebuiltView {
        RebuiltView {
            agents: self
                .agents
                .iter()
                .map(|(id, a)| {
                    (
                        id.clone(),
                        AgentView {
                            process: a.process.clone(),
                            total: a.total.clone(),
                            used: a.used.clone(),
                            volumes: a.volumes.clone(),
                        },
                    )
                })
                .collect(),
            frameworks: self
                .frameworks
                .iter()
                .map(|(id, f)| {
                    (
                        id.clone(),
                        FrameworkView {
                            name: f.info.name.clone(),
                            role: f.info.role.clone(),
                            principal: f.info.principal.clone(),
                            active: f.active,
                            tasks: f
                                .tasks
                                .iter()
                                .map(|(tid, t)| {
                                    (
                                        tid.clone(),
                                        TaskView {
                                            agent_id: t.agent_id.clone(),
                                            state: t.state,
                                            resources: t.info.resources,
                                        },
                                    )
                                })
                                .collect(),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// See [`Leader::rebuilt_view`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuiltView {
    pub agents: BTreeMap<AgentId, AgentView>,
    pub frameworks: BTreeMap<FrameworkId, FrameworkView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    pub process: ProcessId,
    /// By role: reservations are part of what a new leader must rebuild.
    pub total: RoleResources,
    pub used: RoleResources,
    pub volumes: BTreeMap<String, Volume>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkView {
    pub name: String,
    pub role: String,
    pub principal: String,
    pub active: bool,
    pub tasks: BTreeMap<TaskId, TaskView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    pub agent_id: AgentId,
    pub state: TaskState,
    pub resources: Resources,
}

type Out = Outputs<MasterTimer>;

impl Master {
    pub fn new(config: MasterConfig) -> Self {
        let coordinator = CoordinatorClient::new(
            config.coordinator.clone(),
            config.timing.zk_session_timeout_ms,
        );
        Master {
            config,
            coordinator,
            detector: MasterDetector::default(),
            candidacy: None,
            phase: Phase::Joining,
        }
    }

    pub fn config(&self) -> &MasterConfig {
        &self.config
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The leader's state, if this master leads.
    pub fn leader(&self) -> Option<&Leader> {
        match &self.phase {
            Phase::Leading(leader) => Some(leader),
            _ => None,
        }
    }

    /// The epoch this master leads, if it does.
    pub fn leading_epoch(&self) -> Option<u64> {
        self.leader().map(|l| l.epoch)
    }

    pub fn candidacy(&self) -> Option<u64> {
        self.candidacy
    }

    fn name(&self) -> &ProcessId {
        &self.config.name
    }

    /// Exits the process. Nothing a leader knew survives: that is the point.
    fn exit(&mut self, reason: &str, out: &mut Out) {
        if matches!(self.phase, Phase::Exited) {
            return;
        }
        self.phase = Phase::Exited;
        out.exit(reason);
    }

    // ----- dispatch -----

    fn on_message(&mut self, ctx: &Context, from: ProcessId, message: Message, out: &mut Out) {
        let ready = self.leader().is_some_and(|l| l.recovered);
        if !ready {
            // Standbys (and a leader still reading its registry) act on nothing;
            // senders retry and will find the real leader through the coordinator.
            out.event(Event::MessageIgnored {
                from,
                kind: message.kind().to_string(),
                why: "this master is not the recovered leader".into(),
            });
            return;
        }
        match message {
            Message::RegisterAgent { resources, boot_id } => {
                self.on_register_agent(ctx, from, resources, boot_id, out)
            }
            Message::ReregisterAgent {
                agent_id,
                resources,
                boot_id,
                frameworks,
                tasks,
            } => {
                let rereg = Reregistration {
                    agent_id,
                    process: from,
                    resources,
                    boot_id,
                    frameworks,
                    tasks,
                    was_unreachable: false,
                };
                self.on_reregister_agent(ctx, rereg, out)
            }
            Message::Pong => {
                if let Phase::Leading(leader) = &mut self.phase {
                    if let Some(id) = leader.agent_by_process(&from) {
                        let agent = leader.agents.get_mut(&id).expect("found");
                        agent.pong_received = true;
                        agent.missed_pings = 0;
                    }
                }
            }
            Message::StatusUpdate { update } => self.on_status_update(from, update, out),
            Message::RegisterFramework { info } => self.on_register_framework(from, info, out),
            Message::ReregisterFramework { info, failover } => {
                self.on_reregister_framework(from, info, failover, out)
            }
            Message::Accept {
                framework_id,
                offer_ids,
                operations,
            } => self.on_accept(ctx, from, framework_id, offer_ids, operations, out),
            Message::Decline {
                framework_id,
                offer_ids,
                refuse_ms,
            } => self.on_decline(ctx, from, framework_id, offer_ids, refuse_ms, out),
            Message::Kill {
                framework_id,
                task_id,
            } => self.on_kill(from, framework_id, task_id, out),
            Message::Teardown { framework_id } => self.on_teardown(ctx, from, framework_id, out),
            Message::Acknowledge {
                framework_id,
                agent_id,
                task_id,
                uuid,
            } => self.on_acknowledge(from, framework_id, agent_id, task_id, uuid, out),
            Message::Reconcile {
                framework_id,
                tasks,
            } => self.on_reconcile(from, framework_id, tasks, out),
            other => out.event(Event::MessageIgnored {
                from,
                kind: other.kind().to_string(),
                why: "not a message a master handles".into(),
            }),
        }
    }

    fn on_disconnected(&mut self, ctx: &Context, peer: ProcessId, out: &mut Out) {
        let Some(leader) = self.leader() else { return };
        if let Some(agent_id) = leader.agent_by_process(&peer) {
            self.on_agent_disconnected(agent_id, out);
        } else if let Some(fid) = leader.framework_by_scheduler(&peer) {
            self.on_framework_disconnected(ctx, fid, out);
        }
    }
}

fn read_registry() -> CoordOp {
    CoordOp::GetData {
        path: REGISTRY_PATH.to_string(),
        watch: false,
    }
}

/// A status update the master makes up (no uuid: not acknowledged).
/// The answer about a task the master knows: its *status-update* state — the
/// state of the update still being delivered, which may be older than the
/// latest one while the agent replays its stream (Mesos `Master::reconcile`,
/// case 1: `task->status_update_state()` when set, else `task->state()`).
fn known_task_answer(fid: &FrameworkId, task_id: &TaskId, task: &TaskEntry) -> StatusUpdate {
    master_update(
        fid,
        task_id,
        Some(task.agent_id.clone()),
        task.status_update_state.unwrap_or(task.state),
        Reason::Reconciliation,
        "reconciliation: latest task state",
    )
}

fn master_update(
    fid: &FrameworkId,
    task_id: &TaskId,
    agent_id: Option<AgentId>,
    state: TaskState,
    reason: Reason,
    message: &str,
) -> StatusUpdate {
    StatusUpdate {
        latest_state: None,
        framework_id: fid.clone(),
        task_id: task_id.clone(),
        agent_id,
        state,
        reason: Some(reason),
        source: Source::Master,
        uuid: None,
        message: Some(message.to_string()),
    }
}

impl Role for Master {
    type Timer = MasterTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    fn handle(&mut self, ctx: &Context, input: Input<MasterTimer>, out: &mut Out) {
        if matches!(self.phase, Phase::Exited) {
            return;
        }
        let mut sub = Outputs::new();
        let input = match self.coordinator.route(ctx, input, &mut sub) {
            Routed::Handled(events) => {
                out.absorb(sub, MasterTimer::Coordinator);
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        // A leader acts only on a session it can still count on: one whose
        // local deadline passed while the process was paused is lost before
        // anything else is handled (`CoordinatorClient::expire_if_due`).
        let mut sub = Outputs::new();
        let events = self.coordinator.expire_if_due(ctx, &mut sub);
        out.absorb(sub, MasterTimer::Coordinator);
        if !events.is_empty() {
            self.on_client_events(ctx, events, out);
            if matches!(self.phase, Phase::Exited) {
                return;
            }
        }
        match input {
            Input::Start => {
                let mut sub = Outputs::new();
                self.coordinator.start(&mut sub);
                out.absorb(sub, MasterTimer::Coordinator);
            }
            Input::Message { from, message } => self.on_message(ctx, from, message, out),
            Input::Timer(MasterTimer::Coordinator(t)) => {
                let mut sub = Outputs::new();
                let events = self.coordinator.on_timer(ctx, t, &mut sub);
                out.absorb(sub, MasterTimer::Coordinator);
                self.on_client_events(ctx, events, out);
            }
            Input::Timer(MasterTimer::Allocate) => self.tick_allocate(ctx, out),
            Input::Timer(MasterTimer::Ping(agent_id)) => self.tick_ping(ctx, agent_id, out),
            Input::Timer(MasterTimer::AgentReregisterTimeout) => {
                self.tick_reregister_timeout(ctx, out)
            }
            Input::Disconnected { peer } => self.on_disconnected(ctx, peer, out),
            Input::Timer(MasterTimer::FrameworkFailover(fid)) => {
                self.tick_framework_failover(ctx, fid, out)
            }
            Input::Connected { .. }
            | Input::ConnectFailed { .. }
            | Input::Command(_)
            | Input::FileRead { .. }
            | Input::FileSynced { .. } => {}
        }
    }
}
