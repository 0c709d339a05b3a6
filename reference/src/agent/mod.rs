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

mod detection;
mod executor_host;
mod recovery;
mod registration;
mod tasks;

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
