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
//!
//! Who changes what:
//!
//! - [`AgentEntry`]: created when an agent is admitted or re-registers
//!   (`agents.rs`), its `offered` changed by offers (`offers.rs`), its `used`
//!   by launches and status updates (`offers.rs`, `updates.rs`), removed when
//!   the agent is marked unreachable or removed;
//! - [`FrameworkEntry`]: created at registration or from an agent's report,
//!   (de)activated with its scheduler, moved to [`CompletedFramework`] on
//!   removal (`frameworks.rs`);
//! - [`TaskEntry`]: created by a launch (`offers.rs`) or an agent's report,
//!   updated by status updates, retired by the acknowledgement of its terminal
//!   update (`updates.rs`) or when its agent or framework goes;
//! - the registrar's fields of [`Leader`]: `registrar.rs`.
//!
//! [`Leader::rebuilt_view`] is the part of all this a new leader must rebuild
//! exactly; the harness compares it across a failover.

use super::*;

/// An agent as the leader knows it: registered with this leader (admitted,
/// re-registered or re-admitted), connected or not. Mesos's `Slave` in
/// src/master/master.hpp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct AgentEntry {
    /// The agent's process: where messages to it go, and how messages and
    /// broken connections from it are traced back to its ID
    /// (`Leader::agent_by_process`).
    pub process: ProcessId,
    /// The agent's resources by role, as it reported them: its dynamic
    /// reservations live on the agent, never in the master's registry.
    /// (Volumes' disk is not in here; it is in `volumes`.)
    pub total: RoleResources,
    /// The agent's persistent volumes, by key (`role/id`), as it reported them
    /// or as this leader's `Create`/`Destroy` changed them. A volume outlives the
    /// tasks that use it; its disk is counted here, not in `total`.
    pub volumes: BTreeMap<String, Volume>,
    /// Resources of this agent's active tasks, by the role they come from.
    /// Changed only by `occupy` and `release`; never reported by the agent but
    /// recomputed from the tasks when it re-registers.
    pub used: RoleResources,
    /// Resources in outstanding offers for this agent, by role: added when an
    /// offer is made (`tick_allocate`), taken out when it ends (`take_offer`).
    pub offered: RoleResources,
    /// Volumes an active task uses (not offered until it ends), by key, with the
    /// task using it: filled by `occupy`, emptied by `release`. A volume in use
    /// cannot be destroyed.
    pub volumes_in_use: BTreeMap<String, TaskId>,
    /// Volumes in an outstanding offer: a volume is in at most one offer at a
    /// time, so two frameworks are never offered the same data.
    pub volumes_offered: BTreeSet<String>,
    /// Whether the agent's connection is up (a disconnected agent gets no offers;
    /// only missed health checks make it unreachable). Cleared by
    /// `on_agent_disconnected`; set again only by a re-registration, which builds
    /// a new entry. Also decides whether kills and acknowledgements are sent.
    pub connected: bool,
    /// The boot the agent reported at its last (re-)registration. A
    /// `RegisterAgent` from the same process with the same boot is a retry; with
    /// another boot it is a machine that lost its ID and registers afresh
    /// (`on_register_agent`).
    pub boot_id: String,
    /// Consecutive health checks that found no pong since the previous ping:
    /// reset by a pong, marks the agent unreachable at `max_agent_ping_timeouts`
    /// (`tick_ping`).
    pub missed_pings: u32,
    /// Whether a pong arrived since the last ping: set by `Message::Pong`,
    /// cleared when the next ping is sent.
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
    /// A fresh entry for an agent that has just registered or re-registered:
    /// connected, nothing used or offered, healthy.
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

    /// Resources neither used by a task nor in an offer, by role: what the next
    /// allocation may offer. Panics if the agent is over-committed, which would
    /// mean two promises of the same resources.
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

    /// A task ended (or its framework was removed): its resources (and volume)
    /// are free again. `take_exact` panics if they were not counted as used:
    /// releasing twice would make resources appear from nowhere.
    pub(super) fn release(&mut self, info: &TaskInfo) {
        self.used.take_exact(&info.role, &info.resources);
        if let Some(id) = &info.volume {
            self.volumes_in_use.remove(&volume_key(&info.role, id));
        }
    }

    /// Asserts `used + offered ≤ total` for every role (see the module doc):
    /// called after every offer and every accept.
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

/// A framework as the leader knows it: Mesos's `Framework` in
/// src/master/master.hpp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct FrameworkEntry {
    /// Its info, with its ID: given at registration, replaced at each
    /// re-registration, or taken from an agent's report when the framework was
    /// learned that way. Its `partition_aware` flag decides which task states
    /// the framework is told; its `role` which reservations it is offered.
    pub info: FrameworkInfo,
    /// The scheduler process currently attached, if any: set at (re-)registration,
    /// `None` for a framework learned only from an agent's report. Kept when the
    /// scheduler disconnects, so that a successor can tell the old instance it
    /// was replaced; the only process whose calls are accepted
    /// (`check_scheduler`).
    pub scheduler: Option<ProcessId>,
    /// Connected and registered with this leader: receives offers and updates,
    /// and may make calls. Cleared when its scheduler disconnects; false from the
    /// start for a framework learned from an agent's report.
    pub active: bool,
    /// Tasks by ID; a task leaves this table once its terminal update is
    /// acknowledged, when its agent is marked unreachable or removed, or when
    /// the framework is removed. A terminal task still here is waiting for its
    /// acknowledgement, and its ID cannot be reused.
    pub tasks: BTreeMap<TaskId, TaskEntry>,
    /// Agents whose resources this framework declined (or left unused in an
    /// accept), until the given time: `tick_allocate` offers it nothing from them
    /// meanwhile. Expired entries are simply ignored.
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
    /// A framework entry with no tasks, filters or history.
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

/// A task as the leader knows it (Mesos's `Task` in the master).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    /// The agent it was launched on (or reported by).
    pub agent_id: AgentId,
    /// What was launched: resources, role, volume. `occupy` and `release` use
    /// it, and it goes back to an agent asked to reconcile the task.
    pub info: TaskInfo,
    /// The task's latest known state: the agent's `latest_state` from each
    /// update, or the state an agent reported at re-registration. Decides
    /// whether it holds resources (reconciliation answers with
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
    /// Its info at removal.
    pub info: FrameworkInfo,
    /// Every task it had, with how it ended.
    pub tasks: BTreeMap<TaskId, CompletedTask>,
}

/// How a task ended: kept in a framework's history (`completed_tasks`) and in
/// a removed framework's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedTask {
    /// The agent it ran on.
    pub agent_id: AgentId,
    /// Its terminal state (a task the master ended itself keeps the terminal
    /// state it already had, as Mesos's `updateTask` never overwrites one).
    pub state: TaskState,
    /// Why the master ended it (`AGENT_REMOVED`, `FRAMEWORK_REMOVED`); `None`
    /// when its own terminal update ended it.
    pub reason: Option<Reason>,
}

/// A registry operation waiting for (or in) its compare-and-set write, with what
/// to do once it is durable.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingRegistryOp {
    /// The change to make.
    pub op: RegistryOp,
    /// What to do once it is durable.
    pub then: AfterRegistry,
    /// The registry as it will be once this write lands (set when sent).
    pub intended: Option<Registry>,
}

/// What a registry operation is waiting for: the second half of the handler
/// that queued it, run by `Leader::after_registry` (`registrar.rs`) once the
/// write is durable. Mesos chains the same continuations on the registrar's
/// future (`__registerSlave` after `AdmitSlave`, `__reregisterSlave` after
/// `MarkSlaveReachable`, `_markUnreachable`, `_removeSlave`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AfterRegistry {
    /// A new agent's admission landed: add it to the soft state and tell it its
    /// ID (`Leader::admit_agent`).
    AdmitAgent {
        /// The ID just assigned.
        agent_id: AgentId,
        /// Where to answer; also the key of its `registering` mark.
        process: ProcessId,
        /// Its resources by role and its volumes, as it reported them.
        resources: AgentResources,
        /// Its boot, to recognize its retries.
        boot_id: String,
    },
    /// An unreachable (or unknown) agent's `MarkReachable` landed: merge its
    /// report (`Leader::accept_reregistration`). Boxed: a report is large.
    ReadmitAgent(Box<Reregistration>),
    /// `MarkUnreachable` landed: take the agent out and report its tasks
    /// (`Leader::remove_unreachable_agent`).
    RemoveUnreachable {
        /// The agent marked unreachable.
        agent_id: AgentId,
    },
    /// The agent left the registry (`RemoveSlave`): take it out of the soft
    /// state and report its tasks lost.
    RemoveAgent {
        /// The agent removed.
        agent_id: AgentId,
    },
    /// Nothing further: the soft state already reflects the change.
    Nothing,
}

/// The content of a `ReregisterAgent` message, kept while its registry write is in flight.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reregistration {
    /// The ID the agent recovered from its disk.
    pub agent_id: AgentId,
    /// The agent's process (the message's sender).
    pub process: ProcessId,
    /// Its resources by role and its volumes, as it checkpointed them: the truth
    /// the leader adopts.
    pub resources: AgentResources,
    /// Its current boot.
    pub boot_id: String,
    /// Every framework it runs tasks of: how a new leader learns of frameworks
    /// whose schedulers have not re-registered yet.
    pub frameworks: Vec<FrameworkInfo>,
    /// Every task it has, non-terminal or terminal but not yet acknowledged, with
    /// its state and status-update state.
    pub tasks: Vec<ReportedTask>,
    /// Whether the agent comes back from outside this leader's knowledge: it
    /// was marked unreachable (its tasks were reported lost), or the registry
    /// does not know it. Either way each framework hears its tasks' states
    /// again, reason `AGENT_REREGISTERED` (Mesos sends these for every agent
    /// not "recovered" from the registry, `Master::__reregisterSlave`).
    pub was_unreachable: bool,
}

/// The leader's soft state. It exists only while this master leads (inside
/// `Phase::Leading`), starts empty at election, and is dropped when the
/// master exits: nothing here survives a failover except what agents and
/// schedulers report again.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct Leader {
    /// The epoch this master leads: its candidacy's sequence number. Every
    /// message it sends carries it, and every ID it assigns embeds it.
    pub epoch: u64,
    /// The registry has been read; (re-)registrations are accepted. Set once, by
    /// `Leader::recover`; until then every message is ignored.
    pub recovered: bool,
    /// The registry as last read or written: always the durable one, replaced
    /// only by `Leader::recover` and when a write lands.
    pub registry: Registry,
    /// The registry node's version (`None`: not created yet).
    pub registry_version: Option<u64>,
    /// Operations waiting for their write, in order (`registry_apply` appends; a
    /// write that did not land is put back in front).
    pub registry_queue: VecDeque<PendingRegistryOp>,
    /// The one write sent and not yet answered, if any.
    pub registry_in_flight: Option<PendingRegistryOp>,
    /// The in-flight write's outcome was lost with the connection: set on
    /// `ConnectionLoss`, cleared when the registry read back tells
    /// (`on_registry_refreshed`); while set, a resumed session re-reads.
    pub registry_outcome_unknown: bool,
    /// Registered agents by ID: admitted or re-registered with this leader.
    /// Agents that leave (unreachable, removed) leave this table.
    pub agents: BTreeMap<AgentId, AgentEntry>,
    /// Agents in the registry that have not re-registered since this leader was
    /// elected (Mesos's "recovered" agents, `slaves.recovered`). Filled by
    /// `Leader::recover`; an agent leaves it when it re-registers; emptied when
    /// `agent_reregister_timeout` fires. While an agent is here, reconciliation
    /// stays silent about unknown tasks that may be on it.
    pub awaiting_reregistration: BTreeSet<AgentId>,
    /// Agents whose registration is in the registrar right now, by process:
    /// their retries are ignored until the write lands (Mesos's
    /// `slaves.registering` and `slaves.reregistering`).
    pub registering: BTreeSet<ProcessId>,
    /// Every framework this leader knows: registered with it, or learned from
    /// agents' reports (inactive until its scheduler re-registers).
    pub frameworks: BTreeMap<FrameworkId, FrameworkEntry>,
    /// Outstanding offers by ID (`offers.rs`).
    pub offers: BTreeMap<OfferId, Offer>,
    /// Frameworks removed by this leader (failover timeout), with how their
    /// tasks ended. A registration under such an ID is refused. Like all soft
    /// state, a new leader does not know them.
    pub completed_frameworks: BTreeMap<FrameworkId, CompletedFramework>,
    /// The counter of the next agent ID (`e<epoch>-S<n>`).
    pub next_agent: u64,
    /// The counter of the next framework ID (`e<epoch>-F<n>`).
    pub next_framework: u64,
    /// The counter of the next offer ID (`e<epoch>-O<n>`).
    pub next_offer: u64,
}

impl Leader {
    /// The empty soft state of a leader just elected under `epoch`.
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

    /// The registered agent whose process is `process`, if any.
    pub(super) fn agent_by_process(&self, process: &ProcessId) -> Option<AgentId> {
        self.agents
            .iter()
            .find(|(_, a)| &a.process == process)
            .map(|(id, _)| id.clone())
    }

    /// The framework whose attached scheduler is `process`, if any (the first
    /// by ID, should two share one).
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
    /// Agents by ID.
    pub agents: BTreeMap<AgentId, AgentView>,
    /// Frameworks by ID, with their tasks.
    pub frameworks: BTreeMap<FrameworkId, FrameworkView>,
}

/// What a new leader must rebuild of an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    /// Its process.
    pub process: ProcessId,
    /// By role: reservations are part of what a new leader must rebuild.
    pub total: RoleResources,
    /// What its active tasks use, by role.
    pub used: RoleResources,
    /// Its persistent volumes.
    pub volumes: BTreeMap<String, Volume>,
}

/// What a new leader must rebuild of a framework.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkView {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Its principal.
    pub principal: String,
    /// Whether its scheduler is attached (true once it re-registered).
    pub active: bool,
    /// Its tasks by ID.
    pub tasks: BTreeMap<TaskId, TaskView>,
}

/// What a new leader must rebuild of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// Where it runs.
    pub agent_id: AgentId,
    /// Its latest known state.
    pub state: TaskState,
    /// What it uses.
    pub resources: Resources,
}
