//! # The Mesos agent
//!
//! An agent runs on every worker machine. It offers the machine's resources to
//! the leading master, launches tasks through the machine's executor host, and
//! carries every task's status updates reliably to the framework.
//!
//! One concern per file: `detection.rs` (whom to obey), `registration.rs`
//! (registering, pings, the leader check on every command), `tasks.rs`
//! (launches, kills, the status update stream), `executor_host.rs` (the
//! machine's executors) and `recovery.rs` (restarting from the disk).
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
//! What the agent obeys depends on the link: `Registered`, every command of
//! that master at its epoch; `Connecting` / `Registering`, only launches,
//! kills and `ShutdownAgent` of the detected leader; `Idle`, nothing.
//!
//! ## Checkpointing and recovery
//!
//! The agent checkpoints its ID, the frameworks and tasks it runs and every
//! task's unacknowledged status updates to its machine's disk: the state file
//! by atomic replace, each task's update log by synced appends.
//! When the agent *process* dies, executors keep running; the restarted agent is
//! built from that checkpoint ([`Agent::recover`]), gives the executor host the
//! whole executor re-registration window to come back (Mesos starts detecting
//! the master only once it closes, MESOS-7539), re-registers with the leader, and
//! resends what was never acknowledged. If the machine rebooted (a new boot ID),
//! the executors are gone and the agent reports its tasks failed
//! (`EXECUTOR_TERMINATED`: their containers are gone), keeping its ID.
//!
//! The state file stands for Mesos's `slave.info`, `framework.info` and
//! `task.info` files, each replaced whole (`state::checkpoint` in
//! src/slave/state.hpp writes a temporary file and renames it); each task's
//! log is its `task.updates` (paths in src/slave/paths.cpp). `checkpoint.rs`
//! describes the format.
//!
//! ## The status update stream
//!
//! Per task, updates are delivered **in order, one in flight**: the next update
//! is sent only after the framework's acknowledgement of the previous one comes
//! back through the master. An unacknowledged update is retried after 10 s,
//! doubling up to 10 min. An update is acknowledged to the executor only after it
//! has been checkpointed, so a crash can duplicate an update but never lose one.
//!
//! ## Failures, and what answers each
//!
//! ```text
//! the agent process dies      executors run on; recover from disk, wait for them, re-register
//! the machine reboots         executors are gone: their tasks TASK_FAILED, the agent ID kept
//! the leader fails over       detect the new one; re-register with every task (it rebuilds)
//! the leader goes silent      no ping for 75 s: drop the link, dial again, re-register
//! a deposed master commands   ignored: a command must come from the leader, at its epoch
//! a message is lost           registrations and status updates are resent until answered
//! the executor host dies      its live tasks TASK_FAILED (EXECUTOR_TERMINATED), from the agent
//! a power cut tears a log     recovery keeps the complete records and cuts the tail
//! ```
//!
//! ## Where this crate differs from Mesos
//!
//! One executor host per machine stands for all executors; every framework
//! checkpoints; the agent redials a lost leader at once and answers pings only
//! from its registered leader; every command carries its sender's epoch; a
//! shutdown forgets the agent ID (as Mesos did before 1.5); update logs are
//! fsynced. Each is explained where it is implemented.

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
mod status_updates;
mod tasks;

mod state;
pub use state::*;

/// The agent role. Only what it wrote to disk survives its process; a
/// restart rebuilds it with [`Agent::recover`]. A field not said to be
/// checkpointed is lost with the process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct Agent {
    /// Its configuration.
    config: AgentConfig,
    /// Its coordinator session, started once recovery is complete.
    coordinator: CoordinatorClient<AgentRequest>,
    /// Who leads, from the latest listing of the masters' group.
    detector: MasterDetector,
    /// Assigned by the master; checkpointed. `None` until the first
    /// registration; cleared only by `ShutdownAgent`.
    agent_id: Option<AgentId>,
    /// The frameworks of its tasks, checkpointed: reported to a new leader,
    /// and `partition_aware` picks the states the agent reports. Added with a
    /// task, removed only by `ShutdownFramework`.
    frameworks: BTreeMap<FrameworkId, FrameworkInfo>,
    /// Every task it answers for: live, or ended with updates unacknowledged.
    /// Added by a launch or an unknown-task stream (tasks.rs); removed on the
    /// final acknowledgement or by `ShutdownFramework`.
    tasks: BTreeMap<FrameworkId, BTreeMap<TaskId, AgentTask>>,
    /// The machine's resources by role, with its dynamic reservations and
    /// persistent volumes: checkpointed here, reported to every leader — the
    /// master keeps none of it. Changed only by `ApplyOperations`.
    resources: AgentResources,
    /// See [`MasterLink`].
    master: MasterLink,
    /// See [`ExecutorHostLink`].
    executor_host: ExecutorHostLink,
    /// Current retry interval per task stream (volatile: a restart resets it).
    /// Set when a head is first sent, doubled by each retry, dropped when the
    /// head is acknowledged, cleared on every registration.
    #[serde(with = "crate::pairs")]
    retry_ms: BTreeMap<TaskKey, u64>,
    /// Tasks recovered from the checkpoint when this process started; read
    /// by `on_start` to decide whether to wait for the executors.
    recovered_tasks: usize,
    /// The checkpoint was written by an earlier boot of this machine: its
    /// executors are gone, and `on_start` fails their tasks.
    rebooted: bool,
    /// Torn logs found by recovery, to truncate when the process starts
    /// (emptied by `on_start`).
    truncations: Vec<Truncation>,
    /// Kills that arrived before the executor host re-registered; handed to
    /// it when it does. No path fills it today (tasks.rs, `on_kill_task`).
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
    /// A fresh agent on a machine whose disk holds nothing: recovery from an
    /// empty disk, so a first start and a restart share one path.
    pub fn new(config: AgentConfig) -> Self {
        Self::recover(config, &BTreeMap::new())
    }

    /// The machine's resources by role, as checkpointed.
    pub fn resources(&self) -> &AgentResources {
        &self.resources
    }

    /// The ID the master assigned, once registered.
    pub fn agent_id(&self) -> Option<&AgentId> {
        self.agent_id.as_ref()
    }

    /// The link to the leading master.
    pub fn master_link(&self) -> &MasterLink {
        &self.master
    }

    /// Every task the agent answers for, by framework.
    pub fn tasks(&self) -> &BTreeMap<FrameworkId, BTreeMap<TaskId, AgentTask>> {
        &self.tasks
    }

    /// The link to the executor host.
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
    /// It is rewritten whole on every change: it is small, and a whole-file
    /// replace can never be read half-written. The boot ID and the configured
    /// resources go with it, for the next recovery to compare.
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

    /// Appends one record to a task's status update log, durably: synced
    /// before any later output runs, which is what lets the executor be
    /// acknowledged right after (executor_host.rs, `ack_executor`).
    fn append_record(&self, key: &TaskKey, record: &StreamRecord, out: &mut Out) {
        let path = checkpoint::updates_path(&key.framework_id, &key.task_id);
        out.append_file(&path, checkpoint::encode_record(record), true);
    }

    /// Deletes a task's update log; the caller rewrites the state file
    /// without the task.
    fn remove_task_files(&self, key: &TaskKey, out: &mut Out) {
        out.remove_file(&checkpoint::updates_path(&key.framework_id, &key.task_id));
    }

    /// The master the link concerns (the detected leader), unless `Idle`.
    fn leader_process(&self) -> Option<&ProcessId> {
        match &self.master {
            MasterLink::Idle => None,
            MasterLink::Connecting { master, .. }
            | MasterLink::Registering { master, .. }
            | MasterLink::Registered { master, .. } => Some(master),
        }
    }

    // ----- dispatch -----

    /// Routes a message by sender. Every master command passes the leader
    /// check of registration.rs (`accept_from_leader`, or
    /// `accept_from_detected` for launches and kills): a deposed master's
    /// command is dropped, and the trace says so.
    fn on_message(&mut self, ctx: &Context, from: ProcessId, message: Message, out: &mut Out) {
        if from == self.config.executor_host {
            // Its updates count only once it is registered; those sent before
            // come again in its `RegisterExecutorHost`.
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
        // A master's message: where its sender stands with this agent is read
        // from the link once (`Agent::standing`, registration.rs); each
        // command below says what standing it needs.
        let standing = self.standing(&from);
        match message {
            // Answers to this agent's own registration: `on_registered`
            // checks that they come from the master it is registering with.
            Message::AgentRegistered { epoch, agent_id } => {
                self.on_registered(ctx, from, epoch, agent_id, false, out)
            }
            Message::AgentReregistered { epoch, agent_id } => {
                self.on_registered(ctx, from, epoch, agent_id, true, out)
            }
            Message::Ping { epoch } => {
                // The pong keeps the master from counting a missed ping; the
                // re-armed timer keeps the agent from re-registering needlessly.
                if self.accept_from_leader(standing, &from, epoch, "Ping", out) {
                    out.send(&from, Message::Pong);
                    out.set_timer(
                        AgentTimer::PingTimeout,
                        ctx.now_ms + self.config.timing.agent_total_ping_timeout_ms(),
                    );
                }
            }
            // Launches and kills are taken from the detected master even while
            // re-registering with it (`accept_from_detected`).
            Message::RunTask {
                epoch,
                framework,
                task,
            } => {
                if self.accept_from_detected(standing, &from, epoch, "RunTask", out) {
                    self.on_run_task(ctx, *framework, task, out);
                }
            }
            Message::KillTask {
                epoch,
                framework_id,
                task_id,
            } => {
                if self.accept_from_detected(standing, &from, epoch, "KillTask", out) {
                    self.on_kill_task(ctx, framework_id, task_id, out);
                }
            }
            // The leader sends reservations and volumes just before the
            // launches of the same accept that use them.
            Message::ApplyOperations { epoch, operations } => {
                if self.accept_from_leader(standing, &from, epoch, "ApplyOperations", out) {
                    self.apply_operations(operations, out);
                }
            }
            // Only once registered: Mesos's `Slave::shutdownFramework` ignores
            // it before ("the agent has not yet registered with the master").
            Message::ShutdownFramework {
                epoch,
                framework_id,
            } => {
                if self.accept_from_leader(standing, &from, epoch, "ShutdownFramework", out) {
                    self.on_shutdown_framework(framework_id, out);
                }
            }
            // Sent right after `AgentReregistered` (`master/agents.rs`,
            // `accept_reregistration`), so the agent is registered by then.
            Message::AgentReconcileTasks {
                epoch,
                framework,
                task_ids,
            } => {
                if self.accept_from_leader(standing, &from, epoch, "AgentReconcileTasks", out) {
                    self.on_reconcile_tasks(ctx, *framework, task_ids, out);
                }
            }
            // Only from the registered leader. Mesos's
            // `Slave::statusUpdateAcknowledgement` rejects acknowledgements from
            // a master that is not the leading one, as the agent "may have
            // already sent the terminal un-acknowledged task to the leading
            // master".
            Message::StatusUpdateAcknowledgement {
                epoch,
                framework_id,
                task_id,
                uuid,
            } => {
                if self.accept_from_leader(
                    standing,
                    &from,
                    epoch,
                    "StatusUpdateAcknowledgement",
                    out,
                ) {
                    self.on_acknowledgement(ctx, framework_id, task_id, uuid, out);
                }
            }
            // Checked against the *detected* leader: a master refusing a
            // `ReregisterAgent` (a gone or removed agent) answers
            // `ShutdownAgent` before any registration (`master/agents.rs`,
            // `on_reregister_agent`); Mesos's `Slave::shutdown` checks the
            // sender only.
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
    /// Mesos did so before 1.5 (`Slave::finalize` removed the `latest`
    /// symlink after a shutdown); since 1.5 its agent keeps its ID.
    /// Tasks of an executor host not registered now are killed when it
    /// registers with the next agent process, which knows none of them.
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
        // Nothing is left to recover: the next process must not report tasks
        // that no longer run under an ID that no longer exists.
        for key in self.all_task_keys() {
            self.remove_task_files(&key, out);
        }
        self.agent_id = None;
        self.tasks.clear();
        self.frameworks.clear();
        self.write_state(out);
        // A supervisor restarts the process, which registers afresh.
        out.exit(format!("shut down by the master: {message}"));
    }
}

impl Role for Agent {
    type Timer = AgentTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    fn handle(&mut self, ctx: &Context, input: Input<AgentTimer>, out: &mut Out) {
        // Coordinator traffic goes to the embedded client first; what it means
        // comes back as events for detection.rs.
        let routed = out.nested(AgentTimer::Coordinator, |sub| {
            self.coordinator.route(ctx, input, sub)
        });
        let input = match routed {
            Routed::Handled(events) => {
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        match input {
            Input::Start => self.on_start(ctx, out),
            Input::Message { from, message } => self.on_message(ctx, from, message, out),
            // The client's own timers (heartbeats, reconnects) go back to it.
            Input::Timer(AgentTimer::Coordinator(t)) => {
                let events = out.nested(AgentTimer::Coordinator, |sub| {
                    self.coordinator.on_timer(ctx, t, sub)
                });
                self.on_client_events(ctx, events, out);
            }
            Input::Timer(AgentTimer::RegisterRetry) => self.tick_register_retry(ctx, out),
            Input::Timer(AgentTimer::StatusRetry(key)) => self.tick_status_retry(ctx, key, out),
            Input::Timer(AgentTimer::PingTimeout) => {
                // No ping for a long time: the master may be gone or partitioned
                // from us. Drop the link and register again (Mesos re-detects:
                // `Slave::pingTimeout` discards the detection).
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
            // Link events of any other master are stale: ignored below.
            // (The agent dials only the detected leader.)
            Input::Connected { peer } if Some(&peer) == self.leader_process() => {
                self.on_master_connected(ctx, out)
            }
            Input::ConnectFailed { peer } | Input::Disconnected { peer }
                if Some(&peer) == self.leader_process() =>
            {
                self.on_master_link_lost(ctx, out)
            }
            // The executor host's connection broke: executor_host.rs decides.
            Input::Disconnected { peer } if peer == self.config.executor_host => {
                self.on_executor_host_lost(ctx, out)
            }
            // Stale link events; harness commands (an agent takes none); file
            // reads and sync notices, which it never asks for.
            Input::Connected { .. }
            | Input::ConnectFailed { .. }
            | Input::Disconnected { .. }
            | Input::Command(_)
            | Input::FileRead { .. }
            | Input::FileSynced { .. } => {}
        }
    }
}
