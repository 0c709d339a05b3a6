//! # The leader's soft state
//!
//! Everything a leading Mesos master knows about agents, frameworks, tasks and
//! offers (`Master::slaves`, `Master::frameworks`: the `Slave` and `Framework`
//! structs of `src/master/master.hpp`, holding `Task` messages) lives only in
//! its memory: it is never written
//! anywhere, and a new leader rebuilds it from re-registrations. Only the
//! registry (`crate::registry`) is durable. These are its types, with the
//! accounting each agent entry keeps and asserts (total = used + offered +
//! free, per role).

use super::*;

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
    pub(super) fn new(process: ProcessId, resources: &AgentResources, boot_id: String) -> Self {
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
    pub(super) fn occupy(&mut self, task_id: &TaskId, info: &TaskInfo) {
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
    pub(super) fn release(&mut self, info: &TaskInfo) {
        self.used.take_exact(&info.role, &info.resources);
        if let Some(id) = &info.volume {
            self.volumes_in_use.remove(&volume_key(&info.role, id));
        }
    }

    pub(super) fn assert_accounting(&self) {
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
    pub(super) fn new(info: FrameworkInfo, scheduler: Option<ProcessId>, active: bool) -> Self {
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
    pub(super) fn add_completed(&mut self, task_id: TaskId, task: CompletedTask) {
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
    pub(super) fn new(epoch: u64) -> Self {
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

    pub(super) fn agent_by_process(&self, process: &ProcessId) -> Option<AgentId> {
        self.agents
            .iter()
            .find(|(_, a)| &a.process == process)
            .map(|(id, _)| id.clone())
    }

    pub(super) fn framework_by_scheduler(&self, process: &ProcessId) -> Option<FrameworkId> {
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
