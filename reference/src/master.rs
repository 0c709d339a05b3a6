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

    // ----- coordinator plumbing -----

    fn coordinator_request(
        &mut self,
        ctx: &Context,
        op: CoordOp,
        tag: MasterRequest,
        out: &mut Out,
    ) -> bool {
        let mut sub = Outputs::new();
        let sent = self.coordinator.request(ctx, op, tag, &mut sub);
        out.absorb(sub, MasterTimer::Coordinator);
        sent
    }

    fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<MasterRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            if matches!(self.phase, Phase::Exited) {
                return;
            }
            match event {
                ClientEvent::SessionReady { resumed } => self.on_session_ready(ctx, resumed, out),
                ClientEvent::SessionLost => {
                    if self.config.bug == Some(crate::bugs::Bug::LeaderSurvivesSessionLoss)
                        && matches!(self.phase, Phase::Leading(_))
                    {
                        continue; // the planted defect: it goes on leading
                    }
                    // Our candidacy node dies with the session: whatever we were,
                    // we can no longer be (or become) the leader safely.
                    self.exit("lost the coordinator session", out);
                }
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.coordinator_request(
                        ctx,
                        detector::list_masters(),
                        MasterRequest::ListMasters,
                        out,
                    );
                }
                ClientEvent::Watch { .. } => {}
                ClientEvent::Reply { tag, result } => {
                    self.on_coordinator_reply(ctx, tag, result, out)
                }
            }
        }
    }

    fn on_session_ready(&mut self, ctx: &Context, resumed: bool, out: &mut Out) {
        if self.candidacy.is_none() {
            if resumed {
                // A resumed session with no known candidacy: a create may have
                // been lost with the connection. Start over cleanly.
                self.exit("candidacy outcome unknown after reconnect", out);
                return;
            }
            let op = CoordOp::Create {
                path: detector::CANDIDATE_PREFIX.to_string(),
                data: self.name().to_string(),
                ephemeral: true,
                sequential: true,
            };
            self.coordinator_request(ctx, op, MasterRequest::Join, out);
            return;
        }
        // Resumed: watches may have been lost with the connection; re-read.
        self.coordinator_request(
            ctx,
            detector::list_masters(),
            MasterRequest::ListMasters,
            out,
        );
        if let Phase::Leading(leader) = &self.phase {
            if !leader.recovered {
                self.coordinator_request(ctx, read_registry(), MasterRequest::ReadRegistry, out);
            } else if leader.registry_outcome_unknown {
                self.coordinator_request(ctx, read_registry(), MasterRequest::RefreshRegistry, out);
            }
        }
    }

    fn on_coordinator_reply(
        &mut self,
        ctx: &Context,
        tag: MasterRequest,
        result: Result<CoordReply, CoordError>,
        out: &mut Out,
    ) {
        match (tag, result) {
            (
                MasterRequest::Join,
                Ok(CoordReply::Created {
                    sequence: Some(seq),
                    ..
                }),
            ) => {
                self.candidacy = Some(seq);
                self.phase = Phase::Contending;
                out.event(Event::MasterContending { sequence: seq });
                self.coordinator_request(
                    ctx,
                    detector::list_masters(),
                    MasterRequest::ListMasters,
                    out,
                );
            }
            (MasterRequest::Join, _) => self.exit("could not create the candidacy node", out),
            (MasterRequest::ListMasters, Ok(CoordReply::Children { children })) => {
                self.detector.observe(Some(&children));
                let mine_present = children.iter().any(|c| c.sequence == self.candidacy);
                self.on_leader_listing(ctx, self.detector.leader().cloned(), mine_present, out);
            }
            (MasterRequest::ListMasters, _) => {} // re-read on the next SessionReady
            (MasterRequest::ReadRegistry, Ok(CoordReply::Data { data, version })) => {
                match Registry::decode(&data) {
                    Ok(registry) => self.recover(ctx, registry, Some(version), out),
                    Err(e) => self.exit(&e, out),
                }
            }
            (MasterRequest::ReadRegistry, Err(CoordError::NoNode)) => {
                self.recover(ctx, Registry::default(), None, out)
            }
            (MasterRequest::ReadRegistry, Err(CoordError::ConnectionLoss)) => {}
            (MasterRequest::ReadRegistry, Ok(_) | Err(_)) => {
                self.exit("could not read the registry", out)
            }
            (MasterRequest::WriteRegistry, Ok(CoordReply::Written { version })) => {
                self.on_registry_written(ctx, version, out)
            }
            (MasterRequest::WriteRegistry, Err(CoordError::ConnectionLoss)) => {
                if let Phase::Leading(leader) = &mut self.phase {
                    leader.registry_outcome_unknown = true;
                }
            }
            (MasterRequest::WriteRegistry, Ok(_) | Err(_)) => {
                // BadVersion: someone else wrote the registry — another leader.
                self.exit("registry write refused: another master has written it", out)
            }
            (MasterRequest::RefreshRegistry, Ok(CoordReply::Data { data, version })) => {
                self.on_registry_refreshed(ctx, data, version, out)
            }
            (MasterRequest::RefreshRegistry, Err(CoordError::ConnectionLoss)) => {}
            (MasterRequest::RefreshRegistry, Ok(_) | Err(_)) => {
                self.exit("could not re-read the registry", out)
            }
        }
    }

    /// Decides what this master is, given who leads.
    fn on_leader_listing(
        &mut self,
        ctx: &Context,
        leader: Option<LeaderInfo>,
        mine_present: bool,
        out: &mut Out,
    ) {
        let Some(mine) = self.candidacy else { return };
        if !mine_present {
            self.exit("my candidacy node vanished", out);
            return;
        }
        let leading_me = leader.as_ref().is_some_and(|l| l.epoch == mine);
        match (&self.phase, leading_me) {
            (Phase::Leading(_), true) => {}
            (Phase::Leading(_), false) => self.exit("another master leads", out),
            (_, true) => self.become_leader(ctx, mine, out),
            (Phase::Standby, false) => {}
            (_, false) => {
                self.phase = Phase::Standby;
                out.event(Event::MasterStandby {
                    leader: leader.map(|l| l.master),
                });
            }
        }
    }

    fn become_leader(&mut self, ctx: &Context, epoch: u64, out: &mut Out) {
        assert!(!matches!(self.phase, Phase::Leading(_) | Phase::Exited));
        self.phase = Phase::Leading(Box::new(Leader::new(epoch)));
        out.event(Event::ElectedLeader { epoch });
        self.coordinator_request(ctx, read_registry(), MasterRequest::ReadRegistry, out);
    }

    /// The registry is read: the leader knows which agents to expect back.
    fn recover(&mut self, ctx: &Context, registry: Registry, version: Option<u64>, out: &mut Out) {
        let timing = self.config.timing.clone();
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        if leader.recovered {
            return;
        }
        leader.recovered = true;
        leader.awaiting_reregistration = registry.admitted.keys().cloned().collect();
        leader.registry = registry;
        leader.registry_version = version;
        out.event(Event::LeaderRecovered {
            epoch: leader.epoch,
            admitted_agents: leader.awaiting_reregistration.len(),
        });
        if !leader.awaiting_reregistration.is_empty() {
            out.set_timer(
                MasterTimer::AgentReregisterTimeout,
                ctx.now_ms + timing.agent_reregister_timeout_ms,
            );
        }
        out.set_timer(
            MasterTimer::Allocate,
            ctx.now_ms + timing.allocation_interval_ms,
        );
    }

    // ----- the registrar: one compare-and-set write at a time -----

    fn registry_apply(
        &mut self,
        ctx: &Context,
        op: RegistryOp,
        then: AfterRegistry,
        out: &mut Out,
    ) {
        if let Phase::Leading(leader) = &mut self.phase {
            leader.registry_queue.push_back(PendingRegistryOp {
                op,
                then,
                intended: None,
            });
        }
        self.pump_registry(ctx, out);
    }

    fn pump_registry(&mut self, ctx: &Context, out: &mut Out) {
        loop {
            let Phase::Leading(leader) = &mut self.phase else {
                return;
            };
            if leader.registry_in_flight.is_some() || !self.coordinator.is_ready() {
                return;
            }
            let Some(mut pending) = leader.registry_queue.pop_front() else {
                return;
            };
            let mut next = leader.registry.clone();
            if let Err(why) = next.apply(&pending.op) {
                out.event(Event::MessageIgnored {
                    from: self.config.name.clone(),
                    kind: "RegistryOp".into(),
                    why,
                });
                if let AfterRegistry::AdmitAgent { process, .. } = &pending.then {
                    leader.registering.remove(process);
                }
                continue;
            }
            let expected = match leader.registry_version {
                Some(v) => ExpectedVersion::Version(v),
                None => ExpectedVersion::Absent,
            };
            let op = CoordOp::SetData {
                path: REGISTRY_PATH.to_string(),
                data: next.encode(),
                expected,
            };
            pending.intended = Some(next);
            leader.registry_in_flight = Some(pending);
            self.coordinator_request(ctx, op, MasterRequest::WriteRegistry, out);
            return;
        }
    }

    fn on_registry_written(&mut self, ctx: &Context, version: u64, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let pending = leader
            .registry_in_flight
            .take()
            .expect("a registry write completed with none in flight");
        leader.registry = pending.intended.expect("set when sent");
        leader.registry_version = Some(version);
        self.after_registry(ctx, pending.then, out);
        self.pump_registry(ctx, out);
    }

    /// After a reconnect, finds out whether the write whose answer was lost landed.
    fn on_registry_refreshed(&mut self, ctx: &Context, data: String, version: u64, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        leader.registry_outcome_unknown = false;
        let Some(pending) = leader.registry_in_flight.take() else {
            return;
        };
        let intended = pending.intended.clone().expect("set when sent");
        if data == intended.encode() {
            leader.registry_in_flight = Some(pending);
            self.on_registry_written(ctx, version, out);
        } else if Some(version) == leader.registry_version {
            // The write did not land: send it again.
            leader.registry_queue.push_front(PendingRegistryOp {
                intended: None,
                ..pending
            });
            self.pump_registry(ctx, out);
        } else {
            self.exit(
                "registry changed under us: another master has written it",
                out,
            );
        }
    }

    fn after_registry(&mut self, ctx: &Context, then: AfterRegistry, out: &mut Out) {
        match then {
            AfterRegistry::AdmitAgent {
                agent_id,
                process,
                resources,
                boot_id,
            } => self.admit_agent(ctx, agent_id, process, resources, boot_id, out),
            AfterRegistry::ReadmitAgent(rereg) => self.accept_reregistration(ctx, *rereg, out),
            AfterRegistry::RemoveUnreachable { agent_id } => {
                self.remove_unreachable_agent(ctx, &agent_id, out)
            }
            AfterRegistry::RemoveAgent { agent_id } => self.remove_agent(ctx, &agent_id, true, out),
            AfterRegistry::Nothing => {}
        }
    }

    // ----- agents -----

    fn on_register_agent(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        resources: AgentResources,
        boot_id: String,
        out: &mut Out,
    ) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        if leader.registering.contains(&from) {
            return; // a retry while the registry write is in flight
        }
        if let Some(existing) = leader.agent_by_process(&from) {
            let entry = &leader.agents[&existing];
            if entry.boot_id == boot_id && entry.connected {
                // The agent did not get our answer: say it again.
                out.send(
                    &from,
                    Message::AgentRegistered {
                        epoch: leader.epoch,
                        agent_id: existing,
                    },
                );
                return;
            }
        }
        // A machine that registers afresh while an older agent ID of it is
        // still registered (its disk was wiped, so it lost that ID): Mesos's
        // `Master::registerSlave` removes the old agent first — "a new agent
        // registered at the same address" — and `_removeSlave` reports its
        // tasks `TASK_LOST` (`REASON_SLAVE_REMOVED`) to every framework,
        // partition-aware or not, once the `RemoveSlave` registry write is
        // durable; the new agent's admission is written after it. (Mesos
        // does this once the old agent is disconnected; the reference also
        // recognizes a new boot on a connection not yet seen to fail.) An
        // older ID this leader knows only from the registry (a recovered
        // agent) is left to `agent_reregister_timeout`, as in Mesos.
        if let Some(old) = leader.agent_by_process(&from) {
            leader.registry_queue.push_back(PendingRegistryOp {
                op: RegistryOp::Remove {
                    agent_id: old.clone(),
                },
                then: AfterRegistry::RemoveAgent { agent_id: old },
                intended: None,
            });
        }
        let agent_id = AgentId::new(epoch_id(leader.epoch, 'S', leader.next_agent));
        leader.next_agent += 1;
        leader.registering.insert(from.clone());
        let op = RegistryOp::Admit {
            agent_id: agent_id.clone(),
            process: from.clone(),
            resources: resources.total(),
        };
        let then = AfterRegistry::AdmitAgent {
            agent_id,
            process: from,
            resources,
            boot_id,
        };
        self.registry_apply(ctx, op, then, out);
    }

    fn admit_agent(
        &mut self,
        ctx: &Context,
        agent_id: AgentId,
        process: ProcessId,
        resources: AgentResources,
        boot_id: String,
        out: &mut Out,
    ) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        leader.registering.remove(&process);
        leader.agents.insert(
            agent_id.clone(),
            AgentEntry::new(process.clone(), &resources, boot_id),
        );
        out.send(
            &process,
            Message::AgentRegistered {
                epoch: leader.epoch,
                agent_id: agent_id.clone(),
            },
        );
        out.event(Event::AgentAdmitted {
            agent_id: agent_id.clone(),
            agent: process,
        });
        out.set_timer(MasterTimer::Ping(agent_id), ctx.now_ms);
        self.pump_registry(ctx, out);
    }

    fn on_reregister_agent(&mut self, ctx: &Context, rereg: Reregistration, out: &mut Out) {
        let policy = self.config.removed_agent_policy;
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let id = &rereg.agent_id;
        if leader.registry.gone.contains_key(id) {
            out.send(
                &rereg.process,
                Message::ShutdownAgent {
                    epoch: leader.epoch,
                    message: format!("agent {id} is gone"),
                },
            );
            return;
        }
        // Mesos `Master::reregisterSlave`: while this leader is marking the
        // agent unreachable (the registry write is queued or in flight) its
        // re-registration is ignored; the agent retries and is re-admitted
        // once the mark has landed — never re-admitted and then removed.
        let marking = leader
            .registry_in_flight
            .iter()
            .chain(leader.registry_queue.iter())
            .any(
                |p| matches!(&p.op, RegistryOp::MarkUnreachable { agent_id, .. } if agent_id == id),
            );
        if marking {
            out.event(Event::MessageIgnored {
                from: rereg.process.clone(),
                kind: "ReregisterAgent".into(),
                why: format!("agent {id} is being marked unreachable"),
            });
            return;
        }
        if leader.registry.unreachable.contains_key(id) {
            if policy == RemovedAgentPolicy::Shutdown {
                // The seed's early Mesos: a removed agent is shut down when it
                // comes back; it will register afresh under a new ID.
                out.send(
                    &rereg.process,
                    Message::ShutdownAgent {
                        epoch: leader.epoch,
                        message: format!("agent {id} was removed"),
                    },
                );
                return;
            }
            if leader.registering.insert(rereg.process.clone()) {
                let op = RegistryOp::MarkReachable {
                    agent_id: id.clone(),
                    process: rereg.process.clone(),
                    resources: rereg.resources.total(),
                };
                let then = AfterRegistry::ReadmitAgent(Box::new(Reregistration {
                    was_unreachable: true,
                    ..rereg
                }));
                self.registry_apply(ctx, op, then, out);
            }
            return;
        }
        if leader.registry.admitted.contains_key(id) {
            self.accept_reregistration(ctx, rereg, out);
            return;
        }
        // Unknown to the registry (it was written by a leader whose write we
        // cannot see, or the agent comes from elsewhere): admit it under its ID.
        if leader.registering.insert(rereg.process.clone()) {
            let op = RegistryOp::MarkReachable {
                agent_id: id.clone(),
                process: rereg.process.clone(),
                resources: rereg.resources.total(),
            };
            // Its tasks are announced again, as an unreachable agent's are
            // ("Unknown agent reregistered", `Master::__reregisterSlave`).
            let then = AfterRegistry::ReadmitAgent(Box::new(Reregistration {
                was_unreachable: true,
                ..rereg
            }));
            self.registry_apply(ctx, op, then, out);
        }
    }

    /// Merges a re-registering agent's report into the soft state: the agent,
    /// the frameworks of its tasks, and the tasks themselves.
    fn accept_reregistration(&mut self, ctx: &Context, rereg: Reregistration, out: &mut Out) {
        // Outstanding offers for an agent that re-registers are taken back: its
        // resources are rebuilt from its report.
        self.rescind_offers_on(&rereg.agent_id, out);
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        leader.registering.remove(&rereg.process);
        let epoch = leader.epoch;
        let id = rereg.agent_id.clone();
        let known = leader.agents.contains_key(&id);
        leader.awaiting_reregistration.remove(&id);

        // Frameworks first: a task's framework must exist before its tasks. A
        // framework learned only from an agent stays inactive (no scheduler)
        // until its scheduler re-registers.
        for info in &rereg.frameworks {
            let fid = info
                .id
                .clone()
                .expect("agents report registered frameworks");
            if leader.completed_frameworks.contains_key(&fid) {
                continue; // removed while this agent was away: shut down below
            }
            if self.config.bug == Some(crate::bugs::Bug::ForgetTasksBeforeFramework)
                && !leader.frameworks.contains_key(&fid)
            {
                continue; // the planted defect: its tasks are dropped below
            }
            leader
                .frameworks
                .entry(fid)
                .or_insert_with(|| FrameworkEntry::new(info.clone(), None, false));
        }

        // The agent's report is the truth about its resources — reservations
        // and volumes included; what its tasks use is recomputed below. The
        // kills it may have missed are remembered across a re-registration
        // with the same leader (they are soft state of this leader).
        let mut entry = AgentEntry::new(
            rereg.process.clone(),
            &rereg.resources,
            rereg.boot_id.clone(),
        );
        if let Some(old) = leader.agents.get(&id) {
            entry.killed_tasks = old.killed_tasks.clone();
        }

        // Tasks the agent reports.
        let reported: BTreeSet<(FrameworkId, TaskId)> = rereg
            .tasks
            .iter()
            .map(|t| (t.framework_id.clone(), t.info.task_id.clone()))
            .collect();
        let mut came_back: Vec<StatusUpdate> = Vec::new();
        for task in &rereg.tasks {
            let Some(framework) = leader.frameworks.get_mut(&task.framework_id) else {
                continue;
            };
            // An agent already registered with this leader (a retried or
            // duplicated re-registration) is reconciled, as Mesos's
            // `reconcileKnownSlave` does, not re-learned: the master's own
            // entry for a task is at least as fresh as the report (updates
            // reach it through the agent's stream), so it is kept — with the
            // update it waits to see acknowledged; and a terminal task it no
            // longer holds was removed when the framework acknowledged its
            // terminal update, and must not come back (the agent has dropped
            // its stream, so nothing would remove it again).
            if known
                && (task.state.is_terminal() || framework.tasks.contains_key(&task.info.task_id))
            {
                continue;
            }
            // A task the master had declared terminal itself may reappear from
            // an agent that never acted on it: it is not kept as both
            // (`Master::__reregisterSlave`, MESOS-9940).
            framework.completed_tasks.shift_remove(&task.info.task_id);
            framework.tasks.insert(
                task.info.task_id.clone(),
                TaskEntry {
                    agent_id: id.clone(),
                    info: task.info.clone(),
                    state: task.state,
                    // As the agent reports it: so a new leader answers
                    // reconciliation with the update still being delivered.
                    status_update_state: task.status_update_state,
                    latest_uuid: None,
                },
            );
            // An agent this leader had marked unreachable (or never knew)
            // brings its tasks back: each framework hears each task's state
            // with reason `AGENT_REREGISTERED`, from the master
            // (`Master::__reregisterSlave`). Agents recovered from the
            // registry after a failover are not "coming back": nobody was
            // told their tasks were lost.
            if rereg.was_unreachable {
                came_back.push(master_update(
                    &task.framework_id,
                    &task.info.task_id,
                    Some(id.clone()),
                    task.state,
                    Reason::AgentReregistered,
                    "agent re-registered",
                ));
            }
        }
        // Every task this agent had when it became unreachable is reachable
        // again: reported ones were re-added above, the rest are forgotten
        // (`Master::__reregisterSlave` erases `slaves.unreachableTasks`).
        for framework in leader.frameworks.values_mut() {
            framework.unreachable_tasks.retain(|_, t| t.agent_id != id);
        }
        // Tasks the master believes are on this agent but the agent does not
        // report (a `RunTask` lost on the way, or the agent died before
        // checkpointing it). The master does not decide their fate itself: it
        // asks the agent, which answers each task it does not know with a
        // reliable terminal update (`Master::reconcileKnownSlave` sends them in
        // `SlaveReregisteredMessage`; `Slave::reregistered` answers). Until
        // then the tasks stay, holding their resources.
        let mut reconcile: Vec<(FrameworkInfo, Vec<TaskId>)> = Vec::new();
        if known {
            for (fid, framework) in &leader.frameworks {
                let missing: Vec<TaskId> = framework
                    .tasks
                    .iter()
                    .filter(|(tid, t)| {
                        t.agent_id == id && !reported.contains(&(fid.clone(), (*tid).clone()))
                    })
                    .map(|(tid, _)| tid.clone())
                    .collect();
                if !missing.is_empty() {
                    reconcile.push((framework.info.clone(), missing));
                }
            }
        }
        for framework in leader.frameworks.values() {
            for (task_id, task) in &framework.tasks {
                if task.agent_id == id && task.state.is_active() {
                    entry.occupy(task_id, &task.info);
                }
            }
        }
        // Kills the agent may have missed while it was disconnected: sent
        // again for each such task it still reports non-terminal
        // (`Master::reconcileKnownSlave`).
        let kills: Vec<(FrameworkId, TaskId)> = rereg
            .tasks
            .iter()
            .filter(|t| !t.state.is_terminal())
            .map(|t| (t.framework_id.clone(), t.info.task_id.clone()))
            .filter(|key| entry.killed_tasks.contains(key))
            .collect();
        // Frameworks this leader removed while the agent was away: the agent
        // must shut them down. A known agent is told about those it runs tasks
        // of (`Master::reconcileKnownSlave`), a re-admitted one about every
        // framework it reports (`Master::__reregisterSlave`).
        let removed: BTreeSet<FrameworkId> = if known {
            rereg
                .tasks
                .iter()
                .map(|t| t.framework_id.clone())
                .filter(|fid| leader.completed_frameworks.contains_key(fid))
                .collect()
        } else {
            rereg
                .frameworks
                .iter()
                .filter_map(|f| f.id.clone())
                .filter(|fid| leader.completed_frameworks.contains_key(fid))
                .collect()
        };
        let task_count = rereg.tasks.len();
        leader.agents.insert(id.clone(), entry);
        // Mesos forwards the "came back" updates first, then answers the agent.
        for update in came_back {
            self.send_to_framework(update, out);
        }
        // The agent must hear `AgentReregistered` *before* any kill or
        // shutdown: an agent ignores a leader's commands while it is not
        // registered with it, so a shutdown sent first would be lost and the
        // removed framework's tasks would run forever.
        out.send(
            &rereg.process,
            Message::AgentReregistered {
                epoch,
                agent_id: id.clone(),
            },
        );
        for (framework, task_ids) in reconcile {
            out.send(
                &rereg.process,
                Message::AgentReconcileTasks {
                    epoch,
                    framework: Box::new(framework),
                    task_ids,
                },
            );
        }
        for (framework_id, task_id) in kills {
            out.send(
                &rereg.process,
                Message::KillTask {
                    epoch,
                    framework_id,
                    task_id,
                },
            );
        }
        for framework_id in removed {
            out.send(
                &rereg.process,
                Message::ShutdownFramework {
                    epoch,
                    framework_id,
                },
            );
        }
        out.event(Event::AgentReregistered {
            agent_id: id.clone(),
            agent: rereg.process.clone(),
            tasks: task_count,
        });
        out.set_timer(MasterTimer::Ping(id.clone()), ctx.now_ms);
    }

    fn on_agent_disconnected(&mut self, agent_id: AgentId, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let Some(agent) = leader.agents.get_mut(&agent_id) else {
            return;
        };
        if !agent.connected {
            return;
        }
        agent.connected = false;
        out.event(Event::AgentDisconnected {
            agent_id: agent_id.clone(),
        });
        self.rescind_offers_on(&agent_id, out);
    }

    fn tick_ping(&mut self, ctx: &Context, agent_id: AgentId, out: &mut Out) {
        let timing = self.config.timing.clone();
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let epoch = leader.epoch;
        let Some(agent) = leader.agents.get_mut(&agent_id) else {
            return;
        };
        if agent.pong_received {
            agent.missed_pings = 0;
        } else {
            agent.missed_pings += 1;
        }
        if agent.missed_pings >= timing.max_agent_ping_timeouts {
            self.mark_unreachable(ctx, agent_id, out);
            return;
        }
        agent.pong_received = false;
        let process = agent.process.clone();
        out.send(&process, Message::Ping { epoch });
        out.set_timer(
            MasterTimer::Ping(agent_id),
            ctx.now_ms + timing.agent_ping_timeout_ms,
        );
    }

    fn mark_unreachable(&mut self, ctx: &Context, agent_id: AgentId, out: &mut Out) {
        let op = RegistryOp::MarkUnreachable {
            agent_id: agent_id.clone(),
            at_ms: ctx.now_ms,
        };
        self.registry_apply(ctx, op, AfterRegistry::RemoveUnreachable { agent_id }, out);
    }

    /// The registry says the agent is unreachable: take it out of the resource
    /// pool and tell each framework its tasks there are lost (or unreachable).
    fn remove_unreachable_agent(&mut self, ctx: &Context, agent_id: &AgentId, out: &mut Out) {
        out.event(Event::AgentUnreachable {
            agent_id: agent_id.clone(),
        });
        self.remove_agent(ctx, agent_id, false, out);
    }

    /// Removes an agent from the soft state and reports its tasks. `removed`:
    /// the agent is removed for good (`Master::removeSlave`), not merely
    /// unreachable (`Master::markUnreachable`).
    fn remove_agent(&mut self, _ctx: &Context, agent_id: &AgentId, removed: bool, out: &mut Out) {
        self.rescind_offers_on(agent_id, out);
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        leader.agents.remove(agent_id);
        out.cancel_timer(MasterTimer::Ping(agent_id.clone()));
        let mut updates = Vec::new();
        for (fid, framework) in leader.frameworks.iter_mut() {
            let on_agent: Vec<TaskId> = framework
                .tasks
                .iter()
                .filter(|(_, t)| &t.agent_id == agent_id)
                .map(|(tid, _)| tid.clone())
                .collect();
            for tid in on_agent {
                let mut task = framework.tasks.remove(&tid).expect("listed above");
                // Mesos `Master::__removeSlave`: an unreachable agent's tasks
                // become `TASK_UNREACHABLE` (`TASK_LOST` for a framework that
                // is not partition-aware) and are kept among the framework's
                // unreachable tasks. `Master::_removeSlave`: a removed agent's
                // tasks are `TASK_LOST` for every framework, and completed.
                // Every task is reported, a terminal one whose update is not
                // acknowledged yet included (MESOS-8405,
                // `PartitionTest.AgentWithTerminalTaskPartitioned`); such a
                // task keeps its terminal state (`Master::updateTask` never
                // overwrites one), and the framework's stream still carries
                // its terminal update when the agent comes back.
                let state = if framework.info.partition_aware && !removed {
                    TaskState::Unreachable
                } else {
                    TaskState::Lost
                };
                let kept = if task.state.is_terminal() {
                    task.state
                } else {
                    state
                };
                if removed {
                    framework.add_completed(
                        tid.clone(),
                        CompletedTask {
                            agent_id: agent_id.clone(),
                            state: kept,
                            reason: Some(Reason::AgentRemoved),
                        },
                    );
                } else {
                    task.state = kept;
                    task.status_update_state = Some(kept);
                    task.latest_uuid = None;
                    framework.unreachable_tasks.insert(tid.clone(), task);
                }
                updates.push(master_update(
                    fid,
                    &tid,
                    Some(agent_id.clone()),
                    state,
                    Reason::AgentRemoved,
                    if removed {
                        "agent removed: a new agent registered at the same address"
                    } else {
                        "agent is unreachable"
                    },
                ));
            }
        }
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

    fn tick_reregister_timeout(&mut self, ctx: &Context, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let late: Vec<AgentId> = std::mem::take(&mut leader.awaiting_reregistration)
            .into_iter()
            .collect();
        for agent_id in late {
            let op = RegistryOp::MarkUnreachable {
                agent_id: agent_id.clone(),
                at_ms: ctx.now_ms,
            };
            self.registry_apply(ctx, op, AfterRegistry::RemoveUnreachable { agent_id }, out);
        }
    }

    // ----- frameworks -----

    fn on_register_framework(&mut self, from: ProcessId, info: FrameworkInfo, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let epoch = leader.epoch;
        if let Some(fid) = leader.framework_by_scheduler(&from) {
            if leader.frameworks[&fid].active {
                // Our answer was lost: repeat it.
                out.send(
                    &from,
                    Message::FrameworkRegistered {
                        epoch,
                        framework_id: fid,
                    },
                );
                return;
            }
        }
        let fid = FrameworkId::new(epoch_id(epoch, 'F', leader.next_framework));
        leader.next_framework += 1;
        let info = FrameworkInfo {
            id: Some(fid.clone()),
            ..info
        };
        leader.frameworks.insert(
            fid.clone(),
            FrameworkEntry::new(info, Some(from.clone()), true),
        );
        out.send(
            &from,
            Message::FrameworkRegistered {
                epoch,
                framework_id: fid.clone(),
            },
        );
        out.event(Event::FrameworkRegistered {
            framework_id: fid,
            scheduler: from,
        });
    }

    fn on_reregister_framework(
        &mut self,
        from: ProcessId,
        info: FrameworkInfo,
        failover: bool,
        out: &mut Out,
    ) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let epoch = leader.epoch;
        let Some(fid) = info.id.clone() else {
            out.send(
                &from,
                Message::FrameworkError {
                    epoch,
                    message: "re-registration without a framework ID".into(),
                },
            );
            return;
        };
        if leader.completed_frameworks.contains_key(&fid) {
            out.send(
                &from,
                Message::FrameworkError {
                    epoch,
                    message: "framework removed".into(),
                },
            );
            return;
        }
        out.cancel_timer(MasterTimer::FrameworkFailover(fid.clone()));
        let mut rescind_for = None;
        match leader.frameworks.get_mut(&fid) {
            Some(framework) => {
                if framework.info.principal != info.principal {
                    out.send(
                        &from,
                        Message::FrameworkError {
                            epoch,
                            message: "principal cannot change on re-registration".into(),
                        },
                    );
                    return;
                }
                if let Some(old) = framework.scheduler.clone() {
                    if old != from {
                        // Another instance takes over: the old one is told so.
                        out.send(
                            &old,
                            Message::FrameworkError {
                                epoch,
                                message: "framework failed over".into(),
                            },
                        );
                        rescind_for = Some(fid.clone());
                    }
                }
                framework.info = info;
                framework.scheduler = Some(from.clone());
                framework.active = true;
            }
            None => {
                leader.frameworks.insert(
                    fid.clone(),
                    FrameworkEntry::new(info, Some(from.clone()), true),
                );
            }
        }
        if let Some(fid) = rescind_for {
            self.remove_offers_of(&fid, out);
        }
        out.send(
            &from,
            Message::FrameworkReregistered {
                epoch,
                framework_id: fid.clone(),
            },
        );
        out.event(Event::FrameworkReregistered {
            framework_id: fid,
            scheduler: from,
            failover,
        });
    }

    fn on_framework_disconnected(&mut self, ctx: &Context, fid: FrameworkId, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let Some(framework) = leader.frameworks.get_mut(&fid) else {
            return;
        };
        if !framework.active {
            return;
        }
        framework.active = false;
        // The framework has `failover_timeout` to come back (a new scheduler
        // instance re-registering under its ID) before the master removes it.
        out.set_timer(
            MasterTimer::FrameworkFailover(fid.clone()),
            ctx.now_ms + framework.info.failover_timeout_ms,
        );
        out.event(Event::FrameworkDeactivated {
            framework_id: fid.clone(),
        });
        self.remove_offers_of(&fid, out);
    }

    fn tick_framework_failover(&mut self, ctx: &Context, fid: FrameworkId, out: &mut Out) {
        let inactive = self
            .leader()
            .and_then(|l| l.frameworks.get(&fid))
            .is_some_and(|f| !f.active);
        if inactive {
            self.remove_framework(ctx, fid, out);
        }
    }

    /// Removes a framework whose failover timeout passed: its agents are told
    /// to shut it down, its tasks end `TASK_KILLED` (reason `FRAMEWORK_REMOVED`),
    /// and it moves to the completed frameworks.
    fn remove_framework(&mut self, _ctx: &Context, fid: FrameworkId, out: &mut Out) {
        self.remove_offers_of(&fid, out);
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let epoch = leader.epoch;
        let Some(framework) = leader.frameworks.remove(&fid) else {
            return;
        };
        // `Master::removeFramework` marks every task `TASK_KILLED` (reason
        // `FRAMEWORK_REMOVED`) without an update to anyone — except that
        // `Master::updateTask` never overwrites a terminal state: a task that
        // already ended keeps its state, and an unreachable task a framework
        // that is not partition-aware was told is `TASK_LOST` stays so.
        let completed = |task: TaskEntry, ended_reason: Option<Reason>| {
            let (state, reason) = if task.state.is_terminal() {
                (task.state, ended_reason)
            } else {
                (TaskState::Killed, Some(Reason::FrameworkRemoved))
            };
            CompletedTask {
                agent_id: task.agent_id,
                state,
                reason,
            }
        };
        let mut tasks = BTreeMap::new();
        for (task_id, task) in framework.tasks {
            if let Some(agent) = leader.agents.get_mut(&task.agent_id) {
                if task.state.is_active() {
                    agent.release(&task.info);
                }
                agent.killed_tasks.remove(&(fid.clone(), task_id.clone()));
            }
            tasks.insert(task_id, completed(task, None));
        }
        // Its unreachable tasks are completed too; their agents learn of the
        // removal if they re-register with this leader.
        for (task_id, task) in framework.unreachable_tasks {
            tasks.insert(task_id, completed(task, Some(Reason::AgentRemoved)));
        }
        for (task_id, task) in framework.completed_tasks {
            tasks.entry(task_id).or_insert(task);
        }
        // Every registered agent is told, connected or not, with tasks of the
        // framework or not (`Master::removeFramework`); a message to a
        // disconnected agent is lost, and `__reregisterSlave` /
        // `reconcileKnownSlave` tell it again when it comes back.
        for agent in leader.agents.values() {
            out.send(
                &agent.process,
                Message::ShutdownFramework {
                    epoch,
                    framework_id: fid.clone(),
                },
            );
        }
        out.event(Event::FrameworkRemoved {
            framework_id: fid.clone(),
            tasks: tasks.len(),
        });
        leader.completed_frameworks.insert(
            fid,
            CompletedFramework {
                info: framework.info,
                tasks,
            },
        );
    }

    /// A scheduler tears its framework down (Mesos `Master::teardown`): the
    /// master removes it at once, exactly as when its failover timeout passes —
    /// its tasks become completed `TASK_KILLED` (`REASON_FRAMEWORK_REMOVED`)
    /// and every registered agent is told to shut it down.
    fn on_teardown(&mut self, ctx: &Context, from: ProcessId, fid: FrameworkId, out: &mut Out) {
        if !self.check_scheduler(&from, &fid, "Teardown", out) {
            return;
        }
        self.remove_framework(ctx, fid, out);
    }

    /// Checks that `from` is the scheduler currently attached to `fid`; a call
    /// from anyone else (a failed-over instance) is ignored, and the trace says so.
    fn check_scheduler(
        &self,
        from: &ProcessId,
        fid: &FrameworkId,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        let Some(leader) = self.leader() else {
            return false;
        };
        let ok = leader
            .frameworks
            .get(fid)
            .is_some_and(|f| f.scheduler.as_ref() == Some(from) && f.active);
        if !ok {
            out.event(Event::MessageIgnored {
                from: from.clone(),
                kind: kind.to_string(),
                why: format!("not the active scheduler of framework {fid}"),
            });
        }
        ok
    }

    // ----- offers -----

    fn tick_allocate(&mut self, ctx: &Context, out: &mut Out) {
        let interval = self.config.timing.allocation_interval_ms;
        out.set_timer(MasterTimer::Allocate, ctx.now_ms + interval);
        let planted = self.config.bug == Some(crate::bugs::Bug::VolumeOfferedToAnyRole);
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let mut batches: BTreeMap<FrameworkId, Vec<Offer>> = BTreeMap::new();
        let agent_ids: Vec<AgentId> = leader.agents.keys().cloned().collect();
        for agent_id in agent_ids {
            if !leader.agents[&agent_id].connected {
                continue;
            }
            // Smallest allocation first (a one-resource DRF), ties by ID. Each
            // framework is offered the unreserved resources still free and what
            // is reserved for its own role (with its role's free volumes); so
            // reserved resources reach only frameworks of their role.
            let mut candidates: Vec<(u64, FrameworkId, String)> = leader
                .frameworks
                .iter()
                .filter(|(_, f)| f.active && f.scheduler.is_some())
                .filter(|(_, f)| {
                    f.filters
                        .get(&agent_id)
                        .is_none_or(|until| *until <= ctx.now_ms)
                })
                .map(|(fid, f)| {
                    let allocated: u64 = f
                        .tasks
                        .values()
                        .filter(|t| t.state.is_active())
                        .map(|t| t.info.resources.cpus_milli)
                        .sum();
                    (allocated, fid.clone(), f.info.role.clone())
                })
                .collect();
            candidates.sort();
            for (_, fid, role) in candidates {
                let agent = leader.agents.get_mut(&agent_id).expect("listed above");
                let share = agent.free().for_role(&role);
                let volumes = if planted {
                    // The planted defect: every free volume, whatever its role.
                    let roles: BTreeSet<String> =
                        agent.volumes.values().map(|v| v.role.clone()).collect();
                    roles.iter().flat_map(|r| agent.free_volumes(r)).collect()
                } else {
                    agent.free_volumes(&role)
                };
                if share.is_empty() && volumes.is_empty() {
                    continue;
                }
                agent.offered = agent.offered.plus(&share);
                agent
                    .volumes_offered
                    .extend(volumes.iter().map(Volume::key));
                agent.assert_accounting();
                let offer_id = OfferId::new(epoch_id(leader.epoch, 'O', leader.next_offer));
                leader.next_offer += 1;
                let hostname = agent.process.clone();
                let offer = Offer {
                    offer_id: offer_id.clone(),
                    framework_id: fid.clone(),
                    agent_id: agent_id.clone(),
                    hostname,
                    resources: share,
                    volumes,
                };
                leader.offers.insert(offer_id, offer.clone());
                batches.entry(fid).or_default().push(offer);
            }
        }
        let epoch = leader.epoch;
        for (fid, offers) in batches {
            let scheduler = leader.frameworks[&fid]
                .scheduler
                .clone()
                .expect("filtered above");
            out.send(&scheduler, Message::ResourceOffers { epoch, offers });
        }
    }

    /// Takes an offer back, returning its resources to the agent's free pool.
    fn take_offer(leader: &mut Leader, offer_id: &OfferId) -> Option<Offer> {
        let offer = leader.offers.remove(offer_id)?;
        if let Some(agent) = leader.agents.get_mut(&offer.agent_id) {
            agent.offered = agent
                .offered
                .minus(&offer.resources)
                .expect("an offer's resources are counted as offered");
            for volume in &offer.volumes {
                agent.volumes_offered.remove(&volume.key());
            }
        }
        Some(offer)
    }

    fn rescind_offers_on(&mut self, agent_id: &AgentId, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let ids: Vec<OfferId> = leader
            .offers
            .iter()
            .filter(|(_, o)| &o.agent_id == agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let offer = Self::take_offer(leader, &id).expect("listed above");
            if let Some(scheduler) = leader
                .frameworks
                .get(&offer.framework_id)
                .and_then(|f| f.scheduler.clone())
            {
                out.send(
                    &scheduler,
                    Message::RescindOffer {
                        epoch: leader.epoch,
                        offer_id: id,
                    },
                );
            }
        }
    }

    /// Drops a framework's outstanding offers without telling it (it is
    /// disconnected or replaced).
    fn remove_offers_of(&mut self, fid: &FrameworkId, _out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let ids: Vec<OfferId> = leader
            .offers
            .iter()
            .filter(|(_, o)| &o.framework_id == fid)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            Self::take_offer(leader, &id);
        }
    }

    /// An accept: the offers' resources form a pool, and the operations are
    /// applied to it in order, each validated on its own (Mesos). An invalid
    /// operation is dropped and reported (a LAUNCH ends `TASK_ERROR`); the valid
    /// ones are applied: reservations and volumes are sent to the agent (which
    /// checkpoints them) before the tasks that use them.
    fn on_accept(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        fid: FrameworkId,
        offer_ids: Vec<OfferId>,
        operations: Vec<Operation>,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Accept", out) {
            return;
        }
        let refuse_ms = self.config.timing.offer_refuse_ms;
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let epoch = leader.epoch;
        // Validate the offers: all must exist, be this framework's and be on one
        // agent, and none may be named twice (Mesos `validation::offer::validate`:
        // `validateUniqueOfferID`, `validateFramework`, `validateSlave`).
        let mut agent_id: Option<AgentId> = None;
        let distinct: BTreeSet<&OfferId> = offer_ids.iter().collect();
        let mut valid = distinct.len() == offer_ids.len();
        for id in &offer_ids {
            match leader.offers.get(id) {
                Some(o)
                    if o.framework_id == fid
                        && agent_id.as_ref().is_none_or(|a| a == &o.agent_id) =>
                {
                    agent_id = Some(o.agent_id.clone());
                }
                _ => valid = false,
            }
        }
        let mut pool = RoleResources::default();
        let mut pool_volumes: BTreeMap<String, Volume> = BTreeMap::new();
        for id in &offer_ids {
            if leader.offers.get(id).is_some_and(|o| o.framework_id == fid) {
                let offer = Self::take_offer(leader, id).expect("present");
                pool = pool.plus(&offer.resources);
                pool_volumes.extend(offer.volumes.into_iter().map(|v| (v.key(), v)));
            }
        }
        let framework = leader.frameworks.get(&fid).expect("checked scheduler");
        let partition_aware = framework.info.partition_aware;
        let info = framework.info.clone();
        let mut updates = Vec::new();
        let agent_id = match (valid, agent_id) {
            (true, Some(a)) if leader.agents.get(&a).is_some_and(|e| e.connected) => a,
            (_, agent) => {
                for operation in operations {
                    let Operation::Launch { tasks } = operation else {
                        continue;
                    };
                    for task in tasks {
                        updates.push(master_update(
                            &fid,
                            &task.task_id,
                            agent.clone(),
                            if partition_aware {
                                TaskState::Dropped
                            } else {
                                TaskState::Lost
                            },
                            Reason::InvalidOffers,
                            "launch used offers that are no longer valid",
                        ));
                    }
                }
                for update in updates {
                    self.send_to_framework(update, out);
                }
                return;
            }
        };
        let agent_process = leader.agents[&agent_id].process.clone();
        let role = info.role.clone();
        let mut resource_ops = Vec::new();
        let mut launches = Vec::new();
        let mut refusals: Vec<(Operation, String)> = Vec::new();
        for operation in operations {
            let agent = leader.agents.get_mut(&agent_id).expect("checked connected");
            let refused: Option<String> = match &operation {
                Operation::Reserve {
                    role: target,
                    resources,
                } => {
                    if *target != role || target == UNRESERVED {
                        Some(format!(
                            "cannot reserve for role {target}: the framework's role is {role}"
                        ))
                    } else if !pool.take(UNRESERVED, resources) {
                        Some(format!(
                            "reserving more than offered: {resources} asked, {} unreserved offered",
                            pool.get(UNRESERVED)
                        ))
                    } else {
                        pool.add(target, resources);
                        agent.total.take_exact(UNRESERVED, resources);
                        agent.total.add(target, resources);
                        None
                    }
                }
                Operation::Unreserve {
                    role: target,
                    resources,
                } => {
                    let offered = pool.get(target);
                    if *target != role {
                        Some(format!("cannot unreserve resources of role {target}: the framework's role is {role}"))
                    } else if !pool.take(target, resources) {
                        let volume_disk: u64 = agent
                            .volumes
                            .values()
                            .filter(|v| &v.role == target)
                            .map(|v| v.disk_mb)
                            .sum();
                        if resources.disk_mb > offered.disk_mb && volume_disk > 0 {
                            Some(format!("cannot unreserve disk that still holds a volume ({volume_disk} MB in volumes)"))
                        } else {
                            Some(format!("unreserving more than offered: {resources} asked, {offered} reserved offered"))
                        }
                    } else {
                        pool.add(UNRESERVED, resources);
                        agent.total.take_exact(target, resources);
                        agent.total.add(UNRESERVED, resources);
                        None
                    }
                }
                Operation::Create { volume } => {
                    let disk = Resources::new(0, 0, volume.disk_mb);
                    if volume.role != role {
                        Some(format!(
                            "cannot create a volume for role {}: the framework's role is {role}",
                            volume.role
                        ))
                    } else if agent.volumes.contains_key(&volume.key()) {
                        Some(format!(
                            "volume ID {} is already used by role {} on this agent",
                            volume.id, volume.role
                        ))
                    } else if !pool.take(&volume.role, &disk) {
                        Some(format!(
                            "a volume needs disk reserved for {}: {} MB asked, {} MB reserved offered",
                            volume.role,
                            volume.disk_mb,
                            pool.get(&volume.role).disk_mb
                        ))
                    } else {
                        agent.total.take_exact(&volume.role, &disk);
                        agent.volumes.insert(volume.key(), volume.clone());
                        pool_volumes.insert(volume.key(), volume.clone());
                        None
                    }
                }
                Operation::Destroy { role: target, id } => {
                    let key = volume_key(target, id);
                    if let Some(task) = agent.volumes_in_use.get(&key) {
                        Some(format!("cannot destroy volume {key}: task {task} uses it"))
                    } else if !pool_volumes.contains_key(&key) {
                        Some(format!("volume {key} is not in the offer"))
                    } else {
                        let volume = pool_volumes.remove(&key).expect("checked");
                        agent.volumes.remove(&key);
                        let disk = Resources::new(0, 0, volume.disk_mb);
                        agent.total.add(target, &disk);
                        pool.add(target, &disk);
                        None
                    }
                }
                Operation::Launch { tasks } => {
                    for task in tasks {
                        let framework = leader.frameworks.get(&fid).expect("checked");
                        // Mesos `validateUniqueTaskID`: an ID the framework
                        // still has in the master — a terminal task whose
                        // update is not acknowledged yet, or a task on an
                        // unreachable agent — cannot be used again.
                        let forget_unreachable =
                            self.config.bug == Some(crate::bugs::Bug::UniqueIdIgnoresUnreachable);
                        let duplicate = framework.tasks.contains_key(&task.task_id)
                            || (!forget_unreachable
                                && framework.unreachable_tasks.contains_key(&task.task_id))
                            || launches
                                .iter()
                                .any(|t: &TaskInfo| t.task_id == task.task_id);
                        let volume_key = task.volume.as_ref().map(|v| volume_key(&task.role, v));
                        let problem = if duplicate {
                            Some("task ID already in use")
                        } else if task.resources.is_empty() {
                            Some("task uses no resources")
                        } else if task.role != UNRESERVED && task.role != role {
                            Some("task uses resources reserved for another role")
                        } else if volume_key
                            .as_ref()
                            .is_some_and(|k| !pool_volumes.contains_key(k))
                        {
                            Some("task uses a volume that is not in the offer")
                        } else if !pool.take(&task.role, &task.resources) {
                            Some("task needs more resources than offered")
                        } else {
                            None
                        };
                        if let Some(problem) = problem {
                            updates.push(master_update(
                                &fid,
                                &task.task_id,
                                Some(agent_id.clone()),
                                TaskState::Error,
                                Reason::TaskInvalid,
                                problem,
                            ));
                            continue;
                        }
                        if let Some(key) = volume_key {
                            pool_volumes.remove(&key);
                        }
                        launches.push(task.clone());
                    }
                    None
                }
            };
            match refused {
                Some(reason) => refusals.push((operation, reason)),
                None if !matches!(operation, Operation::Launch { .. }) => {
                    resource_ops.push(operation)
                }
                None => {}
            }
        }
        // Reservations and volumes reach the agent before the tasks using them.
        if !resource_ops.is_empty() {
            out.send(
                &agent_process,
                Message::ApplyOperations {
                    epoch,
                    operations: resource_ops,
                },
            );
        }
        for task in launches {
            let framework = leader.frameworks.get_mut(&fid).expect("checked");
            framework.tasks.insert(
                task.task_id.clone(),
                TaskEntry {
                    agent_id: agent_id.clone(),
                    info: task.clone(),
                    state: TaskState::Staging,
                    status_update_state: None,
                    latest_uuid: None,
                },
            );
            leader
                .agents
                .get_mut(&agent_id)
                .expect("checked")
                .occupy(&task.task_id, &task);
            out.event(Event::TaskLaunched {
                framework_id: fid.clone(),
                task_id: task.task_id.clone(),
                agent_id: agent_id.clone(),
            });
            out.send(
                &agent_process,
                Message::RunTask {
                    epoch,
                    framework: Box::new(info.clone()),
                    task,
                },
            );
        }
        leader.agents[&agent_id].assert_accounting();
        if !pool.is_empty() || !pool_volumes.is_empty() {
            // Unused resources of an accepted offer are filtered for a while
            // (Mesos applies the call's default `refuse_seconds` of 5 s).
            if let Some(framework) = leader.frameworks.get_mut(&fid) {
                framework.filters.insert(agent_id, ctx.now_ms + refuse_ms);
            }
        }
        let scheduler = leader
            .frameworks
            .get(&fid)
            .and_then(|f| f.scheduler.clone());
        for (operation, reason) in refusals {
            out.event(Event::OperationRefused {
                framework_id: fid.clone(),
                operation: operation.name().to_string(),
                reason: reason.clone(),
            });
            if let Some(scheduler) = &scheduler {
                out.send(
                    scheduler,
                    Message::OperationError {
                        epoch,
                        operation,
                        message: reason,
                    },
                );
            }
        }
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

    fn on_decline(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        fid: FrameworkId,
        offer_ids: Vec<OfferId>,
        refuse_ms: u64,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Decline", out) {
            return;
        }
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        for id in offer_ids {
            if leader
                .offers
                .get(&id)
                .is_some_and(|o| o.framework_id == fid)
            {
                let offer = Self::take_offer(leader, &id).expect("present");
                if let Some(framework) = leader.frameworks.get_mut(&fid) {
                    framework
                        .filters
                        .insert(offer.agent_id, ctx.now_ms + refuse_ms);
                }
            }
        }
    }

    // ----- tasks and status updates -----

    /// A framework kills a task (Mesos `Master::kill`). A task the master
    /// knows is recorded in its agent's `killed_tasks` *whatever the
    /// connection's state* — the agent may be partitioned without the master
    /// knowing yet — and the kill is sent if the agent is connected; if the
    /// agent is disconnected, the kill is sent again when it re-registers
    /// (`Master::reconcileKnownSlave`). A task the master does not know is
    /// answered with an explicit reconciliation, as Mesos does.
    fn on_kill(&mut self, from: ProcessId, fid: FrameworkId, task_id: TaskId, out: &mut Out) {
        if !self.check_scheduler(&from, &fid, "Kill", out) {
            return;
        }
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let epoch = leader.epoch;
        let agent_id = leader
            .frameworks
            .get(&fid)
            .and_then(|f| f.tasks.get(&task_id))
            .map(|t| t.agent_id.clone());
        let Some(agent_id) = agent_id else {
            let question = ReconcileTask {
                task_id,
                agent_id: None,
            };
            self.reconcile_explicit(&fid, vec![question], out);
            return;
        };
        // A known task's agent is registered (tasks are learned only from
        // registered agents and leave with them), as Mesos CHECKs.
        let Some(agent) = leader.agents.get_mut(&agent_id) else {
            return;
        };
        agent.killed_tasks.insert((fid.clone(), task_id.clone()));
        // Sent even if an earlier kill was: that one may have been lost
        // without the agent re-registering (and so without a reconciliation).
        if agent.connected {
            out.send(
                &agent.process,
                Message::KillTask {
                    epoch,
                    framework_id: fid,
                    task_id,
                },
            );
        }
    }

    fn on_status_update(&mut self, from: ProcessId, update: StatusUpdate, out: &mut Out) {
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let Some(agent_id) = leader.agent_by_process(&from) else {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: "update from an agent that is not registered".into(),
            });
            return;
        };
        if update.agent_id.as_ref() != Some(&agent_id) {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: "update names another agent".into(),
            });
            return;
        }
        let Some(framework) = leader.frameworks.get_mut(&update.framework_id) else {
            out.event(Event::MessageIgnored {
                from,
                kind: "StatusUpdate".into(),
                why: format!("unknown framework {}", update.framework_id),
            });
            return;
        };
        // Mesos `Master::forward` records the update's state and uuid on the
        // task only when it actually forwards it — to a connected framework —
        // and only for an update with a uuid (one the agent will retry).
        let forwarded = framework.active && framework.scheduler.is_some();
        if let Some(task) = framework.tasks.get_mut(&update.task_id) {
            // Record the task's *latest* state (Mesos `latest_state`): a replayed
            // older update must never move a task back, nor double-count its
            // resources.
            let latest = update.latest_state.unwrap_or(update.state);
            let was_active = task.state.is_active();
            task.state = latest;
            if forwarded && update.uuid.is_some() {
                task.status_update_state = Some(update.state);
                task.latest_uuid = update.uuid.clone();
            }
            let agent = leader.agents.get_mut(&agent_id).expect("registered");
            match (was_active, latest.is_active()) {
                (true, false) => agent.release(&task.info),
                (false, true) => agent.occupy(&update.task_id, &task.info),
                _ => {}
            }
        }
        self.send_to_framework(update, out);
    }

    fn on_acknowledge(
        &mut self,
        from: ProcessId,
        fid: FrameworkId,
        agent_id: AgentId,
        task_id: TaskId,
        uuid: UpdateUuid,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Acknowledge", out) {
            return;
        }
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        // Mesos `Master::acknowledge`: an acknowledgement for an agent that is
        // unknown or disconnected is dropped — the task stays, and the agent
        // resends the update when it is back — and so is one for a task with
        // no forwarded update.
        let Some(agent) = leader.agents.get(&agent_id).filter(|a| a.connected) else {
            out.event(Event::MessageIgnored {
                from,
                kind: "Acknowledge".into(),
                why: format!("agent {agent_id} is not connected"),
            });
            return;
        };
        let Some(framework) = leader.frameworks.get_mut(&fid) else {
            return;
        };
        let Some(task_state) = framework.tasks.get(&task_id).map(|t| t.status_update_state) else {
            // Unknown (already retired) task: the agent may still wait for it.
            out.send(
                &agent.process,
                Message::StatusUpdateAcknowledgement {
                    epoch: leader.epoch,
                    framework_id: fid.clone(),
                    task_id: task_id.clone(),
                    uuid: uuid.clone(),
                },
            );
            return;
        };
        if task_state.is_none() {
            out.event(Event::MessageIgnored {
                from,
                kind: "Acknowledge".into(),
                why: format!("no update of {task_id} was forwarded"),
            });
            return;
        }
        out.send(
            &agent.process,
            Message::StatusUpdateAcknowledgement {
                epoch: leader.epoch,
                framework_id: fid.clone(),
                task_id: task_id.clone(),
                uuid: uuid.clone(),
            },
        );
        // The acknowledgement of a terminal update retires the task.
        {
            let retire = framework.tasks.get(&task_id).is_some_and(|t| {
                t.status_update_state.is_some_and(TaskState::is_terminal)
                    && t.latest_uuid.as_ref() == Some(&uuid)
            });
            if retire {
                let task = framework.tasks.remove(&task_id).expect("checked above");
                if let Some(agent) = leader.agents.get_mut(&task.agent_id) {
                    agent.killed_tasks.remove(&(fid.clone(), task_id.clone()));
                }
                framework.add_completed(
                    task_id,
                    CompletedTask {
                        agent_id: task.agent_id,
                        state: task.state,
                        reason: None,
                    },
                );
            }
        }
    }

    /// Forwards an update to the framework's scheduler if it is attached.
    /// Undelivered agent updates are retried by the agent; master-made ones are
    /// recoverable by reconciliation.
    fn send_to_framework(&mut self, update: StatusUpdate, out: &mut Out) {
        let Some(leader) = self.leader() else { return };
        let Some(framework) = leader.frameworks.get(&update.framework_id) else {
            return;
        };
        if let (true, Some(scheduler)) = (framework.active, framework.scheduler.clone()) {
            out.send(&scheduler, Message::StatusUpdate { update });
        }
    }

    // ----- reconciliation -----

    fn on_reconcile(
        &mut self,
        from: ProcessId,
        fid: FrameworkId,
        tasks: Vec<ReconcileTask>,
        out: &mut Out,
    ) {
        if !self.check_scheduler(&from, &fid, "Reconcile", out) {
            return;
        }
        if tasks.is_empty() {
            self.reconcile_implicit(&fid, out);
        } else {
            self.reconcile_explicit(&fid, tasks, out);
        }
    }

    /// Implicit reconciliation (Mesos `Master::reconcile` with no tasks): every
    /// task the master knows for the framework — terminal ones stay known
    /// until their terminal update is acknowledged — in its *status-update*
    /// state. Tasks on unreachable agents are not in the table and are not
    /// answered, as in Mesos.
    fn reconcile_implicit(&mut self, fid: &FrameworkId, out: &mut Out) {
        let Some(leader) = self.leader() else { return };
        let Some(framework) = leader.frameworks.get(fid) else {
            return;
        };
        let updates: Vec<StatusUpdate> = framework
            .tasks
            .iter()
            .map(|(tid, t)| known_task_answer(fid, tid, t))
            .collect();
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

    /// Explicit reconciliation, case by case as Mesos's `Master::reconcile`:
    ///
    /// 1. the task is known: its status-update state;
    /// 2. unknown, and its agent (or, with no agent named, *any* agent) was
    ///    recovered from the registry and has not re-registered yet: **no
    ///    answer** — the framework asks again later, with backoff
    ///    (`ReconciliationTest.RecoveredAgent`);
    /// 3. unknown, agent registered: `TASK_GONE`;
    /// 4. unknown, agent unreachable: `TASK_UNREACHABLE`;
    /// 5. unknown, agent gone: `TASK_GONE_BY_OPERATOR`;
    /// 6. unknown, agent unknown: `TASK_UNKNOWN`.
    ///
    /// A framework that is not partition-aware hears `TASK_LOST` in cases 3–6.
    /// Every answer comes from the master with reason `RECONCILIATION`.
    fn reconcile_explicit(
        &mut self,
        fid: &FrameworkId,
        questions: Vec<ReconcileTask>,
        out: &mut Out,
    ) {
        let Some(leader) = self.leader() else { return };
        let Some(framework) = leader.frameworks.get(fid) else {
            return;
        };
        let partition_aware = framework.info.partition_aware;
        let mut updates = Vec::new();
        for q in questions {
            if let Some(t) = framework.tasks.get(&q.task_id) {
                updates.push(known_task_answer(fid, &q.task_id, t));
                continue;
            }
            let recovered = match &q.agent_id {
                Some(a) => leader.awaiting_reregistration.contains(a),
                None => !leader.awaiting_reregistration.is_empty(),
            };
            if recovered {
                out.event(Event::ReconciliationDropped {
                    framework_id: fid.clone(),
                    task_id: q.task_id.clone(),
                });
                continue;
            }
            let agent = q.agent_id.as_ref();
            let (aware, why) = if agent.is_some_and(|a| leader.agents.contains_key(a)) {
                (TaskState::Gone, "task is unknown to the agent")
            } else if agent.is_some_and(|a| leader.registry.unreachable.contains_key(a)) {
                (TaskState::Unreachable, "task is unreachable")
            } else if agent.is_some_and(|a| leader.registry.gone.contains_key(a)) {
                (TaskState::GoneByOperator, "task is gone")
            } else {
                (TaskState::Unknown, "task is unknown")
            };
            let state = if partition_aware {
                aware
            } else {
                TaskState::Lost
            };
            updates.push(master_update(
                fid,
                &q.task_id,
                q.agent_id.clone(),
                state,
                Reason::Reconciliation,
                why,
            ));
        }
        for update in updates {
            self.send_to_framework(update, out);
        }
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
