//! # The Mesos agent
//!
//! An agent runs on every worker machine. It offers the machine's resources to
//! the leading master, launches tasks through the machine's executor host, and
//! carries every task's status updates reliably to the framework.
//!
//! ## Link to the master
//!
//! ```text
//!            leader detected             connected          AgentRegistered / AgentReregistered
//! Idle ------------------------> Connecting ------> Registering ---------------------------------> Registered
//!  ^                                 ^  |  connect      | retry with backoff                          |
//!  | no leader                       |  +-- failed -----+ random in [0, 1 s · 2^n], capped 1 min      |
//!  +---------------------------------+--------- new leader / connection lost / no ping for 75 s -----+
//! ```
//!
//! The agent learns who leads only from the coordinator, and **ignores every
//! message from a master that is not the detected leader** — that is what keeps
//! a deposed leader from commanding it. A first registration sends
//! `RegisterAgent`; once it has an ID it always sends `ReregisterAgent` with its
//! full task list, which is how a new leader rebuilds its state. The first attempt
//! after detection waits a random fraction of the backoff factor so that a
//! thousand agents do not storm a new leader in the same tick.
//!
//! ## Checkpointing and recovery
//!
//! The agent checkpoints its ID, the frameworks and tasks it runs and every
//! task's unacknowledged status updates to its machine's disk, by atomic replace.
//! When the agent *process* dies, executors keep running; the restarted agent is
//! built from that checkpoint ([`Agent::recover`]), gives the executor host the
//! whole executor re-registration window to come back (Mesos starts detecting
//! the master only once it closes, MESOS-7539), re-registers with the leader, and
//! resends what was never acknowledged. If the machine rebooted (a new boot ID),
//! the executors are gone and the agent reports its tasks failed
//! (`EXECUTOR_TERMINATED`: their containers are gone), keeping its ID.
//!
//! ## The status update stream
//!
//! Per task, updates are delivered **in order, one in flight**: the next update
//! is sent only after the framework's acknowledgement of the previous one comes
//! back through the master. An unacknowledged update is retried after 10 s,
//! doubling up to 10 min. An update is acknowledged to the executor only after it
//! has been checkpointed, so a crash can duplicate an update but never lose one.

use crate::checkpoint::{self, AgentState, StreamRecord, STATE_PATH};
use crate::coordinator_client::{ClientEvent, ClientTimer, CoordinatorClient, Routed};
use crate::detector::{self, LeaderInfo, MasterDetector, MASTERS_PATH};
use crate::events::Event;
use crate::framework::FrameworkInfo;
use crate::ids::{AgentId, FrameworkId, ProcessId, TaskId, UpdateUuid};
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::{CoordReply, ExecutorTaskReport, Message, Operation};
use crate::resources::Resources;
use crate::resources::{volume_key, AgentResources};
use crate::task::{ReportedTask, StatusUpdate, TaskInfo};
use crate::task_state::{Reason, Source, TaskState};
use crate::timing::Timing;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    pub name: ProcessId,
    /// The executor host process on the same machine.
    pub executor_host: ProcessId,
    pub coordinator: ProcessId,
    /// The machine's capacity, advertised on registration.
    pub resources: Resources,
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
    /// Any change is incompatible (Mesos's default).
    #[default]
    Equal,
    /// Resources may grow, never shrink.
    Additive,
}

/// A task, keyed for timers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskKey {
    pub framework_id: FrameworkId,
    pub task_id: TaskId,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentTimer {
    Coordinator(ClientTimer),
    /// Send the next (re-)registration attempt, or dial again.
    RegisterRetry,
    /// Resend the unacknowledged head of a task's status update stream.
    StatusRetry(TaskKey),
    /// No ping from the master for `agent_ping_timeout × max_agent_ping_timeouts`.
    PingTimeout,
    /// The executor re-registration window after an agent restart closed:
    /// executors not back are given up, and recovery completes (master
    /// detection starts only then, as in Mesos).
    ExecutorReregisterTimeout,
    /// Launches queued for the executor host waited
    /// `executor_registration_timeout`: they fail.
    ExecutorRegistrationTimeout,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentRequest {
    ListMasters,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MasterLink {
    /// No leader known.
    Idle,
    /// Dialing the leader (or waiting to dial it again).
    Connecting {
        master: ProcessId,
        epoch: u64,
    },
    /// Connected; (re-)registration attempts in progress.
    Registering {
        master: ProcessId,
        epoch: u64,
        attempt: u32,
    },
    Registered {
        master: ProcessId,
        epoch: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutorHostLink {
    /// Not registered. `expected` is true while recovered tasks wait for it.
    Disconnected {
        expected: bool,
    },
    Registered,
}

/// One task on this agent, with its status update stream. The `TaskInfo` is
/// in the state file; the rest is replayed from the task's update log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTask {
    pub info: TaskInfo,
    /// The latest state (the tail of the stream, or the last acknowledged one).
    pub state: TaskState,
    /// Updates not yet acknowledged by the framework; the head is in flight.
    pub pending_updates: VecDeque<StatusUpdate>,
    /// Counter for the uuids of updates the agent itself makes.
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
    /// forwarded nothing yet and reports none.
    #[serde(skip)]
    pub forwarded: Option<TaskState>,
}

/// A log whose torn tail recovery dropped: rewritten to its valid prefix at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Truncation {
    path: String,
    valid: Vec<u8>,
    dropped_bytes: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Agent {
    config: AgentConfig,
    coordinator: CoordinatorClient<AgentRequest>,
    detector: MasterDetector,
    /// Assigned by the master; checkpointed.
    agent_id: Option<AgentId>,
    frameworks: BTreeMap<FrameworkId, FrameworkInfo>,
    tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, AgentTask>>,
    /// The machine's resources by role, with its dynamic reservations and
    /// persistent volumes: checkpointed here, reported to every leader — the
    /// master keeps none of it.
    resources: AgentResources,
    master: MasterLink,
    executor_host: ExecutorHostLink,
    /// Current retry interval per task stream (volatile: a restart resets it).
    #[serde(with = "crate::pairs")]
    retry_ms: BTreeMap<TaskKey, u64>,
    /// Tasks recovered from the checkpoint when this process started.
    recovered_tasks: usize,
    /// The checkpoint was written by an earlier boot of this machine.
    rebooted: bool,
    /// Torn logs found by recovery, to truncate when the process starts.
    truncations: Vec<Truncation>,
    /// Kills that arrived before the executor host re-registered.
    pending_kills: BTreeSet<TaskKey>,
    /// Launches that arrived while the executor host was not registered (it
    /// is reconnecting after this process restarted, or being restarted
    /// itself). Mesos queues such tasks on the executor it is launching
    /// (`Executor::queuedTasks`) and hands them over when it registers
    /// (`Slave::registerExecutor`); failing them at once would make an agent
    /// restart alone fail the next launches. Volatile, like Mesos's queue:
    /// the tasks are checkpointed `TASK_STAGING`, and a restart finds them
    /// never forwarded (`AGENT_RESTARTED`).
    #[serde(with = "crate::pairs")]
    queued_launches: BTreeMap<TaskKey, TaskInfo>,
    /// Recovery found the machine's configuration incompatible with the
    /// checkpoint: the process exits when it starts, saying why.
    #[serde(default)]
    recovery_failed: Option<String>,
    /// Queued updates not yet checkpointed — only ever non-empty with the
    /// planted `ack-before-checkpoint` bug.
    #[serde(default)]
    unlogged: BTreeSet<UpdateUuid>,
}

type Out = Outputs<AgentTimer>;

impl Agent {
    /// A fresh agent on a machine whose disk holds nothing.
    pub fn new(config: AgentConfig) -> Self {
        Self::recover(config, &BTreeMap::new())
    }

    /// Builds the agent from what its disk holds — the only way a restarted
    /// agent knows anything. `files` maps each path under
    /// [`checkpoint::AGENT_DIR`] to its content. Nothing the disk holds can
    /// make recovery panic: an unreadable state file means a fresh agent, and
    /// a torn log is cut back to its last complete record.
    pub fn recover(config: AgentConfig, files: &BTreeMap<String, Vec<u8>>) -> Self {
        let mut state: AgentState = files
            .get(STATE_PATH)
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        let mut rebooted = state.agent_id.is_some() && state.boot_id != config.boot_id;
        // The machine's configured resources against the checkpoint's (Mesos
        // `Slave::recover`): an allowed change keeps the agent's ID and its
        // reservations and volumes on the new total; a forbidden one fails
        // recovery — the process exits, and would again at every restart,
        // until the operator restores the configuration — unless the machine
        // rebooted, when the agent starts afresh as a new agent (MESOS-6223).
        let mut recovery_failed = None;
        let mut resources = state
            .resources
            .clone()
            .unwrap_or_else(|| AgentResources::unreserved(config.resources));
        if let (Some(_), Some(before)) = (&state.agent_id, state.configured) {
            let allowed = before == config.resources
                || (config.reconfiguration_policy == ReconfigurationPolicy::Additive
                    && config.resources.contains(&before));
            let rebased = resources.rebased(config.resources);
            match (allowed, rebased) {
                (true, Some(rebased)) => resources = rebased,
                (_, rebased) if rebooted => {
                    // A new agent: no ID, no tasks. Its checkpointed
                    // reservations and volumes carry over if they still fit
                    // (Mesos recovers them apart from the agent's state).
                    state = AgentState::default();
                    rebooted = false;
                    resources =
                        rebased.unwrap_or_else(|| AgentResources::unreserved(config.resources));
                }
                _ => {
                    recovery_failed = Some(format!(
                        "incompatible agent info: configured resources changed from {before} \
                         to {} (reconfiguration_policy {:?})",
                        config.resources, config.reconfiguration_policy
                    ));
                }
            }
        }
        let mut tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, AgentTask>> = BTreeMap::new();
        let mut truncations = Vec::new();
        for (fid, infos) in &state.tasks {
            for (tid, info) in infos {
                let path = checkpoint::updates_path(fid, tid);
                let log = files.get(&path).map(Vec::as_slice).unwrap_or_default();
                let replayed = checkpoint::decode_records(log);
                if replayed.dropped_len > 0 {
                    truncations.push(Truncation {
                        path,
                        valid: log[..replayed.valid_len].to_vec(),
                        dropped_bytes: replayed.dropped_len,
                    });
                }
                let agent_updates = replayed
                    .records
                    .iter()
                    .filter(|r| matches!(r, StreamRecord::Update(u) if u.source == Source::Agent))
                    .count() as u32;
                let (pending, latest) = checkpoint::pending_updates(&replayed.records);
                let state = latest.map_or(TaskState::Staging, |u| u.state);
                if state.is_terminal() && pending.is_empty() {
                    continue; // finished and fully acknowledged before the crash
                }
                let acknowledged = replayed
                    .records
                    .iter()
                    .filter_map(|r| match r {
                        StreamRecord::Ack(uuid) => Some(uuid.clone()),
                        StreamRecord::Update(_) => None,
                    })
                    .collect();
                let task = AgentTask {
                    info: info.clone(),
                    state,
                    pending_updates: pending.into(),
                    agent_updates,
                    acknowledged,
                    forwarded: None,
                };
                tasks
                    .entry(fid.clone())
                    .or_default()
                    .insert(tid.clone(), task);
            }
        }
        let recovered_tasks = tasks.values().map(BTreeMap::len).sum();
        let coordinator = CoordinatorClient::new(
            config.coordinator.clone(),
            config.timing.zk_session_timeout_ms,
        );
        Agent {
            coordinator,
            detector: MasterDetector::default(),
            agent_id: state.agent_id,
            frameworks: state.frameworks,
            tasks,
            resources,
            master: MasterLink::Idle,
            executor_host: ExecutorHostLink::Disconnected {
                expected: recovered_tasks > 0 && !rebooted,
            },
            retry_ms: BTreeMap::new(),
            unlogged: BTreeSet::new(),
            recovered_tasks,
            rebooted,
            truncations,
            pending_kills: BTreeSet::new(),
            queued_launches: BTreeMap::new(),
            recovery_failed,
            config,
        }
    }

    pub fn resources(&self) -> &AgentResources {
        &self.resources
    }

    pub fn agent_id(&self) -> Option<&AgentId> {
        self.agent_id.as_ref()
    }

    pub fn master_link(&self) -> &MasterLink {
        &self.master
    }

    pub fn tasks(&self) -> &BTreeMap<FrameworkId, BTreeMap<TaskId, AgentTask>> {
        &self.tasks
    }

    pub fn executor_host_link(&self) -> ExecutorHostLink {
        self.executor_host
    }

    /// The leader this agent is registered with, if any.
    pub fn registered_with(&self) -> Option<(&ProcessId, u64)> {
        match &self.master {
            MasterLink::Registered { master, epoch } => Some((master, *epoch)),
            _ => None,
        }
    }

    /// Rewrites the state file (agent ID, frameworks, task infos) atomically.
    fn write_state(&self, out: &mut Out) {
        let state = AgentState {
            agent_id: self.agent_id.clone(),
            boot_id: self.config.boot_id.clone(),
            resources: Some(self.resources.clone()),
            configured: Some(self.config.resources),
            frameworks: self.frameworks.clone(),
            tasks: self
                .tasks
                .iter()
                .map(|(fid, tasks)| {
                    let infos = tasks
                        .iter()
                        .map(|(tid, t)| (tid.clone(), t.info.clone()))
                        .collect();
                    (fid.clone(), infos)
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&state).expect("agent state serializes");
        out.write_file_atomic(STATE_PATH, bytes);
    }

    /// Appends one record to a task's status update log, durably.
    fn append_record(&self, key: &TaskKey, record: &StreamRecord, out: &mut Out) {
        let path = checkpoint::updates_path(&key.framework_id, &key.task_id);
        out.append_file(&path, checkpoint::encode_record(record), true);
    }

    /// Forgets a task on disk: its log goes, and the state file no longer lists it.
    fn remove_task_files(&self, key: &TaskKey, out: &mut Out) {
        out.remove_file(&checkpoint::updates_path(&key.framework_id, &key.task_id));
    }

    fn leader_process(&self) -> Option<&ProcessId> {
        match &self.master {
            MasterLink::Idle => None,
            MasterLink::Connecting { master, .. }
            | MasterLink::Registering { master, .. }
            | MasterLink::Registered { master, .. } => Some(master),
        }
    }

    // ----- start and recovery -----

    fn on_start(&mut self, ctx: &Context, out: &mut Out) {
        if let Some(why) = self.recovery_failed.clone() {
            // Mesos `Slave::__recover`: "Failed to perform recovery" — EXIT.
            out.exit(&why);
            return;
        }
        // Torn logs: keep every complete record, drop the partial tail.
        for truncation in std::mem::take(&mut self.truncations) {
            out.event(Event::CheckpointTruncated {
                path: truncation.path.clone(),
                kept_bytes: truncation.valid.len(),
                dropped_bytes: truncation.dropped_bytes,
            });
            out.write_file_atomic(&truncation.path, truncation.valid);
        }
        out.event(Event::AgentRecovered {
            agent_id: self.agent_id.clone(),
            tasks: self.recovered_tasks,
        });
        if self.rebooted {
            // The machine rebooted: every executor died with it. Since Mesos
            // 1.4 the agent keeps its ID across a reboot and recovers its
            // frameworks; the containerizer finds no container for any
            // executor, so each live task ends `TASK_FAILED`, reason
            // `EXECUTOR_TERMINATED` ("unknown container"), from the agent —
            // `Slave::executorTerminated` → `sendExecutorTerminatedStatusUpdate`
            // (Mesos test `SlaveRecoveryTest.RebootWithExecutorPidReused`).
            for key in self.active_task_keys() {
                self.agent_update(
                    ctx,
                    &key,
                    TaskState::Failed,
                    Reason::ExecutorTerminated,
                    "the agent's machine rebooted: the executor's container is gone",
                    out,
                );
            }
            // Record the new boot, so a later process restart is not taken for
            // another reboot.
            self.write_state(out);
        }
        if self.recovered_tasks > 0 {
            // Recovery is complete only once executors had their chance to
            // re-register: Mesos's `Slave::_recover` waits the *full*
            // `executor_reregistration_timeout` whenever it recovered a
            // framework, even if every executor is back at once
            // (MESOS-7539), and only then starts detecting the master
            // (`Slave::__recover`). So the agent re-registers no sooner.
            out.set_timer(
                AgentTimer::ExecutorReregisterTimeout,
                ctx.now_ms + self.config.timing.executor_reregistration_timeout_ms,
            );
        } else {
            self.start_detection(out);
        }
    }

    /// Joins the coordinator and starts detecting the leading master
    /// (`Slave::__recover` → `detector->detect()`).
    fn start_detection(&mut self, out: &mut Out) {
        let mut sub = Outputs::new();
        self.coordinator.start(&mut sub);
        out.absorb(sub, AgentTimer::Coordinator);
    }

    /// `TASK_GONE` for a partition-aware framework, `TASK_LOST` for the others
    /// (Mesos sends `TASK_LOST` "for backward compatibility").
    fn gone_or_lost(&self, key: &TaskKey) -> TaskState {
        if self.partition_aware(key) {
            TaskState::Gone
        } else {
            TaskState::Lost
        }
    }

    /// `TASK_DROPPED` for a partition-aware framework, `TASK_LOST` for the
    /// others (Mesos's "for backward compatibility"): a task that never ran,
    /// or that the agent does not know.
    fn dropped_or_lost(partition_aware: bool) -> TaskState {
        if partition_aware {
            TaskState::Dropped
        } else {
            TaskState::Lost
        }
    }

    /// Whether the task's framework opted in to `PARTITION_AWARE`.
    fn partition_aware(&self, key: &TaskKey) -> bool {
        self.frameworks
            .get(&key.framework_id)
            .is_some_and(|f| f.partition_aware)
    }

    fn all_task_keys(&self) -> Vec<TaskKey> {
        self.task_keys(|_| true)
    }

    fn active_task_keys(&self) -> Vec<TaskKey> {
        self.task_keys(|t| !t.state.is_terminal())
    }

    fn task_keys(&self, keep: impl Fn(&AgentTask) -> bool) -> Vec<TaskKey> {
        self.tasks
            .iter()
            .flat_map(|(fid, tasks)| {
                tasks
                    .iter()
                    .filter(|(_, t)| keep(t))
                    .map(|(tid, _)| TaskKey {
                        framework_id: fid.clone(),
                        task_id: tid.clone(),
                    })
            })
            .collect()
    }

    /// The executor re-registration window closed (Mesos
    /// `Slave::reregisterExecutorTimeout`): tasks whose executor did not come
    /// back are `TASK_GONE` (`TASK_LOST` if the framework is not
    /// partition-aware), reason `EXECUTOR_REREGISTRATION_TIMEOUT`. Recovery is
    /// now complete, and master detection starts.
    fn tick_executor_reregister_timeout(&mut self, ctx: &Context, out: &mut Out) {
        let planted = self.config.bug == Some(crate::bugs::Bug::RestartGivesUpExecutors);
        let away = self.executor_host == (ExecutorHostLink::Disconnected { expected: true });
        if away || planted {
            if away {
                self.executor_host = ExecutorHostLink::Disconnected { expected: false };
            }
            for key in self.active_task_keys() {
                let state = self.gone_or_lost(&key);
                self.agent_update(
                    ctx,
                    &key,
                    state,
                    Reason::ExecutorReregistrationTimeout,
                    "the executor did not re-register after the agent restarted",
                    out,
                );
            }
        }
        self.start_detection(out);
    }

    // ----- the coordinator and leader detection -----

    fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<AgentRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            match event {
                ClientEvent::SessionReady { .. } => self.list_masters(ctx, out),
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.list_masters(ctx, out)
                }
                ClientEvent::Watch { .. } => {}
                ClientEvent::SessionLost => {
                    if let Some(change) = self.detector.observe(None) {
                        self.on_leader_change(ctx, change, out);
                    }
                }
                ClientEvent::Reply {
                    tag: AgentRequest::ListMasters,
                    result,
                } => {
                    // A lost answer is re-requested on the next SessionReady.
                    if let Ok(CoordReply::Children { children }) = result {
                        if let Some(change) = self.detector.observe(Some(&children)) {
                            self.on_leader_change(ctx, change, out);
                        }
                    }
                }
            }
        }
    }

    fn list_masters(&mut self, ctx: &Context, out: &mut Out) {
        let mut sub = Outputs::new();
        self.coordinator.request(
            ctx,
            detector::list_masters(),
            AgentRequest::ListMasters,
            &mut sub,
        );
        out.absorb(sub, AgentTimer::Coordinator);
    }

    fn on_leader_change(&mut self, ctx: &Context, leader: Option<LeaderInfo>, out: &mut Out) {
        out.event(Event::LeaderDetected {
            leader: leader.as_ref().map(|l| l.master.clone()),
            epoch: leader.as_ref().map(|l| l.epoch),
        });
        if let Some(old) = self.leader_process().cloned() {
            out.disconnect(&old);
        }
        out.cancel_timer(AgentTimer::RegisterRetry);
        out.cancel_timer(AgentTimer::PingTimeout);
        match leader {
            None => self.master = MasterLink::Idle,
            Some(LeaderInfo { master, epoch }) => {
                out.connect(&master);
                self.master = MasterLink::Connecting { master, epoch };
            }
        }
        let _ = ctx;
    }

    // ----- registration -----

    fn on_master_connected(&mut self, ctx: &Context, out: &mut Out) {
        let MasterLink::Connecting { master, epoch } = self.master.clone() else {
            return;
        };
        self.master = MasterLink::Registering {
            master,
            epoch,
            attempt: 0,
        };
        // The first attempt waits a random part of the backoff factor, as
        // Mesos agents do, so a failover does not make every agent knock at once.
        let delay = self.config.timing.backoff_ms(
            self.config.timing.agent_registration_backoff_ms,
            0,
            ctx.random,
        );
        out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay);
    }

    fn on_master_link_lost(&mut self, ctx: &Context, out: &mut Out) {
        let Some(master) = self.leader_process().cloned() else {
            return;
        };
        let epoch = match &self.master {
            MasterLink::Connecting { epoch, .. }
            | MasterLink::Registering { epoch, .. }
            | MasterLink::Registered { epoch, .. } => *epoch,
            MasterLink::Idle => return,
        };
        out.cancel_timer(AgentTimer::PingTimeout);
        self.master = MasterLink::Connecting { master, epoch };
        let delay = self.config.timing.backoff_ms(
            self.config.timing.agent_registration_backoff_ms,
            1,
            ctx.random,
        );
        out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay);
    }

    fn tick_register_retry(&mut self, ctx: &Context, out: &mut Out) {
        match self.master.clone() {
            MasterLink::Connecting { master, .. } => out.connect(&master),
            MasterLink::Registering {
                master,
                epoch,
                attempt,
            } => {
                let message = self.registration_message();
                out.send(&master, message);
                let next = attempt + 1;
                self.master = MasterLink::Registering {
                    master,
                    epoch,
                    attempt: next,
                };
                let timing = &self.config.timing;
                let delay =
                    timing.backoff_ms(timing.agent_registration_backoff_ms, next, ctx.random);
                out.set_timer(AgentTimer::RegisterRetry, ctx.now_ms + delay.max(1));
            }
            MasterLink::Idle | MasterLink::Registered { .. } => {}
        }
    }

    fn registration_message(&self) -> Message {
        match &self.agent_id {
            None => Message::RegisterAgent {
                resources: self.resources.clone(),
                boot_id: self.config.boot_id.clone(),
            },
            Some(agent_id) => {
                let mut frameworks = Vec::new();
                let mut tasks = Vec::new();
                for (fid, fw_tasks) in &self.tasks {
                    for task in fw_tasks.values() {
                        // Report every task still running, and terminal ones whose
                        // updates the framework has not acknowledged yet.
                        if task.state.is_terminal() && task.pending_updates.is_empty() {
                            continue;
                        }
                        tasks.push(ReportedTask {
                            framework_id: fid.clone(),
                            info: task.info.clone(),
                            state: task.state,
                            status_update_state: task.forwarded,
                        });
                    }
                    if tasks.iter().any(|t| &t.framework_id == fid) {
                        if let Some(info) = self.frameworks.get(fid) {
                            frameworks.push(info.clone());
                        }
                    }
                }
                Message::ReregisterAgent {
                    agent_id: agent_id.clone(),
                    resources: self.resources.clone(),
                    boot_id: self.config.boot_id.clone(),
                    frameworks,
                    tasks,
                }
            }
        }
    }

    fn on_registered(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        epoch: u64,
        agent_id: AgentId,
        reregistered: bool,
        out: &mut Out,
    ) {
        let MasterLink::Registering { master, .. } = &self.master else {
            return; // a duplicate answer to a retry
        };
        if *master != from {
            return;
        }
        if self.agent_id.as_ref().is_some_and(|mine| *mine != agent_id) {
            out.event(Event::MessageIgnored {
                from,
                kind: "AgentRegistered".into(),
                why: "the master assigned a different agent ID".into(),
            });
            return;
        }
        out.event(Event::AgentAcceptedCommand {
            master: from.clone(),
            epoch,
            kind: if reregistered {
                "AgentReregistered"
            } else {
                "AgentRegistered"
            }
            .into(),
        });
        let first_time = self.agent_id.is_none();
        self.agent_id = Some(agent_id.clone());
        self.master = MasterLink::Registered {
            master: from.clone(),
            epoch,
        };
        out.cancel_timer(AgentTimer::RegisterRetry);
        out.set_timer(
            AgentTimer::PingTimeout,
            ctx.now_ms + self.config.timing.agent_total_ping_timeout_ms(),
        );
        out.event(Event::AgentRegisteredWith {
            master: from,
            epoch,
            agent_id,
            reregistered,
        });
        if first_time {
            self.write_state(out);
        }
        // A new leader (or a new connection) gets every pending update now.
        self.retry_ms.clear();
        for key in self.stream_keys_with_pending() {
            self.send_stream_head(ctx, &key, out);
        }
    }

    fn stream_keys_with_pending(&self) -> Vec<TaskKey> {
        self.tasks
            .iter()
            .flat_map(|(fid, tasks)| {
                tasks
                    .iter()
                    .filter(|(_, t)| !t.pending_updates.is_empty())
                    .map(|(tid, _)| TaskKey {
                        framework_id: fid.clone(),
                        task_id: tid.clone(),
                    })
            })
            .collect()
    }

    /// Whether a message from `from` is a command from the leader we are
    /// registered with. Anything else is ignored, and the trace says so.
    fn accept_from_leader(&self, from: &ProcessId, epoch: u64, kind: &str, out: &mut Out) -> bool {
        match &self.master {
            MasterLink::Registered { master, epoch: e } if master == from && *e == epoch => {
                out.event(Event::AgentAcceptedCommand {
                    master: from.clone(),
                    epoch,
                    kind: kind.to_string(),
                });
                true
            }
            _ => {
                out.event(Event::MessageIgnored {
                    from: from.clone(),
                    kind: kind.to_string(),
                    why: "not from the leader this agent is registered with".into(),
                });
                false
            }
        }
    }

    /// Like [`Agent::accept_from_leader`], for the commands Mesos's agent
    /// carries out while it is *disconnected* from the master it detected
    /// (re-registering with it): `Slave::runTask` and `Slave::killTask` check
    /// only that the message comes from that master (and ignore it while the
    /// agent is still recovering, when it has detected no master at all). An
    /// agent with no ID yet (its first registration) still ignores them.
    fn accept_from_detected(
        &self,
        from: &ProcessId,
        epoch: u64,
        kind: &str,
        out: &mut Out,
    ) -> bool {
        let detected = match &self.master {
            MasterLink::Connecting { master, epoch: e }
            | MasterLink::Registering {
                master, epoch: e, ..
            } => master == from && *e == epoch,
            MasterLink::Registered { .. } => {
                return self.accept_from_leader(from, epoch, kind, out);
            }
            MasterLink::Idle => false,
        };
        // An agent that never registered has no ID to run anything under; the
        // master sends it nothing before `AgentRegistered` anyway.
        if detected && self.agent_id.is_some() {
            out.event(Event::AgentAcceptedCommand {
                master: from.clone(),
                epoch,
                kind: kind.to_string(),
            });
            return true;
        }
        out.event(Event::MessageIgnored {
            from: from.clone(),
            kind: kind.to_string(),
            why: "not from the master this agent detected".into(),
        });
        false
    }

    // ----- tasks -----

    fn on_run_task(
        &mut self,
        ctx: &Context,
        framework: FrameworkInfo,
        task: TaskInfo,
        out: &mut Out,
    ) {
        let fid = framework
            .id
            .clone()
            .expect("a launched task's framework has an ID");
        let tasks = self.tasks.entry(fid.clone()).or_default();
        if tasks
            .get(&task.task_id)
            .is_some_and(|t| !t.state.is_terminal())
        {
            return; // already running: a duplicate launch is ignored
        }
        self.frameworks.insert(fid.clone(), framework);
        tasks.insert(
            task.task_id.clone(),
            AgentTask {
                info: task.clone(),
                state: TaskState::Staging,
                pending_updates: VecDeque::new(),
                agent_updates: 0,
                acknowledged: BTreeSet::new(),
                forwarded: None,
            },
        );
        // Checkpoint the task before launching it, so a restarted agent knows it.
        self.write_state(out);
        if self.executor_host == ExecutorHostLink::Registered {
            out.send(
                &self.config.executor_host,
                Message::LaunchTask {
                    framework_id: fid,
                    task,
                },
            );
        } else {
            // Queue it for the executor host (Mesos `Slave::runTask` →
            // `Executor::queuedTasks`); the first queued launch arms the
            // registration timeout (`Slave::registerExecutorTimeout`).
            if self.queued_launches.is_empty() {
                out.set_timer(
                    AgentTimer::ExecutorRegistrationTimeout,
                    ctx.now_ms + self.config.timing.executor_registration_timeout_ms,
                );
            }
            let key = TaskKey {
                framework_id: fid,
                task_id: task.task_id.clone(),
            };
            self.queued_launches.insert(key, task);
        }
    }

    /// The executor host did not register within
    /// `executor_registration_timeout` of the first queued launch: Mesos
    /// destroys the executor's container and fails its queued tasks —
    /// `TASK_FAILED`, `REASON_EXECUTOR_REGISTRATION_TIMEOUT`
    /// (`Slave::registerExecutorTimeout`, `Slave::executorTerminated`).
    fn tick_executor_registration_timeout(&mut self, ctx: &Context, out: &mut Out) {
        for (key, _) in std::mem::take(&mut self.queued_launches) {
            self.agent_update(
                ctx,
                &key,
                TaskState::Failed,
                Reason::ExecutorRegistrationTimeout,
                "the executor host did not register in time",
                out,
            );
        }
    }

    fn on_kill_task(&mut self, ctx: &Context, fid: FrameworkId, task_id: TaskId, out: &mut Out) {
        let task = self.tasks.get(&fid).and_then(|t| t.get(&task_id));
        if task.is_none() {
            // Mesos `Slave::killTask`: a task of a framework the agent runs, but
            // with no executor (its `RunTask` was lost on a connection that
            // stayed up), is answered `TASK_DROPPED` — `TASK_LOST` if the
            // framework is not partition-aware — reason `EXECUTOR_TERMINATED`
            // ("Cannot find executor"), reliably, from the agent. A kill for a
            // framework the agent does not know is ignored.
            if let Some(framework) = self.frameworks.get(&fid).cloned() {
                let state = Self::dropped_or_lost(framework.partition_aware);
                let key = self.open_unknown_task_stream(&framework, task_id);
                self.write_state(out);
                self.agent_update(
                    ctx,
                    &key,
                    state,
                    Reason::ExecutorTerminated,
                    "cannot find executor",
                    out,
                );
            }
            return;
        }
        if task.is_some_and(|t| t.state.is_terminal()) {
            return; // already ended: its terminal update is on its way
        }
        let key = TaskKey {
            framework_id: fid.clone(),
            task_id: task_id.clone(),
        };
        // The planted defect answers the kill but leaves the launch queued.
        let planted = self.config.bug == Some(crate::bugs::Bug::KillLeavesQueuedLaunch);
        let was_queued = if planted {
            self.queued_launches.contains_key(&key)
        } else {
            self.queued_launches.remove(&key).is_some()
        };
        if was_queued {
            // Mesos `Slave::killTask` for a task queued on an executor that has
            // not registered: it never runs — `TASK_KILLED`,
            // `REASON_TASK_KILLED_DURING_LAUNCH`.
            if self.queued_launches.is_empty() {
                out.cancel_timer(AgentTimer::ExecutorRegistrationTimeout);
            }
            self.agent_update(
                ctx,
                &key,
                TaskState::Killed,
                Reason::TaskKilledDuringLaunch,
                "killed before it reached its executor",
                out,
            );
            return;
        }
        if self.executor_host == ExecutorHostLink::Registered {
            out.send(
                &self.config.executor_host,
                Message::KillTaskInExecutor {
                    framework_id: fid,
                    task_id,
                },
            );
        } else {
            // The executor host has not re-registered yet (the agent just
            // restarted): the kill waits for it.
            self.pending_kills.insert(TaskKey {
                framework_id: fid,
                task_id,
            });
        }
    }

    /// Reservations and volumes from the leader: applied, then checkpointed
    /// (the master keeps none of it; this agent reports them to every leader).
    /// A destroyed volume's data is deleted.
    fn apply_operations(&mut self, operations: Vec<Operation>, out: &mut Out) {
        for operation in operations {
            let destroyed = match &operation {
                Operation::Destroy { role, id } => {
                    self.resources.volumes.get(&volume_key(role, id)).cloned()
                }
                _ => None,
            };
            if let Err(why) = self.resources.apply(&operation) {
                out.event(Event::MessageIgnored {
                    from: self.config.name.clone(),
                    kind: operation.name().to_string(),
                    why,
                });
                continue;
            }
            if let Some(volume) = destroyed {
                out.remove_file(&volume.data_path());
            }
        }
        self.write_state(out);
    }

    /// The master removed the framework: kill its tasks and forget it — its
    /// status update streams included (nobody will acknowledge them). The kills'
    /// `TASK_KILLED` updates from the executor host are acknowledged and dropped.
    fn on_shutdown_framework(&mut self, fid: FrameworkId, out: &mut Out) {
        let tasks = self.tasks.remove(&fid).unwrap_or_default();
        for (task_id, task) in tasks {
            let key = TaskKey {
                framework_id: fid.clone(),
                task_id: task_id.clone(),
            };
            out.cancel_timer(AgentTimer::StatusRetry(key.clone()));
            self.retry_ms.remove(&key);
            self.remove_task_files(&key, out);
            if !task.state.is_terminal() && self.executor_host == ExecutorHostLink::Registered {
                out.send(
                    &self.config.executor_host,
                    Message::KillTaskInExecutor {
                        framework_id: fid.clone(),
                        task_id,
                    },
                );
            }
        }
        self.frameworks.remove(&fid);
        self.write_state(out);
    }

    /// The leader knows tasks here that this agent did not report (Mesos
    /// `Slave::reregistered` with reconciliations). Each one the agent does not
    /// know is not running: it gets a status update stream of its own with one
    /// terminal update — `TASK_DROPPED`, or `TASK_LOST` if the framework is not
    /// partition-aware, reason `RECONCILIATION`, from the agent — delivered
    /// reliably like any other, so the master removes the task only once the
    /// framework has acknowledged it. A task the agent knows needs nothing: its
    /// updates reach the master anyway.
    fn on_reconcile_tasks(
        &mut self,
        ctx: &Context,
        framework: FrameworkInfo,
        task_ids: Vec<TaskId>,
        out: &mut Out,
    ) {
        let Some(fid) = framework.id.clone() else {
            return;
        };
        let state = Self::dropped_or_lost(framework.partition_aware);
        let mut unknown = Vec::new();
        for task_id in task_ids {
            if self
                .tasks
                .get(&fid)
                .is_some_and(|t| t.contains_key(&task_id))
            {
                continue;
            }
            unknown.push(self.open_unknown_task_stream(&framework, task_id));
        }
        if unknown.is_empty() {
            return;
        }
        // Checkpointed first, as a launch is: a restarted agent knows the
        // streams its log records belong to.
        self.write_state(out);
        for key in unknown {
            self.agent_update(
                ctx,
                &key,
                state,
                Reason::Reconciliation,
                "reconciliation: task unknown to the agent",
                out,
            );
        }
    }

    /// A status update stream for a task this agent does not know (so that the
    /// answer it owes about it is delivered reliably, as Mesos's status update
    /// manager delivers any update). The agent never had the task's
    /// description, so the stream's task records only the ID, and uses
    /// nothing. The caller checkpoints, then adds the update.
    fn open_unknown_task_stream(&mut self, framework: &FrameworkInfo, task_id: TaskId) -> TaskKey {
        let fid = framework
            .id
            .clone()
            .expect("a framework the master names has an ID");
        let info = TaskInfo {
            task_id: task_id.clone(),
            resources: Resources::default(),
            role: framework.role.clone(),
            volume: None,
            workload: crate::task::Workload::Forever,
        };
        self.tasks.entry(fid.clone()).or_default().insert(
            task_id.clone(),
            AgentTask {
                info,
                state: TaskState::Staging,
                pending_updates: VecDeque::new(),
                agent_updates: 0,
                acknowledged: BTreeSet::new(),
                forwarded: None,
            },
        );
        self.frameworks
            .entry(fid.clone())
            .or_insert_with(|| framework.clone());
        TaskKey {
            framework_id: fid,
            task_id,
        }
    }

    /// The agent itself produces an update (the executor cannot).
    fn agent_update(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        state: TaskState,
        reason: Reason,
        message: &str,
        out: &mut Out,
    ) {
        let agent_id = self.agent_id.clone();
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            return;
        };
        task.agent_updates += 1;
        let update = StatusUpdate {
            latest_state: None,
            framework_id: key.framework_id.clone(),
            task_id: key.task_id.clone(),
            agent_id,
            state,
            reason: Some(reason),
            source: Source::Agent,
            uuid: Some(UpdateUuid::new(format!(
                "{}#a{}",
                key.task_id, task.agent_updates
            ))),
            message: Some(message.to_string()),
        };
        self.enqueue_update(ctx, key, update, out);
    }

    /// Appends an update to its task's stream; sends it if nothing is in flight.
    /// The caller checkpoints.
    fn enqueue_update(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        update: StatusUpdate,
        out: &mut Out,
    ) {
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            return;
        };
        assert!(
            update.uuid.is_some(),
            "agent-side updates are acknowledged, so carry a uuid"
        );
        task.state = update.state;
        task.pending_updates.push_back(update.clone());
        let first = task.pending_updates.len() == 1;
        let uuid = update.uuid.clone().expect("checked above");
        let queued = Event::UpdateQueued {
            framework_id: key.framework_id.clone(),
            task_id: key.task_id.clone(),
            uuid: uuid.clone(),
            state: update.state,
        };
        let planted = self.config.bug == Some(crate::bugs::Bug::AckBeforeCheckpoint);
        if planted && !first && update.source == Source::Executor {
            // The planted defect: a queued update stays in memory only (it is
            // logged when it reaches the head of the stream), though the
            // executor is acknowledged at once.
            self.unlogged.insert(uuid);
        } else {
            self.append_record(key, &StreamRecord::Update(update), out);
        }
        // The event comes after the write: outputs run in order, so it is
        // recorded only once the update is durably in the stream — the point
        // from which the agent answers for it (and acknowledges the executor).
        // An update torn by a power failure mid-write was never the agent's to
        // deliver: the executor was not acknowledged and the reboot reports
        // the task instead.
        out.event(queued);
        if first {
            self.send_stream_head(ctx, key, out);
        }
    }

    fn send_stream_head(&mut self, ctx: &Context, key: &TaskKey, out: &mut Out) {
        let Some(head) = self
            .tasks
            .get(&key.framework_id)
            .and_then(|t| t.get(&key.task_id))
            .and_then(|t| t.pending_updates.front())
            .cloned()
        else {
            return;
        };
        let retry = *self
            .retry_ms
            .entry(key.clone())
            .or_insert(self.config.timing.status_update_retry_ms);
        out.set_timer(AgentTimer::StatusRetry(key.clone()), ctx.now_ms + retry);
        if let MasterLink::Registered { master, .. } = &self.master {
            let mut update = head;
            // Updates made before registration carry no agent ID yet.
            update.agent_id = self.agent_id.clone();
            update.latest_state = self
                .tasks
                .get(&key.framework_id)
                .and_then(|t| t.get(&key.task_id))
                .map(|t| t.state);
            let master = master.clone();
            if let Some(task) = self
                .tasks
                .get_mut(&key.framework_id)
                .and_then(|t| t.get_mut(&key.task_id))
            {
                task.forwarded = Some(update.state);
            }
            out.send(&master, Message::StatusUpdate { update });
        }
    }

    fn tick_status_retry(&mut self, ctx: &Context, key: TaskKey, out: &mut Out) {
        let max = self.config.timing.status_update_retry_max_ms;
        if let Some(retry) = self.retry_ms.get_mut(&key) {
            *retry = (*retry * 2).min(max);
        }
        self.send_stream_head(ctx, &key, out);
    }

    fn on_acknowledgement(
        &mut self,
        ctx: &Context,
        fid: FrameworkId,
        task_id: TaskId,
        uuid: UpdateUuid,
        out: &mut Out,
    ) {
        let key = TaskKey {
            framework_id: fid.clone(),
            task_id: task_id.clone(),
        };
        let Some(task) = self.tasks.get_mut(&fid).and_then(|t| t.get_mut(&task_id)) else {
            return;
        };
        if task.pending_updates.front().and_then(|u| u.uuid.as_ref()) != Some(&uuid) {
            // A duplicate, or an acknowledgement of an update already passed.
            out.event(Event::MessageIgnored {
                from: self.config.name.clone(),
                kind: "StatusUpdateAcknowledgement".into(),
                why: format!("{uuid} is not the update in flight for {task_id}"),
            });
            return;
        }
        task.pending_updates.pop_front();
        task.acknowledged.insert(uuid.clone());
        let unlogged_head = task
            .pending_updates
            .front()
            .filter(|u| u.uuid.as_ref().is_some_and(|id| self.unlogged.contains(id)))
            .cloned();
        out.cancel_timer(AgentTimer::StatusRetry(key.clone()));
        self.retry_ms.remove(&key);
        let finished = task.state.is_terminal() && task.pending_updates.is_empty();
        self.append_record(&key, &StreamRecord::Ack(uuid), out);
        if let Some(head) = unlogged_head {
            // (planted bug) the queued update is logged only now.
            if let Some(id) = &head.uuid {
                self.unlogged.remove(id);
            }
            self.append_record(&key, &StreamRecord::Update(head), out);
        }
        if finished {
            // Fully acknowledged and terminal: forget the task.
            let tasks = self.tasks.get_mut(&fid).expect("present");
            tasks.remove(&task_id);
            if tasks.is_empty() {
                self.tasks.remove(&fid);
            }
            self.write_state(out);
            self.remove_task_files(&key, out);
        }
        if !finished {
            self.send_stream_head(ctx, &key, out);
        }
    }

    // ----- the executor host -----

    fn on_executor_host_registered(
        &mut self,
        ctx: &Context,
        reports: Vec<ExecutorTaskReport>,
        unacknowledged: Vec<StatusUpdate>,
        out: &mut Out,
    ) {
        // The re-registration window stays armed: recovery completes when it
        // closes, however early the executors are back (MESOS-7539).
        self.executor_host = ExecutorHostLink::Registered;
        out.send(&self.config.executor_host, Message::ExecutorHostRegistered);
        for key in std::mem::take(&mut self.pending_kills) {
            self.on_kill_task(ctx, key.framework_id, key.task_id, out);
        }
        for update in unacknowledged {
            self.on_executor_update(ctx, update, out);
        }
        // Hand over the launches queued while it was away (Mesos
        // `Slave::registerExecutor` sends the executor its queued tasks).
        let queued = std::mem::take(&mut self.queued_launches);
        if !queued.is_empty() {
            out.cancel_timer(AgentTimer::ExecutorRegistrationTimeout);
        }
        for (key, task) in &queued {
            out.send(
                &self.config.executor_host,
                Message::LaunchTask {
                    framework_id: key.framework_id.clone(),
                    task: task.clone(),
                },
            );
        }
        // Tasks the executor host runs that we do not know of (their framework
        // was shut down while we were away), or that we already declared
        // ended (their executor came back after the re-registration window,
        // which Mesos's `Slave::reregisterExecutorTimeout` closes by destroying
        // the container), are killed: nothing runs that the framework was
        // told is gone.
        for report in &reports {
            let known_live = self
                .tasks
                .get(&report.framework_id)
                .and_then(|t| t.get(&report.task_id))
                .is_some_and(|t| !t.state.is_terminal());
            if !known_live && !report.state.is_terminal() {
                out.send(
                    &self.config.executor_host,
                    Message::KillTaskInExecutor {
                        framework_id: report.framework_id.clone(),
                        task_id: report.task_id.clone(),
                    },
                );
            }
        }
        // Tasks we believe run but the executor host does not have. A task
        // still `TASK_STAGING` never reached its executor (the agent died
        // before forwarding it): `TASK_DROPPED`, or `TASK_LOST` for a framework
        // that is not partition-aware, reason `AGENT_RESTARTED`
        // (`Slave::reregisterExecutor`). Any other task's executor died while
        // the agent was down: `TASK_FAILED`, reason `EXECUTOR_TERMINATED`
        // (`Slave::executorTerminated` for a container recovery found dead).
        for key in self.active_task_keys() {
            let reported = reports
                .iter()
                .any(|r| r.framework_id == key.framework_id && r.task_id == key.task_id);
            if reported || queued.contains_key(&key) {
                continue;
            }
            let staging = self.tasks[&key.framework_id][&key.task_id].state == TaskState::Staging;
            let (state, reason, why) = if staging {
                let state = Self::dropped_or_lost(self.partition_aware(&key));
                (
                    state,
                    Reason::AgentRestarted,
                    "the task never reached its executor before the agent restarted",
                )
            } else {
                (
                    TaskState::Failed,
                    Reason::ExecutorTerminated,
                    "the executor terminated while the agent was down",
                )
            };
            self.agent_update(ctx, &key, state, reason, why, out);
        }
    }

    fn on_executor_update(&mut self, ctx: &Context, update: StatusUpdate, out: &mut Out) {
        let key = TaskKey {
            framework_id: update.framework_id.clone(),
            task_id: update.task_id.clone(),
        };
        let uuid = update.uuid.clone().expect("executor updates carry a uuid");
        let Some(task) = self
            .tasks
            .get(&key.framework_id)
            .and_then(|t| t.get(&key.task_id))
        else {
            // Unknown task (already finished and forgotten): just acknowledge.
            self.ack_executor(&key, uuid, out);
            return;
        };
        // As Mesos's status update stream: once a task's stream holds a
        // terminal update it is closed, and a later update — one the executor
        // resends after the agent already declared the task ended — is
        // rejected, so a framework never hears RUNNING after FAILED.
        let duplicate = task
            .pending_updates
            .iter()
            .any(|u| u.uuid.as_ref() == Some(&uuid))
            || task.acknowledged.contains(&uuid)
            || task.state.is_terminal();
        if !duplicate {
            // The update is appended to the task's log (synced) *before* it is
            // acknowledged to the executor: a crash between the two can
            // duplicate the update, never lose it.
            self.enqueue_update(ctx, &key, update, out);
        }
        self.ack_executor(&key, uuid, out);
    }

    fn ack_executor(&self, key: &TaskKey, uuid: UpdateUuid, out: &mut Out) {
        out.send(
            &self.config.executor_host,
            Message::ExecutorStatusUpdateAck {
                framework_id: key.framework_id.clone(),
                task_id: key.task_id.clone(),
                uuid,
            },
        );
    }

    fn on_executor_host_lost(&mut self, ctx: &Context, out: &mut Out) {
        if self.executor_host != ExecutorHostLink::Registered {
            return;
        }
        self.executor_host = ExecutorHostLink::Disconnected { expected: false };
        // The containerizer died under a running agent: its tasks are gone.
        for key in self.active_task_keys() {
            self.agent_update(
                ctx,
                &key,
                TaskState::Failed,
                Reason::ExecutorTerminated,
                "the executor host terminated",
                out,
            );
        }
    }

    // ----- dispatch -----

    fn on_message(&mut self, ctx: &Context, from: ProcessId, message: Message, out: &mut Out) {
        if from == self.config.executor_host {
            match message {
                Message::RegisterExecutorHost {
                    tasks,
                    unacknowledged,
                } => self.on_executor_host_registered(ctx, tasks, unacknowledged, out),
                Message::ExecutorStatusUpdate { update }
                    if self.executor_host == ExecutorHostLink::Registered =>
                {
                    self.on_executor_update(ctx, update, out)
                }
                other => out.event(Event::MessageIgnored {
                    from,
                    kind: other.kind().to_string(),
                    why: "the executor host is not registered".into(),
                }),
            }
            return;
        }
        match message {
            Message::AgentRegistered { epoch, agent_id } => {
                self.on_registered(ctx, from, epoch, agent_id, false, out)
            }
            Message::AgentReregistered { epoch, agent_id } => {
                self.on_registered(ctx, from, epoch, agent_id, true, out)
            }
            Message::Ping { epoch } => {
                if self.accept_from_leader(&from, epoch, "Ping", out) {
                    out.send(&from, Message::Pong);
                    out.set_timer(
                        AgentTimer::PingTimeout,
                        ctx.now_ms + self.config.timing.agent_total_ping_timeout_ms(),
                    );
                }
            }
            Message::RunTask {
                epoch,
                framework,
                task,
            } => {
                if self.accept_from_detected(&from, epoch, "RunTask", out) {
                    self.on_run_task(ctx, *framework, task, out);
                }
            }
            Message::KillTask {
                epoch,
                framework_id,
                task_id,
            } => {
                if self.accept_from_detected(&from, epoch, "KillTask", out) {
                    self.on_kill_task(ctx, framework_id, task_id, out);
                }
            }
            Message::ApplyOperations { epoch, operations } => {
                if self.accept_from_leader(&from, epoch, "ApplyOperations", out) {
                    self.apply_operations(operations, out);
                }
            }
            Message::ShutdownFramework {
                epoch,
                framework_id,
            } => {
                if self.accept_from_leader(&from, epoch, "ShutdownFramework", out) {
                    self.on_shutdown_framework(framework_id, out);
                }
            }
            Message::AgentReconcileTasks {
                epoch,
                framework,
                task_ids,
            } => {
                if self.accept_from_leader(&from, epoch, "AgentReconcileTasks", out) {
                    self.on_reconcile_tasks(ctx, *framework, task_ids, out);
                }
            }
            Message::StatusUpdateAcknowledgement {
                epoch,
                framework_id,
                task_id,
                uuid,
            } => {
                if self.accept_from_leader(&from, epoch, "StatusUpdateAcknowledgement", out) {
                    self.on_acknowledgement(ctx, framework_id, task_id, uuid, out);
                }
            }
            Message::ShutdownAgent { epoch, message } => {
                let from_leader = self.leader_process() == Some(&from)
                    && self.detector.leader().is_some_and(|l| l.epoch == epoch);
                if from_leader {
                    out.event(Event::AgentAcceptedCommand {
                        master: from,
                        epoch,
                        kind: "ShutdownAgent".into(),
                    });
                    self.shutdown(message, out);
                } else {
                    out.event(Event::MessageIgnored {
                        from,
                        kind: "ShutdownAgent".into(),
                        why: "not from the detected leader".into(),
                    });
                }
            }
            other => out.event(Event::MessageIgnored {
                from,
                kind: other.kind().to_string(),
                why: "not a message an agent handles".into(),
            }),
        }
    }

    /// The master told this agent to shut down: kill everything, forget the
    /// agent ID (so the restarted agent registers afresh), and exit.
    fn shutdown(&mut self, message: String, out: &mut Out) {
        for (fid, tasks) in &self.tasks {
            for (tid, task) in tasks {
                if !task.state.is_terminal() && self.executor_host == ExecutorHostLink::Registered {
                    out.send(
                        &self.config.executor_host,
                        Message::KillTaskInExecutor {
                            framework_id: fid.clone(),
                            task_id: tid.clone(),
                        },
                    );
                }
            }
        }
        for key in self.all_task_keys() {
            self.remove_task_files(&key, out);
        }
        self.agent_id = None;
        self.tasks.clear();
        self.frameworks.clear();
        self.write_state(out);
        out.exit(format!("shut down by the master: {message}"));
    }
}

impl Role for Agent {
    type Timer = AgentTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    fn handle(&mut self, ctx: &Context, input: Input<AgentTimer>, out: &mut Out) {
        let mut sub = Outputs::new();
        let input = match self.coordinator.route(ctx, input, &mut sub) {
            Routed::Handled(events) => {
                out.absorb(sub, AgentTimer::Coordinator);
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        match input {
            Input::Start => self.on_start(ctx, out),
            Input::Message { from, message } => self.on_message(ctx, from, message, out),
            Input::Timer(AgentTimer::Coordinator(t)) => {
                let mut sub = Outputs::new();
                let events = self.coordinator.on_timer(ctx, t, &mut sub);
                out.absorb(sub, AgentTimer::Coordinator);
                self.on_client_events(ctx, events, out);
            }
            Input::Timer(AgentTimer::RegisterRetry) => self.tick_register_retry(ctx, out),
            Input::Timer(AgentTimer::StatusRetry(key)) => self.tick_status_retry(ctx, key, out),
            Input::Timer(AgentTimer::PingTimeout) => {
                // No ping for a long time: the master may be gone or partitioned
                // from us. Drop the link and register again (Mesos re-detects).
                if let Some(master) = self.leader_process().cloned() {
                    out.disconnect(&master);
                    self.on_master_link_lost(ctx, out);
                }
            }
            Input::Timer(AgentTimer::ExecutorReregisterTimeout) => {
                self.tick_executor_reregister_timeout(ctx, out)
            }
            Input::Timer(AgentTimer::ExecutorRegistrationTimeout) => {
                self.tick_executor_registration_timeout(ctx, out)
            }
            Input::Connected { peer } if Some(&peer) == self.leader_process() => {
                self.on_master_connected(ctx, out)
            }
            Input::ConnectFailed { peer } | Input::Disconnected { peer }
                if Some(&peer) == self.leader_process() =>
            {
                self.on_master_link_lost(ctx, out)
            }
            Input::Disconnected { peer } if peer == self.config.executor_host => {
                self.on_executor_host_lost(ctx, out)
            }
            Input::Connected { .. }
            | Input::ConnectFailed { .. }
            | Input::Disconnected { .. }
            | Input::Command(_)
            | Input::FileRead { .. }
            | Input::FileSynced { .. } => {}
        }
    }
}
